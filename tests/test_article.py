"""The article, replayed: its own calls (nn.CrossEntropyLoss, nn.NLLLoss, nn.NLLLoss2d,
F.softmax, F.log_softmax, ...) on its own tensors print what it printed, and so does the
reference. Values are compared to the digits the article printed, no more."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import lossref
from lossref import fixtures

from . import article
from .compare import assert_matches
from .convert import as_tensor as tensor
from .printed import assert_printed
from .tolerances import FLOAT64, tolerance

pytestmark = pytest.mark.article


def test_cross_entropy_loss_module(device):
    loss = nn.CrossEntropyLoss()(tensor(article.LOGITS, device), tensor(article.TARGETS, device))
    assert_printed(loss.item(), "3.7925", "nn.CrossEntropyLoss")
    assert_printed(F.cross_entropy(tensor(article.LOGITS, device), tensor(article.TARGETS, device)).item(),
                   "3.7925", "F.cross_entropy")
    assert_printed(lossref.cross_entropy(article.LOGITS, article.TARGETS), "3.7925", "reference")


def test_softmax_and_log_softmax_tables(device):
    """The printed tables, to every digit printed, in float64; float32 (the article's
    dtype) within the float32 rule: log_softmax's first entry, -4.6717e-04, is
    x - logsumexp(x) with logsumexp ~ 10, so float32 cancellation leaves an absolute error
    of a few 1e-8 (torch 2.13 gives -4.6719e-04): the last printed digit is below float32's
    resolution there. The article's torch 0.3 evidently computed it more accurately."""
    x64 = tensor(article.LOGITS, device).double()
    assert_printed(F.softmax(x64, dim=article.CLASS_AXIS).cpu(), article.PRINTED_SOFTMAX, "F.softmax")
    assert_printed(F.log_softmax(x64, dim=article.CLASS_AXIS).cpu(), article.PRINTED_LOG_SOFTMAX, "F.log_softmax")
    # The article's "手动计算": log of the softmax equals log_softmax (to the digits printed).
    assert_printed(np.log(F.softmax(x64, dim=1).cpu().numpy()), article.PRINTED_LOG_SOFTMAX, "log(softmax)")
    case = fixtures.load("cross_entropy/article")
    x32 = tensor(article.LOGITS, device)
    for name, fn in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
        assert_matches(fn(x32, dim=1).cpu().double().numpy(), case.intermediates[name][0],
                       tolerance(torch.float32), f"float32 F.{name}")


def test_per_sample_losses_by_hand(device):
    """-log_softmax[n, target_n] for each sample, then their mean: 8.0005, 3.3555, 0.021476 -> 3.7925."""
    lsm = F.log_softmax(tensor(article.LOGITS, device), dim=1)
    per_sample = -lsm[torch.arange(3), tensor(article.TARGETS, device)]
    assert_printed(per_sample.cpu(), "8.0005 3.3555 0.021476", "-log_softmax[target]")
    assert_printed(per_sample.mean().item(), "3.7925", "mean")
    assert_printed(lossref.cross_entropy(article.LOGITS, article.TARGETS, reduction="none"),
                   "8.0005 3.3555 0.021476", "reference, reduction='none'")


def test_nll_loss_on_the_printed_log_softmax(device):
    loss = nn.NLLLoss()(tensor(article.ROUNDED_LOG_SOFTMAX, device), tensor(article.TARGETS, device))
    assert_printed(loss.item(), "3.7925", "nn.NLLLoss")
    assert_printed(lossref.nll_loss(article.ROUNDED_LOG_SOFTMAX, article.TARGETS), "3.7925", "reference")


SEGMENTATION = [
    pytest.param(article.SEGMENTATION_LOGITS, article.SEGMENTATION_TARGETS, "1.3863", id="uniform-5x5"),
    pytest.param(article.SMALL_SEGMENTATION_LOGITS, article.SMALL_SEGMENTATION_TARGETS, "1.7265", id="2x2"),
]


def _nll_loss2d_modules():
    modules = [nn.NLLLoss]
    if hasattr(nn, "NLLLoss2d"):   # deprecated; gone in some future torch
        modules.append(nn.NLLLoss2d)
    return modules


@pytest.mark.parametrize("logits, targets, printed", SEGMENTATION)
@pytest.mark.parametrize("module", _nll_loss2d_modules(), ids=lambda m: m.__name__)
def test_nll_loss2d(logits, targets, printed, module, device):
    log_probs = F.log_softmax(tensor(logits, device), dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)   # NLLLoss2d is deprecated in favour of NLLLoss
        loss = module()(log_probs, tensor(targets, device))
    assert_printed(loss.item(), printed, module.__name__)
    ref = lossref.nll_loss(log_probs.cpu().double().numpy(), targets)
    assert_printed(ref, printed, "reference")


def test_nll_loss2d_is_the_mean_of_the_picked_pixels():
    """The article's own arithmetic: -(-3.8828 + (-1.6265) + (-0.2539) + (-1.1427)) / 4."""
    by_hand = -(-3.8828 + (-1.6265) + (-0.2539) + (-1.1427)) / 4
    assert by_hand == pytest.approx(1.726475, abs=1e-12)
    case = fixtures.load("nll_loss/article_2d")
    assert_printed(case.intermediates["log_softmax"][0], article.PRINTED_SMALL_LOG_SOFTMAX, "log_softmax")
    assert abs(float(case.expected) - by_hand) < 4 * 0.5e-4   # four terms, each printed to 4 decimals


def test_bce_with_the_articles_integer_targets_is_refused(device):
    """The article passes torch.LongTensor targets to nn.BCELoss; torch now refuses them,
    and so does the reference. The float targets are recorded in binary_cross_entropy/article."""
    probs = torch.sigmoid(tensor(article.LOGITS, device))
    with pytest.raises(RuntimeError, match="Found dtype Long but expected Float"):
        nn.BCELoss()(probs, tensor(article.ONE_HOT, device))
    with pytest.raises(TypeError, match="target"):
        lossref.binary_cross_entropy(probs.cpu().numpy(), article.ONE_HOT)
    # With float targets, on the fixture's recorded probabilities (not recomputed: log1p(-x)
    # at x = sigmoid(10) = 1 - 4.5e-5 turns one ulp of x into 1e-12 of the loss).
    case = fixtures.load("binary_cross_entropy/article")
    probs64, float_targets = (tensor(a, device) for a in case.args)
    assert_matches(nn.BCELoss()(probs64, float_targets).item(), case.expected, FLOAT64, "nn.BCELoss, float targets")


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n(device):
    """d CE / d logits = (softmax - one_hot(target)) / N, N = 3: the article's tensors."""
    x = tensor(article.LOGITS, device).double().requires_grad_(True)
    F.cross_entropy(x, tensor(article.TARGETS, device)).backward()
    one_hot = np.eye(5)[article.TARGETS]
    softmax = np.exp(lossref.classification.log_softmax(article.LOGITS.astype(np.float64), 1))
    by_hand = (softmax - one_hot) / 3
    np.testing.assert_allclose(x.grad.cpu().numpy(), by_hand, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lossref.cross_entropy_backward(1.0, article.LOGITS, article.TARGETS)[0],
                               by_hand, rtol=1e-12, atol=1e-15)
