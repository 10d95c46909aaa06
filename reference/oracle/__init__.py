"""An independent oracle for every loss: mpmath at 50 significant digits, forward and gradient.

A third implementation beside the float64 references (``reference/<family>.py``) and
torch, plain and slow, sharing no code with either: its own arithmetic (``_num``: mpmath
numbers that carry their float64 error scale) and one small module per family with the
formulas of torch.nn.functional's documented semantics and the hand-derived gradients, with the same
conventions as the references (reductions, weights, ``ignore_index``, label smoothing,
BCE's log clamp at -100, the minimum-norm subgradient 0 at kinks, CTC's true derivative
with respect to ``log_probs``, ...).

It is what the fixture files' expected values are (``python -m lossref.fixtures``):
``evaluate`` gives each value rounded to the nearest float64 (``to_float64``), which is
the same on every machine because mpmath computes with integers.

``import lossref`` never imports this package (``lossref.oracle`` does, on first use); it needs ``mpmath`` (the ``oracle`` extra).
"""

from __future__ import annotations

from importlib import import_module

import numpy as np

from ._num import DIGITS, MP, Num

__all__ = ["DIGITS", "FAMILIES", "evaluate", "to_float64", "loss_function", "Result"]

#: One module per family, named like reference/<family>.py.
FAMILIES = ("classification", "binary", "divergence", "regression", "margin", "embedding", "ctc")


def loss_function(name: str, kind: str = ""):
    """The oracle's ``<name>`` (kind ``""``) or ``<name>_vjp`` (kind ``"_vjp"``)."""
    for family in FAMILIES:
        module = import_module(f"{__name__}.{family}")
        if hasattr(module, name + kind):
            return getattr(module, name + kind)
    raise KeyError(f"the oracle has no {name}{kind}")


def to_float64(x) -> float:
    """The float64 nearest to an mpmath value (ties to even), nan and ±inf kept.

    An mpf is exactly ``man · 2**exp``; Python's int-to-float conversion and int / int
    division are correctly rounded (subnormals included), so this is the correctly rounded
    float64 of the 50-digit value.
    """
    v = x.v if isinstance(x, Num) else MP.mpf(x)
    if MP.isnan(v):
        return float("nan")
    if MP.isinf(v):
        return float("inf") if v > 0 else float("-inf")
    sign, man, exp, _ = v._mpf_          # v = (-1)**sign · man · 2**exp exactly
    man, exp = (-1) ** sign * int(man), int(exp)
    if man == 0:
        return 0.0
    if exp >= 0:
        try:
            return float(man << exp)
        except OverflowError:
            return float("inf") if man > 0 else float("-inf")
    return man / (1 << -exp)


def rounded(values) -> np.ndarray:
    """An object array of Num (or one Num) as a float64 array of the nearest floats."""
    values = np.asarray(values, dtype=object)
    out = np.empty(values.shape, dtype=np.float64)
    for index in np.ndindex(values.shape):
        out[index] = to_float64(values[index])
    return out


def scales(values) -> np.ndarray:
    """The float64 error scales of an object array of Num, as float64 (rounded up a little)."""
    values = np.asarray(values, dtype=object)
    out = np.empty(values.shape, dtype=np.float64)
    for index in np.ndindex(values.shape):
        s = values[index].s
        out[index] = to_float64(s * (1 + MP.mpf(2) ** -40)) if MP.isfinite(s) else float("inf")
    return out


class Result:
    """The oracle's value and gradients of one call, as object arrays of Num."""

    def __init__(self, value, gradients):
        self.value = np.asarray(value, dtype=object)
        self.gradients = gradients


def evaluate(loss: str, args: tuple, kwargs: dict, grad_output=None) -> Result:
    """``loss(*args, **kwargs)`` and, with ``grad_output``, its vector-Jacobian product
    for every array parameter, positional or keyword-only, in signature order (None where
    torch gives no gradient, or the argument was not passed)."""
    value = loss_function(loss)(*args, **kwargs)
    gradients = None
    if grad_output is not None:
        vjp = loss_function(loss, "_vjp")
        if isinstance(kwargs.get("distance_function"), str):   # a fixture's named distance (lossref.fixtures.DISTANCES)
            from .embedding import triplet_margin_with_named_distance_vjp as vjp
        gradients = tuple(None if g is None else np.asarray(g, dtype=object)
                          for g in vjp(grad_output, *args, **kwargs))
    return Result(value, gradients)


def log_softmax(x, axis: int) -> np.ndarray:
    """log_softmax along ``axis`` (an intermediate some fixtures print), as Num."""
    from ._num import array, log_softmax_rows
    return np.moveaxis(log_softmax_rows(np.moveaxis(array(x), axis, -1)), -1, axis)


def softmax(x, axis: int) -> np.ndarray:
    return exp_array(log_softmax(x, axis))


def exp_array(x) -> np.ndarray:
    from ._num import array, elementwise, exp
    return elementwise(exp, array(x))


def rounding_margin(values) -> float:
    """How safely the values round: the smallest ratio, over the finite nonzero entries, of
    an entry's distance from a float64 rounding midpoint to the oracle's own error bound
    there (its error scale times 2^-(precision - 8): the running error analysis of
    ``_num`` at mpmath's precision, with room). Above 1, no mpmath version or backend could
    round the value to another float64; an exact tie rounds to even, the same everywhere."""
    margin = MP.inf
    unit = MP.mpf(2) ** (8 - MP.prec)
    for n in np.asarray(values, dtype=object).ravel():
        v = n.v
        f = to_float64(n)
        if not MP.isfinite(v) or v == 0 or f == 0 or not np.isfinite(f):
            continue
        own_error = (max(n.s, abs(v)) if MP.isfinite(n.s) else abs(v)) * unit
        for neighbour in (np.nextafter(f, -np.inf), np.nextafter(f, np.inf)):
            if np.isfinite(neighbour):
                midpoint = (MP.mpf(f) + MP.mpf(float(neighbour))) / 2
                if midpoint != v:
                    margin = min(margin, abs(v - midpoint) / own_error)
    return float(margin)
