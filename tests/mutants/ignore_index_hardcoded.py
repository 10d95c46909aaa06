"""cross_entropy that drops the caller's ignore_index and masks -100 only (unsloth's fast
cross-entropy hard-codes -100): rows marked with another value count as real targets, or
raise where that value is not a class.

Caught by: test_forward.py::test_forward[cross_entropy-sharp-peaked-ignore3-weight-mean-cpu-float64]."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    return F.cross_entropy(input, target, weight, reduction=reduction, label_smoothing=label_smoothing)
