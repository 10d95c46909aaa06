"""The oracle's arithmetic: mpmath numbers at 50 significant digits that carry their error scale.

Every value is a ``Num``: ``v``, the value (an mpmath ``mpf`` of this module's own context,
``MP``, at 50 digits), and ``s``, its *error scale*: the first-order bound, in units of the
float64 epsilon, on how far a float64 evaluation of the same formula, operation by
operation, can be from the exact value (Wilkinson's running error analysis). Each
operation adds its own rounding, ``|result|`` (one eps, twice the half-ulp a correctly
rounded operation makes, so that exp and log, within about an ulp in libm, are covered),
to the propagated scales of its operands:

    a ± b: s_a + s_b + |a ± b|          a · b: s_a |b| + |a| s_b + |a b|
    a / b: s_a/|b| + |a| s_b/b² + |a/b|   f(a):  |f'(a)| s_a + |f(a)|

Exact inputs (float64 and float32 values are exact binary fractions) have ``s = 0``.
Arrays are NumPy object arrays of ``Num`` (NumPy only as a container: broadcasting,
indexing, axes); every number is computed by mpmath. Nothing here is shared with
``reference/``.
"""

from __future__ import annotations

import struct

import mpmath
import numpy as np

#: The oracle's own mpmath context (never the global ``mpmath.mp``): 50 significant digits.
DIGITS = 50
MP = mpmath.MPContext()
MP.dps = DIGITS

_ZERO, _ONE = MP.mpf(0), MP.mpf(1)
#: Above this a float64 result is inf (the largest float64 plus half an ulp).
_FLOAT64_OVERFLOW = MP.mpf(2) ** 1024 * (1 - MP.mpf(2) ** -54)


