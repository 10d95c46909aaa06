"""The run's results, as people read them (the conformance table at the end of the run)
and as machines read them (``--report FILE``, JSON, schema ``report.schema.json``).

Built on pytest's own channel for per-test data: the plugin puts each test's loss, device,
dtype, failure category and worst error in ulps into ``item.user_properties``, which every
``TestReport`` carries, which pytest-xdist sends from its workers to the controller and which
``--junitxml`` (and pytest-json-report) write as properties. :class:`Results` reads only
reports, so it works the same in one process and under ``-n``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .classify import CATEGORIES

SCHEMA = Path(__file__).with_name("report.schema.json")
REPORT_VERSION = 3   # the schema's "lossref_report": bump it with every change of the format
#: What a test of ``--impl compile...`` compiled and ran (tests/compiled.py writes them).
COMPILED_PROPERTIES = ("graphs_compiled", "graphs_run", "graph_breaks")
NONE = "-"   # the loss, device or dtype of a test that has none

#: Outcome -> the conformance table's column it counts in.
COLUMN = {"passed": "passed", "xpassed": "passed", "failed": "failed", "error": "failed",
          "xfailed": "expected", "skipped": "skipped"}
COLUMNS = ("passed", "failed", "expected", "skipped")


@dataclass
class TestResult:
    __test__ = False   # not a test class, whatever module imports it
    nodeid: str
    outcome: str = "passed"
    properties: dict = field(default_factory=dict)
    reason: str | None = None        # why it was skipped or expected to fail

    def as_json(self) -> dict:
        entry = {"nodeid": self.nodeid, "outcome": self.outcome}
        for key in ("loss", "device", "dtype", "category", "message", "exercises_impl", "check", *COMPILED_PROPERTIES):
            if key in self.properties:
                entry[key] = self.properties[key]
        if "worst_ulps" in self.properties:
            entry["worst_ulps"] = _json_number(self.properties["worst_ulps"])
        if self.reason:
            entry["reason"] = self.reason
        return entry


def _json_number(value: float):
    return value if math.isfinite(value) else "inf"


class Results:
    """Every test's final outcome, gathered from its setup, call and teardown reports."""

    def __init__(self):
        self.tests: dict[str, TestResult] = {}

    def add(self, report) -> None:
        result = self.tests.setdefault(report.nodeid, TestResult(report.nodeid))
        result.properties.update(dict(report.user_properties))
        xfail = getattr(report, "wasxfail", None)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if report.failed:
                result.outcome = "failed" if report.when == "call" else "error"
            elif report.skipped:
                result.outcome = "xfailed" if xfail is not None else "skipped"
                result.reason = xfail if xfail is not None else _skip_reason(report)
            else:
                result.outcome = "xpassed" if xfail is not None else "passed"
                result.reason = xfail
        elif report.when == "teardown" and report.failed and result.outcome in ("passed", "xpassed"):
            result.outcome = "error"

    def counts(self) -> Counter:
        return Counter(t.outcome for t in self.tests.values())

    def conformance(self) -> list[dict]:
        """One row per loss x device x dtype present: counts per column and the worst
        error seen in ulps of the dtype (None where no comparison recorded one)."""
        rows: dict[tuple[str, str, str], dict] = {}
        for test in self.tests.values():
            key = tuple(test.properties.get(k, NONE) for k in ("loss", "device", "dtype"))
            row = rows.setdefault(key, {"loss": key[0], "device": key[1], "dtype": key[2],
                                        **{c: 0 for c in COLUMNS}, "worst_ulps": None})
            row[COLUMN[test.outcome]] += 1
            ulps = test.properties.get("worst_ulps") if COLUMN[test.outcome] in ("passed", "failed") else None
            if ulps is not None and (row["worst_ulps"] is None or ulps > row["worst_ulps"]):
                row["worst_ulps"] = ulps
        return [rows[k] for k in sorted(rows, key=_row_order)]

    def failures(self) -> list[TestResult]:
        return [t for t in self.tests.values() if t.outcome in ("failed", "error")]

    def as_json(self, header: dict, exitstatus: int) -> dict:
        rows = [{**row, "worst_ulps": None if row["worst_ulps"] is None else _json_number(row["worst_ulps"])}
                for row in self.conformance()]
        return {"lossref_report": REPORT_VERSION, "header": header, "exitstatus": int(exitstatus),
                "summary": {k: self.counts().get(k, 0) for k in COLUMN},
                "categories": dict(Counter(t.properties.get("category") for t in self.failures())),
                "conformance": rows,
                "tests": [t.as_json() for t in self.tests.values()]}

    def write(self, path: Path, header: dict, exitstatus: int) -> None:
        path.write_text(json.dumps(self.as_json(header, exitstatus), indent=1) + "\n", encoding="utf-8")


