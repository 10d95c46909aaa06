"""Registry records for reference/classification.py: cross_entropy and nll_loss."""

from __future__ import annotations

import numpy as np
import torch

import reference
from reference._common import log_softmax, unreduce
from reference.classification import (_class_axis, _index_target, _is_probability_target, _smoothing,
                                      _target_weights)

from ..tolerances import Magnitude

from .base import (ErrorCase, LossRecord, Sample, class_indices, logits, option_id, pairwise, positive, probabilities,
                   product)

CLASSES = 5
#: Input shapes by kind: unbatched, batch of one, batched, K-dim with K = 1 and 2
#: (the article's NLLLoss2d is the (N, C, H, W) case).
SHAPES = {
    "C": (CLASSES,),
    "1C": (1, CLASSES),
    "NC": (4, CLASSES),
    "NCd": (3, CLASSES, 4),
    "NCHW": (2, CLASSES, 3, 3),
}


def _index_target(rng, shape, ignore_index):
    """Class indices for an input of ``shape``; about a third ignored when ``ignore_index`` is set."""
    target_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
    target = class_indices(rng, target_shape, shape[0 if len(shape) == 1 else 1])
    # An unbatched input has a single target: ignoring it is an edge case of its own
    # (see the edge samples), not something to leave to the draw.
    if ignore_index is not None and target.ndim:
        target[rng.random(target.shape) < 1 / 3] = ignore_index
    return target


def _weight_kwargs(rng, weighted):
    return {"weight": positive(rng, CLASSES)} if weighted else {}


def _ignore_kwargs(ignore_index):
    return {} if ignore_index is None else {"ignore_index": ignore_index}


# ignore_index: None (not passed), -100 (the default, passed explicitly) or a real class
# (1): torch masks by value, so a class inside [0, C) must be masked too.
# reduction x weight is one axis: the weighted mean (divide by the summed target
# weights) must meet every shape kind, not only one.
GRID = dict(shape=list(SHAPES), mode=product(reduction=["mean", "sum", "none"], weight=[False, True]),
            ignore=[None, -100, 1])


def _nll_samples():
    for row in pairwise(GRID):
        def build(rng, row=row):
            shape = SHAPES[row["shape"]]
            axis = 0 if len(shape) == 1 else 1
            log_probs = np.log(probabilities(rng, shape, axis))
            kwargs = dict(reduction=row["reduction"], **_weight_kwargs(rng, row["weight"]), **_ignore_kwargs(row["ignore"]))
            return (log_probs, _index_target(rng, shape, row["ignore"])), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build)
    yield from _shared_edges()
    yield Sample("uint8-target-ignore255", lambda rng: (
        (np.log(probabilities(rng, (4, CLASSES), 1)), np.array([0, 255, 4, 255], dtype=np.uint8)),
        {"ignore_index": 255}))


def _cross_entropy_samples():
    grid = dict(GRID, label_smoothing=[0.0, 0.1, 1.0], target=["index", "probs"])
    for row in pairwise(grid):
        def build(rng, row=row):
            shape = SHAPES[row["shape"]]
            axis = 0 if len(shape) == 1 else 1
            kwargs = dict(reduction=row["reduction"], **_weight_kwargs(rng, row["weight"]))
            if row["label_smoothing"]:
                kwargs["label_smoothing"] = row["label_smoothing"]
            if row["target"] == "probs":
                target = probabilities(rng, shape, axis)
                # Only a negative ignore_index is allowed with probabilities; torch ignores it.
                if row["ignore"] == -100:
                    kwargs["ignore_index"] = -100
            else:
                target = _index_target(rng, shape, row["ignore"])
                kwargs.update(_ignore_kwargs(row["ignore"]))
            return (logits(rng, shape), target), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build)
    yield from _shared_edges()
    yield Sample("edge-negative-label-smoothing", lambda rng: (
        (logits(rng, (4, CLASSES)), class_indices(rng, 4, CLASSES)), {"label_smoothing": -0.2}))
    yield Sample("edge-logits-1e4", lambda rng: (
        (np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, -1e4]]), np.array([1, 2, 2])),
        {"reduction": "none"}), dtypes=(torch.float64, torch.float32))
    yield Sample("edge-logits-1e4-probs-smoothing", lambda rng: (
        (np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])),
        {"label_smoothing": 0.3, "reduction": "sum"}), dtypes=(torch.float64, torch.float32))
    yield Sample("edge-all-ignored-smoothing-mean", lambda rng: (
        (logits(rng, (3, CLASSES)), np.full(3, -100)), {"label_smoothing": 0.2}))


