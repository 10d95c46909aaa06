"""cross_entropy whose 'mean' over a batch with every target ignored returns 0 instead of
torch's 0/0 = nan (a guard against division by zero that changes the answer).

Caught by: test_forward.py::test_forward[cross_entropy-sharp-every-row-ignored-ignore4-mean-cpu-float64] (nan expected)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def cross_entropy(input, target, *args, **kwargs):
    out = F.cross_entropy(input, target, *args, **kwargs)
    return torch.nan_to_num(out, nan=0.0) if kwargs.get("reduction", "mean") == "mean" else out
