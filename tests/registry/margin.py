"""Registry records for reference/margin.py: hinge_embedding_loss, margin_ranking_loss,
multi_margin_loss, multilabel_margin_loss, soft_margin_loss, multilabel_soft_margin_loss.

Kinks: random samples keep every hinge argument at least ``GAP`` away from its kink
(redrawing until they do), so that torch's rounding in float16/bfloat16 cannot flip an
active term to inactive; the kinks themselves are edge samples (``edge-kink-*``) with
inputs exact in every dtype.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import (ErrorCase, LossRecord, Sample, class_indices, logits, magnitudes, option_id, pairwise, positive, shape_tags)

REDUCTIONS = ["none", "mean", "sum"]
CLASSES = 5
#: Least distance of a hinge's argument from its kink in random samples: float16/bfloat16
#: round inputs of size ~3 by ~0.02, so 0.1 leaves the side of the kink unambiguous.
GAP = 0.1
NAN, INF = np.nan, np.inf
FLOAT64_32 = (torch.float64, torch.float32)


def _away_from_kinks(rng, draw, kinks):
    """``draw(rng)`` again until every entry of ``kinks(drawn)`` is at least GAP from 0."""
    for _ in range(1000):
        drawn = draw(rng)
        z = np.asarray(kinks(*drawn))
        if np.all(np.abs(z) >= GAP):
            return drawn
    raise RuntimeError("could not draw inputs away from the kinks")


def _reduction_kwargs(reduction):
    return {"reduction": reduction}


# --- hinge_embedding_loss ---------------------------------------------------------------------

#: (input shape, target shape); broadcasting is free in both directions.
HINGE_SHAPES = {"0d": ((), ()), "N": (6,), "NC": (4, 3), "NCd": (2, 3, 4),
                "bcast": ((4, 1), (3,)), "bcast-input": ((3,), (2, 3))}


def _shape_pair(shapes, kind):
    spec = shapes[kind]
    return spec if isinstance(spec[0], tuple) else (spec, spec)


def _hinge_target(rng, shape, kind):
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], size=shape)
    if kind == "int":
        return rng.choice(np.array([-1, 1, 0], dtype=np.int64), size=shape)
    # Targets other than ±1 give x + max(0, margin - x) (loss-semantics §2.12).
    return rng.choice([-1.0, 1.0, 0.0, 2.0], size=shape)


def _hinge_samples():
    grid = dict(shape=list(HINGE_SHAPES), target=["pm1", "mixed", "int"], margin=[None, 0.5, -1.0, 2.0],
                reduction=REDUCTIONS)
    for row in pairwise(grid):
        def build(rng, row=row):
            x_shape, y_shape = _shape_pair(HINGE_SHAPES, row["shape"])
            margin = 1.0 if row["margin"] is None else row["margin"]
            (x,) = _away_from_kinks(rng, lambda r: (logits(r, x_shape, 1.5),), lambda x: margin - x)
            y = _hinge_target(rng, y_shape, row["target"])
            kwargs = _reduction_kwargs(row["reduction"])
            if row["margin"] == 0.5:     # margin passed positionally (a number: no gradient either way)
                return (x, y, 0.5), kwargs
            if row["margin"] is not None:
                kwargs["margin"] = row["margin"]
            return (x, y), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=shape_tags(row["shape"]))
    yield from _empty_elementwise(lambda r: ((np.zeros(0), np.zeros(0)), {"reduction": r}))
    # x == margin with y = -1 and y = 0: the kink (subgradient 0, so -0 resp. 1; torch 2.13: -1 resp. 0).
    yield Sample("edge-kink-sum", lambda rng: (
        (np.array([-1.0, 0.5, 1.0, 2.0, 0.5, 1.0]), np.array([1.0, -1.0, -1.0, -1.0, 0.0, 0.0])),
        {"margin": 1.0, "reduction": "sum"}), tags={"edge", "kink"})
    yield Sample("edge-nan-inf-none", lambda rng: (
        (np.array([NAN, NAN, INF, -INF, INF, -INF, 0.5, 0.5]),
         np.array([1.0, -1.0, -1.0, -1.0, 1.0, 1.0, NAN, INF])), {"reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-bool-target-mean", lambda rng: (
        (logits(rng, 5), np.array([True, False, True, True, False])), {}), tags={"edge", "non-float"})


def _empty_elementwise(call):
    for reduction in REDUCTIONS:
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: call(r),
                     tags={"edge", "empty", "empty-batch"})


def _hinge_errors():
    x = np.zeros(3)
    yield ErrorCase("shape-mismatch", (x, np.ones(2)), {},
                    RuntimeError, r"size of tensor a \(\d\) must match the size of tensor b \(\d\)",
                    ValueError, r"input \(3,\), target \(2,\)")
    yield ErrorCase("unknown-reduction", (x, np.ones(3)), {"reduction": "average"},
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")
    yield ErrorCase("integer-input-mean", (np.array([1, 2]), np.array([1, -1])), {},
                    RuntimeError, r"mean\(\): could not infer output dtype", TypeError, r"input.*integer")
    yield ErrorCase("complex-input", (np.zeros(3, dtype=np.complex64), np.ones(3)), {"reduction": "none"},
                    NotImplementedError, r"clamp is not supported for complex types", TypeError, r"input.*complex")
    yield ErrorCase("bool-input", (np.array([True, False]), np.array([1.0, -1.0])), {"reduction": "none"},
                    RuntimeError, r"with two bool tensors is not supported", TypeError, r"input.*bool")


# --- margin_ranking_loss ----------------------------------------------------------------------

#: (input1, input2, target) shapes: same ndim, broadcasting otherwise.
RANKING_SHAPES = {"0d": ((), (), ()), "N": ((6,), (6,), (6,)), "NC": ((3, 4), (3, 4), (3, 4)),
                  "bcast": ((3, 1), (1, 3), (3, 3)), "bcast-target": ((4, 3), (4, 3), (1, 3))}


def _ranking_target(rng, shape, kind):
    if kind == "int":
        return rng.choice(np.array([-1, 1], dtype=np.int64), size=shape)
    if kind == "real":   # any real target is allowed; its gradient is -(x1 - x2)
        return rng.uniform(-2.0, 2.0, size=shape)
    return rng.choice([-1.0, 1.0], size=shape)


def _ranking_samples():
    grid = dict(shape=list(RANKING_SHAPES), target=["pm1", "real", "int"], margin=[None, 0.5, -0.3, 1.0],
                reduction=REDUCTIONS)
    for row in pairwise(grid):
        def build(rng, row=row):
            s1, s2, st = RANKING_SHAPES[row["shape"]]
            margin = 0.0 if row["margin"] is None else row["margin"]
            x1, x2, y = _away_from_kinks(
                rng, lambda r: (logits(r, s1, 1.0), logits(r, s2, 1.0), _ranking_target(r, st, row["target"])),
                lambda a, b, t: -t * (a - b) + margin)
            kwargs = _reduction_kwargs(row["reduction"])
            if row["margin"] == 1.0:   # margin positional (a number: no gradient)
                return (x1, x2, y, 1.0), kwargs
            if row["margin"] is not None:
                kwargs["margin"] = row["margin"]
            return (x1, x2, y), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=shape_tags(row["shape"]))
    yield from _empty_elementwise(lambda r: ((np.zeros(0), np.zeros(0), np.zeros(0)), {"reduction": r}))
    # z = -y (x1 - x2) + margin = 0 exactly: the kink (subgradient 0; 1 up to torch 2.13).
    yield Sample("edge-kink-margin0-sum", lambda rng: (
        (np.array([1.0, 2.0, -0.5]), np.array([1.0, 2.0, 0.5]), np.array([1.0, -1.0, 0.0])), {"reduction": "sum"}),
            tags={"edge", "kink"})
    yield Sample("edge-kink-margin-half-none", lambda rng: (
        (np.array([2.0, 1.0]), np.array([1.5, 1.5]), np.array([1.0, -1.0])), {"margin": 0.5, "reduction": "none"}),
            tags={"edge", "kink"})
    yield Sample("edge-target-zero-mean", lambda rng: (
        (logits(rng, 4), logits(rng, 4), np.zeros(4)), {"margin": 0.5}), tags={"edge"})
    yield Sample("edge-nan-inf-none", lambda rng: (
        (np.array([NAN, INF, 1.0, INF, 1.0]), np.array([0.0, 0.0, -INF, INF, 1.0]),
         np.array([1.0, -1.0, 1.0, 1.0, INF])), {"reduction": "none"}), tags={"edge", "non-finite"})
    # torch promotes integer inputs; only the float target gets a gradient.
    yield Sample("edge-integer-inputs-mean", lambda rng: (
        (np.array([3, -1, 0, 2]), np.array([1, 1, 0, 5]), np.array([1.0, -1.0, 1.0, -1.0])), {"margin": 0.5}),
            tags={"edge", "non-float"})


def _ranking_errors():
    x = np.zeros(3)
    yield ErrorCase("ndim-mismatch", (np.zeros((3, 1)), x, np.zeros((3, 3))), {},
                    RuntimeError, r"All input tensors should have same dimension",
                    ValueError, r"input1, input2 and target.*same number of dimensions")
    yield ErrorCase("shape-mismatch", (x, np.zeros(2), x), {},
                    RuntimeError, r"size of tensor a \(\d\) must match the size of tensor b \(\d\)",
                    ValueError, r"input2 \(2,\)")
    yield ErrorCase("unknown-reduction", (x, x, np.ones(3)), {"reduction": "average"},
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")
    yield ErrorCase("bool-target", (x, x, np.array([True, False, True])), {"reduction": "none"},
                    RuntimeError, r"Negation, the `-` operator, on a bool tensor is not supported",
                    TypeError, r"target.*bool")
    yield ErrorCase("complex-input1", (np.zeros(3, dtype=np.complex64), x, np.ones(3)), {"reduction": "none"},
                    NotImplementedError, r"clamp is not supported for complex types", TypeError, r"input1.*complex")


# --- multi_margin_loss ------------------------------------------------------------------------

#: (input shape, target shape); the target is 0-d or 1-D with one index per sample.
MULTI_SHAPES = {"0d": ((), ()), "C": ((CLASSES,), ()), "C-t1": ((CLASSES,), (1,)),
                "1C": ((1, CLASSES), (1,)), "NC": ((4, CLASSES), (4,))}


def _multi_margin_z(x, t, margin):
    """Every z = margin - x[y] + x[i] with i != y (the hinge arguments), flattened."""
    classes = 1 if x.ndim == 0 else x.shape[-1]
    x2 = x.reshape(-1, classes)
    t1 = t.reshape(-1)
    z = margin - x2[np.arange(len(t1)), t1][:, None] + x2
    return z[np.arange(classes)[None, :] != t1[:, None]]


def _multi_margin_samples():
    grid = dict(shape=list(MULTI_SHAPES), weight=[None, "kw", "pos"], p=[1, 2], margin=[None, 0.5, -0.5, 2.0],
                reduction=REDUCTIONS)
    for row in pairwise(grid):
        def build(rng, row=row):
            x_shape, t_shape = MULTI_SHAPES[row["shape"]]
            classes = 1 if not x_shape else x_shape[-1]
            t = class_indices(rng, t_shape, classes)
            margin = 1.0 if row["margin"] is None else row["margin"]
            (x,) = _away_from_kinks(rng, lambda r: (logits(r, x_shape, 1.0),),
                                    lambda x: _multi_margin_z(x, t, margin))
            kwargs = _reduction_kwargs(row["reduction"])
            if row["weight"] == "pos":   # weight is the 5th positional: torch refuses its gradient
                return (x, t, row["p"], margin, positive(rng, classes)), kwargs
            if row["weight"] == "kw":
                kwargs["weight"] = positive(rng, classes)
            if row["p"] != 1:
                kwargs["p"] = row["p"]
            if row["margin"] is not None:
                kwargs["margin"] = row["margin"]
            return (x, t), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=shape_tags(row["shape"]))
    for reduction in REDUCTIONS:
        # 'mean'/'sum': torch returns uninitialised memory (quirk multi-margin-empty-batch-garbage).
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, CLASSES)), np.zeros(0, dtype=np.int64)), {"reduction": r}),
                tags={"edge", "empty", "empty-batch"})
    # §5b: class 1 sits exactly at z = 0: strict z > 0, so no loss and no gradient from it.
    yield Sample("edge-kink-p2-weight-sum", lambda rng: (
        (np.array([[1.0, 0.0, 2.0, 1.0], [0.0, 1.0, 0.5, -0.5]]), np.array([0, 2])),
        {"p": 2, "weight": np.array([2.0, 1.0, 1.0, 1.0]), "reduction": "sum"}), tags={"edge", "kink"})
    yield Sample("edge-kink-p1-none", lambda rng: (
        (np.array([[1.0, 0.0, 2.0, 1.0], [0.0, 1.0, 0.5, -0.5]]), np.array([0, 2])), {"reduction": "none"}),
            tags={"edge", "kink"})
    # nan and z = nan (inf - inf) fail z > 0 and add nothing; z = inf adds inf.
    yield Sample("edge-nan-inf-p1-none", lambda rng: (
        (np.array([[NAN, 0.0, 1.0], [0.0, NAN, 1.0], [INF, 0.0, 1.0], [0.0, INF, 1.0], [INF, INF, 0.0]]),
         np.array([1, 1, 0, 0, 0])), {"reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-inf-p2-weight-none", lambda rng: (
        (np.array([[0.0, INF, 1.0], [-INF, 0.0, 1.0]]), np.array([0, 0])),
        {"p": 2, "weight": np.array([0.5, 1.0, 2.0]), "reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-logits-1e4-p2-mean", lambda rng: (
        (np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([1, 0])), {"p": 2}), dtypes=FLOAT64_32,
            tags={"edge", "extreme"})
    yield Sample("edge-negative-margin-zero-loss", lambda rng: (
        (logits(rng, (3, CLASSES), 0.1), np.array([0, 4, 2])), {"margin": -5.0}), tags={"edge"})


def _multi_margin_errors():
    x = np.zeros((3, 4))
    t = np.array([1, 2, 0])
    yield ErrorCase("p-three", (x, t), {"p": 3}, ValueError, r"only p == 1 and p == 2 supported", ValueError, r"\bp\b.*3")
    yield ErrorCase("p-one-and-a-half", (x, t), {"p": 1.5},
                    ValueError, r"only p == 1 and p == 2 supported", ValueError, r"\bp\b.*1\.5")
    yield ErrorCase("weight-wrong-length", (x, t), {"weight": np.ones(3)},
                    RuntimeError, r"inconsistent weight size, expected 4 but got \[3\]", ValueError, r"weight.*\(4\)")
    yield ErrorCase("weight-two-dim", (x, t), {"weight": np.ones((2, 2))},
                    ValueError, r"weight must be one-dimensional", ValueError, r"weight must be one-dimensional")
    yield ErrorCase("target-out-of-range", (x, np.array([1, 2, 4])), {},
                    RuntimeError, r"target out of range", IndexError, r"target.*4")
    yield ErrorCase("target-negative", (x, np.array([1, -1, 0])), {},
                    RuntimeError, r"target out of range", IndexError, r"target.*-1")
    yield ErrorCase("target-batch-mismatch", (x, np.array([1, 2])), {},
                    RuntimeError, r"Expected target size \[3\], but got \[2\]", ValueError, r"target.*\(3\).*\(2,\)")
    yield ErrorCase("target-two-dim", (x, np.array([[1], [2], [0]])), {},
                    RuntimeError, r"target tensor should be 1-D", ValueError, r"target must be 1-D.*\(3, 1\)")
    yield ErrorCase("int32-target", (x, t.astype(np.int32)), {},
                    RuntimeError, r"expected scalar type Long but found Int", TypeError, r"target.*int32")
    yield ErrorCase("float-target", (x, t.astype(np.float32)), {},
                    RuntimeError, r"expected scalar type Long but found Float", TypeError, r"target.*float32")
    yield ErrorCase("three-dim-input", (np.zeros((2, 3, 4)), np.array([1, 2])), {},
                    RuntimeError, r"Expected non-empty vector or matrix", ValueError, r"input.*\(2, 3, 4\)")
    yield ErrorCase("zero-classes", (np.zeros((2, 0)), np.array([0, 0])), {},
                    RuntimeError, r"Expected non-empty vector or matrix", ValueError, r"input.*\(2, 0\)")
    yield ErrorCase("integer-input", (np.zeros((3, 4), dtype=np.int64), t), {},
                    NotImplementedError, r"not implemented for 'Long'", TypeError, r"input.*integer")
    yield ErrorCase("unknown-reduction", (x, t), {"reduction": "average"},
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")


# --- multilabel_margin_loss -------------------------------------------------------------------

#: (input shape, target shape): the target has the input's shape ((1,) or () for a 0-d input).
MULTILABEL_SHAPES = {"0d": ((), (1,)), "C": ((CLASSES,), (CLASSES,)), "1C": ((1, CLASSES), (1, CLASSES)),
                     "NC": ((4, CLASSES), (4, CLASSES))}


def _multilabel_row(rng, classes, kind):
    """A target row: a prefix of class indices, then -1 and anything in [-1, C) after it."""
    if kind == "full":          # every class a target, no terminator: loss 0
        return rng.permutation(classes)
    size = rng.integers(0, classes) if kind == "random" else min(classes - 1, 3)
    prefix = rng.integers(0, classes, size=size)   # duplicates allowed, counted each time
    if kind == "dups":
        prefix[:] = prefix[0] if size else 0
        if size > 2:
            prefix[2] = (prefix[0] + 1) % classes
    tail = rng.integers(-1, classes, size=classes - size - 1)   # ignored: after the -1
    return np.concatenate([prefix, [-1], tail]).astype(np.int64)


def _multilabel_target(rng, shape, classes, kind):
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return np.stack([_multilabel_row(rng, classes, kind) for _ in range(rows)]).reshape(shape)


def _multilabel_z(x, t):
    """Every z = 1 - x[j] + x[i] of a target slot j and non-target class i."""
    classes = t.shape[-1] if t.ndim else 1
    x2, t2 = x.reshape(-1, classes), t.reshape(-1, classes)
    zs = []
    for row_x, row_t in zip(x2, t2):
        prefix = row_t[:np.argmax(row_t < 0)] if np.any(row_t < 0) else row_t
        others = np.setdiff1d(np.arange(classes), prefix)
        zs.append((1.0 - row_x[prefix][:, None] + row_x[others][None, :]).ravel())
    return np.concatenate(zs) if zs else np.zeros(0)


def _multilabel_margin_samples():
    grid = dict(shape=list(MULTILABEL_SHAPES), target=["random", "dups", "full"], reduction=REDUCTIONS)
    for row in pairwise(grid):
        def build(rng, row=row):
            x_shape, t_shape = MULTILABEL_SHAPES[row["shape"]]
            classes = t_shape[-1]
            t = _multilabel_target(rng, t_shape, classes, row["target"])
            (x,) = _away_from_kinks(rng, lambda r: (logits(r, x_shape, 1.0),), lambda x: _multilabel_z(x, t))
            return (x, t), _reduction_kwargs(row["reduction"])
        yield Sample(f"{row['shape']}-{row['target']}-{row['reduction']}", build, tags=shape_tags(row["shape"]))
    # Exercise the draw across several rows of every kind at once.
    yield Sample("NC-mixed-rows-mean", lambda rng: _mixed_multilabel(rng), tags=shape_tags("NC"))
    for reduction in REDUCTIONS:
        # 'mean' (and, observed, 'sum'): torch returns uninitialised memory
        # (quirk multilabel-margin-empty-batch-garbage).
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, CLASSES)), np.zeros((0, CLASSES), dtype=np.int64)), {"reduction": r}),
                tags={"edge", "empty", "empty-batch"})
    yield Sample("edge-zero-dim-target-none", lambda rng: ((np.array(0.7), np.array(0)), {"reduction": "none"}),
                 tags={"edge"})
    # Row 0: z = 1 - 1.5 + 0.5 = 0 for class 0: strict z > 0, no loss and no gradient.
    # Row 1: first entry -1: loss 0 whatever follows.
    yield Sample("edge-kink-and-leading-terminator-none", lambda rng: (
        (np.array([[0.5, 1.5, 0.0, -1.0], [0.3, 2.0, -1.0, 0.5]]), np.array([[1, -1, 3, 2], [-1, 0, 1, 2]])),
        {"reduction": "none"}), tags={"edge", "kink"})
    yield Sample("edge-nan-inf-none", lambda rng: (
        (np.array([[NAN, 0.0, 1.0, 0.5], [INF, 0.0, 1.0, 0.5], [0.0, INF, 1.0, 0.5], [INF, INF, 0.0, 0.0]]),
         np.array([[1, -1, 0, 0], [0, -1, 0, 0], [0, 2, -1, 0], [0, -1, 0, 0]])), {"reduction": "none"}),
             tags={"edge", "non-finite"})
    yield Sample("edge-logits-1e4-sum", lambda rng: (
        (np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([[1, -1, 0], [0, 2, -1]])),
        {"reduction": "sum"}), dtypes=FLOAT64_32, tags={"edge", "extreme"})


def _mixed_multilabel(rng):
    t = np.stack([_multilabel_row(rng, CLASSES, kind) for kind in ("random", "dups", "full", "random", "dups")])
    (x,) = _away_from_kinks(rng, lambda r: (logits(r, t.shape, 1.0),), lambda x: _multilabel_z(x, t))
    return (x, t), {}


def _multilabel_margin_errors():
    x = np.zeros((2, 4))
    yield ErrorCase("target-below-minus-one", (x, np.array([[1, -1, 0, 0], [1, 2, 3, -2]])), {},
                    RuntimeError, r"argument #2 'target' is out of range", IndexError, r"target.*-2")
    yield ErrorCase("target-too-large-after-terminator", (x, np.array([[1, -1, 0, 0], [1, 2, -1, 7]])), {},
                    RuntimeError, r"argument #2 'target' is out of range", IndexError, r"target.*7")
    yield ErrorCase("target-shape-mismatch", (x, np.array([[1, -1, 0, 0]])), {},
                    RuntimeError, r"inconsistent target size: \[1, 4\] for input of size: \[2, 4\]",
                    ValueError, r"target.*\(2, 4\).*\(1, 4\)")
    yield ErrorCase("two-dim-target-for-vector", (np.zeros(4), np.array([[1, -1, 0, 0]])), {},
                    RuntimeError, r"inconsistent target size: \[1, 4\] for input of size: \[4\]",
                    ValueError, r"target.*\(4,\).*\(1, 4\)")
    yield ErrorCase("int32-target", (x, np.zeros((2, 4), dtype=np.int32)), {},
                    RuntimeError, r"expected scalar type Long but found Int", TypeError, r"target.*int32")
    yield ErrorCase("uint8-target", (x, np.zeros((2, 4), dtype=np.uint8)), {},
                    RuntimeError, r"expected scalar type Long but found Byte", TypeError, r"target.*uint8")
    yield ErrorCase("float-target", (x, np.zeros((2, 4))), {},
                    RuntimeError, r"expected scalar type Long but found Double", TypeError, r"target.*float64")
    yield ErrorCase("three-dim-input", (np.zeros((2, 4, 3)), np.zeros((2, 4, 3), dtype=np.int64)), {},
                    RuntimeError, r"Expected non-empty vector or matrix", ValueError, r"input.*\(2, 4, 3\)")
    yield ErrorCase("zero-classes", (np.zeros((2, 0)), np.zeros((2, 0), dtype=np.int64)), {},
                    RuntimeError, r"Expected non-empty vector or matrix", ValueError, r"input.*\(2, 0\)")
    yield ErrorCase("integer-input", (np.zeros((2, 4), dtype=np.int64), np.zeros((2, 4), dtype=np.int64)), {},
                    NotImplementedError, r"not implemented for 'Long'", TypeError, r"input.*integer")
    yield ErrorCase("unknown-reduction", (x, np.zeros((2, 4), dtype=np.int64)), {"reduction": "average"},
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")


# --- soft_margin_loss -------------------------------------------------------------------------

#: (input shape, target shape): the target broadcasts into the input's shape, never beyond it.
SOFT_SHAPES = {"0d": ((), ()), "N": (6,), "NC": (4, 3), "NCd": (2, 3, 4), "bcast-row": ((4, 3), (3,)),
               "bcast-col": ((4, 3), (4, 1)), "bcast-scalar": ((4, 3), ())}


def _soft_margin_samples():
    grid = dict(shape=list(SOFT_SHAPES), target=["pm1", "real", "int"], reduction=REDUCTIONS)
    for row in pairwise(grid):
        def build(rng, row=row):
            x_shape, y_shape = _shape_pair(SOFT_SHAPES, row["shape"])
            # |y x| <= 8 keeps exp(-y x) finite in float16 (overflow above ~11.1): the
            # overflow is an edge sample of its own.
            x = rng.uniform(-4.0, 4.0, size=x_shape)
            y = _ranking_target(rng, y_shape, row["target"])
            return (x, y), _reduction_kwargs(row["reduction"])
        yield Sample(f"{row['shape']}-{row['target']}-{row['reduction']}", build, tags=shape_tags(row["shape"]))
    yield from _empty_elementwise(lambda r: ((np.zeros(0), np.zeros(0)), {"reduction": r}))
    # -y x = 800 overflows exp() in every dtype, float64 included: loss inf, gradient
    # inf/inf = nan in torch and in the reference alike. (Between ~88.7 and ~709.8,
    # float32 torch overflows and the float64 reference does not: not sampled.)
    yield Sample("edge-overflow-none", lambda rng: (
        (np.array([-800.0, 800.0, 800.0, 3.0]), np.array([1.0, -1.0, 1.0, 1.0])), {"reduction": "none"}),
            tags={"edge", "extreme"})
    yield Sample("edge-nan-inf-none", lambda rng: (
        (np.array([NAN, INF, -INF, 1.0, 2.0, 0.5]), np.array([1.0, 1.0, -1.0, INF, NAN, 0.0])),
        {"reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-bool-target-sum", lambda rng: (
        (rng.uniform(-3, 3, 4), np.array([True, False, True, False])), {"reduction": "sum"}),
            tags={"edge", "non-float"})


def _soft_margin_errors():
    yield ErrorCase("target-enlarges-output", (np.zeros(3), np.zeros((2, 3))), {},
                    RuntimeError, r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]",
                    ValueError, r"target.*\(2, 3\).*input's shape \(3,\)")
    yield ErrorCase("target-not-broadcastable", (np.zeros(3), np.zeros(2)), {},
                    RuntimeError, r"size of tensor a \(\d\) must match the size of tensor b \(\d\)",
                    ValueError, r"target.*\(2,\)")
    yield ErrorCase("integer-input", (np.zeros(3, dtype=np.int64), np.ones(3)), {},
                    RuntimeError, r"result type (Float|Double) can.t be cast to the desired output type Long",
                    TypeError, r"input.*integer")
    yield ErrorCase("unknown-reduction", (np.zeros(3), np.ones(3)), {"reduction": "average"},
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")


# --- multilabel_soft_margin_loss --------------------------------------------------------------

#: (input, target) shapes; classes are the input's LAST axis.
SOFT_MULTI_SHAPES = {"C": (CLASSES,), "NC": (4, CLASSES), "NdC": (2, 3, CLASSES), "bcast": ((4, CLASSES), (CLASSES,))}


def _soft_multi_target(rng, shape, kind):
    if kind == "int":
        return rng.integers(0, 2, size=shape, dtype=np.int64)
    if kind == "soft":
        return rng.uniform(0.0, 1.0, size=shape)
    return rng.integers(0, 2, size=shape).astype(np.float64)


def _soft_multi_samples():
    grid = dict(shape=list(SOFT_MULTI_SHAPES), weight=[None, "kw", "pos", "pos-full"], target=["binary", "soft", "int"],
                reduction=REDUCTIONS)
    for row in pairwise(grid):
        def build(rng, row=row):
            x_shape, y_shape = _shape_pair(SOFT_MULTI_SHAPES, row["shape"])
            x = logits(rng, x_shape)
            y = _soft_multi_target(rng, y_shape, row["target"])
            kwargs = _reduction_kwargs(row["reduction"])
            if row["weight"] == "kw":           # keyword: not gradient-checked
                kwargs["weight"] = positive(rng, CLASSES)
            elif row["weight"] == "pos":        # positional per-class weight: its gradient is checked
                return (x, y, positive(rng, CLASSES)), kwargs
            elif row["weight"] == "pos-full":   # a weight of the input's full shape
                return (x, y, positive(rng, x_shape)), kwargs
            return (x, y), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=shape_tags(row["shape"]))
    for reduction in REDUCTIONS:
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, CLASSES)), np.zeros((0, CLASSES)), np.ones(CLASSES)), {"reduction": r}),
                tags={"edge", "empty", "empty-batch"})
    # C = 0: the class sum is 0 over 0 classes: nan per sample, as torch.
    yield Sample("edge-zero-classes-none", lambda rng: ((np.zeros((3, 0)), np.zeros((3, 0))), {"reduction": "none"}),
                 tags={"edge", "empty"})
    yield Sample("edge-logits-1e4-weight-sum", lambda rng: (
        (np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([[0.0, 1.0, 0.5], [0.0, 1.0, 0.0]]),
         np.array([1.0, 2.0, 0.5])), {"reduction": "sum"}), dtypes=FLOAT64_32, tags={"edge", "extreme"})
    # inf with target 1: (1 - y) logσ(-x) = 0 · -inf = nan, as torch's formula.
    yield Sample("edge-nan-inf-none", lambda rng: (
        (np.array([[INF, -INF, 0.5], [INF, -INF, NAN], [0.0, 1.0, 2.0]]),
         np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])), {"reduction": "none"}),
             tags={"edge", "non-finite"})
    # The class sum runs over axis input.ndim - 1 of the *broadcast* loss: a weight with an
    # extra leading axis makes that a non-last axis (loss-semantics §2.17, followed as torch).
    yield Sample("edge-weight-adds-leading-axis-none", lambda rng: (
        (logits(rng, (4, 3)), rng.integers(0, 2, size=(4, 3)).astype(np.float64), positive(rng, (2, 1, 3))),
        {"reduction": "none"}), tags={"edge"})
    yield Sample("edge-target-adds-leading-axis-mean", lambda rng: (
        (logits(rng, 3), rng.uniform(0, 1, size=(2, 3))), {}), tags={"edge"})


def _soft_multi_errors():
    x = np.zeros((2, 3))
    yield ErrorCase("zero-dim-input", (np.array(0.5), np.array(1.0)), {},
                    IndexError, r"Dimension specified as -1 but tensor has no dimensions",
                    ValueError, r"input.*at least 1 dimension")
    yield ErrorCase("target-shape-mismatch", (x, np.zeros((2, 4))), {},
                    RuntimeError, r"size of tensor a \(\d\) must match the size of tensor b \(\d\)",
                    ValueError, r"target \(2, 4\)")
    yield ErrorCase("weight-shape-mismatch", (x, np.zeros((2, 3)), np.ones(4)), {},
                    RuntimeError, r"size of tensor a \(\d\) must match the size of tensor b \(\d\)",
                    ValueError, r"weight \(4,\)")
    yield ErrorCase("elementwise-mean-reduction", (x, np.zeros((2, 3))), {"reduction": "elementwise_mean"},
                    ValueError, r"elementwise_mean is not valid", ValueError, r"reduction.*'elementwise_mean'")
    yield ErrorCase("bool-target", (x, np.zeros((2, 3), dtype=bool)), {},
                    RuntimeError, r"Subtraction, the `-` operator, with a bool tensor is not supported",
                    TypeError, r"target.*bool")
    yield ErrorCase("integer-input", (np.zeros((2, 3), dtype=np.int64), np.zeros((2, 3))), {},
                    NotImplementedError, r"not implemented for 'Long'", TypeError, r"input.*integer")


# --- records ----------------------------------------------------------------------------------

#: Half precision is not implemented for the native multi(label) margin kernels on CPU.
_NATIVE_MARGIN_DTYPES = {"cpu": (torch.float64, torch.float32),
                         "cuda": (torch.float64, torch.float32, torch.float16, torch.bfloat16)}
_NATIVE_MARGIN_UNSUPPORTED = {"cpu": (torch.float16, torch.bfloat16)}

RECORDS = [
    LossRecord(name="hinge_embedding_loss", **magnitudes("hinge_embedding_loss"), module="HingeEmbeddingLoss", samples=_hinge_samples,
               errors=_hinge_errors),
    LossRecord(name="margin_ranking_loss", **magnitudes("margin_ranking_loss"), module="MarginRankingLoss", samples=_ranking_samples,
               errors=_ranking_errors),
    LossRecord(name="multi_margin_loss", **magnitudes("multi_margin_loss"), module="MultiMarginLoss", samples=_multi_margin_samples,
               errors=_multi_margin_errors, dtypes=_NATIVE_MARGIN_DTYPES, unsupported=_NATIVE_MARGIN_UNSUPPORTED),
    LossRecord(name="multilabel_margin_loss", **magnitudes("multilabel_margin_loss"), module="MultiLabelMarginLoss", samples=_multilabel_margin_samples,
               errors=_multilabel_margin_errors, dtypes=_NATIVE_MARGIN_DTYPES,
               unsupported=_NATIVE_MARGIN_UNSUPPORTED),
    LossRecord(name="soft_margin_loss", **magnitudes("soft_margin_loss"), module="SoftMarginLoss", samples=_soft_margin_samples,
               errors=_soft_margin_errors),
    LossRecord(name="multilabel_soft_margin_loss", **magnitudes("multilabel_soft_margin_loss"), module="MultiLabelSoftMarginLoss", samples=_soft_multi_samples,
               errors=_soft_multi_errors),
]


# The golden cases, for tests/test_margin_specifics.py; defined with every fixture in lossref.fixtures.cases.
from lossref.fixtures.cases.margin import GOLDEN as FIXTURES  # noqa: E402
