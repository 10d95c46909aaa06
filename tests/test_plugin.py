"""The suite's plugin as an adopter meets it: ``--xfails`` baselines, failure categories,
``--report`` (valid against its schema), ``--write-xfails`` and the ``lossref`` command.

Each test runs pytest (pytester) on a small sandbox whose tests fail in known ways: the
installed plugin gives the options (``-p <suite>.plugin``, as its entry point does), and the
sandbox's conftest.py switches the suite's session on for the sandbox's directory, as the
suite's own conftest.py does for the suite. The loss, device and dtype of a test come from the
values it is parametrized with.
"""

from __future__ import annotations

import json
import textwrap

import jsonschema
import pytest

from . import cli, session, xfails
from .report import SCHEMA, Results

PLUGIN = f"{__package__}.plugin"
SANDBOX_CONFTEST = textwrap.dedent(f"""
    from pathlib import Path
    from {__package__}.session import configure, impl, rng

    def pytest_configure(config):
        configure(config, Path(__file__).resolve().parent)
""")

# Each test fails one way; its id names the loss and device it is about, as the suite's do.
SANDBOX = textwrap.dedent(f"""
    import pytest
    import torch
    from {__package__}.compare import InputModified, Mismatch, assert_matches
    from {__package__}.tolerances import tolerance

    @pytest.mark.parametrize("loss, device", [("mse_loss", "cpu")])
    def test_value(loss, device, impl):
        assert_matches([1.0 + 1e-3], [1.0], tolerance(torch.float32), "mse_loss: value", dtype=torch.float32)

    @pytest.mark.parametrize("loss, device", [("mse_loss", "cpu")])
    def test_gradient(loss, device):
        raise Mismatch("mse_loss: gradient of input: differs", "mse_loss: gradient of input", "value", "gradient")

    @pytest.mark.parametrize("loss, device", [("l1_loss", "cpu")])
    def test_shape(loss, device):
        assert_matches([1.0, 2.0], 1.0, tolerance(torch.float64), "l1_loss: value")

    @pytest.mark.parametrize("loss, device", [("l1_loss", "cpu")])
    def test_argument(loss, device):
        torch.nn.functional.l1_loss(torch.ones(1), torch.ones(1), no_such_option=1)

    @pytest.mark.parametrize("loss, device", [("l1_loss", "cpu")])
    def test_crash(loss, device):
        raise RuntimeError("a kernel fell over")

    @pytest.mark.parametrize("loss, device", [("nll_loss", "cpu")])
    def test_bad_input(loss, device):
        with pytest.raises(Exception):
            pass

    @pytest.mark.parametrize("loss, device", [("nll_loss", "cpu")])
    def test_modified(loss, device):
        raise InputModified("nll_loss: the implementation modified its argument 'input'", "nll_loss", "input")

    @pytest.mark.parametrize("loss, device", [("nll_loss", "cpu")])
    def test_torch_refuses(loss, device):
        with pytest.raises(ValueError, match="torch's message"):
            raise ValueError("another message")

    @pytest.mark.parametrize("loss, device", [("nll_loss", "cpu")])
    def test_passes(loss, device, impl):
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
    pytester.makeconftest(SANDBOX_CONFTEST)
    return pytester


# -p no:lossref: an installed lossref's entry point stays out of the inner run, whose plugin is
# this suite's own module (the two would register the options twice). pytest still marks an
# installed entry point's package for assertion rewriting, and warns, in this process that has
# imported it already: an artefact of running pytest inside pytest, ignored.
ISOLATED = ("-p", "no:lossref", "-p", PLUGIN, "-p", "no:randomly", "-p", "no:cacheprovider",
            "-W", "ignore::pytest.PytestAssertRewriteWarning")


def run(pytester, *args):
    return pytester.runpytest(*ISOLATED, *args)


def test_report_classifies_every_failure_and_validates(sandbox):
    result = run(sandbox, "--lossref-report", "r.json")
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
    result = run(sandbox, "--lossref-xfails", "known.txt", "-rxX")
    result.assert_outcomes(failed=5, xfailed=3, xpassed=1)    # the stale entry: its warning line below
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
    assert run(sandbox, "--lossref-write-xfails", "baseline.txt", "--lossref-report", "r.json").ret == 1
    written = (sandbox.path / "baseline.txt").read_text()
    assert xfails.main([str(sandbox.path / "r.json"), str(sandbox.path / "from-report.txt")]) == 0
    assert _entries(sandbox.path / "from-report.txt") == _entries(sandbox.path / "baseline.txt")
    assert "test_sandbox.py::test_crash[l1_loss-cpu]  # crash: RuntimeError: a kernel fell over" in written
    again = run(sandbox, "--lossref-xfails", "baseline.txt", "--lossref-write-xfails", "again.txt")
    again.assert_outcomes(xfailed=8, passed=1)
    assert again.ret == 0
    # Rewritten from a run that expected them, the baseline keeps the failures it still has.
    assert _entries(sandbox.path / "again.txt") == _entries(sandbox.path / "baseline.txt")


def test_an_unreadable_xfails_file_is_a_usage_error(sandbox):
    result = run(sandbox, "--lossref-xfails", "absent.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --xfails absent.txt: cannot read it*"])
    assert "passed" not in result.stdout.str()    # refused before any test ran


def test_what_the_report_needs_travels_in_the_reports_that_xdist_sends(sandbox, request):
    """Under ``-n``, the controller sees only the workers' reports, serialized: categories,
    ulps, case and the xfails entry must be in them (user_properties, wasxfail)."""
    (sandbox.path / "known.txt").write_text("test_sandbox.py::test_crash[*]  # known\n")
    recorder = sandbox.inline_run(*ISOLATED, "--lossref-xfails", "known.txt")
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
    args = cli.pytest_args(["--impl", "compile", "--report=r.json", "-k", "mse"])
    assert args[-6:] == [str(cli.SUITE_DIR), "--lossref-impl", "compile", "--lossref-report=r.json", "-k", "mse"]
    assert "-c" in args     # not the pytest.ini or pyproject.toml of the directory it runs from
    plugins = [args[i + 1] for i, arg in enumerate(args) if arg == "-p"]
    assert plugins == ["no:logging"]  # the plugin is the installed entry point's, loaded once


@pytest.mark.parametrize("pytest_exit", list(pytest.ExitCode))
def test_the_command_returns_pytests_status(monkeypatch, pytest_exit):
    monkeypatch.setattr(cli.pytest, "main", lambda args: pytest_exit)
    assert cli.main([]) == int(pytest_exit)


def test_the_command_shows_every_option_in_its_help(capsys):
    assert cli.main(["--help"]) == 0
    shown = capsys.readouterr().out
    for option in cli.OPTIONS:
        assert f"  {option.short} " in shown or f"  {option.short}\n" in shown, option.short
    for command, _ in cli.OTHER_COMMANDS:
        assert command in shown


EMPTY_IMPL = "x = 1\n"


@pytest.mark.parametrize("argv, message", [
    (["--impl", "no_such_module_anywhere"], "lossref: --impl no_such_module_anywhere: cannot import it "
                                            "(ModuleNotFoundError: No module named 'no_such_module_anywhere')"),
    (["--impl", "lossref_empty_impl"], "lossref: --impl lossref_empty_impl: defines none of torch.nn.functional's "
                                       "losses *"),
    (["--report", "no/such/dir/r.json"], "lossref: --report no/such/dir/r.json: cannot write it: the directory "
                                         "*no/such/dir does not exist"),
    (["--write-xfails", "."], "lossref: --write-xfails .: is a directory, expected a file to write"),
    (["--xfails", "absent.txt"], "lossref: --xfails absent.txt: cannot read it *"),
    (["--xfails", "bad.txt"], "lossref: --xfails bad.txt:2: 'not an id' is not a test id or glob *"),
    (["--device", "tpu"], "lossref: --device tpu: expected one of cpu, cuda, all"),
    (["--seed=x"], "lossref: --seed x: expected an integer"),
], ids=["unimportable-impl", "impl-without-losses", "report-directory-missing", "write-xfails-directory",
        "xfails-unreadable", "xfails-malformed-line", "unknown-device", "seed-not-a-number"])
def test_the_command_refuses_bad_options_in_one_line_before_any_test(pytester, monkeypatch, capsys, argv, message):
    pytester.makepyfile(lossref_empty_impl=EMPTY_IMPL)
    (pytester.path / "bad.txt").write_text("test_forward.py::test_forward[*]  # fine\nnot an id  # two words\n")
    monkeypatch.syspath_prepend(pytester.path)
    monkeypatch.setattr(cli.pytest, "main", lambda args: pytest.fail("pytest must not start"))
    assert cli.main(argv) == pytest.ExitCode.USAGE_ERROR
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert pytest.__name__ and __import__("fnmatch").fnmatchcase(err[0], message), err[0]


def test_a_run_where_no_test_exercised_the_implementation_is_not_green(pytester):
    """A module whose functions have other names: every test that calls it skips: status 5."""
    pytester.makepyfile(lossref_other_names=textwrap.dedent("""
        def mean_squared_error(input, target):
            raise AssertionError("never called")
        mse_loss = None
        l1_loss = lambda input, target: input
    """))
    pytester.makeconftest(SANDBOX_CONFTEST)
    pytester.makepyfile(test_sandbox=textwrap.dedent("""
        import pytest

        def test_calls_it(impl):
            pytest.skip("the implementation has no mse_loss")

        def test_reference_only():
            pass
    """))
    result = run(pytester, "--lossref-impl", "lossref_other_names")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.assert_outcomes(skipped=1, deselected=1)    # the reference-only test does not run under --impl
    result.stdout.fnmatch_lines(["*lossref: no test exercised --impl lossref_other_names*exit status 5*"])


def test_an_early_stop_ends_with_status_1_and_the_table(sandbox):
    result = run(sandbox, "-x", "--lossref-conformance", "compact")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*lossref: conformance of torch.nn.functional*", "loss*passed*failed*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("form", ["full", "compact"])
def test_the_table_of_a_run_of_one_test_or_none(pytester, form):
    pytester.makeconftest(SANDBOX_CONFTEST)
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    one = run(pytester, "--lossref-conformance", form)
    assert one.ret == pytest.ExitCode.OK and "Traceback" not in one.stdout.str()
    none = run(pytester, "--lossref-conformance", form, "-k", "nothing_matches")
    assert none.ret == pytest.ExitCode.NO_TESTS_COLLECTED and "Traceback" not in none.stdout.str()


def test_in_an_unrelated_run_the_plugin_only_adds_its_options(pytester):
    """An adopter's own tests, in an environment where lossref is installed: the plugin adds the
    --lossref-* options and nothing else: no parametrization of their `device` or `record`, no
    deselection of their `scale` tests, no markers, no pytester, no header."""
    pytester.makepyfile(test_theirs=textwrap.dedent("""
        import pytest

        @pytest.fixture
        def device():
            return "their device"

        def test_their_device(device):
            assert device == "their device"

        @pytest.mark.scale
        def test_their_scale_test():
            pass

        def test_no_pytester(request):
            with pytest.raises(pytest.FixtureLookupError):
                request.getfixturevalue("pytester")
    """))
    result = run(pytester, "-W", "ignore::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=3)
    assert "lossref" not in result.stdout.str()
    assert "--lossref-impl" in run(pytester, "--help").stdout.str()


def test_the_plugin_is_cheap_to_import():
    """No torch, no NumPy, no registry: the entry point is loaded into every pytest run."""
    import subprocess
    import sys

    code = (f"import sys; import {PLUGIN}; "
            "heavy = [m for m in ('torch', 'numpy', f'{__package__}.registry') if m in sys.modules]; "
            "assert not heavy, heavy")
    root = cli.SUITE_DIR.parent
    result = subprocess.run([sys.executable, "-c", code.replace("{__package__}", __package__)],
                            capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr


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
    pytester.makeconftest(SANDBOX_CONFTEST)
    pytester.makepyfile(test_docs="""
        import pytest

        @pytest.mark.repository
        def test_reads_docs():
            raise FileNotFoundError("docs/ is not installed")
    """)
    monkeypatch.setattr(session, "IN_REPOSITORY", False)
    result = run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*{session.NOT_IN_REPOSITORY}*"])