def _shared_edges():
    """Edge cases nll_loss and cross_entropy share: the input is any real array for both."""
    yield Sample("edge-unbatched-ignored-mean", lambda rng: ((logits(rng, (CLASSES,)), np.array(-100)), {}))
    yield Sample("edge-all-ignored-mean", lambda rng: ((logits(rng, (3, CLASSES)), np.full(3, -100)), {}))
    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, CLASSES)), np.zeros(0, dtype=np.int64)), {"reduction": r}))
    yield Sample("edge-empty-spatial-mean", lambda rng: (
        (logits(rng, (2, CLASSES, 0, 3)), np.zeros((2, 0, 3), dtype=np.int64)), {}))
    yield Sample("edge-zero-weight-sum", lambda rng: (
        (logits(rng, (3, CLASSES)), np.array([0, 1, 0])), {"weight": np.array([0.0, 1, 1, 1, 1]), "reduction": "sum"}))
    # nan in a row spreads to that row only (off-target for nll_loss: no effect); -inf and
    # +inf entries: nll gives inf at the target, cross_entropy's log-sum-exp gives nan
    # (inf - inf) for a +inf row and is unaffected by a -inf logit elsewhere.
    yield Sample("edge-nan-inf-none", lambda rng: (
        (np.array([[0.5, np.nan, -1.0, 0.0, 2.0], [np.nan, 1.0, 0.0, 0.0, 0.0],
                   [0.0, -np.inf, 1.0, 0.5, 0.0], [np.inf, 0.0, 1.0, 0.0, 0.0]]),
         np.array([0, 0, 1, 2])), {"reduction": "none"}))
    yield Sample("edge-nan-mean", lambda rng: (
        (np.array([[0.5, 1.0, np.nan], [0.0, 1.0, 2.0]]), np.array([2, 1])), {}))


