"""Registry records for reference/divergence.py: kl_div, poisson_nll_loss and gaussian_nll_loss."""

from __future__ import annotations

import numpy as np
import torch


from .base import ErrorCase, LossRecord, Sample, magnitudes, option_id, pairwise, positive, probabilities, shape_tags

NAN, INF = np.nan, np.inf
WIDE = (torch.float64, torch.float32)   # edge samples whose values do not fit half precision
NARROW = (torch.float32, torch.float16, torch.bfloat16)   # where torch computes part of the loss in float32


def _f(*values) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# --- kl_div -------------------------------------------------------------------------

#: (input shape, target shape) by kind: a 0-d pair (batchmean = plain sum), unbatched,
#: batched, K-dim, and broadcasting either way. "bcast-input": the input (1, 5) is
#: broadcast by the target (4, 1, 5), so batchmean divides by input.shape[0] = 1 and
#: not by the loss's first dim (torch's rule, followed).
KL_SHAPES = {
    "scalar": ((), ()),
    "C": ((5,), (5,)),
    "NC": ((4, 5), (4, 5)),
    "NCd": ((2, 3, 4), (2, 3, 4)),
    "bcast-target": ((4, 5), (5,)),
    "bcast-input": ((1, 5), (4, 1, 5)),
}


def _log_probs(rng, shape):
    """Log-probabilities along the last axis (a log-softmax); a 0-d one is log of U(0.1, 1)."""
    if shape == ():
        return np.asarray(np.log(rng.uniform(0.1, 1.0)))
    return np.log(probabilities(rng, shape, -1))


def _kl_samples():
    grid = dict(shape=list(KL_SHAPES), reduction=["none", "mean", "sum", "batchmean"], log_target=[False, True])
    for row in pairwise(grid):
        def build(rng, row=row):
            x_shape, t_shape = KL_SHAPES[row["shape"]]
            # Targets strictly inside (0, 1): t = 0 (nan target gradient) is an edge sample.
            target = _log_probs(rng, t_shape)
            if not row["log_target"]:
                target = np.asarray(np.exp(target))  # a 0-d array stays an array
            kwargs = {"reduction": row["reduction"]}
            if row["log_target"]:
                kwargs["log_target"] = True
            return (_log_probs(rng, x_shape), target), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=shape_tags(row["shape"]))

    for reduction in ("none", "mean", "sum", "batchmean"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, 5)), np.zeros((0, 5))), {"reduction": r}), tags={"edge", "empty", "empty-batch"})
    # Probabilities exactly 0 and 1: the loss is 0 and finite, the target gradient nan at 0
    # (torch's xlogy backward: t/t = 0/0, pytorch#89558).
    yield Sample("edge-target-zero-one", lambda rng: (
        (_f(-1.0, -2.0, -0.5, -3.0), _f(0.0, 1.0, 0.0, 0.5)), {"reduction": "sum"}), tags={"edge"})
    # xlogy's edges: t = 0 with x = -inf (0·inf = nan), t < 0 (nan), nan and inf on either side.
    yield Sample("edge-xlogy-nan-inf", lambda rng: (
        (_f(-INF, -1.0, NAN, -1.0, INF, -INF, -1.0, -0.5),
         _f(0.0, -0.5, 0.3, NAN, 0.5, 0.5, INF, 0.0)), {"reduction": "none"}), tags={"edge", "non-finite"})
    # log_target: t = -inf is the zero probability: exp(-inf)·(-inf - x) = 0·inf = nan.
    yield Sample("edge-log-target-nan-inf", lambda rng: (
        (_f(-1.0, -INF, -1.0, NAN, 2.0, INF, -1.0),
         _f(-INF, -INF, -0.5, -1.2, 3.0, -1.6, NAN)), {"reduction": "none", "log_target": True}),
             tags={"edge", "non-finite"})


