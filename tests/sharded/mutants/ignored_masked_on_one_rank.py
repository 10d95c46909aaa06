"""Ignored rows masked on one rank only: rank 0 divides the mean by the weights of the kept targets,
the other ranks by those of every target (the ignored ones read as class 0), so the ranks return
different losses.

Fails: test_sharded_forward (wrong value: the ranks disagree) on a 'mean' sample with ignored rows.
"""

import torch

from ..collectives import _SumOfParts, _batched, _checked_target, _owned_target, _reduce
from ..collectives import linear_cross_entropy  # noqa: F401 (as the plain implementation)
from ..collectives import cross_entropy as _cross_entropy
from ..collectives import nll_loss as _nll_loss
from . import planted

LOSSREF_INTERFACE = "sharded"


@_batched
def _nll(log_probs, target, weight, *, shard, ignore_index, reduction, label_smoothing=0.0):
    target = target.long()
    kept = _checked_target(target, shard.classes, ignore_index)
    w_class = torch.ones(shard.classes, dtype=log_probs.dtype) if weight is None else weight.to(log_probs.dtype)
    w_target = torch.where(kept, w_class[torch.where(kept, target, 0)], 0.0)
    part = -w_target * _owned_target(log_probs, target, kept, shard)
    if label_smoothing:
        view = (1, -1) + (1,) * (log_probs.dim() - 2)
        smooth = -(log_probs * w_class[shard.start:shard.stop].view(view)).sum(1) / shard.classes
        part = (1 - label_smoothing) * part + label_smoothing * torch.where(kept, smooth, 0.0)
    every = w_class[torch.where(kept, target, 0)].sum()                  # the bug, on ranks other than 0
    return _reduce(_SumOfParts.apply(part, shard.group), reduction, w_target.sum() if shard.rank == 0 else every)


def cross_entropy(*args, **kwargs):
    with planted(_nll=_nll):
        return _cross_entropy(*args, **kwargs)


def nll_loss(*args, **kwargs):
    with planted(_nll=_nll):
        return _nll_loss(*args, **kwargs)
