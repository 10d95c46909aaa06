"""Embedding losses: ``cosine_embedding_loss``, ``triplet_margin_loss`` and
``triplet_margin_with_distance_loss``.

All three compare vectors along the LAST axis. The loss has the inputs' shape without
that axis (after broadcasting), so a 1-D ``(D)`` input gives a 0-d loss.

The kinks follow torch's autograd (loss-semantics §1.2): ``max(0, z)`` is torch's
``clamp_min(z, 0)``, whose gradient passes at ``z == 0`` exactly; ``min(d1, d2)`` (the
triplet ``swap``) is ``torch.minimum``, which gives each side half the gradient at a tie;
the norm ``||x||_p`` has torch's subgradients at zero (see ``_norm_backward``).
"""

from __future__ import annotations

__all__ = [
    "cosine_embedding_loss",
    "cosine_embedding_loss_backward",
    "triplet_margin_loss",
    "triplet_margin_loss_backward",
    "triplet_margin_with_distance_loss",
    "triplet_margin_with_distance_loss_backward",
]

import math
import numbers

import numpy as np

from ._common import (as_float, broadcast, check_reduction, hinge_active, is_integer_array, reduce, sum_to_shape,
                      torch_sign, unreduce)

#: torch's EPSILON in cosine_embedding_loss (aten/src/ATen/native/Loss.cpp), added to
#: each squared norm: a C++ float constant, so 1e-12 rounded to float32,
#: 9.999999960041972e-13 (measured: with exactly 1e-12 float64 results differ by ~1e-9).
COSINE_EPSILON = float(np.float32(1e-12))
#: torch.pairwise_distance's default eps, the default distance of
#: triplet_margin_with_distance_loss.
PAIRWISE_EPS = 1e-6


# --- shared pieces ------------------------------------------------------------------

def _check_p(p) -> float:
    # torch's triplet_margin_loss takes p as a double: any real (bools too), including 0,
    # negatives and inf; a complex or non-number p is refused.
    if not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a real number, got {type(p).__name__} {p!r}")
    return float(p)


def _check_margin(margin) -> float:
    margin = float(margin)
    if not margin > 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    return margin


