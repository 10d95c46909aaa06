"""The article's examples (shared/seeds/000_684871ec7aed11a3.txt), as data.

"PyTorch中的Loss Function" computes PyTorch's losses by hand on fixed tensors and
prints the results. Its tensors, the values it printed (exactly as printed) and the
section each comes from live here once; ``fixtures/generate.py`` turns them into the
``fixtures/article/*.json`` files and ``tests/test_article.py`` replays the article's
own calls (``nn.CrossEntropyLoss``, ``nn.NLLLoss``, ``nn.NLLLoss2d``, ...) against them.
"""

from __future__ import annotations

import numpy as np

from reference._common import log_softmax, sigmoid

from .registry.base import FixtureSpec

ARTICLE = "shared/seeds/000_684871ec7aed11a3.txt"
GENERATOR = "python fixtures/generate.py"

#: 预测值 f(x): the network's output layer, 3 samples x 5 classes (torch.FloatTensor).
LOGITS = np.array([[10, 2, 1, -2, -3],
                   [-1, -6, -0, -3, -5],
                   [-5, 4, 8, 2, 1]], dtype=np.float32)
#: 真值 y: the class of each sample (torch.LongTensor).
TARGETS = np.array([1, 3, 2], dtype=np.int64)

PRINTED_SOFTMAX = """\
9.9953e-01 3.3531e-04 1.2335e-04 6.1413e-06 2.2593e-06
2.5782e-01 1.7372e-03 7.0083e-01 3.4892e-02 4.7221e-03
2.2123e-06 1.7926e-02 9.7875e-01 2.4261e-03 8.9251e-04"""

PRINTED_LOG_SOFTMAX = """\
-4.6717e-04 -8.0005e+00 -9.0005e+00 -1.2000e+01 -1.3000e+01
-1.3555e+00 -6.3555e+00 -3.5549e-01 -3.3555e+00 -5.3555e+00
-1.3021e+01 -4.0215e+00 -2.1476e-02 -6.0215e+00 -7.0215e+00"""

#: The NLLLoss section feeds the log-softmax *as printed* (rounded to 5 digits) back in.
ROUNDED_LOG_SOFTMAX = np.array([[float(v) for v in row.split()] for row in PRINTED_LOG_SOFTMAX.splitlines()],
                               dtype=np.float32)

#: NLLLoss2d, first example: 4 classes, a 5x5 image, batch 1; every class channel is the
#: same 5x5 block, so log_softmax over the classes is log(1/4) everywhere: loss = log 4.
_BLOCK = [[10, 2, 1, -2, -3], [10, 2, 1, -2, -3], [-1, -6, -0, -3, -5], [-1, -6, -0, -3, -5], [-5, 4, 8, 2, 1]]
SEGMENTATION_LOGITS = np.array([[_BLOCK] * 4], dtype=np.float32)                      # (1, 4, 5, 5)
SEGMENTATION_TARGETS = np.array([[[0, 0, 1, 1, 0],
                                  [0, 1, 1, 1, 2],
                                  [0, 1, 2, 2, 2],
                                  [1, 1, 2, 2, 3],
                                  [0, 3, 2, 3, 3]]], dtype=np.int64)                  # (1, 5, 5)

#: NLLLoss2d, second example: 4 classes, a 2x2 image, batch 1.
SMALL_SEGMENTATION_LOGITS = np.array([[[[2, 4], [1, 2]],
                                       [[5, 3], [3, 0]],
                                       [[5, 3], [5, 2]],
                                       [[4, 2], [3, 2]]]], dtype=np.float32)          # (1, 4, 2, 2)
SMALL_SEGMENTATION_TARGETS = np.array([[[0, 2], [2, 3]]], dtype=np.int64)              # (1, 2, 2)
#: The article prints the log-softmax it fed to NLLLoss2d, channel by channel (rows of
#: the 2x2 image joined), and then sums the picked entries by hand: 1.7264749999999998.
PRINTED_SMALL_LOG_SOFTMAX = """\
-3.8828 -0.6265 -4.2539 -1.1427
-0.8828 -1.6265 -2.2539 -3.1427
-0.8828 -1.6265 -0.2539 -1.1427
-1.8828 -2.6265 -2.2539 -1.1427"""

