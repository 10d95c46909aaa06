"""Margin losses: hinge, ranking, (multi-)margin and soft-margin losses.

``hinge_embedding_loss``, ``margin_ranking_loss``, ``soft_margin_loss`` and
``multilabel_soft_margin_loss`` are elementwise and broadcast their arguments the way
torch does (each with its own limits, see the functions). ``multi_margin_loss`` and
``multilabel_margin_loss`` take a ``()``, ``(C)`` or ``(N, C)`` input with class-index
targets and divide each sample's loss by ``C``.

Kinks: every hinge here takes the minimum-norm subgradient, 0 at the exact boundary
(``_common.hinge_active``): the native multi(label) margin kernels test ``z > 0``, and
the composite losses built on ``clamp_min`` (hinge, margin ranking) do so from torch
2.14 on (up to 2.13 they passed the gradient there: lossref.quirks).
"""

from __future__ import annotations

__all__ = [
    "hinge_embedding_loss", "hinge_embedding_loss_backward",
    "margin_ranking_loss", "margin_ranking_loss_backward",
    "multi_margin_loss", "multi_margin_loss_backward",
    "multilabel_margin_loss", "multilabel_margin_loss_backward",
    "soft_margin_loss", "soft_margin_loss_backward",
    "multilabel_soft_margin_loss", "multilabel_soft_margin_loss_backward",
]

import numpy as np

from ._common import (
    as_float,
    broadcast,
    check_reduction,
    check_weight,
    hinge_active,
    refuse_bool,
    log_sigmoid,
    read_only,
    reduce,
    sigmoid,
    sum_to_shape,
    unreduce,
)


def _is_float(value) -> bool:
    """Whether torch would see ``value`` as a floating tensor (so autograd can give it a gradient)."""
    return np.asarray(value).dtype.kind == "f"


def _int64_index(name: str, value) -> np.ndarray:
    """Class indices exactly as the native margin kernels take them: int64 only."""
    array = np.asarray(value)
    if array.dtype != np.int64:
        raise TypeError(f"{name} must be an int64 array of class indices, got dtype {array.dtype}")
    return read_only(array)


