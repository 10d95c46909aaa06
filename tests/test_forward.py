"""Forward parity: the implementation under test equals the reference on random inputs,
for every loss, option row, shape kind, reduction, device and dtype in the registry."""

from __future__ import annotations

import pytest

import reference

from . import quirks
from .compare import assert_matches
from .convert import result_to_numpy, to_numpy_call, to_torch_call
from .tolerances import tolerance


def apply_quirk(request, record, sample, device, test):
    quirk = quirks.find(record.name, sample.id, device, test)
    if quirk is not None:
        request.applymarker(pytest.mark.xfail(strict=quirk.deterministic,
                                              reason=f"known torch quirk {quirk.name}: {quirk.reason} ({quirk.thread})"))


def implementation_of(impl, record):
    if not record.available():
        pytest.skip(f"the installed torch has no {record.name}")
    fn = impl.function(record.name)
    if fn is None:
        pytest.skip(f"{impl} does not define {record.name}")
    return fn


def test_forward(device_case, rng, impl, request):
    record, sample, device, dtype = device_case
    apply_quirk(request, record, sample, device, "forward")
    fn = implementation_of(impl, record)
    args, kwargs = sample.build(rng)
    torch_args, torch_kwargs = to_torch_call(args, kwargs, dtype, device)
    ref_args, ref_kwargs = to_numpy_call(torch_args, torch_kwargs)

    got = result_to_numpy(fn(*torch_args, **torch_kwargs))
    expected = getattr(reference, record.name)(*ref_args, **ref_kwargs)

    assert expected.dtype == "float64"
    assert_matches(got, expected, tolerance(dtype, record.conditioning), what=f"{record.name} {sample.id}")
