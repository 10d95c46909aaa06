"""Registry records for reference/binary.py: binary_cross_entropy and
binary_cross_entropy_with_logits."""

from __future__ import annotations

import numpy as np
import torch

from .base import ErrorCase, LossRecord, Sample, logits, magnitudes, option_id, pairwise, positive, shape_tags

#: Input shapes by kind: a single probability, a batch, a batch of one, batched with a
#: class axis, and the 2-D (N, C, H, W) case. The loss is elementwise: the target has
#: the input's shape, the output ('none') too.
SHAPES = {
    "0d": (),
    "N": (5,),
    "1C": (1, 3),
    "NC": (4, 3),
    "NCHW": (2, 3, 2, 2),
}

#: Shapes of weight / pos_weight that torch broadcasts into each input shape: the full
#: shape, a trailing one ((C,) against (N, C): pos_weight per class) and one with
#: size-1 axes ((N, 1), (C, 1, 1) against (N, C, H, W): per channel, the docs' example).
#: A 0-d array broadcasts into anything, and is the only choice for a 0-d input.
BROADCAST = {
    "0d": {"full": (), "last": (), "ones": ()},
    "N": {"full": (5,), "last": (1,), "ones": ()},
    "1C": {"full": (1, 3), "last": (3,), "ones": (1, 1)},
    "NC": {"full": (4, 3), "last": (3,), "ones": (4, 1)},
    "NCHW": {"full": (2, 3, 2, 2), "last": (2, 2), "ones": (3, 1, 1)},
}

#: Both sides of each option: weight absent / full / broadcast two ways, passed by
#: keyword or positionally (positionally, the gradient test checks torch's refusal to
#: differentiate it matches the reference's None); soft targets and hard 0/1 targets.
GRID = dict(shape=list(SHAPES), reduction=["mean", "sum", "none"], weight=[None, "full", "last", "ones"],
            weight_by=["keyword", "position"], target=["soft", "hard"])


def _probabilities(rng, shape):
    # Spread over (0, 1) but away from 0 and 1, which get their own edge samples: a
    # probability within 2.4e-4 of 1 rounds to exactly 1 in float16.
    return rng.uniform(0.02, 0.98, size=shape)


def _target(rng, shape, kind):
    return rng.uniform(0.0, 1.0, size=shape) if kind == "soft" else rng.integers(0, 2, size=shape).astype(np.float64)


def _call(x, y, weight, weight_by, **kwargs):
    if weight is None:
        return (x, y), kwargs
    if weight_by == "position":
        return (x, y, weight), kwargs
    return (x, y), dict(kwargs, weight=weight)


def _row_id(row, **extra):
    options = {"weight": f"w-{row['weight']}" if row["weight"] else None,
               "by": "positional" if row["weight"] and row["weight_by"] == "position" else None,
               "target": "hard" if row["target"] == "hard" else None, **extra,
               "reduction": row["reduction"]}
    return f"{row['shape']}-{option_id(options)}"