def _matrix_input(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The native kernels' view of a ``()``, ``(C)`` or ``(N, C)`` input: ``(N, C)``, N, C."""
    if not ((x.ndim == 2 and x.shape[1] != 0) or (x.ndim == 1 and x.shape[0] != 0) or x.ndim == 0):
        raise ValueError(
            f"input must be a non-empty vector (C) or matrix (N, C) with C > 0 (or 0-d), got shape {x.shape}")
    if x.ndim <= 1:
        classes = 1 if x.ndim == 0 else x.shape[0]
        return x.reshape(1, classes), 1, classes
    return x, x.shape[0], x.shape[1]


# --- hinge_embedding_loss -------------------------------------------------------------------

def _hinge_args(input, target):
    # torch would compute an integer input in integer arithmetic (truncating the margin)
    # and refuses it for 'mean': only floating inputs are accepted.
    x = as_float("input", input)
    y = as_float("target", target, allow_int=True)
    return x, y, *broadcast(("input", "target"), x, y)


def hinge_embedding_loss(input, target, margin=1.0, *, reduction="mean"):
    r"""Hinge embedding loss, elementwise exactly as ATen writes it.

    .. math::
        \ell = [y \ne 1]\,\max(0, \text{margin} - x) + [y \ne -1]\, x

    So ``y = 1`` gives ``x`` (negative for negative x), ``y = -1`` gives the hinge, and any
    other target value (0, 2, nan) gives ``x + max(0, margin - x)``. Input and target
    broadcast freely; 'mean' divides by the number of broadcast elements.
    """
    check_reduction(reduction)
    _, _, xb, yb = _hinge_args(input, target)
    margin = float(margin)
    with np.errstate(invalid="ignore"):  # inf - inf and nan inputs give nan, as in torch
        hinge = np.maximum(margin - xb, 0.0)
    loss = np.where(yb != 1, hinge, 0.0) + np.where(yb != -1, xb, 0.0)
    return reduce(loss, reduction)


def hinge_embedding_loss_backward(grad_output, input, target, margin=1.0, *, reduction="mean"):
    r"""Gradient of ``hinge_embedding_loss`` with respect to the input.

    .. math::
        \partial\ell/\partial x = [y \ne -1] - [y \ne 1]\,[\text{margin} - x > 0]

    At the hinge's kink ``x = margin`` the subgradient is 0 (minimum norm; torch 2.13's
    ``clamp_min`` gave 1 there); a nan input is not active either. Broadcast
    gradients are summed back to the input's shape. One entry per array parameter,
    (input, target): ``target`` only enters comparisons, so torch gives it no gradient
    (None); ``margin`` is a number (no entry).
    """
    check_reduction(reduction)
    x, _, xb, yb = _hinge_args(input, target)
    margin = float(margin)
    g = unreduce(grad_output, reduction, xb.shape)
    with np.errstate(invalid="ignore"):
        active = hinge_active(margin - xb)  # 0 at the kink (minimum norm); nan: no gradient, as torch
    grad = np.where(yb != -1, g, 0.0) - np.where((yb != 1) & active, g, 0.0)
    return sum_to_shape(grad, x.shape), None


# --- margin_ranking_loss --------------------------------------------------------------------

def _ranking_args(input1, input2, target):
    for name, value in (("input1", input1), ("input2", input2), ("target", target)):
        refuse_bool(name, value, "(torch cannot negate or subtract booleans)")
    # torch promotes integer arguments to float here.
    x1 = as_float("input1", input1, allow_int=True)
    x2 = as_float("input2", input2, allow_int=True)
    y = as_float("target", target, allow_int=True)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(
            "input1, input2 and target must have the same number of dimensions, got shapes "
            f"input1 {x1.shape}, input2 {x2.shape}, target {y.shape}")
    return (x1, x2, y), broadcast(("input1", "input2", "target"), x1, x2, y)


def margin_ranking_loss(input1, input2, target, margin=0, *, reduction="mean"):
    r"""Margin ranking loss.

    .. math:: \ell = \max(0, -y\,(x_1 - x_2) + \text{margin})

    The three arguments must have the same number of dimensions and otherwise broadcast;
    ``y = 0`` gives ``max(0, margin)``. Integer arguments are promoted to float.
    """
    check_reduction(reduction)
    _, (x1, x2, y) = _ranking_args(input1, input2, target)
    with np.errstate(invalid="ignore"):  # 0 * inf and inf - inf give nan, as in torch
        loss = np.maximum(-y * (x1 - x2) + float(margin), 0.0)
    return reduce(loss, reduction)


def margin_ranking_loss_backward(grad_output, input1, input2, target, margin=0, *, reduction="mean"):
    r"""Gradient of ``margin_ranking_loss``, with ``z = -y (x_1 - x_2) + margin`` and ``a = g [z > 0]``:

    .. math::
        \partial/\partial x_1 = -y\,a, \quad \partial/\partial x_2 = y\,a, \quad
        \partial/\partial y = -(x_1 - x_2)\,a

    ``z = 0`` (the kink: minimum-norm subgradient) and nan ``z`` are not active. The products
    are formed as torch's autograd forms them, so an infinite ``y`` or ``x`` times an
    inactive 0 is nan, as in torch. Each gradient is summed back to its argument's shape.
    One entry per array parameter, (input1, input2, target): an integer argument (not
    differentiable in torch) gets None; ``margin`` is a number (no entry).
    """
    check_reduction(reduction)
    (a1, a2, ay), (x1, x2, y) = _ranking_args(input1, input2, target)
    with np.errstate(invalid="ignore"):
        z = -y * (x1 - x2) + float(margin)
        g = unreduce(grad_output, reduction, z.shape)
        active = np.where(hinge_active(z), g, 0.0)  # 0 at the kink z = 0 (minimum norm)
        grads = (-y * active, y * active, -(x1 - x2) * active)
    return tuple(sum_to_shape(d, a.shape) if _is_float(raw) else None
                 for d, a, raw in zip(grads, (a1, a2, ay), (input1, input2, target)))


# --- multi_margin_loss ----------------------------------------------------------------------

def _multi_margin_args(input, target, p, weight):
    if p != 1 and p != 2:
        raise ValueError(f"p must be 1 or 2 (only p == 1 and p == 2 supported), got {p!r}")
    x = as_float("input", input)
    t = _int64_index("target", target)
    x2, n, classes = _matrix_input(x)
    if t.ndim > 1 or t.size != n:
        raise ValueError(
            f"target must be 1-D (or 0-d) with one class index per sample ({n}) for input of shape {x.shape}, "
            f"got shape {t.shape}")
    t1 = t.reshape(n)
    if np.any((t1 < 0) | (t1 >= classes)):
        bad = t1[(t1 < 0) | (t1 >= classes)][0]
        raise IndexError(f"target holds class index {bad}, outside [0, {classes})")
    if weight is not None:
        w = np.asarray(weight)
        if w.ndim != 1:
            raise ValueError(f"weight must be one-dimensional, got shape {w.shape}")
        w = check_weight("weight", w, classes)
    else:
        w = np.ones(classes)
    return x, t, x2, t1, n, classes, w


def _multi_margin_hinge(x2, t1, n, margin):
    """Our own (N, C) array of max(0, margin - x[n, y_n] + x[n, i]), and 0 at i = y_n.

    Strict z > 0, as the native kernel: z = 0 and nan (inf - inf) give 0 (np.fmax), so
    they contribute nothing (nor their weight). One array, formed in place: the masks and
    np.where of the literal version made 5 (N, C) temporaries and 2.9x torch's time.
    """
    rows = np.arange(n)
    with np.errstate(invalid="ignore"):  # inf - inf: nan, which fails z > 0 (torch skips it too)
        z = np.add(float(margin) - x2[rows, t1][:, None], x2)
    z[rows, t1] = 0.0                    # the target's own slot is no term
    return np.fmax(z, 0.0, out=z)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, *, reduction="mean"):
    r"""Multi-class margin (hinge) loss of class-index targets.

    .. math::
        \ell_n = \frac{1}{C} \sum_{i \ne y_n} w_{y_n} \max(0, \text{margin} - x_{n, y_n} + x_{n,i})^p,
        \qquad \text{mean} = \frac{1}{N}\sum_n \ell_n

    The weight of the *target* class multiplies every term; the sum is divided by ``C``
    (the target slot included), and 'mean' by ``N`` (not by the weights). ``p`` is 1 or 2.
    Input ``()`` (one class: loss 0), ``(C)`` or ``(N, C)``; 'none' gives ``(N)``, or ``()``
    when the target is 0-d. An empty batch gives nan for 'mean' and 0 for 'sum' (torch
    returns uninitialised memory there, a known quirk).
    """
    check_reduction(reduction)
    x, t, x2, t1, n, classes, w = _multi_margin_args(input, target, p, weight)
    h = _multi_margin_hinge(x2, t1, n, margin)
    with np.errstate(over="ignore", invalid="ignore"):
        if p == 2:
            h *= h
        loss = w[t1] * np.sum(h, axis=1) / classes
    if t.ndim == 0:
        loss = loss.reshape(())
    return reduce(loss, reduction)


