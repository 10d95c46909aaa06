"""nll_loss that reads a non-contiguous target's memory as if it were contiguous (a kernel
taking target.data_ptr() without its stride).

Caught by: test_sharp.py::test_every_argument_laid_out[nll_loss-target-strided-cpu]."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403
from .transposed_as_contiguous import _as_contiguous_memory


def nll_loss(input, target, *args, **kwargs):
    return F.nll_loss(input, _as_contiguous_memory(target), *args, **kwargs)
