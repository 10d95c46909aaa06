"""cross_entropy with reduction='none' whose backward scales every row's gradient by the
first upstream value instead of its own (Liger-Kernel #968).

Caught by: test_gradients.py::test_gradient[cross_entropy-sharp-peaked-V32768-none-cpu-float32]
(and every 'none' sample: the suite's grad_output differs per row)."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403
from ._hooks import on_gradient


def cross_entropy(input, target, *args, **kwargs):
    out = F.cross_entropy(input, target, *args, **kwargs)
    if kwargs.get("reduction", "mean") != "none" or out.numel() < 2:
        return out
    return on_gradient(out, lambda grad: grad.reshape(-1)[:1].expand(grad.shape).reshape(grad.shape))