def multi_margin_loss_backward(grad_output, input, target, p=1, margin=1.0, weight=None, *, reduction="mean"):
    r"""Gradient of ``multi_margin_loss`` with respect to the input.

    For every ``i != y`` with ``z_i = margin - x_y + x_i > 0`` (strictly: 0 at ``z = 0``,
    as the native kernel)::

        d ℓ / d x_i = w_y · (1 if p == 1 else 2 z_i) / C · g_n       (÷ N for 'mean')
        d ℓ / d x_y = -Σ_i d ℓ / d x_i

    One entry per array parameter, (input, target, weight): only the input has a gradient;
    the target is an index, and torch refuses a gradient for the weight ("not
    differentiable with respect to argument 'weight'"). ``p`` and ``margin`` are numbers
    (no entry).
    """
    check_reduction(reduction)
    x, t, x2, t1, n, classes, w = _multi_margin_args(input, target, p, weight)
    g = unreduce(grad_output, reduction, (n,) if t.ndim else ()).reshape(n) / classes
    grad = _multi_margin_hinge(x2, t1, n, margin)   # max(0, z), formed into the gradient in place:
    with np.errstate(over="ignore", invalid="ignore"):
        if p == 1:
            np.sign(grad, out=grad)                  # 1 where z > 0, else 0
        else:
            grad *= 2.0                              # 2 z where z > 0, else 0
        grad *= (w[t1] * g)[:, None]
        grad[np.arange(n), t1] = -np.sum(grad, axis=1)   # the target slot held 0
    return grad.reshape(x.shape), None, None


