"""nll_loss whose weighted mean divides by the number of targets instead of their
summed weights (the most common hand-written mistake)."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    if reduction != "mean" or weight is None:
        return F.nll_loss(input, target, weight, ignore_index=ignore_index, reduction=reduction)
    per_target = F.nll_loss(input, target, weight, ignore_index=ignore_index, reduction="none")
    return per_target.sum() / max(int((target != ignore_index).sum()), 1)
