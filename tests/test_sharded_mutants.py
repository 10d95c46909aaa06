"""The sharded gate closes: each sharded mutant (tests/sharded/mutants) fails its named check on the
one sample that must expose it, and the plain-collectives implementation passes the same case.

Part of the sharded tier (``-m sharded``): the ranks are the run's (``--world-size``, 2 by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from .compare import Mismatch
from .registry import by_name
from .sharded import gate
from .sharded.interface import splits

pytestmark = pytest.mark.sharded

PACKAGE = f"{__package__}.sharded"


@dataclass(frozen=True)
class Planted:
    mutant: str          # module under tests/sharded/mutants
    loss: str
    sample: str          # the registry sample that exposes it
    test: str            # "forward" or "gradient": the check that must fail
    ranks_needed: int = 2

    @property
    def id(self) -> str:
        return self.mutant


PLANTED = (
    Planted("label_smoothing_local_classes", "cross_entropy", "NC-mean-weight-label_smoothing1.0-index", "forward"),
    Planted("lse_summed_over_ranks", "cross_entropy", "NC-sum-ignore-100-label_smoothing0.0-index", "forward"),
    Planted("no_max_shift", "cross_entropy", "edge-logits-1e4", "forward", ranks_needed=1),
    Planted("ignored_masked_on_one_rank", "cross_entropy", "sharp-peaked-ignore3-weight-mean", "forward"),
    Planted("target_gradient_on_every_rank", "cross_entropy", "NCd-mean-label_smoothing0.0-index", "gradient"),
)


def _case(planted, rng, sharded_world_size):
    record = by_name[planted.loss]
    sample = next(s for s in record.samples() if s.id == planted.sample)
    split = splits(gate.sample_classes(planted.loss, planted.sample), sharded_world_size)[0]
    return record, sample, gate.draw(sample, torch.float64, rng), split


@pytest.mark.parametrize("planted", PLANTED, ids=lambda p: p.id)
def test_sharded_mutant_fails_its_check(planted, sharded_groups, rng):
    if sharded_groups.world_size < planted.ranks_needed:
        pytest.skip(f"{planted.mutant} shows with {planted.ranks_needed} ranks or more "
                    f"(--world-size {sharded_groups.world_size})")
    record, sample, call, split = _case(planted, rng, sharded_groups.world_size)
    ranks = sharded_groups.on("cpu")
    seed = rng.integers(2 ** 32)
    # The plain implementation passes the case...
    gate.check(record, sample, call, "cpu", torch.float64, split, f"{PACKAGE}.collectives", ranks,
               np.random.default_rng(seed), planted.test)
    # ... and the mutant fails it, with the same grad_output.
    with pytest.raises(Mismatch) as failure:
        gate.check(record, sample, call, "cpu", torch.float64, split, f"{PACKAGE}.mutants.{planted.mutant}", ranks,
                   np.random.default_rng(seed), planted.test)
    assert failure.value.check == ("gradient" if planted.test == "gradient" else "value"), str(failure.value)
