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


# --- per-term rounding magnitudes (eps/2 each) -------------------------------------------------

def _terms(loss, args, kwargs):
    return np.abs(getattr(lossref, loss)(*args, **dict(kwargs, reduction="none")))


def _l1(args, kwargs):
    # (x - y) rounded once; abs is exact.
    return _terms("l1_loss", args, kwargs)


def _mse(args, kwargs):
    # d = x - y rounded (its relative error doubles in d^2), d * d rounded: 2|t| + |t|.
    return 3 * _terms("mse_loss", args, kwargs)


def _smooth(args, kwargs, name, knob):
    x, y = args[:2]
    d = np.abs(np.asarray(x) - np.asarray(y))
    t = _terms(name, args, kwargs)
    beta = kwargs.get(knob, 1.0)
    # quadratic side: d (2|t| in d^2), d*d, *0.5 (exact), /beta: 5|t| counted high;
    # linear side: |d| rounded, then d - beta/2 (and * delta for huber): |d| beta-scaled + 2|t|.
    scale = beta if name == "huber_loss" else 1.0
    return np.where(d < beta, 5 * t, scale * d + 2 * t)


def _bce(args, kwargs):
    x, y = (np.asarray(a) for a in args[:2])
    with np.errstate(divide="ignore"):
        a = y * np.minimum(-np.log(x), 100.0)
        b = (1 - y) * np.minimum(-np.log1p(-x), 100.0)
    # log x, y * log x; log1p(-x), (y - 1), its product; the final subtraction: 2a + 3b + |t|.
    return 2 * a + 3 * b + (a + b)


def _bce_logits(args, kwargs):
    x, y = (np.asarray(a) for a in args[:2])
    m = np.maximum(-x, 0.0)
    soft = np.log1p(np.exp(-np.abs(x)))
    pw = kwargs.get("pos_weight")
    # pos_weight p: the log-sigmoid part times (p - 1) y + 1 (its product, sum and product rounded too)
    scale = 1.0 if pw is None else 3 * np.abs((np.asarray(pw) - 1) * y + 1) + np.abs((np.asarray(pw) - 1) * y)
    # (1 - y) x (two roundings), max, two exps and their sum and log (each O(soft) or |m|),
    # the two additions: counted as 4 roundings of each component, plus the result.
    return 4 * (np.abs((1 - y) * x) + scale * (m + soft)) + _terms("binary_cross_entropy_with_logits", args, kwargs)


def _kl(args, kwargs):
    x, y = (np.asarray(a) for a in args[:2])
    if kwargs.get("log_target"):
        # exp(y), y - x, their product: each relative: 3|t|.
        return 3 * _terms("kl_div", args, kwargs)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, np.abs(y * np.log(np.where(y > 0, y, 1.0))), 0.0)
    # log y (or xlogy), y * x, the subtraction (and a product): 2|y log y| + |y x| + 2|t|.
    return 2 * ylogy + np.abs(y * x) + 2 * _terms("kl_div", args, kwargs)


def _poisson(args, kwargs):
    x, y = (np.asarray(a) for a in args[:2])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kwargs.get("log_input", True):
            # exp(x), y * x, the subtraction.
            parts = np.exp(x) + np.abs(y * x)
        else:
            # x + eps (an absolute eps/2 in its log: |y|), its log, y * log, the subtraction: |x| + |y| + 2 |y log(x + eps)|.
            parts = np.abs(x) + np.abs(y) + 2 * np.abs(y * np.log(x + kwargs.get("eps", 1e-8)))
        if kwargs.get("full"):
            # Stirling's y log y - y + log(2 pi y) / 2 where y > 1: 4 roundings of each of its parts.
            ys = np.where(y > 1, y, 1.0)
            parts = parts + np.where(y > 1, 4 * (np.abs(ys * np.log(ys)) + ys + np.abs(0.5 * np.log(2 * np.pi * ys))),
                                     0.0)
    return parts + _terms("poisson_nll_loss", args, kwargs)


