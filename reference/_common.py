"""What every reference shares: argument conversion, validation and the reduction.

Everything here is NumPy only. The references call these helpers so that the same
input is refused the same way by every loss, and so that ``reduction`` means one
thing across the package (see ``reduce``).
"""

from __future__ import annotations

import numpy as np

#: The reductions every loss accepts; ``kl_div`` adds ``'batchmean'``. torch's deprecated
#: alias ``'elementwise_mean'`` is left out, like ``size_average`` and ``reduce``.
REDUCTIONS = ("none", "mean", "sum")


def read_only(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that cannot be written through.

    The references take their arguments this way instead of copying them: no reference
    can modify the caller's array (a write raises), and a float64 argument costs no
    memory or time (a copy of a 4M-element input alone took longer than nll_loss).
    """
    view = array.view()
    view.flags.writeable = False
    return view


def as_float(name: str, value, *, allow_int: bool = False) -> np.ndarray:
    """``value`` as a read-only float64 array; refuse what torch refuses for a float argument.

    torch refuses integer and boolean tensors where it expects floating point
    (log_softmax, sigmoid, ...), so we do too, unless ``allow_int`` says the loss
    promotes integers (poisson_nll_loss, margin_ranking_loss, ...). Complex input is
    refused everywhere. A float64 array is not copied (see ``read_only``).
    """
    array = np.asarray(value)
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be a real floating-point array, got complex dtype {array.dtype}")
    if kind in "biu" and not allow_int:
        raise TypeError(
            f"{name} must be a floating-point array, got integer dtype {array.dtype}"
        )
    if kind not in "fbiu":
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return read_only(np.asarray(array, dtype=np.float64))


def as_index(name: str, value, *, dtypes: str = "int64 or uint8") -> np.ndarray:
    """``value`` as a read-only int64 array of class indices.

    torch takes class indices as int64 (or uint8 where noted), never as floats: a float
    index array is a wrong *kind* of argument, hence ``TypeError``.
    """
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of class indices ({dtypes}), got dtype {array.dtype}")
    return read_only(np.asarray(array, dtype=np.int64))


def check_reduction(reduction, allowed=REDUCTIONS) -> str:
    if reduction not in allowed:
        expected = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"reduction must be one of {expected}, got {reduction!r}")
    return reduction


def check_weight(name: str, weight, length: int) -> np.ndarray:
    """A 1-D per-class weight of exactly ``length`` entries, as float64."""
    weight = as_float(name, weight)
    if weight.shape != (length,):
        raise ValueError(
            f"{name} must be a 1-D array with one entry per class ({length}), got shape {weight.shape}"
        )
    return weight


def broadcast(names: tuple[str, ...], *arrays: np.ndarray) -> list[np.ndarray]:
    """Broadcast like torch; on failure name the arguments and their shapes."""
    try:
        return np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise ValueError(f"shapes do not broadcast: {shapes}") from None


def reduce(loss: np.ndarray, reduction: str, denominator=None) -> np.ndarray:
    """Apply ``reduction`` to the unreduced ``loss``; always return float64.

    ``'none'`` returns the loss as it is; ``'sum'`` its sum; ``'mean'`` the sum over
    ``denominator``, which defaults to the number of elements.  The losses whose mean
    is not a plain mean (weighted cross-entropy, CTC, ...) pass their own denominator.
    An empty mean is 0/0 = nan, as in torch.
    """
    loss = np.asarray(loss, dtype=np.float64)
    if reduction == "none":
        return loss
    total = np.sum(loss)
    if reduction == "sum":
        return np.asarray(total, dtype=np.float64)
    if denominator is None:
        denominator = loss.size
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.float64(total) / np.float64(denominator), dtype=np.float64)


def unreduce(grad_output, reduction: str, shape: tuple[int, ...], denominator=None) -> np.ndarray:
    """The backward of ``reduce``: d(reduced)/d(loss) times ``grad_output``, shaped like the loss.

    ``'none'``: the gradient is ``grad_output`` itself; ``'sum'``: every element gets the
    scalar; ``'mean'``: every element gets the scalar over the same denominator. For
    ``'sum'`` and ``'mean'`` the result is a read-only broadcast view of that scalar (an
    array of the loss's size would be one more input-sized allocation in every backward).
    """
    grad_output = np.asarray(grad_output, dtype=np.float64)
    if reduction == "none":
        return np.broadcast_to(grad_output, shape).astype(np.float64)
    if denominator is None:
        denominator = int(np.prod(shape, dtype=np.int64))
    with np.errstate(divide="ignore", invalid="ignore"):  # an empty or all-ignored mean: 0/0
        scale = grad_output if reduction == "sum" else grad_output / np.float64(denominator)
    return np.broadcast_to(scale, shape)


def sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A new float64 gradient of an argument's own ``shape`` (the adjoint of broadcasting):
    summed over the axes the argument was broadcast along, and broadcast up where the
    gradient is constant along an axis the argument has."""
    grad = np.asarray(grad, dtype=np.float64)
    grad = np.broadcast_to(grad, np.broadcast_shapes(grad.shape, shape))
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return np.array(grad.reshape(shape), dtype=np.float64)


def is_integer_array(value) -> bool:
    """Integer or boolean data: torch gives such an argument no gradient (None)."""
    return np.asarray(value).dtype.kind in "biu"


def refuse_bool(name: str, value, why: str) -> None:
    """torch refuses ``-`` on bool tensors: where a loss negates or subtracts ``value``, a
    boolean array is the wrong kind of argument."""
    if np.asarray(value).dtype.kind == "b":
        raise TypeError(f"{name} must be a numeric (not boolean) array {why}, got dtype bool")


def torch_sign(x: np.ndarray) -> np.ndarray:
    """torch.sign of a real array: -1, 0 or 1, and 0 (not nan) for nan, as torch computes
    (0 < x) - (x < 0). It is the subgradient of |x| torch takes at 0."""
    x = np.asarray(x, dtype=np.float64)
    sign = np.sign(x, out=np.empty_like(x))   # -1, 0, 1, and nan for nan (out=: an array even when 0-d)
    np.copyto(sign, 0.0, where=np.isnan(sign))
    return sign


def log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Stable log-softmax: x - max - log(sum(exp(x - max))), so logits of ±1e4 stay finite.

    A row holding +inf, or only -inf, is nan throughout (inf - inf), as in torch; a -inf
    entry beside finite ones is -inf.
    """
    if x.shape[axis] == 0:
        return x.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        shifted -= np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))   # in place: our own array
        return shifted


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)): exp(log_softmax(x)), in one array of x's size."""
    if x.shape[axis] == 0:
        return x.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.exp(x - np.max(x, axis=axis, keepdims=True))
        s /= np.sum(s, axis=axis, keepdims=True)
        return s


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|)), finite for any x."""
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp(log_sigmoid(x))."""
    return np.exp(log_sigmoid(x))


