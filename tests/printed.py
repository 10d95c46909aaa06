"""Comparing with a value as a source printed it: to the digits printed, no more."""

from __future__ import annotations

from decimal import Decimal

import numpy as np


def half_unit(token: str) -> float:
    """Half a unit in the last printed digit: '3.7925' -> 5e-5, '8.0005e+00' -> 5e-5."""
    return 0.5 * 10.0 ** Decimal(token).as_tuple().exponent


def assert_printed(value, printed: str, what: str = "value") -> None:
    """Each entry of ``value`` rounds to the printed number (numbers separated by
    whitespace, in row-major order)."""
    tokens = printed.split()
    values = np.ravel(np.asarray(value, dtype=np.float64))
    assert len(tokens) == values.size, f"{what}: {values.size} values, {len(tokens)} printed"
    for index, (v, token) in enumerate(zip(values, tokens)):
        if token.lower() in ("nan", "inf", "-inf"):
            assert np.isnan(v) if token.lower() == "nan" else v == float(token), f"{what}[{index}]: {v!r}, printed {token}"
            continue
        # 1e-9 relative slack: the printed digits came from float32 torch output.
        assert abs(v - float(token)) <= half_unit(token) * (1 + 1e-9), (
            f"{what}[{index}]: {v!r} does not print as {token}")
