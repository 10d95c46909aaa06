"""The ranks are handled like a real tool's: a rank that hangs or raises fails its case in bounded
time, with the rank and the case named, and the next case runs on a new group (sharded tier)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from .registry import by_name
from .sharded import gate
from .sharded.interface import splits
from .sharded.ranks import GRACE, RankFailure, Ranks

pytestmark = pytest.mark.sharded

PACKAGE = f"{__package__}.sharded"
SAMPLE = "NC-sum-ignore-100-label_smoothing0.0-index"


def _check(ranks, module, rng):
    record = by_name["cross_entropy"]
    sample = next(s for s in record.samples() if s.id == SAMPLE)
    split = splits(5, ranks.world_size)[0]
    gate.check(record, sample, gate.draw(sample, torch.float64, rng), "cpu", torch.float64, split, module, ranks,
               rng, "forward")


@pytest.mark.parametrize("stall, kind", [("sleep", "hang"), ("raise", "raised")])
def test_a_stalled_rank_fails_its_case_and_the_next_case_runs(stall, kind, rng, monkeypatch):
    monkeypatch.setenv("LOSSREF_STALL", stall)      # the ranks are spawned after this: they inherit it
    ranks = Ranks(2, case_timeout=5.0)
    try:
        started = time.monotonic()
        with pytest.raises(RankFailure) as failure:
            _check(ranks, f"{PACKAGE}.mutants.rank_one_stalls", rng)
        assert time.monotonic() - started < 5.0 + GRACE + 120, "the failure took longer than its timeout"
        assert failure.value.kind == kind
        assert f"rank {failure.value.rank}" in str(failure.value) and SAMPLE in str(failure.value)
        assert not ranks.alive                       # ended by their own ids ...
        _check(ranks, f"{PACKAGE}.collectives", rng)  # ... and a new group serves the next case
        assert ranks.starts == 2
    finally:
        ranks.stop()
    assert not any(p.is_alive() for p in ranks._processes)