def _gaussian(args, kwargs):
    x, y, v = (np.asarray(a) for a in args[:3])
    if v.ndim == x.ndim - 1:     # torch unsqueezes a var of one dimension less
        v = v[..., None]
    v = np.maximum(v, kwargs.get("eps", 1e-6))
    q = (x - y) ** 2 / v
    # log v; d (2q in d^2), d^2, / v; the sum; * 0.5: 0.5 (|log v| + 4q) + 2|t| (full: + log(2 pi)/2, rounded).
    return 0.5 * (np.abs(np.log(v)) + 4 * q) + 2 * _terms("gaussian_nll_loss", args, kwargs) + (
        np.log(2 * np.pi) if kwargs.get("full") else 0.0)


def _soft_margin(args, kwargs):
    x, y = (np.asarray(a) for a in args[:2])
    e = np.exp(-y * x)
    # -x * y exact (y = ±1); exp(...) rounded: e/(1+e) in log1p; log1p rounded: |t|.
    return e / (1 + e) + _terms("soft_margin_loss", args, kwargs)


def _hinge(args, kwargs):
    # margin - x rounded where y = -1 (clamp and the where-sum are exact); x itself where y = 1.
    return _terms("hinge_embedding_loss", args, kwargs)


def _ranking(args, kwargs):
    x1, x2 = (np.asarray(a) for a in args[:2])
    # x1 - x2, then + margin (the clamp is exact).
    return np.abs(x1 - x2) + _terms("margin_ranking_loss", args, kwargs)


def _multilabel_soft(args, kwargs):
    x, y = (np.asarray(a) for a in args[:2])
    plus, minus = -np.logaddexp(0, -x), -np.logaddexp(0, x)     # log_sigmoid(x), log_sigmoid(-x)
    t = np.abs(y * plus + (1 - y) * minus)
    # per element: log_sigmoid twice, the two products, the sum: |ls+| + |ls-| + |y ls+| + |(1-y) ls-| + |t|,
    # then the row's sum over C is rounded and divided by C (rounded again): 2 |row| of the 'none' value.
    per_element = np.abs(plus) + np.abs(minus) + np.abs(y * plus) + np.abs((1 - y) * minus) + t
    rows = per_element.mean(axis=-1) + 2 * np.abs(lossref.multilabel_soft_margin_loss(x, y, reduction="none"))
    return rows


def _distance_terms(anchor, other, eps=1e-6):
    d = np.linalg.norm(anchor - other + eps, axis=-1)
    return d


def _triplet(args, kwargs):
    a, p, n = (np.asarray(v) for v in args[:3])
    margin = kwargs.get("margin", 1.0)
    d_ap, d_an = _distance_terms(a, p), _distance_terms(a, n)
    # each distance: the differences (and + eps) rounded, each eps/2 relative, so eps/2 d of the
    # norm each, and the norm's own rounding: 3 d; then margin + d_ap and - d_an rounded.
    loss = _terms("triplet_margin_loss", args, kwargs)
    return 3 * (d_ap + d_an) + np.abs(margin + d_ap) + loss


def _cosine(args, kwargs):
    x1, x2, y = (np.asarray(v) for v in args[:3])
    norm = np.sqrt((x1 * x1).sum(-1) * (x2 * x2).sum(-1))
    cos = (x1 * x2).sum(-1) / norm
    # the products x1 x2 and their sum (|Σ x1 x2| / norm: the terms over the norm), the squares'
    # roundings and sums (1 + 1 each), their product, sqrt and the division: 6 |cos| counted high;
    # then 1 - cos or cos - margin rounded: |loss|.
    return np.abs(x1 * x2).sum(-1) / norm + 6 * np.abs(cos) + _terms("cosine_embedding_loss", args, kwargs)


