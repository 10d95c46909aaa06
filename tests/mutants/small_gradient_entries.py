"""cross_entropy whose gradient entries below 1e-6 in magnitude are wrong by 100 % (doubled),
in float32 and bfloat16: the blind spot of a tolerance with atol = 16 eps (1.9e-6, 0.125).

Caught by: test_gradients.py::test_gradient[cross_entropy-sharp-peaked-V32768-none-cpu-float32]
and [cross_entropy-sharp-random-V32768-weight-mean-cpu-bfloat16]."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403
from ._hooks import on_gradient


def _double_small(grad):
    if grad.dtype not in (torch.float32, torch.bfloat16):
        return grad
    return torch.where(grad.abs() < 1e-6, 2 * grad, grad)


def cross_entropy(input, target, *args, **kwargs):
    return F.cross_entropy(on_gradient(input, _double_small), target, *args, **kwargs)
