"""nll_loss that clamps class indices into [0, C) instead of refusing one out of range: bad
input accepted, a silently wrong loss.

Caught by: test_errors.py::test_torch_refuses[nll_loss-target-out-of-range] (and -target-negative)."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    classes = input.shape[0 if input.ndim == 1 else 1]
    kept = target != ignore_index
    clamped = target.where(~kept, target.clamp(0, max(classes - 1, 0)))
    return F.nll_loss(input, clamped, weight, ignore_index=ignore_index, reduction=reduction)
