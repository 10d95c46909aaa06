"""Label smoothing over the local class count: ``ε Σ_c w_c log p_c / C_rank`` instead of ``/ C``,
so loss and gradient change with the number of ranks.

Fails: test_sharded_forward (wrong value) on any label-smoothed class-index sample.
"""

from ..collectives import cross_entropy as _cross_entropy
from ..collectives import linear_cross_entropy, nll_loss  # noqa: F401 (as the plain implementation)
from . import planted

LOSSREF_INTERFACE = "sharded"


def _smoothing_part(log_probs, w_class, shard):
    view = (1, -1) + (1,) * (log_probs.dim() - 2)
    return -(log_probs * w_class[shard.start:shard.stop].view(view)).sum(1) / max(shard.size, 1)   # the bug


def cross_entropy(*args, **kwargs):
    with planted(_smoothing_part=_smoothing_part):
        return _cross_entropy(*args, **kwargs)
