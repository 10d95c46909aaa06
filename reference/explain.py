"""A worked example of any loss, step by step: ``python -m lossref explain <loss>``.

``walkthrough(loss, **options)`` takes an example (the article's tensors, "PyTorch中的Loss
Function", where it has them: the fixtures whose origin is "article"; a small clear example
otherwise), computes every intermediate of the formula in the reference's docstring with
NumPy (softmax, log-softmax, the entry picked for each sample, ...), then the reduction,
then the gradient and what it means. Its ``result`` and ``gradient`` are the reference's
own output (``lossref.<loss>`` and ``lossref.<loss>_backward``); the walk-through's own
arithmetic is its last step, and agrees with them (the tests check it for every loss).

``render(walk, torch_results)`` writes it as text of at most ``width`` columns, with
torch's value on each device beside the reference's where given.

NumPy only: this module never imports torch (``python -m lossref explain`` adds torch's
column).
"""

from __future__ import annotations

import inspect
import textwrap
import unicodedata
from dataclasses import dataclass, field

import numpy as np

import lossref
from lossref._common import REDUCTIONS, positional_parameters

__all__ = ["Step", "Walkthrough", "walkthrough", "render", "agrees", "options"]

ARTICLE = "PyTorch中的Loss Function"


@dataclass
class Step:
    """One intermediate of the formula: what it is, its value, what it means."""
    title: str
    value: object
    note: str = ""


@dataclass
class Walkthrough:
    """A loss computed step by step on an example call ``loss(*args, **kwargs)``."""
    loss: str
    args: tuple
    kwargs: dict
    steps: list
    result: np.ndarray
    gradient_steps: list
    gradient: np.ndarray | None
    #: where the example comes from (a fixture of the article, or "a small example")
    example: str = ""
    #: the names of ``args``, in the loss's positional order
    names: tuple = field(default_factory=tuple)
    #: the walk-through's own arithmetic for the result (its last step)
    computed: np.ndarray | None = None


# --------------------------------------------------------------------------- helpers


def _article(name: str):
    case = lossref.fixtures.load(name)
    assert case.origin == "article", name
    return case


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _log_sigmoid(x):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    return np.exp(_log_sigmoid(x))


def _reduce(steps, per, reduction, *, divisor=None, what="per-sample losses", why=""):
    """Append the reduction step; return the reduced value and the gradient's scale."""
    if reduction == "none":
        return per, 1.0
    if reduction == "sum":
        value = per.sum()
        steps.append(Step("reduction='sum'", value, f"the sum of the {what}"))
        return value, 1.0
    d = per.size if divisor is None else divisor
    value = per.sum() / d
    if divisor is None:
        why = why or f"their number, {per.size}"
    steps.append(Step(f"reduction={reduction!r}", value,
                      f"the sum of the {what}, {per.sum():.6g}, over {why or f'{d:.6g}'}"))
    return value, 1.0 / d


def _scale_note(reduction, scale):
    if reduction == "none":
        return "reduction='none': the gradient of the sum of the losses (grad_output = 1)"
    if reduction == "sum":
        return "reduction='sum': each loss counts once"
    return f"reduction={reduction!r}: times {scale:.6g}, the mean's factor"


def _weights(loss, name, value, length):
    """A per-class weight: a number (every class) or ``length`` numbers."""
    try:
        w = np.broadcast_to(np.asarray(value, dtype=np.float64), (length,)).copy()
    except (TypeError, ValueError):
        raise ValueError(f"{loss}: {name} must be a number or {length} numbers (one per class), "
                         f"got {value!r}") from None
    return w


# --------------------------------------------------------------------------- option checks


