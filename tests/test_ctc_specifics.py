"""Checks on ctc_loss that the registry cannot express: torch's gradient convention (the
quirk "ctc-gradient-is-wrt-logits"), the reference's true gradient against finite
differences (§5b's and its own), and the labels the reference refuses where torch reads
memory it should not."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossref

from .compare import assert_matches
from .printed import assert_printed
from .tolerances import FLOAT64

#: §5: log of a (T=3, N=1, C=3) probability table, target [1, 2].
GOLDEN_P = np.array([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]]).reshape(3, 1, 3)
GOLDEN = (np.log(GOLDEN_P), np.array([[1, 2]]), np.array([3]), np.array([2]))
#: §5b, printed with %.8g.
TORCH_AUTOGRAD = "0.055837563 -0.25583756 0.2 0.093401015 -0.2106599 0.11725888 0.07715736 0.2 -0.27715736"
FINITE_DIFFERENCES = "-0.44416244 -0.55583756 0 -0.10659898 -0.7106599 -0.18274112 -0.02284264 0 -0.97715736"


def _torch_grad(log_probs, targets, input_lengths, target_lengths, grad_output=None, **kwargs):
    """torch's autograd gradient with respect to the raw log_probs (no log_softmax)."""
    leaf = torch.tensor(log_probs, dtype=torch.float64, requires_grad=True)
    out = F.ctc_loss(leaf, torch.as_tensor(targets), torch.as_tensor(input_lengths), torch.as_tensor(target_lengths),
                     **kwargs)
    g = torch.ones_like(out) if grad_output is None else torch.as_tensor(grad_output, dtype=torch.float64)
    (grad,) = torch.autograd.grad(out, leaf, g)
    return grad.numpy()


def test_ctc_gradient_is_wrt_logits():
    """Quirk "ctc-gradient-is-wrt-logits": torch's ctc_loss backward returns the gradient
    with respect to the logits behind a log_softmax, i.e. the true d loss / d log_probs
    plus exp(log_probs) (times the sample's output gradient) on every frame t < T_n.

    A documented convention, not a bug to expect a fix for: pytorch/pytorch#52241 (open;
    also #82545, #122243, #127608), and the docs PR pytorch/pytorch#190863 says log_probs
    must come from log_softmax. So the reference returns the true derivative and the
    registry compares gradients through a log_softmax (tests/registry/ctc.py), where the
    extra exp(log_probs) term is annihilated (its log_softmax-backward is zero for
    normalised rows). This test pins the convention on §5b's example.
    """
    lp = GOLDEN[0]
    torch_grad = _torch_grad(*GOLDEN, reduction="sum")
    true_grad = lossref.ctc_loss_backward(np.float64(1.0), *GOLDEN, reduction="sum")[0]
    assert_matches(torch_grad, true_grad + np.exp(lp), FLOAT64, "torch autograd vs true gradient + exp(log_probs)")
    assert_printed(torch_grad, TORCH_AUTOGRAD, "torch autograd gradient (§5b)")
    # Not the true derivative: the difference is exactly exp(log_probs), far from rounding.
    assert np.max(np.abs(torch_grad - true_grad)) > 0.5