def hinge_active(z: np.ndarray) -> np.ndarray:
    """Where the gradient of max(0, z) passes: z > 0 strictly.

    At the kink z = 0 any slope in [0, 1] is a subgradient; torch's autograd documents the
    minimum-norm one, 0, and since torch 2.14 clamp and clamp_min follow it
    (pytorch/pytorch#184574). Up to 2.13 they passed the gradient at z = 0: the suite
    records that as the quirk 'clamp-boundary-subgradient' (lossref.quirks). nan is not
    active (it compares False), as in torch.
    """
    with np.errstate(invalid="ignore"):
        return z > 0


#: The parameters that default to None but never take an array (an index, a callable).
_NOT_ARRAYS = frozenset({"ignore_index", "distance_function"})


def array_parameters(function) -> tuple[str, ...]:
    """The names of a loss's array parameters, in signature order: one entry each in
    ``<loss>_backward``'s tuple, positional or keyword-only alike.

    An array parameter is one without a default (``input``, ``target``, ``var``, CTC's
    lengths, ...) or one whose default is None (``weight``, ``pos_weight``,
    ``linear_bias``), except ``ignore_index`` and ``distance_function``; numbers,
    strings and flags (``margin``, ``reduction``, ``full``, ...) are not.
    """
    import inspect

    return tuple(p.name for p in inspect.signature(function).parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in _NOT_ARRAYS
                 and (p.default is p.empty or p.default is None))


def positional_parameters(function) -> tuple[str, ...]:
    """The names a loss's positional arguments bind to, in order (the parameters before the
    deprecated ``size_average`` and ``reduce`` gap; those after it are keyword-only)."""
    import inspect

    return tuple(p.name for p in inspect.signature(function).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD)
