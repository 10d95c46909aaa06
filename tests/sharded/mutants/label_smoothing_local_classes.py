"""Label smoothing over the local class count: ``ε Σ_c w_c log p_c / C_rank`` instead of ``/ C``,
so loss and gradient change with the number of ranks.

Fails: test_sharded_forward (wrong value) on any label-smoothed class-index sample.
"""

import torch

from ..collectives import _SumOfParts, _batched, _checked_target, _owned_target, _reduce
from ..collectives import linear_cross_entropy, nll_loss  # noqa: F401 (as the plain implementation)
from ..collectives import cross_entropy as _cross_entropy
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
        smooth = -(log_probs * w_class[shard.start:shard.stop].view(view)).sum(1) / max(shard.size, 1)   # the bug
        part = (1 - label_smoothing) * part + label_smoothing * torch.where(kept, smooth, 0.0)
    return _reduce(_SumOfParts.apply(part, shard.group), reduction, w_target.sum())


def cross_entropy(*args, **kwargs):
    with planted(_nll=_nll):
        return _cross_entropy(*args, **kwargs)
