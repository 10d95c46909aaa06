"""Oracle for cosine_embedding_loss and the triplet losses (loss-semantics §2.18 - §2.20).

Vectors along the last axis; the kinks take the minimum-norm subgradient (z > 0 strictly),
torch.minimum gives each side half the gradient at a tie.
"""

from __future__ import annotations

import numpy as np

from ._num import (MP, ONE, ZERO, Num, absolute, array, elementwise, float32, num, reduce, relu, sign, sqrt, total,
                   unbroadcast, upstream)

#: torch adds EPSILON = 1e-12f (a C++ float) to each squared norm.
COSINE_EPSILON = float32(1e-12)
#: torch.pairwise_distance's default eps (the default distance of the _with_distance loss).
PAIRWISE_EPS = 1e-6


def _obj(x):
    return np.asarray(x, dtype=object)


def _cosine(x1, x2):
    prod = _obj(total(x1 * x2, axis=-1))
    a = _obj(total(x1 * x1, axis=-1) + num(COSINE_EPSILON))
    b = _obj(total(x2 * x2, axis=-1) + num(COSINE_EPSILON))
    den = elementwise(sqrt, a * b)
    return prod, a, b, den, _obj(prod / den)


def cosine_embedding_loss(input1, input2, target, margin=0, *, reduction="mean"):
    x1, x2, y = array(input1), array(input2), array(target)
    *_, cos = _cosine(x1, x2)

    def element(c, y):
        if y.v == 1:
            return ONE - c
        return relu(c - num(margin)) if y.v == -1 else ZERO

    return reduce(elementwise(element, cos, y), reduction)


def cosine_embedding_loss_vjp(grad_output, input1, input2, target, margin=0, *, reduction="mean"):
    x1, x2, y = array(input1), array(input2), array(target)
    _, a, b, den, cos = _cosine(x1, x2)
    shape = np.broadcast_shapes(y.shape, cos.shape)
    g = upstream(grad_output, reduction, shape)

    def dcos(g, c, y):
        if y.v == 1:
            return -g
        return g if (y.v == -1 and (c - num(margin)).v > 0) else ZERO

    d = unbroadcast(elementwise(dcos, g, cos, y), cos.shape)[..., None]
    c = cos[..., None]
    grad1 = unbroadcast(d * x2 / den[..., None], x1.shape) - unbroadcast(d * c * x1 / a[..., None], x1.shape)
    grad2 = unbroadcast(d * x1 / den[..., None], x2.shape) - unbroadcast(d * c * x2 / b[..., None], x2.shape)
    return grad1, grad2, None   # input1, input2, target


def _norm(diff: np.ndarray, p: float):
    """||diff||_p over the last axis (keepdims), p = 1, 2 or any real p > 0."""
    if p == 1:
        return total(elementwise(absolute, diff), axis=-1, keepdims=True)
    if p == 2:
        return elementwise(sqrt, total(diff * diff, axis=-1, keepdims=True))
    powered = total(elementwise(lambda v: absolute(v) ** p, diff), axis=-1, keepdims=True)
    return elementwise(lambda s: s ** (1 / MP.mpf(p)) if s.v != 0 else ZERO, powered)


def _norm_vjp(h: np.ndarray, diff: np.ndarray, norm: np.ndarray, p: float) -> np.ndarray:
    """h · d||diff||_p / d diff, with the subgradient 0 where the norm (or, p = 1, the entry) is 0."""
    if p == 1:
        return h * elementwise(sign, diff)
    if p == 2:
        return elementwise(lambda h, x, n: h * x / n if n.v != 0 else ZERO, h, diff, norm)
    return elementwise(lambda h, x, n: h * sign(x) * absolute(x) ** (p - 1) / n ** (p - 1) if n.v != 0 else ZERO,
                       h, diff, norm)


class _Distance:
    """||u - v + eps||_p over the last axis and its vector-Jacobian product."""

    def __init__(self, u, v, p, eps):
        self.u_shape, self.v_shape, self.p = u.shape, v.shape, p
        self.diff = _obj(u - v + num(eps))
        self.norm = _norm(self.diff, p)
        self.value = _obj(self.norm[..., 0])

    def vjp(self, h):
        h = unbroadcast(h, self.value.shape)[..., None]
        g = _norm_vjp(h, self.diff, self.norm, self.p)
        return unbroadcast(g, self.u_shape), unbroadcast(-g, self.v_shape)


