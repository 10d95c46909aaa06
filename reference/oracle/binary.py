"""Oracle for binary_cross_entropy and binary_cross_entropy_with_logits (loss-semantics §2.3, §2.4)."""

from __future__ import annotations

import numpy as np

from ._num import (ONE, ZERO, array, clamp_min, elementwise, float32, log, log1p, logsigmoid, maximum, num, reduce,
                   sigmoid, upstream)

#: Each log of binary_cross_entropy is clamped at -100 (torch).
LOG_CLAMP = -100.0
#: torch floors x(1 - x) in the input gradient at the float literal 1e-12f.
GRADIENT_FLOOR = float32(1e-12)


def _weight(weight, shape):
    return None if weight is None else np.broadcast_to(array(weight), shape)


def binary_cross_entropy(input, target, weight=None, *, reduction="mean"):
    x, y = array(input), array(target)
    w = _weight(weight, x.shape)

    def element(x, y):
        return (y - ONE) * clamp_min(log1p(-x), LOG_CLAMP) - y * clamp_min(log(x), LOG_CLAMP)

    loss = elementwise(element, x, y)
    if w is not None:
        loss = loss * w
    return reduce(loss, reduction)


def binary_cross_entropy_vjp(grad_output, input, target, weight=None, *, reduction="mean"):
    x, y = array(input), array(target)
    g = upstream(grad_output, reduction, x.shape)
    if weight is not None:
        g = g * _weight(weight, x.shape)
    grad_x = elementwise(lambda g, x, y: g * (x - y) / maximum(x * (ONE - x), num(GRADIENT_FLOOR)), g, x, y)
    # d/dy = g · (log(1 - x) - log x), unclamped (±inf at x in {0, 1})
    grad_y = elementwise(lambda g, x: g * (log1p(-x) - log(x)), g, x)
    return grad_x, grad_y, None


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean", pos_weight=None):
    x, y = array(input), array(target)
    pw = None if pos_weight is None else np.broadcast_to(array(pos_weight), x.shape)

    def element(x, y, p):
        lw = ONE if p is None else ONE + (p - ONE) * y
        return (ONE - y) * x - lw * logsigmoid(x)

    loss = elementwise(lambda x, y: element(x, y, None), x, y) if pw is None else elementwise(element, x, y, pw)
    if weight is not None:
        loss = loss * _weight(weight, x.shape)
    return reduce(loss, reduction)


def binary_cross_entropy_with_logits_vjp(grad_output, input, target, weight=None, *, reduction="mean",
                                         pos_weight=None):
    x, y = array(input), array(target)
    g = upstream(grad_output, reduction, x.shape)
    if weight is not None:
        g = g * _weight(weight, x.shape)
    if pos_weight is None:
        grad_x = elementwise(lambda g, x, y: g * (sigmoid(x) - y), g, x, y)
        grad_y = elementwise(lambda g, x: -(g * x), g, x)
        return grad_x, grad_y, None, None
    pw = np.broadcast_to(array(pos_weight), x.shape)
    grad_x = elementwise(lambda g, x, y, p: g * ((p * y + ONE - y) * sigmoid(x) - p * y), g, x, y, pw)
    grad_y = elementwise(lambda g, x, p: g * (logsigmoid(-x) - p * logsigmoid(x)), g, x, pw)
    # One entry per array parameter (input, target, weight, pos_weight): torch refuses to
    # differentiate weight and pos_weight.
    return grad_x, grad_y, None, None