def _nll_rows(args, kwargs):
    """nll_loss: the target's entry gathered exactly; times its weight (rounded once) if weighted."""
    x, target = np.asarray(args[0]), np.asarray(args[1])
    weight = kwargs.get("weight")
    picked = np.take_along_axis(x, target[:, None], axis=1)[:, 0]
    return np.zeros_like(picked) if weight is None else np.abs(picked * np.asarray(weight)[target])


def _ce_rows(args, kwargs):
    """cross_entropy (index targets): log_softmax computed in float32 and stored in the dtype
    (|lsm_y|), times the weight (another |w lsm_y|); the row's sum of exponentials is float32."""
    x, target = np.asarray(args[0]), np.asarray(args[1])
    weight = kwargs.get("weight")
    lsm = np.take_along_axis(log_softmax(x, 1), target[:, None], axis=1)[:, 0]
    w = np.ones_like(lsm) if weight is None else np.asarray(weight)[target]
    return w * np.abs(lsm) * (1 if weight is None else 2)


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
    terms = _terms(case.loss, args, kwargs)
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
    count = _terms(case.loss, args, kwargs).size if reduction == "mean" else 1
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


#: loss -> (draw(rng, n) -> (args, kwargs without reduction), rounded, kinds of terms drawn)
ELEMENTWISE = {
    "l1_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n)), {}), _l1),
    "mse_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n)), {}), _mse),
    "smooth_l1_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n)), {"beta": 0.5}),
                       lambda a, k: _smooth(a, k, "smooth_l1_loss", "beta")),
    "huber_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n)), {"delta": 0.5}),
                   lambda a, k: _smooth(a, k, "huber_loss", "delta")),
    "binary_cross_entropy": (lambda rng, n: ((rng.uniform(0.05, 0.95, n), rng.uniform(0, 1, n)), {}), _bce),
    "binary_cross_entropy_with_logits": (lambda rng, n: ((_normal(rng, n, 2.0), rng.uniform(0, 1, n)), {}),
                                         _bce_logits),
    "soft_margin_loss": (lambda rng, n: ((_normal(rng, n), _sign(rng, n)), {}), _soft_margin),
    "margin_ranking_loss": (lambda rng, n: _ranking_draw(rng, n), _ranking),
    # terms of both signs, which cancel in the sum (the bound is relative to their magnitudes):
    "kl_div": (lambda rng, n: ((_normal(rng, n), rng.uniform(0.05, 1.0, n)), {}), _kl),
    "poisson_nll_loss": (lambda rng, n: ((_normal(rng, n, 0.5), rng.poisson(1.0, n).astype(np.float64)), {}),
                         _poisson),
    "gaussian_nll_loss": (lambda rng, n: ((_normal(rng, n), _normal(rng, n), rng.uniform(0.3, 2.0, n)), {}),
                          _gaussian),
    "hinge_embedding_loss": (lambda rng, n: ((_away(rng, n, 1.0), _sign(rng, n)), {}), _hinge),
}
#: The element-wise losses whose terms take both signs (the rest are never negative).
MIXED_SIGNS = ("kl_div", "poisson_nll_loss", "gaussian_nll_loss", "hinge_embedding_loss")


def _elementwise_cases():
    for loss, (draw, rounded) in ELEMENTWISE.items():
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
    for loss, (draw, _) in ELEMENTWISE.items():
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
    for loss, rounded, log in (("nll_loss", _nll_rows, True), ("cross_entropy", _ce_rows, False)):
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
            rng, 64, 2 ** 16, False, r), HALF, rounded=_ce_rows, tags=tags, size=2 ** 16)


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
                   lambda rng, r=reduction: multilabel(rng, r), rounded=_multilabel_soft, gradient=False,
                   size=2 ** 16)
        yield Case("triplet_margin_loss", f"D65536-rows16-{reduction}", lambda rng, r=reduction: triplet(rng, r),
                   rounded=_triplet, gradient=False, size=2 ** 16)
        yield Case("cosine_embedding_loss", f"D16384-rows16-{reduction}", lambda rng, r=reduction: cosine(rng, r),
                   tags=frozenset({"batched"}),
                   rounded=_cosine, gradient=False, size=2 ** 14)
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


