"""Checks on the embedding losses that the registry cannot express: the contract of a
custom distance function's gradient, the NumPy twin of torch's cosine distance that the
registry's samples rely on, torch's float32 EPSILON in cosine_embedding_loss, and the
golden cases' gradients against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossref

from .compare import assert_matches
from .registry.embedding import COSINE_DISTANCE, FIXTURES, SQUARED_EUCLIDEAN
from .tolerances import FLOAT64

TRIPLET = (np.array([[0.5, -1.0, 2.0], [1.0, 1.0, 0.0]]), np.array([[1.0, 0.0, 1.5], [0.0, 2.0, 0.0]]),
           np.array([[-1.0, 0.5, 2.0], [3.0, -1.0, 1.0]]))


def _plain_distance(a, b):
    return np.sum(np.abs(a - b), -1)


def test_custom_distance_without_backward_forward_works_backward_refuses():
    value = lossref.triplet_margin_with_distance_loss(*TRIPLET, distance_function=_plain_distance)
    expected = F.triplet_margin_with_distance_loss(
        *map(torch.from_numpy, TRIPLET), distance_function=lambda x, y: (x - y).abs().sum(-1))
    assert_matches(value, expected.numpy(), FLOAT64)
    with pytest.raises(TypeError, match="distance_function.*backward"):
        lossref.triplet_margin_with_distance_loss_backward(np.float64(1.0), *TRIPLET,
                                                             distance_function=_plain_distance)


def test_custom_distance_backward_is_used():
    """A distance's ``.backward`` is the only source of its gradient: scaling it scales the result."""
    def scaled(a, b):
        return _plain_distance(a, b)
    scaled.backward = lambda a, b, g: (3 * np.sign(a - b) * g[..., None], -3 * np.sign(a - b) * g[..., None])
    # margin 4: both rows active, away from the kink (z = 3 and 1).
    grads = lossref.triplet_margin_with_distance_loss_backward(np.float64(1.0), *TRIPLET, distance_function=scaled,
                                                                 margin=4.0)
    a, p, n = (torch.from_numpy(x).requires_grad_() for x in TRIPLET)
    loss = F.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda x, y: (x - y).abs().sum(-1),
                                               margin=4.0)
    for got, want in zip(grads, torch.autograd.grad(loss, [a, p, n])):
        assert_matches(got, 3 * want.numpy(), FLOAT64)


def test_distance_function_is_keyword_only():
    with pytest.raises(TypeError):
        lossref.triplet_margin_with_distance_loss(*TRIPLET, None)


@pytest.mark.parametrize("distance", [COSINE_DISTANCE, SQUARED_EUCLIDEAN], ids=repr)
@pytest.mark.parametrize("scale", [1.0, 1e-9, 0.0])
def test_numpy_distances_match_torch(distance, scale):
    """The registry's NumPy distances are torch's, also where F.cosine_similarity clamps:
    torch divides each vector by max(||x||, 1e-8) separately (not the product of norms)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 3)) * scale
    b = rng.normal(size=(1, 3)) * 1e-3
    got = distance.reference(a, b)
    want = distance.torch(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert_matches(got, want, FLOAT64)


def test_cosine_epsilon_is_torchs_float32_constant():
    """torch adds EPSILON = 1e-12f (a C++ float, 9.999999960041972e-13) to each squared norm:
    with a tiny input1 the cosine, and so the loss, shows which one."""
    x1, x2, y = np.array([[1e-6, 0.0]]), np.array([[1.0, 0.0]]), np.array([-1])
    got = lossref.cosine_embedding_loss(x1, x2, y, margin=-1.0, reduction="none")
    want = F.cosine_embedding_loss(*map(torch.from_numpy, (x1, x2, y)), margin=-1.0, reduction="none").numpy()
    assert_matches(got, want, FLOAT64)
    assert abs(got[0] - (1.0 + 1e-6 / np.sqrt((1e-12 + 1e-12) * (1 + 1e-12)))) > 1e-10


@pytest.mark.parametrize("spec", FIXTURES, ids=lambda s: s.name)
def test_golden_gradients_match_torch(spec):
    """The golden cases' recorded gradients are torch's autograd in float64."""
    args = [torch.from_numpy(a).requires_grad_(a.dtype.kind == "f") for a in spec.args]
    out = getattr(F, spec.loss)(*args, **spec.kwargs)
    grad_output = torch.as_tensor(np.asarray(spec.grad_output, dtype=np.float64))
    leaves = [a for a in args if a.requires_grad]
    want = iter(torch.autograd.grad(out, leaves, grad_output))
    got = getattr(lossref, f"{spec.loss}_backward")(spec.grad_output, *spec.args, **spec.kwargs)
    for arg, grad in zip(args, got):
        if arg.requires_grad:
            assert_matches(grad, next(want).numpy(), FLOAT64)
        else:
            assert grad is None