# --- multilabel_margin_loss -----------------------------------------------------------------

def _multilabel_args(input, target):
    x = as_float("input", input)
    t = _int64_index("target", target)
    x2, n, classes = _matrix_input(x)
    if x.ndim <= 1:
        if t.ndim > 1 or t.size != classes:
            raise ValueError(f"target must have shape ({classes},) for input of shape {x.shape}, got {t.shape}")
    elif t.shape != x.shape:
        raise ValueError(f"target must have the input's shape {x.shape}, got {t.shape}")
    # torch checks every entry, even those after the terminating -1.
    bad = (t < -1) | (t >= classes)
    if np.any(bad):
        raise IndexError(f"target holds class index {t[bad].flat[0]}, outside [0, {classes}) and not -1")
    return x, t, x2, t.reshape(n, classes), n, classes


def _multilabel_slots(x2, t2):
    """What every target slot of a row needs: ``a[n, k] = 1 - x[n, j_k]`` and the input with the
    row's target classes set to -inf, ``others``.

    A row's targets are its prefix before the first negative entry, duplicates kept; a slot
    past the prefix gets ``a = -inf``. Then ``z = a[:, k] + others`` is ``1 - x_j + x_i`` on
    the non-targets and -inf (or nan, for an infinite ``a``) where there is no pair, and
    neither of those passes ``z > 0``. Only the slots up to the longest prefix are returned.
    """
    in_prefix = np.cumprod(t2 >= 0, axis=1).astype(bool)   # True up to the first -1
    slots = int(in_prefix.sum(axis=1).max(initial=0))
    t2, in_prefix = t2[:, :slots], in_prefix[:, :slots]
    safe = np.where(in_prefix, t2, 0)
    is_target = np.zeros(x2.shape, dtype=bool)
    row, slot = np.nonzero(in_prefix)
    is_target[row, t2[row, slot]] = True
    others = np.where(is_target, -np.inf, x2)
    with np.errstate(invalid="ignore"):
        a = np.where(in_prefix, 1.0 - np.take_along_axis(x2, safe, axis=1), -np.inf)
    return a, others, safe


def multilabel_margin_loss(input, target, *, reduction="mean"):
    r"""Multi-label margin loss: every target class against every non-target class.

    For a row with target list ``J`` (the entries before the first -1, duplicates
    counted as often as they appear) and target set ``S``:

    .. math::
        \ell_n = \frac{1}{C} \sum_{j \in J} \sum_{i \notin S} \max(0, 1 - x_j + x_i),
        \qquad \text{mean} = \frac{1}{N}\sum_n \ell_n

    Target has the input's shape (``(C)`` or ``(N, C)``, or ``(1,)``/``()`` for a 0-d
    input); every entry must lie in ``[-1, C)``. 'none' gives ``(N)`` for a 2-D target
    and ``()`` otherwise. An empty batch's 'mean' is nan (torch: uninitialised memory).
    """
    check_reduction(reduction)
    x, t, x2, t2, n, classes = _multilabel_args(input, target)
    a, others, _ = _multilabel_slots(x2, t2)
    loss = np.zeros(n)
    z = np.empty_like(others)
    # One target slot at a time: (N, C) work per slot, as torch's kernel, instead of an
    # (N, slots, C) array (8x the input at 8 labels; the all-slots version was 120x torch).
    for k in range(a.shape[1]):
        with np.errstate(invalid="ignore"):  # inf - inf: nan, which is no pair
            np.add(others, a[:, k, None], out=z)
        # Strict z > 0, as the native kernel: z = 0 adds nothing, and fmax makes nan 0.
        loss += np.fmax(z, 0.0, out=z).sum(axis=1)
    loss /= classes
    if t.ndim <= 1:
        loss = loss.reshape(())
    return reduce(loss, reduction)


