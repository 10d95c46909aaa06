"""Registry records for reference/classification.py: cross_entropy and nll_loss."""

from __future__ import annotations

from itertools import chain

import numpy as np
import torch

from lossref._common import log_softmax

from .base import (ErrorCase, LossRecord, Sample, class_indices, logits, magnitudes, option_id, pairwise, positive,
                   probabilities, product, shape_tags)

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


def _grid_tags(row):
    """A grid row's tags: its shape kind, its kind of target, and whether targets are ignored
    (an unbatched input's single target never is: see ``_index_target``)."""
    index = row.get("target", "index") == "index"
    ignored = index and row["ignore"] is not None and row["shape"] != "C"
    return shape_tags(row["shape"], "class-indices" if index else "probability-targets",
                      *(("ignored-rows",) if ignored else ()))


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
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=_grid_tags(row))
    yield from _shared_edges()
    yield Sample("uint8-target-ignore255", lambda rng: (
        (np.log(probabilities(rng, (4, CLASSES), 1)), np.array([0, 255, 4, 255], dtype=np.uint8)),
        {"ignore_index": 255}), tags={"ignored-rows", "class-indices"})


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
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=_grid_tags(row))
    yield from _shared_edges()
    yield Sample("edge-negative-label-smoothing", lambda rng: (
        (logits(rng, (4, CLASSES)), class_indices(rng, 4, CLASSES)), {"label_smoothing": -0.2}),
            tags={"edge", "class-indices"})
    yield Sample("edge-logits-1e4", lambda rng: (
        (np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, -1e4]]), np.array([1, 2, 2])),
        {"reduction": "none"}), dtypes=(torch.float64, torch.float32), tags={"edge", "extreme", "class-indices"})
    yield Sample("edge-logits-1e4-probs-smoothing", lambda rng: (
        (np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])),
        {"label_smoothing": 0.3, "reduction": "sum"}), dtypes=(torch.float64, torch.float32),
            tags={"edge", "extreme", "probability-targets"})
    yield Sample("edge-all-ignored-smoothing-mean", lambda rng: (
        (logits(rng, (3, CLASSES)), np.full(3, -100)), {"label_smoothing": 0.2}),
            tags={"edge", "all-ignored", "class-indices"})


def _shared_edges():
    """Edge cases nll_loss and cross_entropy share: the input is any real array for both."""
    yield Sample("edge-unbatched-ignored-mean", lambda rng: ((logits(rng, (CLASSES,)), np.array(-100)), {}),
                 tags={"edge", "all-ignored", "unbatched", "class-indices"})
    yield Sample("edge-all-ignored-mean", lambda rng: ((logits(rng, (3, CLASSES)), np.full(3, -100)), {}),
                 tags={"edge", "all-ignored", "class-indices"})
    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, CLASSES)), np.zeros(0, dtype=np.int64)), {"reduction": r}),
                tags={"edge", "empty", "empty-batch", "class-indices"})
    yield Sample("edge-empty-spatial-mean", lambda rng: (
        (logits(rng, (2, CLASSES, 0, 3)), np.zeros((2, 0, 3), dtype=np.int64)), {}),
            tags={"edge", "empty", "class-indices"})
    yield Sample("edge-zero-weight-sum", lambda rng: (
        (logits(rng, (3, CLASSES)), np.array([0, 1, 0])), {"weight": np.array([0.0, 1, 1, 1, 1]), "reduction": "sum"}),
            tags={"edge", "class-indices"})
    # nan in a row spreads to that row only (off-target for nll_loss: no effect); -inf and
    # +inf entries: nll gives inf at the target, cross_entropy's log-sum-exp gives nan
    # (inf - inf) for a +inf row and is unaffected by a -inf logit elsewhere.
    yield Sample("edge-nan-inf-none", lambda rng: (
        (np.array([[0.5, np.nan, -1.0, 0.0, 2.0], [np.nan, 1.0, 0.0, 0.0, 0.0],
                   [0.0, -np.inf, 1.0, 0.5, 0.0], [np.inf, 0.0, 1.0, 0.0, 0.0]]),
         np.array([0, 0, 1, 2])), {"reduction": "none"}), tags={"edge", "non-finite", "class-indices"})
    yield Sample("edge-nan-mean", lambda rng: (
        (np.array([[0.5, 1.0, np.nan], [0.0, 1.0, 2.0]]), np.array([2, 1])), {}),
            tags={"edge", "non-finite", "class-indices"})


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
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=_grid_tags(row))
    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, IN_FEATURES)), logits(rng, (CLASSES, IN_FEATURES)), np.zeros(0, dtype=np.int64)),
            {"reduction": r}), tags={"edge", "empty", "empty-batch", "class-indices"})
    yield Sample("edge-all-ignored-mean", lambda rng: (
        (logits(rng, (3, IN_FEATURES)), logits(rng, (CLASSES, IN_FEATURES)), np.full(3, -100)), {}),
            tags={"edge", "all-ignored", "class-indices"})
    yield Sample("edge-large-logits-none", lambda rng: (
        (np.array([[100.0, -100.0, 50.0], [-30.0, 80.0, 0.0]]), logits(rng, (CLASSES, IN_FEATURES), 1.0),
         np.array([1, 4])), {"reduction": "none"}), dtypes=(torch.float64,),   # float64: the reference's stability, not float32's rounding of logits ~100
        tags={"edge", "extreme", "class-indices"})


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

