"""mse_loss and l1_loss whose 'mean' and 'sum' add float32 chunk sums (256 terms each) in a
bfloat16 running total: the pattern of a kernel whose partial sums are cast back to the half
type between blocks (executorch's portable kernels, optax #1020). Right on every small input;
at 2^16 terms (256 chunks) l1_loss drifts by 7 to 8 units in the last place, inside the 16-eps O(1)
bound and outside the half-precision reduction bound; at 2^22 (16384 chunks) the total stops
growing once it is ~256 times a chunk's sum.

Caught by: test_accumulation.py::test_value[l1_loss-positive-2^16-mean-bfloat16] (and the
2^22 cases), tests/test_accumulation_mutants.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403

CHUNK = 256


def _reduced(terms, reduction):
    if reduction == "none":
        return terms
    flat = terms.reshape(-1)
    total = torch.zeros((), dtype=torch.bfloat16, device=terms.device)
    for chunk in flat.split(CHUNK):
        total = total + chunk.float().sum().to(torch.bfloat16)   # the running total rounds to bfloat16
    result = total.float() / flat.numel() if reduction == "mean" else total.float()
    return result.to(terms.dtype)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return _reduced(F.mse_loss(input, target, reduction="none"), reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return _reduced(F.l1_loss(input, target, reduction="none"), reduction)
