"""Bad input: torch refuses it (with its message), and so does the reference, with the
contract's exception type and a message that names the argument. CPU only: CUDA turns
most of these into device-side asserts that poison the process."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lossref

from . import releases
from .convert import as_tensor, to_torch_call
from .parity import implementation_of


@pytest.mark.checks("refusal")
def test_torch_refuses(error_case, impl):
    """torch raises its own exception and message; another implementation (--impl) must
    refuse too, in its own words."""
    record, case = error_case
    fn = implementation_of(impl, record)
    if case.torch_skip:
        pytest.skip(case.torch_skip)
    own_torch = impl.torch_own
    with pytest.raises(case.torch_error if own_torch else Exception, match=case.torch_match if own_torch else None):
        fn(*map(as_tensor, case.args), **{k: as_tensor(v) for k, v in case.kwargs.items()})


@pytest.mark.checks("refusal")
def test_reference_refuses(error_case):
    record, case = error_case
    with pytest.raises(case.reference_error, match=case.reference_match):
        getattr(lossref, record.name)(*case.args, **case.kwargs)


@pytest.mark.checks("refusal")
def test_reference_backward_refuses(error_case):
    record, case = error_case
    grad_output = np.float64(1.0)
    with pytest.raises(case.reference_error, match=case.reference_match):
        getattr(lossref, f"{record.name}_backward")(grad_output, *case.args, **case.kwargs)


def unsupported_calls(record, device, dtype):
    """The calls the test below makes, one per sample the installed torch can make: ``(args,
    kwargs, leaves)``, every floating positional argument a leaf. Also the batched compiled run's
    plan of the test (tests/compiled_batches.py)."""
    for sample in record.samples():
        try:
            args, kwargs = to_torch_call(*sample.build(np.random.default_rng(0)), dtype, device)
        except releases.NeedsNewerTorch:
            continue
        yield args, kwargs, [a.requires_grad_(True) for a in args
                             if isinstance(a, torch.Tensor) and a.is_floating_point()]


@pytest.mark.checks("refusal")
def test_unsupported_dtype_still_refused(unsupported_case, impl):
    """Dtypes torch does not implement a loss for (forward or backward) stay out of the
    parity grid; when torch adds one, this fails, so that the record can be widened."""
    if unsupported_case is None:
        pytest.skip("no loss declares an unsupported dtype")
    record, device, dtype = unsupported_case
    fn = implementation_of(impl, record)
    # every sample: some calls may take another kernel (smooth_l1's beta = 0 is l1's)
    for args, kwargs, leaves in unsupported_calls(record, device, dtype):
        try:
            out = fn(*args, **kwargs)
            if leaves:
                torch.autograd.grad(out.sum(), leaves)
        except (NotImplementedError, RuntimeError) as error:
            if "not implemented for" in str(error):
                return
    pytest.fail(f"{record.name} on {device} in {dtype}: every sample's forward and backward ran; "
                f"widen the record's dtypes")
