"""cross_entropy that reads its input's memory as if it were contiguous (TransformerEngine
#2734: a transposed input read with the wrong strides). Right on contiguous inputs.

Caught by: test_layouts.py::test_layout[cpu-cross_entropy-NC-mean-weight-ignore1-label_smoothing1.0-index-transposed]
(every transposed and strided cross_entropy layout)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def _as_contiguous_memory(t: torch.Tensor) -> torch.Tensor:
    if t.is_contiguous():
        return t
    strides, step = [], 1
    for size in reversed(t.shape):
        strides.insert(0, step)
        step *= size
    return t.as_strided(t.shape, strides, t.storage_offset())


def cross_entropy(input, target, *args, **kwargs):
    return F.cross_entropy(_as_contiguous_memory(input), target, *args, **kwargs)
