"""Registry records for reference/regression.py: l1_loss, mse_loss, smooth_l1_loss, huber_loss.

Random samples control the difference ``d = input - target`` element by element after
broadcasting (see ``_pair``): about half the differences lie inside the switch point
(``beta`` / ``delta``; 1 for l1 and mse) and half outside, each at least 15 % of it
away from 0 and 20 % away from the switch point, so rounding the inputs to float16 or
bfloat16 never moves a difference across a kink. The kinks themselves (``d = 0``,
``|d| = beta``, ``|d| = delta``) are edge samples with exact binary values, exact in
every dtype.
"""

from __future__ import annotations

import numpy as np

from .base import ErrorCase, LossRecord, Sample, magnitudes, option_id, pairwise, positive, shape_tags

#: The losses with a ``weight`` argument (PR #132049; tests/releases.py skips the weighted
#: calls on a torch that predates it).
WEIGHTED = ("l1_loss", "mse_loss", "huber_loss")

#: (input shape, target shape) by kind: a 0-d pair, 1-D, 3-D, and the three ways of
#: broadcasting (target into input, input into target, both into a larger shape).
SHAPES = {
    "0d": ((), ()),
    "N": ((6,), (6,)),
    "NDK": ((2, 3, 4), (2, 3, 4)),
    "bcast-target": ((4, 3), (3,)),
    "bcast-input": ((3,), (2, 4, 3)),
    # Last two axes of size >= 2 in both, so a transposed layout really differs.
    "bcast-both": ((2, 1, 2, 2), (2, 2, 2)),
}
REDUCTIONS = ["none", "mean", "sum"]


# --- drawing inputs -----------------------------------------------------------------

def _offsets(rng, shape, scale):
    """Differences with magnitudes in [0.15, 0.8]·scale or [1.2, 3]·scale, random signs,
    the two sides in equal numbers (so a sample of two or more elements has both)."""
    size = int(np.prod(shape, dtype=np.int64))
    outside = rng.permutation(np.arange(size) % 2 == 1)
    magnitude = np.where(outside, rng.uniform(1.2, 3.0, size), rng.uniform(0.15, 0.8, size))
    sign = rng.choice([-1.0, 1.0], size)
    return (sign * magnitude * scale).reshape(shape)


def _pair(rng, input_shape, target_shape, scale=1.0):
    """(input, target) whose broadcast difference keeps the margins of ``_offsets``."""
    x, y = _draw_pair(rng, input_shape, target_shape, scale)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)  # 0-d draws are NumPy scalars


def _draw_pair(rng, input_shape, target_shape, scale):
    full = np.broadcast_shapes(input_shape, target_shape)
    if full == input_shape:      # target broadcasts into the input: offset each input element
        target = rng.normal(size=target_shape)
        return np.broadcast_to(target, full) + _offsets(rng, full, scale), target
    if full == target_shape:     # input broadcasts into the target
        input = rng.normal(size=input_shape)
        return input, np.broadcast_to(input, full) - _offsets(rng, full, scale)
    # Both broadcast (input (R, 1, *rest), target (C, *rest)): targets 5·scale apart
    # along C, each input element 5·scale·k from one of them plus an offset; its
    # differences to the other targets are then >= 2·scale.
    cols = target_shape[0]
    target = np.broadcast_to((5.0 * scale * np.arange(cols)).reshape((cols,) + (1,) * (len(target_shape) - 1)),
                             target_shape).copy()
    near = rng.integers(0, cols, input_shape)
    return 5.0 * scale * near + _offsets(rng, input_shape, scale), target


def _weight(rng, shape):
    return positive(rng, shape, 0.1, 2.0)


# --- samples ------------------------------------------------------------------------

def _grid_samples(name, extra_axes, scale_of=lambda row: 1.0, weighted=False):
    """The random samples: shape kind x reduction x (weight) x extra axes, pairwise,
    plus the mean with and without weight on every shape kind."""
    axes = dict(shape=list(SHAPES), reduction=REDUCTIONS, **extra_axes)
    if weighted:
        axes["weight"] = [False, True] if name != "huber_loss" else [None, "keyword", "positional"]
    rows = pairwise(axes)
    if weighted:
        # The mean with and without weight on every shape kind: the two denominators
        # (broadcast size; Σw over the input's shape for l1/mse) differ under broadcasting.
        for on in (axes["weight"][0], axes["weight"][1]):
            for shape in SHAPES:
                if not any(r["shape"] == shape and r["reduction"] == "mean" and bool(r["weight"]) == bool(on)
                           for r in rows):
                    rows.append(dict(rows[0], shape=shape, reduction="mean", weight=on))
    for row in rows:
        def build(rng, row=row):
            input_shape, target_shape = SHAPES[row["shape"]]
            x, y = _pair(rng, input_shape, target_shape, scale_of(row))
            kwargs = {"reduction": row["reduction"]}
            for key in extra_axes:
                if row[key] is not None:
                    kwargs[key] = row[key]
            w = _weight(rng, input_shape) if row.get("weight") else None
            if row.get("weight") == "positional":
                # huber_loss(input, target, reduction, delta, weight): positional, so the
                # weight's gradient is checked too.
                return (x, y, kwargs["reduction"], kwargs.get("delta", 1.0), w), {}
            if w is not None:
                kwargs["weight"] = w
            return (x, y), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=shape_tags(row["shape"]))


