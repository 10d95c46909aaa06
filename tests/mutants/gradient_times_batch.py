"""cross_entropy whose forward is right and whose backward is N times too large (a
kernel that forgot to divide the gradient of the mean by the batch size)."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403
from ._hooks import on_gradient


def cross_entropy(input, target, *args, **kwargs):
    factor = input.shape[0] if input.ndim > 1 else 2
    return F.cross_entropy(on_gradient(input, lambda grad: grad * factor), target, *args, **kwargs)
