"""What the registry cannot express for the regression losses: complex inputs.

torch's l1_loss (and smooth_l1_loss with beta=0, routed to it) accepts complex tensors
and returns the real magnitude |input - target|; the registry casts every float array
to the dtype under test and gradient-checks only floating tensors, so complex inputs
are checked here, on CPU in complex128, forward and gradient (torch's convention for a
real function of a complex leaf: g · (d / |d|), 0 at d = 0; a real leaf of a complex
difference gets the real part).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossref

from . import releases
from .compare import assert_matches
from .tolerances import FLOAT64

CASES = {
    "complex-both": (np.array([[1 + 1j, 2 - 1j, 0j], [-0.5j, 3 + 0j, 1 - 2j]]),
                     np.array([[0j, 1 + 0j, 0j], [0.5 + 0.5j, 3 + 0j, -1j]])),
    "complex-input-real-target": (np.array([1 + 1j, 2 - 1j, 0.5j, 3 + 0j]), np.array([0.0, 1.0, 0.5, 3.0])),
    "real-input-complex-target": (np.array([[1.0, -2.0], [0.5, 0.0]]), np.array([1j, 2 + 1j])),
}
CALLS = {
    "l1-none": ("l1_loss", {"reduction": "none"}),
    "l1-mean": ("l1_loss", {"reduction": "mean"}),
    "l1-sum-weight": ("l1_loss", {"reduction": "sum", "weight": "ones"}),
    "smooth-l1-beta0-mean": ("smooth_l1_loss", {"reduction": "mean", "beta": 0.0}),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("case", CASES)
def test_complex_l1(case, call):
    name, kwargs = CALLS[call]
    x, y = CASES[case]
    if kwargs.get("weight") == "ones":
        kwargs = dict(kwargs, weight=np.linspace(0.5, 2.0, x.size).reshape(x.shape))
    releases.skip_if_lacking(name, (x, y), kwargs)   # weight: an argument the installed torch may predate
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y, requires_grad=True)
    torch_kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    with pytest.warns(UserWarning) if x.shape != y.shape else _nothing():
        out = getattr(F, name)(tx, ty, **torch_kwargs)
    expected = getattr(lossref, name)(x, y, **kwargs)
    assert expected.dtype == np.float64
    assert_matches(out.detach().numpy(), expected, FLOAT64, what=f"{name} {case} forward")

    g = np.random.default_rng(0).normal(size=out.shape)
    torch_grads = torch.autograd.grad(out, [tx, ty], torch.tensor(g, dtype=out.dtype))
    ref_grads = getattr(lossref, f"{name}_backward")(g, x, y, **kwargs)
    for position, (theirs, ours) in enumerate(zip(torch_grads, ref_grads)):
        theirs = theirs.numpy()
        assert ours is not None and ours.shape == theirs.shape
        assert np.iscomplexobj(ours) == np.iscomplexobj(theirs), f"argument {position}: complex-ness differs"
        for part in (np.real, np.imag):
            assert_matches(part(theirs), part(ours), FLOAT64, what=f"{name} {case} gradient of argument {position}")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