def _kl_errors():
    x = np.full(3, -1.0)
    t = np.full(3, 0.3)
    yield ErrorCase("integer-input", (np.array([-1, -2, 0]), t), {"reduction": "sum"},
                    RuntimeError, r"kl_div: Integral inputs not supported", TypeError, r"input.*integer")
    yield ErrorCase("integer-target", (x, np.array([0, 1, 0])), {"reduction": "sum"},
                    RuntimeError, r"kl_div: Integral inputs not supported", TypeError, r"target.*integer")
    yield ErrorCase("bool-target", (x, np.array([True, False, True])), {"reduction": "sum"},
                    RuntimeError, r"kl_div: Integral inputs not supported", TypeError, r"target.*bool")
    yield ErrorCase("unknown-reduction", (x, t), {"reduction": "batch_mean"},
                    ValueError, r"batch_mean is not a valid value for reduction", ValueError, r"reduction.*'batch_mean'")
    yield ErrorCase("shapes-do-not-broadcast", (x, np.full(4, 0.3)), {"reduction": "sum"},
                    RuntimeError, r"size of tensor a \([34]\) must match the size of tensor b \([34]\)",
                    ValueError, r"input \(3,\), target \(4,\)")


# --- poisson_nll_loss ---------------------------------------------------------------

POISSON_SHAPES = {
    "scalar": ((), ()),
    "N": ((6,), (6,)),
    "NC": ((4, 5), (4, 5)),
    "NCd": ((2, 3, 4), (2, 3, 4)),
    "bcast": ((4, 1), (1, 5)),
}


def _counts(rng, shape):
    """Float targets on both sides of the Stirling switch t = 1 (kept 0.1 away from it) and of
    t = 0 (whose target gradient is nan with full=True: an edge sample), up to 4."""
    low = rng.uniform(0.05, 0.9, size=shape)
    high = rng.uniform(1.1, 4.0, size=shape)
    return np.where(rng.random(size=shape) < 0.4, low, high)


def _rates(rng, shape, log_input):
    # Conditioning of exp(x): the reference gets the x torch got (already rounded), so the
    # |x|·eps amplification of *input* rounding is not compared; what is left is torch's
    # evaluation, about 1 ulp of exp(x) whatever |x|. The loss e^x - t·x then errs by
    # ~eps·(e^x + |t·x|) against 32·eps·(1 + |loss|): only cancellation (e^x ≈ t·x, or
    # e^x ≈ t in the gradient) costs a factor (e^x + |t·x|)/(1 + |loss|), at most ~15 for
    # |x| <= 2 and t <= 4 (a few roundings: under 32). Hence log-rates in [-2, 2] and
    # conditioning 1. Where terms do cancel (edge-large-log-input: x = 5, t = 100), the record's
    # value_magnitude holds the entry to its terms' rounding (tests/registry/accumulation.py: _poisson, the record's value_magnitude).
    # log_input=False: rates in [0.1, 4], away from x + eps = 0 (edge samples).
    if log_input:
        return rng.uniform(-2.0, 2.0, size=shape)
    return positive(rng, shape, 0.1, 4.0)


