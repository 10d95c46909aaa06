"""cross_entropy that shifts its logits by their row maximum in place, for stability: the
loss and gradient are right (softmax is shift-invariant), but the caller's tensor changed.

Caught by: test_forward.py::test_forward[cross_entropy-NC-mean-weight-ignore1-label_smoothing1.0-index-cpu-float64]
(every sample: tests/parity.py compares the arguments after the call, InputModified)."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def cross_entropy(input, target, *args, **kwargs):
    if input.numel() and input.is_floating_point():
        dim = 0 if input.ndim == 1 else 1
        shifted = input.detach()
        shifted.sub_(shifted.amax(dim, keepdim=True).nan_to_num(0.0, 0.0, 0.0))
    return F.cross_entropy(input, target, *args, **kwargs)
