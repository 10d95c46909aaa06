"""cross_entropy that raises on an option it does not implement (label_smoothing > 0), where
torch computes it: a crash, not a refusal of bad input.

Caught by: test_forward.py::test_forward[cross_entropy-NC-mean-weight-ignore1-label_smoothing1.0-index-cpu-float64]."""

from __future__ import annotations

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403


def cross_entropy(input, target, *args, label_smoothing=0.0, **kwargs):
    if label_smoothing:
        raise NotImplementedError("label_smoothing is not supported by this kernel")
    return F.cross_entropy(input, target, *args, **kwargs)
