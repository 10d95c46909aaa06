"""The accumulation tier's cases (tests/test_accumulation.py, ``-m accumulation``): every loss
whose output sums many terms and that torch computes in float16 and bfloat16, at the sizes
where adding partial sums in the half type drifts (2^16 to 2^22 terms), and the rounding
model of each (``lossref.tolerance``, "Half-precision reductions").

A case's ``rounded`` function is the loss's derivation: for each summed term, the magnitudes
of the results of the operations torch rounds to the dtype while computing it (its CPU
kernels compute each operation in float32 from the dtype and round the result back:
``Vectorized<BFloat16>`` and the composite losses of torch/nn/functional.py alike), so that
``eps/2`` times their sum bounds the term's error. Counted from the kernels and written next
to each function; where a count is uncertain it is counted high (a looser bound, never a
missed rounding).

Losses whose rounding is not counted here keep the suite's 16-eps model (``model="rule"``,
the registry record's magnitudes): cross_entropy's and linear_cross_entropy's gradients (the
record's per-entry model, measured at 32k and 262k classes: tests/registry/classification.py).
multi_margin_loss and multilabel_margin_loss have no half-precision CPU kernel (their cases
run on CUDA only); ctc_loss has no half-precision kernel at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

import lossref
from lossref._common import log_softmax
from lossref.magnitudes import ROUNDED
from lossref.magnitudes import terms as unreduced_terms
from lossref.tolerance import Magnitude

HALF = (torch.bfloat16, torch.float16)
BF16, F16 = (torch.bfloat16,), (torch.float16,)

#: Sizes: "mid" is where a half-type accumulation drifts by a few units in the last place,
#: "large" where it stalls (a bfloat16 running sum stops growing at 256 times its term).
MID, LARGE = 2 ** 16, 2 ** 22
#: float16 'sum' cases: 2^14 terms of mean <= 2 stay below 65504 (float16's largest).
F16_SUM = 2 ** 14


@dataclass(frozen=True)
class Case:
    """One large call: ``build(rng) -> (args, kwargs)`` (float64 NumPy; float arrays are cast to
    the dtype under test). ``model``: "sum" (the half-precision reduction bound, with this
    case's ``rounded`` derivation and ``final`` roundings after the sum) or "rule" (the suite's
    16-eps rule with the registry record's magnitudes). ``torch_kwargs``: passed to the
    implementation only (linear_cross_entropy's ``options``: how, not what)."""

    loss: str
    id: str
    build: Callable
    dtypes: tuple = HALF
    model: str = "sum"
    rounded: Callable | None = None     # (args, kwargs) -> per-term rounding magnitudes (see module docstring)
    final: int = 1
    gradient: bool = True
    torch_kwargs: dict = field(default_factory=dict)
    devices: tuple = ("cpu", "cuda")
    tags: frozenset = frozenset()       # lossref.quirks vocabulary (tests/registry/base.py TAGS)
    size: int = 0                       # terms summed (the docs table's "largest sample")

    @property
    def name(self) -> str:
        return f"{self.loss}-{self.id}"


# --- value magnitude of a case ----------------------------------------------------------------

def value_magnitude(case: Case, args, kwargs) -> Magnitude:
    """The case's terms' half-type roundings (``rounded``) and their float32 sum (``accumulated``),
    reduced as the loss reduces them: the sum, or the mean over the (weighted) count."""
    reduction = kwargs.get("reduction", "mean")
    rounded = np.asarray(case.rounded(args, kwargs), dtype=np.float64)
    if case.loss in ("nll_loss", "cross_entropy"):
        x, target = np.asarray(args[0]), np.asarray(args[1])
        weight = kwargs.get("weight")
        w = np.ones(len(target)) if weight is None else np.asarray(weight)[target]
        terms = np.abs(getattr(lossref, case.loss)(*args, **dict(kwargs, reduction="none")))
        extra = 0.0 if case.loss == "nll_loss" else w * (np.abs(log_softmax(x, 1)).max(axis=1) + np.log2(x.shape[1]))
        per_row = terms + extra                        # the row's own float32 arithmetic (lse over C)
        if reduction == "none":
            return Magnitude(rounded=rounded, accumulated=per_row)
        count = w.sum() if reduction == "mean" else 1.0
        value = abs(float(getattr(lossref, case.loss)(*args, **kwargs)))
        # the weights' float32 sum carries log2(n) roundings of the count: |E| relative.
        depth = np.log2(max(len(target), 2))
        return Magnitude(rounded=rounded.sum() / count, accumulated=depth * (per_row.sum() / count + value))
    terms = unreduced_terms(case.loss, args, kwargs)
    if reduction == "none":    # rows of a row loss: no sum across them
        return Magnitude(rounded=rounded, accumulated=np.zeros_like(rounded))
    count = terms.size if reduction == "mean" else 1
    depth = np.log2(max(terms.size, 2))
    return Magnitude(rounded=rounded.sum() / count, accumulated=depth * terms.sum() / count)


def gradient_magnitudes(case: Case, grad_output, args, kwargs):
    """Element-wise losses: each entry of d loss / d argument is one term's derivative (built
    from O(1) inputs: the suite's 16-eps model of an O(1) term) times g / D. So its scale is
    ``|g| / D``, not 1: at 2^20 terms the entries are ~1e-6, which the O(1) model (atol 0.125
    in bfloat16) could not see at all. One per array parameter (None: the O(1) model)."""
    reduction = kwargs.get("reduction", "mean")
    count = unreduced_terms(case.loss, args, kwargs).size if reduction == "mean" else 1
    g = np.abs(np.asarray(grad_output, dtype=np.float64)) / count
    return tuple(Magnitude(rounded=np.broadcast_to(g, np.shape(a)) if reduction != "none" else np.ones(np.shape(a)),
                           accumulated=0.0) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else None
                 for a in args) + (None,) * 4


# --- drawing the cases -----------------------------------------------------------------------

def _normal(rng, n, scale=1.0):
    return rng.normal(0.0, scale, n)


def _sign(rng, n):
    return rng.choice([-1.0, 1.0], n)


def _away(rng, n, kink):
    """Normal draws at least 1/16 from ``kink`` (a hinge's corner): rounding an input to the half
    type then never moves it across the corner, where the gradient jumps."""
    x = rng.normal(0.0, 1.0, n)
    near = np.abs(x - kink) < 1 / 16
    x[near] = kink + np.sign(x[near] - kink + 1e-300) * (1 / 16 + np.abs(x[near] - kink))
    return x


def _ranking_draw(rng, n):
    """x1, x2, y with -y (x1 - x2) + margin (margin 0) at least 1/16 from the corner."""
    y = _sign(rng, n)
    x2 = rng.normal(0.0, 1.0, n)
    return (x2 + y * _away(rng, n, 0.0), x2, y), {}


#: loss -> draw(rng, n) -> (args, kwargs without reduction); its terms' roundings: lossref.magnitudes.ROUNDED
ELEMENTWISE = {
    "l1_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n)), {})),
    "mse_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n)), {})),
    "smooth_l1_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n)), {"beta": 0.5})),
    "huber_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n)), {"delta": 0.5})),
    "binary_cross_entropy": (lambda rng, n: ((rng.uniform(0.05, 0.95, n), rng.uniform(0, 1, n)), {})),
    "binary_cross_entropy_with_logits": (lambda rng, n: ((_normal(rng, n, 2.0), rng.uniform(0, 1, n)), {})),
    "soft_margin_loss": (lambda rng, n: ((_normal(rng, n), _sign(rng, n)), {})),
    "margin_ranking_loss": (lambda rng, n: _ranking_draw(rng, n)),
    # terms of both signs, which cancel in the sum (the bound is relative to their magnitudes):
    "kl_div": (lambda rng, n: ((_normal(rng, n), rng.uniform(0.05, 1.0, n)), {})),
    "poisson_nll_loss": (lambda rng, n: ((_normal(rng, n, 0.5), rng.poisson(1.0, n).astype(np.float64)), {})),
    "gaussian_nll_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n), rng.uniform(0.3, 2.0, n)), {})),
    "hinge_embedding_loss": (lambda rng, n: ((_away(rng, n, 1.0), _sign(rng, n)), {})),
}
#: The element-wise losses whose terms take both signs (the rest are never negative).
MIXED_SIGNS = ("kl_div", "poisson_nll_loss", "gaussian_nll_loss", "hinge_embedding_loss")


def _elementwise_cases():
    for loss, draw in ELEMENTWISE.items():
        rounded = ROUNDED[loss]
        kind = "mixed-signs" if loss in MIXED_SIGNS else "positive"
        for size, label in ((MID, "2^16"), (LARGE, "2^22")):
            for reduction in ("mean", "sum"):
                yield Case(loss, f"{kind}-{label}-{reduction}",
                           lambda rng, d=draw, n=size, r=reduction: (lambda a, k: (a, dict(k, reduction=r)))(*d(rng, n)),
                           BF16 if reduction == "sum" else HALF, rounded=rounded, size=size)
        # float16 'sum' below its largest value, 65504
        yield Case(loss, f"{kind}-2^14-sum", lambda rng, d=draw: (lambda a, k: (a, dict(k, reduction="sum")))(
            *d(rng, F16_SUM)), F16, rounded=rounded, size=F16_SUM)


def overflow_cases():
    """float16 'sum' of 2^22 O(1) terms: far beyond 65504. The reference is finite; an
    implementation computing in float16 must return inf (tests/test_accumulation.py)."""
    for loss, draw in ELEMENTWISE.items():
        if loss in MIXED_SIGNS:
            continue
        yield Case(loss, "positive-2^22-sum-overflow", lambda rng, d=draw: (
            lambda a, k: (a, dict(k, reduction="sum")))(*d(rng, LARGE)), F16, gradient=False, size=LARGE)


def _class_cases():
    def rows(rng, n, classes, weighted, reduction, log=False, vocab_scale=2.0):
        x = rng.normal(0.0, vocab_scale, (n, classes))
        if log:
            x = log_softmax(x, 1)
        kwargs = {"reduction": reduction}
        if weighted:
            kwargs["weight"] = rng.uniform(0.1, 2.0, classes)
        return (x, rng.integers(0, classes, n)), kwargs

    tags = frozenset({"class-indices", "batched"})
    for loss, log in (("nll_loss", True), ("cross_entropy", False)):
        rounded = ROUNDED[loss]
        for weighted in (False, True):
            w = "-weight" if weighted else ""
            for n, label in ((MID, "2^16"), (2 ** 20, "2^20")):
                yield Case(loss, f"rows{label}-C4{w}-mean", lambda rng, n=n, w=weighted, l=log: rows(
                    rng, n, 4, w, "mean", l), HALF, rounded=rounded, tags=tags, size=n)
            yield Case(loss, f"rows2^20-C4{w}-sum", lambda rng, w=weighted, l=log: rows(rng, 2 ** 20, 4, w, "sum", l),
                       BF16, rounded=rounded, tags=tags, size=2 ** 20)
            yield Case(loss, f"rows2^14-C4{w}-sum", lambda rng, w=weighted, l=log: rows(rng, F16_SUM, 4, w, "sum", l),
                       F16, rounded=rounded, tags=tags, size=F16_SUM)
    # large vocabularies: each row's log-sum-exp sums 2^16 exponentials (float32 in torch)
    for reduction in ("none", "mean"):
        yield Case("cross_entropy", f"V65536-rows64-{reduction}", lambda rng, r=reduction: rows(
            rng, 64, 2 ** 16, False, r), HALF, rounded=ROUNDED["cross_entropy"], tags=tags, size=2 ** 16)


LINEAR_FEATURES = 64


def _linear_cases():
    """linear_cross_entropy's weight and bias gradients sum over the rows: 2^14 rows, 512
    classes, 64 features. Positive inputs and targets on a few classes make most classes'
    weight-gradient entries sums of same-signed terms (a sum that cannot hide in cancellation)."""
    def build(rng, rows=2 ** 14, classes=512):
        x = rng.uniform(0.0, 1.0, (rows, LINEAR_FEATURES))
        w = rng.normal(0.0, 0.25, (classes, LINEAR_FEATURES))
        b = rng.normal(0.0, 0.5, classes)
        return (x, w, rng.integers(0, 8, rows)), {"linear_bias": b, "reduction": "mean"}

    tags = frozenset({"class-indices", "batched"})
    # bfloat16 only: in float16 the logits' gradient, ~1/(N V) = 1e-7, is below float16's smallest
    # normal number (6e-5), so every implementation that stores it in the dtype loses it to the
    # subnormal spacing (6e-8); and float16's 'mean' over these rows sums past 65504 in torch's
    # nll_loss (lossref.quirks, nll-loss-half-accumulation-cpu).
    yield Case("linear_cross_entropy", "rows2^14-V512-F64-mean", build, BF16, model="rule", tags=tags,
               size=2 ** 14)
    try:
        from torch.nn import LinearCrossEntropyOptions
    except ImportError:    # torch before 2.13: no chunked path
        return
    yield Case("linear_cross_entropy", "rows2^14-V512-F64-mean-chunked1024", build, BF16, model="rule", tags=tags,
               torch_kwargs={"options": LinearCrossEntropyOptions(chunking_method=None, batch_chunk_size=1024)},
               size=2 ** 14)


def _row_cases():
    """Losses over long rows: a row's sum over C or D classes or features."""
    def multilabel(rng, reduction):
        x = rng.normal(0.0, 1.0, (16, 2 ** 16))
        return (x, rng.integers(0, 2, x.shape).astype(np.float64)), {"reduction": reduction}

    def triplet(rng, reduction):
        a = rng.normal(0.0, 1.0, (16, 2 ** 16))
        # positive close to the anchor, negative far: every row's loss is positive (no clamp)
        return (a, a + rng.normal(0.0, 0.1, a.shape), rng.normal(0.0, 1.0, a.shape)), {
            "reduction": reduction, "margin": 400.0}

    def cosine(rng, reduction):
        # D = 2^14: torch's composite sums x1 * x1 in the dtype, and over 2^16 O(1) squares float16's
        # sum (~65536) is past 65504: inf, and a cosine of 0 (docs/accumulation.md)
        x1 = rng.normal(0.0, 1.0, (16, 2 ** 14))
        x2 = 0.5 * x1 + rng.normal(0.0, 1.0, x1.shape)
        return (x1, x2, _sign(rng, 16)), {"reduction": reduction, "margin": 0.1}

    for reduction in ("none", "mean"):
        yield Case("multilabel_soft_margin_loss", f"C65536-rows16-{reduction}",
                   lambda rng, r=reduction: multilabel(rng, r), rounded=ROUNDED["multilabel_soft_margin_loss"], gradient=False,
                   size=2 ** 16)
        yield Case("triplet_margin_loss", f"D65536-rows16-{reduction}", lambda rng, r=reduction: triplet(rng, r),
                   rounded=ROUNDED["triplet_margin_loss"], gradient=False, size=2 ** 16)
        yield Case("cosine_embedding_loss", f"D16384-rows16-{reduction}", lambda rng, r=reduction: cosine(rng, r),
                   tags=frozenset({"batched"}),
                   rounded=ROUNDED["cosine_embedding_loss"], gradient=False, size=2 ** 14)
    # no half-precision CPU kernel: CUDA only
    for loss in ("multi_margin_loss", "multilabel_margin_loss"):
        def margin(rng, loss=loss):
            x = rng.normal(0.0, 1.0, (16, 2 ** 12))
            if loss == "multi_margin_loss":
                return (x, rng.integers(0, x.shape[1], 16)), {}
            target = np.full(x.shape, -1, dtype=np.int64)
            target[:, :8] = rng.integers(0, x.shape[1], (16, 8))
            return (x, target), {}
        yield Case(loss, "C4096-rows16-mean", margin, model="rule", gradient=False, devices=("cuda",), size=2 ** 12)


def cases() -> list[Case]:
    return [*_elementwise_cases(), *_class_cases(), *_linear_cases(), *_row_cases()]


def elementwise_gradient_magnitude(case: Case):
    return case.loss in ELEMENTWISE
