"""cross_entropy that reads a stride-0 (broadcast) class weight as if it were contiguous:
it takes C values from memory that holds one.

Caught by: test_sharp.py::test_every_argument_laid_out[cross_entropy-weight-expanded-cpu]."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def cross_entropy(input, target, weight=None, *args, **kwargs):
    if weight is not None and weight.ndim == 1 and weight.numel() > 1 and weight.stride(0) == 0:
        storage = torch.empty(0, dtype=weight.dtype).set_(weight.untyped_storage())
        weight = torch.cat([storage, storage.new_zeros(weight.numel())])[:weight.numel()]
    return F.cross_entropy(input, target, weight, *args, **kwargs)
