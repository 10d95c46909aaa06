"""Not a wrong number: a process that misbehaves. Rank 1 never answers (it sleeps in the call);
with ``LOSSREF_STALL=raise``, rank 0 raises instead, after which rank 1 waits in a collective
that rank 0 never joins. tests/test_sharded_ranks.py proves the gate fails such a case in
bounded time, names the rank and the case, and starts a new group for the next one."""

import os
import time

from ..collectives import cross_entropy as _cross_entropy

LOSSREF_INTERFACE = "sharded"


def cross_entropy(*args, shard, **kwargs):
    if os.environ.get("LOSSREF_STALL") == "raise":
        if shard.rank == 0:
            raise RuntimeError("rank 0 refuses this case")
    elif shard.rank == 1:
        time.sleep(3600)
    return _cross_entropy(*args, shard=shard, **kwargs)
