"""Divergence and likelihood losses: ``kl_div``, ``poisson_nll_loss`` and ``gaussian_nll_loss``.

All three are elementwise: the input and the target broadcast freely (as torch does, silently),
the unreduced loss has the broadcast shape, and each backward sums its gradient back to the
shape of the argument it belongs to. Their edge values follow torch 2.13 exactly (nan where
torch's formula multiplies 0 by an infinity, as each function's docstring says).
"""

from __future__ import annotations

__all__ = [
    "kl_div",
    "kl_div_backward",
    "poisson_nll_loss",
    "poisson_nll_loss_backward",
    "gaussian_nll_loss",
    "gaussian_nll_loss_backward",
]

import math

import numpy as np

from ._common import (as_float, broadcast, check_reduction, is_integer_array, reduce, refuse_bool, sum_to_shape,
                      unreduce)

#: ``kl_div``'s reductions: the usual three and ``'batchmean'`` (sum over ``input.shape[0]``).
KL_REDUCTIONS = ("none", "mean", "sum", "batchmean")

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# --- kl_div -------------------------------------------------------------------------

def _kl_reduction(reduction) -> str:
    # torch still accepts the deprecated alias 'elementwise_mean' (with a warning); like
    # size_average and reduce, the references leave deprecated spellings out.
    return check_reduction(reduction, KL_REDUCTIONS)


def _kl_args(input, target, reduction):
    reduction = _kl_reduction(reduction)
    # torch: "kl_div: Integral inputs not supported." for integer or boolean input or target.
    x = as_float("input", input)
    t = as_float("target", target)
    xb, tb = broadcast(("input", "target"), x, t)
    if reduction == "batchmean":
        # batchmean = sum / input.shape[0] (the input's own first dim, even when the target
        # broadcasts it larger); a 0-d input gives the plain sum.
        return x, t, xb, tb, "mean", (x.shape[0] if x.ndim else 1)
    return x, t, xb, tb, reduction, None


