"""cross_entropy whose backward keeps the softmax in a bfloat16 buffer before subtracting
the one-hot target (Liger-Kernel PR #1329, whose kernel stored it in the bfloat16 input
dtype): at a softmax peaked at 0.999, s_y rounds to 1 and the target's gradient entry
(s_y - 1) w/n is lost, a 100 % error; the loss itself is right.

The buffer is bfloat16 for every dtype, so that the suite shows it on the CPU: there
torch's own bfloat16 and float16 log_softmax lose the same entry (tests/quirks.py,
log-softmax-bfloat16-peaked-cpu), so only float32 and float64 can tell.

Caught by: test_gradients.py::test_gradient[cross_entropy-sharp-peaked-V32768-none-cpu-float32]."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._base import *  # noqa: F401,F403
from ._hooks import index_target_plain


class _LogSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        out = torch.log_softmax(x, dim)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        softmax = out.exp().to(torch.bfloat16).to(out.dtype)          # 0.999 -> 1.0
        return grad - softmax * grad.sum(ctx.dim, keepdim=True), None


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    if not index_target_plain(target, input, {"label_smoothing": label_smoothing}):
        return F.cross_entropy(input, target, weight, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)
    dim = 0 if input.ndim == 1 else 1
    return F.nll_loss(_LogSoftmax.apply(input, dim), target, weight, ignore_index=ignore_index, reduction=reduction)
