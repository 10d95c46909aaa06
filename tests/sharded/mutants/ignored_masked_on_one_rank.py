"""Ignored rows masked on one rank only: rank 0 leaves out the targets equal to ``ignore_index``,
the other ranks count those that are classes (an ``ignore_index`` inside the vocabulary), in their
loss and in the mean's denominator, so the ranks return different losses.

Fails: test_sharded_forward (wrong value: the ranks disagree) on a sample whose ignore_index is a
class (sharp-peaked-ignore3-weight-mean).
"""

from ..collectives import _kept as _plain_kept
from ..collectives import cross_entropy as _cross_entropy
from ..collectives import linear_cross_entropy  # noqa: F401 (as the plain implementation)
from ..collectives import nll_loss as _nll_loss
from . import planted

LOSSREF_INTERFACE = "sharded"


def _kept(target, ignore_index, shard):
    if shard.rank == 0:
        return _plain_kept(target, ignore_index, shard)
    return (target >= 0) & (target < shard.classes)      # the bug: the mask forgotten off rank 0


def cross_entropy(*args, **kwargs):
    with planted(_kept=_kept):
        return _cross_entropy(*args, **kwargs)


def nll_loss(*args, **kwargs):
    with planted(_kept=_kept):
        return _nll_loss(*args, **kwargs)