#: BCELoss section: one-hot targets (the article passes them as torch.LongTensor, which
#: current torch refuses for BCE; the fixture records them as float32).
ONE_HOT = np.array([[1, 0, 0, 0, 0],
                    [0, 1, 0, 0, 0],
                    [0, 0, 0, 0, 1]], dtype=np.int64)

#: The article's 'F.softmax(x)' / 'F.log_softmax(x)' without dim: torch then picks
#: dim 1 for 2-D and 4-D inputs, the class axis of every example here.
CLASS_AXIS = 1


def _section(name: str) -> str:
    return f"{ARTICLE}, section {name}"


def _float64_log_softmax(logits: np.ndarray) -> np.ndarray:
    return log_softmax(logits.astype(np.float64), CLASS_AXIS)


FIXTURES = [
    FixtureSpec(
        name="article/cross_entropy",
        loss="cross_entropy",
        args=(LOGITS, TARGETS),
        kwargs={},
        description="nn.CrossEntropyLoss() on the article's 3x5 logits and targets [1, 3, 2]: the mean of "
                    "-log_softmax[target] over the three samples",
        source=_section("CrossEntropyLoss"),
        printed="3.7925",
        grad_output=np.float64(1.0),
        intermediates={
            "softmax": (np.exp(_float64_log_softmax(LOGITS)), PRINTED_SOFTMAX),
            "log_softmax": (_float64_log_softmax(LOGITS), PRINTED_LOG_SOFTMAX),
        },
    ),
    FixtureSpec(
        name="article/cross_entropy_per_sample",
        loss="cross_entropy",
        args=(LOGITS, TARGETS),
        kwargs={"reduction": "none"},
        description="the per-sample losses the article computes by hand: -log_softmax[0, 1], "
                    "-log_softmax[1, 3], -log_softmax[2, 2] (printed '1.00000e-02 * 2.1476' for the third)",
        source=_section("CrossEntropyLoss / 手动计算loss"),
        printed="8.0005 3.3555 0.021476",
        grad_output=np.array([1.0, -0.5, 2.0]),
    ),
    FixtureSpec(
        name="article/nll_loss",
        loss="nll_loss",
        args=(ROUNDED_LOG_SOFTMAX, TARGETS),
        kwargs={},
        description="nn.NLLLoss() on the log-softmax exactly as the article printed it (5 significant digits), "
                    "targets [1, 3, 2]: the same 3.7925 as CrossEntropyLoss",
        source=_section("NLLLoss"),
        printed="3.7925",
        grad_output=np.float64(1.0),
    ),
    FixtureSpec(
        name="article/nll_loss2d_uniform",
        loss="nll_loss",
        args=(_float64_log_softmax(SEGMENTATION_LOGITS), SEGMENTATION_TARGETS),
        kwargs={},
        description="nn.NLLLoss2d() on log_softmax (over the 4 classes, float64) of a (1, 4, 5, 5) input whose four "
                    "class channels are equal: every pixel has probability 1/4, so the loss is log 4",
        source=_section("NLLLoss2d, first example"),
        printed="1.3863",
        grad_output=np.float64(1.0),
    ),
    FixtureSpec(
        name="article/nll_loss2d",
        loss="nll_loss",
        args=(_float64_log_softmax(SMALL_SEGMENTATION_LOGITS), SMALL_SEGMENTATION_TARGETS),
        kwargs={},
        description="nn.NLLLoss2d() on log_softmax (over the 4 classes, float64) of a (1, 4, 2, 2) input: the mean "
                    "of the four picked per-pixel log-probabilities, -(-3.8828 - 1.6265 - 0.2539 - 1.1427) / 4",
        source=_section("NLLLoss2d, second example"),
        printed="1.7265",
        grad_output=np.float64(1.0),
        intermediates={"log_softmax": (_float64_log_softmax(SMALL_SEGMENTATION_LOGITS).reshape(4, 4),
                                       PRINTED_SMALL_LOG_SOFTMAX)},
    ),
    FixtureSpec(
        name="article/binary_cross_entropy",
        loss="binary_cross_entropy",
        args=(sigmoid(LOGITS.astype(np.float64)), ONE_HOT.astype(np.float64)),
        kwargs={},
        description="nn.BCELoss() on sigmoid of the article's 3x5 logits (float64) against its one-hot targets, "
                    "as float: the article passes them as a LongTensor, which torch now refuses",
        source=_section("BCELoss"),
        grad_output=np.float64(1.0),
    ),
    FixtureSpec(
        name="article/binary_cross_entropy_with_logits",
        loss="binary_cross_entropy_with_logits",
        args=(LOGITS, ONE_HOT.astype(np.float32)),
        kwargs={},
        description="nn.BCEWithLogitsLoss() (the article: 'Sigmoid layer and BCELoss in one') on the 3x5 logits "
                    "and one-hot targets: equal to the BCELoss case",
        source=_section("BCEWithLogitsLoss (listed; the article's text stops before its example)"),
        grad_output=np.float64(1.0),
    ),
    FixtureSpec(
        name="article/kl_div",
        loss="kl_div",
        args=(_float64_log_softmax(LOGITS), np.eye(5)[TARGETS]),
        kwargs={"reduction": "batchmean"},
        description="KL(one_hot(targets [1, 3, 2]) || softmax(logits)) summed per sample, averaged over the batch: "
                    "a one-hot target has entropy 0, so this is the article's cross-entropy again (3.7925)",
        source=_section("KLDivLoss (listed as TODO in the article)"),
        grad_output=np.float64(1.0),
    ),
    FixtureSpec(
        name="article/poisson_nll_loss",
        loss="poisson_nll_loss",
        args=(LOGITS / 4, ONE_HOT.astype(np.float32) * 3),
        kwargs={"log_input": True, "full": True},
        description="PoissonNLLLoss on the article's logits / 4 as log-rates and 3x its one-hot targets as counts, "
                    "with the Stirling term (counts > 1 only)",
        source=_section("PoissonNLLLoss (listed as TODO in the article)"),
        grad_output=np.float64(1.0),
    ),
    FixtureSpec(
        name="article/hinge_embedding_loss",
        loss="hinge_embedding_loss",
        args=(LOGITS, (2 * ONE_HOT - 1).astype(np.float32)),
        kwargs={"margin": 1.0},
        description="HingeEmbeddingLoss on the 3x5 logits with the one-hot targets mapped to +1 / -1",
        source=_section("Hinge (heading only; the article's text stops)"),
        grad_output=np.float64(1.0),
    ),
    FixtureSpec(
        name="article/multi_margin_loss",
        loss="multi_margin_loss",
        args=(LOGITS, TARGETS),
        kwargs={},
        description="MultiMarginLoss (the multi-class hinge) on the article's logits and targets [1, 3, 2]",
        source=_section("Hinge (heading only; the article's text stops)"),
        grad_output=np.float64(1.0),
    ),
    FixtureSpec(
        name="article/l1_loss",
        loss="l1_loss",
        args=(LOGITS, ONE_HOT.astype(np.float32)),
        kwargs={},
        description="L1: mean |prediction - truth| with the article's logits as predictions and its one-hot "
                    "targets as truth",
        source=_section("L1 & L2 (formulas only; the article's text stops)"),
        grad_output=np.float64(1.0),
    ),
    FixtureSpec(
        name="article/mse_loss",
        loss="mse_loss",
        args=(LOGITS, ONE_HOT.astype(np.float32)),
        kwargs={},
        description="L2: mean (prediction - truth)^2 with the article's logits as predictions and its one-hot "
                    "targets as truth",
        source=_section("L1 & L2 (formulas only; the article's text stops)"),
        grad_output=np.float64(1.0),
    ),
]
