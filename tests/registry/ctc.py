"""Registry records for reference/ctc.py: ctc_loss.

Inputs are log-probabilities: the log_softmax of normal draws over the class axis, so
that the gradient test (which goes through a log_softmax, see ``_LOG_SOFTMAX``) sees the
same values as the forward test (log_softmax is idempotent on normalised rows). One edge
sample feeds raw, unnormalised values to check that the recursion uses them literally.

Sizes stay small (T <= 12, C = 5, N <= 4): the reference loops over frames.
"""

from __future__ import annotations

import numpy as np
import torch

from lossref._common import log_softmax

from .base import ErrorCase, InputTransform, LossRecord, Sample, option_id, pairwise, shape_tags

T = 10          # frames
C = 5           # classes, blank included
N = 3           # batch of the batched samples


def _np_log_softmax(x):
    return log_softmax(np.asarray(x, dtype=np.float64), -1)


def _np_log_softmax_vjp(x, g):
    """Backward of log_softmax over the last axis: g - softmax(x) * Σ_c g."""
    softmax = np.exp(_np_log_softmax(x))
    return g - softmax * np.sum(g, axis=-1, keepdims=True)


_LOG_SOFTMAX = InputTransform(
    position=0,
    torch_fn=lambda x: torch.log_softmax(x, -1),
    numpy_fn=_np_log_softmax,
    numpy_vjp=_np_log_softmax_vjp,
    reason="torch's ctc_loss backward returns the gradient with respect to the logits behind a "
           "log_softmax (the true d loss / d log_probs plus exp(log_probs), pytorch/pytorch#52241, "
           "docs PR #190863); through a log_softmax both conventions give the same gradient, so the "
           "reference's true derivative is compared there (see tests/test_ctc_specifics.py)",
)


def _log_probs(rng, shape, scale=2.0):
    """Normalised log-probabilities: log_softmax of normal draws (scale 2: several decades)."""
    return _np_log_softmax(rng.normal(0.0, scale, size=shape))


def _labels(rng, length, blank):
    """``length`` target labels, never the blank (drawn from the other C - 1 classes)."""
    others = np.array([c for c in range(C) if c != blank])
    return others[rng.integers(0, len(others), size=length)]


def _min_frames(labels) -> int:
    """Fewest frames that can emit ``labels``: one each, plus a blank between repeats."""
    labels = np.asarray(labels)
    return len(labels) + int(np.sum(labels[1:] == labels[:-1]))


def _pack(rows, form, rng, blank):
    """Targets as a padded (N, S) array (padding = random labels, never read) or concatenated."""
    if form == "concat":
        return np.concatenate([np.zeros(0, dtype=np.int64), *rows]).astype(np.int64)
    width = max(len(r) for r in rows) + 1
    padded = _labels(rng, (len(rows), width), blank).astype(np.int64)
    for n, row in enumerate(rows):
        padded[n, :len(row)] = row
    return padded


def _as(kind, lengths, unbatched):
    """Lengths as torch takes them: an int64 array (0-d when unbatched), a list or a tuple."""
    if kind == "array":
        return np.array(lengths[0] if unbatched else lengths, dtype=np.int64)
    values = [int(v) for v in lengths]
    return values if kind == "list" else tuple(values)


# shape: batched (T, N, C), batch of one, unbatched (T, C). lengths: every input_length = T
# and target lengths >= 1, or ragged (input_lengths < T for some samples, a zero-length
# target where N > 1). infeasible: sample 0 gets fewer frames than its target needs (+inf),
# so zero_infinity is exercised on both sides of its switch.
GRID = dict(shape=["TNC", "T1C", "TC"], targets=["padded", "concat"], blank=[0, C - 1],
            reduction=["none", "mean", "sum"], zero_infinity=[False, True], lengths=["full", "ragged"],
            infeasible=[False, True], lengths_as=["array", "list", "tuple"])


