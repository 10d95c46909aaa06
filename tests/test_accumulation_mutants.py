"""The accumulation tier closes: mutants that accumulate in the half type (tests/mutants:
mean_chunks_in_bfloat16, logsumexp_in_input_dtype, linear_weight_gradient_bfloat16_chunks)
fail the tier's named test while torch passes it.

The mid-size one runs in the default suite (2^16 terms, ~0.1 s): its drift is a few units in
the last place, which the 16-eps O(1) rule lets through and the half-precision reduction bound
(``lossref.tolerance.accumulation_tolerance``) does not. The large ones run with ``-m
accumulation``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from . import impl as implementations
from .accumulation import check_gradient, check_value, inputs
from .compare import Mismatch, assert_matches
from .registry.accumulation import cases
from .tolerances import eps, tolerance

MUTANTS_PACKAGE = f"{__package__}.mutants"
CASES = {case.name: case for case in cases()}


def _functions(mutant, loss):
    return implementations.load().function(loss), implementations.load(f"{MUTANTS_PACKAGE}.{mutant}").function(loss)


def test_mid_size_drift_passes_the_old_bound_and_fails_the_new():
    """l1_loss over 2^16 bfloat16 terms, 'mean': the mutant adds 256 chunk sums in bfloat16.
    Its drift (a few eps of the result) is inside today's 16 eps (|E| + 1) and outside the
    reduction bound (half an ulp of the result plus the terms' counted roundings); torch is inside."""
    case, dtype = CASES["l1_loss-positive-2^16-mean"], torch.bfloat16
    right, wrong = _functions("mean_chunks_in_bfloat16", "l1_loss")
    prepared = inputs(case, np.random.default_rng(18), dtype, "cpu")
    ratio, _, _, _ = check_value(case, right, prepared, dtype)              # torch: within the new bound
    assert ratio <= 1.0
    ratio, drift, got, expected = check_value(case, wrong, prepared, dtype, assert_=False)
    assert_matches(got, expected, tolerance(dtype), "the O(1) rule", dtype=dtype)   # passes the old bound
    assert 2.0 < drift < 16.0, f"the mutant's drift is {drift:.2f} eps: not a few units in the last place"
    with pytest.raises(Mismatch):
        check_value(case, wrong, prepared, dtype)


LARGE = [
    # (mutant, the tier's case, dtype, check)
    ("mean_chunks_in_bfloat16", "mse_loss-positive-2^22-mean", torch.bfloat16, "value"),
    ("mean_chunks_in_bfloat16", "l1_loss-positive-2^22-sum", torch.bfloat16, "value"),
    ("logsumexp_in_input_dtype", "cross_entropy-V65536-rows64-none", torch.bfloat16, "value"),
    ("linear_weight_gradient_bfloat16_chunks", "linear_cross_entropy-rows2^14-V512-F64-mean", torch.bfloat16,
     "gradient"),
]


@pytest.mark.accumulation
@pytest.mark.parametrize("mutant, name, dtype, check", [pytest.param(*m, id=f"{m[0]}-{m[1]}-{m[3]}") for m in LARGE])
def test_large_mutants_fail_the_tier(mutant, name, dtype, check):
    """Each mutant fails the tier's test of that case (test_accumulation.py::test_<check>[<case>-<dtype>])
    and torch passes it, on the same draw."""
    case = CASES[name]
    right, wrong = _functions(mutant, case.loss)
    prepared = inputs(case, np.random.default_rng(18), dtype, "cpu")
    if check == "value":
        check_value(case, right, prepared, dtype)
        with pytest.raises(Mismatch):
            check_value(case, wrong, prepared, dtype)
    else:
        check_gradient(case, right, prepared, dtype, np.random.default_rng(1))
        with pytest.raises(Mismatch):
            check_gradient(case, wrong, prepared, dtype, np.random.default_rng(1))


def test_eps_is_the_rule_s():
    """The drift above is measured in the rule's eps (bfloat16: 2^-7)."""
    assert eps(torch.bfloat16) == 2.0 ** -7
