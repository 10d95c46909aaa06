"""Element-wise regression losses: ``l1_loss``, ``mse_loss``, ``smooth_l1_loss``, ``huber_loss``.

All four take the difference ``d = input - target`` element by element after
broadcasting the two (torch warns when their shapes differ, then broadcasts anyway), so
``'none'`` has the broadcast shape and ``'mean'`` divides by the broadcast size. Their
gradients are summed back to each argument's own shape.

``weight`` (l1, mse, huber, where torch has it) must have exactly the *input's* shape
(not the broadcast shape) and multiplies the element losses. The weighted mean is
``Σ w·ℓ / Σ w`` for l1 and mse but ``Σ w·ℓ / numel`` for huber: torch is inconsistent
here, and the reference follows it.

Which argument kinds torch accepts depends on the code path, and the reference accepts
and refuses the same (it always computes in float64):

* l1 (and smooth_l1 with ``beta=0``, which torch routes to l1) subtracts the raw
  tensors: booleans are refused, integers are accepted (both integer: ``'none'`` and
  ``'sum'`` only; an integer ``'mean'`` fails in torch), complex is accepted (``|d|`` is
  the magnitude).
* mse and smooth_l1 (``beta > 0``) need a floating result: input and target both
  integer or boolean is refused; one floating side is enough (even with a boolean
  other side). Complex is refused.
* weighted l1 and mse are plain tensor arithmetic: booleans are refused, integers of
  any mix are fine.
* huber writes its result in the input's dtype: the input must be floating point; the
  target may be integer or boolean.
"""

from __future__ import annotations

__all__ = [
    "l1_loss",
    "l1_loss_backward",
    "mse_loss",
    "mse_loss_backward",
    "smooth_l1_loss",
    "smooth_l1_loss_backward",
    "huber_loss",
    "huber_loss_backward",
]

import numpy as np

from ._common import broadcast, check_reduction, read_only, reduce, sum_to_shape, torch_sign, unreduce


# --- arguments ---------------------------------------------------------------------

def _kind(name: str, value) -> tuple[np.ndarray, str]:
    """``value`` as an array and its kind: 'f' float, 'i' integer, 'b' boolean, 'c' complex."""
    array = np.asarray(value)
    kind = array.dtype.kind
    if kind == "u":
        kind = "i"
    if kind not in "fibc":
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return array, kind


def _as_array(array: np.ndarray, kind: str) -> np.ndarray:
    """As float64 (complex128 for complex), read-only: the caller's array is never modified."""
    return read_only(np.asarray(array, dtype=np.complex128 if kind == "c" else np.float64))


def _refuse_bool(kinds: dict[str, str], why: str) -> None:
    for name, kind in kinds.items():
        if kind == "b":
            raise TypeError(f"{name} must not be a boolean array ({why})")


def _refuse_complex(kinds: dict[str, str], loss: str) -> None:
    for name, kind in kinds.items():
        if kind == "c":
            raise TypeError(f"{name} must be a real array: {loss} does not support complex input")


def _operands(loss: str, input, target, reduction: str, path: str):
    """Check the kinds of ``input`` and ``target`` for ``path`` (see the module docstring).

    Returns ``(x, y, kinds)`` with ``x``, ``y`` read-only float64 (or complex128), not yet
    broadcast. ``path`` is ``'l1'`` (torch's l1 kernel), ``'weighted'`` (the plain
    arithmetic of weighted l1/mse; ``loss`` says which), ``'float'`` (the mse and
    smooth_l1 kernels) or ``'huber'``.
    """
    x, kx = _kind("input", input)
    y, ky = _kind("target", target)
    kinds = {"input": kx, "target": ky}
    if path in ("l1", "weighted"):
        _refuse_bool(kinds, "torch cannot subtract booleans")
        if path == "weighted" and loss == "mse_loss":
            _refuse_complex(kinds, "weighted mse_loss")
        if path == "l1" and reduction == "mean" and kx == "i" and ky == "i":
            raise TypeError(
                "input and target are both integer arrays: the 'mean' of an integer loss is refused by torch; "
                "pass a floating-point input or target, or use 'none' or 'sum'"
            )
    elif path == "float":
        _refuse_complex(kinds, loss)
        if kx not in "f" and ky not in "f":
            raise TypeError(
                f"input or target must be a floating-point array: {loss} is not implemented for "
                f"input dtype {x.dtype} with target dtype {y.dtype}"
            )
    else:  # huber: the result is written in the input's dtype
        _refuse_complex(kinds, loss)
        if kx != "f":
            raise TypeError(f"input must be a floating-point array for {loss}, got dtype {x.dtype}")
    return _as_array(x, kx), _as_array(y, ky), kinds