def _reduction(allowed=REDUCTIONS):
    def check(loss, name, value):
        if value not in allowed:
            raise ValueError(f"{loss}: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value
    return check


def _number(low=None, high=None, *, strict_low=False, integer=False, choices=None):
    def check(loss, name, value):
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        if ok and integer:
            ok = float(value).is_integer()
        if ok and choices is not None:
            ok = value in choices
        if ok and low is not None:
            ok = value > low if strict_low else value >= low
        if ok and high is not None:
            ok = value <= high
        if not ok:
            if choices is not None:
                expected = "one of " + ", ".join(map(str, choices))
            else:
                expected = "an integer" if integer else "a number"
                if low is not None:
                    expected += f" {'>' if strict_low else '>='} {low}"
                if high is not None:
                    expected += f" and <= {high}"
            raise ValueError(f"{loss}: {name} must be {expected}, got {value!r}")
        return int(value) if integer else float(value)
    return check


def _boolean(loss, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{loss}: {name} must be true or false, got {value!r}")
    return bool(value)


def _any(loss, name, value):   # checked where the example's shape is known
    return value


# --------------------------------------------------------------------------- the losses

def _cross_entropy_steps(loss, steps, gsteps, logits, target, o, *, after_grad=None):
    """The steps shared by cross_entropy and linear_cross_entropy, from the logits on."""
    n, c = logits.shape
    reduction, eps = o["reduction"], o["label_smoothing"]
    ignore = o["ignore_index"] if o["ignore_index"] is not None else -100
    w = np.ones(c) if o["weight"] is None else _weights(loss, "weight", o["weight"], c)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    softmax = e / e.sum(axis=1, keepdims=True)
    steps.append(Step("softmax", softmax,
                      "exp(x) / Σ_c exp(x_c) along each row: the predicted probabilities, "
                      "each row sums to 1"))
    lsm = shifted - np.log(e.sum(axis=1, keepdims=True))
    steps.append(Step("log-softmax", lsm,
                      "log(softmax) = x - logsumexp(x), computed from the logits (never the log "
                      "of a rounded probability)"))
    keep = target != ignore
    t = np.where(keep, target, 0)
    picked = lsm[np.arange(n), t]
    steps.append(Step("the target's entry", picked,
                      f"lsm[n, y_n] for y = {target.tolist()}: the log-probability of the right class"
                      + (f"; targets equal to ignore_index={ignore} are left out" if not keep.all() else "")))
    onehot = np.eye(c)[t]
    smoothed = (1 - eps) * onehot + eps / c
    if eps:
        steps.append(Step(f"smoothed target (label_smoothing={eps:g})", smoothed,
                          f"(1 - ε)·one_hot(y) + ε/C with ε = {eps:g}, C = {c}: the target "
                          "keeps 1 - ε + ε/C and every class gets ε/C"))
    # q[n, c]: what multiplies -lsm[n, c] (the docstring's (1-ε)·w[y_n] at y_n plus ε/C·w[c])
    q = ((1 - eps) * onehot * w[t][:, None] + eps / c * w) * keep[:, None]
    if o["weight"] is not None:
        steps.append(Step("weighted target", q,
                          f"weight = {w.tolist()}: (1 - ε)·w[y_n] at the target, ε/C·w[c] "
                          "elsewhere; the loss is -Σ_c of this times the log-softmax"))
    per = -(q * lsm).sum(axis=1)
    if eps or o["weight"] is not None:
        note = "ℓ_n = -Σ_c q[n, c]·lsm[n, c] with the target q above"
    else:
        note = "ℓ_n = -lsm[n, y_n]: minus the target's entry"
    steps.append(Step("per-sample losses", per, note))
    total_weight = float((w[t] * keep).sum())
    why = (f"the number of samples, {n}" if o["weight"] is None and keep.all()
           else f"the total weight of the targets not ignored, {total_weight:.6g}")
    value, scale = _reduce(steps, per, reduction, divisor=total_weight, why=why)
    grad = (softmax * q.sum(axis=1, keepdims=True) - q) * scale
    if eps or o["weight"] is not None:
        meaning = ("softmax·Σ_c q[n, c] - q: the softmax scaled by the target's total weight, "
                   "minus the (smoothed, weighted) target q")
    else:
        meaning = ("softmax - one_hot(y): the predicted probability of every class, minus 1 at "
                   "the right class; each row sums to 0")
    gsteps.append(Step("∂ℓ_n/∂logits", grad / scale, meaning))
    return value, grad, scale


def _cross_entropy(o):
    case = _article("cross_entropy/article")
    x, y = case.args
    steps = [Step("input", x, "the logits: 3 samples, 5 classes (the article's tensor)"),
             Step("target", y, "the right class of each sample")]
    gsteps = []
    value, grad, scale = _cross_entropy_steps("cross_entropy", steps, gsteps, _f(x), np.asarray(y), o)
    gsteps.append(Step("∂loss/∂input", grad, _scale_note(o["reduction"], scale)))
    return (x, y), value, steps, gsteps, case.name


def _linear_cross_entropy(o):
    x = np.array([[1.0, 0.5], [-0.5, 1.0], [0.2, -1.0]])
    weight = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0], [0.5, -1.0]])
    y = np.array([1, 3, 2])
    steps = [Step("input", x, "3 samples of 2 features"),
             Step("linear_weight", weight, "5 classes × 2 features: one row per class"),
             Step("target", y, "the right class of each sample"),
             Step("logits", x @ weight.T, "input @ linear_weight.T: then cross_entropy of these")]
    gsteps = []
    value, grad, scale = _cross_entropy_steps("linear_cross_entropy", steps, gsteps, x @ weight.T, y, o)
    gsteps.append(Step("∂loss/∂input", grad @ weight,
                       "∂loss/∂logits @ linear_weight (the chain rule through the projection); "
                       + _scale_note(o["reduction"], scale)))
    return (x, weight, y), value, steps, gsteps, "a small example"


