"""The inputs every loss is timed on, at each size: NumPy float64 arrays and keywords.

A case builds ``(args, kwargs)`` for ``n`` elements of its main input (the other arrays
follow from it). Sizes: 1K, 64K and 4M elements; CTC at a speech size instead
(T=200 frames, N=16, C=32 classes, targets of S=50), multilabel_margin_loss at 8 labels
of 256 classes. Values are drawn so that every branch of a loss is exercised (both
sides of a hinge or a huber threshold, target 1 and -1, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

#: Elements of the main input, by the name the table shows.
SIZES = {"1K": 1 << 10, "64K": 1 << 16, "4M": 1 << 22}


@dataclass(frozen=True)
class Case:
    """One loss on inputs of one kind; ``sizes`` names the sizes it is timed at."""

    loss: str
    build: Callable[[int, np.random.Generator], tuple[tuple, dict]]
    label: str = ""
    sizes: dict[str, int] | None = None

    @property
    def id(self) -> str:
        return self.loss + (f"[{self.label}]" if self.label else "")


def _classes(n: int) -> int:
    """Class count of an (N, C) classification input: 32 at 1K, 1024 from 64K on (4096 x 1024 at 4M)."""
    return 1024 if n >= SIZES["64K"] else 32


def _matrix(n, rng, classes=None):
    c = classes or _classes(n)
    return rng.standard_normal((n // c, c)), c


def _signs(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def _pairs(n, rng):
    """Two (n / 64, 64) arrays: input and target of an elementwise loss."""
    shape = (n // 64, 64)
    return rng.standard_normal(shape), rng.standard_normal(shape)


def _nll(n, rng):
    x, c = _matrix(n, rng)
    return (x, rng.integers(0, c, x.shape[0])), {}


def _cross_entropy_probs(n, rng):
    x, c = _matrix(n, rng)
    p = rng.random(x.shape)
    return (x, p / p.sum(axis=1, keepdims=True)), {}


def _linear_cross_entropy(n, rng):
    features = classes = 256
    x = rng.standard_normal((n // features, features))
    w = rng.standard_normal((classes, features)) / 16.0
    return (x, w, rng.integers(0, classes, x.shape[0])), {}


def _bce(n, rng):
    shape = (n // 64, 64)
    return (rng.uniform(0.01, 0.99, shape), rng.random(shape)), {}


def _bce_logits(n, rng):
    x, _ = _pairs(n, rng)
    return (x, rng.random(x.shape)), {}


def _kl(n, rng):
    x, _ = _pairs(n, rng)
    return (x, rng.random(x.shape)), {"reduction": "batchmean"}


def _poisson(n, rng):
    x, _ = _pairs(n, rng)
    return (x, rng.poisson(2.0, x.shape).astype(np.float64)), {}


def _gaussian(n, rng):
    x, y = _pairs(n, rng)
    return (x, y, rng.uniform(0.1, 2.0, x.shape)), {}


def _elementwise(n, rng):
    return _pairs(n, rng), {}


def _hinge(n, rng):
    x, _ = _pairs(n, rng)
    return (x, _signs(rng, x.shape)), {}


def _ranking(n, rng):
    return (rng.standard_normal(n), rng.standard_normal(n), _signs(rng, n)), {}


def _multi_margin(n, rng):
    x, c = _matrix(n, rng)
    return (x, rng.integers(0, c, x.shape[0])), {}


def _multilabel_margin(n, rng):
    classes, labels = 256, 8
    x = rng.standard_normal((n // classes, classes))
    target = np.full(x.shape, -1, dtype=np.int64)
    # 8 distinct labels per row, then the -1 terminator (the rest is never read).
    target[:, :labels] = np.argsort(rng.random(x.shape), axis=1)[:, :labels]
    return (x, target), {}


def _soft_margin(n, rng):
    x, _ = _pairs(n, rng)
    return (x, _signs(rng, x.shape)), {}


def _multilabel_soft_margin(n, rng):
    x, _ = _matrix(n, rng)
    return (x, (rng.random(x.shape) < 0.5).astype(np.float64)), {}


def _vectors(n, rng, count, dim=128):
    return tuple(rng.standard_normal((n // dim, dim)) for _ in range(count))


def _cosine(n, rng):
    x1, x2 = _vectors(n, rng, 2)
    return (x1, x2, _signs(rng, x1.shape[0])), {}


def _triplet(n, rng):
    return _vectors(n, rng, 3), {}


#: CTC's sizes: (frames T, batch N, classes C, target length S).
CTC_SIZES = {"T200 N16 C32 S50": (200, 16, 32, 50), "T1000 N32 C128 S200": (1000, 32, 128, 200)}


def _ctc(n, rng):
    frames, batch, classes, length = n
    logits = rng.standard_normal((frames, batch, classes))
    log_probs = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    targets = rng.integers(1, classes, (batch, length))
    input_lengths = rng.integers(frames - frames // 10, frames + 1, batch)
    target_lengths = rng.integers(length - length // 5, length + 1, batch)
    return (log_probs, targets, input_lengths, target_lengths), {}


CASES = (
    Case("nll_loss", _nll),
    Case("cross_entropy", _nll, "indices"),
    Case("cross_entropy", _cross_entropy_probs, "probabilities"),
    Case("linear_cross_entropy", _linear_cross_entropy),
    Case("binary_cross_entropy", _bce),
    Case("binary_cross_entropy_with_logits", _bce_logits),
    Case("kl_div", _kl),
    Case("poisson_nll_loss", _poisson),
    Case("gaussian_nll_loss", _gaussian),
    Case("l1_loss", _elementwise),
    Case("mse_loss", _elementwise),
    Case("smooth_l1_loss", _elementwise),
    Case("huber_loss", _elementwise),
    Case("hinge_embedding_loss", _hinge),
    Case("margin_ranking_loss", _ranking),
    Case("multi_margin_loss", _multi_margin),
    Case("multilabel_margin_loss", _multilabel_margin),
    Case("soft_margin_loss", _soft_margin),
    Case("multilabel_soft_margin_loss", _multilabel_soft_margin),
    Case("cosine_embedding_loss", _cosine),
    Case("triplet_margin_loss", _triplet),
    Case("triplet_margin_with_distance_loss", _triplet),
    Case("ctc_loss", _ctc, sizes=CTC_SIZES),
)
