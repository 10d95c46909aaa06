"""The citable fixtures: they validate, they are their definitions, the float64 reference is
within each value's stated float64 bound of the oracle's expected values, the implementation
under test reproduces them within their tolerance (values and gradients), and they agree
with what their source printed. A loader that meets a broken file names the file and field.

Nothing here compares a float computed on this machine bit for bit with one computed
elsewhere: the expected values are the oracle's (mpmath, integer arithmetic: the same bits
everywhere), and the reference is held to a bound, not to bits. Two tests prove it by
construction (issue 8): every value the reference computes moved by a few ulps still passes;
a changed input, option or expected value fails.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import lossref
from lossref import fixtures
from lossref.fixtures import FixtureError, build
from lossref.fixtures.cases import specs

from . import quirks, releases
from .compare import assert_matches
from .convert import result_to_numpy
from .fixture_cases import case as loaded, fixture_call, recorded_grad_output
from .parity import expect_quirk, implementation_of
from .printed import assert_printed
from .registry import by_name
from .tolerances import ULPS, Tolerance

NAMES = fixtures.names()
SPECS = {spec.name: spec for spec in specs()}


def test_every_loss_has_fixtures_with_gradients():
    """Every loss has at least five cases, at least one of them with gradients."""
    by_loss = {}
    for name in NAMES:
        case = loaded(name)
        by_loss.setdefault(case.loss, []).append(case)
    assert sorted(set(lossref.LOSSES) - set(by_loss)) == []
    thin = {loss: len(cases) for loss, cases in by_loss.items() if len(cases) < 5}
    assert not thin, f"losses with fewer than 5 fixtures: {thin}"
    assert all(any(c.gradients is not None for c in cases) for cases in by_loss.values())


def test_every_file_has_a_definition_and_back():
    assert sorted(SPECS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_file_is_its_definition(name):
    """Name, loss, description, source, generator, inputs, options, grad_output, printed
    values and tolerance are exactly what lossref.fixtures.cases defines (no float is
    computed for them: derived inputs come from lossref.fixtures.cases._exact)."""
    raw = json.loads((fixtures.root() / f"{name}.json").read_text(encoding="utf-8"))
    wanted = build.definition(SPECS[name])
    intermediates = wanted.pop("intermediates", {})
    for key, value in wanted.items():
        assert raw.get(key) == value, f"{name}: field {key!r} is not its definition"
    for key, value in intermediates.items():
        assert raw["intermediates"][key]["printed"] == value["printed"], f"{name}: intermediates/{key}/printed"
    assert raw["provenance"]["digits"] >= 50


@pytest.mark.parametrize("name", NAMES)
def test_reference_within_its_float64_bound(name):
    case = loaded(name)
    problems, _ = build.reference_problems(case.loss, case.args, case.kwargs, case.grad_output, case.expected,
                                           case.gradients, case.float64_bound)
    assert not problems, f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", [n for n in NAMES if SPECS[n].printed is not None or SPECS[n].intermediates])
def test_agrees_with_what_the_source_printed(name):
    case = loaded(name)
    if case.printed is not None:
        assert_printed(case.expected, case.printed, name)
    for key, (expected, printed) in case.intermediates.items():
        if printed is not None:
            assert_printed(expected, printed, f"{name}: {key}")


def _tolerance(case) -> Tolerance:
    return Tolerance(case.tolerance.rtol, case.tolerance.atol)


@pytest.mark.parametrize("spec", [SPECS[name] for name in NAMES], ids=NAMES)   # the spec: the report reads its loss
def test_implementation_reproduces(spec, device, impl, request):
    """The implementation, fed the recorded arrays in their recorded dtypes, gives ``expected``
    within the fixture's tolerance, and its autograd gives ``gradients`` (CTC through a
    log_softmax, the registry's transform: torch differentiates with respect to logits)."""
    name = spec.name
    case = loaded(name)
    record = by_name[case.loss]
    fn = implementation_of(impl, record)
    releases.skip_if_lacking(case.loss, case.args, case.kwargs)   # e.g. l1_loss's weight before torch 2.6
    quirk = SPECS[name].torch_quirk
    if quirk is not None:
        entry = next(q for q in quirks.QUIRKS if q.name == quirk)
        if entry.applies_to_installed_torch() and device in entry.devices:
            expect_quirk(request, entry)
    built = fixture_call(case, record, device)
    out = fn(*built.args, **built.kwargs)
    tol = _tolerance(case)
    assert_matches(result_to_numpy(out), case.expected, tol, name, scale=case.tolerance.scale())
    if not built.leaves:
        return
    got = torch.autograd.grad(out, list(built.leaves.values()), recorded_grad_output(case, out), allow_unused=True)
    for i, g in zip(built.leaves, got):
        want, parameter = case.gradients[i], built.names[i]
        if i == built.transformed:
            want = record.gradient_transform.numpy_vjp(np.asarray(case.args[record.gradient_transform.position],
                                                                  dtype=np.float64), want)
        assert g is not None, f"{name}: no gradient for {parameter}"
        # the file's scale is for the gradient it records: with respect to the logits under a transform, 1
        scale = 1.0 if i == built.transformed else case.tolerance.gradient_scale(i)
        assert_matches(result_to_numpy(g), want, tol, f"{name}: gradient of {parameter}", scale=scale)


