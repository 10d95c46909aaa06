"""One page per loss: everything the suite knows about it, reached from its registry record.

    python -m tests.pages --write     # rewrite docs/losses/<loss>.md and docs/losses/README.md
    python -m tests.pages cross_entropy   # print one page

Each page is generated from the loss's ``LossRecord`` (tests/registry/) and what the record
reaches: the reference function, the samples with their tags, the error cases, the known
torch quirks (``record.quirks``), the release changes (``record.changes``), the fixture
cases (``record.fixtures``) and the tests the registry parametrizes for it. The text is
the same on every machine and torch release (the records as declared, for the newest
torch; no dates, versions or absolute paths); tests/test_pages.py checks the files are
current.

A page is a list of sections, one function each (``SECTIONS``): the formula (the reference's
docstring), the options (its signature, with ``OPTION_MEANINGS``), the worked example
(``lossref.explain``), the picture (tests/plots.py), then the record's facts. To add one,
write ``def _section_x(record) -> list[str]`` and list it there.

The pictures: ``--write`` also draws docs/losses/img/<loss>.png (and ``_small.png``, the
index's thumbnail) and writes the numbers behind them, docs/losses/data/<loss>.json, with
torch's values checked against the references (tests/plots.py); without matplotlib (the
``docs`` extra) it says so in one line and leaves them as they are. A page names the torch
release that drew its markers from that data file, so its text does not depend on the torch
that checks it.
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import json
import sys
from collections import Counter
from pathlib import Path

if __name__ == "__main__" and "lossref" not in sys.modules:
    # Run from the checkout (python -m tests.pages): lossref is this tree's reference/, as
    # the checkout's conftest.py makes it for pytest.
    import conftest  # noqa: F401

import lossref
from lossref import fixtures
from lossref import magnitudes as magnitude_models
from lossref.releases import thread_markdown

from . import plots
from .registry import RECORDS, by_name
from .registry.base import TAGS
from .tolerances import dtype_name

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "losses"
COMMAND = "python -m tests.pages --write"
#: The devices the registry's tests are collected for (tests/session.py, ``--device all``).
DEVICES = ("cpu", "cuda")


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(text) -> str:
    return f"`{text}`" if "`" not in str(text) else f"``{text}``"


def _error_name(error) -> str:
    errors = error if isinstance(error, tuple) else (error,)
    return " or ".join(e.__name__ for e in errors)


def _relative(path) -> str:
    path = Path(path).resolve()
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:   # installed: from the package's parent
        return path.relative_to(Path(lossref.__file__).resolve().parent.parent).as_posix()


def reference_location(record) -> tuple[str, str, int]:
    """(module, file, line) of the reference function."""
    fn = inspect.unwrap(record.reference)
    return fn.__module__, _relative(inspect.getsourcefile(fn)), inspect.getsourcelines(fn)[1]


# --- what the suite runs: the registry's parametrization, counted ---------------------

def _fixture_counts(record) -> dict[str, int]:
    """How many parameters each registry fixture takes for ``record`` (as tests/session.py's
    ``pytest_generate_tests`` builds them, with ``--device all``, from the declared record)."""
    samples = list(record.declared("samples")())
    dtypes, unsupported = record.declared("dtypes"), record.declared("unsupported")

    def cases(gradient: bool) -> int:
        return sum(1 for sample in samples if not gradient or sample.grad for device in DEVICES
                   for dtype in dtypes.get(device, ()) if sample.dtypes is None or dtype in sample.dtypes)

    from .test_layouts import cases_of   # draws the samples once, as its collection does

    return {
        "device_case": cases(False),
        "gradient_case": cases(True),
        "record_sample": len(samples),
        "error_case": sum(1 for _ in record.declared("errors")()),
        "unsupported_case": sum(len(unsupported.get(device, ())) for device in DEVICES),
        "record": 1,
        "layout_case": sum(1 for _ in cases_of(record, samples, declared=True)),
        "device": len(DEVICES),
    }


@functools.lru_cache(maxsize=1)
def registry_tests() -> list[tuple[str, str, tuple[str, ...]]]:
    """(module file, test function, the registry fixtures it takes) for every test of the
    suite parametrized from the registry, read from the test modules' source."""
    found = []
    names = {"device_case", "gradient_case", "record_sample", "error_case", "unsupported_case", "record",
             "layout_case"}
    for path in sorted(Path(__file__).resolve().parent.glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                args = tuple(a.arg for a in node.args.args)
                if names & set(args):
                    found.append((path.name, node.name, tuple(a for a in args if a in names or a == "device")))
    return found


def test_counts(record) -> list[tuple[str, int]]:
    """(``module::function``, number of tests collected for ``record``)."""
    counts = _fixture_counts(record)
    out = []
    for module, function, fixtures_taken in registry_tests():
        n = 1
        for name in fixtures_taken:
            n *= counts[name]
        if n:
            out.append((f"{module}::{function}", n))
    return out


# --- the sections of a page ------------------------------------------------------------

#: One line per option name: what it does. ``(loss, name)`` where a name means something else
#: for that loss. A loss gaining an option without a line here fails the page's generation.
OPTION_MEANINGS = {
    "reduction": "`'none'`: one loss per element (or sample); `'mean'`: their (weighted) mean; `'sum'`: their sum",
    "weight": "a rescaling weight per element (or per class), multiplying each term",
    ("cross_entropy", "weight"): "a weight per class, multiplying each target class's term (and the 'mean' denominator, for class indices)",
    ("nll_loss", "weight"): "a weight per class, multiplying each target's term and the 'mean' denominator",
    ("multi_margin_loss", "weight"): "a weight per class, multiplying the terms of each sample by its target class's weight",
    ("linear_cross_entropy", "weight"): "a weight per class, as in cross_entropy",
    ("huber_loss", "weight"): "a weight per element; the 'mean' still divides by the element count",
    "pos_weight": "a weight on the positive term (target 1) per class: > 1 raises recall, < 1 precision",
    "ignore_index": "a target value that contributes nothing, to the loss or to the 'mean' denominator",
    ("linear_cross_entropy", "ignore_index"): "a target value that contributes nothing (None: every target counts)",
    "label_smoothing": "ε in [0, 1]: the target becomes (1 - ε) one-hot + ε / C uniform, so the loss never reaches 0",
    "log_input": "True: the input is the log of the rate, loss exp(x) - y x; False: the rate itself, x - y log(x + eps)",
    ("poisson_nll_loss", "full"): "add Stirling's approximation of log(y!), y log y - y + 0.5 log(2π y), for targets > 1",
    ("gaussian_nll_loss", "full"): "add the constant 0.5 log(2π)",
    ("gaussian_nll_loss", "eps"): "var is clamped to at least eps (the clamp passes no gradient), for stability",
    ("poisson_nll_loss", "eps"): "added inside the log when log_input is False: log(x + eps), finite at x = 0",
    ("triplet_margin_loss", "eps"): "added to the difference before the norm, ||a - b + eps||_p, so the norm's gradient is finite at 0",
    "beta": "the width of the quadratic zone: 0.5 x² / beta within beta, |x| - 0.5 beta outside (0: plain l1)",
    "delta": "where the quadratic turns linear: 0.5 x² within delta, delta (|x| - 0.5 delta) outside",
    "margin": "how far past the boundary a pair must be before its term reaches 0",
    ("cosine_embedding_loss", "margin"): "for target -1: the cosine below which a pair costs nothing, max(0, cos - margin)",
    ("hinge_embedding_loss", "margin"): "for target -1: the distance beyond which an input costs nothing, max(0, margin - x)",
    ("margin_ranking_loss", "margin"): "the gap the ranking must clear: max(0, -y (x1 - x2) + margin)",
    ("multi_margin_loss", "margin"): "the gap each wrong class must stay below the target's score",
    ("triplet_margin_loss", "margin"): "the gap d(a, n) must clear over d(a, p)",
    ("triplet_margin_with_distance_loss", "margin"): "the gap d(a, n) must clear over d(a, p)",
    ("multi_margin_loss", "p"): "the exponent of each hinge term: 1 or 2 (squared hinge)",
    ("triplet_margin_loss", "p"): "the degree of the p-norm that measures distances",
    "swap": "use min(d(a, n), d(p, n)) as the negative distance (the distance swap of Balntas et al.)",
    "distance_function": "the distance d(u, v) between rows (None: pairwise_distance, the 2-norm)",
    "log_target": "the target is given as a log-probability (the same loss, computed from log t)",
    "zero_infinity": "replace an infinite loss (a target no alignment can emit) and its gradient by 0",
    "blank": "the class index of the blank label",
    "linear_bias": "a bias per class added to the projected logits (None: none)",
}


def option_meaning(loss: str, name: str) -> str:
    return OPTION_MEANINGS.get((loss, name)) or OPTION_MEANINGS[name]


def _fence(text: str, language: str = "text") -> list[str]:
    """``text`` in a code block, as-is, with a fence longer than any backtick run inside it."""
    run = max((len(r) for r in "".join(c if c == "`" else " " for c in text).split()), default=0)
    fence = "`" * max(3, run + 1)
    return [fence + language, *text.splitlines(), fence]


def _section_formula(record) -> list[str]:
    doc = inspect.getdoc(getattr(lossref, record.name)) or "(no docstring)"
    return ["## Formula", "", f"The reference's docstring (`lossref.{record.name}.__doc__`), as written:", "",
            *_fence(doc)]


def _section_options(record) -> list[str]:
    parameters = [p for p in inspect.signature(getattr(lossref, record.name)).parameters.values()
                  if p.default is not p.empty]
    lines = ["## Options", ""]
    if not parameters:
        return lines + ["None."]
    lines += ["| option | default | what it does |", "|---|---|---|"]
    for p in parameters:
        lines.append(f"| `{p.name}` | {_cell(_code(repr(p.default)))} | {_cell(option_meaning(record.name, p.name))} |")
    return lines


def _section_worked_example(record) -> list[str]:
    from lossref.explain import render, walkthrough

    return ["## Worked example", "", *_fence(render(walkthrough(record.name)).rstrip("\n")), "",
            f"Run it: `python -m lossref explain {record.name}`"]


def overlay_phrase(release: str) -> str:
    """How a page names the torch release whose values the picture's markers show (read from
    docs/losses/data/<loss>.json: the generating machine's, not the one checking the page)."""
    return f"torch {release}"


def _section_picture(record) -> list[str]:
    plot = plots.PLOTS[record.name]
    data = plots.recorded(record.name)
    lines = ["## The loss and its gradient, drawn", ""]
    if data is None:
        return lines + [f"Not drawn yet: run `{COMMAND}` with matplotlib installed (`pip install lossref[docs]`)."]
    where = "][".join(str(i) for i in plot.index)
    start, stop, points = plot.x
    span = f"10^{start:g} to 10^{stop:g}, log scale" if plot.xscale == "log" else f"{start:g} to {stop:g}"
    fixed = ", ".join(f"`{k}={v!r}`" for k, v in plot.args.items() if k != plot.vary)
    lines += [f"![{record.name} and its gradient against {plot.vary}[{where}]](img/{record.name}.png)", "",
              plot.note, "",
              f"`{plot.vary}[{where}]` varies from {span} ({points} points; its other entries as in "
              f"`{plot.vary}={plot.args[plot.vary]!r}`); fixed: {fixed}; `reduction='sum'`. Curves:", ""]
    for curve in plot.curves:
        changes = [f"`{k}={v!r}`" for k, v in {**curve.options, **curve.fixed}.items()]
        lines.append(f"- {curve.label}: {', '.join(changes) if changes else 'the defaults'}")
    lines += ["", f"Lines: the reference (`lossref.{record.name}`, `lossref.{record.name}_backward`). Markers: "
              f"{overlay_phrase(data['torch'])}'s values (float64, CPU, autograd), every {plots.MARKER_EVERY}th point; "
              "all points were checked to agree within the suite's float64 tolerance when the picture was drawn.",
              "The numbers: [data/" + record.name + ".json](data/" + record.name + ".json)."]
    if plot.torch_gradient_note:
        lines[-1:-1] = [f"The gradient's markers: {plot.torch_gradient_note}."]
    if plot.marks:
        lines += ["Dashed lines: " + "; ".join(f"x = {x:.4g}" + (f" ({label})" if label and label != f"{x:g}" else "")
                                        for x, label in plot.marks)
                  + "."]
    if any(q.name == "clamp-boundary-subgradient" for q in record.quirks):
        lines[-1] += (" No point lies on a hinge's kink: there the gradient is a choice of subgradient (the "
                      "reference's 0; torch's one-sided slope before 2.14, the quirk below).")
    return lines



def _section_title(record) -> list[str]:
    module = f" (`torch.nn.{record.module}`)" if record.module else " (no `torch.nn` module)"
    return [f"# `{record.name}`", "",
            f"`torch.nn.functional.{record.name}`{module}: everything the suite knows about it, generated by",
            f"`{COMMAND}` from its registry record. Index: [README.md](README.md)."]


def _section_reference(record) -> list[str]:
    module, path, line = reference_location(record)
    doc = inspect.getdoc(record.reference) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return ["## Reference", "",
            f"`lossref.{record.name}` in `{module}` ([{path}:{line}](../../{path}#L{line})):", "",
            f"> {first}" if first else "> (no docstring)"]


def _section_record(record) -> list[str]:
    path, line = record.location
    lines = ["## Registry record", "",
             f"[{path}:{line}](../../{path}#L{line}): `LossRecord(name=\"{record.name}\", ...)`.", ""]
    for device, dtypes in record.declared("dtypes").items():
        lines.append(f"- dtypes on {device}: {', '.join(dtype_name(d) for d in dtypes) or 'none'}")
    for device, dtypes in record.declared("unsupported").items():
        if dtypes:
            lines.append(f"- refused on {device} (tested as still refused): {', '.join(dtype_name(d) for d in dtypes)}")
    conditioning = getattr(record, "conditioning", 1.0)
    if conditioning != 1.0:
        lines.append(f"- conditioning {conditioning:g}: {getattr(record, 'conditioning_reason', '')}")
    if record.gradient_transform is not None:
        lines.append(f"- gradients through an input transform: {record.gradient_transform.reason}")
    for name in ("value_magnitude", "gradient_magnitude"):
        fn = getattr(record, name)
        if fn is not None:
            where = (f'lossref.magnitudes.{name}("{record.name}")' if fn is getattr(magnitude_models, name)(record.name)
                     else fn.__qualname__)
            lines.append(f"- {name.replace('_', ' ')}: `{where}` (the per-entry model of lossref.tolerance)")
    return lines


def _section_samples(record) -> list[str]:
    samples = list(record.declared("samples")())
    tags = Counter(tag for sample in samples for tag in sample.tags)
    lines = [f"## Samples ({len(samples)})", "",
             "Valid calls, compared with torch forward and backward. Tags: "
             + ", ".join(f"{_code(t)} {tags[t]}" for t in TAGS if tags[t]) + ".", "",
             "| sample | tags | dtypes |", "|---|---|---|"]
    for sample in samples:
        dtypes = "all" if sample.dtypes is None else ", ".join(dtype_name(d) for d in sample.dtypes)
        grad = "" if sample.grad else " (no gradient)"
        lines.append(f"| {_code(sample.id)} | {', '.join(t for t in TAGS if t in sample.tags)} | {dtypes}{grad} |")
    return lines


def _section_errors(record) -> list[str]:
    errors = list(record.declared("errors")())
    lines = [f"## Error cases ({len(errors)})", ""]
    if not errors:
        return lines + ["None."]
    lines += ["Inputs torch refuses; the reference must refuse them too, naming the argument.", "",
              "| error case | torch raises | the reference raises |", "|---|---|---|"]
    for case in errors:
        lines.append(f"| {_code(case.id)} | {_error_name(case.torch_error)}: {_cell(_code(case.torch_match))} | "
                     f"{_error_name(case.reference_error)}: {_cell(_code(case.reference_match))} |")
    return lines


def _section_quirks(record) -> list[str]:
    quirks = record.quirks
    lines = [f"## Known torch quirks ({len(quirks)})", ""]
    if not quirks:
        return lines + ["None: torch is expected to agree everywhere."]
    lines += ["Expected failures (tests/quirks.py, records in `lossref.quirks`).", ""]
    order = {tag: i for i, tag in enumerate(TAGS)}
    for q in quirks:
        kinds = " or ".join(" and ".join(_code(t) for t in sorted(s, key=lambda t: (order.get(t, len(order)), t)))
                            for s in q.tags)
        named = ", ".join(_code(i) for i in q.samples)
        samples = (f"samples tagged {kinds}" + (f", and the samples {named}" if named else "") if kinds
                   else f"samples {named}")
        tier, page = (("torch.compile", "compiled.md") if q.implementation.startswith("compile")
                      else ("the sharded tier", "sharded.md"))
        where = ([f"torch's `{q.implementation}` ({tier}, [{page}](../{page}))"]
                 if q.implementation != "torch" else []) + [samples, f"devices {', '.join(q.devices)}",
                                                            f"tests {', '.join(q.tests)}"]
        if q.splits is not None:
            where.append(f"splits with {', '.join(q.splits)}")
        if q.documented:
            where.append("a documented limit: the expected failure is its refusal")
        if q.hangs:
            where.append("hangs: not run")
        if q.dtypes is not None:
            where.append(f"dtypes {', '.join(q.dtypes)}")
        if tuple(q.layouts) != ("contiguous",):
            where.append(f"layouts {', '.join(q.layouts)}")
        if not q.deterministic:
            where.append("not strict (torch's value is garbage, or right on some draws: it may match)")
        if q.fixed_in:
            where.append(f"fixed in torch {q.fixed_in}")
        lines += [f"- **{q.name}**: {q.reason}.", f"  Thread: {thread_markdown(q.thread)}.", f"  Where: {'; '.join(where)}."]
    return lines


def _section_changes(record) -> list[str]:
    changes = record.changes
    lines = [f"## Changes by torch release ({len(changes)})", ""]
    if not changes:
        return lines + ["None."]
    lines += ["What older releases do instead (the suite expects it there: docs/torch-releases.md).", "",
              "| release | what changed | thread | before |", "|---|---|---|---|"]
    for c in changes:
        scope = " (every loss)" if "*" in c.loss else ""
        lines.append(f"| {c.release} | {_cell(c.what)}{scope} | {_cell(thread_markdown(c.thread))} | {_cell(c.before)} |")
    return lines


def _section_fixtures(record) -> list[str]:
    names = record.fixtures
    lines = [f"## Fixtures ({len(names)})", ""]
    if not names:
        return lines + ["None."]
    lines += [f"Citable expected values in `fixtures/{record.name}/` (`lossref.fixtures.load(name)`).", "",
              "| case | description |", "|---|---|"]
    for name in names:
        raw = json.loads((fixtures.root() / f"{name}.json").read_text(encoding="utf-8"))
        lines.append(f"| {_code(name)} | {_cell(raw.get('description', ''))} |")
    return lines


def _section_tests(record) -> list[str]:
    counts = test_counts(record)
    lines = [f"## What the suite checks ({sum(n for _, n in counts)} tests)", "",
             "Tests the registry parametrizes for this loss, as collected with `--device all` on the newest",
             "torch the records describe (cuda tests skip without a GPU; tests that name losses themselves,",
             "such as tests/test_coverage.py, come on top).", "",
             "| test | collected |", "|---|---|"]
    lines += [f"| `tests/{name}` | {n} |" for name, n in counts]
    return lines


#: The sections of every page, in order.
SECTIONS = (_section_title, _section_formula, _section_options, _section_worked_example, _section_picture, _section_reference, _section_record, _section_samples, _section_errors,
            _section_quirks, _section_changes, _section_fixtures, _section_tests)


def page(record) -> str:
    """docs/losses/<record.name>.md."""
    blocks = ["\n".join(section(record)) for section in SECTIONS]
    return "\n\n".join(blocks) + "\n"


def index() -> str:
    """docs/losses/README.md: one row per loss."""
    lines = ["# The losses", "",
             f"One page per loss, generated by `{COMMAND}` from the registry (tests/registry/): the",
             "formula, the options, the loss and its gradient drawn (the reference's lines under torch's",
             "markers), the reference, the registry record, its samples and their tags, error cases, known",
             "torch quirks, changes by torch release, fixtures and what the suite checks.", "",
             "| loss | picture | reference | registry record | samples | error cases | quirks | release changes | fixtures |",
             "|---|---|---|---|---|---|---|---|---|"]
    for record in RECORDS:
        module, _, _ = reference_location(record)
        path, line = record.location
        picture = (f"[![{record.name}](img/{record.name}_small.png)]({record.name}.md)"
                   if plots.recorded(record.name) is not None else "")
        lines.append(f"| [`{record.name}`]({record.name}.md) | {picture} | `{module}` | [{path}:{line}](../../{path}#L{line}) "
                     f"| {sum(1 for _ in record.declared('samples')())} | {sum(1 for _ in record.declared('errors')())} "
                     f"| {len(record.quirks)} | {len(record.changes)} | {len(record.fixtures)} |")
    lines += ["", "Sample tags (tests/registry/base.py `TAGS`):", ""]
    lines += [f"- `{tag}`: {meaning}" for tag, meaning in TAGS.items()]
    return "\n".join(lines) + "\n"


def paths() -> list[Path]:
    """Every file under docs/losses/."""
    return [PAGES / f"{record.name}.md" for record in RECORDS] + [PAGES / "README.md"]


def pages() -> dict[Path, str]:
    """Every file under docs/losses/ and its text."""
    out = {PAGES / f"{record.name}.md": page(record) for record in RECORDS}
    out[PAGES / "README.md"] = index()
    return out


def write_plots() -> None:
    """docs/losses/data/<loss>.json and docs/losses/img/<loss>.png (and _small.png) for every loss,
    checked against torch; skipped, in one line, without matplotlib (the ``docs`` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("skipped the plots (docs/losses/img/, docs/losses/data/): matplotlib is not installed "
              "(pip install lossref[docs])")
        return
    import torch

    release = torch.__version__.split("+")[0]
    worst = {record.name: plots.write(plots.PLOTS[record.name], release, draw_pictures=True) for record in RECORDS}
    loss = max(worst, key=worst.get)
    print(f"drew {len(worst)} plots under {_relative(plots.IMAGES)}/ with torch {release}'s markers "
          f"(largest difference {worst[loss]:.2g} of the float64 tolerance, {loss})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pages", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite docs/losses/")
    parser.add_argument("loss", nargs="?", help="print this loss's page")
    options = parser.parse_args(argv)
    if options.write:
        PAGES.mkdir(parents=True, exist_ok=True)
        write_plots()   # first: the pages name the release whose markers the pictures show
        for path, text in pages().items():
            path.write_text(text, encoding="utf-8")
        print(f"wrote {len(RECORDS) + 1} files under {_relative(PAGES)}/")
    elif options.loss:
        sys.stdout.write(page(by_name[options.loss]))
    else:
        sys.stdout.write(index())
    return 0


if __name__ == "__main__":
    sys.exit(main())