def _nll_loss(o):
    case = _article("nll_loss/article_2d")
    x, y = case.args
    xf, c = _f(x), x.shape[1]
    w = np.ones(c) if o["weight"] is None else _weights("nll_loss", "weight", o["weight"], c)
    keep = y != o["ignore_index"]
    t = np.where(keep, y, 0)
    steps = [Step("input", x, "log-probabilities (1 image, 4 classes, 2×2 pixels): the class "
                              "axis is 1 (the article's 2-d example)"),
             Step("target", y, "the right class of each pixel")]
    picked = np.take_along_axis(xf, t[:, None], axis=1)[:, 0]
    steps.append(Step("the target's entry", picked, "input[n, y, i, j]: the log-probability of the "
                                                    "right class at each pixel"))
    wt = w[t] * keep
    if o["weight"] is not None or not keep.all():
        steps.append(Step("weight of each target", wt,
                          f"weight[y] (weight = {w.tolist()}), 0 where y = ignore_index"))
    per = -wt * picked
    steps.append(Step("per-pixel losses", per, "ℓ = -weight[y]·input[y]: minus the target's entry"))
    value, scale = _reduce(steps, per, o["reduction"], divisor=wt.sum(), what="per-pixel losses",
                           why=(f"the number of pixels, {per.size}" if o["weight"] is None and keep.all()
                                else f"the total weight of the targets not ignored, {wt.sum():.6g}"))
    onehot = (t[:, None] == np.arange(c).reshape((1, c) + (1,) * (x.ndim - 2)))
    grad = -(onehot * wt[:, None])
    gsteps = [Step("∂ℓ/∂input", grad, "-weight[y] at the target class, 0 elsewhere: only the "
                                      "picked entry moves the loss"),
              Step("∂loss/∂input", grad * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, case.name


def _binary_cross_entropy(o):
    case = _article("binary_cross_entropy/article")
    x, y = case.args
    xf, yf = _f(x), _f(y)
    w = 1.0 if o["weight"] is None else _weights("binary_cross_entropy", "weight", o["weight"], x.shape[-1])
    steps = [Step("input", x, "probabilities (the article's sigmoid of its logits)"),
             Step("target", y, "1 for the right class, 0 elsewhere")]
    log_x, log_1mx = np.maximum(np.log(xf), -100), np.maximum(np.log1p(-xf), -100)
    steps.append(Step("log x", log_x, "each log clamped at -100"))
    steps.append(Step("log(1 - x)", log_1mx, "each log clamped at -100"))
    per = w * ((yf - 1) * log_1mx - yf * log_x)
    steps.append(Step("elementwise losses", per, "-(y·log x + (1 - y)·log(1 - x))"
                      + (f", times weight = {np.atleast_1d(w).tolist()} per class" if o["weight"] is not None else "")))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    g = w * (xf - yf) / np.maximum(xf * (1 - xf), 1e-12)
    gsteps = [Step("∂ℓ/∂x", g, "w·(x - y) / (x·(1 - x)): large where a confident probability "
                               "is wrong (the denominator is kept >= 1e-12)"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, case.name


def _binary_cross_entropy_with_logits(o):
    case = _article("binary_cross_entropy_with_logits/article")
    x, y = case.args
    xf, yf = _f(x), _f(y)
    c = x.shape[-1]
    w = 1.0 if o["weight"] is None else _weights("binary_cross_entropy_with_logits", "weight", o["weight"], c)
    pw = 1.0 if o["pos_weight"] is None else _weights("binary_cross_entropy_with_logits", "pos_weight",
                                                      o["pos_weight"], c)
    steps = [Step("input", x, "logits (the article's tensor)"),
             Step("target", y, "1 for the right class, 0 elsewhere")]
    s = _sigmoid(xf)
    steps.append(Step("sigmoid", s, "σ(x) = 1 / (1 + exp(-x)): the probabilities"))
    ls = _log_sigmoid(xf)
    steps.append(Step("log σ(x)", ls, "min(x, 0) - log1p(exp(-|x|)): stable for any x"))
    per = w * ((1 - yf) * xf - (1 + (pw - 1) * yf) * ls)
    note = "(1 - y)·x - (1 + (p - 1)·y)·log σ(x) = -(p·y·log σ(x) + (1 - y)·log σ(-x))"
    if o["pos_weight"] is not None:
        note += f", with pos_weight p = {np.atleast_1d(pw).tolist()} per class"
    else:
        note += ", with p = 1"
    if o["weight"] is not None:
        note += f"; times weight = {np.atleast_1d(w).tolist()}"
    steps.append(Step("elementwise losses", per, note))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    g = w * (s * (pw * yf + 1 - yf) - pw * yf)
    gsteps = [Step("∂ℓ/∂x", g, "w·(σ(x)·(p·y + 1 - y) - p·y); with p = 1 just σ(x) - y: "
                               "the probability minus the target"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, case.name


def _kl_div(o):
    case = _article("kl_div/article")
    x, y = case.args
    xf, yf = _f(x), _f(y)
    steps = [Step("input", x, "log-probabilities: the article's log-softmax of its logits")]
    if o["log_target"]:
        eps = 0.1
        yf = np.log((1 - eps) * yf + eps / yf.shape[-1])
        y = yf
        steps.append(Step("target (log)", y, "log_target=True: the target is given as log-"
                          "probabilities; log of a one-hot target is -inf, which gives nan, so the "
                          "example smooths it: log(0.9·one_hot + 0.1/5)"))
        per = np.exp(yf) * (yf - xf)
        steps.append(Step("pointwise terms", per, "exp(t)·(t - x)"))
    else:
        steps.append(Step("target", y, "probabilities: one-hot at the right class"))
        per = np.where(yf == 0, 0.0, yf * np.log(np.where(yf == 0, 1.0, yf))) - yf * xf
        steps.append(Step("pointwise terms", per, "t·log t - t·x (0·log 0 = 0): with a one-hot "
                                                  "target, minus the target's entry"))
    red = o["reduction"]
    if red == "batchmean":
        value, scale = _reduce(steps, per, "mean", divisor=x.shape[0], what="pointwise terms",
                               why=f"the batch size, {x.shape[0]}")
        steps[-1].title = "reduction='batchmean'"
    else:
        value, scale = _reduce(steps, per, red, what="pointwise terms")
    g = -np.exp(yf) if o["log_target"] else -yf
    gsteps = [Step("∂ℓ/∂x", g, "-target (-exp(t) with log_target): only the target's mass "
                               "pulls the log-probabilities up"),
              Step("∂loss/∂input", g * scale, _scale_note(red, scale))]
    return (x, y), value, steps, gsteps, case.name


def _regression(loss, o):
    """l1_loss, mse_loss: the article's tensors."""
    case = _article(f"{loss}/article")
    x, y = case.args
    d = _f(x) - _f(y)
    steps = [Step("input", x, "the article's tensor"), Step("target", y, "one-hot"),
             Step("difference", d, "x - y")]
    if loss == "l1_loss":
        per, note, g, gnote = np.abs(d), "|x - y|", np.sign(d), "sign(x - y)"
    else:
        per, note, g, gnote = d ** 2, "(x - y)²", 2 * d, "2·(x - y)"
    steps.append(Step("elementwise losses", per, note))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    gsteps = [Step("∂ℓ/∂x", g, gnote),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, case.name


_SMALL_X = np.array([[0.5, -1.2, 2.0], [0.1, 3.0, -0.3]])
_SMALL_Y = np.array([[0.0, 0.0, 0.5], [0.6, 1.0, 0.4]])


def _smooth_l1_loss(o):
    beta = o["beta"]
    d = _SMALL_X - _SMALL_Y
    z = np.abs(d)
    steps = [Step("input", _SMALL_X, "a small example"), Step("target", _SMALL_Y, ""),
             Step("|x - y|", z, f"z; beta = {beta:g} separates the two branches")]
    if beta == 0:
        per, g = z, np.sign(d)
        steps.append(Step("elementwise losses", per, "beta = 0: exactly l1_loss, |x - y|"))
    else:
        per = np.where(z < beta, 0.5 * z ** 2 / beta, z - 0.5 * beta)
        g = np.where(z < beta, d / beta, np.sign(d))
        steps.append(Step("elementwise losses", per, f"0.5·z²/β where z < β = {beta:g}, else z - 0.5·β"))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    gsteps = [Step("∂ℓ/∂x", g, "(x - y)/β in the quadratic part, sign(x - y) in the linear part"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (_SMALL_X, _SMALL_Y), value, steps, gsteps, "a small example"


def _huber_loss(o):
    delta = o["delta"]
    d = _SMALL_X - _SMALL_Y
    z = np.abs(d)
    steps = [Step("input", _SMALL_X, "a small example"), Step("target", _SMALL_Y, ""),
             Step("|x - y|", z, f"z; delta = {delta:g} separates the two branches")]
    per = np.where(z < delta, 0.5 * z ** 2, delta * (z - 0.5 * delta))
    steps.append(Step("elementwise losses", per, f"0.5·z² where z < δ = {delta:g}, else δ·(z - 0.5·δ)"))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    g = np.where(z < delta, d, delta * np.sign(d))
    gsteps = [Step("∂ℓ/∂x", g, "x - y in the quadratic part, δ·sign(x - y) in the linear part: "
                               "an outlier pulls with at most δ"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (_SMALL_X, _SMALL_Y), value, steps, gsteps, "a small example"


def _poisson_nll_loss(o):
    case = _article("poisson_nll_loss/article")
    x, y = case.args
    yf = _f(y)
    eps = o["eps"]
    steps = []
    if o["log_input"]:
        xf = _f(x)
        steps.append(Step("input", x, "log-rates (the article's tensor)"))
        steps.append(Step("target", y, "counts"))
        per = np.exp(xf) - yf * xf
        steps.append(Step("exp(x) - t·x", per, "the Poisson negative log-likelihood of the log-rate x"))
        g = np.exp(xf) - yf
        gnote = "exp(x) - t: the rate minus the count"
    else:
        x = np.exp(_f(x)).astype(x.dtype)
        xf = _f(x)
        steps.append(Step("input", x, "rates: log_input=False takes rates, so the example is exp of "
                                      "the article's log-rates"))
        steps.append(Step("target", y, "counts"))
        per = xf - yf * np.log(xf + eps)
        steps.append(Step("x - t·log(x + eps)", per, f"eps = {eps:g} keeps the log finite at x = 0"))
        g = 1 - yf / (xf + eps)
        gnote = "1 - t/(x + eps)"
    if o["full"]:
        safe = np.where(yf > 1, yf, 1.0)
        stirling = np.where(yf > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe), 0.0)
        steps.append(Step("Stirling term", stirling, "full=True: t·log t - t + 0.5·log(2πt) where "
                                                     "t > 1 (≈ log t!), 0 elsewhere"))
        per = per + stirling
    steps.append(Step("elementwise losses", per, "the sum of the terms above"))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    gsteps = [Step("∂ℓ/∂x", g, gnote + " (the Stirling term does not depend on x)"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, case.name


def _gaussian_nll_loss(o):
    x = np.array([0.5, 1.0, 2.0, -1.0])
    y = np.array([0.0, 1.5, 1.0, -1.0])
    var = np.array([1.0, 0.25, 2.0, 0.5])
    v = np.maximum(var, o["eps"])
    steps = [Step("input", x, "the predicted means"), Step("target", y, "the observations"),
             Step("var", var, "the predicted variances"),
             Step("v", v, f"max(var, eps) with eps = {o['eps']:g}: clamped, not shifted")]
    per = 0.5 * (np.log(v) + (x - y) ** 2 / v)
    note = "0.5·(log v + (x - y)²/v)"
    if o["full"]:
        per = per + 0.5 * np.log(2 * np.pi)
        note += " + 0.5·log(2π) (full=True)"
    steps.append(Step("elementwise losses", per, note))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    g = (x - y) / v
    gsteps = [Step("∂ℓ/∂x", g, "(x - y)/v: the error in units of the variance"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y, var), value, steps, gsteps, "a small example"


def _hinge_embedding_loss(o):
    case = _article("hinge_embedding_loss/article")
    x, y = case.args
    xf, yf = _f(x), _f(y)
    m = o["margin"]
    steps = [Step("input", x, "distances (the article's tensor)"),
             Step("target", y, "1: similar, -1: dissimilar")]
    hinge = np.maximum(0.0, m - xf)
    steps.append(Step("max(0, margin - x)", hinge, f"margin = {m:g}: the hinge, used where y = -1"))
    per = np.where(yf != 1, hinge, 0.0) + np.where(yf != -1, xf, 0.0)
    steps.append(Step("elementwise losses", per, "x where y = 1, max(0, margin - x) where y = -1"))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    g = (yf != -1) * 1.0 - (yf != 1) * (m - xf > 0)
    gsteps = [Step("∂ℓ/∂x", g, "1 where y = 1; -1 where y = -1 and the hinge is active; 0 elsewhere"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, case.name


def _multi_margin_loss(o):
    case = _article("multi_margin_loss/article")
    x, y = case.args
    xf = _f(x)
    n, c = x.shape
    p, m = o["p"], o["margin"]
    w = np.ones(c) if o["weight"] is None else _weights("multi_margin_loss", "weight", o["weight"], c)
    steps = [Step("input", x, "scores (the article's tensor)"), Step("target", y, "the right class")]
    xy = xf[np.arange(n), y]
    steps.append(Step("the target's score", xy, "x[n, y_n]"))
    other = np.arange(c)[None, :] != y[:, None]
    h = (m - xy[:, None] + xf) * other
    steps.append(Step("margin - x_y + x_i", h, f"margin = {m:g}; 0 in the target's own slot"))
    hinge = np.maximum(0.0, h) ** p
    steps.append(Step(f"max(0, ·)^{p}", hinge, "only classes scoring within the margin of the "
                                              "right one count"))
    per = w[y] * hinge.sum(axis=1) / c
    steps.append(Step("per-sample losses", per, f"weight[y]·Σ_i / C, C = {c} (the target slot counted)"
                      + (f"; weight = {w.tolist()}" if o["weight"] is not None else "")))
    value, scale = _reduce(steps, per, o["reduction"], why=f"the number of samples, {n}")
    gi = w[y][:, None] * p * np.maximum(0.0, h) ** (p - 1) * (h > 0) * other / c
    g = gi - np.eye(c)[y] * gi.sum(axis=1, keepdims=True)
    gsteps = [Step("∂ℓ_n/∂x", g, "w[y]·p·max(0, ·)^(p-1)/C at each active class, minus their sum at "
                                 "the target: push the right score up, the close ones down"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, case.name


def _multilabel_margin_loss(o):
    x = np.array([[0.1, 0.2, 0.4, 0.8], [0.5, -0.3, 0.9, 0.2]])
    y = np.array([[3, 0, -1, 1], [2, -1, 0, 0]])
    n, c = x.shape
    steps = [Step("input", x, "scores (row 0: torch's documented example)"),
             Step("target", y, "the target classes of each row, up to the first -1")]
    per = np.zeros(n)
    g = np.zeros_like(x)
    for r in range(n):
        js = []
        for j in y[r]:
            if j < 0:
                break
            js.append(int(j))
        others = [i for i in range(c) if i not in js]
        table = np.maximum(0.0, 1 - x[r, js][:, None] + x[r, others][None, :])
        steps.append(Step(f"row {r}: max(0, 1 - x_j + x_i)", table,
                          f"one row per target j in {js}, one column per other class i in {others}"))
        per[r] = table.sum() / c
        active = (1 - x[r, js][:, None] + x[r, others][None, :]) > 0
        for a, j in enumerate(js):
            g[r, j] -= active[a].sum() / c
            for b, i in enumerate(others):
                g[r, i] += active[a, b] / c
    steps.append(Step("per-sample losses", per, f"the sum of each row's table over C = {c}"))
    value, scale = _reduce(steps, per, o["reduction"])
    gsteps = [Step("∂ℓ_n/∂x", g, "-1/C at a target for each active pair, +1/C at the other class"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, "a small example"


def _soft_margin_loss(o):
    x = np.array([[0.8, -1.5, 0.3], [2.0, 0.1, -0.7]])
    y = np.array([[1.0, -1.0, -1.0], [1.0, 1.0, -1.0]])
    steps = [Step("input", x, "scores"), Step("target", y, "+1 or -1"),
             Step("-y·x", -y * x, "negative where the sign is right")]
    per = np.log(1 + np.exp(-y * x))
    steps.append(Step("elementwise losses", per, "log(1 + exp(-y·x))"))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    g = -y * np.exp(-y * x) / (1 + np.exp(-y * x))
    gsteps = [Step("∂ℓ/∂x", g, "-y·σ(-y·x): small where the sign is right with room to spare"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, "a small example"


def _multilabel_soft_margin_loss(o):
    case = _article("binary_cross_entropy_with_logits/article")   # the article's logits and targets
    x, y = case.args
    xf, yf = _f(x), _f(y)
    c = x.shape[-1]
    w = np.ones(c) if o["weight"] is None else _weights("multilabel_soft_margin_loss", "weight",
                                                        o["weight"], c)
    steps = [Step("input", x, "logits (the article's tensor)"),
             Step("target", y, "1 for each label present, 0 elsewhere")]
    terms = w * -(yf * _log_sigmoid(xf) + (1 - yf) * _log_sigmoid(-xf))
    steps.append(Step("per-class terms", terms, "-(y·log σ(x) + (1 - y)·log σ(-x))"
                      + (f", times weight = {w.tolist()}" if o["weight"] is not None else "")))
    per = terms.sum(axis=-1) / c
    steps.append(Step("per-sample losses", per, f"the mean over the C = {c} classes"))
    value, scale = _reduce(steps, per, o["reduction"])
    g = w * (_sigmoid(xf) - yf) / c
    gsteps = [Step("∂ℓ_n/∂x", g, "w·(σ(x) - y)/C: the probability minus the target, over C"),
              Step("∂loss/∂input", g * scale, _scale_note(o["reduction"], scale))]
    return (x, y), value, steps, gsteps, "the article's logits and targets (binary_cross_entropy_with_logits/article)"


def _cosine_embedding_loss(o):
    x1 = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, -1.0], [0.5, 0.5, 2.0]])
    x2 = np.array([[1.0, 2.0, 2.5], [-1.0, 0.5, 1.0], [2.0, -1.0, 1.0]])
    y = np.array([1, -1, -1])
    m = o["margin"]
    steps = [Step("input1", x1, "one vector per row"), Step("input2", x2, ""),
             Step("target", y, "1: should point the same way, -1: should not")]
    n1, n2 = (x1 ** 2).sum(1) + 1e-12, (x2 ** 2).sum(1) + 1e-12
    cos = (x1 * x2).sum(1) / np.sqrt(n1 * n2)
    steps.append(Step("cosine", cos, "x1·x2 / sqrt((|x1|² + 1e-12)(|x2|² + 1e-12))"))
    per = np.where(y == 1, 1 - cos, np.where(y == -1, np.maximum(0.0, cos - m), 0.0))
    steps.append(Step("per-sample losses", per, f"1 - cos where y = 1, max(0, cos - margin) where "
                                                f"y = -1 (margin = {m:g})"))
    value, scale = _reduce(steps, per, o["reduction"])
    dcos = x2 / np.sqrt(n1 * n2)[:, None] - (cos / n1)[:, None] * x1
    factor = np.where(y == 1, -1.0, np.where((y == -1) & (cos - m > 0), 1.0, 0.0))
    gsteps = [Step("∂cos/∂x1", dcos, "x2/(|x1||x2|) - cos·x1/|x1|²: the part of x2 across x1"),
              Step("∂ℓ_n/∂x1", factor[:, None] * dcos, "-∂cos where y = 1, +∂cos where y = -1 "
                                                        "and the hinge is active"),
              Step("∂loss/∂input1", factor[:, None] * dcos * scale, _scale_note(o["reduction"], scale))]
    return (x1, x2, y), value, steps, gsteps, "a small example"


def _margin_ranking_loss(o):
    x1 = np.array([0.8, -0.2, 1.5, 0.3])
    x2 = np.array([0.5, 0.4, 0.2, 0.9])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    m = o["margin"]
    steps = [Step("input1", x1, "scores"), Step("input2", x2, "scores"),
             Step("target", y, "1: input1 should rank higher, -1: input2 should")]
    h = -y * (x1 - x2) + m
    steps.append(Step("-y·(x1 - x2) + margin", h, f"margin = {m:g}"))
    per = np.maximum(0.0, h)
    steps.append(Step("elementwise losses", per, "max(0, ·): 0 where the order is right by the margin"))
    value, scale = _reduce(steps, per, o["reduction"], what="elementwise losses")
    g = -y * (h > 0)
    gsteps = [Step("∂ℓ/∂x1", g, "-y where the hinge is active, 0 elsewhere"),
              Step("∂loss/∂input1", g * scale, _scale_note(o["reduction"], scale))]
    return (x1, x2, y), value, steps, gsteps, "a small example"


_ANCHOR = np.array([[0.0, 1.0, 0.5], [1.0, 1.0, 0.0], [0.5, -0.5, 1.0]])
_POSITIVE = np.array([[0.2, 1.1, 0.3], [0.0, 1.5, 0.5], [0.4, -0.2, 1.1]])
_NEGATIVE = np.array([[1.0, 0.5, 0.0], [1.2, 0.8, 0.1], [-1.0, 1.0, 0.0]])


def _distance_gradient(u, p, eps):
    """∂‖u + eps‖_p/∂u and the distance, row by row."""
    v = u + eps
    d = (np.abs(v) ** p).sum(-1) ** (1 / p)
    return np.sign(v) * np.abs(v) ** (p - 1) / d[:, None] ** (p - 1), d


def _triplet(loss, o):
    p = o.get("p", 2.0)
    eps = o.get("eps", 1e-6)
    m = o["margin"]
    a, pos, neg = _ANCHOR, _POSITIVE, _NEGATIVE
    steps = [Step("anchor", a, "one embedding per row"), Step("positive", pos, "should be close"),
             Step("negative", neg, "should be far")]
    ga, d_ap = _distance_gradient(a - pos, p, eps)
    gn, d_an = _distance_gradient(a - neg, p, eps)
    dist = f"‖u - v + {eps:g}‖_{p:g}"
    steps.append(Step("d(anchor, positive)", d_ap, dist))
    steps.append(Step("d(anchor, negative)", d_an, dist))
    d_neg = d_an
    if o["swap"]:
        _, d_pn = _distance_gradient(pos - neg, p, eps)
        steps.append(Step("d(positive, negative)", d_pn, "swap=True: the nearer of the two "
                                                         "negatives' distances counts"))
        d_neg = np.minimum(d_an, d_pn)
        steps.append(Step("d_-", d_neg, "min(d(a, n), d(p, n))"))
    h = m + d_ap - d_neg
    per = np.maximum(0.0, h)
    steps.append(Step("per-sample losses", per, f"max(0, margin + d(a, p) - d_-), margin = {m:g}"))
    value, scale = _reduce(steps, per, o["reduction"])
    uses_an = d_neg == d_an
    g = (h > 0)[:, None] * (ga - uses_an[:, None] * gn)
    gsteps = [Step("∂ℓ_n/∂anchor", g, "toward the positive, away from the negative, along the "
                                      "unit (p-norm) directions, where the hinge is active"),
              Step("∂loss/∂anchor", g * scale, _scale_note(o["reduction"], scale))]
    return (a, pos, neg), value, steps, gsteps, "a small example"


def _ctc_loss(o):
    rng_logits = np.array([[[2.0, 1.0, 0.1], [0.5, 0.2, 2.2]],
                           [[0.3, 2.5, 0.2], [0.1, 0.4, 1.9]],
                           [[1.5, 0.5, 1.0], [2.0, 0.3, 0.4]],
                           [[0.2, 0.3, 2.4], [1.0, 0.2, 0.8]]])
    shifted = rng_logits - rng_logits.max(-1, keepdims=True)
    lp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    targets = np.array([[1, 2], [2, 0]])
    input_lengths = np.array([4, 4])
    target_lengths = np.array([2, 1])
    blank = 0
    steps = [Step("log_probs", lp, "(T = 4, N = 2, C = 3) log-softmax; class 0 is the blank"),
             Step("targets", targets, "padded: row n uses its first target_lengths[n] labels"),
             Step("target_lengths", target_lengths, "sample 0: [1, 2]; sample 1: [2]")]
    T = lp.shape[0]
    per = np.zeros(2)
    grad = np.zeros_like(lp)
    for n in range(2):
        L = int(target_lengths[n])
        ext = [blank]
        for label in targets[n, :L]:
            ext += [int(label), blank]
        S = len(ext)
        alpha = np.full((T, S), -np.inf)
        alpha[0, 0] = lp[0, n, blank]
        if L > 0:
            alpha[0, 1] = lp[0, n, ext[1]]
        for t in range(1, T):
            for s in range(S):
                prev = [alpha[t - 1, s]] + ([alpha[t - 1, s - 1]] if s > 0 else [])
                if s > 1 and ext[s] != ext[s - 2]:
                    prev.append(alpha[t - 1, s - 2])
                alpha[t, s] = np.logaddexp.reduce(prev) + lp[t, n, ext[s]]
        steps.append(Step(f"sample {n}: α (log)", alpha,
                          f"extended label {ext}; α_t(s) = lse(α_t-1(s), α_t-1(s-1), α_t-1(s-2) when "
                          "l'[s] != l'[s-2]) + lp[t, l'[s]]"))
        log_p = np.logaddexp.reduce(alpha[T - 1, S - 2:] if L > 0 else alpha[T - 1, :1])
        per[n] = -log_p
        beta = np.full((T, S), -np.inf)
        beta[T - 1, S - 1] = lp[T - 1, n, ext[S - 1]]
        if L > 0:
            beta[T - 1, S - 2] = lp[T - 1, n, ext[S - 2]]
        for t in range(T - 2, -1, -1):
            for s in range(S):
                nxt = [beta[t + 1, s]] + ([beta[t + 1, s + 1]] if s + 1 < S else [])
                if s + 2 < S and ext[s] != ext[s + 2]:
                    nxt.append(beta[t + 1, s + 2])
                beta[t, s] = np.logaddexp.reduce(nxt) + lp[t, n, ext[s]]
        for t in range(T):
            for s in range(S):
                grad[t, n, ext[s]] -= np.exp(alpha[t, s] + beta[t, s] - lp[t, n, ext[s]] - log_p)
    if o["zero_infinity"]:
        per = np.where(np.isinf(per), 0.0, per)
    steps.append(Step("per-sample losses", per, "-log(sum of the last two α): minus the log-"
                                                "probability of all alignments"
                      + ("; zero_infinity=True would turn an impossible (inf) one into 0"
                         if o["zero_infinity"] else "")))
    if o["reduction"] == "mean":
        norm = per / np.maximum(target_lengths, 1)
        steps.append(Step("divided by target length", norm, "'mean' divides each loss by its target "
                                                            "length first"))
        value, _ = _reduce(steps, norm, "mean")
        scale = 1 / (np.maximum(target_lengths, 1) * len(per))
    else:
        value, s = _reduce(steps, per, o["reduction"])
        scale = np.full(2, s)
    gsteps = [Step("∂ℓ_n/∂log_probs", grad, "minus the posterior occupancy: the probability that "
                                            "an alignment emits that class at that time"),
              Step("∂loss/∂log_probs", grad * scale[None, :, None],
                   _scale_note(o["reduction"], 1 / len(per)).replace(
                       "the mean's factor", "over each target length and N"))]
    return (lp, targets, input_lengths, target_lengths), value, steps, gsteps, "a small example"


#: For each loss: the builder and the options it takes (name -> check). Every option is a
#: keyword of the loss's signature; its default there is the default here.
_LOSSES = {
    "cross_entropy": (_cross_entropy, {"reduction": _reduction(), "label_smoothing": _number(0, 1),
                                       "weight": _any, "ignore_index": _number(integer=True)}),
    "linear_cross_entropy": (_linear_cross_entropy, {
        "reduction": _reduction(), "label_smoothing": _number(0, 1), "weight": _any,
        "ignore_index": _number(integer=True)}),
    "nll_loss": (_nll_loss, {"reduction": _reduction(), "weight": _any,
                             "ignore_index": _number(integer=True)}),
    "binary_cross_entropy": (_binary_cross_entropy, {"reduction": _reduction(), "weight": _any}),
    "binary_cross_entropy_with_logits": (_binary_cross_entropy_with_logits, {
        "reduction": _reduction(), "weight": _any, "pos_weight": _any}),
    "kl_div": (_kl_div, {"reduction": _reduction(REDUCTIONS + ("batchmean",)), "log_target": _boolean}),
    "l1_loss": (lambda o: _regression("l1_loss", o), {"reduction": _reduction()}),
    "mse_loss": (lambda o: _regression("mse_loss", o), {"reduction": _reduction()}),
    "smooth_l1_loss": (_smooth_l1_loss, {"reduction": _reduction(), "beta": _number(0)}),
    "huber_loss": (_huber_loss, {"reduction": _reduction(), "delta": _number(0, strict_low=True)}),
    "poisson_nll_loss": (_poisson_nll_loss, {"reduction": _reduction(), "log_input": _boolean,
                                             "full": _boolean, "eps": _number(0, strict_low=True)}),
    "gaussian_nll_loss": (_gaussian_nll_loss, {"reduction": _reduction(), "full": _boolean,
                                               "eps": _number(0, strict_low=True)}),
    "hinge_embedding_loss": (_hinge_embedding_loss, {"reduction": _reduction(), "margin": _number()}),
    "multi_margin_loss": (_multi_margin_loss, {"reduction": _reduction(), "p": _number(choices=(1, 2)),
                                               "margin": _number(), "weight": _any}),
    "multilabel_margin_loss": (_multilabel_margin_loss, {"reduction": _reduction()}),
    "soft_margin_loss": (_soft_margin_loss, {"reduction": _reduction()}),
    "multilabel_soft_margin_loss": (_multilabel_soft_margin_loss, {"reduction": _reduction(),
                                                                   "weight": _any}),
    "cosine_embedding_loss": (_cosine_embedding_loss, {"reduction": _reduction(), "margin": _number(-1, 1)}),
    "margin_ranking_loss": (_margin_ranking_loss, {"reduction": _reduction(), "margin": _number()}),
    "triplet_margin_loss": (lambda o: _triplet("triplet_margin_loss", o), {
        "reduction": _reduction(), "margin": _number(0, strict_low=True),
        "p": _number(1), "eps": _number(0), "swap": _boolean}),
    "triplet_margin_with_distance_loss": (lambda o: _triplet("triplet_margin_with_distance_loss", o), {
        "reduction": _reduction(), "margin": _number(0, strict_low=True), "swap": _boolean}),
    "ctc_loss": (_ctc_loss, {"reduction": _reduction(), "zero_infinity": _boolean}),
}

#: The example's own keywords (the article's call), before the caller's options.
_EXAMPLE_KWARGS = {"kl_div": {"reduction": "batchmean"},
                   "poisson_nll_loss": {"log_input": True, "full": True},
                   "hinge_embedding_loss": {"margin": 1}}

#: Options that are arrays: passed to the loss as float arrays in the input's dtype.
_ARRAY_OPTIONS = ("weight", "pos_weight")


def options(loss: str) -> tuple:
    """The options ``walkthrough(loss, ...)`` takes."""
    _check_loss(loss)
    return tuple(_LOSSES[loss][1])


def _check_loss(loss):
    if loss not in _LOSSES:
        raise ValueError(f"unknown loss {loss!r}: expected one of lossref.LOSSES "
                         f"({', '.join(sorted(_LOSSES))})")


def walkthrough(loss: str, **options) -> Walkthrough:
    """``loss`` computed step by step on its example, with ``options`` (keywords of the loss)."""
    _check_loss(loss)
    build, checks = _LOSSES[loss]
    forward = getattr(lossref, loss)
    parameters = inspect.signature(forward).parameters
    for name in options:
        if name not in checks:
            raise ValueError(f"{loss} has no option {name!r} for the walk-through: expected "
                             f"{', '.join(checks)}")
    given = {**_EXAMPLE_KWARGS.get(loss, {}),
             **{name: checks[name](loss, name, value) for name, value in options.items()}}
    o = {name: (given[name] if name in given else parameters[name].default) for name in checks}
    args, computed, steps, gsteps, source = build(o)
    dtype = args[0].dtype if args[0].dtype.kind == "f" else np.float64
    kwargs = {}
    for name, value in given.items():
        if name in _ARRAY_OPTIONS and value is not None:
            c = {"binary_cross_entropy": args[0].shape[-1], "binary_cross_entropy_with_logits": args[0].shape[-1],
                 "multilabel_soft_margin_loss": args[0].shape[-1], "linear_cross_entropy": args[1].shape[0]
                 }.get(loss, args[0].shape[1] if np.ndim(args[0]) > 1 else args[0].shape[0])
            value = _weights(loss, name, value, c).astype(dtype)
        kwargs[name] = value
    try:
        result = forward(*args, **kwargs)
        backward = getattr(lossref, f"{loss}_backward")(np.ones(np.shape(result)), *args, **kwargs)
    except (ValueError, TypeError, IndexError) as error:
        raise ValueError(f"{loss}: {error}") from None
    names = positional_parameters(forward)[:len(args)]
    return Walkthrough(loss, tuple(args), kwargs, steps, result, gsteps, backward[0],
                       example=source, names=names, computed=np.asarray(computed, dtype=np.float64))


def agrees(walk: Walkthrough, value, dtype: str | None = None) -> bool:
    """Whether ``value`` (torch's, say) is the reference's result within the loss's tolerance
    for the dtype the example computes in."""
    from lossref.tolerance import input_dtype, tolerance
    t = tolerance(dtype or input_dtype(list(walk.args)), walk.loss)
    got, want = np.asarray(value, dtype=np.float64), np.asarray(walk.result, dtype=np.float64)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=t.rtol, atol=t.atol, equal_nan=True))


# --------------------------------------------------------------------------- text


def _columns(text: str) -> int:
    """The columns ``text`` takes in a terminal (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wrap(text: str, width: int, indent: str) -> list:
    wide = _columns(text) - len(text)   # conservative: as if every wide character were on one line
    lines = textwrap.wrap(text, width=width - len(indent) - wide, break_long_words=True) or [""]
    return [indent + line for line in lines]


def _show(value, width: int, indent: str) -> list:
    if isinstance(value, np.ndarray) or isinstance(value, (list, tuple)):
        a = np.asarray(value)
        if a.ndim == 0:
            return [indent + _number_text(a)]
        with np.printoptions(precision=6, suppress=True, floatmode="maxprec", linewidth=width - len(indent)):
            body = np.array2string(a, max_line_width=width - len(indent), separator=" ")
        return [indent + line for line in body.splitlines()]
    if isinstance(value, (int, float, np.number)):
        return [indent + _number_text(value)]
    return _wrap(str(value), width, indent)


def _number_text(value) -> str:
    return f"{float(value):.10g}"


def _describe(a) -> str:
    a = np.asarray(a)
    return f"{a.dtype} {tuple(a.shape)}"


def render(walk: Walkthrough, torch_results: dict | None = None, width: int = 80) -> str:
    """``walk`` as text, every line at most ``width`` columns; ``torch_results`` (device name ->
    torch's value, or a string saying why there is none) beside the reference's result."""
    out = []
    out += _wrap(f"{walk.loss}, step by step", width, "")
    source = walk.example
    if source in lossref.fixtures.names():
        out += _wrap(f'example: the article\'s tensors ("{ARTICLE}"),', width, "")
        out += _wrap(f"the fixture {source}", width, "         ")
        case = lossref.fixtures.load(source)
        if case.printed is not None and walk.kwargs == case.kwargs:
            out += _wrap(f"(the article printed {case.printed})", width, "         ")
    else:
        out += _wrap(f"example: {source}", width, "")
    call = ", ".join(list(walk.names) + [f"{k}={_keyword_text(v)}" for k, v in walk.kwargs.items()])
    out += _wrap(f"call: lossref.{walk.loss}({call})", width, "")
    for name, a in zip(walk.names, walk.args):
        out += _wrap(f"{name}: {_describe(a)}", width, "  ")

    def section(steps):
        for i, step in enumerate(steps, 1):
            out.append("")
            out.extend(_wrap(f"{i}. {step.title}", width, ""))
            if step.note:
                out.extend(_wrap(step.note, width, "   "))
            out.extend(_show(step.value, width, "     "))

    section(walk.steps)
    out.append("")
    out.append("result")
    rows = [(f"reference (lossref.{walk.loss})", walk.result, "")]
    rows.append(("the steps above", walk.computed,
                 "" if _close(walk.computed, walk.result) else "DIFFERS from the reference"))
    for device, value in (torch_results or {}).items():
        if isinstance(value, str):
            rows.append((f"torch {device}", None, value))
        else:
            rows.append((f"torch {device}", value, "agrees" if agrees(walk, value) else
                         "DISAGREES beyond the tolerance"))
    for label, value, verdict in rows:
        if value is None:
            out.extend(_wrap(f"{label}: {verdict}", width, "  "))
        elif np.ndim(value) == 0:
            out.extend(_wrap(f"{label:<40}{_number_text(value):<18}{verdict}", width, "  "))
        else:
            out.extend(_wrap(f"{label}{': ' + verdict if verdict else ''}", width, "  "))
            out.extend(_show(np.asarray(value), width, "     "))
    out.append("")
    out.extend(_wrap(f"gradient with respect to {walk.names[0]} "
                     f"(lossref.{walk.loss}_backward)", width, ""))
    section(walk.gradient_steps)
    same = _close(walk.gradient_steps[-1].value, walk.gradient)
    out.append("")
    out.extend(_wrap(f"lossref.{walk.loss}_backward gives the same gradient" if same
                     else f"lossref.{walk.loss}_backward DIFFERS from the steps above", width, ""))
    if not same:
        out.extend(_show(walk.gradient, width, "     "))
    # a wide character (the article's title) can take two columns: wrap once more by columns
    final = []
    for line in out:
        while _columns(line) > width:
            cut = width
            while _columns(line[:cut]) > width:
                cut -= 1
            final.append(line[:cut])
            line = "   " + line[cut:]
        final.append(line)
    return "\n".join(line.rstrip() for line in final)


def _keyword_text(value) -> str:
    if isinstance(value, np.ndarray):
        return "[" + ", ".join(f"{v:g}" for v in value.ravel()) + "]"
    return repr(value)


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
