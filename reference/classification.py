"""Multi-class classification losses: ``nll_loss`` and ``cross_entropy``.

Shapes follow torch: the class axis is 0 for an unbatched ``(C)`` input and 1 otherwise,
so ``(C)``, ``(N, C)`` and ``(N, C, d1, ..., dk)`` are all accepted (the article's
``NLLLoss2d`` is the ``(N, C, H, W)`` case of ``nll_loss``). Class-index targets have
the input's shape without the class axis.
"""

from __future__ import annotations

__all__ = ["nll_loss", "nll_loss_backward", "cross_entropy", "cross_entropy_backward",
           "linear_cross_entropy", "linear_cross_entropy_backward"]

import numpy as np

from ._common import (
    as_float,
    as_index,
    check_reduction,
    check_weight,
    log_softmax,
    reduce,
    softmax,
    unreduce,
)


def _class_axis(x: np.ndarray) -> int:
    if x.ndim == 0:
        raise ValueError("input must have at least 1 dimension (the classes), got a 0-d array")
    return 0 if x.ndim == 1 else 1


def _index_target(target, x: np.ndarray, ignore_index: int) -> np.ndarray:
    """Check a class-index target against the input the way torch does; return it as int64."""
    raw = np.asarray(target)
    if raw.dtype.kind in "iu" and raw.dtype not in (np.int64, np.uint8):
        raise TypeError(f"target must hold class indices as int64 or uint8, got dtype {raw.dtype}")
    t = as_index("target", raw)
    axis = _class_axis(x)
    if x.ndim == 1:
        if t.shape not in ((), (1,)):
            raise ValueError(f"target for an unbatched (C) input must be 0-d or of shape (1,), got {t.shape}")
        t = t.reshape(())
    else:
        if t.ndim == 0:
            raise ValueError(f"target must have shape {x.shape[:1] + x.shape[2:]}, got a 0-d array")
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"target batch size ({t.shape[0]}) must match input batch size ({x.shape[0]})")
        expected = x.shape[:axis] + x.shape[axis + 1:]
        if t.shape != expected:
            raise ValueError(f"target must have shape {expected} for input of shape {x.shape}, got {t.shape}")
    classes = x.shape[axis]
    out_of_range = (t != ignore_index) & ((t < 0) | (t >= classes))
    if np.any(out_of_range):
        bad = t[out_of_range].flat[0]
        raise IndexError(
            f"target holds class index {bad}, outside [0, {classes}) and not ignore_index ({ignore_index})"
        )
    return t


