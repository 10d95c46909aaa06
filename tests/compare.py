"""The one comparison every parity test uses: shape exactly, nan and inf where the
other side has them, finite values within ``atol + rtol * |expected|``."""

from __future__ import annotations

import numpy as np

from .tolerances import Tolerance


def assert_matches(got, expected, tol: Tolerance, what: str = "value") -> None:
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, reference {expected.shape}"
    nan_got, nan_expected = np.isnan(got), np.isnan(expected)
    assert np.array_equal(nan_got, nan_expected), (
        f"{what}: nan at {np.argwhere(nan_got).tolist()}, reference nan at {np.argwhere(nan_expected).tolist()}")
    finite = np.isfinite(expected) & np.isfinite(got)
    inf_mismatch = ~nan_expected & ~finite & (got != expected)
    assert not inf_mismatch.any(), (
        f"{what}: infinities differ at {np.argwhere(inf_mismatch).tolist()}: "
        f"got {got[inf_mismatch].tolist()}, reference {expected[inf_mismatch].tolist()}")
    with np.errstate(invalid="ignore"):   # inf - inf where both are inf: masked out below
        error = np.where(finite, np.abs(got - expected), 0.0)
    allowed = tol.atol + tol.rtol * np.abs(expected)
    bad = error > allowed
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(bad, error - allowed, -np.inf)), got.shape) if got.ndim else ()
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {got.size} entries differ beyond rtol={tol.rtol:.3g}, atol={tol.atol:.3g}; "
            f"worst at {tuple(int(i) for i in worst)}: got {got[worst]!r}, reference {expected[worst]!r} "
            f"(|diff| {error[worst]:.3g})")