def _shared_errors(name):
    x = np.zeros((3, CLASSES))
    yield ErrorCase("target-out-of-range", (x, np.array([0, 5, 1])), {},
                    IndexError, r"Target 5 is out of bounds", IndexError, r"target.*5")
    yield ErrorCase("target-negative", (x, np.array([0, -1, 1])), {},
                    IndexError, r"Target -1 is out of bounds", IndexError, r"target.*-1")
    yield ErrorCase("batch-mismatch", (x, np.array([0, 1])), {},
                    ValueError, r"Expected input batch_size \(3\) to match target batch_size \(2\)",
                    ValueError, r"target batch size \(2\).*input batch size \(3\)")
    yield ErrorCase("weight-wrong-length", (x, np.array([0, 1, 2])), {"weight": np.ones(4)},
                    RuntimeError, r"weight tensor should be defined either for all 5 classes", ValueError, r"weight.*\(5\)")
    yield ErrorCase("float-class-indices", (x, np.array([0.0, 1.0, 2.0])), {},
                    RuntimeError, r"expected target dtype to be Long or Byte", TypeError, r"target.*dtype float64")
    yield ErrorCase("int32-class-indices", (x, np.array([0, 1, 2], dtype=np.int32)), {},
                    RuntimeError, r"expected target dtype to be Long or Byte, but got Int", TypeError, r"target.*int32")
    yield ErrorCase("multi-target", (x, np.zeros((3, 1), dtype=np.int64)), {},
                    RuntimeError, r"0D or 1D target tensor expected, multi-target not supported",
                    ValueError, r"target must have shape \(3,\)")
    yield ErrorCase("spatial-mismatch", (np.zeros((2, CLASSES, 4)), np.zeros((2, 3), dtype=np.int64)), {},
                    RuntimeError, r"Expected target size \[2, 4\], got \[2, 3\]", ValueError, r"target must have shape \(2, 4\)")
    yield ErrorCase("unknown-reduction", (x, np.array([0, 1, 2])), {"reduction": "average"},
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")
    if name == "nll_loss":
        yield ErrorCase("zero-dim-input", (np.array(0.5), np.array(0)), {},
                        ValueError, r"Expected 1 or more dimensions \(got 0\)", ValueError, r"input.*at least 1 dimension")
    if name == "cross_entropy":
        yield ErrorCase("label-smoothing-above-one", (x, np.array([0, 1, 2])), {"label_smoothing": 1.5},
                        RuntimeError, r"label_smoothing must be between 0.0 and 1.0. Got: 1.5",
                        ValueError, r"label_smoothing.*1.5")
        yield ErrorCase("probs-with-ignore-index", (x, np.full((3, CLASSES), 0.2)), {"ignore_index": 0},
                        RuntimeError, r"ignore_index is not supported for floating point target",
                        ValueError, r"ignore_index \(0\)")
        yield ErrorCase("integer-probabilities", (x, np.zeros((3, CLASSES), dtype=np.int64)), {},
                        RuntimeError, r"Expected floating point type for target with class probabilities, got Long",
                        TypeError, r"target.*class probabilities.*int64")
        yield ErrorCase("integer-logits", (np.zeros((3, CLASSES), dtype=np.int64), np.array([0, 1, 2])), {},
                        (NotImplementedError, RuntimeError), r"not implemented for 'Long'",
                        TypeError, r"input.*integer")


IN_FEATURES = 3
#: linear_cross_entropy: input shape and linear_weight shape by kind (the last is K-dim:
#: logits (N, C, 2)).
LINEAR_SHAPES = {
    "C": ((IN_FEATURES,), (CLASSES, IN_FEATURES)),
    "1C": ((1, IN_FEATURES), (CLASSES, IN_FEATURES)),
    "NC": ((4, IN_FEATURES), (CLASSES, IN_FEATURES)),
    "NCd": ((3, IN_FEATURES), (CLASSES, 2, IN_FEATURES)),
}


def _linear_samples():
    grid = dict(shape=list(LINEAR_SHAPES), mode=product(reduction=["mean", "sum", "none"], weight=[False, True]),
                ignore=[None, -100, 1], bias=[False, True], label_smoothing=[0.0, 0.2], target=["index", "probs"])
    for row in pairwise(grid):
        def build(rng, row=row):
            input_shape, weight_shape = LINEAR_SHAPES[row["shape"]]
            x, w = logits(rng, input_shape, 1.0), logits(rng, weight_shape, 1.0)
            logit_shape = input_shape[:-1] + weight_shape[:-1]
            kwargs = dict(reduction=row["reduction"], **_weight_kwargs(rng, row["weight"]))
            if row["bias"]:
                kwargs["linear_bias"] = logits(rng, weight_shape[:-1], 1.0)
            if row["label_smoothing"]:
                kwargs["label_smoothing"] = row["label_smoothing"]
            if row["target"] == "probs":
                target = probabilities(rng, logit_shape, 0 if len(logit_shape) == 1 else 1)
            else:
                target = _index_target(rng, logit_shape, row["ignore"])
                kwargs.update(_ignore_kwargs(row["ignore"]))
            return (x, w, target), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build)
    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, IN_FEATURES)), logits(rng, (CLASSES, IN_FEATURES)), np.zeros(0, dtype=np.int64)),
            {"reduction": r}))
    yield Sample("edge-all-ignored-mean", lambda rng: (
        (logits(rng, (3, IN_FEATURES)), logits(rng, (CLASSES, IN_FEATURES)), np.full(3, -100)), {}))
    yield Sample("edge-large-logits-none", lambda rng: (
        (np.array([[100.0, -100.0, 50.0], [-30.0, 80.0, 0.0]]), logits(rng, (CLASSES, IN_FEATURES), 1.0),
         np.array([1, 4])), {"reduction": "none"}), dtypes=(torch.float64,))   # float64: the reference's stability, not float32's rounding of logits ~100


def _linear_errors():
    x, w, t = np.zeros((3, IN_FEATURES)), np.ones((CLASSES, IN_FEATURES)), np.array([0, 1, 2])
    yield ErrorCase("input-3d", (np.zeros((2, 3, IN_FEATURES)), w, t), {},
                    RuntimeError, r"expected input with dimensionality 1 or 2, got 3", ValueError, r"input.*\(2, 3, 3\)")
    yield ErrorCase("in-features-mismatch", (x, np.ones((CLASSES, 4)), t), {},
                    RuntimeError, r"expected equal input and linear_weight last dimensions",
                    ValueError, r"input and linear_weight.*3 and 4")
    yield ErrorCase("bias-wrong-shape", (x, w, t), {"linear_bias": np.zeros(CLASSES + 1)},
                    RuntimeError, r"expected linear_bias shape \(5,\), got \(6,\)", ValueError, r"linear_bias.*\(5,\)")
    yield ErrorCase("probs-with-ignore-index", (x, w, np.full((3, CLASSES), 0.2)), {"ignore_index": -100},
                    RuntimeError, r"ignore_index cannot be specified when target contains probabilities",
                    ValueError, r"ignore_index")
    yield ErrorCase("weight-1d", (x, np.ones(IN_FEATURES), t), {},
                    RuntimeError, r"expected linear_weight with dimensionality at least 2, got 1",
                    ValueError, r"linear_weight.*at least 2")
    yield ErrorCase("target-out-of-range", (x, w, np.array([0, 5, 1])), {},
                    IndexError, r"Target 5 is out of bounds", IndexError, r"target.*5")