def _poisson_samples():
    grid = dict(shape=list(POISSON_SHAPES), reduction=["none", "mean", "sum"], log_input=[True, False],
                full=[False, True], eps=[None, 0.25])
    for row in pairwise(grid):
        def build(rng, row=row):
            x_shape, t_shape = POISSON_SHAPES[row["shape"]]
            kwargs = {"reduction": row["reduction"]}
            if row["eps"] is not None:
                kwargs["eps"] = row["eps"]
            # log_input and full positionally: the reference takes them positionally too.
            return (_rates(rng, x_shape, row["log_input"]), _counts(rng, t_shape), row["log_input"], row["full"]), kwargs
        yield Sample(f"{row['shape']}-{option_id({k: v for k, v in row.items() if k != 'shape'})}", build,
                     tags=shape_tags(row["shape"]))

    # Integer counts (promoted to float; no target gradient), including t = 0 and exactly
    # t = 1, the Stirling switch point, masked as t <= 1. torch evaluates log/exp of an
    # integer tensor in the default dtype, float32, whatever the other argument's dtype
    # (type promotion of unary float ops), so these are tested where float32 is at least
    # as precise as the dtype under test.
    yield Sample("int-target-full", lambda rng: (
        (rng.uniform(-2.0, 2.0, size=(3, 4)), np.array([[0, 1, 2, 3], [1, 1, 5, 0], [4, 2, 1, 7]]), True, True), {}),
        dtypes=NARROW, tags={"non-float"})
    yield Sample("int-target-rates-full-sum", lambda rng: (
        (positive(rng, 7, 0.1, 4.0), np.arange(7), False, True), {"reduction": "sum"}), dtypes=NARROW,
            tags={"non-float"})
    yield Sample("int-input", lambda rng: (
        (np.array([-1, 0, 1, 2]), _counts(rng, 4)), {"reduction": "none"}), dtypes=NARROW, tags={"non-float"})
    # Large |x| without cancellation (see _rates): float32 holds exp(20), float16 does not.
    yield Sample("edge-large-log-input", lambda rng: (
        (_f(-30.0, -10.0, 10.0, 20.0, 5.0), _f(0.5, 3.0, 2.0, 0.0, 100.0), True, True), {"reduction": "none"}),
        dtypes=WIDE, tags={"edge", "extreme"})
    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, 4)), np.zeros((0, 4))), {"reduction": r}), tags={"edge", "empty", "empty-batch"})
    # The switch t = 1 itself, t = 0 and t < 0 with full=True: the Stirling term is masked
    # there; the target gradient is 0 at t = 1 and nan at t <= 0 (0·log 0, 0·log(t < 0)).
    for log_input in (True, False):
        yield Sample(f"edge-stirling-switch-{'log' if log_input else 'rate'}", lambda rng, li=log_input: (
            (_f(0.5, 1.0, 2.0, 0.3, 0.3, 0.7), _f(0.0, 1.0, 3.0, 0.5, -0.5, 1.0 + 2 ** -6), li, True),
            {"reduction": "none"}), tags={"edge"})
    # Rates at and below zero: x = 0 gives -t·log(eps) (eps = 1e-8 underflows to 0 in float16,
    # hence float64/float32 only); x < -eps gives a nan loss and a finite input gradient.
    yield Sample("edge-rate-zero-negative", lambda rng: (
        (_f(0.0, 0.0, -1.0, -1e-9, 2.0), _f(2.0, 0.0, 2.0, 1.0, 3.0), False), {"reduction": "none"}), dtypes=WIDE,
            tags={"edge"})
    yield Sample("edge-nan-inf", lambda rng: (
        (_f(INF, -INF, NAN, 0.5, 0.5, INF), _f(2.0, 2.0, 2.0, NAN, INF, 0.0)), {"reduction": "none"}),
            tags={"edge", "non-finite"})
    yield Sample("edge-nan-inf-full", lambda rng: (
        (_f(INF, -INF, NAN, 0.5, 0.5), _f(2.0, 2.0, 2.0, NAN, INF), True, True), {"reduction": "none"}),
            tags={"edge", "non-finite"})


def _poisson_errors():
    x = np.full(3, 0.5)
    t = np.full(3, 2.0)
    yield ErrorCase("unknown-reduction", (x, t), {"reduction": "avg"},
                    ValueError, r"avg is not a valid value for reduction", ValueError, r"reduction.*'avg'")
    yield ErrorCase("elementwise-mean-refused", (x, t), {"reduction": "elementwise_mean"},
                    ValueError, r"elementwise_mean is not a valid value for reduction",
                    ValueError, r"reduction.*'elementwise_mean'")
    yield ErrorCase("shapes-do-not-broadcast", (x, np.full(4, 2.0)), {},
                    RuntimeError, r"size of tensor a \([34]\) must match the size of tensor b \([34]\)",
                    ValueError, r"input \(3,\), target \(4,\)")
    yield ErrorCase("bool-input-rates", (np.array([True, False, True]), t, False), {},
                    RuntimeError, r"Subtraction, the `-` operator, with a bool tensor is not supported",
                    TypeError, r"input.*bool")
    yield ErrorCase("bool-target-full", (x, np.array([True, False, True]), True, True), {},
                    RuntimeError, r"Subtraction, the `-` operator, with a bool tensor is not supported",
                    TypeError, r"target.*bool")


