"""Checks on binary_cross_entropy(_with_logits) that the registry cannot express: the
golden gradients of loss-semantics §5b to the digits printed there, and calls whose
arguments have different dtypes (the registry casts every float array to one dtype)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossref

from .compare import assert_matches
from .tolerances import FLOAT64, tolerance

BCE = (np.array([0.0, 1.0, 0.25]), np.array([1.0, 0.0, 0.5]))
LOGITS = (np.array([-200.0, 3.0, 0.5]), np.array([1.0, 0.0, 0.25]))
LOGITS_KWARGS = {"pos_weight": np.array([2.0]), "weight": np.array([1.0, 1.0, 4.0])}


def _printed(values: str) -> tuple[np.ndarray, np.ndarray]:
    """The numbers of a printed row and, per number, half a unit of its last printed digit."""
    numbers, halves = [], []
    for word in values.split():
        numbers.append(float(word))
        if word.lstrip("-") == "inf":
            halves.append(0.0)
            continue
        mantissa, _, exponent = word.partition("e")
        decimals = len(mantissa.partition(".")[2])
        halves.append(0.5 * 10.0 ** (int(exponent or 0) - decimals))
    return np.array(numbers), np.array(halves)


def _assert_printed(got, printed: str, relative_digits: int = 8):
    """``got`` rounds to ``printed``: within half a unit of the last digit printed, or of
    the ``relative_digits``-th significant digit where that is finer (the table prints
    with ``%.8g``, which drops trailing zeros: "-2" means -2.0000000)."""
    expected, half = _printed(printed)
    got = np.asarray(got, dtype=np.float64).ravel()
    assert got.shape == expected.shape
    finite = np.isfinite(expected)
    assert np.array_equal(got[~finite], expected[~finite]), f"{got} vs {printed}"
    allowed = np.minimum(half, 0.5 * 10.0 ** (1 - relative_digits) * np.abs(expected)) * (1 + 1e-12)
    assert np.all(np.abs(got[finite] - expected[finite]) <= allowed[finite]), f"{got} vs {printed}"


def test_bce_golden_gradients():
    """§5b: binary_cross_entropy([0,1,0.25],[1,0,0.5],'sum') and its gradients."""
    _assert_printed(lossref.binary_cross_entropy(*BCE, reduction="sum"), "200.8369882", relative_digits=10)
    grad_input, grad_target, grad_weight = lossref.binary_cross_entropy_backward(1.0, *BCE, reduction="sum")
    _assert_printed(grad_input, "-1e+12 1e+12 -1.3333333")
    _assert_printed(grad_target, "inf -inf 1.0986123")
    assert grad_weight is None


def test_bce_input_gradient_floor_is_float32_1e12():
    """torch floors x(1 - x) at 1e-12 written as a float32 literal: -1/float32(1e-12) at x = 0."""
    x, y = torch.tensor([0.0], dtype=torch.float64, requires_grad=True), torch.tensor([1.0], dtype=torch.float64)
    (torch_grad,) = torch.autograd.grad(F.binary_cross_entropy(x, y, reduction="sum"), [x])
    grad_input, _, _ = lossref.binary_cross_entropy_backward(1.0, np.array([0.0]), np.array([1.0]), reduction="sum")
    assert grad_input[0] == -1.0 / float(np.float32(1e-12))
    assert_matches(torch_grad.numpy(), grad_input, FLOAT64)


def test_bce_logits_golden_gradients():
    """§5b: bce_with_logits([-200,3,0.5],[1,0,0.25],pos_weight=[2],weight=[1,1,4],'sum')."""
    value = lossref.binary_cross_entropy_with_logits(*LOGITS, reduction="sum", **LOGITS_KWARGS)
    _assert_printed(value, "406.9189723", relative_digits=10)
    grads = lossref.binary_cross_entropy_with_logits_backward(1.0, *LOGITS, reduction="sum", **LOGITS_KWARGS)
    _assert_printed(grads[0], "-2 0.95257413 1.1122967")
    _assert_printed(grads[1], "400 -2.9514126 -0.10369206")
    assert grads[2] is None


@pytest.mark.parametrize("input_dtype, target_dtype", [(np.float64, np.float32), (np.float32, np.float64)])
def test_bce_logits_accepts_mixed_float_dtypes(input_dtype, target_dtype):
    """torch accepts a target of another float dtype (the result takes the target's dtype);
    so does the reference, computing in float64 on the values as given."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3)).astype(input_dtype)
    y = rng.uniform(size=(4, 3)).astype(target_dtype)
    got = F.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(y), reduction="none")
    assert got.dtype == torch.from_numpy(y).dtype
    expected = lossref.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert_matches(got.double().numpy(), expected, tolerance(torch.float32))


def test_bce_weight_of_another_dtype_is_accepted():
    """binary_cross_entropy needs input and target of one dtype, but not the weight."""
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0.05, 0.95, size=(4, 3)), rng.uniform(size=(4, 3))
    w = rng.uniform(0.5, 2.0, size=3).astype(np.float32)
    got = F.binary_cross_entropy(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w), reduction="none")
    assert_matches(got.numpy(), lossref.binary_cross_entropy(x, y, w, reduction="none"), FLOAT64)


def test_bce_lists_are_accepted():
    """Nested lists declare no dtype: the same-dtype rule applies to arrays only."""
    got = lossref.binary_cross_entropy([0.0, 1.0, 0.25], np.array([1.0, 0.0, 0.5], dtype=np.float32),
                                         reduction="none")
    assert_matches(got, np.array([100.0, 100.0, 0.8369882167858358]), FLOAT64)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_inputs_are_not_modified(name):
    rng = np.random.default_rng(2)
    args = (rng.uniform(0.05, 0.95, size=(4, 3)), rng.uniform(size=(4, 3)), rng.uniform(size=(4, 1)))
    copies = [a.copy() for a in args]
    getattr(lossref, name)(*args, reduction="sum")
    getattr(lossref, f"{name}_backward")(np.float64(1.5), *args, reduction="sum")
    for a, c in zip(args, copies):
        assert np.array_equal(a, c)