def _nonfinite(kwargs):
    """nan and ±inf on either side; inf - inf = nan. 'none' so each element is compared."""
    nan, inf = np.nan, np.inf
    x = np.array([nan, inf, -inf, inf, 1.0, 0.5, -2.0])
    y = np.array([0.0, 0.0, 0.0, inf, nan, -inf, 0.0])
    return Sample("edge-nan-inf", lambda rng: ((x, y), dict(kwargs, reduction="none")), tags={"edge", "non-finite"})


def _empty(kwargs=None):
    for reduction in REDUCTIONS:
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, 3)), np.zeros((0, 3))), dict(kwargs or {}, reduction=r)),
                tags={"edge", "empty", "empty-batch"})


def _kink(id, x, y, kwargs):
    """Exact differences on a kink (binary fractions: exact in every dtype, so no
    rounding moves them off it)."""
    return Sample(id, lambda rng: ((np.array(x), np.array(y)), dict(kwargs)), tags={"edge", "kink"})


def _shared_edges(name, kwargs=None):
    kwargs = kwargs or {}
    yield from _empty(kwargs)
    yield _nonfinite(kwargs)
    # Float input with an integer target (torch promotes; the target gets no gradient).
    yield Sample("edge-int64-target", lambda rng: (
        (rng.normal(size=(3, 4)) * 3, rng.integers(-3, 4, size=(3, 4))), dict(kwargs, reduction="mean")),
            tags={"edge", "non-float"})


def _l1_samples():
    yield from _grid_samples("l1_loss", {}, weighted=True)
    yield from _shared_edges("l1_loss")
    yield _kink("edge-zero-difference-sum", [0.0, 1.5, -2.0, 0.25, 3.0], [0.0, 1.5, -2.0, 0.5, 1.0], {"reduction": "sum"})
    # Both integer: torch computes in int64 for 'none' and 'sum' (no gradient); 'mean' is an error case.
    yield Sample("edge-int64-both-none", lambda rng: (
        (rng.integers(-5, 6, size=(2, 3)), rng.integers(-5, 6, size=(3,))), {"reduction": "none"}),
            tags={"edge", "non-float"})
    yield Sample("edge-int64-both-sum", lambda rng: (
        (rng.integers(-5, 6, size=(4,)), rng.integers(-5, 6, size=(4,))), {"reduction": "sum"}),
            tags={"edge", "non-float"})
    yield from _weighted_edges("l1_loss")


def _mse_samples():
    yield from _grid_samples("mse_loss", {}, weighted=True)
    yield from _shared_edges("mse_loss")
    # One floating side is enough for mse, even with a boolean other side.
    yield Sample("edge-bool-target", lambda rng: (
        (rng.normal(size=(2, 3)), np.array([[True, False, True], [False, False, True]])), {"reduction": "mean"}),
            tags={"edge", "non-float"})
    yield from _weighted_edges("mse_loss")


def _weighted_edges(name):
    """Weighted l1/mse: the mean divides by Σw over the *input's* shape."""
    yield Sample("edge-empty-batch-weight-mean", lambda rng: (
        (np.zeros((0, 3)), np.zeros((0, 3))), {"weight": np.zeros((0, 3))}), tags={"edge", "empty", "empty-batch"})
    # Σw = 0 with a nonzero numerator: ±inf (and nan gradients where w·sign(d) = 0).
    yield Sample("edge-weight-sum-zero-mean", lambda rng: (
        (np.array([1.0, -2.0, 0.5, 3.0]), np.array([0.0, 0.0, 0.0, 0.0])),
        {"weight": np.array([1.0, -1.0, 2.0, -2.0])}), tags={"edge"})
    # Integer input and target are fine on the weighted path (plain tensor arithmetic).
    yield Sample("edge-int64-both-weight-mean", lambda rng: (
        (rng.integers(-5, 6, size=(2, 3)), rng.integers(-5, 6, size=(2, 3))), {"weight": _weight(rng, (2, 3))}),
            tags={"edge", "non-float"})