def _bce_samples():
    for row in pairwise(GRID):
        def build(rng, row=row):
            shape = SHAPES[row["shape"]]
            weight = None if row["weight"] is None else positive(rng, BROADCAST[row["shape"]][row["weight"]])
            return _call(_probabilities(rng, shape), _target(rng, shape, row["target"]), weight, row["weight_by"],
                         reduction=row["reduction"])
        yield Sample(_row_id(row), build, tags=shape_tags(row["shape"]))
    yield from _shared_edges()
    # Probabilities exactly 0 and 1: the loss is capped at 100 by the clamp of each log,
    # x = y = 0 and x = y = 1 cost 0, the input gradient is (x - y)/1e-12 (torch ignores
    # the clamp there) and the target gradient -logit(x) is ±inf. float16 is left out:
    # torch's floor of 1e-12 on x(1 - x) underflows to 0 in half, so its input gradient is
    # ±inf and 0/0 = nan there (and 1e12 is not representable anyway).
    zero_one = dict(dtypes=(torch.float64, torch.float32, torch.bfloat16))
    x01 = np.array([0.0, 1.0, 0.0, 1.0, 0.25, 0.0, 1.0])
    y01 = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.3, 0.7])
    yield Sample("edge-probabilities-0-1-none", lambda rng: ((x01, y01), {"reduction": "none"}), **zero_one,
                 tags={"edge"})
    yield Sample("edge-probabilities-0-1-sum", lambda rng: ((x01, y01), {"reduction": "sum"}), **zero_one,
                 tags={"edge"})
    # A zero weight on an infinite target gradient: 0 * inf = nan in torch, as in the reference.
    yield Sample("edge-probabilities-0-1-zero-weight-mean", lambda rng: (
        (x01, y01, np.array([0.0, 1.0, 2.0, 0.5, 1.0, 0.0, 3.0])), {"reduction": "mean"}), **zero_one, tags={"edge"})
    # Tiny and near-1 probabilities: log(1e-200) = -460.5 and log(1e-50) = -115 are
    # clamped to -100, log(1e-40) = -92.1 is not; x(1 - x) below 1e-12 hits the floor.
    # Only float64 and float32 (float32 flushes 1e-50 and 1e-200 to 0 and rounds 1 - 1e-12
    # to 1, the edges above; float16 would turn 1e-6 into a subnormal and 1e12 into inf).
    yield Sample("edge-near-0-1-none", lambda rng: (
        (np.array([1e-200, 1e-50, 1e-40, 1e-6, 1 - 1e-6, 1 - 1e-12, 0.5]),
         np.array([0.3, 1.0, 1.0, 0.0, 1.0, 0.2, 0.5])), {"reduction": "none"}),
        dtypes=(torch.float64, torch.float32), tags={"edge"})
    yield Sample("edge-nan-weight-none", lambda rng: (
        (_probabilities(rng, (2, 3)), _target(rng, (2, 3), "soft")),
        {"weight": np.array([1.0, np.nan, 2.0]), "reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-inf-weight-mean", lambda rng: (
        (_probabilities(rng, (2, 3)), _target(rng, (2, 3), "soft"), np.array([[np.inf], [1.0]])), {}),
            tags={"edge", "non-finite"})
    # torch promotes integer and boolean weights.
    yield Sample("int-weight-mean", lambda rng: (
        (_probabilities(rng, (4, 3)), _target(rng, (4, 3), "soft")), {"weight": np.array([1, 0, 3])}),
            tags={"non-float"})
    yield Sample("bool-weight-sum", lambda rng: (
        (_probabilities(rng, (4, 3)), _target(rng, (4, 3), "hard")),
        {"weight": np.array([[True], [False], [True], [True]]), "reduction": "sum"}), tags={"non-float"})


def _bce_logits_samples():
    grid = dict(GRID, pos_weight=[None, "full", "last", "ones"])
    for row in pairwise(grid):
        def build(rng, row=row):
            shape = SHAPES[row["shape"]]
            shapes = BROADCAST[row["shape"]]
            weight = None if row["weight"] is None else positive(rng, shapes[row["weight"]])
            kwargs = {"reduction": row["reduction"]}
            if row["pos_weight"] is not None:
                # Both sides of 1: pos_weight < 1 down-weights the positives.
                kwargs["pos_weight"] = positive(rng, shapes[row["pos_weight"]], low=0.2, high=3.0)
            return _call(logits(rng, shape), _target(rng, shape, row["target"]), weight, row["weight_by"], **kwargs)
        pw = {"pos_weight": f"pw-{row['pos_weight']}" if row["pos_weight"] else None}
        yield Sample(_row_id(row, **pw), build, tags=shape_tags(row["shape"]))
    yield from _shared_edges()
    big = np.array([1e4, -1e4, 1e4, -1e4, 1e4, -1e4, 0.5])
    y_big = np.array([0.0, 1.0, 1.0, 0.0, 0.25, 0.75, 0.3])
    # Logits of ±1e4: exp overflows unless log σ is computed stably; the loss is exact
    # (0, 1e4 or pos_weight · 1e4). Not in float16 (max 65504) nor bfloat16 (1e4 rounds).
    large = dict(dtypes=(torch.float64, torch.float32))
    yield Sample("edge-logits-1e4-none", lambda rng: ((big, y_big), {"reduction": "none"}), **large,
                 tags={"edge", "extreme"})
    yield Sample("edge-logits-1e4-pos-weight-sum", lambda rng: (
        (big, y_big), {"reduction": "sum", "pos_weight": np.array([3.0])}), **large, tags={"edge", "extreme"})
    # ±200 is representable in every dtype: exp(-200) underflows even in float64's sigmoid.
    yield Sample("edge-logits-200-pos-weight-none", lambda rng: (
        (np.array([[200.0, -200.0, 200.0], [-200.0, 200.0, -200.0]]), np.array([[0.0, 1.0, 1.0], [0.0, 0.5, 0.25]])),
        {"reduction": "none", "pos_weight": np.array([2.0, 0.5, 1.0]), "weight": np.array([[1.0], [3.0]])}),
            tags={"edge", "extreme"})
    # nan anywhere propagates; infinite logits: x = +inf, y = 0 costs inf, but torch's
    # (1 - y)·x - lw·log σ(x) gives 0·(-inf) = nan at x = -inf, y = 1 (and inf - inf at
    # x = -inf, y = 0): the reference uses the same form.
    x_bad = np.array([np.nan, 0.3, np.inf, -np.inf, np.inf, -np.inf])
    y_bad = np.array([0.5, np.nan, 0.0, 1.0, 1.0, 0.0])
    yield Sample("edge-nan-inf-none", lambda rng: ((x_bad, y_bad), {"reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-nan-inf-pos-weight-none", lambda rng: (
        (x_bad, y_bad), {"reduction": "none", "pos_weight": np.array([2.0])}), tags={"edge", "non-finite"})
    yield Sample("edge-nan-pos-weight-mean", lambda rng: (
        (logits(rng, (3, 2)), _target(rng, (3, 2), "soft")), {"pos_weight": np.array([np.nan, 1.5])}),
            tags={"edge", "non-finite"})
    # No range check on the target (torch issue #110865): y = 2 or -0.5 give negative losses.
    yield Sample("edge-target-outside-0-1-none", lambda rng: (
        (logits(rng, (2, 3)), np.array([[2.0, -0.5, 1.5], [-1.0, 0.5, 3.0]])), {"reduction": "none"}), tags={"edge"})
    # pos_weight 0 and negative are accepted; pos_weight 1 equals none.
    yield Sample("edge-pos-weight-zero-negative-one-sum", lambda rng: (
        (logits(rng, (4, 3)), _target(rng, (4, 3), "soft")),
        {"reduction": "sum", "pos_weight": np.array([0.0, -2.0, 1.0])}), tags={"edge"})
    yield Sample("int-weight-int-pos-weight-mean", lambda rng: (
        (logits(rng, (4, 3)), _target(rng, (4, 3), "hard")),
        {"weight": np.array([[2], [0], [1], [1]]), "pos_weight": np.array([3, 1, 0])}), tags={"non-float"})


def _shared_edges():
    """Empty batches (one per reduction) and a zero-size spatial axis; valid for both losses
    (0.5 is a probability and a logit)."""
    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, 3)), np.zeros((0, 3))), {"reduction": r, "weight": np.ones(3)}),
                tags={"edge", "empty", "empty-batch"})
    yield Sample("edge-empty-spatial-mean", lambda rng: (
        (np.full((2, 3, 0, 2), 0.5), np.full((2, 3, 0, 2), 0.5)), {"weight": np.ones((3, 1, 1))}),
            tags={"edge", "empty"})


