"""The log-sum-exp summed over ranks instead of combined: ``Σ_ranks log Σ_local exp`` where
``log Σ_ranks Σ_local exp`` is meant (an extra ``log N``-sized error at balanced logits).

Fails: test_sharded_forward (wrong value) on any cross_entropy sample with two or more ranks.
"""

from ..collectives import _SharedSum, _max_over_ranks
from ..collectives import linear_cross_entropy, nll_loss  # noqa: F401 (as the plain implementation)
from ..collectives import cross_entropy as _cross_entropy
from . import planted

LOSSREF_INTERFACE = "sharded"


def _log_softmax(local, axis, shard):
    shifted = local - _max_over_ranks(local, axis, shard.group)
    local_lse = shifted.exp().sum(axis, keepdim=True).log()
    return shifted - _SharedSum.apply(local_lse, shard.group)   # the bug: the logs are summed


def cross_entropy(*args, **kwargs):
    with planted(log_softmax=_log_softmax):
        return _cross_entropy(*args, **kwargs)
