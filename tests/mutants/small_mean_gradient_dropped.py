"""l1_loss, mse_loss, multilabel_soft_margin_loss, cosine_embedding_loss and triplet_margin_loss whose
first input's gradient returns 0 for entries below 2e-3 in magnitude, in
bfloat16 and float16: 100 % wrong at a 'mean' gradient entry g/N ~ 1e-3, which the O(1) tolerance (atol =
16 eps = 0.125 in bfloat16) cannot see and the per-entry magnitude model (relative to |g| w / N:
lossref.magnitudes.gradient_magnitude) does.

Caught by: tests/test_magnitudes.py (test_gradient's check on a 1024-element 'mean' sample)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403
from ._hooks import on_gradient


def _drop_small(grad):
    if grad.dtype not in (torch.bfloat16, torch.float16):
        return grad
    return torch.where(grad.abs() < 2e-3, torch.zeros_like(grad), grad)


def l1_loss(input, target, *args, **kwargs):
    return F.l1_loss(on_gradient(input, _drop_small), target, *args, **kwargs)


def mse_loss(input, target, *args, **kwargs):
    return F.mse_loss(on_gradient(input, _drop_small), target, *args, **kwargs)


def multilabel_soft_margin_loss(input, target, *args, **kwargs):
    return F.multilabel_soft_margin_loss(on_gradient(input, _drop_small), target, *args, **kwargs)


def cosine_embedding_loss(input1, input2, target, *args, **kwargs):
    return F.cosine_embedding_loss(on_gradient(input1, _drop_small), input2, target, *args, **kwargs)


def triplet_margin_loss(anchor, positive, negative, *args, **kwargs):
    return F.triplet_margin_loss(on_gradient(anchor, _drop_small), positive, negative, *args, **kwargs)
