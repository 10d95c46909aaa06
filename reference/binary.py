"""Binary (per-element) classification losses: ``binary_cross_entropy`` on probabilities
and ``binary_cross_entropy_with_logits`` on logits.

Both are elementwise: the target has exactly the input's shape, the optional ``weight``
(and the logits version's ``pos_weight``) broadcast *into* the input's shape -- torch
multiplies them in place, so an argument that would enlarge the result is refused --
and ``'mean'`` is the plain mean over all elements (the weights are never in the
denominator).
"""

from __future__ import annotations

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_backward",
]

import numpy as np

from ._common import as_float, check_reduction, log_sigmoid, reduce, sigmoid, unreduce

#: torch clamps each log of binary_cross_entropy at -100, so that p = 0 or 1 gives a loss
#: of at most 100 per term instead of inf.
LOG_CLAMP = -100.0

#: The floor of x(1 - x) in torch's binary_cross_entropy input gradient. torch writes
#: 1e-12 as a float32 literal, so in float64 the floor is float32(1e-12) = 9.99999996e-13
#: and the gradient at x = 0, y = 1 is -1.000000004e12, not -1e12 (observed, torch 2.13 CPU).
GRAD_EPSILON = float(np.float32(1e-12))


def _float_target(target, what: str) -> np.ndarray:
    """The target as float64, refusing integer and boolean targets as torch does."""
    kind = np.asarray(target).dtype.kind
    if kind in "biu":
        raise TypeError(
            f"target must be a floating-point array of {what}, got dtype {np.asarray(target).dtype} "
            f"(convert it with .astype(float))"
        )
    return as_float("target", target)


def _same_shape(x: np.ndarray, y: np.ndarray) -> None:
    if y.shape != x.shape:
        raise ValueError(f"target must have the input's shape {x.shape}, got shape {y.shape}")


def _fit_into(name: str, value, shape: tuple[int, ...], *, allow_bool: bool = True) -> np.ndarray:
    """``value`` broadcast to ``shape``, which it must not enlarge (torch multiplies it in place).

    Integer weights are accepted (torch promotes them); a boolean ``pos_weight`` is not
    (torch computes ``pos_weight - 1``, which it refuses for bool).
    """
    if not allow_bool and np.asarray(value).dtype.kind == "b":
        raise TypeError(f"{name} must be a numeric (not boolean) array, got dtype bool")
    array = as_float(name, value, allow_int=True)
    fits = array.ndim <= len(shape) and all(
        a == 1 or a == b for a, b in zip(array.shape[::-1], shape[::-1]))
    if not fits:
        raise ValueError(
            f"{name} of shape {array.shape} must broadcast to the input's shape {shape} without enlarging it "
            f"(each of its trailing dimensions 1 or equal to the input's)"
        )
    return np.broadcast_to(array, shape)


def _declared_dtype(value):
    """The dtype an argument declares itself (arrays, tensors), or None (lists, Python numbers)."""
    return np.asarray(value).dtype if hasattr(value, "dtype") else None


def _bce_arguments(input, target, weight, reduction):
    """Validate binary_cross_entropy's arguments like torch; return x, y and the broadcast weight."""
    check_reduction(reduction)
    x = as_float("input", input)
    y = _float_target(target, "probabilities with the input's dtype")
    _same_shape(x, y)
    dx, dy = _declared_dtype(input), _declared_dtype(target)
    if dx is not None and dy is not None and dx != dy:
        # torch's kernel requires the exact same dtype ("Found dtype Float but expected Double").
        raise TypeError(f"target must have the input's dtype {dx}, got dtype {dy}")
    w = None if weight is None else _fit_into("weight", weight, x.shape)
    # NaN fails both comparisons, so it is refused too (torch: "should be between 0 and 1").
    for name, value in (("input", x), ("target", y)):
        outside = ~((value >= 0.0) & (value <= 1.0))
        if np.any(outside):
            raise ValueError(
                f"{name} must hold probabilities in [0, 1], got {value[outside].flat[0]!r}"
            )
    return x, y, w


def binary_cross_entropy(input, target, weight=None, *, reduction="mean"):
    r"""Binary cross-entropy between probabilities ``x`` and targets ``y`` in [0, 1].

    .. math::
        \ell = w \cdot \big[(y - 1) \max(\log(1 - x), -100) - y \max(\log x, -100)\big]

    Each log is clamped at -100 on its own, so ``x = 0, y = 1`` costs 100, not inf, and
    ``x = 0, y = 0`` costs 0 (``y · (-100)`` with ``y = 0``). ``weight`` broadcasts into
    the input's shape; ``'mean'`` divides by the number of elements. Input and target
    must have the same shape and dtype and lie in [0, 1] (NaN refused).
    """
    x, y, w = _bce_arguments(input, target, weight, reduction)
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), LOG_CLAMP)          # clamp at -100: log(0) = -inf otherwise
        log_1mx = np.maximum(np.log1p(-x), LOG_CLAMP)     # log1p: exact log(1 - x) for small x; clamp at -100
    loss = (y - 1.0) * log_1mx - y * log_x
    if w is not None:
        loss = loss * w
    return reduce(loss, reduction)


