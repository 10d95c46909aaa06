"""Oracle for the margin losses (loss-semantics §2.12 - §2.17).

Kinks take the minimum-norm subgradient: a hinge max(0, z) passes its gradient only
where z > 0 strictly.
"""

from __future__ import annotations

import numpy as np

from ._num import (ONE, ZERO, array, elementwise, exp_float64, log1p, logsigmoid, num, reduce, relu, sigmoid,
                   total, unbroadcast, upstream)


def _float(value) -> bool:
    return np.asarray(value).dtype.kind == "f"


def hinge_embedding_loss(input, target, margin=1.0, *, reduction="mean"):
    x, y = array(input), array(target)

    def element(x, y):
        hinge = relu(num(margin) - x) if y.v != 1 else ZERO
        return hinge + (x if y.v != -1 else ZERO)

    return reduce(elementwise(element, x, y), reduction)


def hinge_embedding_loss_vjp(grad_output, input, target, margin=1.0, *, reduction="mean"):
    x, y = array(input), array(target)
    shape = np.broadcast_shapes(x.shape, y.shape)
    g = upstream(grad_output, reduction, shape)

    def element(g, x, y):
        out = g if y.v != -1 else ZERO
        return out - g if (y.v != 1 and (num(margin) - x).v > 0) else out

    return unbroadcast(elementwise(element, g, x, y), x.shape), None   # input, target


def margin_ranking_loss(input1, input2, target, margin=0, *, reduction="mean"):
    x1, x2, y = array(input1), array(input2), array(target)
    return reduce(elementwise(lambda a, b, y: relu(-y * (a - b) + num(margin)), x1, x2, y), reduction)


def margin_ranking_loss_vjp(grad_output, input1, input2, target, margin=0, *, reduction="mean"):
    x1, x2, y = array(input1), array(input2), array(target)
    shape = np.broadcast_shapes(x1.shape, x2.shape, y.shape)
    g = upstream(grad_output, reduction, shape)
    active = elementwise(lambda g, a, b, y: g if (-y * (a - b) + num(margin)).v > 0 else ZERO, g, x1, x2, y)
    grads = (-y * active, y * active, -(x1 - x2) * active)
    return tuple(unbroadcast(d, a.shape) if _float(raw) else None
                 for d, a, raw in zip(grads, (x1, x2, y), (input1, input2, target)))   # one per array parameter


def _matrix(x):
    if x.ndim <= 1:
        return x.reshape(1, 1 if x.ndim == 0 else x.shape[0])
    return x


def _multi_margin_parts(input, target, weight):
    """The target as given, the input as (N, C) rows, N, C, the class weights, the target per row."""
    t = np.asarray(target, dtype=np.int64)
    rows = _matrix(array(input))
    n, classes = rows.shape
    w = [ONE] * classes if weight is None else list(array(weight))
    return t, rows, n, classes, w, t.reshape(n)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, *, reduction="mean"):
    t, rows, n, classes, w, ts = _multi_margin_parts(input, target, weight)
    loss = np.empty(n, dtype=object)
    for i in range(n):
        y = ts[i]
        terms = ZERO
        for c in range(classes):
            z = num(margin) - rows[i, y] + rows[i, c]
            if c != y and z.v > 0:
                terms = terms + w[y] * (z if p == 1 else z * z)
        loss[i] = terms / classes
    return reduce(loss.reshape(t.shape) if t.ndim == 0 else loss, reduction)


def multi_margin_loss_vjp(grad_output, input, target, p=1, margin=1.0, weight=None, *, reduction="mean"):
    shape = np.shape(input)
    t, rows, n, classes, w, ts = _multi_margin_parts(input, target, weight)
    g = upstream(grad_output, reduction, (n,) if t.ndim else ()).reshape(n)
    grad = np.empty(rows.shape, dtype=object)
    for i in range(n):
        y = ts[i]
        scale = g[i] / classes
        entry = [ZERO] * classes
        for c in range(classes):
            z = num(margin) - rows[i, y] + rows[i, c]
            if c != y and z.v > 0:
                d = w[y] * (ONE if p == 1 else num(2) * z) * scale
                entry[c] = d
                entry[y] = entry[y] - d
        grad[i] = entry
    return grad.reshape(shape), None, None   # input, target, weight (torch refuses the weight)


