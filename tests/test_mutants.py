"""The gate closes: the parity checks, run on a deliberately wrong implementation
(``tests/mutants``, loadable with ``--impl``), fail, and on torch's own they pass."""

from __future__ import annotations

import pytest
import torch

from . import impl as implementations
from .convert import to_torch_call
from .parity import check_forward, check_gradient
from .registry import by_name

MUTANTS = [
    # (module, loss, sample ids, check): each sample must expose the planted bug.
    pytest.param(f"{__package__}.mutants.gradient_times_batch", "cross_entropy", check_gradient,
                 id="gradient-times-batch"),
    pytest.param(f"{__package__}.mutants.weighted_mean_over_n", "nll_loss", check_forward,
                 id="weighted-mean-over-n"),
]


def _samples(record, check):
    # The samples where the bug can show: batched (N > 1) and, for the weighted mean, weighted 'mean'.
    for sample in record.samples():
        if sample.id.startswith(("NC-", "NCd-", "NCHW-")) and (check is check_gradient or "mean-weight" in sample.id):
            yield sample


@pytest.mark.parametrize("mutant, loss, check", MUTANTS)
def test_checks_fail_on_a_wrong_implementation(mutant, loss, check, rng):
    record = by_name[loss]
    wrong = implementations.load(mutant).function(loss)
    right = implementations.load().function(loss)
    caught = []
    for sample in _samples(record, check):
        args, kwargs = to_torch_call(*sample.build(rng), torch.float64, "cpu")
        extra = (rng,) if check is check_gradient else ()
        check(record, sample.id, right, args, kwargs, torch.float64, *extra)
        try:
            check(record, sample.id, wrong, args, kwargs, torch.float64, *extra)
        except AssertionError:
            caught.append(sample.id)
    # Not every draw can show the bug (a batch whose targets are all ignored has a zero
    # gradient, scaled or not); the suite fails if any does.
    assert caught, f"{mutant} passed every {loss} sample"

