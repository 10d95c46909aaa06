"""The citable fixtures: they load and validate, they are current, the reference and
the implementation under test reproduce them, and they agree with what their source
printed. A loader that meets a broken file names the file and the field."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import reference
from reference import fixtures
from reference.fixtures import FixtureError

from .compare import assert_matches
from .convert import as_tensor, result_to_numpy
from .printed import assert_printed
from .registry import by_name
from .parity import implementation_of
from .tolerances import FLOAT64, Tolerance

ROOT = Path(__file__).resolve().parent.parent
NAMES = fixtures.names()


def test_every_loss_has_a_fixture():
    covered = {fixtures.load(name).loss for name in NAMES}
    assert sorted(set(reference.LOSSES) - covered) == []


def test_fixtures_are_current():
    """Regenerating changes nothing: the files are what their definitions produce."""
    result = subprocess.run([sys.executable, str(ROOT / "fixtures" / "generate.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_reference_reproduces(name):
    case = fixtures.load(name)
    assert_matches(getattr(reference, case.loss)(*case.args, **case.kwargs), case.expected, FLOAT64, name)
    if case.gradients is not None:
        grads = getattr(reference, f"{case.loss}_backward")(case.grad_output, *case.args, **case.kwargs)
        assert len(grads) == len(case.gradients)
        for i, (got, want) in enumerate(zip(grads, case.gradients)):
            assert (got is None) == (want is None), f"{name}: gradient {i}"
            if want is not None:
                assert_matches(got, want, FLOAT64, f"{name}: gradient {i}")


@pytest.mark.parametrize("name", [n for n in NAMES if fixtures.load(n).printed is not None])
def test_agrees_with_what_the_source_printed(name):
    case = fixtures.load(name)
    assert_printed(case.expected, case.printed, name)
    for key, (expected, printed) in case.intermediates.items():
        if printed is not None:
            assert_printed(expected, printed, f"{name}: {key}")


@pytest.mark.parametrize("name", NAMES)
def test_implementation_reproduces(name, device, impl):
    """torch, fed the recorded arrays in their recorded dtypes, gives ``expected``
    within the fixture's tolerance (float64 inputs: the float64 rule)."""
    case = fixtures.load(name)
    fn = implementation_of(impl, by_name[case.loss])
    got = fn(*(as_tensor(a, device) for a in case.args),
             **{k: as_tensor(v, device) for k, v in case.kwargs.items()})
    tol = Tolerance(case.tolerance.rtol, case.tolerance.atol) if case.tolerance else FLOAT64
    assert_matches(result_to_numpy(got), case.expected, tol, name)


# --- a broken fixture file is reported by name and field ------------------------------

def _copy(tmp_path, name="article/cross_entropy") -> Path:
    target = tmp_path / f"{name}.json"
    target.parent.mkdir(parents=True)
    shutil.copy(fixtures.root() / f"{name}.json", target)
    return target


def test_missing_fixture_names_it():
    with pytest.raises(FixtureError, match="no fixture named 'article/no_such_case'"):
        fixtures.load("article/no_such_case")


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FixtureError, match=r"absent\.json: cannot read"):
        fixtures.load_file(tmp_path / "absent.json")


def test_truncated_file_names_file_and_line(tmp_path):
    path = _copy(tmp_path)
    path.write_text(path.read_text()[:200])
    with pytest.raises(FixtureError, match=r"cross_entropy\.json: not valid JSON at line \d+"):
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
    assert "cross_entropy.json" in str(error.value)