def _check_same_ndim(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> None:
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(
            "anchor, positive and negative must have the same number of dimensions, got "
            f"anchor {anchor.ndim}-D, positive {positive.ndim}-D and negative {negative.ndim}-D"
        )


def _vector_norm(x: np.ndarray, p: float) -> np.ndarray:
    """torch.linalg.vector_norm(x, p, dim=-1), with keepdims; a 0-d x is its own last axis.

    Literal for every real p, as torch: p = 0 counts the nonzero entries, p = ±inf is the
    max/min of |x|, other p give (Σ|x|^p)^(1/p) (negative p too).
    """
    x = x[..., None] if x.ndim == 0 else x
    ax = np.abs(x)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # |0|^(p<0) = inf, as torch
        if p == 0:
            return np.count_nonzero(x, axis=-1)[..., None].astype(np.float64)
        if p == math.inf:
            return np.max(ax, axis=-1, keepdims=True)
        if p == -math.inf:
            return np.min(ax, axis=-1, keepdims=True)
        if p == 1:
            return np.sum(ax, axis=-1, keepdims=True)
        if p == 2:
            return np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
        return np.sum(ax ** p, axis=-1, keepdims=True) ** (1.0 / p)


def _norm_backward(grad: np.ndarray, x: np.ndarray, norm: np.ndarray, p: float) -> np.ndarray:
    """d||x||_p/dx times ``grad`` (both ``grad`` and ``norm`` with keepdims), torch's way.

    With s = sign(x) (0 at 0 and at nan, as torch.sign):
      p = 1:        s · grad                        (subgradient 0 at x_i = 0)
      p = 2:        x / ||x|| · grad, 0 where ||x|| = 0
      p = ±inf:     s · grad / k on the k entries with |x_i| = ||x|| (or nan), 0 elsewhere
      p < 1:        s |x|^(p-1) · grad · ||x||^(1-p), 0 where x_i = 0
      other p:      s |x|^(p-1) · grad / ||x||^(p-1), 0 where ||x|| = 0
    (torch's norm_backward; p = 0 has no gradient and never reaches here).
    """
    scalar = x.ndim == 0
    x = x[..., None] if scalar else x
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # masked below, as torch
        if p == 1:
            out = torch_sign(x) * grad
        elif p == 2:
            out = x / norm                        # in place from here: one array of x's size
            np.copyto(out, 0.0, where=norm == 0)
            out *= grad
        elif math.isinf(p):
            ax = np.abs(x)
            mask = (ax == norm) | np.isnan(ax)
            out = torch_sign(x) * (grad / np.sum(mask, axis=-1, keepdims=True)) * mask
        elif p < 1:
            scaled = torch_sign(x) * np.where(x == 0, 0.0, np.abs(x) ** (p - 1))
            out = scaled * grad * norm ** (1 - p)
        else:
            scaled = torch_sign(x) * np.abs(x) ** (p - 1)
            out = scaled * np.where(norm == 0, 0.0, grad / norm ** (p - 1))
    return out[..., 0] if scalar else out


class _Distance:
    """torch.pairwise_distance(a, b, p, eps) = ||a − b + eps||_p over the last axis, with
    the intermediate values the backward needs."""

    def __init__(self, a: np.ndarray, b: np.ndarray, p: float, eps: float, names: tuple[str, str]):
        self.a_shape, self.b_shape = a.shape, b.shape
        broadcast(names, a, b)
        if p < 0 or math.isinf(p):
            width = (a[..., None] if a.ndim == 0 else a).shape[-1], (b[..., None] if b.ndim == 0 else b).shape[-1]
            if 0 in width:
                raise ValueError(f"p={p} needs a non-empty last dimension ({names[0]} {a.shape}, {names[1]} "
                                 f"{b.shape}): the {p}-norm of no entries is undefined")
        self.p = p
        self.diff = a - b + eps  # eps is added to the difference, not to the norm (torch)
        self.norm = _vector_norm(self.diff, p)
        self.value = self.norm[..., 0]

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(d/da, d/db) of Σ grad · value; ``grad`` has the shape of ``value`` (or broadcasts to it)."""
        grad = sum_to_shape(grad, self.value.shape)
        g = _norm_backward(grad[..., None], self.diff, self.norm, self.p)   # a new array: ours
        # Where no broadcasting is to be undone, g itself (sum_to_shape would copy it).
        grad_a = g if g.shape == self.a_shape else sum_to_shape(g, self.a_shape)
        grad_b = np.negative(g) if g.shape == self.b_shape else sum_to_shape(-g, self.b_shape)
        return grad_a, grad_b


def _minimum_weights(d_an: np.ndarray, d_pn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """torch.minimum's backward: the smaller side gets the gradient, a tie gives each half.

    torch: self gets where(self == other, g/2, g) masked to 0 where self > other, other
    where self < other; a nan on either side gives both the full gradient, as torch.
    """
    tie = d_an == d_pn
    w_an = np.where(d_an > d_pn, 0.0, np.where(tie, 0.5, 1.0))
    w_pn = np.where(d_an < d_pn, 0.0, np.where(tie, 0.5, 1.0))
    return w_an, w_pn


def _triplet_reduce(d_ap, d_an, d_pn, margin, reduction):
    with np.errstate(invalid="ignore"):  # inf - inf = nan, as torch
        d_neg = d_an if d_pn is None else np.minimum(d_an, d_pn)  # np.minimum propagates nan, as torch.minimum
        z = margin + d_ap - d_neg
    return z, reduce(np.maximum(z, 0.0), reduction)  # np.maximum keeps nan, as clamp_min


def _triplet_grads(grad_output, z, d_an_value, d_pn_value, reduction):
    """d loss / d (d_ap, d_an, d_pn), each summed to its distance's shape.

    d ℓ / d z = g where z > 0 (0 at the kink: the minimum-norm subgradient), else 0;
    d z / d d_ap = 1; d z / d d_neg = -1, split between d_an and d_pn by torch.minimum.
    """
    g = unreduce(grad_output, reduction, z.shape)
    gz = np.where(hinge_active(z), g, 0.0)  # 0 at the kink z = 0 (minimum norm) and for nan
    if d_pn_value is None:
        return gz, -gz, None
    w_an, w_pn = _minimum_weights(d_an_value, d_pn_value)
    return gz, -gz * w_an, -gz * w_pn


# --- cosine_embedding_loss ------------------------------------------------------------

def _cosine_parts(input1, input2, target, margin, reduction):
    check_reduction(reduction)
    x1 = as_float("input1", input1, allow_int=True)
    x2 = as_float("input2", input2, allow_int=True)
    t = np.asarray(target)
    if t.dtype.kind not in "biuf":
        raise TypeError(f"target must be a real array of 1 / -1 labels, got dtype {t.dtype}")
    t = np.array(t, dtype=np.float64)
    if t.ndim not in (0, 1):
        raise ValueError(f"target must be 0-d or 1-D (multi-target not supported), got shape {t.shape}")
    if t.ndim == 1 and not (x1.ndim == 2 and x2.ndim == 2):
        raise ValueError(f"a 1-D target needs 2-D (N, D) input1 and input2, got shapes {x1.shape} and {x2.shape}")
    if t.ndim == 0 and not (x1.ndim == 1 and x2.ndim == 1):
        raise ValueError(f"a 0-d target needs 1-D (D) input1 and input2, got shapes {x1.shape} and {x2.shape}")
    broadcast(("input1", "input2"), x1, x2)
    prod = np.sum(x1 * x2, axis=-1)
    # EPSILON goes into EACH squared norm (torch), so a zero vector gives cos = 0, not 0/0;
    # each norm is over the argument's own last axis, before input1/input2 broadcast.
    mag1 = np.sum(x1 * x1, axis=-1) + COSINE_EPSILON
    mag2 = np.sum(x2 * x2, axis=-1) + COSINE_EPSILON
    with np.errstate(invalid="ignore", over="ignore"):  # inf/inf = nan for inf inputs, as torch
        denom = np.sqrt(mag1 * mag2)  # sqrt of the product, as torch (not a product of sqrts)
        cos = prod / denom
    broadcast(("target", "input1/input2 without the last dimension"), t, cos)
    return x1, x2, t, float(margin), mag1, mag2, denom, cos


def cosine_embedding_loss(input1, input2, target, margin=0, *, reduction="mean"):
    r"""Cosine embedding loss over the last dimension.

    .. math::
        \cos_n = \frac{\sum_d x1_{n,d}\, x2_{n,d}}
                      {\sqrt{(\sum_d x1_{n,d}^2 + 10^{-12})(\sum_d x2_{n,d}^2 + 10^{-12})}},
        \qquad
        \ell_n = \begin{cases} 1 - \cos_n & y_n = 1 \\ \max(0, \cos_n - \text{margin}) & y_n = -1 \\
                 0 & \text{any other } y_n \end{cases}

    Shapes as torch: a 1-D ``(N)`` target needs ``(N, D)`` inputs, a 0-d target ``(D)``
    inputs; input1 and input2 broadcast (each squared norm is taken over the argument's
    own last axis), the target broadcasts against the ``(N)`` cosines. Integer inputs
    and integer or boolean targets are accepted, as torch; any margin (also negative).
    Plain reduction. A zero vector has cos = 0 (the 1e-12 keeps the denominator > 0).
    """
    _, _, t, margin, _, _, _, cos = _cosine_parts(input1, input2, target, margin, reduction)
    with np.errstate(invalid="ignore"):
        loss = np.where(t == 1, 1.0 - cos, 0.0) + np.where(t == -1, np.maximum(cos - margin, 0.0), 0.0)
    return reduce(loss, reduction)


def cosine_embedding_loss_backward(grad_output, input1, input2, target, margin=0, *, reduction="mean"):
    r"""Gradient of ``cosine_embedding_loss``: one entry per array parameter, (input1, input2, target).

    With ``A = Σ x1² + 1e-12``, ``B = Σ x2² + 1e-12``, ``den = sqrt(A·B)``, ``cos = Σ x1·x2 / den``:

    .. math::
        \frac{\partial \cos}{\partial x1} = \frac{x2}{den} - \cos \frac{x1}{A}, \qquad
        \frac{\partial \cos}{\partial x2} = \frac{x1}{den} - \cos \frac{x2}{B}

    and ``dℓ/dcos = -g`` where y = 1, ``+g`` where y = -1 and ``cos - margin > 0`` (0 at
    the kink: the minimum-norm subgradient), 0 otherwise. The terms through ``A`` and
    ``B`` stay on each argument's own shape; the rest is summed back over broadcasting.
    ``target`` (used only in comparisons) gets ``None``; so does an integer input (torch
    cannot differentiate it). ``margin`` is a number (no entry).
    """
    x1, x2, t, margin, mag1, mag2, denom, cos = _cosine_parts(input1, input2, target, margin, reduction)
    out_shape = np.broadcast_shapes(t.shape, cos.shape)
    g = unreduce(grad_output, reduction, out_shape)
    with np.errstate(invalid="ignore"):
        active = hinge_active(cos - margin)  # 0 at the kink cos = margin (minimum norm)
        dcos = np.where(t == 1, -g, 0.0) + np.where(t == -1, np.where(active, g, 0.0), 0.0)
    dcos = sum_to_shape(dcos, cos.shape)[..., None]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # nan/inf inputs propagate, as torch
        c = cos[..., None]
        grad1 = sum_to_shape(dcos * x2 / denom[..., None], x1.shape) - sum_to_shape(
            dcos * c * x1 / mag1[..., None], x1.shape)
        grad2 = sum_to_shape(dcos * x1 / denom[..., None], x2.shape) - sum_to_shape(
            dcos * c * x2 / mag2[..., None], x2.shape)
    return (None if is_integer_array(input1) else grad1,
            None if is_integer_array(input2) else grad2, None)


# --- triplet_margin_loss ----------------------------------------------------------------

def _triplet_inputs(anchor, positive, negative, margin, reduction):
    check_reduction(reduction)
    margin = _check_margin(margin)
    a = as_float("anchor", anchor, allow_int=True)
    pos = as_float("positive", positive, allow_int=True)
    neg = as_float("negative", negative, allow_int=True)
    _check_same_ndim(a, pos, neg)
    return a, pos, neg, margin


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, *, reduction="mean"):
    r"""Triplet margin loss with the p-norm distance over the last dimension.

    .. math::
        d(u, v) = \lVert u - v + \varepsilon \rVert_p, \qquad
        \ell = \max\bigl(0,\ \text{margin} + d(a, p) - d_-\bigr), \qquad
        d_- = \begin{cases} \min(d(a, n), d(p, n)) & \text{swap} \\ d(a, n) & \text{otherwise} \end{cases}

    ``eps`` is added to the difference (not to the norm), as torch.pairwise_distance.
    ``p`` is any real, with torch.norm's meaning (0: count of nonzeros, ±inf: max/min
    |·|). ``margin`` must be > 0. The three inputs need the same number of dimensions
    and otherwise broadcast; the loss has their broadcast shape without the last axis
    (0-d for 1-D and 0-d inputs). Integer inputs are accepted, as torch. Plain reduction.
    """
    a, pos, neg, margin = _triplet_inputs(anchor, positive, negative, margin, reduction)
    p = _check_p(p)
    eps = float(eps)
    d_ap = _Distance(a, pos, p, eps, ("anchor", "positive")).value
    d_an = _Distance(a, neg, p, eps, ("anchor", "negative")).value
    d_pn = _Distance(pos, neg, p, eps, ("positive", "negative")).value if swap else None
    return _triplet_reduce(d_ap, d_an, d_pn, margin, reduction)[1]


def triplet_margin_loss_backward(grad_output, anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, *,
                                 reduction="mean"):
    r"""Gradient of ``triplet_margin_loss``: one entry per array parameter, (anchor, positive, negative).

    With ``z = margin + d(a,p) − d_-`` and ``g_z = g`` where ``z > 0`` (0 at the kink: the
    minimum-norm subgradient), 0 elsewhere:

    * ``d(a,p)`` gets ``g_z``; ``d_-`` gets ``−g_z``, all to ``d(a,n)`` without swap; with swap
      torch.minimum gives it to the smaller of ``d(a,n)``, ``d(p,n)``, half to each at a tie.
    * a distance ``d(u,v) = ||u − v + eps||_p`` with gradient ``h`` gives ``u`` the norm's
      gradient ``N(h)`` and ``v`` ``−N(h)``: ``N = s·h`` (p = 1), ``h·x/||x||`` (p = 2),
      ``s·|x|^(p−1)·h/||x||^(p−1)`` (other p), with ``x = u − v + eps`` and ``s = sign(x)``,
      summed back over broadcasting. Subgradients: 0 where ``||x|| = 0`` (p ≥ 1) or
      ``x_i = 0`` (p = 1 and p < 1); for p = ±inf the gradient is shared equally by the
      entries with ``|x_i| = ||x||`` (all of torch's norm_backward).

    p = 0 (a count) has no gradient in torch: every entry is ``None``; so is any integer
    input. ``margin``, ``p``, ``eps`` and ``swap`` are not arrays (no entry).
    """
    a, pos, neg, margin = _triplet_inputs(anchor, positive, negative, margin, reduction)
    p = _check_p(p)
    eps = float(eps)
    ap = _Distance(a, pos, p, eps, ("anchor", "positive"))
    an = _Distance(a, neg, p, eps, ("anchor", "negative"))
    pn = _Distance(pos, neg, p, eps, ("positive", "negative")) if swap else None
    if p == 0:  # torch's norm_backward returns no gradient for the 0-"norm"
        return (None,) * 3
    z, _ = _triplet_reduce(ap.value, an.value, None if pn is None else pn.value, margin, reduction)
    g_ap, g_an, g_pn = _triplet_grads(grad_output, z, an.value, None if pn is None else pn.value, reduction)
    grads = _distance_grads(ap.backward, an.backward, None if pn is None else pn.backward, g_ap, g_an, g_pn,
                            a.shape, pos.shape, neg.shape)
    return _drop_integer(grads, (anchor, positive, negative))


def _distance_grads(back_ap, back_an, back_pn, g_ap, g_an, g_pn, a_shape, p_shape, n_shape):
    """Sum the three distances' contributions into (d/danchor, d/dpositive, d/dnegative)."""
    ga, gp = back_ap(g_ap)
    ga2, gn = back_an(g_an)
    # Each backward already returns new arrays of its arguments' own shapes (a_shape, ...).
    grad_a = ga + ga2
    grad_p, grad_n = gp, gn
    if back_pn is not None:
        gp2, gn2 = back_pn(g_pn)
        grad_p = grad_p + gp2
        grad_n = grad_n + gn2
    return np.asarray(grad_a), np.asarray(grad_p), np.asarray(grad_n)  # 0-d sums are NumPy scalars


def _drop_integer(grads, originals):
    return tuple(None if is_integer_array(o) else g for g, o in zip(grads, originals))


# --- triplet_margin_with_distance_loss ----------------------------------------------------

class _CustomDistance:
    """A user distance function on NumPy arrays, with its optional ``.backward``."""

    def __init__(self, fn, a: np.ndarray, b: np.ndarray):
        self.fn, self.a, self.b = fn, a, b
        self.value = np.asarray(fn(a.copy(), b.copy()), dtype=np.float64)

    def backward(self, grad: np.ndarray):
        grad = sum_to_shape(grad, self.value.shape)
        ga, gb = self.fn.backward(self.a.copy(), self.b.copy(), grad)
        return sum_to_shape(ga, self.a.shape), sum_to_shape(gb, self.b.shape)


def _with_distance_parts(anchor, positive, negative, distance_function, margin, swap, reduction):
    # torch checks the reduction by hand here: no 'elementwise_mean' alias.
    a, pos, neg, margin = _triplet_inputs(anchor, positive, negative, margin, reduction)
    if distance_function is None:
        def make(u, v, names):
            return _Distance(u, v, 2.0, PAIRWISE_EPS, names)
    elif callable(distance_function):
        def make(u, v, names):
            return _CustomDistance(distance_function, u, v)
    else:
        raise TypeError(f"distance_function must be None or a callable on NumPy arrays, "
                        f"got {type(distance_function).__name__}")
    ap = make(a, pos, ("anchor", "positive"))
    an = make(a, neg, ("anchor", "negative"))
    pn = make(pos, neg, ("positive", "negative")) if swap else None
    return a, pos, neg, margin, ap, an, pn


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    r"""Triplet margin loss with a user distance.

    .. math::
        \ell = \max\bigl(0,\ \text{margin} + d(a, p) - d_-\bigr), \qquad
        d_- = \min(d(a, n), d(p, n)) \text{ if swap else } d(a, n)

    ``d`` is ``distance_function`` -- a function of two NumPy float64 arrays returning a
    NumPy array (the reference of the torch function given to torch) -- or, when None,
    torch.pairwise_distance's default ``||a − b + 1e-6||_2`` over the last axis. The loss
    has the shape the distance returns (broadcast between the three distances).
    ``margin`` must be > 0; the three inputs need the same number of dimensions.
    """
    *_, margin, ap, an, pn = _with_distance_parts(anchor, positive, negative, distance_function, margin, swap,
                                                  reduction)
    return _triplet_reduce(ap.value, an.value, None if pn is None else pn.value, margin, reduction)[1]


def triplet_margin_with_distance_loss_backward(grad_output, anchor, positive, negative, *, distance_function=None,
                                               margin=1.0, swap=False, reduction="mean"):
    r"""Gradient of ``triplet_margin_with_distance_loss`` with respect to (anchor, positive, negative).

    The loss part is ``triplet_margin_loss_backward``'s: ``g_z = g`` where
    ``z = margin + d(a,p) − d_- > 0`` (0 at the kink), ``d(a,p)`` gets ``g_z``, ``d_-``
    gets ``−g_z``, split by torch.minimum under swap (half each at a tie). The distance's
    own gradient comes from:

    * ``distance_function=None``: the p = 2 norm of ``a − b + 1e-6``, ``h·x/||x||`` (0 where
      ``||x|| = 0``), as in ``triplet_margin_loss_backward``;
    * a custom function: the reference cannot differentiate an arbitrary callable (no
      autodiff, by design), so the function must carry a ``backward`` attribute,
      ``backward(a, b, grad) -> (grad_a, grad_b)``, the vector-Jacobian product of the
      distance (``grad`` has the distance's output shape; the results are summed back to
      ``a``'s and ``b``'s shapes if they come broadcast). Without one this raises
      ``TypeError`` naming ``distance_function``. The forward needs no such attribute.

    Integer inputs get ``None``.
    """
    if distance_function is not None and callable(distance_function) and not callable(
            getattr(distance_function, "backward", None)):
        raise TypeError(
            "distance_function has no backward attribute: the reference cannot differentiate an arbitrary "
            "callable; give it .backward(a, b, grad) -> (grad_a, grad_b), or use distance_function=None")
    a, pos, neg, margin, ap, an, pn = _with_distance_parts(anchor, positive, negative, distance_function, margin,
                                                           swap, reduction)
    z, _ = _triplet_reduce(ap.value, an.value, None if pn is None else pn.value, margin, reduction)
    g_ap, g_an, g_pn = _triplet_grads(grad_output, z, an.value, None if pn is None else pn.value, reduction)
    grads = _distance_grads(ap.backward, an.backward, None if pn is None else pn.backward, g_ap, g_an, g_pn,
                            a.shape, pos.shape, neg.shape)
    return _drop_integer(grads, (anchor, positive, negative))
