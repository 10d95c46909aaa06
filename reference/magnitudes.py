"""Per-entry magnitudes of the terms each loss's value and gradient entries are built from: the
input of ``lossref.tolerance``'s per-entry model ("Entries far below 1") and of its half-precision
reduction bound ("Half-precision reductions"). Torch-free (NumPy): the suite's registry records
(``value_magnitude``, ``gradient_magnitude``), its accumulation tier and the fixture files'
``tolerance`` fields all read them from here, so that one derivation bounds all three.

Three kinds of function, each derived next to its code from how torch computes the loss (its
CPU kernels compute each operation in float32 from the dtype and round the result back, the
composite losses of torch/nn/functional.py alike):

* ``ROUNDED[loss](args, kwargs)``: per term (an element, or a row of a row loss), the magnitudes
  of the results of the operations rounded to the dtype while computing it, so that ``eps/2``
  times their sum bounds the term's error. Where a count is uncertain it is counted high (a
  looser bound, never a missed rounding).
* ``value_magnitude(loss)(*args, **kwargs)``: a :class:`~lossref.tolerance.Magnitude` of the
  call's value, its terms' roundings (``rounded``) and the sums across them (``accumulated``).
* ``gradient_magnitude(loss)(grad_output, *args, **kwargs)``: one Magnitude per array parameter
  of the loss (in signature order; None where the O(1) model stays).

:data:`MODELLED` lists the losses that have them; every other loss keeps ``scale = 1``, terms of
O(1) rounded in the dtype (``lossref.tolerance`` says where and why).
"""

from __future__ import annotations

import inspect

import numpy as np

import lossref
from lossref._common import array_parameters, log_softmax, reduce, sum_to_shape, unreduce
from lossref.classification import (_class_axis, _is_probability_target, _linear_ignore_index, _linear_logits,
                                    _smoothing, _target_weights)
from lossref.classification import _index_target as _checked_index_target
from lossref.margin import _soft_multilabel_args
from lossref.tolerance import Magnitude

__all__ = ["MODELLED", "ROUNDED", "terms", "value_magnitude", "gradient_magnitude"]


# --- per-term rounding magnitudes (eps/2 each) -------------------------------------------------

def terms(loss, args, kwargs):
    """|the loss's unreduced terms| (an element, or a row of a row loss)."""
    return np.abs(getattr(lossref, loss)(*args, **dict(kwargs, reduction="none")))


def _l1(args, kwargs):
    # (x - y) rounded once; abs is exact.
    return terms("l1_loss", args, kwargs)


def _mse(args, kwargs):
    # d = x - y rounded (its relative error doubles in d^2), d * d rounded: 2|t| + |t|.
    return 3 * terms("mse_loss", args, kwargs)


def _smooth(args, kwargs, name, knob):
    x, y = args[:2]
    d = np.abs(np.asarray(x) - np.asarray(y))
    t = terms(name, args, kwargs)
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
    return 4 * (np.abs((1 - y) * x) + scale * (m + soft)) + terms("binary_cross_entropy_with_logits", args, kwargs)


def _kl(args, kwargs):
    x, y = (np.asarray(a) for a in args[:2])
    if kwargs.get("log_target"):
        # exp(y), y - x, their product: each relative: 3|t|.
        return 3 * terms("kl_div", args, kwargs)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, np.abs(y * np.log(np.where(y > 0, y, 1.0))), 0.0)
    # log y (or xlogy), y * x, the subtraction (and a product): 2|y log y| + |y x| + 2|t|.
    return 2 * ylogy + np.abs(y * x) + 2 * terms("kl_div", args, kwargs)


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
    return parts + terms("poisson_nll_loss", args, kwargs)


def _gaussian(args, kwargs):
    x, y, v = (np.asarray(a) for a in args[:3])
    if v.ndim == x.ndim - 1:     # torch unsqueezes a var of one dimension less
        v = v[..., None]
    v = np.maximum(v, kwargs.get("eps", 1e-6))
    q = (x - y) ** 2 / v
    # log v; d (2q in d^2), d^2, / v; the sum; * 0.5: 0.5 (|log v| + 4q) + 2|t| (full: + log(2 pi)/2, rounded).
    return 0.5 * (np.abs(np.log(v)) + 4 * q) + 2 * terms("gaussian_nll_loss", args, kwargs) + (
        np.log(2 * np.pi) if kwargs.get("full") else 0.0)


def _soft_margin(args, kwargs):
    x, y = (np.asarray(a) for a in args[:2])
    e = np.exp(-y * x)
    # -x * y exact (y = ±1); exp(...) rounded: e/(1+e) in log1p; log1p rounded: |t|.
    return e / (1 + e) + terms("soft_margin_loss", args, kwargs)


def _hinge(args, kwargs):
    # margin - x rounded where y = -1 (clamp and the where-sum are exact); x itself where y = 1.
    return terms("hinge_embedding_loss", args, kwargs)


def _ranking(args, kwargs):
    x1, x2 = (np.asarray(a) for a in args[:2])
    # x1 - x2, then + margin (the clamp is exact).
    return np.abs(x1 - x2) + terms("margin_ranking_loss", args, kwargs)


def _multilabel_soft_parts(input, target, weight=None):
    """multilabel_soft_margin_loss per element (the broadcast shape): its unweighted term ``t``, the
    log-sigmoids, and the term's roundings (``per_element``, before the weight)."""
    _, _, _, (x, y, w) = _soft_multilabel_args(input, target, weight)
    with np.errstate(all="ignore"):
        plus, minus = -np.logaddexp(0, -x), -np.logaddexp(0, x)     # log_sigmoid(x), log_sigmoid(-x)
        t = -(y * plus + (1 - y) * minus)
        # torch's composite: log_sigmoid twice, the two products, their sum (negated exactly):
        # |ls+| + |ls-| + |y ls+| + |(1-y) ls-| + |t|.
        per_element = np.abs(plus) + np.abs(minus) + np.abs(y * plus) + np.abs((1 - y) * minus) + np.abs(t)
    return x, y, w, plus, minus, t, per_element


