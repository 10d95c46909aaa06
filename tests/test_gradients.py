"""Gradient parity: each ``reference.<name>_backward`` equals ``torch.autograd.grad`` of
the implementation under test, for a random ``grad_output`` (never only ones), on every
registry sample, device and dtype; ``None`` exactly where torch gives no gradient."""

from __future__ import annotations

import pytest

from .convert import to_torch_call
from .parity import apply_quirk, check_gradient, implementation_of


@pytest.mark.checks("gradient")
def test_gradient(gradient_case, rng, impl, request):
    record, sample, device, dtype = gradient_case
    fn = implementation_of(impl, record)
    torch_args, torch_kwargs = to_torch_call(*sample.build(rng), dtype, device)
    apply_quirk(request, record, sample, device, "gradient", inputs=(torch_args, torch_kwargs))
    check_gradient(record, f"{record.name} {sample.id}", fn, torch_args, torch_kwargs, dtype, rng)
