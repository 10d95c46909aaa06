"""linear_cross_entropy whose linear_weight gradient is summed over row chunks (4 rows: 4096 chunks at 2^14 rows) in a
bfloat16 buffer, chunk by chunk: the bug of Liger-Kernel #512 (fused linear cross-entropy
weight gradients accumulated in bf16), fixed there by accumulating in float32. The value and
the input's gradient are torch's.

Caught by: test_accumulation.py::test_gradient[linear_cross_entropy-rows2^14-V512-F64-mean-bfloat16]
(tests/test_accumulation_mutants.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403

CHUNK = 4


class _Loss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, target, kwargs):
        with torch.enable_grad():
            xd, wd = x.detach().requires_grad_(True), w.detach().requires_grad_(True)
            bd = None if b is None else b.detach().requires_grad_(True)
            logits = F.linear(xd, wd, bd)
            loss = F.cross_entropy(logits, target, **kwargs)
        ctx.save_for_backward(x, w)
        ctx.graph = (loss, logits, xd, bd)
        return loss.detach()

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        loss, logits, xd, bd = ctx.graph
        (g_logits,) = torch.autograd.grad(loss, logits, grad)
        g_x = g_logits @ w
        g_w = torch.zeros(w.shape, dtype=torch.bfloat16, device=w.device)
        for rows in range(0, x.shape[0], CHUNK):              # chunk products added in bfloat16
            g_w = g_w + (g_logits[rows:rows + CHUNK].float().t() @ x[rows:rows + CHUNK].float()).to(torch.bfloat16)
        g_b = None if bd is None else g_logits.sum(0)
        return g_x, g_w.to(w.dtype), g_b, None, None


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    if input.ndim != 2 or linear_weight.ndim != 2 or target.is_floating_point():
        return F.linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias, weight=weight,
                                      reduction=reduction, ignore_index=ignore_index,
                                      label_smoothing=label_smoothing, options=options)
    kwargs = dict(weight=weight, reduction=reduction, label_smoothing=label_smoothing,
                  ignore_index=-100 if ignore_index is None else ignore_index)
    return _Loss.apply(input, linear_weight, linear_bias, target, kwargs)
