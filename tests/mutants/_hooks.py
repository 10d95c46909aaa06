"""Shared pieces for mutants whose forward is right and whose backward is not."""

from __future__ import annotations

import torch


class _Backward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, change):
        ctx.change = change
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return ctx.change(grad), None


def on_gradient(x: torch.Tensor, change) -> torch.Tensor:
    """``x`` unchanged forward; its gradient passed through ``change`` on the way back."""
    return _Backward.apply(x, change)


def index_target_plain(target, input, kwargs) -> bool:
    """Class-index targets without label smoothing: the case a mutant's planted path handles."""
    return not target.is_floating_point() and not kwargs.get("label_smoothing", 0.0)
