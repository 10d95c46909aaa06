"""cross_entropy whose label smoothing spreads ε over the C - 1 other classes' normaliser
(ε / (C - 1) instead of torch's ε / C): a wrong value whenever label_smoothing > 0.

Caught by: test_forward.py::test_forward[cross_entropy-NC-mean-weight-ignore1-label_smoothing1.0-index-cpu-float64]."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    kwargs = dict(ignore_index=ignore_index, reduction=reduction)
    smoothed = F.cross_entropy(input, target, weight, label_smoothing=label_smoothing, **kwargs)
    classes = input.shape[0 if input.ndim == 1 else 1]
    if not label_smoothing or classes < 2:
        return smoothed
    plain = F.cross_entropy(input, target, weight, **kwargs)
    uniform = (smoothed - (1 - label_smoothing) * plain) / label_smoothing   # torch's smoothing term, over C
    return (1 - label_smoothing) * plain + label_smoothing * uniform * classes / (classes - 1)
