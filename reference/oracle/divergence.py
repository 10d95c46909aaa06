"""Oracle for kl_div, poisson_nll_loss and gaussian_nll_loss (loss-semantics §2.5 - §2.7)."""

from __future__ import annotations

import numpy as np

from ._num import (MP, ONE, ZERO, Num, array, const, elementwise, exp, log, maximum, num, reduce, unbroadcast,
                   upstream)

_HALF_LOG_2PI = const(MP.log(2 * MP.pi) / 2)
_TWO_PI = const(2 * MP.pi)


def _xlogy_self(t: Num) -> Num:
    """t log t with 0 log 0 = 0; nan for t < 0 (torch.xlogy)."""
    return ZERO if t.v == 0 else t * log(t)


def _kl_reduction(x, reduction):
    if reduction == "batchmean":
        return "mean", (x.shape[0] if x.ndim else 1)
    return reduction, None


def kl_div(input, target, *, reduction="mean", log_target=False):
    x, t = array(input), array(target)
    reduction, denominator = _kl_reduction(x, reduction)
    if log_target:
        loss = elementwise(lambda x, t: exp(t) * (t - x), x, t)
    else:
        loss = elementwise(lambda x, t: _xlogy_self(t) - t * x, x, t)
    return reduce(loss, reduction, denominator)


def kl_div_vjp(grad_output, input, target, *, reduction="mean", log_target=False):
    x, t = array(input), array(target)
    reduction, denominator = _kl_reduction(x, reduction)
    g = upstream(grad_output, reduction, np.broadcast_shapes(x.shape, t.shape), denominator)
    if log_target:
        grad_x = elementwise(lambda g, t: -(g * exp(t)), g, t)
        grad_t = elementwise(lambda g, x, t: g * exp(t) * (t - x) + g * exp(t), g, x, t)
    else:
        grad_x = elementwise(lambda g, t: -(g * t), g, t)
        # d xlogy(t, t)/dt = log t + t/t: torch computes t/t literally (nan at t = 0)
        grad_t = elementwise(lambda g, x, t: g * (log(t) + t / t - x), g, x, t)
    return unbroadcast(grad_x, x.shape), unbroadcast(grad_t, t.shape)


def _stirling(t: Num) -> Num:
    return t * log(t) - t + num(0.5) * log(_TWO_PI * t)


def poisson_nll_loss(input, target, log_input=True, full=False, *, eps=1e-8, reduction="mean"):
    x, t = array(input), array(target)

    def element(x, t):
        loss = exp(x) - t * x if log_input else x - t * log(x + num(eps))
        if full and not t.v <= 1:    # masked where t <= 1 (nan is not masked)
            loss = loss + _stirling(t)
        return loss

    return reduce(elementwise(element, x, t), reduction)


def poisson_nll_loss_vjp(grad_output, input, target, log_input=True, full=False, *, eps=1e-8, reduction="mean"):
    x, t = array(input), array(target)
    g = upstream(grad_output, reduction, np.broadcast_shapes(x.shape, t.shape))

    def grad_input(g, x, t):
        return g * (exp(x) - t) if log_input else g * (ONE - t / (x + num(eps)))

    def grad_target(g, x, t):
        out = -(g * x) if log_input else -(g * log(x + num(eps)))
        if full:
            d = log(t) + t / t - ONE + num(0.5) / t
            # masked_fill's backward multiplies the masked entries' derivative by 0: 0 · (-inf) = nan at t = 0
            out = out + g * (Num(0 * d.v) if t.v <= 1 else d)
        return out

    return (unbroadcast(elementwise(grad_input, g, x, t), x.shape),
            unbroadcast(elementwise(grad_target, g, x, t), t.shape))   # one per array parameter


def _variance(var, x):
    """(var shaped to broadcast against the input, var's own shape or None for a float)."""
    if isinstance(var, float):
        return _zeros(x.shape) + num(var), None
    v = array(var)
    shape = v.shape
    if v.shape != x.shape and x.shape[:-1] == v.shape:
        v = v[..., np.newaxis]
    return v, shape


def _zeros(shape):
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        out[index] = ZERO
    return out


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    x, t = array(input), array(target)
    v, _ = _variance(var, x)

    def element(x, t, v):
        vc = maximum(v, num(eps))
        d = x - t
        loss = num(0.5) * (log(vc) + d * d / vc)
        return loss + _HALF_LOG_2PI if full else loss

    return reduce(elementwise(element, x, t, v), reduction)


def gaussian_nll_loss_vjp(grad_output, input, target, var, full=False, eps=1e-6, reduction="mean"):
    x, t = array(input), array(target)
    v, var_shape = _variance(var, x)
    shape = np.broadcast_shapes(x.shape, t.shape, v.shape)
    g = upstream(grad_output, reduction, shape)
    # the clamp is done under no_grad: the var gradient is the derivative at the clamped value
    r = elementwise(lambda x, t, v: (x - t) / maximum(v, num(eps)), x, t, v)
    grad_x = g * r
    grad_v = elementwise(lambda g, r, v: num(0.5) * g * (ONE / maximum(v, num(eps)) - r * r), g, r, v)
    grad_var = None if var_shape is None else unbroadcast(grad_v, v.shape).reshape(var_shape)
    return unbroadcast(grad_x, x.shape), unbroadcast(-grad_x, t.shape), grad_var   # one per array parameter