#: Vocabularies of language models (32k: Llama 2, 262k: Gemma 3) at small N: large enough
#: for softmax entries ~1e-9, small enough for the default suite, in the dtypes kernels
#: run them in (float64 adds seconds and no new rounding).
LARGE_VOCABULARIES = {32768: (torch.float32, torch.float16, torch.bfloat16), 262144: (torch.float32, torch.bfloat16)}
PEAK = 0.999   # softmax at the target: Liger-Kernel PR #1329's case, which random logits never draw


def peaked_logits(rng, target: np.ndarray, classes: int, peak: float = PEAK) -> np.ndarray:
    """Normal logits (N, C) whose softmax at ``target[n]`` is exactly ``peak`` (in float64)."""
    x = logits(rng, (len(target), classes))
    rows = np.arange(len(target))
    others = x.copy()
    others[rows, target] = -np.inf
    top = others.max(axis=1)
    x[rows, target] = top + np.log(np.exp(others - top[:, None]).sum(axis=1)) + np.log(peak / (1.0 - peak))
    return x


def edge_targets(rng, n: int, classes: int) -> np.ndarray:
    """Class indices with the first and the last class among them (0 and C - 1)."""
    target = class_indices(rng, n, classes)
    target[:2] = (0, classes - 1)
    return target


def _sharp_index_cases():
    """(id, build(rng) -> (logits (N, C), target, kwargs), dtypes, tags) shared by
    cross_entropy and nll_loss (which gets the log-softmax of the logits)."""
    for classes, dtypes in LARGE_VOCABULARIES.items():
        yield (f"sharp-peaked-V{classes}-none", lambda rng, c=classes: (
            lambda t: (peaked_logits(rng, t, c), t, {"reduction": "none"}))(edge_targets(rng, 4, c)), dtypes,
               {"sharp", "peaked", "large-vocabulary", "class-indices"})
        if classes == 32768:   # random logits: softmax entries ~1e-6 to 1e-10 already at 32k
            yield (f"sharp-random-V{classes}-weight-mean", lambda rng, c=classes: (
                logits(rng, (3, c)), edge_targets(rng, 3, c), {"weight": positive(rng, c)}), dtypes,
                   {"sharp", "large-vocabulary", "class-indices"})
    yield ("sharp-peaked-targets-0-and-last-weight-sum", lambda rng: (
        lambda t: (peaked_logits(rng, t, CLASSES), t, {"weight": positive(rng, CLASSES), "reduction": "sum"}))(
        np.array([0, CLASSES - 1, 0, CLASSES - 1, 2, 1])), None, {"sharp", "peaked", "class-indices"})
    # ignore_index other than -100: a class inside [0, C) (masked by value), the first
    # class, one just past the last, and negative ones.
    for ignore_index in (3, 0, CLASSES, -1, -7):
        def build(rng, ignore_index=ignore_index):
            t = edge_targets(rng, 6, CLASSES)
            t[[2, 4]] = ignore_index
            return peaked_logits(rng, np.where(t == ignore_index, 1, t), CLASSES), t, {
                "ignore_index": ignore_index, "weight": positive(rng, CLASSES)}
        yield (f"sharp-peaked-ignore{ignore_index}-weight-mean", build, None,
               {"sharp", "peaked", "ignored-rows", "class-indices"})
    for reduction in ("mean", "sum", "none"):
        yield (f"sharp-every-row-ignored-ignore4-{reduction}", lambda rng, r=reduction: (
            logits(rng, (3, CLASSES)), np.full(3, 4), {"ignore_index": 4, "reduction": r}), None,
               {"sharp", "all-ignored", "class-indices"})