def _skip_reason(report) -> str | None:
    if isinstance(report.longrepr, tuple):
        return report.longrepr[2].removeprefix("Skipped: ")
    return None


_DTYPE_ORDER = ("float64", "float32", "float16", "bfloat16")


def _row_order(key):
    loss, device, dtype = key
    return (loss == NONE, loss, device == NONE, device,
            _DTYPE_ORDER.index(dtype) if dtype in _DTYPE_ORDER else len(_DTYPE_ORDER), dtype)


# --- the table at the end of the run ----------------------------------------------------------

def _ulps_text(ulps) -> str:
    if ulps is None:
        return "-"
    return "inf" if not math.isfinite(ulps) else f"{ulps:.3g}"


def table_lines(rows: list[dict], form: str = "auto", max_rows: int = 40) -> list[str]:
    """The conformance table: one line per loss x device x dtype (``full``), or, when that
    is longer than ``max_rows`` (``auto``), one line per loss with the worst ulps per dtype
    and where it failed (``compact``). Rows where every test was skipped
    are left out and counted in one line (the skip summary above says why)."""
    ran = [r for r in rows if r["passed"] + r["failed"] + r["expected"]]
    all_skipped = [r for r in rows if r not in ran]
    if form == "auto":
        form = "full" if len(ran) <= max_rows else "compact"
    lines = _full(ran) if form == "full" else _compact(ran)
    if all_skipped:
        skipped = sum(r["skipped"] for r in all_skipped)
        by_device = Counter(r["device"] for r in all_skipped)
        lines.append(f"not shown: {len(all_skipped)} rows where all {skipped} tests were skipped "
                     f"({', '.join(f'{d}: {n}' for d, n in sorted(by_device.items()))})")
    return lines


def _full(rows):
    head = f"{'loss':<34} {'device':<6} {'dtype':<8} {'passed':>7} {'failed':>7} {'expected':>8} {'skipped':>8} {'worst ulps':>10}"
    return [head] + [f"{r['loss']:<34} {r['device']:<6} {r['dtype']:<8} {r['passed']:>7} {r['failed']:>7} "
                     f"{r['expected']:>8} {r['skipped']:>8} {_ulps_text(r['worst_ulps']):>10}" for r in rows]


def _compact(rows):
    """One line per loss: its counts over devices and dtypes, the worst ulps per dtype, and
    where it failed (device/dtype and count)."""
    merged: dict[str, dict] = {}
    for r in rows:
        m = merged.setdefault(r["loss"], {**{c: 0 for c in COLUMNS}, "ulps": {}, "failing": []})
        for c in COLUMNS:
            m[c] += r[c]
        if r["worst_ulps"] is not None:
            m["ulps"][r["dtype"]] = max(r["worst_ulps"], m["ulps"].get(r["dtype"], 0.0))
        if r["failed"]:
            where = "/".join(x for x in (r["device"], r["dtype"]) if x != NONE) or "other"
            m["failing"].append(f"{where} {r['failed']}")
    dtypes = [d for d in _DTYPE_ORDER if any(d in m["ulps"] for m in merged.values())]
    head = (f"{'loss':<34} {'passed':>7} {'failed':>7} {'expected':>8} {'skipped':>8}  "
            + " ".join(f"{d:>8}" for d in dtypes) + "  failed in")
    lines = [head]
    if dtypes:     # a run with no comparison in any dtype (refusals only, an early stop) has no ulps columns
        lines.append(f"{'':<34} {'':>7} {'':>7} {'':>8} {'':>8}  {'(worst ulps)':>{9 * len(dtypes) - 1}}")
    for loss, m in merged.items():
        ulps = " ".join(f"{_ulps_text(m['ulps'].get(d)):>8}" for d in dtypes)
        lines.append(f"{loss:<34} {m['passed']:>7} {m['failed']:>7} {m['expected']:>8} {m['skipped']:>8}  "
                     f"{ulps}  {', '.join(m['failing'])}")
    return lines


def category_lines(results: Results) -> list[str]:
    """Failures by category, most frequent first, each with its commonest message."""
    by_category: dict[str, list[TestResult]] = {}
    for test in results.failures():
        by_category.setdefault(test.properties.get("category", "crash"), []).append(test)
    lines = []
    for category, tests in sorted(by_category.items(), key=lambda kv: -len(kv[1])):
        message, _ = Counter(t.properties.get("message", "") for t in tests).most_common(1)[0]
        example = message if len(message) <= 100 else message[:97] + "..."
        lines.append(f"{len(tests):6d}  {CATEGORIES.get(category, category)}  (e.g. {example})")
    return lines
