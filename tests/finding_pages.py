"""What the findings modules (tests/compiled_findings.py, tests/sharded/findings.py) share: a
docs page's generated section between two markers, and their command line (``--write`` the
page, ``--run NAME`` one reproduction)."""

from __future__ import annotations

import sys


def with_section(current: str, begin: str, end: str, section: str) -> str:
    """``current`` with the text from ``begin`` to ``end`` replaced by ``section`` (which carries both)."""
    head, _, rest = current.partition(begin)
    _, _, tail = rest.partition(end)
    return head + section + tail


def main(argv: list[str], *, page, page_text, reproductions, run, module: str) -> int:
    if argv[:1] == ["--write"]:
        page.write_text(page_text(page.read_text()))
        print(f"wrote {page}")
        return 0
    if len(argv) == 2 and argv[0] == "--run":
        if argv[1] not in reproductions:
            print(f"--run {argv[1]}: no such finding (one of {', '.join(reproductions)})", file=sys.stderr)
            return 4
        return run(argv[1]).returncode
    print(f"usage: python -m {module} --write | --run NAME", file=sys.stderr)
    return 4
