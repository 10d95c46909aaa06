"""The per-entry magnitude model bites (lossref.tolerance, "Entries far below 1"; derived in
lossref.magnitudes): a 'mean' gradient entry ~1e-3 in bfloat16 that is 100 % wrong (the mutant
tests/mutants/small_mean_gradient_dropped returns 0 there) passes the O(1) bound (atol 16 eps =
0.125) and fails test_gradient's check, while torch passes it on the same draw: for element-wise
losses (l1, mse) and row losses (multilabel_soft_margin, cosine_embedding, triplet_margin); and for the
native margin kernels (multi_margin, multilabel_margin), which have no half-precision CPU kernel, in
float32 at entries ~1e-6 (a 'mean' over N C = 1.25 * 2^20, below float32's atol of 1.9e-6)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from . import impl as implementations
from .compare import Mismatch
from .parity import check_gradient
from .registry import RECORDS

RECORD = {r.name: r for r in RECORDS}


def _elementwise(rng, dtype):
    n = 1024        # entries g/N in [0.5, 2] / 1024: ~1e-3
    x = torch.tensor(rng.normal(size=n), dtype=dtype)
    y = torch.tensor(rng.normal(size=n), dtype=dtype) + torch.where(x > 0, -0.5, 0.5).to(dtype)
    return x, y


def _native_margin(rng, dtype, multilabel):
    n, classes = 320, 4096
    x = rng.normal(size=(n, classes))
    target = rng.integers(0, classes, n)
    # every term active and far from its kink (z > 0 by ~8: float32's rounding of z cannot flip it):
    # multi_margin by its margin 8 (KWARGS), multilabel by the target's logit lowered by 8; one target per row
    if not multilabel:
        return torch.tensor(x, dtype=dtype), torch.tensor(target)
    x[np.arange(n), target] -= 8.0
    targets = np.full((n, classes), -1, dtype=np.int64)
    targets[:, 0] = target
    return torch.tensor(x, dtype=dtype), torch.tensor(targets)


#: loss -> rng, dtype -> the call's arrays ('mean'), whose first argument's gradient entries are ~1e-3
CALLS = {
    "l1_loss": _elementwise,
    "mse_loss": _elementwise,
    # (σ(x) - y) / (C N) with C N = 1024
    "multilabel_soft_margin_loss": lambda rng, dtype: (torch.tensor(rng.normal(size=(64, 16)), dtype=dtype),
                                                       torch.tensor(rng.integers(0, 2, (64, 16)), dtype=dtype)),
    # (x2 / |x1||x2| - cos x1 / |x1|^2) / N with N = 256, D = 8
    "cosine_embedding_loss": lambda rng, dtype: (torch.tensor(rng.normal(size=(256, 8)), dtype=dtype),
                                                 torch.tensor(rng.normal(size=(256, 8)), dtype=dtype),
                                                 torch.ones(256, dtype=dtype)),
    # (x_ap / d_ap - x_an / d_an) / N with N = 512, D = 8; a margin that keeps every row active
    "triplet_margin_loss": lambda rng, dtype: tuple(torch.tensor(rng.normal(size=(512, 8)), dtype=dtype)
                                                    for _ in range(3)),
    # float32 (no half-precision CPU kernel): g/(N C) per active term with N C = 1.25 * 2^20, 3.8e-7 to
    # 1.5e-6, below float32's O(1) atol of 1.9e-6; the target entries sum C - 1 of them (~3e-3).
    "multi_margin_loss": lambda rng, dtype: _native_margin(rng, dtype, multilabel=False),
    "multilabel_margin_loss": lambda rng, dtype: _native_margin(rng, dtype, multilabel=True),
}
KWARGS = {"triplet_margin_loss": {"margin": 8.0}, "multi_margin_loss": {"margin": 8.0}}
#: The dtype each is checked in: bfloat16, except where the model's counted roundings exceed what
#: bfloat16 resolves: the triplet's anchor entry sums two distances' x / d, each about 8 roundings
#: (the differences, the norm, its backward's product and quotient), so 16 x 17 eps of bfloat16 is
#: 2.1 times the entry and a 100 % wrong entry passes there; float16's eps is 8 times smaller.
DTYPES = {"triplet_margin_loss": torch.float16, "multi_margin_loss": torch.float32,
          "multilabel_margin_loss": torch.float32}


@pytest.mark.parametrize("loss", list(CALLS))
def test_a_wrong_small_mean_gradient_entry_fails(loss):
    record, dtype = RECORD[loss], DTYPES.get(loss, torch.bfloat16)
    if dtype not in record.dtypes["cpu"]:   # bounded by the installed release (mse_loss: 2.5+)
        pytest.skip(f"torch {torch.__version__} has no CPU {loss} in {dtype}")
    args, kwargs = CALLS[loss](np.random.default_rng(18), dtype), {**KWARGS.get(loss, {}), "reduction": "mean"}
    right = implementations.load().function(loss)
    wrong = implementations.load(f"{__package__}.mutants.small_mean_gradient_dropped").function(loss)
    check_gradient(record, "torch", right, args, kwargs, dtype, np.random.default_rng(1))      # torch: inside
    old = replace(record, value_magnitude=None, gradient_magnitude=None)                       # the O(1) model
    check_gradient(old, "mutant, O(1) bound", wrong, args, kwargs, dtype, np.random.default_rng(1))
    with pytest.raises(Mismatch, match=f"gradient of {record_first_array(loss)}"):
        check_gradient(record, "mutant", wrong, args, kwargs, dtype, np.random.default_rng(1))


def record_first_array(loss):
    return {"cosine_embedding_loss": "input1", "triplet_margin_loss": "anchor"}.get(loss, "input")
