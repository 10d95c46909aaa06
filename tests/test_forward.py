"""Forward parity: the implementation under test equals the reference on random inputs,
for every loss, option row, shape kind, reduction, device and dtype in the registry."""

from __future__ import annotations

from .convert import to_torch_call
from .parity import apply_quirk, check_forward, implementation_of


def test_forward(device_case, rng, impl, request):
    record, sample, device, dtype = device_case
    apply_quirk(request, record, sample, device, "forward")
    fn = implementation_of(impl, record)
    torch_args, torch_kwargs = to_torch_call(*sample.build(rng), dtype, device)
    check_forward(record, f"{record.name} {sample.id}", fn, torch_args, torch_kwargs, dtype)
