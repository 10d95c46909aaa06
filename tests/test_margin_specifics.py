"""Margin-family checks that do not fit the registry: the golden gradients of
loss-semantics §5b (printed by torch 2.13.0 CPU float64) against the hand-derived
backwards, and the registry's margin fixtures against the values their source printed."""

from __future__ import annotations

import numpy as np
import pytest

import lossref

from .registry.margin import FIXTURES

# (loss, args, kwargs, printed value, printed d/dinput) from loss-semantics §5b, reduced
# losses, backward of the scalar (grad_output = 1). The hinge's third entry is its kink
# (x = margin): torch 2.13 printed -1 there, torch 2.14 and the reference give the
# minimum-norm subgradient 0 (quirk clamp-boundary-subgradient in tests/quirks.py).
GOLDEN_GRADIENTS = [
    ("hinge_embedding_loss", (np.array([-1.0, 0.5, 1.0, 2.0, 0.5]), np.array([1.0, -1.0, -1.0, -1.0, 0.0])),
     {"margin": 1.0, "reduction": "sum"}, "0.5", "1 -1 0 0 0"),
    ("multi_margin_loss", (np.array([[1.0, 0.0, 2.0, 1.0]]), np.array([0])),
     {"p": 2, "weight": np.array([2.0, 1.0, 1.0, 1.0]), "reduction": "sum"}, "2.5", "-3 0 2 1"),
    ("multilabel_margin_loss", (np.array([[0.1, 0.2, 0.4, 0.8], [0.3, -0.2, 0.5, 0.1]]),
                                np.array([[3, 0, -1, 1], [1, 1, -1, 2]])),
     {"reduction": "sum"}, "3.1", "-0.5 0.5 0.5 -0.5 0.5 -1.5 0.5 0.5"),
]


def _printed_tolerance(printed: str) -> float:
    """Half a unit in the last printed significant digit, relative: 10 significant digits -> 5e-10."""
    digits = max(len(word.lstrip("-").replace(".", "").lstrip("0")) for word in printed.split())
    return 0.5 * 10.0 ** (1 - max(digits, 1))


def _numbers(printed: str) -> np.ndarray:
    return np.array([float(word) for word in printed.split()])


@pytest.mark.parametrize("loss, args, kwargs, value, grad", GOLDEN_GRADIENTS, ids=[g[0] for g in GOLDEN_GRADIENTS])
def test_golden_gradient(loss, args, kwargs, value, grad):
    got = getattr(lossref, loss)(*args, **kwargs)
    np.testing.assert_allclose(got, float(value), rtol=1e-12, atol=0)
    grads = getattr(lossref, f"{loss}_backward")(np.float64(1.0), *args, **kwargs)
    assert grads[0].shape == args[0].shape
    np.testing.assert_allclose(grads[0].ravel(), _numbers(grad), rtol=1e-12, atol=1e-15)
    assert all(g is None for g in grads[1:]), "only the input has a gradient in these calls"


@pytest.mark.parametrize("spec", FIXTURES, ids=[f.name for f in FIXTURES])
def test_fixture_printed_value(spec):
    got = np.ravel(getattr(lossref, spec.loss)(*spec.args, **spec.kwargs))
    expected = _numbers(spec.printed)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=_printed_tolerance(spec.printed), atol=1e-12)
    # The gradient the fixture records exists, in the argument's shape.
    grads = getattr(lossref, f"{spec.loss}_backward")(spec.grad_output, *spec.args, **spec.kwargs)
    assert grads[0] is not None and grads[0].shape == np.shape(spec.args[0])


def test_soft_margin_overflow_threshold_is_float64s():
    """The reference computes the literal log1p(exp(-y x)) in float64: finite up to -y x ~ 709.78,
    inf (gradient nan) beyond, as torch in float64; narrower dtypes in torch overflow earlier."""
    x = np.array([-709.0, -710.0])
    y = np.ones(2)
    np.testing.assert_array_equal(np.isinf(lossref.soft_margin_loss(x, y, reduction="none")), [False, True])
    grad, target_grad = lossref.soft_margin_loss_backward(np.ones(2), x, y, reduction="none")
    assert np.isfinite(grad[0]) and np.isnan(grad[1]) and target_grad is None


def test_multilabel_margin_entries_after_terminator_are_ignored():
    """Only the prefix before the first -1 counts: what follows changes nothing (if in range)."""
    x = np.array([[0.1, 0.2, 0.4, 0.8]])
    a = lossref.multilabel_margin_loss(x, np.array([[3, -1, 0, 1]]), reduction="none")
    b = lossref.multilabel_margin_loss(x, np.array([[3, -1, 2, 2]]), reduction="none")
    np.testing.assert_array_equal(a, b)