def multilabel_margin_loss(input, target, *, reduction="mean"):
    return _multilabel(None, input, target, reduction)[0]


def multilabel_margin_loss_vjp(grad_output, input, target, *, reduction="mean"):
    return _multilabel(grad_output, input, target, reduction)[1], None


def _multilabel(grad_output, input, target, reduction):
    x = array(input)
    t = np.asarray(target, dtype=np.int64)
    rows = _matrix(x)
    n, classes = rows.shape
    trows = t.reshape(n, classes)
    g = None if grad_output is None else upstream(grad_output, reduction, (n,) if t.ndim == 2 else ()).reshape(n)
    loss = np.empty(n, dtype=object)
    grad = np.empty(rows.shape, dtype=object)
    for i in range(n):
        listed = []
        for label in trows[i]:
            if label < 0:
                break
            listed.append(int(label))   # duplicates kept
        targets = set(listed)
        total_i = ZERO
        entry = [ZERO] * classes
        for j in listed:
            for c in range(classes):
                if c in targets:
                    continue
                z = ONE - rows[i, j] + rows[i, c]
                if z.v > 0:
                    total_i = total_i + z
                    if g is not None:
                        step = g[i] / classes
                        entry[c] = entry[c] + step
                        entry[j] = entry[j] - step
        loss[i] = total_i / classes
        grad[i] = entry
    value = reduce(loss.reshape(()) if t.ndim <= 1 else loss, reduction)
    return value, grad.reshape(x.shape)


def soft_margin_loss(input, target, *, reduction="mean"):
    x, y = array(input), array(target)
    # literal log1p(exp(-y x)): overflows to inf where float64's exp does (torch's formula)
    return reduce(elementwise(lambda x, y: log1p(exp_float64(-y * x)), x, y), reduction)


def soft_margin_loss_vjp(grad_output, input, target, *, reduction="mean"):
    x, y = array(input), array(target)
    g = upstream(grad_output, reduction, x.shape)

    def element(g, x, y):
        z = exp_float64(-y * x)
        return -y * z / (ONE + z) * g     # inf / inf = nan where z overflowed, as torch

    return elementwise(element, g, x, y), None


def _soft_element(x, y):
    return -(y * logsigmoid(x) + (ONE - y) * logsigmoid(-x))


def multilabel_soft_margin_loss(input, target, weight=None, *, reduction="mean"):
    x, y = array(input), array(target)
    loss = elementwise(_soft_element, x, y)
    if weight is not None:
        loss = loss * array(weight)
    classes = x.shape[-1]
    return reduce(total(loss, axis=x.ndim - 1) / num(classes), reduction)


def multilabel_soft_margin_loss_vjp(grad_output, input, target, weight=None, *, reduction="mean"):
    x, y = array(input), array(target)
    w = None if weight is None else array(weight)
    shape = np.broadcast_shapes(x.shape, y.shape, () if w is None else w.shape)
    out_shape = shape[:x.ndim - 1] + shape[x.ndim:]
    classes = x.shape[-1]
    big_g = np.expand_dims(upstream(grad_output, reduction, out_shape), x.ndim - 1) / num(classes)
    scale = big_g if w is None else big_g * w
    grad_x = elementwise(lambda s, x, y: (sigmoid(x) - y) * s, scale, x, y)
    grad_y = elementwise(lambda s, x: (logsigmoid(-x) - logsigmoid(x)) * s, scale, x)
    grad_w = None if w is None else elementwise(lambda g, x, y: _soft_element(x, y) * g, big_g, x, y)
    return (unbroadcast(grad_x, x.shape),
            unbroadcast(grad_y, y.shape) if _float(target) else None,
            None if grad_w is None or not _float(weight) else unbroadcast(grad_w, w.shape))