# --- gaussian_nll_loss --------------------------------------------------------------

#: (input shape, target shape, var shape or "float") by kind: every var shape torch's rule
#: accepts (same; one dim short; one dim of 1 first / last / middle; a 0-d var for a 1-D
#: input; a Python float) and a target broadcasting the loss larger or itself broadcast.
GAUSSIAN_KINDS = {
    "same": ((4, 3), (4, 3), (4, 3)),
    "var-one-short-target-bigger": ((4, 3), (2, 4, 3), (4,)),
    "var-last-1-target-column": ((4, 3), (4, 1), (4, 1)),
    "var-first-1": ((4, 3), (4, 3), (1, 3)),
    "unbatched-var0d": ((3,), (3,), ()),
    "kdim-var-mid-1": ((2, 3, 4), (2, 3, 4), (2, 1, 4)),
    "kdim-var-one-short": ((2, 3, 4), (2, 3, 4), (2, 3)),
    "float-var": ((4, 3), (4, 3), "float"),
    "scalar": ((), (), ()),
}
#: The tags of each kind: var (or the target) broadcast, or not.
GAUSSIAN_TAGS = {"same": shape_tags("NC"), "var-one-short-target-bigger": shape_tags("NC", "broadcast"),
                 "var-last-1-target-column": shape_tags("NC", "broadcast"), "var-first-1": shape_tags("NC", "broadcast"),
                 "unbatched-var0d": shape_tags("C", "broadcast"), "kdim-var-mid-1": shape_tags("NCd", "broadcast"),
                 "kdim-var-one-short": shape_tags("NCd", "broadcast"), "float-var": shape_tags("NC"),
                 "scalar": shape_tags("scalar")}


def _gaussian_samples():
    grid = dict(kind=list(GAUSSIAN_KINDS), reduction=["none", "mean", "sum"], full=[False, True], eps=[None, 0.6])
    for row in pairwise(grid):
        def build(rng, row=row):
            x_shape, y_shape, var_shape = GAUSSIAN_KINDS[row["kind"]]
            # var in [0.3, 2]: with eps = 0.6 about a fifth of the entries are clamped (the
            # value and gradient are continuous there: the gradient passes through the clamp).
            # 0.75 is exact in every dtype, so the float var is the same on both sides.
            var = 0.75 if var_shape == "float" else positive(rng, var_shape, 0.3, 2.0)
            kwargs = {"reduction": row["reduction"]}
            if row["eps"] is not None:
                kwargs["eps"] = row["eps"]
            args = (rng.normal(size=x_shape), rng.normal(size=y_shape), var)  # var positional: its gradient is checked
            return (args + (True,) if row["full"] else args), kwargs
        yield Sample(f"{row['kind']}-{option_id({k: v for k, v in row.items() if k != 'kind'})}", build,
                     tags=GAUSSIAN_TAGS[row["kind"]])

    yield Sample("int-input-target", lambda rng: (
        (np.array([[0, 1, 2], [3, -1, 2]]), np.array([[1, 1, 0], [2, 2, 2]]), positive(rng, (2, 3), 0.3, 2.0)),
        {"reduction": "sum"}), tags={"non-float"})
    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, 3)), np.zeros((0, 3)), np.ones(0)), {"reduction": r}), tags={"edge", "empty", "empty-batch"})
    # var below, at and far below eps: clamped to eps = 1e-6, gradient passed through
    # (-5e11 at var = 1e-9 and x - y = 1). (x - y)^2/1e-6 overflows float16: wide only.
    yield Sample("edge-var-clamped", lambda rng: (
        (_f(1.0, 1.0, 0.0, 2.0, 1.0), _f(0.0, 0.0, 0.0, 1.5, 1.0), _f(0.0, 1e-9, 0.0, 1e-6, 1e-7)),
        {"reduction": "none"}), dtypes=WIDE, tags={"edge"})
    yield Sample("edge-float-var-zero", lambda rng: (
        (_f(1.0, 0.5, 0.0), _f(1.0, 1.0, 0.0), 0.0, False, 0.25), {"reduction": "sum"}), tags={"edge"})
    yield Sample("edge-nan-inf", lambda rng: (
        (_f(1.0, 1.0, NAN, INF, 1.0, INF), _f(0.0, 0.0, 0.0, 0.0, NAN, INF), _f(INF, NAN, 1.0, 1.0, 1.0, 1.0)),
        {"reduction": "none"}), tags={"edge", "non-finite"})


