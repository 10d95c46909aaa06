"""The suite's pytest plugin: options, markers, parametrization from the registry, seeding,
header, and what the run reports (skip summary, xfails baseline, failure categories, the
conformance table, ``--report``).

One module for every way the suite runs: the repository's root ``conftest.py`` and the
suite's own ``conftest.py`` both name it in ``pytest_plugins`` (pytest registers a plugin
once per module name), and the ``lossref`` command passes it with ``-p``.

Options (see the README): ``--device cpu|cuda|all``, ``--impl MODULE``, ``--seed N``,
``--xfails FILE``, ``--write-xfails FILE``, ``--report FILE``, ``--conformance FORM``.
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

from . import compare
from . import impl as implementations
from .classify import classify, first_line
from .registry import RECORDS
from .registry.base import LossRecord
from .report import Results, category_lines, table_lines
from .xfails import REASON_PREFIX, Baseline, reason_for
from .xfails import write as write_xfails

# pytester: tests/test_plugin.py runs the plugin on sandbox files.
pytest_plugins = ["pytester"]

CUDA_PRESENT = torch.cuda.is_available()
NO_CUDA = "CUDA not available (torch.cuda.is_available() is False)"
SUITE_DIR = Path(__file__).resolve().parent
IN_REPOSITORY = (SUITE_DIR.parent / "pyproject.toml").is_file()
NOT_IN_REPOSITORY = "needs the repository's checkout; the suite runs installed"

# Registered here rather than in pyproject.toml so that the installed suite, which runs
# without the repository's configuration, has them too.
MARKERS = (
    "cuda: runs on a CUDA device (skipped with a reason where there is none)",
    "article: reproduces a value the article printed",
    "benchmark: speed and memory measurements (pytest-benchmark); run with --benchmark-only",
    "scale: large-input tier (N*V > 2**31 elements), not in the default run; select with -m scale",
    "repository: reads files of the repository's checkout (docs/, sources): skipped where the suite runs installed",
)
FILTERWARNINGS = (
    "error::pytest.PytestUnraisableExceptionWarning",
    # torch's own warnings on inputs the suite passes on purpose (broadcast targets,
    # kl_div's 'mean'): documented behaviour, tested as such.
    "ignore:Using a target size:UserWarning",
    "ignore:reduction. 'mean' divides the total loss:UserWarning",
)

_baseline = pytest.StashKey[Baseline | None]()


def pytest_addoption(parser):
    group = parser.getgroup("lossref")
    group.addoption("--device", choices=("cpu", "cuda", "all"), default="all",
                    help="devices to test: cpu, cuda or all (default: all; CUDA cases are skipped "
                         "with a reason when CUDA is absent)")
    group.addoption("--seed", type=int, default=0, metavar="N",
                    help="mixed into every test's seed (default 0): draw other random inputs, reproducibly")
    group.addoption("--impl", default=implementations.DEFAULT, metavar="MODULE",
                    help="implementation under test: a dotted module with torch.nn.functional's loss "
                         "names and signatures, or 'compile' for torch.compile of torch's own "
                         "(default: torch.nn.functional)")
    group.addoption("--xfails", metavar="FILE", default=None,
                    help="known failures: one test id or glob per line, '# reason' after it; listed tests "
                         "that fail are expected failures, listed tests that pass are reported (XPASS)")
    group.addoption("--write-xfails", metavar="FILE", default=None,
                    help="at the end of the run, write the tests that failed (and the listed ones that still "
                         "fail) as an xfails file: the baseline for --xfails")
    group.addoption("--report", metavar="FILE", default=None,
                    help="write the run as JSON: header, conformance table, every test's outcome and, for "
                         "failures, its category (schema: report.schema.json beside this plugin)")
    group.addoption("--conformance", choices=("auto", "full", "compact", "off"), default="auto",
                    help="the conformance table at the end: one line per loss x device x dtype (full), "
                         "per loss x device (compact), full when it fits in 40 lines (auto, the default)")


def pytest_configure(config):
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    for rule in FILTERWARNINGS:
        config.addinivalue_line("filterwarnings", rule)
    path = config.getoption("--xfails")
    try:
        config.stash[_baseline] = Baseline.read(_path(config, path), path) if path else None
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    if not _is_worker(config):
        config.pluginmanager.register(_EndOfRun(config), "lossref-end-of-run")


def _path(config, name: str) -> Path:
    return config.invocation_params.dir / name


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def devices(config) -> list[str]:
    choice = config.getoption("--device")
    return ["cpu", "cuda"] if choice == "all" else [choice]


def _device_marks(device):
    if device == "cuda":
        return [pytest.mark.cuda, pytest.mark.skipif(not CUDA_PRESENT, reason=NO_CUDA)]
    return []


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


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
                             id=f"{record.name}-{sample.id}-{device}-{_dtype_name(dtype)}", marks=_device_marks(device))
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
        params = [pytest.param((record, device, dtype), id=f"{record.name}-{device}-{_dtype_name(dtype)}",
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
    return np.random.default_rng([zlib.crc32(request.node.nodeid.encode()), request.config.getoption("--seed")])


@pytest.fixture(scope="session")
def impl(request) -> implementations.Implementation:
    return implementations.load(request.config.getoption("--impl"))


# --- header -----------------------------------------------------------------------------------

def run_header(config) -> dict:
    """What a run's results depend on: the header of the terminal and of ``--report``."""
    return {
        "impl": config.getoption("--impl"),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "pytest": pytest.__version__,
        "platform": platform.platform(),
        "devices_present": ["cpu"] + ([f"cuda ({torch.cuda.get_device_name()})"] if CUDA_PRESENT else []),
        "devices_tested": devices(config),
        "seed": config.getoption("--seed"),
        "xfails": config.getoption("--xfails"),
        "args": list(config.invocation_params.args),
        "suite_prefix": suite_id("", config.rootpath, prefix=True),
    }


