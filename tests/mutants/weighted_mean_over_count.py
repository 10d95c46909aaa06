"""cross_entropy whose weighted 'mean' divides by the number of targets kept instead of their
summed class weights (weight ignored in the mean's denominator).

Caught by: test_forward.py::test_forward[cross_entropy-NC-mean-weight-ignore1-label_smoothing1.0-index-cpu-float64]
(every weighted 'mean' sample with class-index targets)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    kwargs = dict(ignore_index=ignore_index, label_smoothing=label_smoothing)
    if reduction != "mean" or weight is None or target.is_floating_point():
        return F.cross_entropy(input, target, weight, reduction=reduction, **kwargs)
    total = F.cross_entropy(input, target, weight, reduction="sum", **kwargs)
    return total / torch.clamp((target != ignore_index).sum(), min=1)
