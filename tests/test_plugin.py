"""The suite's plugin as an adopter meets it: ``--xfails`` baselines, failure categories,
``--report`` (valid against its schema), ``--write-xfails`` and the ``lossref`` command.

Each test runs pytest (pytester) on a small sandbox file whose tests fail in known ways,
with the plugin loaded as the ``lossref`` command loads it (``-p <suite>.plugin``).
"""

from __future__ import annotations

import json
import textwrap

import jsonschema
import pytest

from . import cli, xfails
from .report import SCHEMA, Results

PLUGIN = f"{__package__}.plugin"

# Each test fails one way; its id names the loss and device it is about, as the suite's do.
SANDBOX = textwrap.dedent(f"""
    import pytest
    import torch
    from {__package__}.compare import InputModified, Mismatch, assert_matches
    from {__package__}.tolerances import tolerance

    @pytest.mark.parametrize("case", ["mse_loss-cpu"])
    def test_value(case, impl):
        assert_matches([1.0 + 1e-3], [1.0], tolerance(torch.float32), "mse_loss: value", dtype=torch.float32)

    @pytest.mark.parametrize("case", ["mse_loss-cpu"])
    def test_gradient(case):
        raise Mismatch("mse_loss: gradient of input: differs", "mse_loss: gradient of input", "value", "gradient")

    @pytest.mark.parametrize("case", ["l1_loss-cpu"])
    def test_shape(case):
        assert_matches([1.0, 2.0], 1.0, tolerance(torch.float64), "l1_loss: value")

    @pytest.mark.parametrize("case", ["l1_loss-cpu"])
    def test_argument(case):
        torch.nn.functional.l1_loss(torch.ones(1), torch.ones(1), no_such_option=1)

    @pytest.mark.parametrize("case", ["l1_loss-cpu"])
    def test_crash(case):
        raise RuntimeError("a kernel fell over")

    @pytest.mark.parametrize("case", ["nll_loss-cpu"])
    def test_bad_input(case):
        with pytest.raises(Exception):
            pass

    @pytest.mark.parametrize("case", ["nll_loss-cpu"])
    def test_modified(case):
        raise InputModified("nll_loss: the implementation modified its argument 'input'", "nll_loss", "input")

    @pytest.mark.parametrize("case", ["nll_loss-cpu"])
    def test_torch_refuses(case):
        with pytest.raises(ValueError, match="torch's message"):
            raise ValueError("another message")

    @pytest.mark.parametrize("case", ["nll_loss-cpu"])
    def test_passes(case, impl):
        assert_matches([1.0], [1.0], tolerance(torch.float32), "nll_loss: value", dtype=torch.float32)
""")

CATEGORIES = {
    "test_value": "wrong-value", "test_gradient": "wrong-gradient", "test_shape": "wrong-shape",
    "test_argument": "argument-not-accepted", "test_crash": "crash", "test_bad_input": "bad-input-accepted",
    "test_modified": "input-modified", "test_torch_refuses": "refused-differently",
}


@pytest.fixture
def sandbox(pytester):
    pytester.makepyfile(test_sandbox=SANDBOX)
    return pytester


def run(pytester, *args):
    return pytester.runpytest("-p", PLUGIN, "-p", "no:randomly", "-p", "no:cacheprovider", *args)