def pytest_report_header(config):
    header = run_header(config)
    tested = ", ".join(header["devices_tested"])
    lines = [
        f"lossref: implementation under test: {header['impl']}",
        f"lossref: torch {header['torch']}, numpy {header['numpy']}; devices present: "
        f"{', '.join(header['devices_present'])}; devices tested: {tested}"
        + ("" if CUDA_PRESENT or "cuda" not in tested else " (cuda cases skip)"),
        f"lossref: each test's numpy seed is crc32 of its node id, with --seed {header['seed']}",
    ]
    baseline = config.stash[_baseline]
    if baseline is not None:
        lines.append(f"lossref: known failures from {config.getoption('--xfails')} ({len(baseline.entries)} entries)")
    return lines


# --- collection: each test's loss, device and dtype; the baseline's entries -------------------

_LOSS_NAMES = {record.name for record in RECORDS}
_FLOAT_DTYPES = ("float64", "float32", "float16", "bfloat16")


def case_of(item) -> dict[str, str]:
    """The loss, device and dtype a test is about, from its parameters (registry records,
    device names, dtypes) or, failing those, from the tokens of its id."""
    found: dict[str, str] = {}
    values = list(getattr(item, "callspec", None).params.values()) if hasattr(item, "callspec") else []
    for value in values:
        for part in value if isinstance(value, tuple) else (value,):
            if isinstance(part, LossRecord):
                found.setdefault("loss", part.name)
            elif isinstance(part, torch.dtype):
                found.setdefault("dtype", _dtype_name(part))
            elif isinstance(part, str) and part in ("cpu", "cuda"):
                found.setdefault("device", part)
    tokens = item.name.replace("[", "-").replace("]", "-").replace("/", "-").split("-")
    for key, names in (("loss", _LOSS_NAMES), ("device", ("cpu", "cuda")), ("dtype", _FLOAT_DTYPES)):
        if key not in found:
            token = next((t for t in tokens if t in names), None)
            if token is not None:
                found[key] = token
    return found


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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    for item in items:
        item.user_properties.extend(case_of(item).items())
        if not IN_REPOSITORY and item.get_closest_marker("repository") is not None:
            item.add_marker(pytest.mark.skip(reason=NOT_IN_REPOSITORY))
    _deselect_scale_tier(config, items)
    baseline = config.stash[_baseline]
    if baseline is None:
        return
    # Against every collected test, before -k/-m deselect any: a narrowed run does not
    # make the rest of the baseline stale. One xdist worker speaks for all.
    unmatched = baseline.count_matches(suite_id(item.nodeid, config.rootpath) for item in items)
    if unmatched and getattr(config, "workerinput", {}).get("workerid", "gw0") == "gw0":
        listed = "; ".join(f"{e.where}: {e.pattern}" for e in unmatched[:20])
        more = f" (and {len(unmatched) - 20} more)" if len(unmatched) > 20 else ""
        warnings.warn(pytest.PytestWarning(
            f"--xfails: {len(unmatched)} entries match no collected test: {listed}{more}"))


