"""One run from its parts: the ``--report`` files of a suite split across CI jobs, merged.

A run that outgrows one machine (the compiled suite on every release, a GPU fleet) is split
into groups, e.g. with pytest-split's duration-balanced groups, each job writing its report::

    lossref --splits 4 --group 1 --report part1.json      # ... and groups 2 to 4, on four jobs
    python -m lossref.tests.merge run.json part1.json part2.json part3.json part4.json \
        [--write-xfails baseline.txt]

The merged report has the schema of one run's (``report.schema.json``): every test once, the
summary, the failure categories and the conformance table recomputed from the tests, the
exit status a single run would have had (the worst part's, where 0 < 1 < 2 < 3 < 4; 5, "no
test exercised the implementation", only where every part says so). The conformance table
is printed; ``--write-xfails`` writes the baseline of the merged run. The parts must be one
run's: the same implementation, torch, seed and devices, and no test in two parts; a part that
is not a lossref report, or of another version, is refused in one line (status 4).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .report import REPORT_VERSION, Results, TestResult, table_lines
from .xfails import from_report
from .xfails import write as write_xfails

#: What the parts of one run must share.
SAME_RUN = ("impl", "torch", "seed", "devices_tested", "xfails", "suite_prefix")
_ENTRY_KEYS = ("loss", "device", "dtype", "category", "message", "exercises_impl", "check")


class MergeError(ValueError):
    """Parts that are not one run's; the message is the one line printed."""


def _read(path: Path) -> dict:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MergeError(f"{path}: cannot read it as JSON ({error})") from None
    if not isinstance(report, dict) or report.get("lossref_report") != REPORT_VERSION:
        raise MergeError(f"{path}: not a lossref report of version {REPORT_VERSION} "
                         f"(found {report.get('lossref_report') if isinstance(report, dict) else type(report).__name__})")
    return report


def _exit_status(statuses: list[int]) -> int:
    if all(s == 5 for s in statuses):
        return 5
    return max(s for s in statuses if s != 5)


def merge(reports: list[dict], names: list[str]) -> dict:
    """The merged report of ``reports`` (``names``: where each came from, for messages)."""
    first = reports[0]["header"]
    for report, name in zip(reports[1:], names[1:]):
        differs = [k for k in SAME_RUN if report["header"].get(k) != first.get(k)]
        if differs:
            key = differs[0]
            raise MergeError(f"{name}: not the same run as {names[0]}: {key} is {report['header'].get(key)!r}, "
                             f"there {first.get(key)!r}")
    results, seen = Results(), {}
    for report, name in zip(reports, names):
        for entry in report["tests"]:
            nodeid = entry["nodeid"]
            if nodeid in seen:
                raise MergeError(f"{name}: {nodeid} is in {seen[nodeid]} too: the parts overlap")
            seen[nodeid] = name
            properties = {k: entry[k] for k in _ENTRY_KEYS if k in entry}
            if "worst_ulps" in entry:
                properties["worst_ulps"] = float(entry["worst_ulps"])    # "inf" reads back as inf
            results.tests[nodeid] = TestResult(nodeid, entry["outcome"], properties, entry.get("reason"))
    # The first part's header (one run's schema has no field for the parts: the summary line says them).
    return results.as_json(dict(first), _exit_status([int(r["exitstatus"]) for r in reports]))


def main(argv: list[str]) -> int:
    args = list(argv)
    baseline = None
    if "--write-xfails" in args:
        at = args.index("--write-xfails")
        if at + 1 >= len(args):
            print("merge: --write-xfails needs a FILE", file=sys.stderr)
            return 4
        baseline = Path(args.pop(at + 1))
        args.pop(at)
    if len(args) < 2:
        print("usage: python -m lossref.tests.merge OUT.json PART.json [PART.json ...] [--write-xfails FILE]",
              file=sys.stderr)
        return 4
    out, parts = Path(args[0]), args[1:]
    try:
        merged = merge([_read(Path(p)) for p in parts], parts)
    except MergeError as error:
        print(f"merge: {error}", file=sys.stderr)
        return 4
    out.write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
    rows = [dict(row, worst_ulps=None if row["worst_ulps"] is None else float(row["worst_ulps"]))   # "inf" in JSON
            for row in merged["conformance"]]
    for line in table_lines(rows):
        print(line)
    summary = ", ".join(f"{n} {k}" for k, n in merged["summary"].items() if n)
    print(f"merged {len(parts)} parts into {out}: {summary}; exit status {merged['exitstatus']}")
    if baseline is not None:
        write_xfails(baseline, from_report(merged),
                     header=f"lossref: known failures of {merged['header']['impl']} (torch {merged['header']['torch']}), "
                            f"merged from {len(parts)} parts")
        print(f"wrote {baseline}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