def _smooth_l1_samples():
    # beta: 0 (routed to l1), 0.5, the default (not passed), 2.
    yield from _grid_samples("smooth_l1_loss", {"beta": [0.0, 0.5, None, 2.0]},
                             scale_of=lambda row: row["beta"] if row["beta"] else 1.0)
    yield from _shared_edges("smooth_l1_loss", {"beta": 0.5})
    yield _kink("edge-switch-beta-sum", [0.0, 0.5, -0.5, 1.75, 0.25, 3.0, -3.0], [0.0, 0.0, 0.0, 1.25, 0.0, 0.0, 0.0],
                {"beta": 0.5, "reduction": "sum"})
    yield _kink("edge-beta0-zero-difference-sum", [0.0, 1.5, -2.0, 0.25], [0.0, 1.5, -1.0, 0.5],
                {"beta": 0.0, "reduction": "sum"})
    # A tiny positive beta takes the smooth kernel (not the l1 route): numerically l1,
    # gradient 0 at d = 0 and ±1 elsewhere.
    yield _kink("edge-beta-tiny-none", [0.0, 1.5, -2.0, 0.25], [0.0, 1.5, -1.0, 0.5], {"beta": 1e-300, "reduction": "none"})
    yield Sample("edge-beta0-int64-both-none", lambda rng: (
        (rng.integers(-5, 6, size=(2, 3)), rng.integers(-5, 6, size=(2, 3))), {"beta": 0.0, "reduction": "none"}),
            tags={"edge", "non-float"})
    yield Sample("edge-bool-input", lambda rng: (
        (np.array([True, False, True, True]), rng.normal(size=(4,))), {"beta": 0.5, "reduction": "none"}),
            tags={"edge", "non-float"})


def _huber_samples():
    yield from _grid_samples("huber_loss", {"delta": [0.5, None, 2.0]},
                             scale_of=lambda row: row["delta"] or 1.0, weighted=True)
    yield from _shared_edges("huber_loss", {"delta": 0.5})
    yield _kink("edge-switch-delta-sum", [0.0, 0.5, -0.5, 1.75, 0.25, 3.0, -3.0], [0.0, 0.0, 0.0, 1.25, 0.0, 0.0, 0.0],
                {"delta": 0.5, "reduction": "sum"})
    yield Sample("edge-bool-target", lambda rng: (
        (rng.normal(size=(4,)), np.array([True, False, True, False])), {"reduction": "none"}),
            tags={"edge", "non-float"})
    # Weighted huber divides by numel even when Σw = 0.
    yield Sample("edge-weight-sum-zero-mean", lambda rng: (
        (np.array([1.0, -2.0, 0.5, 3.0]), np.zeros(4), "mean", 1.0, np.array([1.0, -1.0, 2.0, -2.0])), {}),
            tags={"edge"})
    yield Sample("edge-empty-batch-weight-mean", lambda rng: (
        (np.zeros((0, 3)), np.zeros((0, 3)), "mean", 1.0, np.zeros((0, 3))), {}), tags={"edge", "empty", "empty-batch"})


# --- errors -------------------------------------------------------------------------

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
Y = np.zeros((2, 3))
INT = np.array([[1, 2, 3], [4, 5, 6]])
BOOL = np.array([[True, False, True], [False, True, False]])
CPLX = X + 1j * X


