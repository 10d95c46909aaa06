"""Checks on kl_div, poisson_nll_loss and gaussian_nll_loss that the registry cannot express:
the golden gradients of loss-semantics §5b to the digits printed there (reference and
torch), and calls whose arguments are not one float dtype (the registry casts every float
array to the dtype under test): all-integer Poisson arguments and NumPy scalar variances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossref

from . import releases
from .compare import assert_matches
from .printed import assert_printed
from .tolerances import FLOAT64, tolerance

KL = (np.array([-1.0, -2.0, -0.5]), np.array([0.1, 0.3, 0.6]))
GAUSSIAN = (np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 0.0]), np.array([0.0, 0.5, 2.0]))


def _torch_gradients(fn, arrays, **kwargs):
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*leaves, **kwargs)
    return out.detach().numpy(), [g.numpy() for g in torch.autograd.grad(out, leaves)]


def test_kl_div_golden_gradients():
    """§5b: kl_div([-1,-2,-0.5],[0.1,0.3,0.6],'batchmean'): a 1-D input divides by size(0) = 3."""
    value = lossref.kl_div(*KL, reduction="batchmean")
    grad_input, grad_target = lossref.kl_div_backward(np.float64(1.0), *KL, reduction="batchmean")
    torch_value, (torch_input, torch_target) = _torch_gradients(F.kl_div, KL, reduction="batchmean")
    for got_value, got_input, got_target in ((value, grad_input, grad_target),
                                             (torch_value, torch_input, torch_target)):
        assert_printed(got_value, "0.03401809171", "kl_div batchmean")
        assert_printed(got_input, "-0.033333333 -0.1 -0.2", "kl_div d/dinput")
        assert_printed(got_target, "-0.1008617 0.59867573 0.32972479", "kl_div d/dtarget")


def test_gaussian_nll_loss_golden_gradients():
    """§5b: gaussian_nll_loss([1,2,3],[1.5,2,0],var=[0,0.5,2],'sum'); var = 0 is clamped to
    1e-6 and its gradient passes through the clamp."""
    value = lossref.gaussian_nll_loss(*GAUSSIAN, reduction="sum")
    grads = lossref.gaussian_nll_loss_backward(np.float64(1.0), *GAUSSIAN, reduction="sum")
    assert len(grads) == 3   # one entry per array parameter: input, target, var
    torch_value, torch_grads = _torch_gradients(F.gaussian_nll_loss, GAUSSIAN, reduction="sum")
    for got_value, got in ((value, grads[:3]), (torch_value, torch_grads)):
        assert_printed(got_value, "124995.3422", "gaussian_nll_loss sum")
        assert_printed(got[0], "-500000 0 1.5", "gaussian d/dinput")
        assert_printed(got[1], "500000 -0 -1.5", "gaussian d/dtarget")
        assert_printed(got[2], "-1.249995e+11 1 -0.875", "gaussian d/dvar")


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_all_integer_arguments(log_input, full):
    """Integer input and target are promoted: torch computes in the default dtype (float32),
    the reference in float64 on the same integers; no argument has a gradient."""
    x = np.array([[0, 1, 2], [3, 1, 4]])
    t = np.array([[0, 1, 2], [5, 3, 1]])
    got = F.poisson_nll_loss(torch.from_numpy(x), torch.from_numpy(t), log_input, full, reduction="none")
    assert got.dtype == torch.float32
    expected = lossref.poisson_nll_loss(x, t, log_input, full, reduction="none")
    assert_matches(got.double().numpy(), expected, tolerance(torch.float32))
    assert lossref.poisson_nll_loss_backward(np.ones((2, 3)), x, t, log_input, full, reduction="none") == (
        None, None)   # one entry per array parameter: input, target


def test_gaussian_nll_loss_numpy_scalar_var():
    """torch takes a variance that is an instance of float: numpy.float64 is one (a constant
    variance, no gradient), numpy.float32 is not (TypeError from torch.any); so does the reference."""
    x, y = np.array([[0.5, 1.0], [2.0, -1.0]]), np.zeros((2, 2))
    releases.skip_if_lacking("gaussian_nll_loss", (x, y, np.float64(0.5)), {})   # a float var needs a newer torch
    got = F.gaussian_nll_loss(torch.from_numpy(x), torch.from_numpy(y), np.float64(0.5), reduction="none")
    assert_matches(got.numpy(), lossref.gaussian_nll_loss(x, y, np.float64(0.5), reduction="none"), FLOAT64)
    assert lossref.gaussian_nll_loss_backward(np.ones((2, 2)), x, y, np.float64(0.5), reduction="none")[2] is None
    with pytest.raises(TypeError):
        F.gaussian_nll_loss(torch.from_numpy(x), torch.from_numpy(y), np.float32(0.5))
    with pytest.raises(TypeError, match="var"):
        lossref.gaussian_nll_loss(x, y, np.float32(0.5))


def test_kl_div_mixed_float_dtypes():
    """A float32 input with a float64 target promotes to float64 (no dtype check), as the
    reference, which computes in float64 whatever it is given."""
    x = np.log(np.array([[0.2, 0.8], [0.5, 0.5]], dtype=np.float32))
    t = np.array([[0.1, 0.9], [0.7, 0.3]])
    got = F.kl_div(torch.from_numpy(x), torch.from_numpy(t), reduction="batchmean")
    assert got.dtype == torch.float64
    assert_matches(got.numpy(), lossref.kl_div(x, t, reduction="batchmean"), FLOAT64)