def _multilabel_soft_rows(input, target, weight=None):
    """Per row: the roundings (``rounded``) and the class sum's partial sums (``accumulated``, in
    units of the accumulation type's eps) of the row's loss ``Σ_c w_c t_c / C``. The class axis is
    the input's last, ``input.ndim - 1`` of the broadcast terms (a weight may add leading axes)."""
    x, y, w, _, _, t, per_element = _multilabel_soft_parts(input, target, weight)
    axis, classes = np.ndim(input) - 1, max(np.shape(input)[-1], 1)
    wa = 1.0 if w is None else np.abs(w)
    with np.errstate(all="ignore"):
        weighted = wa * np.abs(t)
        # times the weight: each term's roundings scale, and the product rounds once more (|w t|);
        # the row's sum over C (rounded once) and the division by C (once more): 2 |row|.
        elements = wa * per_element + (0.0 if w is None else weighted)
        row = np.abs(np.sum((1.0 if w is None else w) * t, axis=axis)) / classes
        rounded = elements.sum(axis=axis) / classes + 2 * row
        accumulated = np.log2(max(classes, 2)) * weighted.sum(axis=axis) / classes
    return rounded, accumulated


def _multilabel_soft(args, kwargs):
    return _multilabel_soft_rows(*args[:2], kwargs.get("weight"))[0]


def _triplet_factors(p):
    """For the p-norm of D differences: (relative roundings of the norm, counted high; the factor
    on the float32 sum's ``log2 D`` partial sums; the factor (p - 1) on both in the gradient
    ``sign(x) |x|^(p-1) / d^(p-1)``), or None where the O(1) model stays: p < 1, where
    ``(Σ|x|^p)^(1/p)`` multiplies the sum's relative error by 1/p unboundedly as p -> 0 and
    p <= 0 is a count or a harmonic-like mean."""
    if np.isinf(p) and p > 0:
        return 2.0, 0.0, 1.0     # max |x_i|: the difference and + eps, exact comparisons
    if p < 1:
        return None
    # each difference and + eps (relative: 2), |x|^p (p times that, and its own: 1), the sum's
    # rounding, ^(1/p) (1/p of the sum's, and its own): 2 + 1/p (2p + 1) + 1, per eps/2, counted high
    return 2.0 + (2 * p + 1) / p + 1.0, 1.0 / p, max(1.0, abs(p - 1.0))


def _triplet_parts(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean"):
    from lossref.embedding import _Distance, _triplet_inputs
    a, pos, neg, margin = _triplet_inputs(anchor, positive, negative, margin, reduction)
    a, pos, neg = np.broadcast_arrays(a, pos, neg)   # per entry of the broadcast: no sum before |.|
    names = ("anchor", "positive"), ("anchor", "negative"), ("positive", "negative")
    distances = [_Distance(u, v, float(p), float(eps), n) for (u, v), n in zip(((a, pos), (a, neg), (pos, neg)), names)]
    return a, pos, neg, margin, distances if swap else distances[:2]


def _triplet_rows(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, *, reduction="mean"):
    """Per row (the loss's shape): roundings and the norms' partial sums of ``max(0, margin + d_ap - d_-)``."""
    factors = _triplet_factors(float(p))
    a, _, _, margin, distances = _triplet_parts(anchor, positive, negative, margin, p, eps, swap, reduction)
    values = [d.value for d in distances]
    loss = np.abs(lossref.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction="none"))
    if factors is None:
        return np.ones(np.shape(loss)), np.zeros(np.shape(loss))
    relative, depth_factor, _ = factors
    depth = np.log2(max(a.shape[-1] if a.ndim else 1, 2))
    with np.errstate(all="ignore"):
        norms = sum(values)
        # each distance's roundings; margin + d_ap and - d_- rounded (|margin + d_ap|, |loss|)
        rounded = relative * norms + np.abs(margin + values[0]) + loss
        accumulated = depth * depth_factor * norms
    return rounded, accumulated


def _triplet(args, kwargs):
    return _triplet_rows(*args, **kwargs)[0]


def _cosine_rows(input1, input2, target, margin=0, *, reduction="mean"):
    """Per row: the roundings of cos and of the loss, the sums' partial sums, and the parts the
    gradient needs (``_cosine_parts`` of the reference, and ``Σ |x1 x2| / den``)."""
    from lossref.embedding import _cosine_parts
    x1, x2, t, margin, mag1, mag2, denom, cos = _cosine_parts(input1, input2, target, margin, reduction)
    with np.errstate(all="ignore"):
        products = np.sum(np.abs(x1 * x2), axis=-1) / denom
        # x1 x2 (each product relative) and their sum: |Σ x1 x2| / den; the squares and their sums
        # (1 + 1 each), their product, sqrt and the division: 6 |cos| counted high.
        cos_rounded = products + 6 * np.abs(cos)
        depth = np.log2(max(np.shape(x1)[-1], 2))
        cos_accumulated = depth * (products + 2 * np.abs(cos))    # the three float32 sums over D
        counted = (t == 1) | (t == -1)
        loss = np.abs(lossref.cosine_embedding_loss(input1, input2, target, margin, reduction="none"))
        # 1 - cos, or cos - margin (the clamp and the where are exact): one more rounding, |loss|
        rounded = np.where(counted, cos_rounded + loss, 0.0)
        accumulated = np.where(counted, cos_accumulated, 0.0)
    return rounded, accumulated, (x1, x2, t, margin, mag1, mag2, denom, cos, products, cos_rounded, depth)