def multilabel_margin_loss_backward(grad_output, input, target, *, reduction="mean"):
    r"""Gradient of ``multilabel_margin_loss`` with respect to the input.

    Each active pair (target slot ``j``, non-target ``i``, ``z = 1 - x_j + x_i > 0``
    strictly: 0 at ``z = 0``, as the native kernel) adds ``-g_n/C`` to ``x_j`` and
    ``+g_n/C`` to ``x_i`` (``g_n`` ÷ N for 'mean'); a class listed twice collects twice.
    Entries (input, target): the target is an index (None).
    """
    check_reduction(reduction)
    x, t, x2, t2, n, classes = _multilabel_args(input, target)
    a, others, safe = _multilabel_slots(x2, t2)
    g = unreduce(grad_output, reduction, (n,) if t.ndim == 2 else ()).reshape(n) / classes
    pairs = np.zeros(x2.shape)                    # per class: +1 as a non-target, -1 as a target, per pair
    z = np.empty_like(others)
    active = np.empty(x2.shape, dtype=bool)
    rows = np.arange(n)
    for k in range(a.shape[1]):                   # one target slot at a time (see multilabel_margin_loss)
        with np.errstate(invalid="ignore"):
            np.add(others, a[:, k, None], out=z)
        np.greater(z, 0.0, out=active)            # nan is not active
        pairs += active
        pairs[rows, safe[:, k]] -= active.sum(axis=1)   # a slot past the prefix has no active pair
    pairs *= g[:, None]
    return pairs.reshape(x.shape), None


# --- soft_margin_loss -----------------------------------------------------------------------

def _soft_margin_args(input, target):
    x = as_float("input", input)   # torch cannot write its float result into an integer input's type
    y = as_float("target", target, allow_int=True)
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"target of shape {y.shape} must broadcast to the input's shape {x.shape} "
                         "without enlarging it")
    return x, np.broadcast_to(y, x.shape)


def soft_margin_loss(input, target, *, reduction="mean"):
    r"""Soft margin loss, computed literally as torch does.

    .. math:: \ell = \log(1 + \exp(-y\,x))

    Not the stable softplus: ``exp(-y x)`` overflows to inf where ``-y x`` exceeds ~709.8
    in float64 (torch overflows at ~88.7 in float32, ~11.1 in float16, so between those
    thresholds torch in the narrower dtype gives inf where this gives a finite value).
    The target broadcasts into the input's shape, which is the output's.
    """
    check_reduction(reduction)
    x, y = _soft_margin_args(input, target)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.log1p(np.exp(-y * x))  # literal, overflows to inf exactly as torch's formula
    return reduce(loss, reduction)