# --- the default suite's per-entry magnitudes of the element-wise losses ------------------------
#
# The registry records (tests/registry/{regression,binary,divergence,margin}.py) read their
# ``value_magnitude`` and ``gradient_magnitude`` from here: the same rounding counts as the
# tier's cases (the ``rounded`` functions above), on the suite's small samples and every option
# of their grids (``lossref.tolerance``, "Entries far below 1").

#: loss -> (the array arguments its ``rounded`` function takes, in order; the ``rounded`` function)
ROUNDED = {loss: rounded for loss, (_, rounded) in ELEMENTWISE.items()}
TERM_ARRAYS = {
    **dict.fromkeys(("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                     "binary_cross_entropy_with_logits", "soft_margin_loss", "kl_div", "poisson_nll_loss",
                     "hinge_embedding_loss"), ("input", "target")),
    "margin_ranking_loss": ("input1", "input2", "target"),
    "gaussian_nll_loss": ("input", "target", "var"),
}
#: The losses whose 'mean' divides by the sum of the weights (theirs, over the input's shape).
WEIGHTED_MEAN = ("l1_loss", "mse_loss")


def _d_bce_logits(name, a, kw):
    x, y = a["input"], a["target"]
    pw = kw.get("pos_weight")
    p = 1.0 if pw is None else np.abs(pw)
    s, soft = 1 / (1 + np.exp(-x)), np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0.0)
    # input: (1 - y) + ((p - 1) y + 1)(sigmoid(x) - 1): its parts' roundings (the sigmoid's absolute);
    # target: -x - (p - 1) softplus(-x): both parts; pos_weight: y softplus(-x) (its log and exp).
    return {"input": (1 + p) * (s + np.abs(y) + 1), "target": np.abs(x) + (1 + p) * soft,
            "pos_weight": 2 * np.abs(y) * soft}.get(name)


def _d_kl(name, a, kw):
    x, y = a["input"], a["target"]
    if name != "target":
        return 0.0    # -y or -exp(y): a product, relative
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kw.get("log_target"):
            return np.exp(y) * (np.abs(y) + 1 + np.abs(x))            # exp(y) (y + 1 - x)
        return np.where(y > 0, np.abs(np.log(np.where(y > 0, y, 1.0))) + 1 + np.abs(x), 0.0)   # log y + 1 - x


def _d_poisson(name, a, kw):
    x, y = a["input"], a["target"]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if name == "input":   # exp(x) - y, or 1 - y / (x + eps)
            return np.exp(x) + np.abs(y) if kw.get("log_input", True) else 1 + np.abs(y / (x + kw.get("eps", 1e-8)))
        ys = np.where(y > 1, y, 1.0)
        stirling = np.where(y > 1, np.abs(np.log(ys)) + 2 + 1 / (2 * ys), 0.0) if kw.get("full") else 0.0
        # -x, or -log(x + eps): the sum x + eps rounded is an absolute eps/2 in its log (the 1)
        return np.abs(x) + stirling if kw.get("log_input", True) else np.abs(np.log(x + kw.get("eps", 1e-8))) + 1 + stirling


def _d_gaussian(name, a, kw):
    if name != "var":
        return 0.0    # ±(x - y) / v: relative
    x, y, v = a["input"], a["target"], np.maximum(a["var"], kw.get("eps", 1e-6))
    return 0.5 * (1 / v + (x - y) ** 2 / v ** 2)    # 1/2 (1/v - d^2/v^2): the two parts cancel


def _d_sigmoid(name, a, kw):
    # soft_margin: -y sigmoid(-y x), computed as exp and a quotient: relative, but counted as the
    # sigmoid's absolute rounding (its autograd formula subtracts from 1 on some paths).
    return 1.0 if name == "input" else 0.0