def _grid_build(rng, row):
    unbatched = row["shape"] == "TC"
    n = N if row["shape"] == "TNC" else 1
    blank = row["blank"]
    lp = _log_probs(rng, (T, n, C))
    if row["lengths"] == "full":
        tl = rng.integers(1, 5, size=n)
        il = np.full(n, T)
    else:
        tl = rng.integers(1, 5, size=n)
        if n > 1:
            tl[-1] = 0
        il = rng.integers(7, T + 1, size=n)   # >= 7 frames: enough for 4 labels with 3 repeats
        il[0] = T - 2                          # at least one sample shorter than T
    rows = [_labels(rng, length, blank) for length in tl]
    if row["infeasible"]:
        rows[0] = _labels(rng, 3, blank)
        tl[0] = 3
        il[0] = 2                              # 3 labels in 2 frames: no alignment, loss +inf
    for frames, labels in zip(il[int(row["infeasible"]):], rows[int(row["infeasible"]):]):
        assert frames >= _min_frames(labels)   # every other sample has an alignment
    targets = _pack(rows, row["targets"], rng, blank)
    if unbatched:
        lp = lp[:, 0]   # targets stay as they are: (1, S) padded or (L,) concatenated
    kwargs = {"reduction": row["reduction"]}
    if blank:
        kwargs["blank"] = blank
    if row["zero_infinity"]:
        kwargs["zero_infinity"] = True
    return (lp, targets, _as(row["lengths_as"], il, unbatched), _as(row["lengths_as"], tl, unbatched)), kwargs


def _grid_samples():
    for row in pairwise(GRID):
        options = {k: v for k, v in row.items() if k not in ("shape", "targets", "blank")}
        yield Sample(f"{row['shape']}-{row['targets']}-blank{row['blank']}-{option_id(options)}",
                     lambda rng, row=row: _grid_build(rng, row),
                     tags=shape_tags(row["shape"], f"{'padded' if row['targets'] == 'padded' else 'concatenated'}-targets"))


def _fixed(lp_shape, targets, il, tl, scale=2.0, **kwargs):
    """A sample with fixed targets and lengths and random normalised log-probs."""
    def build(rng):
        return (_log_probs(rng, lp_shape, scale), np.asarray(targets), il, tl), dict(kwargs)
    return build


def _nan_at(frames_of_sample, unnormalised=False):
    def build(rng):
        lp = _log_probs(rng, (6, 2, C))
        for n, t in frames_of_sample:
            lp[t, n, 1] = np.nan
        return (lp, np.array([[1, 2], [3, 1]]), np.array([6, 4]), np.array([2, 2])), {"reduction": "none"}
    return build


