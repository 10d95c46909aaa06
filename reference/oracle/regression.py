"""Oracle for l1_loss, mse_loss, smooth_l1_loss and huber_loss (loss-semantics §2.8 - §2.11).

``d = input - target`` after broadcasting; the gradients are summed back to each argument.
Weighted l1 and mse divide their mean by Σw, weighted huber by the count (torch).
"""

from __future__ import annotations

import numpy as np

from ._num import (ONE, absolute, array, elementwise, maximum, minimum, num, reduce, sign, total, unbroadcast,
                   upstream)


def _difference(input, target):
    x, y = array(input), array(target)
    return x, y, np.asarray(x - y, dtype=object)


def _split(grad_d, x, y):
    return unbroadcast(grad_d, x.shape), unbroadcast(-grad_d, y.shape)


def _weighted(loss, weight, reduction):
    if weight is None:
        return reduce(loss, reduction)
    w = array(weight)
    return reduce(loss * w, reduction, total(w))


def _weight_vjp(grad_output, reduction, loss, weight):
    """d/dw of the weighted l1 or mse, ``loss`` the unweighted element losses: ``g ℓ`` summed
    back to w's shape for 'none' and 'sum'; for 'mean', ``Σwℓ / Σw`` by the quotient rule,
    ``(g / Σw) ℓ`` summed back, minus ``(g / Σw) · (Σwℓ / Σw)`` on every entry. None for a
    weight not given or not floating (torch gives none)."""
    if weight is None or np.asarray(weight).dtype.kind != "f":
        return None
    w = array(weight)
    if reduction != "mean":
        return unbroadcast(upstream(grad_output, reduction, loss.shape) * loss, w.shape)
    s = total(w)
    g_over_s = upstream(grad_output, "mean", (), s)[()]
    mean = total(loss * w) / s
    return unbroadcast(upstream(grad_output, "mean", loss.shape, s) * loss, w.shape) - g_over_s * mean


def l1_loss(input, target, *, reduction="mean", weight=None):
    _, _, d = _difference(input, target)
    return _weighted(elementwise(absolute, d), weight, reduction)


def l1_loss_vjp(grad_output, input, target, *, reduction="mean", weight=None):
    x, y, d = _difference(input, target)
    w = None if weight is None else array(weight)
    g = upstream(grad_output, reduction, d.shape, None if w is None else total(w))
    if w is not None:
        g = g * w
    # one entry per array parameter: input, target, weight
    return _split(g * elementwise(sign, d), x, y) + (_weight_vjp(grad_output, reduction, elementwise(absolute, d),
                                                                 weight),)


def mse_loss(input, target, *, reduction="mean", weight=None):
    _, _, d = _difference(input, target)
    return _weighted(d * d, weight, reduction)


def mse_loss_vjp(grad_output, input, target, *, reduction="mean", weight=None):
    x, y, d = _difference(input, target)
    w = None if weight is None else array(weight)
    g = upstream(grad_output, reduction, d.shape, None if w is None else total(w))
    if w is not None:
        g = g * w
    # one entry per array parameter: input, target, weight
    return _split(num(2) * g * d, x, y) + (_weight_vjp(grad_output, reduction, d * d, weight),)


def _clamp(z, low, high):
    return minimum(maximum(z, num(low)), num(high))


def smooth_l1_loss(input, target, *, reduction="mean", beta=1.0):
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    _, _, d = _difference(input, target)
    b = num(beta)

    def element(d):
        z = absolute(d)
        return num(0.5) * z * z / b if z.v < b.v else z - num(0.5) * b

    return reduce(elementwise(element, d), reduction)


def smooth_l1_loss_vjp(grad_output, input, target, *, reduction="mean", beta=1.0):
    if beta == 0:
        return l1_loss_vjp(grad_output, input, target, reduction=reduction)[:2]   # (input, target)
    x, y, d = _difference(input, target)
    g = upstream(grad_output, reduction, d.shape)
    return _split(g * elementwise(lambda d: _clamp(d / num(beta), -1.0, 1.0), d), x, y)


def _huber(d, delta):
    z = absolute(d)
    return num(0.5) * z * z if z.v < delta.v else delta * (z - num(0.5) * delta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _, _, d = _difference(input, target)
    loss = elementwise(lambda d: _huber(d, num(delta)), d)
    if weight is not None:
        loss = loss * array(weight)
    return reduce(loss, reduction)


def huber_loss_vjp(grad_output, input, target, reduction="mean", delta=1.0, weight=None):
    x, y, d = _difference(input, target)
    g = upstream(grad_output, reduction, d.shape)
    grad_d = elementwise(lambda d: _clamp(d, -delta, delta), d)
    if weight is None:
        return _split(g * grad_d, x, y) + (None,)   # one entry per array parameter: input, target, weight
    w = array(weight)
    grad_w = unbroadcast(g * elementwise(lambda d: _huber(d, num(delta)), d), w.shape)
    return _split(g * w * grad_d, x, y) + (grad_w,)
