"""The one comparison every parity test uses: shape exactly, nan and inf where the
other side has them, finite values within ``rtol * |expected| + atol * scale``.

``scale`` is the per-entry magnitude of the terms that cancel in that entry (see
tests/tolerances.py); it defaults to 1, the O(1) inputs the suite draws.

A failed comparison raises :class:`Mismatch` (an ``AssertionError``), typed so that a
report can classify it: ``kind`` says what differs (shape, nan, inf or value) and
``check`` whether a loss value or a gradient was compared.

Every comparison made with a ``dtype`` appends its worst error, in units of
``eps(dtype)`` of the magnitude it is measured against, to :data:`observations`, for a
report of "worst error seen" (the plugin clears the list before each test and reads it
after).
"""

from __future__ import annotations

import numpy as np

from .tolerances import Tolerance, eps

#: Worst error of each comparison made with a dtype, in ulps: ``max |got - expected| /
#: (eps(dtype) * (|expected| + scale))``, ``scale`` 1 unless the comparison says
#: otherwise (so for O(1) entries it is ``|diff| / eps / (1 + |expected|)``). Finite
#: entries only; a comparison with no finite entry appends nothing.
observations: list[float] = []

KINDS = ("shape", "nan", "inf", "value")
CHECKS = ("value", "gradient")


class Mismatch(AssertionError):
    """The implementation's result differs from the reference's.

    ``what``: the comparison ("cross_entropy NC-mean: gradient of input"); ``kind``: one
    of :data:`KINDS`; ``check``: ``"gradient"`` when a gradient was compared, else
    ``"value"``.
    """

    def __init__(self, message: str, what: str, kind: str, check: str | None = None):
        super().__init__(message)
        assert kind in KINDS, kind
        self.what = what
        self.kind = kind
        self.check = check if check is not None else ("gradient" if "gradient" in what else "value")


class InputModified(AssertionError):
    """The implementation under test changed one of its arguments (values, shape or
    strides): nothing the user passes may be modified. ``what``: the call; ``argument``:
    the argument's name or position."""

    def __init__(self, message: str, what: str, argument: str):
        super().__init__(message)
        self.what = what
        self.argument = argument
        self.kind = "input modified"


def assert_matches(got, expected, tol: Tolerance, what: str = "value", *, dtype=None, scale=1.0,
                   check: str | None = None) -> None:
    """Raise :class:`Mismatch` unless ``got`` equals ``expected`` (shapes, nan, inf) and
    every finite entry is within ``tol.rtol * |expected| + tol.atol * scale``.

    ``dtype``: the dtype under test, for :data:`observations`; ``scale``: the magnitude of
    the cancelling terms per entry (broadcast to ``expected``), default 1."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)

    def fail(kind, message):
        raise Mismatch(f"{what}: {message}", what, kind, check)

    if got.shape != expected.shape:
        fail("shape", f"shape {got.shape}, reference {expected.shape}")
    nan_got, nan_expected = np.isnan(got), np.isnan(expected)
    if not np.array_equal(nan_got, nan_expected):
        fail("nan", f"nan at {np.argwhere(nan_got).tolist()}, reference nan at {np.argwhere(nan_expected).tolist()}")
    finite = np.isfinite(expected) & np.isfinite(got)
    inf_mismatch = ~nan_expected & ~finite & (got != expected)
    if inf_mismatch.any():
        fail("inf", f"infinities differ at {np.argwhere(inf_mismatch).tolist()}: "
                    f"got {got[inf_mismatch].tolist()}, reference {expected[inf_mismatch].tolist()}")
    with np.errstate(invalid="ignore"):   # inf - inf where both are inf: masked out below
        error = np.where(finite, np.abs(got - expected), 0.0)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), expected.shape)
    magnitude = np.abs(expected) + scale
    if dtype is not None and finite.any():
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # masked by the where
            ulps = np.where(finite & (magnitude > 0), error / (eps(dtype) * magnitude),
                            np.where(error > 0, np.inf, 0.0))
        observations.append(float(ulps.max()))
    allowed = tol.rtol * np.abs(expected) + tol.atol * scale
    bad = error > allowed
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(bad, error - allowed, -np.inf)), got.shape) if got.ndim else ()
        scale_note = "" if np.all(scale == 1.0) else f", scale {scale[worst]:.3g} there"
        fail("value", f"{int(bad.sum())} of {got.size} entries differ beyond rtol={tol.rtol:.3g}, "
                      f"atol={tol.atol:.3g}{scale_note}; worst at {tuple(int(i) for i in worst)}: "
                      f"got {got[worst]!r}, reference {expected[worst]!r} (|diff| {error[worst]:.3g})")