def test_report_classifies_every_failure_and_validates(sandbox):
    result = run(sandbox, "--report", "r.json")
    result.assert_outcomes(failed=8, passed=1)
    report = json.loads((sandbox.path / "r.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    by_name = {t["nodeid"].split("::")[1].split("[")[0]: t for t in report["tests"]}
    assert {name: t.get("category") for name, t in by_name.items() if t["outcome"] == "failed"} == CATEGORIES
    assert by_name["test_passes"]["outcome"] == "passed" and "category" not in by_name["test_passes"]
    assert by_name["test_value"]["worst_ulps"] > 1000          # 1e-3 in float32: ~8400 eps
    assert report["categories"] == {c: 1 for c in CATEGORIES.values()}
    rows = {(r["loss"], r["device"]): r for r in report["conformance"]}
    assert rows["nll_loss", "cpu"]["failed"] == 3 and rows["nll_loss", "cpu"]["passed"] == 1
    assert report["header"]["impl"] == "torch.nn.functional" and report["exitstatus"] == 1
    result.stdout.fnmatch_lines(["*lossref: failures by category*", "*lossref: conformance of torch.nn.functional*",
                                 "loss*device*dtype*passed*failed*expected*skipped*worst ulps",
                                 "nll_loss*cpu*-*1*3*0*0*0"])


def test_xfails_expects_listed_failures_reports_listed_passes_and_warns_on_stale_entries(sandbox):
    (sandbox.path / "known.txt").write_text(textwrap.dedent("""\
        # our baseline
        test_sandbox.py::test_crash[l1_loss-cpu]   # kernel bug, our issue 7
        test_sandbox.py::test_passes[*]            # fixed since
        test_sandbox.py::test_*[mse_loss-cpu]
        test_sandbox.py::test_gone                 # no such test
    """))
    result = run(sandbox, "--xfails", "known.txt", "-rxX")
    result.assert_outcomes(failed=5, xfailed=3, xpassed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*1 entries match no collected test: known.txt:5: test_sandbox.py::test_gone*",
        "*listed in --xfails but passed: the entries can go*",
        "known.txt:3: fixed since: 1 passed (e.g. test_sandbox.py::test_passes[[]nll_loss-cpu[]])",
        "XFAIL test_sandbox.py::test_gradient[[]mse_loss-cpu[]] - xfails known.txt:4: listed in the xfails file",
        "XFAIL test_sandbox.py::test_crash[[]l1_loss-cpu[]] - xfails known.txt:2: kernel bug, our issue 7",
        "XPASS test_sandbox.py::test_passes[[]nll_loss-cpu[]] - xfails known.txt:3: fixed since",
    ])
    assert result.ret == 1


def _entries(path):
    return sorted(line for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_written_xfails_make_the_same_run_pass(sandbox):
    assert run(sandbox, "--write-xfails", "baseline.txt", "--report", "r.json").ret == 1
    written = (sandbox.path / "baseline.txt").read_text()
    assert xfails.main([str(sandbox.path / "r.json"), str(sandbox.path / "from-report.txt")]) == 0
    assert _entries(sandbox.path / "from-report.txt") == _entries(sandbox.path / "baseline.txt")
    assert "test_sandbox.py::test_crash[l1_loss-cpu]  # crash: RuntimeError: a kernel fell over" in written
    again = run(sandbox, "--xfails", "baseline.txt", "--write-xfails", "again.txt")
    again.assert_outcomes(xfailed=8, passed=1)
    assert again.ret == 0
    # Rewritten from a run that expected them, the baseline keeps the failures it still has.
    assert _entries(sandbox.path / "again.txt") == _entries(sandbox.path / "baseline.txt")


def test_an_unreadable_xfails_file_is_a_usage_error(sandbox):
    result = run(sandbox, "--xfails", "absent.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xfails *absent.txt: cannot read it*"])


def test_what_the_report_needs_travels_in_the_reports_that_xdist_sends(sandbox, request):
    """Under ``-n``, the controller sees only the workers' reports, serialized: categories,
    ulps, case and the xfails entry must be in them (user_properties, wasxfail)."""
    (sandbox.path / "known.txt").write_text("test_sandbox.py::test_crash[*]  # known\n")
    recorder = sandbox.inline_run("-p", PLUGIN, "-p", "no:randomly", "-p", "no:cacheprovider", "--xfails", "known.txt")
    hook, results = request.config.hook, Results()
    for report in recorder.getreports("pytest_runtest_logreport"):
        wire = hook.pytest_report_to_serializable(config=request.config, report=report)
        results.add(hook.pytest_report_from_serializable(config=request.config, data=wire))
    categories = {t.nodeid.split("::")[1].split("[")[0]: t.properties.get("category") for t in results.tests.values()}
    assert categories == {**CATEGORIES, "test_passes": None}
    crash = next(t for t in results.tests.values() if "test_crash" in t.nodeid)
    assert crash.outcome == "xfailed" and crash.reason == "xfails known.txt:1: known"
    value = next(t for t in results.tests.values() if "test_value" in t.nodeid)
    assert value.properties["worst_ulps"] > 1000 and value.properties["loss"] == "mse_loss"


def test_the_command_runs_the_installed_suite_with_its_own_configuration():
    args = cli.pytest_args(["--impl", "compile", "-k", "mse"])
    assert args[:2] == ["-p", PLUGIN] and args[-5:] == ["--pyargs", __package__, "--impl", "compile", "-k", "mse"][-5:]
    assert "-c" in args     # not the pytest.ini or pyproject.toml of the directory it runs from


@pytest.mark.parametrize("pytest_exit, exit_code", [(pytest.ExitCode.OK, 0), (pytest.ExitCode.TESTS_FAILED, 1),
                                                    (pytest.ExitCode.USAGE_ERROR, 1),
                                                    (pytest.ExitCode.NO_TESTS_COLLECTED, 1)])
def test_the_command_exits_0_only_when_everything_passed_or_was_expected(monkeypatch, pytest_exit, exit_code):
    monkeypatch.setattr(cli.pytest, "main", lambda args: pytest_exit)
    assert cli.main([]) == exit_code


def test_every_package_of_the_suite_and_the_references_is_installed():
    """pyproject.toml lists packages by name: a new subpackage left out would be missing
    from the installed suite (and only there). Checked where the repository is."""
    tomllib = pytest.importorskip("tomllib")
    pyproject = cli.SUITE_DIR.parent / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("the installed suite: no pyproject.toml beside it")
    setuptools = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    for name, source in (("lossref.tests", cli.SUITE_DIR), ("lossref", cli.SUITE_DIR.parent / "reference")):
        assert setuptools["package-dir"][name] == source.name
        found = {".".join((name, *init.parent.relative_to(source).parts)) for init in source.rglob("__init__.py")}
        assert sorted(found - listed) == []


def test_tests_that_read_the_checkout_skip_where_the_suite_runs_installed(pytester, monkeypatch):
    from . import plugin
    pytester.makepyfile(test_docs="""
        import pytest

        @pytest.mark.repository
        def test_reads_docs():
            raise FileNotFoundError("docs/ is not installed")
    """)
    monkeypatch.setattr(plugin, "IN_REPOSITORY", False)
    result = run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*{plugin.NOT_IN_REPOSITORY}*"])