def test_the_per_entry_scale_sees_a_small_entry_wrong():
    """A file's per-entry scale (tolerance.scale, lossref.magnitudes) holds a small entry to its own
    size: the article's cross_entropy gradient has an entry of 7.5e-7 (float32 logits), which
    rtol and atol alone (1.9e-6) let be 100 % wrong; with the file's scale, 0 there fails."""
    from .compare import Mismatch
    case = fixtures.load("cross_entropy/article")
    tol, want = _tolerance(case), np.asarray(case.gradients[0], dtype=np.float64)
    small = np.unravel_index(np.argmin(np.abs(want)), want.shape)
    assert 0 < abs(want[small]) < tol.atol    # the entry the O(1) model cannot see
    wrong = want.copy()
    wrong[small] = 0.0
    assert_matches(wrong, want, tol, "without the scale")                       # passes: blind
    with pytest.raises(Mismatch):
        assert_matches(wrong, want, tol, "with the scale", scale=case.tolerance.gradient_scale(0))


def test_tolerance_rule_is_the_suites():
    """One rule (lossref.tolerance) for the suite and the files: every registry record's
    conditioning is the rule's table entry for its loss (the table names registry losses only),
    and every fixture's tolerance is the rule for its narrowest float input and its loss."""
    from lossref import tolerance as rule

    assert ULPS == rule.ULPS
    assert sorted(set(rule.CONDITIONING) - set(by_name)) == []
    for loss, record in by_name.items():
        assert (record.conditioning, record.conditioning_reason) == (rule.conditioning(loss),
                                                                     rule.conditioning_reason(loss)), loss
    wrong = []
    for name in NAMES:
        case = loaded(name)
        floats = [np.asarray(a).dtype.name for a in (*case.args, *case.kwargs.values())
                  if isinstance(a, (np.ndarray, np.generic)) and np.asarray(a).dtype.kind == "f"]
        dtype = max(floats, key=lambda d: rule.EPS[d], default="float64")
        want = rule.ULPS * rule.EPS[dtype] * rule.conditioning(case.loss)
        got = None if case.tolerance is None else (case.tolerance.rtol, case.tolerance.atol)
        if got != (want, want):
            wrong.append(f"{name}: (rtol, atol) {got}, the rule gives {want!r} ({rule.ULPS} eps({dtype}) x "
                         f"{rule.conditioning(case.loss):g})")
    assert not wrong, "\n".join(wrong)


# --- the check holds on every machine, and still catches real changes (issue 8) -------------

def _nudged(fn, ulps: int):
    """``fn`` with every float it returns moved ``ulps`` ulps (alternating up and down): what
    another CPU's exp and log might give."""
    def nudge(value):
        if value is None:
            return None
        array = np.array(value, dtype=np.float64)
        direction = np.where(np.arange(array.size).reshape(array.shape) % 2 == 0, np.inf, -np.inf)
        moved = array
        for _ in range(ulps):
            moved = np.nextafter(moved, direction)
        return np.where(np.isfinite(array), moved, array)   # rounding cannot make nan or inf finite

    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        return tuple(nudge(v) for v in out) if isinstance(out, tuple) else nudge(out)

    return wrapper


class _NudgedReference:
    def __init__(self, ulps):
        self.ulps = ulps

    def __getattr__(self, name):
        return _nudged(getattr(lossref, name), self.ulps)


def test_a_few_ulps_anywhere_in_the_reference_still_pass():
    """Every value the float64 reference computes, on every fixture, moved by 3 ulps: the check passes."""
    nudged = _NudgedReference(3)
    failures = []
    for name in NAMES:
        case = loaded(name)
        problems, _ = build.reference_problems(case.loss, case.args, case.kwargs, case.grad_output, case.expected,
                                               case.gradients, case.float64_bound, reference_module=nudged)
        failures += [f"{name}: {p}" for p in problems]
    assert not failures, "\n".join(failures[:10])