def soft_margin_loss_backward(grad_output, input, target, *, reduction="mean"):
    r"""Gradient of ``soft_margin_loss``, in torch's literal form with ``z = exp(-y x)``:

    .. math:: \partial\ell/\partial x = -y\,\frac{z}{1 + z}\, g \quad (÷\,\text{numel for 'mean'})

    Where ``z`` overflows this is inf/inf = nan, as in torch (not the limit ``-y``).
    Entries (input, target): torch refuses a gradient for the target (None).
    """
    check_reduction(reduction)
    x, y = _soft_margin_args(input, target)
    g = unreduce(grad_output, reduction, x.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.exp(-y * x)           # literal: inf where the forward overflowed
        grad = -y * z / (1.0 + z) * g  # inf / inf = nan there, as torch
    return np.asarray(grad, dtype=np.float64), None


# --- multilabel_soft_margin_loss ------------------------------------------------------------

def _soft_multilabel_args(input, target, weight):
    x = as_float("input", input)
    if x.ndim == 0:
        raise ValueError("input must have at least 1 dimension (the classes, last), got a 0-d array")
    refuse_bool("target", target, "(torch cannot negate or subtract booleans)")
    y = as_float("target", target, allow_int=True)
    if weight is None:
        return x, y, None, [*broadcast(("input", "target"), x, y), None]
    w = as_float("weight", weight, allow_int=True)
    return x, y, w, list(broadcast(("input", "target", "weight"), x, y, w))


def _soft_multilabel_elementwise(xb, yb):
    """-(y logσ(x) + (1 - y) logσ(-x)), the stable log-sigmoid, before weighting.

    logσ(±x) = min(±x, 0) - log1p(exp(-|x|)) (``_common.log_sigmoid``): the shared second
    term is computed once, and the products in place, which gives the same values in half
    the arrays (the literal expression peaked at 3x its inputs' memory).
    """
    with np.errstate(invalid="ignore"):  # 0 * -inf: nan, as torch
        shared = np.log1p(np.exp(-np.abs(xb)))
        positive = np.minimum(xb, 0.0) - shared          # logσ(x)
        positive *= yb
        negative = np.minimum(-xb, 0.0) - shared         # logσ(-x)
        negative *= 1.0 - yb
        positive += negative
        return -positive


def multilabel_soft_margin_loss(input, target, weight=None, *, reduction="mean"):
    r"""Multi-label soft margin loss, averaged over the classes (the input's LAST axis).

    .. math::
        \ell_n = \frac{1}{C} \sum_c w_c \bigl(-y_c \log\sigma(x_c) - (1 - y_c)\log\sigma(-x_c)\bigr)

    ``log σ`` is the stable ``min(x, 0) - log1p(exp(-|x|))``, so logits of ±1e4 are
    exact. Target and weight broadcast freely against the input; the class sum runs over
    axis ``input.ndim - 1`` of the broadcast loss with ``C = input.shape[-1]`` (the weight is
    not in the denominator). 'mean' averages the per-sample losses.
    """
    check_reduction(reduction)
    x, _, _, (xb, yb, wb) = _soft_multilabel_args(input, target, weight)
    loss = _soft_multilabel_elementwise(xb, yb)
    if wb is not None:
        loss = loss * wb
    with np.errstate(invalid="ignore", divide="ignore"):  # C = 0: 0/0 = nan per sample, as torch
        loss = np.sum(loss, axis=x.ndim - 1) / x.shape[-1]
    return reduce(loss, reduction)


def multilabel_soft_margin_loss_backward(grad_output, input, target, weight=None, *, reduction="mean"):
    r"""Gradient of ``multilabel_soft_margin_loss``; with ``G = g_n / C`` (÷ rows for 'mean')
    spread back over the class axis, and ``d/dx logσ(x) = σ(-x)``:

    .. math::
        \partial/\partial x = w\,(\sigma(x) - y)\,G, \quad
        \partial/\partial y = w\,(\log\sigma(-x) - \log\sigma(x))\,G\ (= -w x G), \quad
        \partial/\partial w = \ell_{\text{elem}}\, G

    each summed back to its argument's shape (broadcasting). Entries (input, target,
    weight): an integer target or weight, and a weight not given, get None.
    """
    check_reduction(reduction)
    x, y, w, (xb, yb, wb) = _soft_multilabel_args(input, target, weight)
    axis = x.ndim - 1
    out_shape = np.delete(np.array(xb.shape, dtype=np.int64), axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        big_g = unreduce(grad_output, reduction, tuple(int(s) for s in out_shape))
        big_g = np.expand_dims(big_g / x.shape[-1], axis)   # the class sum's adjoint: spread along it
        scale = big_g if wb is None else big_g * wb
        # σ(x) - y written as torch's composite computes it, (1 - y) σ(x) - y σ(-x): for a binary y
        # one part is 0 and the entry keeps its relative precision where σ(x) ≈ y (the literal
        # difference loses it: at x = 8, y = 1 it is 3e-4 with an absolute error of eps).
        grad_x = ((1.0 - yb) * sigmoid(xb) - yb * sigmoid(-xb)) * scale
        # The literal difference of the two log-sigmoids (= -x), inf/nan exactly where torch's is.
        grad_y = (log_sigmoid(-xb) - log_sigmoid(xb)) * scale
        grad_w = None if wb is None else _soft_multilabel_elementwise(xb, yb) * big_g
    grad_x = sum_to_shape(np.broadcast_to(grad_x, xb.shape), x.shape)
    grad_y = sum_to_shape(np.broadcast_to(grad_y, xb.shape), y.shape) if _is_float(target) else None
    if grad_w is not None:
        grad_w = sum_to_shape(np.broadcast_to(grad_w, xb.shape), w.shape) if _is_float(weight) else None
    return grad_x, grad_y, grad_w