#: loss -> (parameter, {name: float64 array broadcast to the terms' shape}, options) -> the magnitude of
#: the terms each per-term derivative is built from, beyond its own value (0: a product or quotient of
#: exact inputs and their exact differences, relative only; the term's |derivative| is always added).
DERIVATIVE_TERMS = {
    "binary_cross_entropy": lambda name, a, kw: (
        0.0 if name == "input" else np.abs(np.log(np.clip(a["input"], 1e-300, 1))) + np.abs(
            np.log(np.clip(1 - a["input"], 1e-300, 1))) + 1),  # (x - y) / (x (1 - x)); log(1 - x) - log x (1 - x rounded)
    "binary_cross_entropy_with_logits": _d_bce_logits,
    "kl_div": _d_kl,
    "poisson_nll_loss": _d_poisson,
    "gaussian_nll_loss": _d_gaussian,
    "soft_margin_loss": _d_sigmoid,
}


def _float(v):
    return np.asarray(v, dtype=np.float64)


def _call(loss, args, kwargs):
    """The call's arguments by name (``bound``), and the ``rounded`` function's (args, kwargs):
    the term arrays in order, the options (no weight, no reduction: the terms are unweighted)."""
    import inspect
    bound = inspect.signature(getattr(lossref, loss)).bind(*args, **kwargs)
    bound.apply_defaults()
    named = dict(bound.arguments)
    # a Python float var (gaussian_nll_loss) stays one: the reference refuses a 0-d var for a larger input
    arrays = tuple(_float(named[n]) if isinstance(named[n], (np.ndarray, np.generic)) else named[n]
                   for n in TERM_ARRAYS[loss])
    options = {k: (_float(v) if k == "pos_weight" and v is not None else v) for k, v in named.items()
               if k not in TERM_ARRAYS[loss] and k not in ("weight", "reduction")}
    return named, arrays, options


def _count(loss, named, terms):
    reduction, weight = named["reduction"], named.get("weight")
    if reduction != "mean":
        return 1.0
    if weight is not None and loss in WEIGHTED_MEAN:
        return abs(float(_float(weight).sum()))
    return float(terms.size)


def _finite(a):
    """A non-finite magnitude (a term of nan or inf: its entry is compared for nan or inf, not a
    tolerance) becomes 1, the O(1) model, so that no scale of nan turns a comparison off."""
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.isfinite(a), a, 1.0)


def _weight_factor(loss, named, shape):
    weight = named.get("weight")
    return np.ones(shape) if weight is None else np.broadcast_to(np.abs(_float(weight)), shape)


def record_value_magnitude(loss):
    """``value_magnitude`` of an element-wise loss's record: per term, its ``rounded`` roundings
    (times its weight, whose product rounds once more: + |w t|); 'none' those, 'mean' and 'sum' their
    sum over the count (rounded once more in the dtype: the |expected| part of the tolerance) with the
    float32 (or the dtype's) sum of the terms' magnitudes over ``log2(n)`` partial sums."""
    def magnitude(*args, **kwargs):
        named, arrays, options = _call(loss, args, kwargs)
        with np.errstate(all="ignore"):
            terms = np.abs(getattr(lossref, loss)(*arrays, **dict(options, reduction="none")))
            w = _weight_factor(loss, named, terms.shape)
            rounded = np.broadcast_to(_finite(ROUNDED[loss](arrays, options)), terms.shape) * w + (
                0.0 if named.get("weight") is None else w * terms)
            if named["reduction"] == "none":
                return Magnitude(rounded=_finite(rounded), accumulated=0.0)
            count = _count(loss, named, terms)
            depth = np.log2(max(terms.size, 2))
            return Magnitude(rounded=_finite(rounded.sum() / count), accumulated=_finite(depth * (w * terms).sum() / count))
    return magnitude