def test_a_changed_input_or_option_fails():
    spec = SPECS["kl_div/torch_2_13_batchmean"]
    raw = json.loads((fixtures.root() / f"{spec.name}.json").read_text(encoding="utf-8"))
    case = loaded(spec.name)
    changed_input = np.array(spec.args[0], copy=True)
    changed_input.flat[0] = np.nextafter(changed_input.flat[0], np.inf)      # one ulp
    for modified in (spec.__class__(**{**spec.__dict__, "args": (changed_input,) + spec.args[1:]}),
                     spec.__class__(**{**spec.__dict__, "kwargs": {"reduction": "sum"}})):
        wanted = build.definition(modified)
        assert any(raw[k] != wanted[k] for k in ("args", "kwargs")), "a changed definition was not noticed"
    # and the reference, fed the changed input, is compared with the old expected value: an option change shows
    problems, _ = build.reference_problems(spec.loss, spec.args, {"reduction": "sum"}, spec.grad_output,
                                           case.expected, None, case.float64_bound)
    assert problems


def _copy_tree(tmp_path, names):
    for name in names:
        target = tmp_path / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixtures.root() / f"{name}.json", target)
    shutil.copy(fixtures.root() / "schema.json", tmp_path / "schema.json")


def test_the_full_check_passes_and_catches_one_ulp_in_an_expected_value(tmp_path, monkeypatch):
    """``python -m lossref.fixtures check`` (the oracle recomputed: mpmath) passes on each loss's
    first file (CI checks every file, as its own step: 2.4 s of the default suite here); on a copy
    with one expected value moved by one ulp it fails and names the field."""
    pytest.importorskip("mpmath")
    first_of_each_loss = {min(n for n in NAMES if n.startswith(f"{loss}/")) for loss in {n.split("/")[0] for n in NAMES}}
    lines = []
    assert build.run(write=False, out=lines.append, spec_filter=lambda s: s.name in first_of_each_loss) == 0, \
        "\n".join(lines)
    assert lines[-1].startswith(f"{len(first_of_each_loss)} fixtures: all current"), lines[-1]
    name = "cross_entropy/peaked_0999"
    _copy_tree(tmp_path, [name])
    path = tmp_path / f"{name}.json"
    raw = json.loads(path.read_text())
    raw["expected"]["data"] = float(np.nextafter(raw["expected"]["data"], np.inf))
    path.write_text(build.dumps(raw) + "\n")
    monkeypatch.setattr(build, "root", lambda: tmp_path)
    lines = []
    assert build.run(write=False, out=lines.append, spec_filter=lambda s: s.name == name) == 1
    assert any("expected/data" in line for line in lines), lines


# --- a broken fixture file is reported by name and field ------------------------------

def _copy(tmp_path, name="cross_entropy/article"):
    target = tmp_path / f"{name}.json"
    target.parent.mkdir(parents=True)
    shutil.copy(fixtures.root() / f"{name}.json", target)
    return target


def test_missing_fixture_names_it():
    with pytest.raises(FixtureError, match="no fixture named 'cross_entropy/no_such_case'"):
        fixtures.load("cross_entropy/no_such_case")


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FixtureError, match=r"absent\.json: cannot read"):
        fixtures.load_file(tmp_path / "absent.json")


def test_truncated_file_names_file_and_line(tmp_path):
    path = _copy(tmp_path)
    path.write_text(path.read_text()[:200])
    with pytest.raises(FixtureError, match=r"article\.json: not valid JSON at line \d+"):
        fixtures.load_file(path)


@pytest.mark.parametrize("field, breaking, message", [
    ("loss", lambda raw: raw.pop("loss"), r"'loss' is a required property"),
    ("args/0/dtype", lambda raw: raw["args"][0].update(dtype="float128"), r"field 'args/0/dtype'"),
    ("expected/data", lambda raw: raw["expected"].update(data="3.79"), r"field 'expected/data'"),
    ("extra", lambda raw: raw.update(pickle="gASV"), r"Additional properties are not allowed \('pickle'"),
    ("shape", lambda raw: raw["args"][0].update(shape=[5, 3]), r"field 'args/0/data': has shape \(3, 5\)"),
])
def test_schema_breaking_file_names_field(tmp_path, field, breaking, message):
    path = _copy(tmp_path)
    raw = json.loads(path.read_text())
    breaking(raw)
    path.write_text(json.dumps(raw))
    with pytest.raises(FixtureError, match=message) as error:
        fixtures.load_file(path)
    assert "article.json" in str(error.value)


def test_definitions_compute_no_input_with_numpy_transcendentals():
    """Inputs must be the same bits on every machine: NumPy's exp, log, ... round differently
    on different CPUs, so a derived input goes through lossref.fixtures.cases._exact
    (decimal, correctly rounded) instead. +, -, *, / and sqrt are IEEE-exact everywhere."""
    import inspect
    import re

    from lossref.fixtures import cases

    for module in cases.MODULES:
        source = inspect.getsource(__import__(f"lossref.fixtures.cases.{module}", fromlist=["CASES"]))
        used = re.findall(r"\bnp\.(exp|expm1|log|log1p|log2|log10|sin|cos|tan|tanh|power|logaddexp)\(", source)
        assert not used, f"reference/fixtures/cases/{module}.py computes an input with np.{used[0]}"