def _shared_errors(name, kwargs):
    yield ErrorCase("unknown-reduction", (X, Y), dict(kwargs, reduction="average"),
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")
    yield ErrorCase("shapes-do-not-broadcast", (X, np.zeros((2, 4))), kwargs,
                    RuntimeError, r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
                    ValueError, r"input \(2, 3\), target \(2, 4\)")
    if name in WEIGHTED:
        yield ErrorCase("weight-wrong-shape", (X, Y), dict(kwargs, weight=np.ones(3)),
                        ValueError, r"Weights and input must have the same size", ValueError, r"weight.*\(2, 3\)")
        # The weight must match the input's own shape, not the broadcast shape.
        yield ErrorCase("weight-broadcast-shape", (np.zeros(3), Y), dict(kwargs, weight=np.ones((2, 3))),
                        ValueError, r"Weights and input must have the same size", ValueError, r"weight.*\(3,\)")
        yield ErrorCase("weight-unknown-reduction", (X, Y), dict(kwargs, weight=np.ones((2, 3)), reduction="average"),
                        ValueError, r"Invalid reduction mode: average", ValueError, r"reduction.*'average'")
        # The deprecated alias is refused on the weighted path (the reference refuses it everywhere).
        yield ErrorCase("weight-elementwise-mean", (X, Y), dict(kwargs, weight=np.ones((2, 3)),
                                                                 reduction="elementwise_mean"),
                        ValueError, r"Invalid reduction mode: elementwise_mean", ValueError, r"reduction")


def _subtraction_errors(name, kwargs):
    """l1's kernel (and weighted l1/mse) subtract the raw tensors: booleans are refused."""
    yield ErrorCase("bool-input", (BOOL, Y), kwargs,
                    RuntimeError, r"Subtraction, the `-` operator, with a bool tensor", TypeError, r"input.*boolean")
    yield ErrorCase("bool-target", (X, BOOL), kwargs,
                    RuntimeError, r"Subtraction, the `-` operator, with a bool tensor", TypeError, r"target.*boolean")


def _l1_errors():
    yield from _shared_errors("l1_loss", {})
    yield from _subtraction_errors("l1_loss", {})
    yield ErrorCase("int64-both-mean", (INT, INT), {},
                    RuntimeError, r"mean\(\): could not infer output dtype", TypeError, r"input and target.*integer")


def _float_kernel_errors(name, kernel, kwargs):
    yield ErrorCase("int64-both", (INT, INT), kwargs,
                    NotImplementedError, rf'"{kernel}" not implemented for \'Long\'', TypeError, r"input or target.*floating")
    yield ErrorCase("bool-both", (BOOL, BOOL), kwargs,
                    NotImplementedError, rf'"{kernel}" not implemented for \'Bool\'', TypeError, r"input or target.*floating")
    yield ErrorCase("complex-input", (CPLX, Y), kwargs,
                    NotImplementedError, rf'"{kernel}" not implemented for \'ComplexDouble\'', TypeError, r"input.*complex")


def _mse_errors():
    yield from _shared_errors("mse_loss", {})
    yield from _float_kernel_errors("mse_loss", "mse_cpu", {})
    yield from _subtraction_errors("mse_loss", {"weight": np.ones((2, 3))})


def _smooth_l1_errors():
    yield from _shared_errors("smooth_l1_loss", {"beta": 0.5})
    yield from _float_kernel_errors("smooth_l1_loss", "smooth_l1_cpu", {"beta": 0.5})
    for id, beta in (("negative-beta", -1.0), ("nan-beta", float("nan"))):
        yield ErrorCase(id, (X, Y), {"beta": beta},
                        RuntimeError, r"smooth_l1_loss does not support negative values for beta",
                        ValueError, r"beta must be >= 0")
    # beta = 0 is l1: booleans refused, an integer mean refused.
    yield from ((ErrorCase(f"beta0-{c.id}", c.args, {"beta": 0.0}, c.torch_error, c.torch_match,
                           c.reference_error, c.reference_match)) for c in _subtraction_errors("smooth_l1_loss", {}))
    yield ErrorCase("beta0-int64-both-mean", (INT, INT), {"beta": 0.0},
                    RuntimeError, r"mean\(\): could not infer output dtype", TypeError, r"input and target.*integer")
    yield ErrorCase("weight-keyword", (X, Y), {"weight": np.ones((2, 3))},
                    TypeError, r"unexpected keyword argument 'weight'", TypeError, r"'weight'")


def _huber_errors():
    yield from _shared_errors("huber_loss", {"delta": 0.5})
    for id, delta in (("zero-delta", 0.0), ("negative-delta", -1.0), ("nan-delta", float("nan"))):
        yield ErrorCase(id, (X, Y), {"delta": delta},
                        RuntimeError, r"huber_loss does not support non-positive values for delta",
                        ValueError, r"delta must be > 0")
    # The result is written in the input's dtype: an integer or boolean input is refused.
    yield ErrorCase("int64-input", (INT, Y), {},
                    RuntimeError, r"result type Double can't be cast to the desired output type Long",
                    TypeError, r"input must be a floating-point array")
    yield ErrorCase("int64-both", (INT, INT), {},
                    NotImplementedError, r'"huber_cpu" not implemented for \'Long\'',
                    TypeError, r"input must be a floating-point array")
    yield ErrorCase("bool-input", (BOOL, Y), {},
                    RuntimeError, r"result type Double can't be cast to the desired output type Bool",
                    TypeError, r"input must be a floating-point array")
    yield ErrorCase("complex-input", (CPLX, Y), {},
                    NotImplementedError, r'"huber_cpu" not implemented for \'ComplexDouble\'', TypeError,
                    r"input.*complex")


RECORDS = [
    LossRecord(name="l1_loss", **magnitudes("l1_loss"), module="L1Loss", samples=_l1_samples, errors=_l1_errors),
    LossRecord(name="mse_loss", **magnitudes("mse_loss"), module="MSELoss", samples=_mse_samples, errors=_mse_errors),
    LossRecord(name="smooth_l1_loss", **magnitudes("smooth_l1_loss"), module="SmoothL1Loss", samples=_smooth_l1_samples, errors=_smooth_l1_errors),
    LossRecord(name="huber_loss", **magnitudes("huber_loss"), module="HuberLoss", samples=_huber_samples, errors=_huber_errors),
]