def _pick(x: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """x[..., index, ...] along the class axis, one entry per target position."""
    return np.take_along_axis(x, np.expand_dims(index, axis), axis=axis).squeeze(axis)


def _log_softmax_at(x: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """``_pick(log_softmax(x, axis), index, axis)`` without forming the log-softmax:
    ``(x_y - max) - log Σ_c exp(x_c - max)``, the same operations on the same values.

    One temporary of x's size (the exponentials) instead of three: at 4096 x 1024 this
    took cross_entropy from 1.8x torch's time and 3x its input's memory to ~1x and 1x.
    """
    m = np.max(x, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.subtract(x, m)
        log_sum = np.log(np.sum(np.exp(e, out=e), axis=axis))
        return (_pick(x, index, axis) - m.squeeze(axis)) - log_sum


def _target_weights(t: np.ndarray, weight, classes: int, ignore_index: int):
    """Per-position weight w[t] (0 where the target is ignored) and the ignored mask."""
    kept = t != ignore_index
    safe = np.where(kept, t, 0)
    w = np.ones(classes) if weight is None else weight
    return np.where(kept, w[safe] if classes else 0.0, 0.0), kept, safe


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    r"""Negative log-likelihood of class-index targets, with the input taken as log-probabilities.

    .. math::
        \ell_n = -w_{y_n}\, x_{n, y_n} \quad (0 \text{ if } y_n = \text{ignore\_index}),
        \qquad
        \text{mean} = \frac{\sum_n \ell_n}{\sum_{n:\, y_n \ne \text{ignore\_index}} w_{y_n}}

    The weighted mean divides by the total weight of the targets that are not ignored
    (not by N): every target ignored gives 0/0 = nan. No log or softmax is applied.
    """
    check_reduction(reduction)
    x = as_float("input", input)
    axis = _class_axis(x)
    t = _index_target(target, x, ignore_index)
    classes = x.shape[axis]
    w = None if weight is None else check_weight("weight", weight, classes)
    wt, kept, safe = _target_weights(t, w, classes, ignore_index)
    picked = _pick(x, safe, axis) if classes else np.zeros(t.shape)
    loss = np.where(kept, -wt * picked, 0.0)
    return reduce(loss, reduction, denominator=np.sum(wt))


def nll_loss_backward(grad_output, input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    r"""Gradient of ``nll_loss``: only the target entry of each position moves.

    .. math:: \partial \ell / \partial x_{n,c} = -w_{y_n} [c = y_n]\, g_n / D

    with ``D`` the weighted-mean denominator (1 for ``'sum'`` and ``'none'``), and 0 for
    ignored positions. ``target`` and ``weight`` get ``None`` (torch: not differentiable).
    """
    check_reduction(reduction)
    x = as_float("input", input)
    axis = _class_axis(x)
    t = _index_target(target, x, ignore_index)
    classes = x.shape[axis]
    w = None if weight is None else check_weight("weight", weight, classes)
    wt, kept, safe = _target_weights(t, w, classes, ignore_index)
    # Ignored positions get exactly 0, even where g is inf or nan (all ignored: g = g/0).
    g = np.where(kept, unreduce(grad_output, reduction, t.shape, denominator=np.sum(wt)), 0.0)
    grad = np.zeros_like(x)
    if classes:
        np.put_along_axis(grad, np.expand_dims(safe, axis), np.expand_dims(-wt * g, axis), axis)
    return grad, None, None


def _smoothing(label_smoothing) -> float:
    eps = float(label_smoothing)
    if eps > 1.0:
        raise ValueError(f"label_smoothing must be in [0.0, 1.0], got {label_smoothing}")
    # torch treats a negative label_smoothing as 0 (no error); so do we.
    return max(eps, 0.0)


def _is_probability_target(x: np.ndarray, target) -> bool:
    # torch decides the mode by shape alone: a target with the input's shape is a
    # class-probability target, whatever its dtype.
    return np.shape(target) == x.shape


def _probability_target(target, x: np.ndarray, ignore_index: int) -> np.ndarray:
    if np.asarray(target).dtype.kind != "f":
        raise TypeError(
            f"target has the input's shape {x.shape}, so it must hold class probabilities as floats, "
            f"got dtype {np.asarray(target).dtype}"
        )
    if ignore_index >= 0:
        raise ValueError(f"ignore_index ({ignore_index}) is not supported with class-probability targets")
    return as_float("target", target)


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    r"""Cross-entropy between logits and a class-index or class-probability target.

    With ``lsm = log_softmax(input)`` over the class axis, ``C`` classes, smoothing ``ε``:

    Class indices (``D`` = total weight of the targets that are not ignored)::

        ℓ_n  = (1 - ε) · (-w[y_n] · lsm[n, y_n]) + (ε / C) · (-Σ_c w[c] · lsm[n, c])
        mean = Σ_n ℓ_n / D          (ignored positions contribute 0 to both sums)

    Class probabilities ``p`` (same shape as the input)::

        p'   = (1 - ε) · p + ε / C
        ℓ_n  = -Σ_c w[c] · p'[n, c] · lsm[n, c]
        mean = Σ_n ℓ_n / (input.size / C)      (the weights are not in the denominator)

    ``lsm`` is computed by log-sum-exp, so logits of ±1e4 give exact, finite answers.
    """
    check_reduction(reduction)
    eps = _smoothing(label_smoothing)
    x = as_float("input", input)
    axis = _class_axis(x)
    classes = x.shape[axis]
    w = None if weight is None else check_weight("weight", weight, classes)
    w_c = np.ones(classes) if w is None else w
    w_c = w_c.reshape((classes,) + (1,) * (x.ndim - axis - 1))  # broadcast along the class axis

    if _is_probability_target(x, target):
        p = _probability_target(target, x, ignore_index)
        if eps > 0.0:
            p = (1.0 - eps) * p + eps / classes
        terms = log_softmax(x, axis)
        terms *= p                      # in place on our own array: w·p·lsm without two more temporaries
        if w is not None:
            terms *= w_c
        loss = -np.sum(terms, axis=axis)
        positions = x.size // classes if classes else 0
        return reduce(loss, reduction, denominator=positions)

    t = _index_target(target, x, ignore_index)
    wt, kept, safe = _target_weights(t, w, classes, ignore_index)
    nll = np.where(kept, -wt * _log_softmax_at(x, safe, axis), 0.0) if classes else np.zeros(t.shape)
    if eps > 0.0:
        lsm = log_softmax(x, axis)
        smooth = np.where(kept, -np.sum(w_c * lsm, axis=axis), 0.0)
        loss = (1.0 - eps) * nll + (eps / classes) * smooth
    else:
        loss = nll
    return reduce(loss, reduction, denominator=np.sum(wt))


def cross_entropy_backward(grad_output, input, target, weight=None, *, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0):
    r"""Gradient of ``cross_entropy``, from d lsm[c] / d x[k] = [c = k] - softmax(x)[k].

    Class indices, ``s = softmax(input)``, per position ``n`` not ignored::

        d ℓ / d x[n] = g_n · [ (1 - ε) · w[y_n] · (s[n] - onehot(y_n)) + (ε / C) · ((Σ_c w[c]) · s[n] - w) ] / D

    Class probabilities (``p'`` the smoothed target, ``D = input.size / C`` for ``'mean'``)::

        d ℓ / d x[n] = g_n · ( s[n] · Σ_c w[c] p'[n, c] - w ⊙ p'[n] ) / D
        d ℓ / d p[n] = -g_n · (1 - ε) · w ⊙ lsm[n] / D
        d ℓ / d w[c] = -Σ_n g_n · p'[n, c] · lsm[n, c] / D

    The entries are (input, target, weight). The index target and the weight of the index
    path get ``None`` (torch: not differentiable); so does a weight that was not given.
    """
    check_reduction(reduction)
    eps = _smoothing(label_smoothing)
    x = as_float("input", input)
    axis = _class_axis(x)
    classes = x.shape[axis]
    w = None if weight is None else check_weight("weight", weight, classes)
    w_c = np.ones(classes) if w is None else w
    w_c = w_c.reshape((classes,) + (1,) * (x.ndim - axis - 1))
    # The arrays of x's size below are our own (softmax, log_softmax, products): they are
    # updated in place, which keeps the peak at ~2 arrays of x's size instead of ~6.

    if _is_probability_target(x, target):
        p = _probability_target(target, x, ignore_index)
        p_smooth = (1.0 - eps) * p + eps / classes if eps > 0.0 else p
        shape = x.shape[:axis] + x.shape[axis + 1:]
        g = np.expand_dims(unreduce(grad_output, reduction, shape,
                                    denominator=x.size // classes if classes else 0), axis)
        lsm = log_softmax(x, axis)
        grad_weight = None
        if w is not None:
            summed = tuple(a for a in range(x.ndim) if a != axis)
            grad_weight = -np.sum(g * p_smooth * lsm, axis=summed)
        wp = w_c * p_smooth if w is not None else p_smooth
        grad_input = np.exp(lsm)                                    # s
        grad_input *= np.sum(wp, axis=axis, keepdims=True)          # s · Σ_c w[c] p'[c]
        grad_input -= wp                                            #   - w ⊙ p'
        grad_input *= g
        grad_target = lsm
        grad_target *= -(1.0 - eps) * g                             # -g (1 - ε) lsm
        if w is not None:
            grad_target *= w_c
        return grad_input, grad_target, grad_weight

    t = _index_target(target, x, ignore_index)
    wt, kept, safe = _target_weights(t, w, classes, ignore_index)
    g = unreduce(grad_output, reduction, t.shape, denominator=np.sum(wt))
    g = np.expand_dims(np.where(kept, g, 0.0), axis)
    s = softmax(x, axis)
    smooth = (eps / classes) * (np.sum(w_c) * s - w_c) if eps > 0.0 else None
    grad_input = s                                                  # s - onehot(y), in place:
    if classes:
        at_target = np.expand_dims(safe, axis)
        np.put_along_axis(grad_input, at_target, np.take_along_axis(s, at_target, axis) - 1.0, axis)
    grad_input *= (1.0 - eps) * np.expand_dims(wt, axis)
    if smooth is not None:
        grad_input += smooth
    grad_input *= g
    return grad_input, None, None


def _linear_logits(input, linear_weight, linear_bias):
    """logits = input @ linear_weight.T + linear_bias, shaped (N, C, *out_features)."""
    x = as_float("input", input)
    w = as_float("linear_weight", linear_weight)
    if x.ndim not in (1, 2):
        raise ValueError(f"input must be 1-D (in_features,) or 2-D (N, in_features), got shape {x.shape}")
    if w.ndim < 2:
        raise ValueError(f"linear_weight must have at least 2 dimensions (C, ..., in_features), got shape {w.shape}")
    if x.shape[-1] != w.shape[-1]:
        raise ValueError(f"input and linear_weight must share the last dimension (in_features), "
                         f"got {x.shape[-1]} and {w.shape[-1]}")
    if w.ndim > 2 and x.ndim == 1:
        raise ValueError(f"linear_weight of shape {w.shape} makes a K-dimensional loss, which needs a batched "
                         f"input (N, {x.shape[-1]}); got input of shape {x.shape}")
    logits = np.tensordot(x, w, axes=([-1], [-1]))  # (N, C, *out_features) or (C,)
    if linear_bias is not None:
        b = as_float("linear_bias", linear_bias)
        if b.shape != w.shape[:-1]:
            raise ValueError(f"linear_bias must have shape {w.shape[:-1]}, got {b.shape}")
        logits = logits + b
    return x, w, logits


def _linear_ignore_index(logits, target, ignore_index):
    if ignore_index is not None and _is_probability_target(logits, target):
        raise ValueError("ignore_index cannot be given when target holds class probabilities")
    return -100 if ignore_index is None else ignore_index


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0):
    r"""Cross-entropy of a linear projection: ``cross_entropy(input @ linear_weight.T + linear_bias, target)``.

    ``linear_weight`` is ``(C, in_features)``, or ``(C, d1, ..., dk, in_features)`` for a
    K-dimensional loss (then the logits are ``(N, C, d1, ..., dk)``). ``ignore_index=None``
    means -100 for class indices and is the only value allowed with probabilities.
    torch's ``options`` (a chunked, memory-saving evaluation of the same value) is not a
    parameter here: it changes how, not what.
    """
    _, _, logits = _linear_logits(input, linear_weight, linear_bias)
    ignore_index = _linear_ignore_index(logits, target, ignore_index)
    return cross_entropy(logits, target, weight, ignore_index=ignore_index, reduction=reduction,
                         label_smoothing=label_smoothing)


def linear_cross_entropy_backward(grad_output, input, linear_weight, target, *, linear_bias=None, weight=None,
                                  reduction="mean", ignore_index=None, label_smoothing=0.0):
    r"""Gradient of ``linear_cross_entropy`` by the chain rule through the projection.

    With ``G = d loss / d logits`` from ``cross_entropy_backward``::

        d loss / d input          = Σ_{c, d...} G[n, c, d...] · W[c, d..., :]
        d loss / d linear_weight  = Σ_n G[n, c, d...] · input[n, :]
        d loss / d target         = cross_entropy's target gradient (probability targets only)
        d loss / d linear_bias    = Σ_n G[n, c, d...]
        d loss / d weight         = cross_entropy's weight gradient (probability targets only)

    One entry per array parameter: (input, linear_weight, target, linear_bias, weight).
    ``linear_bias`` and ``weight`` are keyword-only and get None when not given; the
    class-index target and the weight of class-index targets get None (torch:
    ``nll_loss`` is not differentiable with respect to its weight).
    """
    x, w, logits = _linear_logits(input, linear_weight, linear_bias)
    ignore_index = _linear_ignore_index(logits, target, ignore_index)
    grad_logits, grad_target, grad_class_weight = cross_entropy_backward(
        grad_output, logits, target, weight, ignore_index=ignore_index, reduction=reduction,
        label_smoothing=label_smoothing)
    class_axes = list(range(x.ndim - 1, grad_logits.ndim))       # C and out_features
    grad_input = np.tensordot(grad_logits, w, axes=(class_axes, list(range(w.ndim - 1))))
    batch_axes = list(range(x.ndim - 1))
    grad_weight = np.tensordot(grad_logits, x, axes=(batch_axes, batch_axes))
    # The bias is added to every row of the logits: its gradient sums G over the batch.
    grad_bias = None if linear_bias is None else np.asarray(np.sum(grad_logits, axis=tuple(batch_axes)),
                                                            dtype=np.float64).reshape(w.shape[:-1])
    return grad_input, grad_weight, grad_target, grad_bias, grad_class_weight