def _edge_samples():
    i64 = np.int64
    # Labels equal to the blank are not rejected; the recursion compares labels literally.
    yield Sample("edge-blank-in-target", _fixed((8, 2, C), [[1, 0, 2], [0, 3, 1]], np.array([8, 7]),
                                                np.array([3, 3]), reduction="none"), tags={"edge"})
    # ... but when the LAST label is the blank, torch's backward (not its forward) drops one
    # term at the last frame: see the final report / quirk "ctc-blank-last-label-gradient".
    yield Sample("edge-blank-last-label", _fixed((6, 2, C), [[2, 0], [3, 4]], np.array([6, 5]),
                                                 np.array([2, 2]), reduction="sum"), tags={"edge"})
    # Repeats need a blank between them: exactly the fewest frames that allow an alignment.
    yield Sample("edge-repeated-labels-tight", _fixed((6, 2, C), [[1, 1, 2], [3, 3, 3]], np.array([4, 5]),
                                                      np.array([3, 3]), reduction="none"), tags={"edge"})
    yield Sample("edge-repeated-labels-infeasible", _fixed((4, 2, C), [[2, 2], [1, 2]], np.array([2, 2]),
                                                           np.array([2, 2]), reduction="none"), tags={"edge"})
    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-infeasible-zero-infinity-{reduction}", _fixed(
            (5, 3, C), [[1, 2, 3], [4, 4, 0], [2, 3, 0]], np.array([2, 3, 5]), np.array([3, 2, 2]),
            reduction=reduction, zero_infinity=True), tags={"edge"})
    yield Sample("edge-all-infeasible-mean", _fixed((3, 2, C), [[1, 2, 3, 4], [1, 1, 0, 0]], np.array([3, 2]),
                                                    np.array([4, 2]), reduction="mean"), tags={"edge"})
    # T_n = 0: the empty alignment exists only for the empty target (0), else +inf.
    yield Sample("edge-zero-input-length", _fixed((5, 3, C), [[0, 0], [1, 2], [3, 0]], np.array([0, 0, 5]),
                                                  np.array([0, 2, 1]), reduction="none"), tags={"edge"})
    yield Sample("edge-zero-input-length-zero-infinity-sum", _fixed(
        (5, 3, C), [[0, 0], [1, 2], [3, 0]], np.array([0, 0, 5]), np.array([0, 2, 1]),
        reduction="sum", zero_infinity=True), tags={"edge"})
    # Zero-length targets everywhere: an all-blank path; 'mean' divides by max(0, 1) = 1.
    yield Sample("edge-empty-targets-padded-mean", _fixed((6, 3, C), np.zeros((3, 0), dtype=i64),
                                                          np.array([6, 4, 1]), np.zeros(3, dtype=i64)),
                                                              tags={"edge", "empty", "padded-targets"})
    yield Sample("edge-empty-targets-concat-blank2", _fixed((6, 2, C), np.zeros(0, dtype=i64), np.array([6, 3]),
                                                            np.zeros(2, dtype=i64), blank=2, reduction="none"),
                                                                tags={"edge", "empty", "concatenated-targets"})
    # nan past a sample's input length is never read; nan inside it makes that loss nan
    # (zero_infinity leaves nan alone).
    yield Sample("edge-nan-past-input-length", _nan_at([(1, 4), (1, 5)]), tags={"edge", "non-finite"})
    yield Sample("edge-nan-in-input-zero-infinity", lambda rng: (
        _nan_at([(0, 2)])(rng)[0], {"reduction": "none", "zero_infinity": True}), tags={"edge", "non-finite"})
    # A log-probability of -inf (probability exactly 0) on some labels and frames. Forward
    # only: torch's gradient there is nan (its kernel forms -inf - (-inf) = nan for lp = -inf),
    # and the derivative at an infinite argument is not defined.
    yield Sample("edge-zero-probability", lambda rng: (
        (np.where(np.arange(C) == 2, -np.inf, _log_probs(rng, (6, 2, C))), np.array([[1, 3], [2, 1]]),
         np.array([6, 6]), np.array([2, 2])), {"reduction": "none"}), grad=False, tags={"edge"})
    # log_probs need not be normalised: the recursion uses the values as given.
    yield Sample("edge-unnormalised-log-probs", lambda rng: (
        (rng.normal(size=(6, 2, C)), np.array([[1, 2], [3, 3]]), np.array([6, 5]), np.array([2, 2])),
        {"reduction": "none"}), tags={"edge"})
    # Targets of any dtype are cast to int64 (floats truncated toward zero: 2.7 -> 2).
    yield Sample("edge-float-targets", _fixed((6, 2, C), np.array([[1.0, 2.7], [3.2, 1.0]]), np.array([6, 6]),
                                              np.array([2, 2]), reduction="none"), tags={"edge"})
    yield Sample("edge-int32-targets-uint8-lengths", _fixed(
        (6, 2, C), np.array([[1, 2], [3, 1]], dtype=np.int32), np.array([6, 5], dtype=np.uint8),
        np.array([2, 1], dtype=np.uint8), reduction="sum"), tags={"edge"})
    # torch reads the lengths' elements in order, whatever their shape.
    yield Sample("edge-lengths-2d", _fixed((6, 2, C), [[1, 2], [3, 1]], np.array([[6, 5]]), np.array([[2, 2]]),
                                           reduction="none"), tags={"edge"})
    # Unbatched with one-element lengths and a (1, S) padded target.
    yield Sample("edge-unbatched-1elem-lengths-padded-2d", lambda rng: (
        (_log_probs(rng, (7, C)), np.array([[3, 1, 4]]), np.array([7]), np.array([2])), {"reduction": "none"}),
            tags={"edge", "unbatched", "padded-targets"})
    yield Sample("edge-unbatched-concat-mean", lambda rng: (
        (_log_probs(rng, (7, C)), np.array([3, 1, 1]), np.array(6), np.array(3)), {}),
            tags={"edge", "unbatched", "concatenated-targets"})
    yield Sample("edge-single-frame", _fixed((1, 3, C), [[2], [0], [1]], np.array([1, 1, 1]), np.array([1, 0, 1]),
                                             reduction="none", blank=1), tags={"edge"})
    # Near-certain log-probabilities: logits of +-1e4 behind the log_softmax (0 or -2e4).
    yield Sample("edge-logits-1e4", lambda rng: (
        (_np_log_softmax(np.array([[[1e4, -1e4, 0.0, -1e4, 0.0]], [[-1e4, 1e4, 0.0, 0.0, -1e4]],
                                    [[1e4, 1e4, -1e4, 0.0, 0.0]], [[0.0, -1e4, 1e4, -1e4, 1e4]]])),
         np.array([[1, 2]]), np.array([4]), np.array([2])), {"reduction": "sum"}),
        dtypes=(torch.float64, torch.float32), tags={"edge", "extreme"})
    # The longest recursion of the suite: 12 frames, 5 labels with a repeat, broad draws.
    yield Sample("edge-long-sequence", _fixed((12, 4, C), [[1, 2, 2, 3, 4], [4, 3, 1, 1, 2], [1, 1, 1, 1, 1],
                                                           [2, 3, 4, 1, 3]], np.array([12, 12, 11, 12]),
                                              np.array([5, 5, 5, 4]), scale=3.0, reduction="none"), tags={"edge"})


