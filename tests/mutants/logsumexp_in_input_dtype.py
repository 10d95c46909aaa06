"""cross_entropy (class indices) whose log-sum-exp adds its exponentials in the input's dtype:
chunk sums of 256 classes, each rounded to the dtype, added in a running total of the dtype.
Right for a few classes; over a 2^16 vocabulary in bfloat16 the total stalls at ~256 times a
chunk's sum, and every row's loss is off (its gradient drifts by a few eps, inside the per-entry model).

Caught by: test_accumulation.py::test_value[cross_entropy-V65536-rows64-none-bfloat16]
(tests/test_accumulation_mutants.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403
from ._hooks import index_target_plain

CHUNK = 256


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    if input.ndim != 2 or not index_target_plain(target, input, {"label_smoothing": label_smoothing}):
        return F.cross_entropy(input, target, weight, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)
    shift = input.detach().amax(dim=1, keepdim=True)
    exps = (input - shift).exp()                                   # in the input dtype
    total = torch.zeros_like(exps[:, :1])
    for chunk in exps.split(CHUNK, dim=1):
        total = total + chunk.sum(dim=1, keepdim=True).to(input.dtype)   # the running sum stays in the dtype
    lsm = input - shift - total.log()
    return F.nll_loss(lsm, target, weight, ignore_index=ignore_index, reduction=reduction)