def _gaussian_errors():
    x = np.zeros((4, 3))
    y = np.zeros((4, 3))
    yield ErrorCase("negative-var", (x, y, np.full((4, 3), -0.5)), {},
                    ValueError, r"var has negative entry/entries", ValueError, r"var.*negative")
    yield ErrorCase("negative-float-var", (x, y, -0.5), {},
                    ValueError, r"var has negative entry/entries", ValueError, r"var.*negative")
    yield ErrorCase("int-var", (x, y, 1), {},
                    TypeError, r"any\(\) received an invalid combination of arguments", TypeError, r"var.*int")
    yield ErrorCase("integer-var-array", (x, y, np.ones((4, 3), dtype=np.int64)), {},
                    RuntimeError, r"result type Float can't be cast to the desired output type",
                    TypeError, r"var.*integer")
    for shape in ((1, 1), (3,), (), (4, 3, 1), (2, 3)):
        yield ErrorCase(f"var-shape-{'x'.join(map(str, shape)) or '0d'}", (x, y, np.ones(shape)), {},
                        ValueError, r"var is of incorrect size", ValueError, r"var.*incorrect size")
    # torch's size rule passes var (0, 1) for input (2, 3) (sizes 0 + 1 over the mismatched
    # dims sum to 1); the loss then fails to broadcast.
    yield ErrorCase("var-passes-size-rule-then-fails", (np.zeros((2, 3)), np.zeros((2, 3)), np.ones((0, 1))), {},
                    RuntimeError, r"size of tensor a \(2\) must match the size of tensor b \(0\)",
                    ValueError, r"var \(0, 1\)")
    yield ErrorCase("target-does-not-broadcast", (x, np.zeros(5), np.ones((4, 3))), {},
                    RuntimeError, r"size of tensor a \(3\) must match the size of tensor b \(5\)",
                    ValueError, r"target \(5,\)")
    yield ErrorCase("unknown-reduction", (x, y, np.ones((4, 3))), {"reduction": "elementwise_mean"},
                    ValueError, r"elementwise_mean is not valid", ValueError, r"reduction.*'elementwise_mean'")
    yield ErrorCase("bool-input", (np.ones((4, 3), dtype=bool), y, np.ones((4, 3))), {},
                    RuntimeError, r"Subtraction, the `-` operator, with a bool tensor is not supported",
                    TypeError, r"input.*bool")



RECORDS = [
    LossRecord(name="kl_div", **magnitudes("kl_div"), module="KLDivLoss", samples=_kl_samples, errors=_kl_errors),
    LossRecord(name="poisson_nll_loss", **magnitudes("poisson_nll_loss"), module="PoissonNLLLoss", samples=_poisson_samples, errors=_poisson_errors),
    # conditioning 4 (a broadcast var's gradient sums cancelling terms): lossref.tolerance.CONDITIONING
    LossRecord(name="gaussian_nll_loss", **magnitudes("gaussian_nll_loss"), module="GaussianNLLLoss", samples=_gaussian_samples, errors=_gaussian_errors),
]
