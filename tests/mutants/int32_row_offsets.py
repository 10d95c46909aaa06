"""cross_entropy that locates each target logit at flat offset row * C + target computed in
int32: right until N * C reaches 2^31, where the offset wraps and the wrong logit is read
(the overflow no fused-loss project's tests reach).

Caught by: test_scale.py::test_cross_entropy_at_scale (-m scale); below 2^31 elements it
equals torch, which tests/test_mutants.py checks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def _logsumexp_by_blocks(x: torch.Tensor, rows: int = 256) -> torch.Tensor:
    """Row-wise logsumexp, in float32 for the half types, a block of rows at a time: the
    planted bug is the offset, not the memory (the scale tier's logits are 4 GB)."""
    wide = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    return torch.cat([torch.logsumexp(x[i:i + rows].to(wide), 1) for i in range(0, len(x), rows)]).to(x.dtype)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    if input.ndim != 2 or weight is not None or label_smoothing or target.is_floating_point():
        return F.cross_entropy(input, target, weight, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)
    rows, classes = input.shape
    kept = target != ignore_index
    offset = torch.arange(rows, dtype=torch.int32) * classes + torch.where(kept, target, 0).to(torch.int32)
    picked = input.reshape(-1)[offset.to(torch.int64) % input.numel()]   # int32 offsets, wrapped
    loss = torch.where(kept, _logsumexp_by_blocks(input) - picked, 0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / kept.sum()