def _shared_errors(name):
    x = np.full((3, 4), 0.5)
    y = np.full((3, 4), 0.25)
    target_size = "Using a target size" if name == "binary_cross_entropy" else "Target size"
    yield ErrorCase("target-shape-mismatch", (x, y[:, :3]), {},
                    ValueError, target_size, ValueError, r"target must have the input's shape \(3, 4\)")
    yield ErrorCase("target-extra-axis", (x[0], y[0][:, None]), {},
                    ValueError, target_size, ValueError, r"target must have the input's shape \(4,\)")
    yield ErrorCase("weight-enlarges-input", (x, y), {"weight": np.ones((2, 3, 4))},
                    RuntimeError, r"output with shape \[3, 4\] doesn't match the broadcast shape \[2, 3, 4\]",
                    ValueError, r"weight of shape \(2, 3, 4\).*input's shape \(3, 4\)")
    yield ErrorCase("weight-size-one-axis-enlarges-0d", (np.array(0.5), np.array(0.25)), {"weight": np.ones(1)},
                    RuntimeError, r"output with shape \[\] doesn't match the broadcast shape \[1\]",
                    ValueError, r"weight of shape \(1,\)")
    yield ErrorCase("weight-not-broadcastable", (x, y), {"weight": np.ones(3)},
                    RuntimeError, r"(Attempting to broadcast a dimension of length 3|The size of tensor a \(4\) must "
                                  r"match the size of tensor b \(3\))",
                    ValueError, r"weight of shape \(3,\)")
    yield ErrorCase("unknown-reduction", (x, y), {"reduction": "average"},
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")
    # binary_cross_entropy checks the dtypes match before the kernel refuses Long: both integer.
    yield ErrorCase("integer-input", (np.zeros((3, 4), dtype=np.int64), np.zeros((3, 4), dtype=np.int64)), {},
                    NotImplementedError, r"not implemented for 'Long'", TypeError, r"input.*int64")
    if name == "binary_cross_entropy":
        # The article passes a LongTensor target; torch 2.13 refuses it.
        yield ErrorCase("integer-target", (x, np.ones((3, 4), dtype=np.int64)), {},
                        RuntimeError, r"Found dtype Long but expected Double", TypeError, r"target.*int64")
        yield ErrorCase("bool-target", (x, np.ones((3, 4), dtype=bool)), {},
                        RuntimeError, r"Found dtype Bool but expected Double", TypeError, r"target.*bool")
        yield ErrorCase("float32-target-float64-input", (x, y.astype(np.float32)), {},
                        RuntimeError, r"Found dtype Float but expected Double", TypeError, r"target.*float32")
        yield ErrorCase("input-above-one", (x + 0.6, y), {},
                        RuntimeError, r"all elements of input should be between 0 and 1", ValueError, r"input.*\[0, 1\]")
        yield ErrorCase("input-negative", (np.array([0.5, -1e-9]), np.array([0.5, 0.5])), {},
                        RuntimeError, r"all elements of input should be between 0 and 1", ValueError, r"input.*\[0, 1\]")
        yield ErrorCase("input-nan", (np.array([0.5, np.nan]), np.array([0.5, 0.5])), {},
                        RuntimeError, r"all elements of input should be between 0 and 1", ValueError, r"input.*\[0, 1\]")
        yield ErrorCase("target-above-one", (x, y + 1.0), {},
                        RuntimeError, r"all elements of target should be between 0 and 1", ValueError, r"target.*\[0, 1\]")
        yield ErrorCase("target-nan", (np.array([0.5, 0.5]), np.array([np.nan, 0.5])), {},
                        RuntimeError, r"all elements of target should be between 0 and 1", ValueError, r"target.*\[0, 1\]")
    else:
        yield ErrorCase("integer-target", (x, np.ones((3, 4), dtype=np.int64)), {},
                        RuntimeError, r"result type Double can't be cast to the desired output type Long",
                        TypeError, r"target.*int64")
        yield ErrorCase("bool-target", (x, np.ones((3, 4), dtype=bool)), {},
                        RuntimeError, r"Subtraction, the `-` operator, with two bool tensors", TypeError, r"target.*bool")
        yield ErrorCase("pos-weight-not-broadcastable", (x, y), {"pos_weight": np.ones(3)},
                        RuntimeError, r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
                        ValueError, r"pos_weight of shape \(3,\)")
        yield ErrorCase("pos-weight-enlarges-input", (x, y), {"pos_weight": np.ones((2, 3, 4))},
                        RuntimeError, r"output with shape \[3, 4\] doesn't match the broadcast shape \[2, 3, 4\]",
                        ValueError, r"pos_weight of shape \(2, 3, 4\)")
        yield ErrorCase("pos-weight-enlarges-0d", (np.array(0.5), np.array(0.25)), {"pos_weight": np.ones(1)},
                        RuntimeError, r"output with shape \[\] doesn't match the broadcast shape \[1\]",
                        ValueError, r"pos_weight of shape \(1,\)")
        yield ErrorCase("bool-pos-weight", (x, y), {"pos_weight": np.ones(4, dtype=bool)},
                        RuntimeError, r"Subtraction, the `-` operator, with a bool tensor", TypeError, r"pos_weight.*bool")


RECORDS = [
    LossRecord(name="binary_cross_entropy", **magnitudes("binary_cross_entropy"), module="BCELoss", samples=_bce_samples,
               errors=lambda: _shared_errors("binary_cross_entropy")),
    LossRecord(name="binary_cross_entropy_with_logits", **magnitudes("binary_cross_entropy_with_logits"), module="BCEWithLogitsLoss", samples=_bce_logits_samples,
               errors=lambda: _shared_errors("binary_cross_entropy_with_logits")),
]