def _weight(weight, input_shape: tuple[int, ...]):
    """The element weight as float64 and whether it is floating (has a gradient), or (None, False)."""
    if weight is None:
        return None, False
    w, kind = _kind("weight", weight)
    if kind == "c":
        raise TypeError("weight must be a real array, got a complex dtype")
    if w.shape != input_shape:
        # torch compares with the input's own shape, not the broadcast shape.
        raise ValueError(f"weight must have the input's shape {input_shape}, got shape {w.shape}")
    return _as_array(w, kind), kind == "f"


def _scalar(name: str, value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None


def _check_beta(beta) -> float:
    beta = _scalar("beta", beta)
    if not beta >= 0.0:  # also refuses nan, as torch does
        raise ValueError(f"beta must be >= 0 (smooth_l1_loss does not support negative values), got {beta}")
    return beta


def _check_delta(delta) -> float:
    delta = _scalar("delta", delta)
    if not delta > 0.0:  # also refuses nan, as torch does
        raise ValueError(f"delta must be > 0 (huber_loss does not support non-positive values), got {delta}")
    return delta


def _difference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x - y`` after broadcasting the two (names them if they do not broadcast)."""
    xb, yb = broadcast(("input", "target"), x, y)
    with np.errstate(invalid="ignore"):  # inf - inf = nan, as in torch: no warning
        return np.asarray(xb - yb)  # a new array (not a NumPy scalar when 0-d): callers work in it


def _magnitude(d: np.ndarray) -> np.ndarray:
    """|d|, in place when ``d`` (the caller's own difference) is real."""
    return np.abs(d) if np.iscomplexobj(d) else np.abs(d, out=d)


def _sign(d: np.ndarray) -> np.ndarray:
    """sign(d) with torch's convention: 0 at d = 0 *and* at d = nan (torch.sign(nan) = 0)."""
    if np.iscomplexobj(d):
        magnitude = np.abs(d)
        with np.errstate(divide="ignore", invalid="ignore"):
            # torch.sgn: d / |d|, and 0 at 0 (nan elsewhere stays nan).
            return np.where(magnitude == 0, 0.0, d / np.where(magnitude == 0, 1.0, magnitude))
    return torch_sign(d)


def _split(grad_d: np.ndarray, x: np.ndarray, y: np.ndarray, kinds: dict[str, str]):
    """The gradients of input and target from the gradient of the broadcast ``d = x - y``.

    Each is summed back to its argument's shape; an integer or boolean argument gets
    None (torch gives no gradient there). A real argument of a complex difference gets
    the real part (torch's convention for real leaves of complex graphs). ``grad_d`` is
    the caller's own new array: a real input of its shape gets it as it is (no copy).
    """
    out = []
    for sign, array, name in ((1.0, x, "input"), (-1.0, y, "target")):
        if kinds[name] not in "fc":
            out.append(None)
            continue
        if kinds[name] == "f" and grad_d.dtype == np.float64 and array.shape == grad_d.shape:
            out.append(grad_d if sign > 0 else np.negative(grad_d, out=np.empty_like(grad_d)))  # 0-d: an array
            continue
        g = sign * grad_d
        if kinds[name] == "c":
            # sum_to_shape is float64-only: sum the two parts separately.
            out.append(sum_to_shape(g.real, array.shape) + 1j * sum_to_shape(g.imag, array.shape))
        else:
            out.append(sum_to_shape(np.real(g), array.shape))
    return tuple(out)


# --- l1 -----------------------------------------------------------------------------

def l1_loss(input, target, *, reduction="mean", weight=None):
    r"""Mean absolute error.

    .. math::
        \ell_i = w_i\,|x_i - y_i|, \qquad
        \text{mean} = \frac{\sum_i \ell_i}{\sum_i w_i} \text{ (weighted) or } \frac{\sum_i \ell_i}{n}

    ``x`` and ``y`` broadcast; ``n`` is the broadcast size; ``w`` (optional, 1 when
    absent) has the input's shape. Complex inputs give the magnitude ``|x - y|``.
    """
    check_reduction(reduction)
    path = "l1" if weight is None else "weighted"
    x, y, _ = _operands("l1_loss", input, target, reduction, path)
    w, _ = _weight(weight, x.shape)
    loss = _magnitude(_difference(x, y))
    if w is None:
        return reduce(loss, reduction)
    loss *= w
    return reduce(loss, reduction, denominator=np.sum(w))


def l1_loss_backward(grad_output, input, target, *, reduction="mean", weight=None):
    r"""Gradient of ``l1_loss``: ``∂ℓ/∂x = g · w · sign(x - y) / D``, ``∂ℓ/∂y = -∂ℓ/∂x``,
    and for a floating ``weight`` (``ℓ_i = |x_i - y_i|``, ``L = Σ w ℓ / Σ w`` the mean)::

        ∂/∂w = g · ℓ                              ('none', 'sum')
        ∂/∂w = g · ℓ / Σw - g · (Σ w ℓ / Σw) / Σw  ('mean': the quotient rule, = g (ℓ - L) / Σw)

    ``D`` is the mean's denominator (``Σw`` weighted, else the broadcast size; 1 for
    ``'sum'`` and ``'none'``), and the result is summed back to each argument's shape.
    At the kink ``x = y`` the subgradient is 0 (torch's ``sign(0) = 0``), and also at
    ``d = nan`` (torch's ``sign(nan) = 0``). Complex input: ``sign`` is ``d / |d|``.
    One entry per array parameter, ``(input, target, weight)``; an integer argument and
    a weight not given get None.
    """
    check_reduction(reduction)
    path = "l1" if weight is None else "weighted"
    x, y, kinds = _operands("l1_loss", input, target, reduction, path)
    w, w_differentiable = _weight(weight, x.shape)
    d = _difference(x, y)
    grad_weight = _weight_gradient(grad_output, reduction, _magnitude(d.copy()), w) if w_differentiable else None
    grad = _sign(d)
    grad *= unreduce(grad_output, reduction, d.shape, denominator=None if w is None else np.sum(w))
    if w is not None:
        grad *= w
    return _split(grad, x, y, kinds) + (grad_weight,)


# --- mse ----------------------------------------------------------------------------

def mse_loss(input, target, *, reduction="mean", weight=None):
    r"""Mean squared error.

    .. math::
        \ell_i = w_i\,(x_i - y_i)^2, \qquad
        \text{mean} = \frac{\sum_i \ell_i}{\sum_i w_i} \text{ (weighted) or } \frac{\sum_i \ell_i}{n}

    ``x`` and ``y`` broadcast; ``n`` is the broadcast size; ``w`` (optional) has the
    input's shape.
    """
    check_reduction(reduction)
    path = "float" if weight is None else "weighted"
    x, y, _ = _operands("mse_loss", input, target, reduction, path)
    w, _ = _weight(weight, x.shape)
    d = _difference(x, y)
    loss = np.square(d, out=d)
    if w is None:
        return reduce(loss, reduction)
    loss *= w
    return reduce(loss, reduction, denominator=np.sum(w))


def mse_loss_backward(grad_output, input, target, *, reduction="mean", weight=None):
    r"""Gradient of ``mse_loss``: ``∂ℓ/∂x = 2 g · w · (x - y) / D``, ``∂ℓ/∂y = -∂ℓ/∂x``,
    and ``∂/∂w`` as in ``l1_loss_backward`` with ``ℓ = (x - y)²``: ``g · ℓ`` ('none',
    'sum'), ``g · ℓ / Σw - g · (Σ w ℓ / Σw) / Σw`` ('mean').

    ``D`` as in ``l1_loss_backward``; smooth everywhere, no kink. Summed back to each
    argument's shape. One entry per array parameter, ``(input, target, weight)``; an
    integer or boolean argument and a weight not given get None.
    """
    check_reduction(reduction)
    path = "float" if weight is None else "weighted"
    x, y, kinds = _operands("mse_loss", input, target, reduction, path)
    w, w_differentiable = _weight(weight, x.shape)
    grad = _difference(x, y)      # d, our own array: the gradient 2 g w d is formed in it
    grad_weight = _weight_gradient(grad_output, reduction, np.square(grad), w) if w_differentiable else None
    grad *= 2.0
    grad *= unreduce(grad_output, reduction, grad.shape, denominator=None if w is None else np.sum(w))
    if w is not None:
        grad *= w
    return _split(grad, x, y, kinds) + (grad_weight,)


def _weight_gradient(grad_output, reduction: str, loss: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The gradient of weighted l1 and mse with respect to ``w``, formed as torch's autograd
    forms it for ``Σ(w·ℓ) / Σw`` (DivBackward: ``g / S`` to the numerator, ``-g · ((N / S) / S)``
    to the denominator), so that ``Σw = 0`` gives the same infinities and nans. ``loss``
    (unweighted, broadcast shape) is ours to overwrite."""
    g = np.asarray(grad_output, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if reduction != "mean":
            loss *= g                                          # g ℓ: 'none' elementwise, 'sum' the scalar
            return sum_to_shape(loss, w.shape)
        total_weight = np.sum(w)
        numerator = np.sum(loss * w)
        loss *= g / total_weight                               # through the numerator: (g / S) ℓ
        grad = sum_to_shape(loss, w.shape)
        grad += -g * ((numerator / total_weight) / total_weight)   # through the denominator S = Σw
    return grad


# --- smooth l1 ----------------------------------------------------------------------

def smooth_l1_loss(input, target, *, reduction="mean", beta=1.0):
    r"""Smooth L1: quadratic below ``beta``, linear above.

    .. math::
        z_i = |x_i - y_i|, \qquad
        \ell_i = \begin{cases} 0.5\, z_i^2 / \beta & z_i < \beta \\ z_i - 0.5\,\beta & \text{otherwise} \end{cases}

    The comparison is strict (``z = β`` takes the linear branch; the two agree there).
    ``beta = 0`` is exactly ``l1_loss`` (torch dispatches to it); ``beta < 0`` is refused.
    ``smooth_l1(β) = huber(δ = β) / β``.
    """
    check_reduction(reduction)
    beta = _check_beta(beta)
    if beta == 0.0:
        # torch routes beta = 0 to l1_loss (no 0/0 in the quadratic branch).
        return l1_loss(input, target, reduction=reduction)
    x, y, _ = _operands("smooth_l1_loss", input, target, reduction, "float")
    z = _magnitude(_difference(x, y))
    quadratic_branch = z < beta
    # The two branches in place on our own arrays: the literal np.where(z < beta, 0.5 * z * z / beta,
    # z - 0.5 * beta) allocates 5 arrays of the input's size and took 2.7x torch's time at 4M elements
    # (this: 9 passes over memory, where torch's kernel makes one; np.copyto(..., where=) instead of
    # np.where was 4x slower on a random mask).
    with np.errstate(over="ignore"):  # z*z/beta overflows only where z >= beta, which is not selected
        quadratic = z * z
        quadratic *= 0.5
        if beta != 1.0:               # / 1.0 changes nothing: one pass fewer at the default
            quadratic /= beta
    z -= 0.5 * beta                   # the linear branch, in place
    return reduce(np.where(quadratic_branch, quadratic, z), reduction)


def smooth_l1_loss_backward(grad_output, input, target, *, reduction="mean", beta=1.0):
    r"""Gradient of ``smooth_l1_loss``: ``∂ℓ/∂x = g · clamp((x - y) / β, -1, 1) / D``, ``∂ℓ/∂y = -∂ℓ/∂x``.

    Inside ``|d| < β`` the derivative of ``0.5 d²/β`` is ``d/β``; outside, of ``|d| - β/2``
    it is ``sign(d)``; at ``|d| = β`` both give ±1 (no choice to make). ``D`` is the
    broadcast size for ``'mean'``. ``beta = 0`` is ``l1_loss_backward`` (subgradient 0 at
    ``d = 0``). A nan difference gives nan (torch's kernel compares, then divides).
    Returns ``(input, target)``.
    """
    check_reduction(reduction)
    beta = _check_beta(beta)
    if beta == 0.0:
        return l1_loss_backward(grad_output, input, target, reduction=reduction)[:2]   # (input, target): no weight
    x, y, kinds = _operands("smooth_l1_loss", input, target, reduction, "float")
    grad = _difference(x, y)       # d, our own array: the gradient is formed in it
    grad /= beta
    np.clip(grad, -1.0, 1.0, out=grad)   # keeps nan; d / beta for |d| >= beta is clipped to exactly ±1
    grad *= unreduce(grad_output, reduction, grad.shape)
    return _split(grad, x, y, kinds)


# --- huber --------------------------------------------------------------------------

def _huber_elements(d: np.ndarray, delta: float) -> np.ndarray:
    """0.5 z² where z = |d| < delta, delta (z - 0.5 delta) elsewhere; ``d`` is our own array,
    overwritten (it becomes z)."""
    z = np.abs(d, out=d)
    quadratic_branch = z < delta
    # In place on our own arrays, like smooth_l1_loss: 3 arrays of d's size instead of 6.
    with np.errstate(over="ignore"):  # z*z overflows only where z >= delta, which is not selected
        quadratic = z * z
        quadratic *= 0.5
    z -= 0.5 * delta                  # the linear branch, in place
    z *= delta
    return np.where(quadratic_branch, quadratic, z)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    r"""Huber loss: quadratic below ``delta``, ``delta``-scaled linear above.

    .. math::
        z_i = |x_i - y_i|, \qquad
        \ell_i = w_i \begin{cases} 0.5\, z_i^2 & z_i < \delta \\ \delta\,(z_i - 0.5\,\delta) & \text{otherwise} \end{cases},
        \qquad \text{mean} = \frac{\sum_i \ell_i}{n}

    ``n`` is the broadcast size **even when weighted** (torch divides the weighted huber
    mean by the element count, unlike weighted l1/mse which divide by ``Σw``).
    ``delta <= 0`` is refused. No parameter of torch's huber_loss is deprecated, so all
    are positional here too.
    """
    check_reduction(reduction)
    delta = _check_delta(delta)
    x, y, _ = _operands("huber_loss", input, target, reduction, "huber")
    w, _ = _weight(weight, x.shape)
    loss = _huber_elements(_difference(x, y), delta)
    if w is not None:
        loss *= w
    return reduce(loss, reduction)


def huber_loss_backward(grad_output, input, target, reduction="mean", delta=1.0, weight=None):
    r"""Gradient of ``huber_loss``.

    ``∂ℓ/∂x = g · w · clamp(x - y, -δ, δ) / D``, ``∂ℓ/∂y = -∂ℓ/∂x`` (``D`` the broadcast
    size for ``'mean'``, weighted or not); ``∂ℓ/∂w = g · huber(x - y) / D``. At ``|d| = δ``
    both branches give ±δ. One entry per array parameter, ``(input, target, weight)``
    (``reduction`` and ``delta`` are not arrays: no entry); ``weight`` gets None when it
    was not given or is not floating point.
    """
    check_reduction(reduction)
    delta = _check_delta(delta)
    x, y, kinds = _operands("huber_loss", input, target, reduction, "huber")
    w, w_differentiable = _weight(weight, x.shape)
    d = _difference(x, y)
    g = unreduce(grad_output, reduction, d.shape)
    grad_weight = None
    if w is not None and w_differentiable:
        grad_weight = sum_to_shape(g * _huber_elements(d.copy(), delta), w.shape)
    grad = np.clip(d, -delta, delta, out=d)  # in place on our own d; keeps nan; ±delta on the linear branch
    grad *= g
    if w is not None:
        grad *= w
    return _split(grad, x, y, kinds) + (grad_weight,)