def test_ctc_gradient_convention_per_sample_and_frame():
    """The same convention on a ragged batch with 'mean': torch = true + exp(lp) * w_n
    for t < T_n, where w_n = d(mean)/d(loss_n) = g / (N * max(L_n, 1)); 0 for t >= T_n."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, 3, 5))
    lp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    args = (lp, np.array([[1, 2, 2], [3, 0, 0], [4, 1, 0]]), np.array([7, 5, 3]), np.array([3, 1, 0]))
    grad_output = 0.7
    torch_grad = _torch_grad(*args, grad_output=grad_output, reduction="mean")
    true_grad = lossref.ctc_loss_backward(grad_output, *args, reduction="mean")[0]
    weight = grad_output / (3 * np.maximum(args[3], 1))
    used = np.arange(7)[:, None] < args[2][None, :]
    expected = np.where(used[:, :, None], true_grad + np.exp(lp) * weight[None, :, None], 0.0)
    assert_matches(torch_grad, expected, FLOAT64, "torch autograd per sample and frame")


def test_true_gradient_matches_golden_finite_differences():
    """§5b: the true d loss / d log_probs (there by finite differences) to the printed digits."""
    grad = lossref.ctc_loss_backward(np.float64(1.0), *GOLDEN, reduction="sum")
    assert grad[1:] == (None,) * 3   # targets and both lengths: integers (one entry per array parameter)
    assert grad[0].shape == (3, 1, 3)
    assert_printed(grad[0], FINITE_DIFFERENCES, "true gradient (§5b)")


@pytest.mark.parametrize("case", ["ragged-mean", "blank-in-target", "blank-last-label", "unnormalised-blank3",
                                  "repeats-concat-sum", "unbatched"])
def test_true_gradient_is_the_derivative_of_the_forward(case):
    """Central differences of the reference's own forward (float64, step 1e-6) agree with
    its hand-derived backward, including where torch's backward does not (blank as the
    last label) and on unnormalised log-probabilities."""
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    kwargs = {}
    if case == "unbatched":
        lp = rng.normal(size=(6, 5))
        args = (lp, np.array([2, 3]), np.array(6), np.array(2))
    else:
        lp = rng.normal(size=(6, 3, 5))
        targets, il, tl = np.array([[1, 2, 2], [3, 1, 0], [4, 0, 0]]), np.array([6, 5, 3]), np.array([3, 2, 1])
        if case == "blank-in-target":
            targets = np.array([[1, 0, 2], [0, 3, 0], [4, 0, 0]])
        if case == "blank-last-label":
            targets = np.array([[1, 2, 0], [3, 0, 0], [4, 0, 0]])
        if case == "unnormalised-blank3":
            kwargs["blank"] = 3
            lp = 3.0 * lp
        if case == "repeats-concat-sum":
            targets = np.array([1, 1, 2, 3, 3, 4])
            kwargs["reduction"] = "sum"
        args = (lp, targets, il, tl)
    kwargs.setdefault("reduction", "mean")
    out_shape = lossref.ctc_loss(*args, **kwargs).shape
    grad_output = rng.normal(size=out_shape)
    analytic = lossref.ctc_loss_backward(grad_output, *args, **kwargs)[0]

    def f(x):
        return float(np.sum(grad_output * lossref.ctc_loss(x, *args[1:], **kwargs)))

    step = 1e-6
    numeric = np.zeros_like(lp)
    for index in np.ndindex(lp.shape):     # a test, so a loop over elements is fine here
        up, down = lp.copy(), lp.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (f(up) - f(down)) / (2 * step)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_reference_refuses_labels_outside_the_classes():
    """torch does not check target labels on CPU (it reads whatever memory the index
    points at; on CUDA it faults, pytorch/pytorch#191568): there is no value to follow, so
    the reference refuses them, naming targets. Padding past a target's length is never
    read, by either side, so anything may stand there."""
    lp = np.log(np.full((4, 2, 3), 1 / 3))
    with pytest.raises(IndexError, match=r"targets.*3.*\[0, 3\)"):
        lossref.ctc_loss(lp, np.array([[1, 3], [1, 2]]), np.array([4, 4]), np.array([2, 2]))
    with pytest.raises(IndexError, match=r"targets.*-1"):
        lossref.ctc_loss_backward(1.0, lp, np.array([1, -1, 2]), np.array([4, 4]), np.array([2, 1]))
    padded = (lp, np.array([[1, -1], [2, 7]]), np.array([4, 4]), np.array([1, 1]))
    expected = F.ctc_loss(*(torch.as_tensor(a) for a in padded), reduction="none").numpy()
    assert_matches(lossref.ctc_loss(*padded, reduction="none"), expected, FLOAT64, "padding ignored")


def test_lengths_as_lists_tuples_and_any_shape():
    """Lengths may be integer arrays of any shape (read in order), lists or tuples."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 2, 4))
    lp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    targets = np.array([[1, 2], [3, 3]])
    want = lossref.ctc_loss(lp, targets, np.array([5, 5]), np.array([2, 2]), reduction="none")
    for il, tl in [([5, 5], [2, 2]), ((5, 5), (2, 2)), (np.array([[5, 5]]), np.array([[2], [2]]))]:
        got = lossref.ctc_loss(lp, targets, il, tl, reduction="none")
        assert_matches(got, want, FLOAT64, f"lengths {il!r}")
        assert_matches(F.ctc_loss(torch.tensor(lp), torch.tensor(targets), torch.as_tensor(il) if
                                  isinstance(il, np.ndarray) else il, torch.as_tensor(tl) if
                                  isinstance(tl, np.ndarray) else tl, reduction="none").numpy(), want, FLOAT64,
                       f"torch lengths {il!r}")