def _xlogy_self(t: np.ndarray) -> np.ndarray:
    """xlogy(t, t) = t·log t with 0·log 0 = 0 (torch.xlogy); nan for t < 0 or t nan."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t == 0, 0.0, t * np.log(t))


def kl_div(input, target, *, reduction="mean", log_target=False):
    r"""Pointwise Kullback-Leibler divergence, with ``input`` taken as log-probabilities.

    .. math::
        \ell = \begin{cases}
            \operatorname{xlogy}(t, t) - t\,x & \text{log\_target = False} \\
            e^{t}\,(t - x)                    & \text{log\_target = True}
        \end{cases}

    ``xlogy(0, 0) = 0``, so a zero target contributes 0 for any finite input; but
    ``t = 0, x = -inf`` is ``0·inf = nan``, a negative target is nan (log of a negative),
    and with ``log_target`` a target of ``-inf`` is ``0·(-inf) = nan``, all as torch.
    Reductions: ``'none'``, ``'sum'``, ``'mean'`` (over every element: torch warns that this
    is not the true KL divergence), ``'batchmean'`` (sum over ``input.shape[0]``; a 0-d input
    gives the plain sum). Input and target broadcast.
    """
    x, t, xb, tb, reduction, denominator = _kl_args(input, target, reduction)
    with np.errstate(invalid="ignore", over="ignore"):
        if log_target:
            loss = np.exp(tb) * (tb - xb)  # exp(-inf)·(-inf - x) = 0·inf = nan, as torch
        else:
            loss = _xlogy_self(tb) - tb * xb  # 0·(-inf) = nan at t = 0, x = -inf, as torch
    return reduce(loss, reduction, denominator=denominator)


def kl_div_backward(grad_output, input, target, *, reduction="mean", log_target=False):
    r"""Gradient of ``kl_div`` with respect to (input, target).

    With ``g`` the upstream gradient per element (over ``numel`` for ``'mean'``, over
    ``input.shape[0]`` for ``'batchmean'``)::

        log_target = False:  dℓ/dx = -g·t,       dℓ/dt = g·(log t + t/t - x)
        log_target = True:   dℓ/dx = -g·e^t,     dℓ/dt = g·e^t·(t - x + 1)

    ``t/t`` is 1 for a finite nonzero target; torch's backward of ``xlogy(t, t)`` computes
    it literally, so the target gradient is nan at ``t = 0`` (0/0, pytorch#89558) and at
    ``t = inf`` (inf/inf), and log makes it nan for ``t < 0``. Both gradients are summed
    back over the dimensions broadcasting added. The loss is smooth: no kinks.
    """
    x, t, xb, tb, reduction, denominator = _kl_args(input, target, reduction)
    g = unreduce(grad_output, reduction, np.broadcast_shapes(x.shape, t.shape), denominator=denominator)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if log_target:
            e = np.exp(tb)
            grad_input = -g * e
            grad_target = g * e * (tb - xb) + g * e  # (t - x)·e^t + e^t, split so t = -inf gives 0·inf = nan as torch
        else:
            grad_input = -g * tb
            grad_target = g * (np.log(tb) + tb / tb - xb)  # t/t: nan at t = 0 and t = inf, as torch's xlogy backward
    return sum_to_shape(grad_input, x.shape), sum_to_shape(grad_target, t.shape)


# --- poisson_nll_loss ---------------------------------------------------------------

def _poisson_args(input, target, log_input, full, reduction):
    check_reduction(reduction)
    # Integer (and, where torch can, boolean) input and target are promoted to float.
    x = as_float("input", input, allow_int=True)
    t = as_float("target", target, allow_int=True)
    if not log_input:
        refuse_bool("input", input, "when log_input=False (the loss computes input - ...)")
    if full:
        refuse_bool("target", target, "when full=True (the Stirling term computes ... - target)")
    xb, tb = broadcast(("input", "target"), x, t)
    return x, t, xb, tb


def poisson_nll_loss(input, target, log_input=True, full=False, *, eps=1e-8, reduction="mean"):
    r"""Negative log-likelihood of a Poisson target, up to the constant ``log(t!)``.

    .. math::
        \ell = \begin{cases}
            e^{x} - t\,x                       & \text{log\_input = True} \\
            x - t\,\log(x + \varepsilon)       & \text{log\_input = False}
        \end{cases}
        \; + \; [\text{full}]\,[t > 1]\,\bigl(t \log t - t + \tfrac12 \log(2\pi t)\bigr)

    ``eps`` only enters the log when ``log_input=False`` (``x = 0, t = 2`` gives
    ``-2·log(1e-8) = 36.84``; ``x < -eps`` gives nan). The Stirling term is added only
    where ``t > 1`` (torch masks ``t <= 1`` to 0, so ``t = 1`` and negative targets get
    nothing; a nan target is not masked). Integer input/target are promoted to float.
    Input and target broadcast.
    """
    x, t, xb, tb = _poisson_args(input, target, log_input, full, reduction)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if log_input:
            loss = np.exp(xb) - tb * xb
        else:
            loss = xb - tb * np.log(xb + eps)  # eps only here: torch does not add it elsewhere
        if full:
            stirling = tb * np.log(tb) - tb + 0.5 * np.log(2.0 * np.pi * tb)
            loss = loss + np.where(tb <= 1, 0.0, stirling)  # masked where t <= 1 (nan <= 1 is False: nan stays)
    return reduce(loss, reduction)


def poisson_nll_loss_backward(grad_output, input, target, log_input=True, full=False, *, eps=1e-8,
                              reduction="mean"):
    r"""Gradient of ``poisson_nll_loss``: one entry per array parameter, (input, target).

    With ``g`` the upstream gradient per element (over ``numel`` for ``'mean'``)::

        log_input = True:   dℓ/dx = g·(e^x - t),          dℓ/dt = -g·x
        log_input = False:  dℓ/dx = g·(1 - t/(x + eps)),  dℓ/dt = -g·log(x + eps)
        full:               dℓ/dt += g·[t > 1]·(log t + t/t - 1 + 1/(2t))

    The Stirling derivative is ``log t + 1/(2t)``; torch differentiates through the mask
    (``masked_fill``), which multiplies the masked entries' derivative by 0, and
    ``0·(-inf)`` (t = 0) or ``0·nan`` (t < 0) is nan: with ``full=True`` the target
    gradient is nan for every ``t <= 0`` and 0 for ``0 < t <= 1``. ``t/t - 1`` (0 for
    finite nonzero t) is kept as torch computes it, so ``t = inf`` is nan too.
    An integer argument gets ``None`` (``log_input``, ``full`` and ``eps`` are not arrays:
    no entry).
    """
    x, t, xb, tb = _poisson_args(input, target, log_input, full, reduction)
    g = unreduce(grad_output, reduction, np.broadcast_shapes(x.shape, t.shape))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if log_input:
            grad_input = g * (np.exp(xb) - tb)
            grad_target = -g * xb
        else:
            grad_input = g * (1.0 - tb / (xb + eps))
            grad_target = -g * np.log(xb + eps)
        if full:
            d_stirling = np.log(tb) + tb / tb - 1.0 + 0.5 / tb
            # masked_fill's backward: 0·d_stirling where t <= 1, i.e. nan where t <= 0 (0·-inf, 0·nan).
            grad_target = grad_target + g * np.where(tb <= 1, 0.0 * d_stirling, d_stirling)
    return (None if is_integer_array(input) else sum_to_shape(grad_input, x.shape),
            None if is_integer_array(target) else sum_to_shape(grad_target, t.shape))


# --- gaussian_nll_loss --------------------------------------------------------------

def _gaussian_var(var, x: np.ndarray):
    """torch's var rules, in torch's order; returns (var shaped to broadcast, var's own shape or None).

    A Python float is a constant variance (no gradient). Otherwise var must have the
    input's shape, or the input's shape without its last dim (homoscedastic: var gets a
    trailing axis of 1), or the input's number of dims with var's sizes over the dims
    where the two differ summing to exactly 1 (one dim where var has 1).
    """
    if isinstance(var, float):  # also numpy.float64, a subclass of float (torch takes it too)
        if var < 0:
            raise ValueError(f"var has a negative entry: var must be >= 0, got {var}")
        return np.full(x.shape, float(var)), None
    if isinstance(var, (bool, int, np.number, np.bool_)):
        # torch handles only a Python float as a scalar; an int (or a numpy float32 scalar)
        # reaches torch.any() as a plain bool: TypeError.
        raise TypeError(f"var must be a Python float or a floating-point array, got {type(var).__name__} {var!r}")
    # An integer var tensor fails in torch's in-place clamp (RuntimeError): a wrong kind.
    v = as_float("var", var)
    if np.any(v < 0):
        raise ValueError("var has negative entry/entries: var must be >= 0 everywhere")
    shape = v.shape
    if v.shape != x.shape:
        if x.shape[:-1] == v.shape:
            v = v[..., np.newaxis]  # one dim short: the same variance over the last dim
        elif x.ndim == v.ndim and sum(vs for xs, vs in zip(x.shape, v.shape) if xs != vs) == 1:
            pass  # exactly one mismatched dim, where var has 1 (torch's literal rule)
        else:
            raise ValueError(
                f"var has shape {v.shape}, which is of incorrect size for input of shape {x.shape}: expected "
                f"{x.shape}, {x.shape[:-1]}, or {x.shape} with one dim set to 1")
    return v, shape


def _gaussian_args(input, target, var, reduction):
    x = as_float("input", input, allow_int=True)
    t = as_float("target", target, allow_int=True)
    v, var_shape = _gaussian_var(var, x)
    check_reduction(reduction)  # after var, in torch's order
    # torch computes input - target: a boolean tensor on either side is refused.
    refuse_bool("input", input, "(the loss computes input - target)")
    refuse_bool("target", target, "(the loss computes input - target)")
    xb, tb, vb = broadcast(("input", "target", "var"), x, t, v)
    return x, t, v, var_shape, xb, tb, vb


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    r"""Negative log-likelihood of a Gaussian target with mean ``input`` and variance ``var``.

    .. math::
        \ell = \tfrac12 \Bigl(\log v + \frac{(x - y)^2}{v}\Bigr) + [\text{full}]\,\tfrac12 \log(2\pi),
        \qquad v = \max(\text{var}, \varepsilon)

    ``eps`` clamps the variance; it is not added to it. ``var`` may be a Python float
    (a constant variance), the input's shape, the input's shape without its last dim,
    or the input's shape with one dim of 1 (see ``_gaussian_var``); a negative entry is
    an error (nan passes and gives nan). The target is not checked: it broadcasts.
    Integer input/target are promoted to float.
    """
    x, t, v, var_shape, xb, tb, vb = _gaussian_args(input, target, var, reduction)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        vc = np.maximum(vb, eps)  # the clamp (np.maximum keeps nan, as torch's clamp)
        loss = 0.5 * (np.log(vc) + (xb - tb) ** 2 / vc)
    if full:
        loss = loss + _HALF_LOG_2PI
    return reduce(loss, reduction)


def gaussian_nll_loss_backward(grad_output, input, target, var, full=False, eps=1e-6, reduction="mean"):
    r"""Gradient of ``gaussian_nll_loss``: one entry per array parameter, (input, target, var).

    With ``v = max(var, eps)``, ``r = (x - y)/v`` and ``g`` the upstream gradient per
    element (over ``numel`` for ``'mean'``)::

        dℓ/dx = g·r,     dℓ/dy = -g·r,     dℓ/dvar = ½·g·(1/v - r²)

    torch clamps ``var`` under ``no_grad`` on a clone, so autograd ignores the clamp: the
    variance gradient is the derivative at the clamped value, passed through unchanged
    even where ``var < eps`` (e.g. -5e11 at var = 1e-9 with x - y = 1); there is no
    subgradient choice to make. Each gradient is summed over the dims broadcasting added
    (a var one dim short is summed over the input's last dim). A Python float var and
    integer arguments get ``None`` (``full``, ``eps`` and ``reduction`` are not arrays:
    no entry).
    """
    x, t, v, var_shape, xb, tb, vb = _gaussian_args(input, target, var, reduction)
    g = unreduce(grad_output, reduction, xb.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        vc = np.maximum(vb, eps)
        r = (xb - tb) / vc
        grad_input = g * r
        grad_var = 0.5 * g * (1.0 / vc - r * r)
    grad_var = None if var_shape is None else sum_to_shape(grad_var, v.shape).reshape(var_shape)
    return (None if is_integer_array(input) else sum_to_shape(grad_input, x.shape),
            None if is_integer_array(target) else sum_to_shape(-grad_input, t.shape),
            grad_var)
