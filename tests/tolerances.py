"""The tolerance rule, for torch dtypes: the rule itself (ULPS, eps per dtype, the
accumulation type, the per-loss conditioning and its derivation) is ``lossref.tolerance``,
torch-free, which the fixture files read too. This module maps a ``torch.dtype`` to the
rule's dtype names and keeps the suite's names for it.
"""

from __future__ import annotations

import torch

from lossref import tolerance as rule
from lossref.tolerance import ULPS, Magnitude, Tolerance  # noqa: F401 (the suite's names)

__all__ = ["ULPS", "Magnitude", "Tolerance", "FLOAT64", "dtype_name", "eps", "accumulation_dtype",
           "magnitude_scale", "tolerance"]


def dtype_name(dtype) -> str:
    """The rule's name of a floating dtype: ``torch.bfloat16`` -> "bfloat16" (a name passes through)."""
    if isinstance(dtype, str):
        return dtype.removeprefix("torch.")
    if isinstance(dtype, torch.dtype):
        return str(dtype).removeprefix("torch.")
    raise TypeError(f"dtype {dtype!r}: expected a torch.dtype or a dtype name")


def eps(dtype) -> float:
    return rule.eps(dtype_name(dtype))


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The type torch combines terms in: float32 for the half types, else the dtype."""
    return getattr(torch, rule.accumulation_dtype(dtype_name(dtype)))


def magnitude_scale(magnitude: Magnitude | None, dtype: torch.dtype):
    """``scale`` for :func:`tests.compare.assert_matches` (``lossref.tolerance.magnitude_scale``)."""
    return rule.magnitude_scale(magnitude, dtype_name(dtype))


def tolerance(dtype: torch.dtype, conditioning: float = 1.0) -> Tolerance:
    """rtol = atol = ULPS * eps(dtype) * conditioning (a record's: ``record.conditioning``)."""
    return rule.tolerance(dtype_name(dtype), factor=conditioning)


#: Comparing the reference with itself or with a float64 fixture value: float64
#: arithmetic on both sides, possibly in another order.
FLOAT64 = tolerance(torch.float64)
