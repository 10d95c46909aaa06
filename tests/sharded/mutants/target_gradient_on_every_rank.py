"""The target's gradient entry written on every rank, not only its owner's: each rank reads its
local column ``target - start`` (clamped into its shard), keeps the owner's value in the forward
(so the loss is right) but lets the gradient through on every rank, which subtracts ``w_y / n``
from a class it does not own.

Fails: test_sharded_gradient (wrong gradient) on any class-index sample with a target term.
"""

import torch

from ..collectives import cross_entropy as _cross_entropy
from ..collectives import linear_cross_entropy as _linear_cross_entropy
from ..collectives import nll_loss as _nll_loss
from . import planted

LOSSREF_INTERFACE = "sharded"


def _owned_target(log_probs, target, kept, shard):
    owned = kept & (target >= shard.start) & (target < shard.stop)
    if not shard.size:
        return log_probs.sum(1)
    index = (target - shard.start).clamp(0, shard.size - 1).unsqueeze(1)
    read = log_probs.gather(1, index).squeeze(1)
    return read - torch.where(owned, 0.0, read.detach())   # the bug: 0 in value off the owner, not in gradient


def cross_entropy(*args, **kwargs):
    with planted(_owned_target=_owned_target):
        return _cross_entropy(*args, **kwargs)


def nll_loss(*args, **kwargs):
    with planted(_owned_target=_owned_target):
        return _nll_loss(*args, **kwargs)


def linear_cross_entropy(*args, **kwargs):
    with planted(_owned_target=_owned_target):
        return _linear_cross_entropy(*args, **kwargs)
