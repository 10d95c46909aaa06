"""An adopter's baseline: ``--xfails FILE`` lists the failures it knows about.

One test id or glob per line, a reason after ``#``; blank lines and lines that are only a
comment are skipped::

    test_forward.py::test_forward[l1_loss-*]   # weight not accepted (our issue #12)

Ids are the suite's own, relative to the suite's directory (``test_forward.py::...``,
whether the suite runs installed or from the repository's ``tests/``); ``*`` and ``?`` are
the only wildcards, so the brackets of a parametrized id need no escaping. A listed test
that fails is reported as an expected failure with the entry's reason; one that passes is
reported as XPASS (non-strict) so that the entry can go; an entry that matches no
collected test is warned about.

Write one with ``--write-xfails FILE`` at the end of a run, or from a ``--report`` file::

    python -m lossref.tests.xfails r.json known-failures.txt
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: Starts the ``wasxfail`` reason of a failure the xfails file expected, so that the
#: controller of an xdist run, which sees only reports, can tell them from the quirks.
REASON_PREFIX = "xfails "


@dataclass
class Entry:
    pattern: str
    reason: str
    where: str                     # FILE:LINE, for messages
    matched: int = 0

    def __post_init__(self):
        self.is_glob = "*" in self.pattern or "?" in self.pattern
        self.regex = re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                                        for c in self.pattern)) if self.is_glob else None


@dataclass
class Baseline:
    path: Path
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path, shown: str | None = None) -> "Baseline":
        """``shown``: the name to print for ``path`` (as the user wrote it)."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ValueError(f"--xfails {shown or path}: cannot read it ({error.strerror})") from None
        baseline = cls(path)
        for number, line in enumerate(lines, start=1):
            pattern, _, reason = line.partition("#")
            if pattern.strip() and (len(pattern.split()) != 1 or "::" not in pattern):
                raise ValueError(f"--xfails {shown or path}:{number}: {pattern.strip()!r} is not a test id or glob "
                                 f"(expected one FILE::TEST[PARAMS] per line, '*' and '?' as wildcards, "
                                 f"'# reason' after it)")
            if pattern.strip():
                baseline.entries.append(Entry(pattern.strip(), reason.strip() or "listed in the xfails file",
                                              f"{shown or path}:{number}"))
        return baseline

    def match(self, suite_id: str) -> Entry | None:
        """The first entry that names ``suite_id``: exact ids first, then globs in file order."""
        exact = self._exact().get(suite_id)
        if exact is not None:
            return exact
        return next((e for e in self.entries if e.is_glob and e.regex.fullmatch(suite_id)), None)

    def _exact(self) -> dict[str, Entry]:
        if not hasattr(self, "_exact_cache"):
            self._exact_cache = {}
            for entry in self.entries:
                if not entry.is_glob:
                    self._exact_cache.setdefault(entry.pattern, entry)
        return self._exact_cache

    def count_matches(self, suite_ids) -> list[Entry]:
        """Count each entry's matches among ``suite_ids``; return the entries that match none."""
        for suite_id in suite_ids:
            entry = self._exact().get(suite_id)
            if entry is not None:
                entry.matched += 1
            for entry in self.entries:
                if entry.is_glob and entry.regex.fullmatch(suite_id):
                    entry.matched += 1
        return [e for e in self.entries if not e.matched]


def reason_for(entry: Entry) -> str:
    return f"{REASON_PREFIX}{entry.where}: {entry.reason}"


def write(path: Path, failures: list[tuple[str, str, str]], header: str) -> None:
    """An xfails file for ``failures`` (suite id, category, one-line message), grouped by
    category: the baseline of the run that produced them."""
    lines = [f"# {line}" for line in header.splitlines()] + [""]
    by_category: dict[str, list[tuple[str, str]]] = {}
    for suite_id, category, message in sorted(failures):
        by_category.setdefault(category, []).append((suite_id, message))
    for category, items in sorted(by_category.items()):
        lines.append(f"# {category}: {len(items)}")
        lines += [f"{suite_id}  # {category}: {message}".replace("\n", " ") for suite_id, message in items]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def from_report(report: dict) -> list[tuple[str, str, str]]:
    """The failures of a ``--report`` (and the listed tests that still fail), as
    (suite id, category, message) for :func:`write`."""
    prefix = report["header"]["suite_prefix"]
    return [(t["nodeid"].removeprefix(prefix), t["category"], t["message"]) for t in report["tests"]
            if t["outcome"] in ("failed", "error")
            or (t["outcome"] == "xfailed" and t.get("reason", "").startswith(REASON_PREFIX) and "category" in t)]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m lossref.tests.xfails REPORT.json XFAILS.txt", file=sys.stderr)
        return 2
    report = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    failures = from_report(report)
    write(Path(argv[1]), failures, header=f"lossref: known failures of {report['header']['impl']} "
                                          f"(torch {report['header']['torch']}), from {argv[0]}")
    print(f"{argv[1]}: {len(failures)} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
