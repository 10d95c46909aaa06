"""cross_entropy whose forward is right and whose backward is N times too large (a
kernel that forgot to divide the gradient of the mean by the batch size)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


class _ScaleGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


def cross_entropy(input, target, *args, **kwargs):
    factor = input.shape[0] if input.ndim > 1 else 2
    return F.cross_entropy(_ScaleGradient.apply(input, factor), target, *args, **kwargs)