# --- sharp where kernels break (issue 10): per-entry gradient magnitudes and sharp samples ---
#
# Kept apart from the grids above: the cases fused cross-entropy kernels have shipped
# wrong, and the magnitudes that let the tolerance see their small gradient entries.

def _cross_entropy_input_magnitude(grad_output, input, target, weight=None, *, ignore_index=-100,
                                   reduction="mean", label_smoothing=0.0):
    r"""Magnitudes of the terms of d loss / d input (tests/tolerances.py, "Entries far below 1").

    With ``gl`` the gradient reaching the log-softmax (``g (1-ε) w[y] onehot(y) + g ε/C w``
    for class indices, ``g w ⊙ p'`` for probabilities, ``g`` the upstream value over the
    mean's denominator), entry ``i`` is ``Σ_j gl_j (δ_ij - s_i)``, ``s = softmax(input)``.
    Each ``gl_j`` is one rounding in the dtype, which enters entry ``i`` times
    ``|δ_ij - s_i|``: ``rounded = |gl_i| (1 - s_i) + s_i Σ_{j≠i} |gl_j|`` (without smoothing
    exactly ``|expected|``: a relative error). The differences ``δ_ij - s_i`` are taken in
    the accumulation type: ``accumulated = |gl_i| + s_i Σ_j |gl_j|``. Only the first entry
    (the input) has one; target and weight keep the O(1) model.
    """
    x = np.asarray(input, dtype=np.float64)
    axis = _class_axis(x)
    classes = x.shape[axis]
    eps = _smoothing(label_smoothing)
    s = np.exp(log_softmax(x, axis))
    w_c = (np.ones(classes) if weight is None else np.asarray(weight, dtype=np.float64)).reshape(
        (classes,) + (1,) * (x.ndim - axis - 1))
    if _is_probability_target(x, target):
        g = unreduce(np.abs(grad_output), reduction, x.sum(axis=axis).shape,
                     denominator=x.size // classes if classes else 0)
        gl = np.expand_dims(g, axis) * w_c * ((1.0 - eps) * np.asarray(target, dtype=np.float64) + eps / classes)
    else:
        t = _index_target(target, x, ignore_index)
        wt, kept, safe = _target_weights(t, None if weight is None else np.asarray(weight, np.float64), classes,
                                         ignore_index)
        g = np.expand_dims(np.where(kept, unreduce(np.abs(grad_output), reduction, t.shape, denominator=np.sum(wt)),
                                    0.0), axis)
        onehot = np.zeros_like(x)
        if classes:
            np.put_along_axis(onehot, np.expand_dims(safe, axis), 1.0, axis)
        gl = g * ((1.0 - eps) * np.expand_dims(wt, axis) * onehot + (eps / classes) * w_c)
    total = np.sum(gl, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):   # nan rows stay nan: the comparison masks them
        return (Magnitude(rounded=gl * (1.0 - s) + s * (total - gl), accumulated=gl + s * total), None, None)


def _nll_input_magnitude(grad_output, *args, **kwargs):
    """nll_loss's input gradient is ``-g w[y] / D`` at the target and exactly 0 elsewhere:
    a product, no cancellation, so the whole error is relative (rounded = |gradient|)."""
    grad_input = reference.nll_loss_backward(grad_output, *args, **kwargs)[0]
    return (Magnitude(rounded=np.abs(grad_input), accumulated=0.0), None, None)


RECORDS = [
    LossRecord(name="nll_loss", module="NLLLoss", samples=_nll_samples, errors=lambda: _shared_errors("nll_loss"),
               gradient_magnitude=_nll_input_magnitude),
    LossRecord(name="cross_entropy", module="CrossEntropyLoss", samples=_cross_entropy_samples,
               errors=lambda: _shared_errors("cross_entropy"), gradient_magnitude=_cross_entropy_input_magnitude),
    LossRecord(name="linear_cross_entropy", module="LinearCrossEntropyLoss", samples=_linear_samples,
               errors=_linear_errors),   # added in torch 2.13: tests/releases.py
]
