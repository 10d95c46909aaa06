"""The pictures on the loss pages: each loss and its gradient against one input entry.

One ``Plot`` per loss (``PLOTS``): which argument varies (one entry of it, the others fixed),
over which range, the fixed arguments, and one ``Curve`` per set of options that changes the
curve's shape (huber's ``delta``, smooth_l1's ``beta``, a margin, label smoothing, a clamp).
The numbers come from the references (``lossref.<loss>`` and ``lossref.<loss>_backward``,
``reduction='sum'`` over the one sample): :func:`compute` needs NumPy only, and
tests/test_pages.py recomputes them against the committed ``docs/losses/data/<loss>.json``.

``python -m tests.pages --write`` draws them (:func:`draw`, matplotlib, the ``docs`` extra)
with torch's values over the lines as markers: :func:`torch_values` computes those, and
:func:`check_torch` refuses to draw a picture where torch and the reference differ by more
than the suite's float64 tolerance (``lossref.tolerance``). Nothing in the suite imports
matplotlib.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import lossref
from lossref._common import array_parameters

DATA = Path(__file__).resolve().parent.parent / "docs" / "losses" / "data"
IMAGES = DATA.parent / "img"
#: Significant digits of the numbers in docs/losses/data/<loss>.json.
DIGITS = 12
#: Every how many points of a curve torch's value is drawn as a marker (all are checked).
MARKER_EVERY = 8


@dataclass(frozen=True)
class Curve:
    """One line of a plot: its label, the loss's options, and any fixed argument it changes."""

    label: str
    options: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Plot:
    """``loss`` and its gradient against ``args[vary][index]`` over ``x`` (start, stop, points)."""

    loss: str
    vary: str
    index: tuple
    x: tuple
    args: dict
    curves: tuple
    xlabel: str
    #: What to look for, one sentence for the page.
    note: str
    xscale: str = "linear"       # "log": x = 10 ** linspace(start, stop, points)
    #: "linear", or "symlog" for values over many decades; a pair: (the loss's, the gradient's).
    yscale: object = "linear"
    #: Vertical dashed lines: (x, label) at a kink, a clamp or a switch. No grid point lies on a
    #: hinge's kink: there the gradient is a choice of subgradient (lossref: 0; torch up to 2.13:
    #: the one-sided slope, lossref.quirks "clamp-boundary-subgradient"), not a value to draw.
    marks: tuple = ()
    #: torch's gradient in the reference's convention, where torch documents another one:
    #: ``(x, torch's gradient) -> gradient``, and why (the page says it).
    torch_gradient: object = None
    torch_gradient_note: str = ""

    def yscales(self) -> tuple[str, str]:
        return (self.yscale, self.yscale) if isinstance(self.yscale, str) else tuple(self.yscale)

    def xs(self) -> np.ndarray:
        start, stop, points = self.x
        if self.xscale == "log":
            return 10.0 ** np.linspace(start, stop, points)
        return np.linspace(start, stop, points)


def _arguments(plot: Plot, curve: Curve, x: float) -> dict:
    args = copy.deepcopy(plot.args)
    args.update(copy.deepcopy(curve.fixed))
    varied = np.array(args[plot.vary], dtype=np.float64)
    varied[plot.index] = x
    args[plot.vary] = varied
    return {**args, **curve.options, "reduction": "sum"}


def _gradient_position(plot: Plot) -> int:
    return array_parameters(getattr(lossref, plot.loss)).index(plot.vary)


def compute(plot: Plot, digits: int | None = DIGITS, every: int = 1) -> dict:
    """The numbers behind the picture, from the references: x, and per curve the loss and its
    gradient with respect to the varying entry, rounded to ``digits`` significant digits (None:
    unrounded); ``every``: at every so many points of the grid only (``xs()[::every]``)."""
    rounded = _round if digits is not None else float
    forward = getattr(lossref, plot.loss)
    backward = getattr(lossref, f"{plot.loss}_backward")
    at = _gradient_position(plot)
    xs = plot.xs()[::every]
    curves = []
    for curve in plot.curves:
        values, gradients = [], []
        for x in xs:
            args = _arguments(plot, curve, x)
            values.append(float(forward(**args)))
            gradients.append(float(np.asarray(backward(1.0, **args)[at])[plot.index]))
        curves.append({"label": curve.label, "options": curve.options, "fixed": curve.fixed,
                       "loss": [rounded(v) for v in values], "gradient": [rounded(g) for g in gradients]})
    return {"loss": plot.loss, "vary": plot.vary, "index": list(plot.index), "xlabel": plot.xlabel,
            "x": [rounded(x) for x in xs], "curves": curves}


