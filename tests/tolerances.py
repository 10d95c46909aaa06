"""The one table of tolerances: how far torch may be from the float64 reference.

The reference is fed the *same rounded inputs* torch sees, so input rounding is not
part of the error; what is left is the rounding of torch's own arithmetic in the dtype
under test. Each operation of a loss rounds once (relative error ``eps/2``), a
reduction over ``n`` terms adds at most ``~log2(n)`` roundings with pairwise or
cascade summation, and cancellation (log-sum-exp minus the target logit, x - y in
L1/L2) turns relative into absolute error of the size of the inputs, which the suite
draws at O(1). So both ``rtol`` and ``atol`` are a fixed number of units of
``eps(dtype)``:

    tolerance = ULPS * eps(dtype) * record.conditioning

``ULPS = 16``: measured on this suite (torch 2.13.0, CPU, every registry sample, forward
and gradient, ``/ (eps * (1 + |reference|))``), the worst errors were 2.4 eps in float64,
7.3 in float32 (the gradient of gaussian_nll_loss's var, summed over a broadcast axis),
4.6 in float16 and 2.5 in bfloat16, known torch bugs (tests/quirks.py) aside. 16 leaves
a factor of two over the worst and keeps bfloat16 at 0.125 of O(1) values, float32 at
1.9e-6 and float64 at 3.6e-15, where any larger difference is a real disagreement.

A loss that is worse conditioned than that (exp of an input, a long recursion)
declares ``conditioning`` in its registry record with the reason next to it; nothing
else widens a tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Units of eps(dtype) allowed for one loss evaluation (see the module docstring).
ULPS = 16


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


def eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


def tolerance(dtype: torch.dtype, conditioning: float = 1.0) -> Tolerance:
    """rtol = atol = ULPS * eps(dtype) * conditioning."""
    t = ULPS * eps(dtype) * conditioning
    return Tolerance(rtol=t, atol=t)


#: Comparing the reference with itself or with a float64 fixture value: float64
#: arithmetic on both sides, possibly in another order.
FLOAT64 = tolerance(torch.float64)
