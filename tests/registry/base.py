"""The record types of the registry, and the helpers family modules use to fill them.

A ``LossRecord`` describes one loss once: its reference, its torch names, how to draw
valid inputs across its option grid, the inputs torch refuses, and the dtypes torch
supports per device. Every parametrized test walks the records; no test names a loss.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

import numpy as np
import torch

from lossref import magnitudes as magnitude_models
from lossref import tolerance as tolerance_rule

from .. import releases

#: Every floating dtype the suite tests, widest first.
FLOAT_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
REDUCTIONS = ("none", "mean", "sum")


@dataclass(frozen=True)
class Both:
    """An argument that is not an array and differs between the two sides (a distance function)."""

    reference: Any
    torch: Any
    label: str = ""

    def __repr__(self) -> str:
        return self.label or "Both(...)"


Build = Callable[[np.random.Generator], "tuple[tuple, dict]"]

#: Every tag a sample may carry, and what it means. A tag is a kind of input the registry
#: distinguishes; options (reduction, weight, ...) are not tags, they are in the call.
TAGS: dict[str, str] = {
    # the shape of the call
    "scalar": "0-d inputs",
    "unbatched": "one example without a batch axis ((C,) logits, (D,) embeddings, (T, C) CTC)",
    "batch-of-one": "a batch axis of size 1",
    "batched": "a batch of several examples (an elementwise loss: a 1-D or 2-D array)",
    "k-dim": "dimensions beyond the batched kind: (N, C, d1, ...), (N, K, D), (N, D, K)",
    "spatial-2d": "a 4-d (N, C, H, W) input: two dimensions beyond the class axis (torch's nll_loss2d path)",
    "broadcast": "arguments of different shapes that broadcast to the loss's shape",
    # the kind of target
    "class-indices": "integer class indices as the target (nll_loss, cross_entropy, linear_cross_entropy)",
    "probability-targets": "class probabilities as the target (cross_entropy, linear_cross_entropy)",
    "ignored-rows": "some targets equal ignore_index",
    "all-ignored": "every target equals ignore_index (a mean of 0/0)",
    "padded-targets": "CTC targets padded to (N, S)",
    "concatenated-targets": "CTC targets of the batch concatenated in one 1-D array",
    # hand-written edge cases
    "edge": "a hand-written edge case (ids edge-*): a boundary of the domain or of the option grid",
    "empty": "an argument with an axis of size 0",
    "empty-batch": "a batch of N = 0 examples",
    "non-finite": "nan or inf among the inputs",
    "extreme": "inputs of extreme magnitude (logits of 1e4, overflowing exponentials)",
    "kink": "exactly at a kink of the loss, where the gradient is the subgradient convention",
    "non-float": "integer or boolean arrays where the loss takes floats (promoted by torch)",
    # issue 10: where fused kernels break (README, "Sharp cases")
    "sharp": "a sharp case of issue 10: where fused cross-entropy kernels have shipped wrong",
    "peaked": "a softmax peaked at the target (0.999 or more): gradient entries far below 1",
    "large-vocabulary": "a language model's vocabulary (32768 or 262144 classes)",
}


#: The shape kinds the family modules name their grids' shapes by (``SHAPES`` keys), and
#: the tag of each: one convention across families.
SHAPE_KINDS: dict[str, str] = {
    **dict.fromkeys(("0d", "scalar"), "scalar"),
    **dict.fromkeys(("C", "C-t1", "D", "TC"), "unbatched"),
    **dict.fromkeys(("1C", "1D", "T1C"), "batch-of-one"),
    **dict.fromkeys(("N", "NC", "ND", "TNC"), "batched"),
    **dict.fromkeys(("NCd", "NCHW", "NDK", "NKD", "NdC"), "k-dim"),
    **dict.fromkeys(("bcast", "bcast-target", "bcast-input", "bcast-both", "bcast-row", "bcast-col", "bcast-scalar"),
                    "broadcast"),
}


#: Tags some shape kinds carry besides their ``SHAPE_KINDS`` tag.
SHAPE_DETAILS: dict[str, tuple[str, ...]] = {"NCHW": ("spatial-2d",)}


def shape_tags(kind: str, *more: str) -> frozenset[str]:
    """The tags of a grid row of shape kind ``kind`` (``SHAPE_KINDS``, ``SHAPE_DETAILS``), with ``more``."""
    return frozenset((SHAPE_KINDS[kind], *SHAPE_DETAILS.get(kind, ()), *more))


@dataclass(frozen=True)
class Sample:
    """One valid call: ``build(rng)`` returns ``(args, kwargs)``.

    Float NumPy arrays are cast to the dtype under test (torch side) and then fed back,
    rounded, to the reference; integer arrays (class indices, lengths) are passed as
    they are. ``dtypes`` restricts the sample to some dtypes (e.g. logits of ±1e4 make
    no sense in float16); ``None`` means every dtype the record supports.
    """

    id: str
    build: Build
    dtypes: tuple | None = None
    grad: bool = True
    # What kind of input this is (``TAGS``): tests pick samples by their tags, never by
    # parsing ids; the id stays a name (public: adopters' xfail files cite it).
    tags: frozenset[str] = frozenset()

    def __post_init__(self):
        tags = frozenset((self.tags,) if isinstance(self.tags, str) else self.tags)
        unknown = sorted(tags - TAGS.keys())
        if unknown:
            raise ValueError(f"sample {self.id!r}: unknown tags {unknown} (tests/registry/base.py TAGS)")
        object.__setattr__(self, "tags", tags)


@dataclass(frozen=True)
class ErrorCase:
    """An input torch refuses: what torch raises, and what the reference must raise.

    ``reference_match`` must name the offending argument (the contract's rule), so the
    message a user sees says what to fix.
    """

    id: str
    args: tuple
    kwargs: dict
    torch_error: type | tuple
    torch_match: str
    reference_error: type
    reference_match: str
    torch_skip: str = ""       # why torch is not asked (a release that accepts the input: tests/releases.py)


@dataclass(frozen=True)
class InputTransform:
    """Gradient tests through a function of one argument (CTC through log_softmax).

    The sample's argument at ``position`` is the leaf; torch sees ``torch_fn(leaf)``, the
    reference ``numpy_fn(leaf)``, and ``numpy_vjp(leaf, grad)`` carries the reference's
    gradient back to the leaf.
    """

    position: int
    torch_fn: Callable
    numpy_fn: Callable
    numpy_vjp: Callable
    reason: str


@dataclass(frozen=True)
class LossRecord:
    """Everything the suite knows about one loss."""

    name: str                      # torch.nn.functional and reference name
    module: str | None             # torch.nn module class, None if torch has none
    samples: Callable[[], Iterable[Sample]]
    errors: Callable[[], Iterable[ErrorCase]] = lambda: ()
    dtypes: dict = field(default_factory=lambda: {"cpu": FLOAT_DTYPES, "cuda": FLOAT_DTYPES})
    # dtypes torch refuses on a device: tested to be still refused, so that the suite
    # notices when torch starts supporting them.
    unsupported: dict = field(default_factory=dict)
    gradient_transform: InputTransform | None = None
    # Per-entry magnitudes of the terms of each gradient (lossref.tolerance, "Entries far below
    # 1"; derived in lossref.magnitudes, which ``magnitudes(name)`` reads): ``(grad_output, *args, **kwargs)`` (the reference's float64 arrays) ->
    # one ``Magnitude`` or None per array parameter of the forward (positional or keyword-only,
    # in signature order: the entries of ``<name>_backward``). None: the O(1) model.
    gradient_magnitude: Callable | None = None
    # The same for the value: ``(*args, **kwargs)`` -> a ``Magnitude`` of the output's shape.
    value_magnitude: Callable | None = None
    available: Callable[[], bool] = lambda: True   # False where the installed torch lacks the loss

    @property
    def conditioning(self) -> float:
        """How much worse than one rounding per operation this loss is conditioned: its entry
        in ``lossref.tolerance.CONDITIONING`` (the reason is there), 1 for the majority."""
        return tolerance_rule.conditioning(self.name)

    @property
    def conditioning_reason(self) -> str:
        return tolerance_rule.conditioning_reason(self.name)

    def __post_init__(self):
        """Bound the record by the installed torch release (tests/releases.py): samples it
        cannot call the newer way skip with the reason, error cases expect its errors,
        dtypes it lacks (forward or backward) move to ``unsupported``, a loss it predates
        is unavailable."""
        name = self.name
        # As written, for the newest torch: what docs/losses/ describes on any installed release.
        object.__setattr__(self, "_declared", {"samples": self.samples, "errors": self.errors,
                                               "dtypes": self.dtypes, "unsupported": self.unsupported})
        if not releases.holding(name):
            return
        lacking = releases.lacking_dtypes(name)
        dtypes = {d: tuple(t for t in ts if t not in lacking.get(d, ())) for d, ts in self.dtypes.items()}
        unsupported = {d: tuple(dict.fromkeys(self.unsupported.get(d, ()) + lacking.get(d, ())))
                       for d in set(self.unsupported) | set(lacking)}
        samples, errors = self.samples, self.errors

        def bounded_samples():
            for sample in samples():
                def build(rng, build=sample.build):
                    args, kwargs = build(rng)
                    releases.skip_if_lacking(name, args, kwargs)
                    return args, kwargs
                yield replace(sample, build=build)

        def bounded_errors():
            for case in errors():
                error, match, skip = releases.torch_error_before(name, case.id, case.torch_error, case.torch_match,
                                                                 case.kwargs)
                yield replace(case, torch_error=error, torch_match=match, torch_skip=skip)

        for key, value in (("dtypes", dtypes), ("unsupported", unsupported), ("samples", bounded_samples),
                           ("errors", bounded_errors)):
            object.__setattr__(self, key, value)
        if not releases.has_loss(name):
            object.__setattr__(self, "available", lambda: False)

    # --- everything else the suite knows about the loss (docs/losses/<name>.md) ---

    def declared(self, what: str):
        """``samples``, ``errors``, ``dtypes`` or ``unsupported`` as the record declares them
        (the newest torch), before ``__post_init__`` bounds them by the installed release."""
        return self._declared[what]

    @property
    def quirks(self) -> tuple:
        """The known torch bugs that name this loss (tests/quirks.py ``QUIRKS``), in their order."""
        from ..quirks import QUIRKS
        return tuple(q for q in QUIRKS if self.name in ((q.loss,) if isinstance(q.loss, str) else tuple(q.loss)))

    @property
    def changes(self) -> tuple:
        """The torch release changes that concern this loss (tests/releases.py ``CHANGES``),
        those concerning every loss included, in their order."""
        return tuple(c for c in releases.CHANGES if c.concerns(self.name))

    @property
    def fixtures(self) -> tuple[str, ...]:
        """The fixture cases of this loss: the names ``lossref.fixtures.names()`` gives under
        ``fixtures/<name>/``."""
        from lossref import fixtures
        return tuple(n for n in fixtures.names() if n.startswith(f"{self.name}/"))

    @property
    def reference(self) -> Callable:
        """The reference function, ``lossref.<name>``."""
        import lossref
        return getattr(lossref, self.name)

    @property
    def location(self) -> tuple[str, int]:
        """Where this record is written: the family module's path (from the suite's parent
        folder: ``tests/registry/<family>.py`` in the checkout) and the line of ``LossRecord(``."""
        import importlib
        import inspect
        from pathlib import Path

        import lossref

        for family in lossref.FAMILIES:
            module = importlib.import_module(f"{__package__}.{family}")
            if any(r is self for r in module.RECORDS):
                path = inspect.getsourcefile(module)
                return (Path(path).resolve().relative_to(Path(__file__).resolve().parents[2]).as_posix(),
                        _record_lines(path)[self.name])
        raise LookupError(f"no family module writes the record of {self.name}")


@functools.lru_cache(maxsize=None)
def _record_lines(path: str) -> dict[str, int]:
    """loss name -> the line of its ``LossRecord(`` in the family module at ``path``."""
    import ast
    from pathlib import Path

    return {k.value.value: node.lineno for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LossRecord"
            for k in node.keywords if k.arg == "name" and isinstance(k.value, ast.Constant)}


# --- drawing inputs -----------------------------------------------------------------

def logits(rng: np.random.Generator, shape, scale: float = 2.0) -> np.ndarray:
    """Normal logits; scale 2 puts softmax probabilities across several decades."""
    return rng.normal(0.0, scale, size=shape)


def probabilities(rng: np.random.Generator, shape, axis: int) -> np.ndarray:
    """Rows that sum to 1 along ``axis`` (a softmax of normal draws)."""
    z = rng.normal(size=shape)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def positive(rng: np.random.Generator, shape, low: float = 0.1, high: float = 2.0) -> np.ndarray:
    return rng.uniform(low, high, size=shape)


def class_indices(rng: np.random.Generator, shape, classes: int) -> np.ndarray:
    return rng.integers(0, classes, size=shape, dtype=np.int64)


def product(**axes) -> list[dict]:
    """Every combination of the axes, as dicts: a value for ``pairwise`` that makes options
    whose interaction matters (reduction x weight: the weighted mean) one axis, so that
    every combination of them meets every value of the other axes."""
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def pairwise(axes: dict[str, list]) -> list[dict]:
    """A small set of option combinations in which every pair of values of every two axes
    appears at least once (a greedy pairwise covering design).

    The full product of a loss's options grows multiplicatively; bugs almost always need
    one option or the interaction of two, so covering every pair keeps the grid complete
    where it matters at a fraction of the cost (axes built with ``product`` give the
    interactions of more than two). A value that is a dict is merged into the row.
    Deterministic: same axes, same rows.
    """
    names = list(axes)
    if len(names) == 1:
        return [_merged({names[0]: v}) for v in axes[names[0]]]

    def pair(k, v, m, w):  # (axis, value index, axis, value index) with the axes in order
        return (k, v, m, w) if k < m else (m, w, k, v)

    uncovered = {(a, i, b, j) for a, b in itertools.combinations(range(len(names)), 2)
                 for i in range(len(axes[names[a]])) for j in range(len(axes[names[b]]))}
    rows = []
    while uncovered:
        # Seed the row with the first uncovered pair, then give each other axis the
        # value that covers the most new pairs (ties: the first value).
        a, i, b, j = min(uncovered)
        row = {a: i, b: j}
        for k in range(len(names)):
            if k not in row:
                row[k] = max(range(len(axes[names[k]])),
                             key=lambda v: (sum(pair(k, v, m, row[m]) in uncovered for m in row), -v))
        for x, y in itertools.combinations(sorted(row), 2):
            uncovered.discard((x, row[x], y, row[y]))
        rows.append(_merged({names[k]: axes[names[k]][row[k]] for k in range(len(names))}))
    return rows


def _merged(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        out.update(value if isinstance(value, dict) else {key: value})
    return out


def option_id(options: dict) -> str:
    """A readable test-id fragment for a row of options: ``weight-ls0.1-mean``."""
    parts = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(key)
        elif isinstance(value, str):
            parts.append(value)
        else:
            parts.append(f"{key}{value}")
    return "-".join(parts) or "default"


def magnitudes(name: str) -> dict:
    """A record's ``value_magnitude`` and ``gradient_magnitude`` keywords: the loss's per-entry
    model, derived in ``lossref.magnitudes`` (None where the loss keeps the O(1) model)."""
    return dict(value_magnitude=magnitude_models.value_magnitude(name),
                gradient_magnitude=magnitude_models.gradient_magnitude(name))
