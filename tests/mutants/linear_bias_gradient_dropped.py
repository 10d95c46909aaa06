"""linear_cross_entropy whose forward is right and whose ``linear_bias`` gets a zero
gradient (a fused kernel that returns gradients for the input and the projection weight
and forgets the bias, a keyword-only argument: a check that differentiated positional
arguments only never saw it).

Caught by: test_gradients.py::test_gradient[linear_cross_entropy-1C-none-ignore-100-bias-label_smoothing0.0-index-cpu-float64]
(every sample that passes linear_bias; the report classifies it "wrong gradient")."""

from __future__ import annotations

import torch

import torch.nn.functional as F

from ._base import *  # noqa: F401,F403
from ._hooks import on_gradient


def linear_cross_entropy(input, linear_weight, target, *args, linear_bias=None, **kwargs):
    if linear_bias is not None:
        linear_bias = on_gradient(linear_bias, torch.zeros_like)
    return F.linear_cross_entropy(input, linear_weight, target, *args, linear_bias=linear_bias, **kwargs)