def _cosine(args, kwargs):
    return _cosine_rows(*args, **kwargs)[0]


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


# --- the element-wise losses' value and gradient magnitudes --------------------------------------
#
# The same rounding counts as the accumulation tier's cases (the ``rounded`` functions above), on
# any call: the suite's small samples and every option of their grids, and the fixture files.

#: loss -> its per-term rounding function (above).
ROUNDED = {
    "l1_loss": _l1, "mse_loss": _mse,
    "smooth_l1_loss": lambda a, k: _smooth(a, k, "smooth_l1_loss", "beta"),
    "huber_loss": lambda a, k: _smooth(a, k, "huber_loss", "delta"),
    "binary_cross_entropy": _bce, "binary_cross_entropy_with_logits": _bce_logits,
    "soft_margin_loss": _soft_margin, "margin_ranking_loss": _ranking, "kl_div": _kl,
    "poisson_nll_loss": _poisson, "gaussian_nll_loss": _gaussian, "hinge_embedding_loss": _hinge,
    # row losses: one magnitude per row
    "multilabel_soft_margin_loss": _multilabel_soft, "triplet_margin_loss": _triplet,
    "cosine_embedding_loss": _cosine, "nll_loss": _nll_rows, "cross_entropy": _ce_rows,
}
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


def _elementwise_value(loss):
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


def _elementwise_gradient(loss):
    """``gradient_magnitude`` of an element-wise loss's record: entry i of d loss / d p is
    ``g_i w_i / count`` times one term's derivative, so its magnitude is ``|g_i| |w_i| / count``
    times the term's |derivative| plus the magnitude of the terms that derivative is built from
    (:data:`DERIVATIVE_TERMS`); an argument broadcast into the terms' shape sums its entries'
    magnitudes over the broadcast axes (``accumulated``: ``log2`` of that count partial sums). The
    weight's gradient is the term itself (its ``rounded`` roundings), less the mean where the mean
    divides by the weights' sum. Relative to ``g / count``: a 'mean' gradient entry of 1e-3 is held
    to 16 eps of 1e-3, not of 1."""
    def magnitude(grad_output, *args, **kwargs):
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
                target_shape = np.shape(value)
                if name == "var" and short:     # torch unsqueezed it: its trailing axis is summed too
                    m = _summed_to(per, target_shape + (1,))
                    out.append(Magnitude(rounded=m.rounded.reshape(target_shape), accumulated=np.reshape(
                        m.accumulated, target_shape) if np.ndim(m.accumulated) else m.accumulated))
                else:
                    out.append(_summed_to(per, target_shape))
            return tuple(out)
    return magnitude


def _array_names(loss):
    return array_parameters(getattr(lossref, loss))


# --- cross-entropy, nll_loss and linear_cross_entropy ---------------------------------------------

