"""What the suite does in a pytest run, for its own tests only: markers, parametrization from the
registry, seeding, the header, the ``--lossref-impl`` selection, the xfails baseline, failure
categories, the conformance table and ``--lossref-report``.

The suite's ``conftest.py`` switches it on (:func:`configure`) when pytest collects the suite,
so an adopter's unrelated run, which has only the installed plugin's options
(``tests/plugin.py``), never meets any of it. Hooks that pytest calls per directory
(``pytest_generate_tests``, the fixtures) live in the conftest and so apply below it; the
session-wide ones are methods of :class:`Suite`, which acts on the items under its directory
and leaves every other item alone.
"""

from __future__ import annotations

import collections
import platform
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

import lossref

from . import compare, compiled
from . import impl as implementations
from .classify import classify, first_line
from .options import OptionError, check_all
from .plugin import DEFAULT_IMPL, value
from .registry import RECORDS
from .registry.base import LossRecord
from .report import Results, category_lines, table_lines
from .tolerances import dtype_name
from .xfails import REASON_PREFIX, reason_for
from .xfails import write as write_xfails

CUDA_PRESENT = torch.cuda.is_available()
NO_CUDA = "CUDA not available (torch.cuda.is_available() is False)"
SUITE_DIR = Path(__file__).resolve().parent
IN_REPOSITORY = (SUITE_DIR.parent / "pyproject.toml").is_file()
NOT_IN_REPOSITORY = "needs the repository's checkout; the suite runs installed"

# Registered when the suite is collected (never in an adopter's own run). ``benchmark`` is
# pytest-benchmark's: the suite uses it, it does not own it.
MARKERS = (
    "cuda: runs on a CUDA device (skipped with a reason where there is none)",
    "article: reproduces a value the article printed",
    "scale: large-input tier (N*V > 2**31 elements), not in the default run; select with -m scale",
    "sharded: the sharded tier (class dimension split over torch.distributed ranks), not in the default run; "
    "select with -m sharded or run lossref --world-size N",
    "accumulation: half-precision reductions at the sizes where accumulating in the half type drifts, not in "
    "the default run; select with -m accumulation",
    "repository: reads files of the repository's checkout (docs/, sources): skipped where the suite runs installed",
    "checks(kind): what a test checks when it fails: 'value' (the default), 'gradient' or 'refusal' "
    "(bad input refused as torch refuses it); the failure's category in the report follows from it",
)
# Applied to the suite's own tests (as markers), never to the run's other tests.
FILTERWARNINGS = (
    "error::pytest.PytestUnraisableExceptionWarning",
    # torch's own warnings on inputs the suite passes on purpose (broadcast targets,
    # kl_div's 'mean'): documented behaviour, tested as such.
    "ignore:Using a target size:UserWarning",
    "ignore:reduction. 'mean' divides the total loss:UserWarning",
)
#: Marked tiers: heavier than the default gate, each left out of every run whose ``-m`` does not
#: name it (CI runs each on its own).
TIERS = ("scale", "sharded", "accumulation")
#: The user property that says a test called the implementation under test.
EXERCISES = "exercises_impl"


def configure(config, directory: Path) -> None:
    """Switch the suite on for the tests under ``directory`` (the suite's conftest calls it;
    tests/test_plugin.py calls it for a sandbox). Options are checked first: a bad one is a
    usage error (status 4) before any test runs."""
    try:
        baseline = check_all(lambda name: value(config, name), config.invocation_params.dir)
    except OptionError as error:
        raise pytest.UsageError(str(error)) from None
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    config.pluginmanager.register(Suite(config, directory, baseline), f"lossref-suite:{directory}")


def devices(config) -> list[str]:
    choice = value(config, "device")
    return ["cpu", "cuda"] if choice == "all" else [choice]


def impl_chosen(config) -> bool:
    """True when the run tests another implementation than torch's own functions."""
    return value(config, "impl") != DEFAULT_IMPL


def _device_marks(device):
    if device == "cuda":
        return [pytest.mark.cuda, pytest.mark.skipif(not CUDA_PRESENT, reason=NO_CUDA)]
    return []


# --- per directory: the suite's conftest imports these ------------------------------------------

