"""Inputs that are not plain contiguous arrays, given to torch and compared with the
reference on the same values, forward and gradient: real kernels have shipped reading
such inputs with the wrong strides. float64, so any difference is a real one."""

from __future__ import annotations

import pytest
import torch

from .convert import to_torch_call
from .parity import apply_quirk, check_forward, check_gradient, implementation_of


def transposed(t: torch.Tensor) -> torch.Tensor:
    """Same values, last two axes column-major."""
    return t.transpose(-1, -2).contiguous().transpose(-1, -2) if t.ndim >= 2 else t


def strided(t: torch.Tensor) -> torch.Tensor:
    """Same values, every other element of a buffer twice as long (a step-2 slice)."""
    if t.ndim == 0:
        return t
    buffer = torch.zeros(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype, device=t.device)
    buffer[..., ::2] = t
    return buffer[..., ::2]


def class_axis_last(t: torch.Tensor) -> torch.Tensor:
    """Same values, axis 1 (the class axis of K-dim inputs) innermost in memory
    (channels-last for 4-D)."""
    if t.ndim < 3:
        return t
    order = [0] + list(range(2, t.ndim)) + [1]
    return t.permute(order).contiguous().permute([order.index(i) for i in range(t.ndim)])


def expanded(t: torch.Tensor) -> torch.Tensor:
    """A broadcast view (stride 0 along axis 0) of the first row: the values change,
    identically for torch and the reference. Float arrays only: index arrays must stay
    valid (CTC lengths, ...)."""
    if t.ndim == 0 or t.shape[0] < 2 or not t.is_floating_point():
        return t
    return t[:1].expand_as(t)


LAYOUTS = {"transposed": transposed, "strided": strided, "class-axis-last": class_axis_last, "expanded": expanded}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout(record_sample, layout, device, impl, rng, request):
    record, sample = record_sample
    if sample.id.startswith("edge-"):
        pytest.skip("edge samples keep their exact layout")
    fn = implementation_of(impl, record)
    args, kwargs = to_torch_call(*sample.build(rng), torch.float64, device)
    change = LAYOUTS[layout]
    laid_out = tuple(change(a) if isinstance(a, torch.Tensor) else a for a in args)
    laid_kwargs = {k: change(v) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    if all(t.is_contiguous() for t in (*laid_out, *laid_kwargs.values()) if isinstance(t, torch.Tensor)):
        pytest.skip(f"the {layout} layout leaves every argument of this sample contiguous")
    what = f"{record.name} {sample.id} ({layout})"
    check_forward(record, what, fn, laid_out, laid_kwargs, torch.float64)
    if sample.grad:
        apply_quirk(request, record, sample, device, "gradient", layout)
        check_gradient(record, what, fn, laid_out, laid_kwargs, torch.float64, rng)