def float32(x: float) -> float:
    """x rounded to the nearest float32, as a float (torch's float literals, e.g. 1e-12f)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def _finite(x) -> bool:
    return MP.isfinite(x)


class Num:
    """A value and its float64 error scale (see the module docstring)."""

    __slots__ = ("v", "s")

    def __init__(self, v, s=_ZERO):
        self.v = v if isinstance(v, mpmath.mpf) else MP.mpf(v)
        self.s = s if isinstance(s, mpmath.mpf) else MP.mpf(s)

    def __repr__(self):
        return f"Num({MP.nstr(self.v, 20)}, s={MP.nstr(self.s, 3)})"

    # arithmetic ------------------------------------------------------------------
    def __add__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented
        o = num(other)
        v = self.v + o.v
        return Num(v, self.s + o.s + abs(v))

    __radd__ = __add__

    def __sub__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented
        o = num(other)
        v = self.v - o.v
        return Num(v, self.s + o.s + abs(v))

    def __rsub__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented
        return num(other) - self

    def __mul__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented
        o = num(other)
        v = self.v * o.v
        return Num(v, _scale_product(self, o) + abs(v))

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented
        o = num(other)
        v = divide(self.v, o.v)
        if o.v == 0 or not _finite(v):
            return Num(v, _ZERO)
        return Num(v, self.s / abs(o.v) + abs(self.v) * o.s / (o.v * o.v) + abs(v))

    def __rtruediv__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented
        return num(other) / self

    def __neg__(self):
        return Num(-self.v, self.s)

    def __pow__(self, p):
        """a ** p for a number p (exact: p is an option such as 2)."""
        p = MP.mpf(p)
        if self.v < 0 and p != int(p):
            return Num(MP.nan)
        v = self.v ** p if not (self.v == 0 and p < 0) else MP.inf
        scale = abs(p) * abs(v) / abs(self.v) * self.s if self.v != 0 and _finite(v) else _ZERO
        return Num(v, scale + abs(v))

    # comparisons are by value ----------------------------------------------------
    def __gt__(self, other):
        return self.v > num(other).v

    def __ge__(self, other):
        return self.v >= num(other).v

    def __lt__(self, other):
        return self.v < num(other).v

    def __le__(self, other):
        return self.v <= num(other).v

    def __eq__(self, other):
        return self.v == num(other).v

    def __ne__(self, other):
        return not self.v == num(other).v

    __hash__ = None


def _scale_product(a: Num, b: Num):
    # 0 · inf scale terms are 0 (an exact zero factor carries no error).
    left = a.s * abs(b.v) if a.s != 0 else _ZERO
    right = abs(a.v) * b.s if b.s != 0 else _ZERO
    return left + right


def divide(a, b):
    """a / b with IEEE semantics for b = 0 (mpmath raises): ±inf, or nan for 0/0 and nan."""
    if b == 0:
        if a == 0 or MP.isnan(a):
            return MP.nan
        return MP.inf if a > 0 else -MP.inf
    return a / b


def num(x) -> Num:
    """An exact constant: a Python or NumPy number, taken at its exact binary value."""
    if isinstance(x, Num):
        return x
    if isinstance(x, (bool, np.bool_)):
        x = int(x)
    if isinstance(x, (np.floating, float)):
        x = float(x)
        if x != x:
            return Num(MP.nan)
        if x in (float("inf"), float("-inf")):
            return Num(MP.inf if x > 0 else -MP.inf)
    return Num(MP.mpf(x) if not isinstance(x, (int, np.integer)) else MP.mpf(int(x)))


def const(v) -> Num:
    """A mathematical constant (log 2π, ...): float64 holds it rounded, so it carries |v|."""
    v = MP.mpf(v)
    return Num(v, abs(v))


ZERO = Num(0)
ONE = Num(1)


# --- elementary functions ----------------------------------------------------------

def exp(a: Num) -> Num:
    """The mathematical exp (no overflow: the formulas that use it never overflow in float64)."""
    v = MP.exp(a.v)
    return Num(v, v * a.s + v if _finite(v) else _ZERO)


def exp_float64(a: Num) -> Num:
    """exp as float64 computes it where a reference formula relies on the overflow
    (soft_margin_loss's literal log1p(exp(-y x))): inf above float64's largest value."""
    out = exp(a)
    return Num(MP.inf) if out.v >= _FLOAT64_OVERFLOW else out


def log(a: Num) -> Num:
    if MP.isnan(a.v) or a.v < 0:
        return Num(MP.nan)
    v = MP.log(a.v)   # log(0) = -inf
    return Num(v, (a.s / a.v if a.v != 0 else _ZERO) + abs(v) if _finite(v) else _ZERO)


def log1p(a: Num) -> Num:
    if MP.isnan(a.v) or a.v < -1:
        return Num(MP.nan)
    v = MP.log1p(a.v)
    return Num(v, (a.s / (1 + a.v)) + abs(v) if _finite(v) else _ZERO)


def sqrt(a: Num) -> Num:
    if MP.isnan(a.v) or a.v < 0:
        return Num(MP.nan)
    v = MP.sqrt(a.v)
    return Num(v, (a.s / (2 * v) if v != 0 else _ZERO) + v)


def absolute(a: Num) -> Num:
    return Num(abs(a.v), a.s)


def sign(a: Num) -> Num:
    """torch.sign: -1, 0 or 1, and 0 for nan (the subgradient 0 of |x| at 0)."""
    return Num(1 if a.v > 0 else (-1 if a.v < 0 else 0))


def minimum(a: Num, b: Num) -> Num:
    """The smaller value, nan if either is nan (torch.minimum)."""
    if MP.isnan(a.v) or MP.isnan(b.v):
        return Num(MP.nan)
    return a if a.v <= b.v else b


def maximum(a: Num, b: Num) -> Num:
    if MP.isnan(a.v) or MP.isnan(b.v):
        return Num(MP.nan)
    return a if a.v >= b.v else b


def clamp_min(a: Num, low) -> Num:
    """max(a, low) keeping nan (torch.clamp_min); the clamped value carries a's scale."""
    low = num(low)
    if MP.isnan(a.v):
        return a
    return a if a.v >= low.v else Num(low.v, a.s)


def relu(z: Num) -> Num:
    """max(0, z), nan kept; the inactive branch keeps z's scale (a float64 z there is
    within its own error of 0)."""
    if MP.isnan(z.v):
        return z
    return z if z.v > 0 else Num(0, z.s)


def isnan(a: Num) -> bool:
    return bool(MP.isnan(a.v))


# --- arrays ------------------------------------------------------------------------

def array(x) -> np.ndarray:
    """An object array of exact ``Num`` from anything ``numpy.asarray`` takes."""
    raw = np.asarray(x)
    out = np.empty(raw.shape, dtype=object)
    for index in np.ndindex(raw.shape):
        value = raw[index]
        out[index] = num(value if isinstance(value, Num) else value.item())
    return out


def elementwise(fn, *arrays) -> np.ndarray:
    """fn applied element by element (with broadcasting), as an object array."""
    arrays = [a if isinstance(a, np.ndarray) else np.asarray(a, dtype=object) for a in arrays]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    views = [np.broadcast_to(a, shape) for a in arrays]
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        out[index] = fn(*(v[index] for v in views))
    return out


def total(a: np.ndarray, axis=None, keepdims: bool = False):
    """The sum (left to right) over ``axis``; an empty sum is an exact 0."""
    return np.sum(np.asarray(a, dtype=object), axis=axis, keepdims=keepdims, initial=ZERO)


def full(shape, value) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = num(value)
    return out


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """The adjoint of broadcasting an argument of ``shape`` up to ``grad``'s shape."""
    grad = np.asarray(grad, dtype=object)
    grad = np.broadcast_to(grad, np.broadcast_shapes(grad.shape, shape))
    extra = grad.ndim - len(shape)
    if extra:
        grad = total(grad, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = total(grad, axis=axes, keepdims=True)
    return np.array(np.reshape(grad, shape), dtype=object)


def reduce(loss: np.ndarray, reduction: str, denominator=None):
    """'none': the loss; 'sum': its sum; 'mean': the sum over ``denominator`` (default: the count)."""
    loss = np.asarray(loss, dtype=object)
    if reduction == "none":
        return loss
    s = total(loss)
    if reduction == "sum":
        return np.asarray(s, dtype=object)
    d = num(loss.size) if denominator is None else num(denominator)
    return np.asarray(s / d, dtype=object)


def upstream(grad_output, reduction: str, shape: tuple, denominator=None) -> np.ndarray:
    """d(reduced)/d(loss) times grad_output, in the unreduced loss's shape."""
    g = array(grad_output)
    if reduction == "none":
        return np.array(np.broadcast_to(g, shape), dtype=object)
    g = g.reshape(())[()]
    if reduction == "mean":
        d = num(int(np.prod(shape, dtype=np.int64))) if denominator is None else num(denominator)
        g = g / d
    return full(shape, 0) + g if shape else np.asarray(g, dtype=object)


def log_softmax_rows(x: np.ndarray) -> np.ndarray:
    """log_softmax over the last axis: x - m - log Σ exp(x - m), m the row's maximum.

    A row holding nan, +inf, or only -inf is nan throughout (inf - inf), as float64 gives;
    a -inf entry beside finite ones is -inf.
    """
    out = np.empty(x.shape, dtype=object)
    for index in np.ndindex(x.shape[:-1]):
        row = list(x[index])
        if not row:
            continue
        values = [r.v for r in row]
        if any(MP.isnan(v) for v in values) or MP.isinf(max(values)):
            out[index] = [Num(MP.nan)] * len(row)
            continue
        # the shift is exact: the result does not depend on it, so its error cancels
        m = Num(row[max(range(len(row)), key=lambda i: values[i])].v)
        shifted = [r - m for r in row]
        lse = log(sum((exp(z) for z in shifted), ZERO))
        out[index] = [z - lse for z in shifted]
    return out


def logsigmoid(x: Num) -> Num:
    """log σ(x) = min(x, 0) - log1p(exp(-|x|)), finite for every finite x."""
    if isnan(x):
        return x
    if MP.isinf(x.v):
        return Num(0) if x.v > 0 else Num(x.v)
    return minimum(x, ZERO) - log1p(exp(-absolute(x)))


def sigmoid(x: Num) -> Num:
    return exp(logsigmoid(x))
