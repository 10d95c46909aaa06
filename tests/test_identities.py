"""The article's derivations as identities, checked on the reference and on the
implementation under test alike (float64, random inputs seeded from the test id):

- CrossEntropyLoss = NLLLoss(log_softmax)                  ("combines LogSoftMax and NLLLoss")
- CE with one-hot probability targets = CE with class indices
- per-sample CE = -log_softmax[target], and the mean is their average
- NLLLoss2d = the mean of the per-pixel NLL
- BCEWithLogits(x) = BCE(sigmoid(x))                       ("Sigmoid layer and BCELoss in one")
- KL(p || q) = CE(p, q) - H(p)                             ("交叉熵 ... 来自于KL散度")
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lossref
from lossref._common import log_softmax, sigmoid

from .compare import assert_matches
from .convert import as_tensor
from .tolerances import FLOAT64, tolerance


class TorchSide:
    """The implementation under test with NumPy in and out, in float64 on the CPU."""

    def __init__(self, impl):
        self.impl = impl

    def __getattr__(self, name):
        fn = self.impl.function(name)
        if fn is None:
            pytest.skip(f"{self.impl} does not define {name}")

        def call(*args, **kwargs):
            return fn(*map(as_tensor, args), **{k: as_tensor(v) for k, v in kwargs.items()}).detach().double().numpy()
        return call


@pytest.fixture(params=["reference", "implementation"])
def side(request, impl):
    return lossref if request.param == "reference" else TorchSide(impl)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_is_nll_of_log_softmax(side, rng, reduction):
    x = rng.normal(0, 3, (6, 4, 3))
    t = rng.integers(0, 4, (6, 3))
    t[0, 0] = -100
    w = rng.uniform(0.5, 2, 4)
    assert_matches(side.cross_entropy(x, t, w, reduction=reduction),
                   side.nll_loss(log_softmax(x, 1), t, w, reduction=reduction), FLOAT64)


def test_one_hot_probabilities_equal_class_indices(side, rng):
    x = rng.normal(0, 3, (5, 4))
    t = rng.integers(0, 4, 5)
    one_hot = np.eye(4)[t]
    assert_matches(side.cross_entropy(x, one_hot), side.cross_entropy(x, t), FLOAT64)
    # With class weights only 'sum' agrees: the index mean divides by the summed target
    # weights, the probability mean by N.
    w = rng.uniform(0.5, 2, 4)
    assert_matches(side.cross_entropy(x, one_hot, w, reduction="sum"),
                   side.cross_entropy(x, t, w, reduction="sum"), FLOAT64)


def test_per_sample_cross_entropy_is_minus_log_softmax_at_target(side, rng):
    x = rng.normal(0, 3, (5, 4))
    t = rng.integers(0, 4, 5)
    picked = -log_softmax(x, 1)[np.arange(5), t]
    assert_matches(side.cross_entropy(x, t, reduction="none"), picked, FLOAT64)
    assert_matches(side.cross_entropy(x, t), picked.mean(), FLOAT64)


def test_nll_loss2d_is_the_mean_of_per_pixel_nll(side, rng):
    x = log_softmax(rng.normal(0, 2, (2, 4, 3, 5)), 1)
    t = rng.integers(0, 4, (2, 3, 5))
    per_pixel = side.nll_loss(x.transpose(0, 2, 3, 1).reshape(-1, 4), t.reshape(-1), reduction="none")
    assert_matches(side.nll_loss(x, t), per_pixel.mean(), FLOAT64)
    assert_matches(side.nll_loss(x, t, reduction="none").reshape(-1), per_pixel, FLOAT64)


def test_bce_with_logits_is_bce_of_sigmoid(side, rng):
    # BCE(sigmoid(x)) is the ill-conditioned side: sigmoid(x) is rounded relative to 1, so
    # 1 - sigmoid(x) carries a relative error of eps * e^|x|, and so does log(1 - sigmoid(x)).
    # Logits within ±6 and that factor in the tolerance (past |x| ~ 36 sigmoid is 1 in
    # float64 and BCE's clamp at -100 takes over, while the logits form stays exact).
    x = rng.uniform(-6, 6, (4, 3))
    y = rng.uniform(0, 1, (4, 3))
    tol = tolerance(torch.float64, conditioning=float(np.exp(np.max(np.abs(x)))))
    assert_matches(side.binary_cross_entropy_with_logits(x, y), side.binary_cross_entropy(sigmoid(x), y), tol)


def test_kl_divergence_is_cross_entropy_minus_entropy(side, rng):
    logits = rng.normal(0, 2, (5, 4))
    p = np.exp(log_softmax(rng.normal(0, 2, (5, 4)), 1))
    entropy = -np.sum(p * np.log(p))
    kl = side.kl_div(log_softmax(logits, 1), p, reduction="sum")
    assert_matches(kl, side.cross_entropy(logits, p, reduction="sum") - entropy, FLOAT64)