def _softmax_terms(x, target, weight, ignore_index, reduction, label_smoothing, logit_error=None):
    """What the magnitudes of cross-entropy's value and input gradient are made of.

    Per position (class axis kept): ``q`` the weights of the log-softmax entries in the
    loss (``(1-ε) w[y] onehot(y) + ε/C w`` for class indices, ``w ⊙ p'`` for
    probabilities), ``den`` the reduction's denominator, ``s = softmax(x)``, ``lsm`` its
    log, and ``E`` the error of each exponent ``lsm_c = x_c - lse`` in units of the
    accumulation type's eps: the roundings of ``lse`` and of the subtraction (``|lse| +
    |lsm_c|``), the sum of C exponentials (``log2 C``) and, for logits that are themselves
    computed (linear_cross_entropy), their error ``logit_error`` and its weighted share
    in ``lse``; ``stored_error``, the same for the computed logits' rounding to the dtype
    (``|x_c|`` and its share; 0 for given logits), in units of the dtype's eps."""
    x = np.asarray(x, dtype=np.float64)
    axis = _class_axis(x)
    classes = x.shape[axis]
    eps = _smoothing(label_smoothing)
    w_c = (np.ones(classes) if weight is None else np.asarray(weight, dtype=np.float64)).reshape(
        (classes,) + (1,) * (x.ndim - axis - 1))
    with np.errstate(invalid="ignore", divide="ignore"):   # nan and inf rows stay nan: the comparison masks them
        lsm = log_softmax(x, axis)
        s = np.exp(lsm)
        if _is_probability_target(x, target):
            q = w_c * ((1.0 - eps) * np.asarray(target, dtype=np.float64) + eps / classes)
            kept, den = np.ones(x.sum(axis=axis).shape, dtype=bool), (x.size // classes if classes else 0)
        else:
            t = _checked_index_target(target, x, ignore_index)
            wt, kept, safe = _target_weights(t, None if weight is None else np.asarray(weight, np.float64), classes,
                                             ignore_index)
            onehot = np.zeros_like(x)
            if classes:
                np.put_along_axis(onehot, np.expand_dims(safe, axis), 1.0, axis)
            q = np.expand_dims(kept, axis) * ((1.0 - eps) * np.expand_dims(wt, axis) * onehot + (eps / classes) * w_c)
            den = np.sum(wt)
        lse = np.abs(x - lsm)
        exponent_error = lse + np.abs(lsm) + np.log2(max(classes, 2))
        stored_error = 0.0
        if logit_error is not None:   # each exponent sees its logit's error and lse's weighted share of all
            exponent_error = exponent_error + logit_error + np.sum(s * logit_error, axis=axis, keepdims=True)
            stored_error = np.abs(x) + np.sum(s * np.abs(x), axis=axis, keepdims=True)
    return axis, kept, den, q, s, lsm, exponent_error, stored_error


def _cross_entropy_value_magnitude(input, target, weight=None, *, ignore_index=-100, reduction="mean",
                                   label_smoothing=0.0, logit_error=None):
    r"""Magnitudes of the terms of cross-entropy's value (``lossref.tolerance``).

    The loss of a position is ``-Σ_c q_c lsm_c`` (see :func:`_softmax_terms`): each
    ``lsm_c`` may be rounded once in the dtype (``rounded = Σ_c q_c |lsm_c|``, which is
    the loss itself: relative), and each carries its exponent's error, taken in the
    accumulation type (``accumulated = Σ_c q_c E_c``): a loss of 1e-3 at a softmax
    peaked at 0.999 is ``lse - x_y`` with both terms ~20, and its error is theirs."""
    axis, kept, den, q, s, lsm, exponent_error, stored_error = _softmax_terms(
        input, target, weight, ignore_index, reduction, label_smoothing, logit_error)
    with np.errstate(invalid="ignore"):
        rounded = np.sum(q * (np.abs(lsm) + stored_error), axis=axis)
        accumulated = np.sum(q * exponent_error, axis=axis)
    return Magnitude(rounded=reduce(rounded, reduction, den), accumulated=reduce(accumulated, reduction, den))


def _cross_entropy_input_magnitude(grad_output, input, target, weight=None, *, ignore_index=-100,
                                   reduction="mean", label_smoothing=0.0, logit_error=None):
    r"""Magnitudes of the terms of d loss / d input (``lossref.tolerance``, "Entries far below 1").

    With ``gl = g q`` the gradient reaching the log-softmax (``g`` the upstream value over
    the mean's denominator), entry ``i`` is ``Σ_j gl_j (δ_ij - s_i)``. Each ``gl_j`` is one
    rounding in the dtype, which enters entry ``i`` times ``|δ_ij - s_i|``: ``rounded =
    |gl_i| (1 - s_i) + s_i Σ_{j≠i} |gl_j|`` (without smoothing exactly ``|expected|``: a
    relative error). A log-softmax stored in the dtype (torch's half types) adds
    ``|lsm_i| / 2`` roundings to ``s_i``, relative: 8 to 10 at 32k to 262k classes, inside
    ULPS, so not added (adding it would let a bfloat16 entry be 100 % wrong; torch's worst
    there is 11 eps). Computed logits (linear_cross_entropy) add their own rounding,
    ``s_i stored_error_i Σ_j |gl_j|``. The differences ``δ_ij - s_i`` are taken in the
    accumulation type, and ``s_i`` carries its exponent's error ``E_i``: ``accumulated =
    |gl_i| + s_i E_i Σ_j |gl_j|``. Target (probabilities) as in the value; weight keeps
    the O(1) model.
    """
    axis, kept, den, q, s, lsm, exponent_error, stored_error = _softmax_terms(
        input, target, weight, ignore_index, reduction, label_smoothing, logit_error)
    g = np.expand_dims(np.where(kept, unreduce(np.abs(grad_output), reduction, kept.shape, denominator=den), 0.0),
                       axis)
    gl = g * q
    total = np.sum(gl, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):
        rounded = gl * (1.0 - s) + s * (total - gl) + s * stored_error * total
        accumulated = gl + s * exponent_error * total
    target_magnitude = None
    if _is_probability_target(np.asarray(input), target):
        # d loss / d p = -g (1-ε) w lsm: one product, whose lsm carries its exponent's error.
        classes = np.shape(input)[axis]
        w_c = (np.ones(classes) if weight is None else np.asarray(weight, dtype=np.float64)).reshape(
            (classes,) + (1,) * (np.ndim(input) - axis - 1))
        factor = g * (1.0 - _smoothing(label_smoothing)) * w_c
        with np.errstate(invalid="ignore"):
            target_magnitude = Magnitude(rounded=factor * (np.abs(lsm) + stored_error),
                                         accumulated=factor * exponent_error)
    return Magnitude(rounded=rounded, accumulated=accumulated), target_magnitude, None


def _linear_terms(input, linear_weight, linear_bias, target, ignore_index):
    """Logits (float64), the magnitude of their terms ``|x| |W|^T + |b|`` (the error of
    computing them, in the accumulation type) and the ignore_index cross-entropy sees."""
    x, w, logits = _linear_logits(input, linear_weight, linear_bias)
    logit_error = np.tensordot(np.abs(x), np.abs(w), axes=([-1], [-1]))
    if linear_bias is not None:
        logit_error = logit_error + np.abs(np.asarray(linear_bias, dtype=np.float64))
    return x, w, logits, logit_error, _linear_ignore_index(logits, target, ignore_index)


def _linear_value_magnitude(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                            ignore_index=None, label_smoothing=0.0):
    """cross_entropy's value magnitude on the computed logits, whose own error joins each exponent's."""
    _, _, logits, logit_error, ignore_index = _linear_terms(input, linear_weight, linear_bias, target, ignore_index)
    return _cross_entropy_value_magnitude(logits, target, weight, ignore_index=ignore_index, reduction=reduction,
                                          label_smoothing=label_smoothing, logit_error=logit_error)


def _linear_gradient_magnitude(grad_output, input, linear_weight, target, *, linear_bias=None, weight=None,
                               reduction="mean", ignore_index=None, label_smoothing=0.0):
    """Through the projection: with ``G`` the logits' gradient and ``M`` its magnitudes,
    d/d input = G · W sums K terms ``|G| |W|``: ``rounded = (M.rounded + |G|) |W|`` (G is
    rounded in the dtype before the product), ``accumulated = M.accumulated |W| + sqrt(K)
    |G| |W|`` (the product's own sum); likewise d/d linear_weight with ``|input|``, and
    d/d linear_bias (``Σ_n G``) with ones over the batch. One entry per array parameter:
    (input, linear_weight, target, linear_bias, weight); the class weight keeps the O(1)
    model (None)."""
    x, w, logits, logit_error, ignore_index = _linear_terms(input, linear_weight, linear_bias, target, ignore_index)
    kwargs = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
    grad_logits = np.abs(lossref.cross_entropy_backward(grad_output, logits, target, weight, **kwargs)[0])
    logits_magnitude, target_magnitude, _ = _cross_entropy_input_magnitude(
        grad_output, logits, target, weight, logit_error=logit_error, **kwargs)
    class_axes, batch_axes = list(range(x.ndim - 1, logits.ndim)), list(range(x.ndim - 1))

    def through(other, axes):
        # The product's own sum of K terms: sqrt(K) roundings (the probabilistic bound of
        # Higham & Mary 2019; a stride-0 weight makes every term alike and reaches it).
        terms = int(np.prod([grad_logits.shape[a] for a in axes[0]]))
        own = np.tensordot(grad_logits, np.abs(other), axes=axes)
        return Magnitude(rounded=np.tensordot(logits_magnitude.rounded, np.abs(other), axes=axes) + own,
                         accumulated=np.tensordot(logits_magnitude.accumulated, np.abs(other), axes=axes)
                         + np.sqrt(max(terms, 1)) * own)

    bias = None if linear_bias is None else through(np.ones(x.shape[:-1]), (batch_axes, batch_axes))
    return (through(w, (class_axes, list(range(w.ndim - 1)))), through(x, (batch_axes, batch_axes)),
            target_magnitude, bias, None)


def _cross_entropy_magnitudes():
    return dict(value_magnitude=_cross_entropy_value_magnitude, gradient_magnitude=_cross_entropy_input_magnitude)


def _nll_input_magnitude(grad_output, *args, **kwargs):
    """nll_loss's input gradient is ``-g w[y] / D`` at the target and exactly 0 elsewhere:
    a product, no cancellation, so the whole error is relative (rounded = |gradient|)."""
    grad_input = lossref.nll_loss_backward(grad_output, *args, **kwargs)[0]
    return (Magnitude(rounded=np.abs(grad_input), accumulated=0.0), None, None)


# --- the row losses: multilabel_soft_margin_loss, cosine_embedding_loss, triplet_margin_loss --------

def _rows_reduced(rounded, accumulated, loss, reduction):
    """A row loss's value magnitude: the rows' own ('none'), or their sum (over the count for
    'mean'), whose float32 (or the dtype's) sum adds ``log2(rows)`` partial sums of ``Σ |row|``."""
    rounded, accumulated, loss = (np.asarray(v, dtype=np.float64) for v in (rounded, accumulated, loss))
    if reduction == "none":
        return Magnitude(rounded=_finite(rounded), accumulated=_finite(accumulated))
    count = max(loss.size, 1) if reduction == "mean" else 1
    depth = np.log2(max(loss.size, 2))
    return Magnitude(rounded=_finite(rounded.sum() / count),
                     accumulated=_finite((accumulated.sum() + depth * np.abs(loss).sum()) / count))


def _summed_to(per, shape):
    """Per-entry magnitudes of the broadcast shape summed back to an argument's shape: a sum of
    ``folded`` terms adds ``log2(folded)`` partial sums of the summed magnitudes."""
    summed = sum_to_shape(_finite(per), tuple(shape))
    folded = max(np.size(per) // max(summed.size, 1), 1)
    return Magnitude(rounded=summed, accumulated=summed * np.log2(folded) if folded > 1 else 0.0)


def _multilabel_soft_value(input, target, weight=None, *, reduction="mean"):
    rounded, accumulated = _multilabel_soft_rows(input, target, weight)
    loss = lossref.multilabel_soft_margin_loss(input, target, weight, reduction="none")
    return _rows_reduced(rounded, accumulated, loss, reduction)


def _multilabel_soft_gradient(grad_output, input, target, weight=None, *, reduction="mean"):
    """Entry c of a row: ``g w_c / (C D)`` times ``σ(x) - y`` (input), ``-x`` (target) or ``t``
    (weight). torch's composite differentiates ``-(y ls+ + (1-y) ls-)``: the input's gradient is
    ``-y σ(-x) + (1-y) σ(x)``, two parts that cancel (each rounded twice), the target's
    ``-(ls+ - ls-)`` (each log-sigmoid rounded, then the difference); the weight's gradient is the
    term, with its roundings, summed over the rows it is broadcast over."""
    x, y, w, plus, minus, t, per_element = _multilabel_soft_parts(input, target, weight)
    axis, classes = np.ndim(input) - 1, max(np.shape(input)[-1], 1)
    rows = x.shape[:axis] + x.shape[axis + 1:]
    count = max(int(np.prod(rows)), 1) if reduction == "mean" else 1
    g_row = np.expand_dims(np.broadcast_to(np.abs(np.asarray(grad_output, dtype=np.float64)), rows) / count, axis)
    with np.errstate(all="ignore"):
        g_entry = g_row / classes * (1.0 if w is None else np.abs(w))
        s_plus, s_minus = np.exp(plus), np.exp(minus)         # σ(x), σ(-x)
        d_input = g_entry * (2 * (np.abs(y) * s_minus + np.abs(1 - y) * s_plus) + np.abs((1 - y) * s_plus - y * s_minus))
        d_target = g_entry * (2 * (np.abs(plus) + np.abs(minus)) + np.abs(x))
        d_weight = g_row / classes * (per_element + np.abs(t))
    out = []
    for original, per in ((input, d_input), (target, d_target), (weight, d_weight)):
        floating = original is not None and np.asarray(original).dtype.kind == "f"
        out.append(_summed_to(per, np.shape(original)) if floating else None)
    return tuple(out)


def _cosine_value(input1, input2, target, margin=0, *, reduction="mean"):
    rounded, accumulated, _ = _cosine_rows(input1, input2, target, margin, reduction=reduction)
    loss = lossref.cosine_embedding_loss(input1, input2, target, margin, reduction="none")
    return _rows_reduced(rounded, accumulated, loss, reduction)


def _cosine_gradient(grad_output, input1, input2, target, margin=0, *, reduction="mean"):
    """``d cos / d x1 = x2 / den - cos x1 / A`` (A = Σ x1² + 1e-12), times ``∓g`` per row. torch's
    composite reaches the second part through prod_sum / den², den = sqrt(A B) and 2 x1: about
    seven relative roundings (8 |cos| |x1| / A, counted high), the first through g / den and x2
    (3 |x2| / den); and the cos it uses carries its own rounding (``Σ |x1 x2| / den``, the sum's
    terms), times |x1| / A. The three sums over D add ``log2 D`` partial sums of each."""
    rounded_rows, _, parts = _cosine_rows(input1, input2, target, margin, reduction=reduction)
    x1, x2, t, margin, mag1, mag2, denom, cos, products, cos_rounded, depth = parts
    shape = np.broadcast_shapes(np.shape(t), np.shape(cos))   # the target broadcasts against the cosines
    active = (t == 1) | ((t == -1) & (cos - margin > 0))
    g = np.abs(np.asarray(grad_output, dtype=np.float64))
    count = max(int(np.prod(shape)), 1) if reduction == "mean" else 1
    with np.errstate(all="ignore"):
        dcos = sum_to_shape(np.where(active, np.broadcast_to(g, shape) / count, 0.0), np.shape(cos))[..., None]
        c, den, prod = np.abs(cos)[..., None], denom[..., None], products[..., None]
        out = []
        for original, own, other, mag in ((input1, x1, x2, mag1), (input2, x2, x1, mag2)):
            if np.asarray(original).dtype.kind != "f":
                out.append(None)
                continue
            a, b = np.broadcast_arrays(np.abs(own), np.abs(other))
            m = mag[..., None]
            rounded = dcos * (3 * b / den + 8 * c * a / m + prod * a / m)
            accumulated = dcos * depth * (b / den + 2 * c * a / m + prod * a / m)
            r, acc = _summed_to(rounded, np.shape(original)), _summed_to(accumulated, np.shape(original))
            out.append(Magnitude(rounded=r.rounded, accumulated=np.asarray(acc.rounded) + np.asarray(r.accumulated)))
    return (*out, None)


def _triplet_value(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, *, reduction="mean"):
    rounded, accumulated = _triplet_rows(anchor, positive, negative, margin, p, eps, swap, reduction=reduction)
    loss = lossref.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction="none")
    return _rows_reduced(rounded, accumulated, loss, reduction)


def _triplet_gradient(grad_output, anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, *,
                      reduction="mean"):
    """Each distance ``d(u, v)`` passes ``h N(x)`` to u and ``-h N(x)`` to v, with ``N`` the norm's
    gradient (``x / d`` at p = 2, ``sign(x) |x|^(p-1) / d^(p-1)``); the anchor gets two, which
    cancel, so their magnitudes add. Each carries the product's roundings (3) and ``(p - 1)`` times
    the relative errors of ``|x|`` and of ``d`` (:func:`_triplet_factors`); the float32 sum over D
    in ``d``, ``(p - 1) / p log2 D`` partial sums."""
    from lossref.embedding import _triplet_grads, _triplet_reduce
    factors = _triplet_factors(float(p))
    if factors is None:
        return (None,) * 3
    relative, depth_factor, power = factors
    a, pos, neg, margin, distances = _triplet_parts(anchor, positive, negative, margin, p, eps, swap, reduction)
    z, _ = _triplet_reduce(*(d.value for d in distances[:2]), distances[2].value if swap else None, margin, reduction)
    hs = _triplet_grads(np.abs(np.asarray(grad_output, dtype=np.float64)), z, distances[1].value,
                        distances[2].value if swap else None, reduction)
    depth = np.log2(max(a.shape[-1] if a.ndim else 1, 2))
    per = {"anchor": 0.0, "positive": 0.0, "negative": 0.0}
    ends = (("anchor", "positive"), ("anchor", "negative"), ("positive", "negative"))
    with np.errstate(all="ignore"):
        for distance, h, (u, v) in zip(distances, hs, ends):
            if h is None:
                continue
            entry = np.abs(distance.backward(np.abs(h))[0])      # |h N(x)|, the broadcast shape
            per[u] = per[u] + entry
            per[v] = per[v] + entry
    out = []
    for original, name in ((anchor, "anchor"), (positive, "positive"), (negative, "negative")):
        if np.asarray(original).dtype.kind != "f" or float(p) == 0:
            out.append(None)
            continue
        entry = np.broadcast_to(per[name], a.shape)
        rounded = _summed_to(entry * (3 + power * relative), np.shape(original))
        accumulated = _summed_to(entry * power * depth_factor * depth, np.shape(original))
        out.append(Magnitude(rounded=rounded.rounded,
                             accumulated=np.asarray(accumulated.rounded) + np.asarray(rounded.accumulated)))
    return tuple(out)


# --- the native margin kernels: multi_margin_loss, multilabel_margin_loss ----------------------
#
# Derived from aten/src/ATen/native/LossMultiMargin.cpp and LossMultiLabelMargin.cpp (CPU: float32
# and float64 only, every operation in the dtype, the 'mean'/'sum' value summed over rows in
# acc_type, double for float) and cuda/MultiMarginLoss.cu, cuda/MultiLabelMarginCriterion.cu (the
# half types too). The value is a sum of margins of logits, z = margin - x_y + x_i, whose rounding
# is absolute at the logits' size; the input gradient is a count of active terms times
# ``g w[y] / (N C)`` (p = 1, and multilabel) or a sum of ``2 g w[y] z / (N C)`` (p = 2): products,
# relative to the entry, which the O(1) model (atol 16 eps) cannot see below 16 eps.
# Sums here run in order (CPU: one loop; CUDA: a loop per thread, then thread 0 over the 128
# buffers), not pairwise: ``k - 1`` roundings of partial sums at most the total (Higham's bound for
# recursive summation), all of one sign, counted instead of ``log2 k``.

def _multi_margin_parts(input, target, p, margin, weight):
    """Per (N, C) entry: ``z = max(0, margin - x_y + x_i)`` (0 at the target), whether it is
    active (``z > 0`` strictly, as the kernels), and its absolute error in units of eps: the
    kernels take ``margin`` in the dtype (``margin.to<scalar_t>()``: |margin|, an input rounding
    the float64 reference does not see) and round ``margin - x_y`` and ``+ x_i`` in the dtype
    (|margin - x_y| + z). Per row: ``|w[y]|``."""
    from lossref.margin import _multi_margin_args, _multi_margin_hinge
    x, t, x2, t1, n, classes, w = _multi_margin_args(input, target, p, weight)
    z = _multi_margin_hinge(x2, t1, n, margin)
    active = z > 0
    with np.errstate(all="ignore"):
        difference = np.abs(float(margin) - x2[np.arange(n), t1])[:, None]
        z_error = np.where(active, abs(float(margin)) + difference + z, 0.0)
    return x, t, t1, n, classes, z, active, z_error, np.abs(np.asarray(w, dtype=np.float64)[t1])


def _multi_margin_value(input, target, p=1, margin=1.0, weight=None, *, reduction="mean"):
    """Row n: ``w[y] Σ_i h_i / C`` with ``h = z`` or ``z²``. Each term carries z's error (p = 2:
    doubled relative, ``2 z z_error``, and the square's rounding, ``z²``), the product with
    ``w[y]`` (one rounding, |w h|, where a weight is given), the row's sum (``k - 1`` partial
    sums of the row: CPU in the dtype, CUDA in float32) and the division by C (|row|; CUDA
    casts a reduced row to the dtype before summing the rows: another |row|). The rows' sum
    (over N for 'mean', as the kernels divide: by N, not the weights) is ``_rows_reduced``'s."""
    x, t, t1, n, classes, z, active, z_error, wy = _multi_margin_parts(input, target, p, margin, weight)
    with np.errstate(all="ignore"):
        h = z if p == 1 else z * z
        term_error = z_error if p == 1 else 2 * z * z_error + h
        row = wy * h.sum(axis=1) / classes                      # |the row's loss|: its terms are one sign
        weighted = row if weight is not None else 0.0
        rounded = wy * term_error.sum(axis=1) / classes + weighted + 2 * row
        accumulated = np.maximum(active.sum(axis=1) - 1, 0) * row
    loss = lossref.multi_margin_loss(input, target, p, margin, weight, reduction="none")
    shape = np.shape(loss)
    return _rows_reduced(np.reshape(rounded, shape), np.reshape(accumulated, shape), loss, reduction)


def _multi_margin_gradient(grad_output, input, target, p=1, margin=1.0, weight=None, *, reduction="mean"):
    """Entry i != y of row n, active: ``h_i gout`` with ``h = g w[y]`` (p = 1) or ``2 g z_i w[y]``
    (p = 2), ``g = 1 / (N C)`` for 'mean' and ``1 / C`` otherwise (CPU: ``1. / (nframe * dim)``
    rounded to the dtype; CUDA: in float32): p = 1, ``g``, ``* w[y]`` and ``* gout`` are three
    roundings of the entry; p = 2 adds ``* z`` (four) and z's absolute error times ``2 g w[y]
    gout``. Inactive entries are exactly 0. The target's entry ``-Σ_i h_i gout`` carries its
    terms' roundings, the sum's ``k - 1`` partial sums (CPU in the dtype, CUDA in float32 over
    terms already rounded to the dtype) and CUDA's cast of the sum to the dtype (|entry|).
    One entry per array parameter (input, target, weight): torch gives the target and the
    weight no gradient."""
    x, t, t1, n, classes, z, active, z_error, wy = _multi_margin_parts(input, target, p, margin, weight)
    rows = np.arange(n)
    with np.errstate(all="ignore"):
        g = unreduce(np.abs(np.asarray(grad_output, dtype=np.float64)), reduction, (n,) if t.ndim else ()).reshape(n)
        c = (g * wy / classes)[:, None]                          # |g w[y]| / C (/ N for 'mean')
        if p == 1:
            entry = np.where(active, c, 0.0)
            own = 3 * entry
        else:
            entry = 2 * c * z
            own = 4 * entry + 2 * c * z_error
        total = entry.sum(axis=1)                                # |the target's entry|: one sign
        rounded, accumulated = own, np.zeros(own.shape)
        rounded[rows, t1] = own.sum(axis=1) + total
        accumulated[rows, t1] = np.maximum(active.sum(axis=1) - 1, 0) * total
    return (Magnitude(rounded=_finite(rounded).reshape(x.shape), accumulated=_finite(accumulated).reshape(x.shape)),
            None, None)


def _multilabel_margin_rows(input, target):
    """Per row: the roundings of ``Σ_{j, i} max(0, 1 - x_j + x_i) / C`` (each active pair's z:
    ``1 - x_j`` and ``+ x_i`` rounded in the dtype, |1 - x_j| + z; the sum over the pairs
    returned in the dtype, CPU, or cast after ``/ C``, CUDA, and ``/ C``: 2 |row|) and the sum's
    ``pairs - 1`` partial sums (CPU: acc_type, double for float; CUDA: float32)."""
    from lossref.margin import _multilabel_args, _multilabel_slots
    x, t, x2, t2, n, classes = _multilabel_args(input, target)
    a, others, _ = _multilabel_slots(x2, t2)          # a = 1 - x_j per target slot (-inf past the prefix)
    total, error, pairs = np.zeros(n), np.zeros(n), np.zeros(n)
    with np.errstate(all="ignore"):
        for k in range(a.shape[1]):
            z = others + a[:, k, None]
            active = z > 0                            # -inf and nan: no pair
            total += np.where(active, z, 0.0).sum(axis=1)
            error += np.where(active, np.abs(a[:, k, None]) + z, 0.0).sum(axis=1)
            pairs += active.sum(axis=1)
        row = total / classes
        return error / classes + 2 * row, np.maximum(pairs - 1, 0) * row


def _multilabel_margin_value(input, target, *, reduction="mean"):
    rounded, accumulated = _multilabel_margin_rows(input, target)
    loss = lossref.multilabel_margin_loss(input, target, reduction="none")
    shape = np.shape(loss)
    return _rows_reduced(np.reshape(rounded, shape), np.reshape(accumulated, shape), loss, reduction)


def _multilabel_margin_gradient(grad_output, input, target, *, reduction="mean"):
    """Entry c is ``±m_c g gout`` with ``m_c`` the active pairs it takes part in (a non-target
    class: one per active target slot, +; a target: one per active non-target per slot it holds,
    -) and ``g = 1 / (N C)`` ('mean') or ``1 / C`` rounded to the dtype. Both kernels add ``g``
    ``m_c`` times into the entry in the dtype (CPU: ``-= g`` and ``+= g``; CUDA: ``+= g`` for a
    non-target, and a target's per-slot float32 block sum cast to the dtype and added): ``g``,
    ``m_c - 1`` partial sums at most the entry, ``* gout``: ``(m_c + 1) |entry|`` (CUDA's target,
    ``slots + 2`` where a slot's cast rounds, is at most that, since a slot of one pair is exact);
    the target's block sums ``m_c - 1`` float32 partial sums. Entries (input, target)."""
    from lossref.margin import _multilabel_args
    x, t, _, _, n, classes = _multilabel_args(input, target)
    with np.errstate(all="ignore"):
        # the backward of 'sum' at gout 1 is m_c / C per entry, signed (- at a target)
        counts = np.rint(lossref.multilabel_margin_loss_backward(np.float64(1.0), input, target, reduction="sum")[0]
                         * classes).reshape(n, classes)
        g = unreduce(np.abs(np.asarray(grad_output, dtype=np.float64)), reduction, (n,) if t.ndim == 2 else ())
        m = np.abs(counts)
        entry = m * (np.reshape(g, n) / classes)[:, None]        # |the entry|: m_c |gout| / C (/ N for 'mean')
        rounded = (m + 1) * entry
        accumulated = np.where(counts < 0, np.maximum(m - 1, 0), 0.0) * entry
    return (Magnitude(rounded=_finite(rounded).reshape(x.shape), accumulated=_finite(accumulated).reshape(x.shape)),
            None)


# --- the table --------------------------------------------------------------------------------

_ELEMENTWISE = tuple(TERM_ARRAYS)

#: loss -> (value_magnitude, gradient_magnitude); either may be None (the O(1) model).
_MODELS = {
    **{loss: (_elementwise_value(loss), _elementwise_gradient(loss)) for loss in _ELEMENTWISE},
    "cross_entropy": (_cross_entropy_value_magnitude, _cross_entropy_input_magnitude),
    "nll_loss": (None, _nll_input_magnitude),
    "linear_cross_entropy": (_linear_value_magnitude, _linear_gradient_magnitude),
    "multilabel_soft_margin_loss": (_multilabel_soft_value, _multilabel_soft_gradient),
    "cosine_embedding_loss": (_cosine_value, _cosine_gradient),
    "triplet_margin_loss": (_triplet_value, _triplet_gradient),
    "multi_margin_loss": (_multi_margin_value, _multi_margin_gradient),
    "multilabel_margin_loss": (_multilabel_margin_value, _multilabel_margin_gradient),
}
#: The losses with a per-entry model of their value or their gradient.
MODELLED = tuple(_MODELS)


def value_magnitude(loss: str):
    """The function ``(*args, **kwargs) -> Magnitude`` of the loss's value, or None (O(1) model)."""
    return _MODELS.get(loss, (None, None))[0]


def gradient_magnitude(loss: str):
    """The function ``(grad_output, *args, **kwargs) -> tuple[Magnitude | None, ...]`` (one per array
    parameter of the loss), or None (O(1) model)."""
    return _MODELS.get(loss, (None, None))[1]