def _round(value: float, digits: int = DIGITS) -> float:
    return float(f"{value:.{digits}g}")


# --- torch's values over the references (generation only) -------------------------------

def _tensor(value, torch):
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return torch.tensor(array, dtype=torch.float64)
    if array.dtype.kind in "iub":
        return torch.tensor(array, dtype=torch.int64)
    return value


def torch_values(plot: Plot) -> list[tuple[list[float], list[float]]]:
    """(loss, gradient) per curve at every x, from ``torch.nn.functional.<loss>`` in float64 on
    the CPU, its gradient by autograd."""
    import torch

    function = getattr(torch.nn.functional, plot.loss)
    out = []
    for curve in plot.curves:
        values, gradients = [], []
        for x in plot.xs():
            args = {}
            for name, value in _arguments(plot, curve, x).items():
                args[name] = _tensor(value, torch) if isinstance(value, (list, np.ndarray)) else value
            args[plot.vary].requires_grad_(True)
            loss = function(**args)
            loss.backward()
            values.append(float(loss.detach()))
            gradient = float(args[plot.vary].grad[plot.index])
            gradients.append(plot.torch_gradient(x, gradient) if plot.torch_gradient else gradient)
        out.append((values, gradients))
    return out


def check_torch(plot: Plot, data: dict, measured) -> float:
    """The largest difference between torch and the reference (``data``: :func:`compute`
    unrounded) over every point, in units of
    the suite's float64 tolerance for the loss (``rtol * |reference| + atol * (1 + |x|)``: the
    terms of these losses are of the size of their inputs); raises above 1."""
    tolerance = lossref.tolerance.tolerance("float64", plot.loss)
    xs = np.abs(np.asarray(data["x"]))
    worst = 0.0
    for curve, (values, gradients) in zip(data["curves"], measured):
        for what, reference, got in (("loss", curve["loss"], values), ("gradient", curve["gradient"], gradients)):
            reference, got = np.asarray(reference), np.asarray(got)
            allowed = tolerance.rtol * np.abs(reference) + tolerance.atol * (1 + xs)
            ratio = np.abs(got - reference) / allowed
            if not np.all(np.isfinite(ratio)) or ratio.max() > 1:
                i = int(np.nanargmax(np.where(np.isfinite(ratio), ratio, np.inf)))
                raise AssertionError(f"{plot.loss}, {curve['label']}: torch's {what} at x = {data['x'][i]} is "
                                     f"{got[i]!r}, the reference's {reference[i]!r} (beyond the float64 tolerance)")
            worst = max(worst, float(ratio.max()))
    return worst