def pytest_generate_tests(metafunc):
    """Parametrize from the registry: every test id carries loss, sample, device and dtype.

    ``device_case`` walks every sample; ``gradient_case`` the samples whose gradient torch
    defines (``Sample.grad``)."""
    names = metafunc.fixturenames
    config = metafunc.config
    for name in ("device_case", "gradient_case"):
        if name in names:
            metafunc.parametrize(name, [
                pytest.param((record, sample, device, dtype),
                             id=f"{record.name}-{sample.id}-{device}-{dtype_name(dtype)}", marks=_device_marks(device))
                for record in RECORDS for sample in record.samples()
                if name == "device_case" or sample.grad
                for device in devices(config) for dtype in record.dtypes.get(device, ())
                if sample.dtypes is None or dtype in sample.dtypes])
    if "record_sample" in names:
        metafunc.parametrize("record_sample", [
            pytest.param((record, sample), id=f"{record.name}-{sample.id}")
            for record in RECORDS for sample in record.samples()])
    if "error_case" in names:
        metafunc.parametrize("error_case", [
            pytest.param((record, case), id=f"{record.name}-{case.id}")
            for record in RECORDS for case in record.errors()])
    if "unsupported_case" in names:
        params = [pytest.param((record, device, dtype), id=f"{record.name}-{device}-{dtype_name(dtype)}",
                               marks=_device_marks(device))
                  for record in RECORDS for device in devices(config)
                  for dtype in record.unsupported.get(device, ())]
        metafunc.parametrize("unsupported_case", params or [pytest.param(None, id="none")])
    if "record" in names:
        metafunc.parametrize("record", [pytest.param(r, id=r.name) for r in RECORDS])
    if "device" in names:
        metafunc.parametrize("device", [pytest.param(d, marks=_device_marks(d)) for d in devices(config)])


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test's own id (and ``--seed``): any failure reproduces
    alone, in any order, under ``pytest -n``; the id printed by pytest is all that is needed."""
    return np.random.default_rng([zlib.crc32(request.node.nodeid.encode()), value(request.config, "seed")])


@pytest.fixture(scope="session")
def impl(request) -> implementations.Implementation:
    return implementations.load(value(request.config, "impl"))


# --- header ---------------------------------------------------------------------------------------

def run_header(config) -> dict:
    """What a run's results depend on: the header of the terminal and of ``--report``."""
    return {
        "impl": value(config, "impl"),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "pytest": pytest.__version__,
        "platform": platform.platform(),
        "devices_present": ["cpu"] + ([f"cuda ({torch.cuda.get_device_name()})"] if CUDA_PRESENT else []),
        "devices_tested": devices(config),
        "seed": value(config, "seed"),
        "xfails": value(config, "xfails"),
        "args": list(config.invocation_params.args),
        "suite_prefix": suite_id("", config.rootpath, prefix=True),
    }


def suite_id(nodeid: str, rootpath: Path, prefix: bool = False) -> str:
    """A node id relative to the suite's directory (``test_forward.py::...``), the same
    whether the suite runs from the repository (``tests/...``) or installed. ``prefix``:
    instead, what the node ids of the suite's files start with (``tests/`` or nothing)."""
    if prefix:
        try:
            relative = SUITE_DIR.relative_to(rootpath.resolve()).as_posix()
        except ValueError:
            return ""
        return "" if relative == "." else relative + "/"
    file, sep, rest = nodeid.partition("::")
    try:
        file = (rootpath / file).resolve().relative_to(SUITE_DIR).as_posix()
    except ValueError:
        pass
    return file + sep + rest


# --- each test's loss, device and dtype: from its parameters ---------------------------------------

def case_of(item) -> dict[str, str]:
    """The loss, device and dtype a test is about, from the values it is parametrized with:
    a registry record, a loss name or an object with a ``loss`` (a fixture), a torch dtype, a
    device; nothing is read from the id."""
    found: dict[str, str] = {}
    params = item.callspec.params if hasattr(item, "callspec") else {}
    for key, param in params.items():
        for part in param if isinstance(param, tuple) else (param,):
            if isinstance(part, LossRecord):
                found.setdefault("loss", part.name)
            elif isinstance(part, torch.dtype):
                found.setdefault("dtype", dtype_name(part))
            elif isinstance(part, str) and part in ("cpu", "cuda"):
                found.setdefault("device", part)
            elif isinstance(part, str) and part in lossref.LOSSES:
                found.setdefault("loss", part)
            elif isinstance(getattr(part, "loss", None), str) and part.loss in lossref.LOSSES:
                found.setdefault("loss", part.loss)     # a fixture's definition or case
    return found