def _deselect_scale_tier(config, items):
    """The scale tier runs only when ``-m`` names it: the default run stays a fast gate."""
    if "scale" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("scale") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("scale")])
        items[:] = kept


# --- each test: worst error in ulps, failure category, the baseline ---------------------------

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """The worst error of the implementation under test: recorded for the tests that ask
    for it (the ``impl`` fixture), not for those that run torch or a mutant by name."""
    compare.observations.clear()
    try:
        return (yield)
    finally:
        if compare.observations and "impl" in getattr(item, "fixturenames", ()):
            item.user_properties.append(("worst_ulps", max(compare.observations)))
            compare.observations.clear()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Outermost, so that it sees the report after the xfail marks (the quirks) are applied."""
    report = yield
    exception = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exception, (pytest.skip.Exception, pytest.xfail.Exception)):
        exception = None
    if report.failed or (hasattr(report, "wasxfail") and exception is not None):
        message = first_line(exception) if exception is not None else str(report.longrepr)[:300]   # XPASS(strict)
        _annotate(item, report, [("category", classify(exception, item.name)), ("message", message)])
    baseline = item.config.stash[_baseline]
    entry = baseline.match(suite_id(item.nodeid, item.config.rootpath)) if baseline and report.when == "call" else None
    if entry is not None:
        if report.failed:        # a failure, or a strict quirk that passed: expected now
            report.outcome, report.wasxfail = "skipped", reason_for(entry)
        elif report.passed and not hasattr(report, "wasxfail"):
            report.wasxfail = reason_for(entry)   # XPASS, not strict: the entry can go
    return report


def _annotate(item, report, properties):
    item.user_properties.extend(properties)    # the teardown report (--junitxml) has them too
    report.user_properties.extend(properties)


# --- the end of the run: results, report, table -----------------------------------------------

class _EndOfRun:
    """Gathers every test's reports (on the controller of an xdist run: workers only run
    tests) and writes the summaries, the table, ``--report`` and ``--write-xfails``."""

    def __init__(self, config):
        self.config = config
        self.results = Results()

    def pytest_runtest_logreport(self, report):
        self.results.add(report)

    def pytest_sessionfinish(self, session, exitstatus):
        config, results = self.config, self.results
        path = config.getoption("--report")
        if path:
            results.write(_path(config, path), run_header(config), exitstatus)
        path = config.getoption("--write-xfails")
        if path:
            still_expected = [t for t in results.tests.values()
                              if t.outcome == "xfailed" and (t.reason or "").startswith(REASON_PREFIX)]
            write_xfails(_path(config, path),
                         [(suite_id(t.nodeid, config.rootpath), t.properties.get("category", "crash"),
                           t.properties.get("message", "")) for t in results.failures() + still_expected],
                         header=f"lossref: known failures of {config.getoption('--impl')} "
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
        if results.failures():
            terminalreporter.section("lossref: failures by category")
            for line in category_lines(results):
                write(line)
        form = config.getoption("--conformance")
        if results.tests and form != "off":
            terminalreporter.section(f"lossref: conformance of {config.getoption('--impl')}")
            for line in table_lines(results.conformance(), form):
                write(line)
        for option in ("--report", "--write-xfails"):
            if config.getoption(option):
                write(f"lossref: {option} wrote {_path(config, config.getoption(option))}")
