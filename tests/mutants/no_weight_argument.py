"""cross_entropy without a ``weight`` parameter (torch._refs' l1/mse/huber lack theirs): a
call passing weight= is refused with TypeError "unexpected keyword argument".

Caught by: test_forward.py::test_forward[cross_entropy-NC-mean-weight-ignore1-label_smoothing1.0-index-cpu-float64]
(every weighted sample; the report classifies it "argument not accepted")."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def cross_entropy(input, target, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    return F.cross_entropy(input, target, ignore_index=ignore_index, reduction=reduction,
                           label_smoothing=label_smoothing)