def record_gradient_magnitude(loss):
    """``gradient_magnitude`` of an element-wise loss's record: entry i of d loss / d p is
    ``g_i w_i / count`` times one term's derivative, so its magnitude is ``|g_i| |w_i| / count``
    times the term's |derivative| plus the magnitude of the terms that derivative is built from
    (:data:`DERIVATIVE_TERMS`); an argument broadcast into the terms' shape sums its entries'
    magnitudes over the broadcast axes (``accumulated``: ``log2`` of that count partial sums). The
    weight's gradient is the term itself (its ``rounded`` roundings), less the mean where the mean
    divides by the weights' sum. Relative to ``g / count``: a 'mean' gradient entry of 1e-3 is held
    to 16 eps of 1e-3, not of 1."""
    def magnitude(grad_output, *args, **kwargs):
        from lossref._common import sum_to_shape
        named, arrays, options = _call(loss, args, kwargs)
        parameters = [n for n in _array_names(loss)]
        with np.errstate(all="ignore"):
            terms = getattr(lossref, loss)(*arrays, **dict(options, reduction="none"))
            shape = terms.shape
            full = {n: np.broadcast_to(_float(named[n]), shape) for n in TERM_ARRAYS[loss] if n != "var"}
            if loss == "gaussian_nll_loss":
                v = _float(named["var"])
                short = v.ndim == np.ndim(named["input"]) - 1     # torch unsqueezes a var of one dimension less
                full["var"] = np.broadcast_to(v[..., None] if short else v, shape)
            count = _count(loss, named, terms)
            g = np.broadcast_to(np.abs(_float(grad_output)), shape) * _weight_factor(loss, named, shape) / count
            derivatives = getattr(lossref, f"{loss}_backward")(
                np.ones(shape), *(full[n] for n in TERM_ARRAYS[loss]), **dict(options, reduction="none"))
            extra = DERIVATIVE_TERMS.get(loss, lambda *_: 0.0)
            out = []
            for position, name in enumerate(parameters):
                value = named.get(name)
                if value is None or not isinstance(value, (np.ndarray, np.generic)):
                    out.append(None)
                    continue
                if name == "weight":
                    per = np.abs(_float(grad_output)) * (np.abs(terms) + _finite(ROUNDED[loss](arrays, options)))
                    if named["reduction"] == "mean" and loss in WEIGHTED_MEAN:
                        per = per + np.abs(_float(grad_output)) * np.abs(getattr(lossref, loss)(*args, **kwargs))
                    per = np.broadcast_to(per, shape) / count
                elif name == "pos_weight":     # y softplus(-x) per term (its |derivative| is in the count)
                    per = g * extra(name, full, options)
                else:
                    d = derivatives[TERM_ARRAYS[loss].index(name)] if name in TERM_ARRAYS[loss] else None
                    if d is None:
                        out.append(None)
                        continue
                    per = g * (np.abs(d) + extra(name, full, options))
                per = _finite(per)
                target_shape = np.shape(value)
                if name == "var" and short:
                    summed = sum_to_shape(per, target_shape + (1,)).reshape(target_shape)
                else:
                    summed = sum_to_shape(per, target_shape)
                folded = max(per.size // max(summed.size, 1), 1)
                out.append(Magnitude(rounded=summed, accumulated=summed * np.log2(max(folded, 2)) if folded > 1 else 0.0))
            return tuple(out)
    return magnitude


def _array_names(loss):
    from lossref._common import array_parameters
    return array_parameters(getattr(lossref, loss))


def elementwise_magnitudes(loss):
    """The record's keywords: ``LossRecord(..., **elementwise_magnitudes(name))``."""
    value, gradient = record_value_magnitude(loss), record_gradient_magnitude(loss)
    # the name docs/losses/ shows: where the model is written
    value.__name__ = value.__qualname__ = f'accumulation.record_value_magnitude("{loss}")'
    gradient.__name__ = gradient.__qualname__ = f'accumulation.record_gradient_magnitude("{loss}")'
    return dict(value_magnitude=value, gradient_magnitude=gradient)