def binary_cross_entropy_backward(grad_output, input, target, weight=None, *, reduction="mean"):
    r"""Gradient of ``binary_cross_entropy`` (torch's formulas, derivatives.yaml).

    With ``g`` the upstream gradient per element (``grad_output / numel`` for ``'mean'``)::

        d ℓ / d x = g · w · (x - y) / max(x (1 - x), ε)        ε = float32(1e-12)
        d ℓ / d y = -g · w · logit(x) = g · w · (log(1 - x) - log x)

    Differentiating the unclamped loss gives ``-y/x + (1 - y)/(1 - x) = (x - y)/(x(1 - x))``;
    torch does **not** reflect the -100 clamp in the input gradient (at ``x = 0, y = 1`` it
    is ``-1/ε ≈ -1e12``, not 0) and floors the denominator at ε instead, so that ``x = 0,
    y = 0`` gives 0 rather than 0/0. The target gradient is unclamped: ±inf at
    ``x ∈ {0, 1}``. ``weight`` gets ``None``: torch refuses to differentiate it ("not
    differentiable with respect to argument 'weight'"). Returns one entry per array
    parameter: ``(d input, d target, None)`` for (input, target, weight).
    """
    x, y, w = _bce_arguments(input, target, weight, reduction)
    g = unreduce(grad_output, reduction, x.shape)
    if w is not None:
        g = g * w
    # The floor ε replaces the clamp's true derivative (0) by a huge finite value, as torch.
    grad_input = g * (x - y) / np.maximum(x * (1.0 - x), GRAD_EPSILON)
    with np.errstate(divide="ignore"):
        logit = np.log(x) - np.log1p(-x)                  # ±inf at 0 and 1, on purpose (unclamped)
    with np.errstate(invalid="ignore"):                   # g = 0 against an infinite logit: nan, as torch
        grad_target = -g * logit
    return np.asarray(grad_input, dtype=np.float64), np.asarray(grad_target, dtype=np.float64), None


def _bce_logits_arguments(input, target, weight, reduction, pos_weight):
    check_reduction(reduction)
    x = as_float("input", input)
    # torch accepts any floating target dtype here (the result takes the target's dtype).
    y = _float_target(target, "targets")
    _same_shape(x, y)
    w = None if weight is None else _fit_into("weight", weight, x.shape)
    pw = None if pos_weight is None else _fit_into("pos_weight", pos_weight, x.shape, allow_bool=False)
    return x, y, w, pw


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean", pos_weight=None):
    r"""Binary cross-entropy on logits ``x``, with an optional weight ``p`` of the positive class.

    .. math::
        \ell = w \cdot \big[(1 - y)\, x - (1 + (p - 1) y) \log\sigma(x)\big]
             = -w \cdot \big[p\, y \log\sigma(x) + (1 - y) \log\sigma(-x)\big]

    computed in torch's first form with a stable ``log σ(x) = min(x, 0) - log1p(exp(-|x|))``,
    so logits of ±1e4 give exact finite losses (no clamp at 100, unlike the probability
    version). ``weight`` and ``pos_weight`` broadcast into the input's shape (``pos_weight``
    from the last dimension: ``(C,)`` for ``(N, C)``, ``(C, 1, 1)`` for ``(N, C, H, W)``).
    The target is not range-checked: any real target is accepted. ``'mean'`` divides by
    the number of elements.
    """
    x, y, w, pw = _bce_logits_arguments(input, target, weight, reduction, pos_weight)
    log_weight = 1.0 if pw is None else 1.0 + (pw - 1.0) * y
    # torch's form (1 - y)x - lw·logσ(x): keeps torch's nan at x = -inf, y = 1 (0·inf).
    with np.errstate(invalid="ignore"):
        loss = (1.0 - y) * x - log_weight * log_sigmoid(x)   # stable log σ: finite for any finite x
    if w is not None:
        loss = loss * w
    return reduce(loss, reduction)


def binary_cross_entropy_with_logits_backward(grad_output, input, target, weight=None, *, reduction="mean",
                                              pos_weight=None):
    r"""Gradient of ``binary_cross_entropy_with_logits``.

    With ``p = pos_weight`` (1 if absent) and ``g`` the upstream gradient per element
    (``grad_output / numel`` for ``'mean'``), from ``d log σ(x) / dx = 1 - σ(x)``::

        d ℓ / d x = g · w · ((p y + 1 - y) σ(x) - p y)          (= g · w · (σ(x) - y) if p = 1)
        d ℓ / d y = g · w · (log σ(-x) - p log σ(x))            (= -g · w · x without pos_weight)

    The loss is smooth: no kinks. ``σ`` is computed as ``exp(log σ)``, exact for large
    ``|x|``. ``weight`` and ``pos_weight`` get ``None`` (torch refuses to differentiate
    them). Returns ``(d input, d target, None)``.
    """
    x, y, w, pw = _bce_logits_arguments(input, target, weight, reduction, pos_weight)
    g = unreduce(grad_output, reduction, x.shape)
    if w is not None:
        g = g * w
    with np.errstate(invalid="ignore"):                   # inf·0 at infinite logits: nan, as torch
        if pw is None:
            grad_input = g * (sigmoid(x) - y)
            grad_target = -g * x                          # torch's own shortcut for logσ(-x) - logσ(x)
        else:
            py = pw * y
            grad_input = g * ((py + 1.0 - y) * sigmoid(x) - py)
            grad_target = g * (log_sigmoid(-x) - pw * log_sigmoid(x))   # stable: finite at ±1e4
    return np.asarray(grad_input, dtype=np.float64), np.asarray(grad_target, dtype=np.float64), None, None