class Suite:
    """The session-wide hooks, for the items under ``directory``."""

    def __init__(self, config, directory: Path, baseline):
        self.config = config
        self.directory = Path(directory).resolve()
        self.baseline = baseline
        self.results = Results()
        self.no_test_exercised = False
        #: ``--impl compile...``: its tests report what they compiled (tests/compiled.py).
        self.compiled = implementations.load(value(config, "impl")).compiled is not None
        self._owned: dict[Path, bool] = {}

    def owns(self, item) -> bool:
        """Whether ``item`` is one of this suite's tests: decided once per file (a few dozen)."""
        folder = item.path.parent
        owned = self._owned.get(folder)
        if owned is None:
            owned = self._owned[folder] = Path(folder).resolve().is_relative_to(self.directory)
        return owned

    def pytest_report_header(self, config):
        header = run_header(config)
        tested = ", ".join(header["devices_tested"])
        lines = [
            f"lossref: implementation under test: {header['impl']}",
            f"lossref: torch {header['torch']}, numpy {header['numpy']}; devices present: "
            f"{', '.join(header['devices_present'])}; devices tested: {tested}"
            + ("" if CUDA_PRESENT or "cuda" not in tested else " (cuda cases skip)"),
            f"lossref: each test's numpy seed is crc32 of its node id, with --seed {header['seed']}",
        ]
        if self.baseline is not None:
            lines.append(f"lossref: known failures from {header['xfails']} ({len(self.baseline.entries)} entries)")
        if impl_chosen(config):
            lines.append("lossref: only the tests that exercise the implementation run (the references' own "
                         "checks are lossref's CI)")
        return lines

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session, config, items):
        own = [item for item in items if self.owns(item)]
        for item in own:
            item.user_properties.extend(case_of(item).items())
            item.user_properties.append((EXERCISES, "impl" in item.fixturenames))
            marker = item.get_closest_marker("checks")
            item.user_properties.append(("check", marker.args[0] if marker is not None else "value"))
            for rule in FILTERWARNINGS:
                item.add_marker(pytest.mark.filterwarnings(rule))
            if self.compiled:
                # One worker per loss under ``-n N --dist loadgroup``: its graphs are compiled
                # once, not once per worker, and its forward and gradient tests share them.
                item.add_marker(pytest.mark.xdist_group(dict(item.user_properties).get("loss", "-")))
            if not IN_REPOSITORY and item.get_closest_marker("repository") is not None:
                item.add_marker(pytest.mark.skip(reason=NOT_IN_REPOSITORY))
        dropped = [item for item in own if self._left_out(config, item)]
        if self.compiled and value(config, "compiled-layouts") == "covering":
            left = set(map(id, dropped))
            dropped += self._layouts_not_covering([item for item in own if id(item) not in left])
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            gone = set(map(id, dropped))
            items[:] = [item for item in items if id(item) not in gone]
        if self.baseline is None:
            return
        # Against every collected test of the suite, before -k/-m deselect any: a narrowed run does
        # not make the rest of the baseline stale. One xdist worker speaks for all.
        unmatched = self.baseline.count_matches(suite_id(item.nodeid, config.rootpath) for item in own)
        if unmatched and getattr(config, "workerinput", {}).get("workerid", "gw0") == "gw0":
            listed = "; ".join(f"{e.where}: {e.pattern}" for e in unmatched[:20])
            more = f" (and {len(unmatched) - 20} more)" if len(unmatched) > 20 else ""
            warnings.warn(pytest.PytestWarning(
                f"--xfails: {len(unmatched)} entries match no collected test: {listed}{more}"))

    @staticmethod
    def _layouts_not_covering(items) -> list:
        """A compiled run's layout tests beyond the covering ones (tests/test_layouts.py
        covering_layouts): deselected, as a tier is, and counted in pytest's last line."""
        from .test_layouts import covering_layouts

        def case(item):
            record, sample, layout = item.callspec.params["layout_case"]
            return record.name, sample.id, layout
        laid_out = [item for item in items if getattr(item, "originalname", None) == "test_layout"]
        kept = covering_layouts(case(item) for item in laid_out)
        return [item for item in laid_out if case(item) not in kept]

    @staticmethod
    def _left_out(config, item) -> bool:
        """A tier (:data:`TIERS`) runs only when ``-m`` names it (the default run stays a fast gate);
        under ``--impl``, a test that does not call the implementation does not run."""
        markexpr = config.getoption("markexpr") or ""
        if any(item.get_closest_marker(tier) is not None and tier not in markexpr for tier in TIERS):
            return True
        return impl_chosen(config) and "impl" not in item.fixturenames

    def pytest_collection_finish(self, session):
        """A batched compiled run plans its groups from the tests it will run (tests/compiled_batches.py)."""
        if self.compiled:
            from .compiled_batches import BATCHES
            BATCHES.register([item for item in session.items if self.owns(item)], value(self.config, "seed"),
                             implementations.load(value(self.config, "impl")).quirk_implementations)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        """The worst error of the implementation under test: recorded for the tests that ask
        for it (the ``impl`` fixture), not for those that run torch or a mutant by name."""
        if not self.owns(item):
            return (yield)
        compare.observations.clear()
        exercised = "impl" in item.fixturenames
        observed = compiled.Observation() if exercised and self.compiled else None
        if self.compiled:
            from .compiled_batches import BATCHES
            BATCHES.current = item.nodeid
        try:
            return (yield)
        except compiled.RanEagerly as eager:   # not a compiled result: said, never passed
            if observed is None:                # a test of the mode itself (test_compiled): a failure
                raise
            pytest.skip(str(eager))
        finally:
            if compare.observations and exercised:
                item.user_properties.append(("worst_ulps", max(compare.observations)))
                compare.observations.clear()
            if observed is not None:
                item.user_properties.extend(observed.properties())

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        """Outermost, so that it sees the report after the xfail marks (the quirks) are applied."""
        report = yield
        if not self.owns(item):
            return report
        exception = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exception, (pytest.skip.Exception, pytest.xfail.Exception)):
            exception = None
        if report.failed or (hasattr(report, "wasxfail") and exception is not None):
            message = first_line(exception) if exception is not None else str(report.longrepr)[:300]  # XPASS(strict)
            check = dict(item.user_properties).get("check", "value")
            properties = [("category", classify(exception, check)), ("message", message)]
            item.user_properties.extend(properties)    # the teardown report (--junitxml) has them too
            report.user_properties.extend(properties)
        entry = self.baseline.match(suite_id(item.nodeid, item.config.rootpath)) \
            if self.baseline and report.when == "call" else None
        if entry is not None:
            if report.failed:        # a failure, or a strict quirk that passed: expected now
                report.outcome, report.wasxfail = "skipped", reason_for(entry)
            elif report.passed and not hasattr(report, "wasxfail"):
                report.wasxfail = reason_for(entry)   # XPASS, not strict: the entry can go
        return report

    # --- the end of the run: on the controller of an xdist run (workers only run tests) -------------

    def pytest_runtest_logreport(self, report):
        if not hasattr(self.config, "workerinput"):
            self.results.add(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        config, results = self.config, self.results
        if hasattr(config, "workerinput"):
            return
        if impl_chosen(config) and session.exitstatus == pytest.ExitCode.OK and not any(
                t.properties.get(EXERCISES) and t.outcome != "skipped" for t in results.tests.values()):
            # Skipped everywhere (a module whose functions have other names): not a green gate.
            self.no_test_exercised = True
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        path = value(config, "report")
        if path:
            results.write(config.invocation_params.dir / path, run_header(config), session.exitstatus)
        path = value(config, "write-xfails")
        if path:
            still_expected = [t for t in results.tests.values()
                              if t.outcome == "xfailed" and (t.reason or "").startswith(REASON_PREFIX)]
            write_xfails(config.invocation_params.dir / path,
                         [(suite_id(t.nodeid, config.rootpath), t.properties.get("category", "crash"),
                           t.properties.get("message", "")) for t in results.failures() + still_expected],
                         header=f"lossref: known failures of {value(config, 'impl')} "
                                f"(torch {torch.__version__}), written by --write-xfails")

    def pytest_terminal_summary(self, terminalreporter):
        config, results = self.config, self.results
        write = terminalreporter.write_line
        reasons = collections.Counter()
        for report in terminalreporter.stats.get("skipped", []):
            if isinstance(report.longrepr, tuple):
                reasons[report.longrepr[2].removeprefix("Skipped: ")] += 1
        if reasons:
            terminalreporter.section("lossref: what was skipped and why")
            for reason, count in reasons.most_common():
                write(f"{count:6d}  {reason}")
        can_go = [t for t in results.tests.values()
                  if t.outcome == "xpassed" and (t.reason or "").startswith(REASON_PREFIX)]
        if can_go:
            terminalreporter.section("lossref: listed in --xfails but passed: the entries can go")
            by_entry = collections.defaultdict(list)
            for test in can_go:
                by_entry[test.reason.removeprefix(REASON_PREFIX)].append(test.nodeid)
            for entry, nodeids in by_entry.items():
                write(f"{entry}: {len(nodeids)} passed (e.g. {min(nodeids)})")
        compiled_lines = compiled.summary_lines([t.properties for t in results.tests.values()])
        if compiled_lines:
            terminalreporter.section(f"lossref: what torch.compile compiled ({value(config, 'impl')})")
            for line in compiled_lines:
                write(line)
        if results.failures():
            terminalreporter.section("lossref: failures by category")
            for line in category_lines(results):
                write(line)
        form = value(config, "conformance")
        if results.tests and form != "off":
            terminalreporter.section(f"lossref: conformance of {value(config, 'impl')}")
            for line in table_lines(results.conformance(), form):
                write(line)
        for option in ("report", "write-xfails"):
            if value(config, option):
                write(f"lossref: --{option} wrote {config.invocation_params.dir / value(config, option)}")
        if self.no_test_exercised:
            write(f"lossref: no test exercised --impl {value(config, 'impl')} (every test that calls it was "
                  f"skipped or deselected): exit status 5, not a green gate", red=True)
