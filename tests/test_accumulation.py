"""The accumulation tier (``-m accumulation``; left out of the default run): half-precision
reductions at the sizes where accumulating in the half type drifts, forward and gradient, held
to the rounding model of how torch computes them (``lossref.tolerance``, "Half-precision
reductions"; the cases and each loss's derivation: tests/registry/accumulation.py).

Every test calls the implementation under test (``--impl``), so ``lossref --impl MODULE -m
accumulation`` gates it. Runs on CUDA when present, else on the CPU; a case whose loss has no
half-precision kernel on the device is skipped with that reason. The measured worst errors, in
units of the bound: docs/accumulation.md (``python -m tests.accumulation_report --write``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lossref

from . import quirks
from .accumulation import check_gradient, check_value, inputs
from .convert import result_to_numpy
from .parity import expect_quirk, implementation_of
from .registry import by_name
from .registry.accumulation import cases, overflow_cases
from .tolerances import dtype_name

pytestmark = pytest.mark.accumulation

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _params(selected, gradient=False):
    return [pytest.param(case, dtype, id=f"{case.name}-{dtype_name(dtype)}")
            for case in selected if not gradient or case.gradient for dtype in case.dtypes]


def _prepare(request, case, dtype, impl, rng, test):
    record = by_name[case.loss]
    if DEVICE not in case.devices:
        pytest.skip(f"{case.loss} has no half-precision kernel on {DEVICE} (its cases run on {', '.join(case.devices)})")
    fn = implementation_of(impl, record)
    prepared = inputs(case, rng, dtype, DEVICE)
    quirk = quirks.find(case.loss, case.name, DEVICE, test, dtype=dtype_name(dtype),
                        inputs=(prepared[2], prepared[3]), tags=case.tags)
    if quirk is not None:
        expect_quirk(request, quirk)
    return fn, prepared


@pytest.mark.parametrize("case, dtype", _params(cases()))
def test_value(request, case, dtype, impl, rng):
    """The loss over 2^14 to 2^22 terms within the case's bound: torch's float32 accumulation
    with one final rounding passes, a sum kept in the half type drifts out of it."""
    fn, prepared = _prepare(request, case, dtype, impl, rng, "forward")
    check_value(case, fn, prepared, dtype)


@pytest.mark.parametrize("case, dtype", _params(cases(), gradient=True))
@pytest.mark.checks("gradient")
def test_gradient(request, case, dtype, impl, rng):
    """Every floating argument's gradient at the same sizes: entries of 1/n (2e-7 at 2^22) are
    held relative to their terms, and the gradients that sum over rows (linear_cross_entropy's
    weight and bias) to the record's per-entry model."""
    fn, prepared = _prepare(request, case, dtype, impl, rng, "gradient")
    check_gradient(case, fn, prepared, dtype, rng)


@pytest.mark.parametrize("case, dtype", _params(overflow_cases()))
def test_float16_sum_overflows(request, case, dtype, impl, rng):
    """A float16 'sum' past 65504 (float16's largest) is inf: the reference's value is finite and
    beyond it, and an implementation whose result is float16 can only return inf there (a finite
    number would be a sum it did not compute in float16, or a wrong one)."""
    fn, prepared = _prepare(request, case, dtype, impl, rng, "forward")
    torch_args, torch_kwargs, ref_args, ref_kwargs = prepared
    expected = float(getattr(lossref, case.loss)(*ref_args, **ref_kwargs))
    assert np.isfinite(expected) and expected > float(torch.finfo(torch.float16).max), (
        f"{case.name}: the sample must sum past 65504 (reference {expected})")
    got = float(result_to_numpy(fn(*torch_args, **torch_kwargs)))
    assert got == np.inf, f"{case.name} float16: got {got!r} where the sum is {expected:.6g} > 65504 (expected inf)"