# --- drawing (matplotlib: the docs extra) ------------------------------------------------

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def draw(plot: Plot, data: dict, measured, release: str, path: Path, small: Path) -> None:
    """The picture (800 x 640 px: the loss above its gradient) and its thumbnail (240 x 150 px)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.lines import Line2D

    xs = np.asarray(data["x"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.4), dpi=100, sharex=True)
    for axis, what, ylabel, yscale in zip((top, bottom), ("loss", "gradient"),
                                          ("loss (reduction='sum')", f"d loss / d {plot.vary}{list(plot.index)}"),
                                          plot.yscales()):
        for k, (curve, got) in enumerate(zip(data["curves"], measured)):
            colour = COLOURS[k % len(COLOURS)]
            # Earlier curves drawn wider, so that one a later curve coincides with still shows.
            axis.plot(xs, curve[what], color=colour, lw=max(1.0, 2.8 - 0.6 * k), label=curve["label"])
            marked = np.asarray(got[0 if what == "loss" else 1])
            axis.plot(xs[::MARKER_EVERY], marked[::MARKER_EVERY], "o", mfc="none", mec=colour, ms=6, mew=1.2)
        for x, label in plot.marks:
            axis.axvline(x, color="0.45", ls="--", lw=1)
        if yscale == "symlog":
            _symlog(axis, [v for curve in data["curves"] for v in curve[what]])
        axis.set_ylabel(ylabel)
        axis.grid(True, color="0.9")
    for k, (x, label) in enumerate(plot.marks):   # alternate heights: neighbouring labels stay apart
        top.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12 - 10 * (k % 2)),
                     textcoords="offset points", fontsize=8, color="0.3")
    if plot.xscale == "log":
        bottom.set_xscale("log")
    bottom.set_xlabel(plot.xlabel)
    top.set_title(f"{plot.loss}: the reference (lines) and torch {release} (markers)", fontsize=11)
    handles, labels = top.get_legend_handles_labels()
    handles.append(Line2D([], [], ls="none", marker="o", mfc="none", mec="0.2", ms=6, mew=1.2))
    labels.append(f"torch {release}, every {MARKER_EVERY}th point")
    top.legend(handles, labels, fontsize=8, loc="best", framealpha=0.9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)

    fig, axis = plt.subplots(figsize=(2.4, 1.5), dpi=100)
    for k, curve in enumerate(data["curves"]):
        axis.plot(xs, curve["loss"], color=COLOURS[k % len(COLOURS)], lw=1.2)
    for x, _ in plot.marks:
        axis.axvline(x, color="0.6", ls="--", lw=0.6)
    if plot.xscale == "log":
        axis.set_xscale("log")
    if plot.yscales()[0] == "symlog":
        _symlog(axis, [v for curve in data["curves"] for v in curve["loss"]])
    axis.tick_params(labelsize=6)
    fig.tight_layout(pad=0.2)
    fig.savefig(small, metadata={"Software": None})
    plt.close(fig)


def _symlog(axis, values) -> None:
    """A symmetric log scale (linear within 1) with at most ~4 labelled decades each side."""
    axis.set_yscale("symlog", linthresh=1.0)
    largest = max(1.0, max(abs(v) for v in values))
    top = int(math.floor(math.log10(largest)))
    step = max(1, math.ceil(top / 4))
    decades = [10.0 ** k for k in range(0 if top <= 3 else step, top + 1, step)]
    # Only decades the values reach, so that the ticks do not stretch the axis past the data.
    ticks = sorted({0.0, *(d for d in decades if max(values) >= d), *(-d for d in decades if min(values) <= -d)})
    axis.set_yticks(ticks)
    # The view: the values' range, padded by 6 % in the scale's own coordinates.
    forward = lambda v: math.copysign(math.log10(1 + abs(v)), v)            # noqa: E731
    inverse = lambda u: math.copysign(10 ** abs(u) - 1, u)                  # noqa: E731
    lo, hi = forward(min(values)), forward(max(values))
    pad = 0.06 * max(hi - lo, 1e-3)
    axis.set_ylim(inverse(lo - pad), inverse(hi + pad))
    from matplotlib.ticker import NullLocator

    axis.yaxis.set_minor_locator(NullLocator())


def write(plot: Plot, release: str, draw_pictures: bool) -> float:
    """Compute, check against torch, and write data/<loss>.json (and the pictures if asked):
    the largest torch difference in units of the tolerance."""
    measured = torch_values(plot)
    worst = check_torch(plot, compute(plot, digits=None), measured)
    data = {"torch": release, **compute(plot)}
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / f"{plot.loss}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if draw_pictures:
        draw(plot, data, measured, release, IMAGES / f"{plot.loss}.png", IMAGES / f"{plot.loss}_small.png")
    return worst


def recorded(loss: str) -> dict | None:
    """docs/losses/data/<loss>.json, or None."""
    path = DATA / f"{loss}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# --- the plots -----------------------------------------------------------------------------

_LOG = math.log
PLOTS: dict[str, Plot] = {p.loss: p for p in (
    Plot("binary_cross_entropy", "input", (0,), (-60, 0, 150),
         {"input": [0.5], "target": [1.0]},
         (Curve("target 1", {}), Curve("target 0.25", {}, {"target": [0.25]})),
         "input p (the probability), log scale",
         "The log is clamped at -100: with target 1 the loss, -log p (a straight line against log p), stops "
         "at 100 below p = e^-100 (with target 0 the same clamp gives 100 at p = 1 exactly: 1 - p has no "
         "float64 value between 0 and 1e-16). The gradient divides by max(p (1 - p), 1e-12), so it is flat, "
         "at about -1e12 y, below p = 1e-12.",
         xscale="log", yscale=("linear", "symlog"),
         marks=((math.exp(-100), "log p = -100"), (1e-12, "p(1-p) = 1e-12"))),
    Plot("binary_cross_entropy_with_logits", "input", (0,), (-6, 6, 150),
         {"input": [0.0], "target": [1.0]},
         (Curve("target 1", {}), Curve("target 1, pos_weight 3", {"pos_weight": [3.0]}),
          Curve("target 0.5", {}, {"target": [0.5]})),
         "input x (the logit)",
         "Smooth, no clamp: log-sigmoid computed stably; pos_weight scales the positive term, so the "
         "loss and its slope on the left triple.",
         marks=((0.0, "x = 0"),)),
    Plot("cosine_embedding_loss", "input1", (0, 0), (-4, 4, 150),
         {"input1": [[0.0, 1.0]], "input2": [[1.0, 0.0]], "target": [1.0]},
         (Curve("target 1", {}), Curve("target -1, margin 0", {}, {"target": [-1.0]}),
          Curve("target -1, margin 0.5", {"margin": 0.5}, {"target": [-1.0]})),
         "input1[0, 0] (input1 = [x, 1], input2 = [1, 0]: cos = x / sqrt(x^2 + 1))",
         "target 1 pulls the cosine to 1; target -1 is a hinge max(0, cos - margin), flat until the cosine "
         "passes the margin (x = 0 for margin 0, x = 1/sqrt(3) for 0.5).",
         marks=((0.0, "cos = 0"), (1 / math.sqrt(3), "cos = 0.5"))),
    Plot("cross_entropy", "input", (0, 0), (-6, 10, 150),
         {"input": [[0.0, 0.0, 0.0]], "target": [0]},
         (Curve("label_smoothing 0", {}), Curve("label_smoothing 0.1", {"label_smoothing": 0.1}),
          Curve("label_smoothing 0.3", {"label_smoothing": 0.3})),
         "input[0, 0] (the target class's logit; the other two are 0)",
         "Without smoothing the loss falls to 0 as the target logit grows; label smoothing lifts the floor "
         "(the smoothed target keeps eps/C on each other class) and the minimum moves to a finite logit.",
         marks=((0.0, "uniform"),)),
    Plot("ctc_loss", "log_probs", (0, 0, 1), (-8, 0, 150),
         {"log_probs": [[[_LOG(1 / 3)] * 3]] * 3, "targets": [[1]], "input_lengths": [3], "target_lengths": [1]},
         (Curve("target [1]", {}), Curve("target [1, 2]", {}, {"targets": [[1, 2]], "target_lengths": [2]}),
          Curve("target [1, 1]", {}, {"targets": [[1, 1]], "target_lengths": [2]})),
         "log_probs[0, 0, 1] (label 1 at the first step; every other entry log(1/3), T = 3)",
         "The loss is -log of a sum over alignments: where the first step must emit label 1 (target [1, 1] "
         "needs 1, blank, 1) it is linear in that log-probability, elsewhere it bends towards the "
         "alignments that skip it. 'sum' here: 'mean' divides by the target length.",
         marks=(),
         torch_gradient=lambda x, gradient: gradient - math.exp(x),
         torch_gradient_note="torch's ctc_loss backward returns the gradient with respect to the logits "
                             "behind a log_softmax, the true derivative plus exp(log_probs) "
                             "(pytorch/pytorch#52241): its markers are drawn minus exp(x)"),
    Plot("gaussian_nll_loss", "var", (0,), (-9, 1, 150),
         {"input": [0.0], "target": [0.1], "var": [1.0]},
         (Curve("eps 1e-6", {}), Curve("eps 1e-3", {"eps": 1e-3}), Curve("eps 1e-6, full", {"full": True})),
         "var, log scale (input 0, target 0.1)",
         "var is clamped at eps (without a gradient): below eps the loss is flat and its gradient 0; above, "
         "0.5 (log var + 0.01 / var) has its minimum at var = 0.01; full adds the constant 0.5 log(2 pi).",
         xscale="log", yscale="symlog", marks=((1e-6, "eps 1e-6"), (1e-3, "eps 1e-3"), (0.01, "(x-y)^2"))),
    Plot("hinge_embedding_loss", "input", (0,), (-1, 3, 150),
         {"input": [0.0], "target": [-1.0]},
         (Curve("target -1, margin 1", {}), Curve("target -1, margin 2", {"margin": 2.0}),
          Curve("target 1", {}, {"target": [1.0]})),
         "input x (a distance)",
         "target 1 is the distance itself; target -1 is the hinge max(0, margin - x), zero past the margin.",
         marks=((1.0, "margin 1"), (2.0, "margin 2"))),
    Plot("huber_loss", "input", (0,), (-3, 3, 150),
         {"input": [0.0], "target": [0.0]},
         (Curve("delta 1", {}), Curve("delta 2", {"delta": 2.0}), Curve("delta 0.5", {"delta": 0.5})),
         "input x (target 0)",
         "Quadratic within delta, linear (slope delta) outside: the gradient is x clamped to [-delta, delta].",
         marks=((-1.0, "-1"), (1.0, "1"), (-2.0, "-2"), (2.0, "2"), (-0.5, ""), (0.5, "0.5"))),
    Plot("kl_div", "input", (0,), (-4, 1, 150),
         {"input": [0.0], "target": [0.3]},
         (Curve("log_target False, target 0.3", {}),
          Curve("log_target True, target log 0.3", {"log_target": True}, {"target": [_LOG(0.3)]})),
         "input (a log-probability)",
         "target (log t - input): linear in the input with slope -t. log_target only says the target is "
         "given as its log, so the two curves are the same.",
         marks=((_LOG(0.3), "input = log t"),)),
    Plot("l1_loss", "input", (0,), (-2, 2, 150),
         {"input": [0.0], "target": [0.0]},
         (Curve("no weight", {}), Curve("weight 2", {"weight": [2.0]})),
         "input x (target 0)",
         "|x - y|: a kink at the target, where the gradient is sign(0) = 0.",
         marks=((0.0, "x = y"),)),
    Plot("linear_cross_entropy", "input", (0, 0), (-6, 6, 150),
         {"input": [[0.0, 1.0]], "linear_weight": [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]], "target": [0]},
         (Curve("label_smoothing 0", {}), Curve("label_smoothing 0.2", {"label_smoothing": 0.2})),
         "input[0, 0] (logits = input @ linear_weight.T, target class 0)",
         "cross_entropy of the projected logits: the first input feature raises the target's logit and "
         "lowers class 2's; label smoothing lifts the floor as in cross_entropy.",
         marks=()),
    Plot("margin_ranking_loss", "input1", (0,), (-3, 3, 150),
         {"input1": [0.0], "input2": [0.0], "target": [1.0]},
         (Curve("target 1, margin 0", {}), Curve("target 1, margin 1", {"margin": 1.0}),
          Curve("target -1, margin 1", {"margin": 1.0}, {"target": [-1.0]})),
         "input1 x1 (input2 = 0)",
         "max(0, -y (x1 - x2) + margin): a hinge at x1 - x2 = y margin.",
         marks=((0.0, "0"), (1.0, "1"), (-1.0, "-1"))),
    Plot("mse_loss", "input", (0,), (-2, 2, 150),
         {"input": [0.0], "target": [0.0]},
         (Curve("no weight", {}), Curve("weight 2", {"weight": [2.0]})),
         "input x (target 0)",
         "(x - y)^2, the gradient 2 (x - y), both scaled by the weight.",
         marks=()),
    Plot("multi_margin_loss", "input", (0, 0), (-3, 3, 150),
         {"input": [[0.0, 0.5, 0.0]], "target": [1]},
         (Curve("p 1, margin 1", {}), Curve("p 2, margin 1", {"p": 2}), Curve("p 1, margin 2", {"margin": 2.0})),
         "input[0, 0] (a wrong class's score; the target's is 0.5)",
         "sum over wrong classes of max(0, margin - x_y + x_i)^p / C: a hinge where the wrong class comes "
         "within the margin of the target (x = 0.5 - margin); p 2 squares it, so its gradient is continuous.",
         marks=((-0.5, "margin 1"), (-1.5, "margin 2"))),
    Plot("multilabel_margin_loss", "input", (0, 0), (-3, 3, 150),
         {"input": [[0.0, 0.5, 0.0, -0.5]], "target": [[0, -1, 0, 0]]},
         (Curve("targets {0}", {}), Curve("targets {0, 1}", {}, {"target": [[0, 1, -1, 0]]})),
         "input[0, 0] (a target class's score; the others 0.5, 0, -0.5)",
         "sum over target j and non-target i of max(0, 1 - (x_j - x_i)) / C: one hinge per non-target class, "
         "at x = x_i + 1, so the slope steps down by 1/C at each.",
         marks=((0.5, "x = -0.5 + 1"), (1.0, "0 + 1"), (1.5, "0.5 + 1"))),
    Plot("multilabel_soft_margin_loss", "input", (0, 0), (-6, 6, 150),
         {"input": [[0.0, 1.0]], "target": [[1.0, 0.0]]},
         (Curve("target 1", {}), Curve("target 0", {}, {"target": [[0.0, 0.0]]}),
          Curve("target 1, weight 2", {"weight": [2.0, 1.0]})),
         "input[0, 0] (the other class's logit 1)",
         "Binary cross-entropy with logits per class, averaged over the classes: smooth, no clamp.",
         marks=()),
    Plot("nll_loss", "input", (0, 0), (-4, 0, 150),
         {"input": [[0.0, -1.0, -2.0]], "target": [0]},
         (Curve("target 0", {}), Curve("target 0, weight 2", {"weight": [2.0, 1.0, 1.0]}),
          Curve("target 1", {}, {"target": [1]}), Curve("target 0, ignore_index 0", {"ignore_index": 0})),
         "input[0, 0] (class 0's log-probability)",
         "-w_y input[y]: linear in the target's entry, flat in any other, and 0 for an ignored target.",
         marks=()),
    Plot("poisson_nll_loss", "input", (0,), (0, 3, 150),
         {"input": [1.0], "target": [2.0]},
         (Curve("log_input True", {}), Curve("log_input False", {"log_input": False}),
          Curve("log_input False, full", {"log_input": False, "full": True})),
         "input (target 2)",
         "log_input True: exp(x) - y x (the input is the log-rate); False: x - y log(x + eps), which eps "
         "keeps finite at x = 0; full adds Stirling's term for y > 1 (a constant).",
         marks=((_LOG(2.0), "log 2"), (2.0, "x = y"))),
    Plot("smooth_l1_loss", "input", (0,), (-3, 3, 150),
         {"input": [0.0], "target": [0.0]},
         (Curve("beta 1", {}), Curve("beta 0.5", {"beta": 0.5}), Curve("beta 2", {"beta": 2.0})),
         "input x (target 0)",
         "0.5 x^2 / beta within beta, |x| - 0.5 beta outside: the gradient is x / beta clamped to [-1, 1] "
         "(huber divided by beta).",
         marks=((-1.0, "-1"), (1.0, "1"), (-0.5, ""), (0.5, "0.5"), (-2.0, "-2"), (2.0, "2"))),
    Plot("soft_margin_loss", "input", (0,), (-5, 5, 150),
         {"input": [0.0], "target": [1.0]},
         (Curve("target 1", {}), Curve("target -1", {}, {"target": [-1.0]})),
         "input x",
         "log(1 + exp(-y x)): a smooth hinge, with no margin.",
         marks=()),
    Plot("triplet_margin_loss", "anchor", (0, 0), (-3, 5, 150),
         {"anchor": [[0.0, 0.0]], "positive": [[0.0, 1.0]], "negative": [[2.0, 0.0]]},
         (Curve("margin 1", {}), Curve("margin 0.5", {"margin": 0.5}), Curve("margin 1, swap", {"swap": True}),
          Curve("margin 1, p 1", {"p": 1})),
         "anchor[0, 0] (anchor = (x, 0), positive (0, 1), negative (2, 0))",
         "max(0, d(a, p) - d(a, n) + margin) with d(u, v) = ||u - v + eps||_p: zero until the anchor is "
         "margin closer to the negative (x = 0 for margin 1, 5/12 for 0.5), flat again past the negative; "
         "swap uses d(p, n) = sqrt(5) where it is smaller than d(a, n) (|x - 2| > sqrt(5)), so the loss rises "
         "on both far sides; p 1 measures with the 1-norm.",
         marks=((0.0, "margin 1"), (5 / 12, "margin 0.5"), (-math.sqrt((math.sqrt(5) - 1) ** 2 - 1), "swap"), (2 + math.sqrt(5), "swap"))),
    Plot("triplet_margin_with_distance_loss", "anchor", (0, 0), (-3, 5, 150),
         {"anchor": [[0.0, 0.0]], "positive": [[0.0, 1.0]], "negative": [[2.0, 0.0]]},
         (Curve("margin 1", {}), Curve("margin 0.5", {"margin": 0.5}), Curve("margin 1, swap", {"swap": True})),
         "anchor[0, 0] (anchor = (x, 0), positive (0, 1), negative (2, 0); pairwise_distance)",
         "triplet_margin_loss with the distance as a function (default pairwise_distance, p = 2): a hinge "
         "at d(a, p) - d(a, n) = -margin; swap takes the smaller of d(a, n) and d(p, n).",
         marks=((0.0, "margin 1"), (5 / 12, "margin 0.5"), (-math.sqrt((math.sqrt(5) - 1) ** 2 - 1), "swap"), (2 + math.sqrt(5), "swap"))),
)}