def _triplet(a, pos, neg, p, eps, swap):
    ap, an = _Distance(a, pos, p, eps), _Distance(a, neg, p, eps)
    pn = _Distance(pos, neg, p, eps) if swap else None
    return ap, an, pn


def _z(ap, an, pn, margin):
    d_neg = an.value if pn is None else elementwise(lambda x, y: x if x.v <= y.v else y, an.value, pn.value)
    return _obj(num(margin) + ap.value - d_neg)


def _triplet_value(ap, an, pn, margin, reduction):
    return reduce(elementwise(relu, _z(ap, an, pn, margin)), reduction)


def _triplet_vjp(grad_output, a, pos, neg, ap, an, pn, margin, reduction):
    z = _z(ap, an, pn, margin)
    g = upstream(grad_output, reduction, z.shape)
    gz = elementwise(lambda g, z: g if z.v > 0 else ZERO, g, z)
    if pn is None:
        g_an, g_pn = -gz, None
    else:
        share = elementwise(lambda x, y: ONE if x.v < y.v else (num(0.5) if x.v == y.v else ZERO), an.value, pn.value)
        g_an, g_pn = -gz * share, -gz * (ONE - share)
    ga, gp = ap.vjp(gz)
    ga2, gn = an.vjp(g_an)
    grad_a, grad_p, grad_n = ga + ga2, gp, gn
    if pn is not None:
        gp2, gn2 = pn.vjp(g_pn)
        grad_p, grad_n = grad_p + gp2, grad_n + gn2
    return grad_a, grad_p, grad_n


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, *, reduction="mean"):
    a, pos, neg = array(anchor), array(positive), array(negative)
    return _triplet_value(*_triplet(a, pos, neg, float(p), float(eps), swap), margin, reduction)


def triplet_margin_loss_vjp(grad_output, anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, *,
                            reduction="mean"):
    a, pos, neg = array(anchor), array(positive), array(negative)
    parts = _triplet(a, pos, neg, float(p), float(eps), swap)
    return _triplet_vjp(grad_output, a, pos, neg, *parts, margin, reduction)   # anchor, positive, negative


#: The distance functions a fixture may name (lossref.fixtures.DISTANCES): torch.pairwise_distance
#: with these (p, eps); None is torch's default, pairwise_distance with p = 2.
NAMED_DISTANCES = {"pairwise_distance": (2.0, PAIRWISE_EPS), "pairwise_distance_p1": (1.0, PAIRWISE_EPS)}


def _named_distance(distance_function):
    """(p, eps) of the pairwise distance ``distance_function`` names (None: the default)."""
    if distance_function is None:
        return 2.0, PAIRWISE_EPS
    if isinstance(distance_function, str) and distance_function in NAMED_DISTANCES:
        return NAMED_DISTANCES[distance_function]
    raise TypeError("the oracle evaluates the default distance (torch.pairwise_distance) and the named ones "
                    f"({', '.join(NAMED_DISTANCES)}) only")


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    a, pos, neg = array(anchor), array(positive), array(negative)
    return _triplet_value(*_triplet(a, pos, neg, *_named_distance(distance_function), swap), margin, reduction)


def triplet_margin_with_named_distance_vjp(grad_output, anchor, positive, negative, *, distance_function,
                                           margin=1.0, swap=False, reduction="mean"):
    """The VJP of ``triplet_margin_with_distance_loss`` with a named pairwise distance
    (``NAMED_DISTANCES``), for (anchor, positive, negative): ``evaluate`` uses it where a
    fixture names its ``distance_function``."""
    a, pos, neg = array(anchor), array(positive), array(negative)
    parts = _triplet(a, pos, neg, *_named_distance(distance_function), swap)
    return _triplet_vjp(grad_output, a, pos, neg, *parts, margin, reduction)


def triplet_margin_with_distance_loss_vjp(grad_output, anchor, positive, negative, *, distance_function=None,
                                          margin=1.0, swap=False, reduction="mean"):
    if distance_function is not None:
        raise TypeError("the oracle evaluates the default distance (torch.pairwise_distance) only")
    a, pos, neg = array(anchor), array(positive), array(negative)
    parts = _triplet(a, pos, neg, 2.0, PAIRWISE_EPS, swap)
    return _triplet_vjp(grad_output, a, pos, neg, *parts, margin, reduction)