def _samples():
    yield from _grid_samples()
    yield from _edge_samples()


def _errors():
    lp = _log_probs(np.random.default_rng(0), (6, 2, C))
    tg = np.array([[1, 2, 3], [1, 1, 0]])
    il, tl = np.array([6, 6]), np.array([3, 2])
    yield ErrorCase("blank-out-of-range", (lp, tg, il, tl), {"blank": C},
                    RuntimeError, r"blank must be in label range", ValueError, r"blank.*\[0, 5\).*5")
    yield ErrorCase("blank-negative", (lp, tg, il, tl), {"blank": -1},
                    RuntimeError, r"blank must be in label range", ValueError, r"blank.*-1")
    yield ErrorCase("blank-float", (lp, tg, il, tl), {"blank": 1.0},
                    TypeError, r"invalid combination of arguments", TypeError, r"blank")
    yield ErrorCase("input-length-above-T", (lp, tg, np.array([7, 6]), tl), {},
                    RuntimeError, r"Expected input_lengths to have value at most 6, but got value 7",
                    ValueError, r"input_lengths.*at most.*T = 6")
    yield ErrorCase("negative-input-length", (lp, tg, np.array([-1, 6]), tl), {},
                    RuntimeError, r"Expected input_lengths to have value at least 0, but got value -1",
                    ValueError, r"input_lengths.*non-negative")
    yield ErrorCase("negative-target-length", (lp, tg, il, np.array([-1, 2])), {},
                    RuntimeError, r"Expected target_lengths to have value at least 0, but got value -1",
                    ValueError, r"target_lengths.*non-negative")
    yield ErrorCase("padded-targets-too-narrow", (lp, tg[:, :2], il, tl), {},
                    RuntimeError, r"Expected tensor to have size at least 3 at dimension 1, but got size 2 "
                                  r"for argument #2 'targets'",
                    ValueError, r"targets.*at least as wide.*\(3\)")
    yield ErrorCase("padded-targets-wrong-rows", (lp, np.vstack([tg, tg[:1]]), il, tl), {},
                    RuntimeError, r"Expected tensor to have size 2 at dimension 0, but got size 3 "
                                  r"for argument #2 'targets'",
                    ValueError, r"targets.*one row per sample \(2\)")
    yield ErrorCase("concatenated-length-mismatch", (lp, np.array([1, 2, 3, 1]), il, tl), {},
                    RuntimeError, r"Expected tensor to have size 5 at dimension 0, but got size 4 "
                                  r"for argument #2 'targets'",
                    ValueError, r"targets.*sum\(target_lengths\) = 5")
    yield ErrorCase("targets-3d", (lp, tg[None], il, tl), {},
                    RuntimeError, r"Expected 1 to 2 dimensions, but got 3-dimensional tensor for argument #2 'targets'",
                    ValueError, r"targets.*1-D.*2-D.*got 3")
    yield ErrorCase("log-probs-4d", (lp[None], tg, il, tl), {},
                    RuntimeError, r"Expected 3-dimensional tensor, but got 5-dimensional tensor for argument #1 "
                                  r"'log_probs'",
                    ValueError, r"log_probs.*got 4 dimensions")
    yield ErrorCase("log-probs-1d", (lp[:, 0, 0], tg, il, tl), {},
                    RuntimeError, r"Expected 3-dimensional tensor, but got 2-dimensional tensor for argument #1 "
                                  r"'log_probs'",
                    ValueError, r"log_probs.*got 1 dimensions")
    yield ErrorCase("input-lengths-wrong-size", (lp, tg, np.array([6, 6, 6]), tl), {},
                    RuntimeError, r"input_lengths must be of size batch_size",
                    ValueError, r"input_lengths.*batch size 2.*got 3")
    yield ErrorCase("target-lengths-wrong-size", (lp, tg, il, np.array([3])), {},
                    RuntimeError, r"target_lengths must be of size batch_size",
                    ValueError, r"target_lengths.*batch size 2.*got 1")
    yield ErrorCase("float-input-lengths", (lp, tg, np.array([6.0, 6.0]), np.array([3.0, 2.0])), {},
                    RuntimeError, r"input_lengths must be integral", TypeError, r"input_lengths.*integer")
    yield ErrorCase("float-target-lengths", (lp, tg, il, np.array([3.0, 2.0])), {},
                    RuntimeError, r"target_lengths must be integral", TypeError, r"target_lengths.*integer")
    yield ErrorCase("float-lengths-list", (lp, tg, [6.0, 6.0], [3.0, 2.0]), {},
                    TypeError, r"invalid combination of arguments", TypeError, r"input_lengths.*integer")
    yield ErrorCase("bool-input-lengths", (lp, tg, np.array([True, True]), tl), {},
                    RuntimeError, r"input_lengths must be integral", TypeError, r"input_lengths.*integer")
    # N = 0 (and T = 0, C = 0): torch refuses an empty log_probs, so there is no empty-batch sample.
    yield ErrorCase("empty-batch", (lp[:, :0], tg[:0], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)),
                    {}, RuntimeError, r"log_probs tensor must not be empty", ValueError, r"log_probs.*not be empty")
    yield ErrorCase("zero-frames", (lp[:0], tg, np.array([0, 0]), np.array([0, 0])), {},
                    RuntimeError, r"log_probs tensor must not be empty", ValueError, r"log_probs.*not be empty")
    yield ErrorCase("integer-log-probs", (np.zeros((6, 2, C), dtype=np.int64), tg, il, tl), {},
                    (NotImplementedError, RuntimeError), r"not implemented for 'Long'",
                    TypeError, r"log_probs.*integer")
    yield ErrorCase("unknown-reduction", (lp, tg, il, tl), {"reduction": "avg"},
                    ValueError, r"avg is not a valid value for reduction", ValueError, r"reduction.*'avg'")
    yield ErrorCase("zero-infinity-not-bool", (lp, tg, il, tl), {"zero_infinity": 1},
                    TypeError, r"invalid combination of arguments", TypeError, r"zero_infinity")


RECORDS = [
    LossRecord(
        name="ctc_loss", module="CTCLoss", samples=_samples, errors=_errors,
        # "ctc_loss_cpu" and "ctc_loss_cuda" are dispatched for float and double only
        # (AT_DISPATCH_FLOATING_TYPES in LossCTC.cpp / LossCTC.cu).
        dtypes={"cpu": (torch.float64, torch.float32), "cuda": (torch.float64, torch.float32)},
        unsupported={"cpu": (torch.float16, torch.bfloat16), "cuda": (torch.float16, torch.bfloat16)},
        # conditioning 4 (float32 gradients exp(α + β + ℓ)): lossref.tolerance.CONDITIONING
        gradient_transform=_LOG_SOFTMAX,
    ),
]