def sharp_samples(name: str):
    """The sharp cases of issue 10 as registry samples for ``name`` (see README, "Sharp cases")."""
    for case_id, build, dtypes, tags in _sharp_index_cases():
        if name == "cross_entropy":
            yield Sample(case_id, lambda rng, b=build: (lambda x, t, kw: ((x, t), kw))(*b(rng)), dtypes, tags=tags)
        elif name == "nll_loss":   # a gather: a large vocabulary is one more stride, float32 enough
            yield Sample(case_id, lambda rng, b=build: (lambda x, t, kw: ((log_softmax(x, 1), t), kw))(*b(rng)),
                         (torch.float32,) if "large-vocabulary" in tags else dtypes, tags=tags)
    if name == "cross_entropy":
        # float16 holds 0.9998 as 1 (its spacing below 1 is 2^-11): a kernel that stores the
        # softmax in the dtype loses the target's gradient entry; torch's float16 does not.
        yield Sample("sharp-peaked0.9998-V32768-none", lambda rng: (
            lambda t: ((peaked_logits(rng, t, 32768, peak=0.9998), t), {"reduction": "none"}))(
            edge_targets(rng, 3, 32768)), (torch.float16,),
                tags={"sharp", "peaked", "large-vocabulary", "class-indices"})
        yield Sample("sharp-peaked-V32768-smoothing0.1-none", lambda rng: (
            lambda t: ((peaked_logits(rng, t, 32768), t), {"label_smoothing": 0.1, "reduction": "none"}))(
            edge_targets(rng, 3, 32768)), (torch.float32, torch.bfloat16),
                tags={"sharp", "peaked", "large-vocabulary", "class-indices"})
        yield Sample("sharp-peaked-V32768-probs-none", lambda rng: (
            lambda t: ((peaked_logits(rng, t, 32768), np.exp(log_softmax(peaked_logits(rng, t, 32768), 1))),
                       {"reduction": "none"}))(edge_targets(rng, 3, 32768)), (torch.float32, torch.bfloat16),
                           tags={"sharp", "peaked", "large-vocabulary", "probability-targets"})
    if name == "linear_cross_entropy":
        yield from _sharp_linear_samples()


LINEAR_FEATURES = 16


def _peaked_projection(rng, target, classes):
    """(input (N, F), linear_weight (C, F)): small random logits except a peak at each
    row's target (distinct targets), whose row of the weight points along that input."""
    x = logits(rng, (len(target), LINEAR_FEATURES), 1.0)
    w = logits(rng, (classes, LINEAR_FEATURES), 0.25)
    for row, c in enumerate(target):
        w[c] = x[row] * (np.log(classes) + np.log(PEAK / (1.0 - PEAK)) + 0.5) / (x[row] @ x[row])
    return x, w


def _sharp_linear_samples():
    # 32k only: at 262k the float64 reference of the projection's gradient costs seconds.
    yield Sample("sharp-peaked-V32768-none", lambda rng: (
        lambda t: ((*_peaked_projection(rng, t, 32768), t), {"reduction": "none"}))(
        np.array([0, 32767, 16384])), (torch.float32, torch.bfloat16),
            tags={"sharp", "peaked", "large-vocabulary", "class-indices"})
    for ignore_index in (2, -1):
        yield Sample(f"sharp-peaked-ignore{ignore_index}-weight-mean", lambda rng, i=ignore_index: (
            (*_peaked_projection(rng, np.array([0, CLASSES - 1, 1, 3]), CLASSES), np.array([0, CLASSES - 1, i, i])),
            {"ignore_index": i, "weight": positive(rng, CLASSES)}),
                tags={"sharp", "peaked", "ignored-rows", "class-indices"})
    yield Sample("sharp-every-row-ignored-ignore0-sum", lambda rng: (
        (logits(rng, (3, LINEAR_FEATURES)), logits(rng, (CLASSES, LINEAR_FEATURES)), np.zeros(3, dtype=np.int64)),
        {"ignore_index": 0, "reduction": "sum"}), tags={"sharp", "all-ignored", "class-indices"})

RECORDS = [
    LossRecord(name="nll_loss", module="NLLLoss", samples=lambda: chain(_nll_samples(), sharp_samples("nll_loss")),
               errors=lambda: _shared_errors("nll_loss"), **magnitudes("nll_loss")),
    LossRecord(name="cross_entropy", module="CrossEntropyLoss",
               samples=lambda: chain(_cross_entropy_samples(), sharp_samples("cross_entropy")),
               errors=lambda: _shared_errors("cross_entropy"), **magnitudes("cross_entropy")),
    LossRecord(name="linear_cross_entropy", module="LinearCrossEntropyLoss",
               samples=lambda: chain(_linear_samples(), sharp_samples("linear_cross_entropy")),
               errors=_linear_errors,   # added in torch 2.13: tests/releases.py
               **magnitudes("linear_cross_entropy")),
]
