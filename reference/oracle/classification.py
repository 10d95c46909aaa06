"""Oracle for cross_entropy, nll_loss and linear_cross_entropy (loss-semantics §2.1, §2.2, §2.22).

Written per position: the class axis is moved last, each position's row is a list of
classes. Gradients are the hand-derived closed forms, d lsm[c]/d x[k] = [c = k] - s[k].
"""

from __future__ import annotations

import numpy as np

from ._num import ONE, ZERO, Num, array, exp, log_softmax_rows, num, reduce, total, unbroadcast, upstream


def _rows(x: np.ndarray):
    """(class axis, x with the classes last)."""
    axis = 0 if x.ndim == 1 else 1
    return axis, np.moveaxis(x, axis, -1)


def _back(grad_last: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(grad_last, -1, axis)


def _class_weights(weight, classes):
    return [ONE] * classes if weight is None else list(array(weight))


def _smoothing(label_smoothing) -> Num:
    return num(max(float(label_smoothing), 0.0))


def _index_parts(x, target, weight, ignore_index):
    axis, rows = _rows(x)
    t = np.asarray(target, dtype=np.int64).reshape(rows.shape[:-1])
    classes = rows.shape[-1]
    w = _class_weights(weight, classes)
    kept = t != ignore_index
    wt = np.empty(t.shape, dtype=object)
    for index in np.ndindex(t.shape):
        wt[index] = w[t[index]] if kept[index] else ZERO
    return axis, rows, t, classes, w, kept, wt


def _denominator(wt):
    return total(wt)


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    axis, rows, t, classes, w, kept, wt = _index_parts(array(input), target, weight, ignore_index)
    loss = np.empty(t.shape, dtype=object)
    for index in np.ndindex(t.shape):
        loss[index] = -(wt[index] * rows[index][t[index]]) if kept[index] else ZERO
    return reduce(loss, reduction, _denominator(wt))


def nll_loss_vjp(grad_output, input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    x = array(input)
    axis, rows, t, classes, w, kept, wt = _index_parts(x, target, weight, ignore_index)
    g = upstream(grad_output, reduction, t.shape, _denominator(wt))
    grad = np.empty(rows.shape, dtype=object)
    for index in np.ndindex(t.shape):
        entry = [ZERO] * classes
        if kept[index]:
            entry[t[index]] = -(wt[index] * g[index])
        grad[index] = entry
    return _back(grad, axis), None, None


def _is_probability(x, target) -> bool:
    return np.shape(target) == x.shape


def _probability_parts(x, target, weight):
    """Probability targets: the class axis, the input as rows of classes, C, the class
    weights, the target moved like the input, and the rows' log-softmax."""
    axis, rows = _rows(x)
    classes = rows.shape[-1]
    return (axis, rows, classes, _class_weights(weight, classes), np.moveaxis(array(target), axis, -1),
            log_softmax_rows(rows))


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    x = array(input)
    eps = _smoothing(label_smoothing)
    if _is_probability(x, target):
        axis, rows, classes, w, p, lsm = _probability_parts(x, target, weight)
        loss = np.empty(rows.shape[:-1], dtype=object)
        for index in np.ndindex(loss.shape):
            smoothed = [(ONE - eps) * p[index][c] + eps / classes for c in range(classes)]
            loss[index] = -sum((w[c] * smoothed[c] * lsm[index][c] for c in range(classes)), ZERO)
        return reduce(loss, reduction, num(loss.size))
    axis, rows, t, classes, w, kept, wt = _index_parts(x, target, weight, ignore_index)
    lsm = log_softmax_rows(rows)
    loss = np.empty(t.shape, dtype=object)
    for index in np.ndindex(t.shape):
        if not kept[index]:
            loss[index] = ZERO
            continue
        nll = -(wt[index] * lsm[index][t[index]])
        if eps.v > 0:
            smooth = -sum((w[c] * lsm[index][c] for c in range(classes)), ZERO)
            loss[index] = (ONE - eps) * nll + eps / classes * smooth
        else:
            loss[index] = nll
    return reduce(loss, reduction, _denominator(wt))


def cross_entropy_vjp(grad_output, input, target, weight=None, *, ignore_index=-100, reduction="mean",
                      label_smoothing=0.0):
    x = array(input)
    eps = _smoothing(label_smoothing)
    if _is_probability(x, target):
        axis, rows, classes, w, p, lsm = _probability_parts(x, target, weight)
        g = upstream(grad_output, reduction, rows.shape[:-1], num(int(np.prod(rows.shape[:-1], dtype=np.int64))))
        grad_x = np.empty(rows.shape, dtype=object)
        grad_p = np.empty(rows.shape, dtype=object)
        grad_w = [ZERO] * classes
        for index in np.ndindex(rows.shape[:-1]):
            s = [exp(v) for v in lsm[index]]
            smoothed = [(ONE - eps) * p[index][c] + eps / classes for c in range(classes)]
            mass = sum((w[c] * smoothed[c] for c in range(classes)), ZERO)
            gn = g[index]
            grad_x[index] = [gn * (s[c] * mass - w[c] * smoothed[c]) for c in range(classes)]
            grad_p[index] = [-(gn * (ONE - eps) * w[c] * lsm[index][c]) for c in range(classes)]
            for c in range(classes):
                grad_w[c] = grad_w[c] - gn * smoothed[c] * lsm[index][c]
        weight_grad = None if weight is None else np.array(grad_w + [None], dtype=object)[:-1]
        return _back(grad_x, axis), _back(grad_p, axis), weight_grad
    axis, rows, t, classes, w, kept, wt = _index_parts(x, target, weight, ignore_index)
    lsm = log_softmax_rows(rows)
    g = upstream(grad_output, reduction, t.shape, _denominator(wt))
    w_sum = sum(w, ZERO)
    grad = np.empty(rows.shape, dtype=object)
    for index in np.ndindex(t.shape):
        if not kept[index]:
            grad[index] = [ZERO] * classes
            continue
        s = [exp(v) for v in lsm[index]]
        y = t[index]
        entry = []
        for c in range(classes):
            term = (ONE - eps) * wt[index] * ((s[c] - ONE) if c == y else s[c])
            if eps.v > 0:
                term = term + eps / classes * (w_sum * s[c] - w[c])
            entry.append(g[index] * term)
        grad[index] = entry
    return _back(grad, axis), None, None


def _linear_logits(input, linear_weight, linear_bias):
    x, w = array(input), array(linear_weight)
    logits = np.tensordot(x, w, axes=([-1], [-1]))
    if linear_bias is not None:
        logits = logits + array(linear_bias)
    return x, w, np.asarray(logits, dtype=object)


def _linear_ignore(ignore_index):
    return -100 if ignore_index is None else ignore_index


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0):
    _, _, logits = _linear_logits(input, linear_weight, linear_bias)
    return cross_entropy(logits, target, weight, ignore_index=_linear_ignore(ignore_index), reduction=reduction,
                         label_smoothing=label_smoothing)


def linear_cross_entropy_vjp(grad_output, input, linear_weight, target, *, linear_bias=None, weight=None,
                             reduction="mean", ignore_index=None, label_smoothing=0.0):
    x, w, logits = _linear_logits(input, linear_weight, linear_bias)
    grad_logits, grad_target, grad_class_weight = cross_entropy_vjp(grad_output, logits, target, weight,
                                                    ignore_index=_linear_ignore(ignore_index), reduction=reduction,
                                                    label_smoothing=label_smoothing)
    class_axes = list(range(x.ndim - 1, grad_logits.ndim))
    grad_input = np.tensordot(grad_logits, w, axes=(class_axes, list(range(w.ndim - 1))))
    batch_axes = list(range(x.ndim - 1))
    grad_weight = np.tensordot(grad_logits, x, axes=(batch_axes, batch_axes))
    # The bias is added to every row of the logits: the sum of their gradient over the batch.
    grad_bias = None if linear_bias is None else unbroadcast(grad_logits, np.shape(linear_bias))
    # One entry per array parameter: input, linear_weight, target, linear_bias, weight.
    return (np.asarray(grad_input, dtype=object), np.asarray(grad_weight, dtype=object), grad_target, grad_bias,
            grad_class_weight)
