"""``lossref``: run the installed suite against an implementation, from any directory.

    lossref [--impl MODULE] [--report FILE] [--xfails FILE] [--write-xfails FILE] [pytest options...]

Every argument goes to pytest (``-k``, ``-m``, ``-n 2``, ``-x``, ``--junitxml``, ...), with
the suite's plugin loaded and the suite itself as the tests to run. The configuration is
the suite's own, never a pytest.ini or pyproject.toml of the directory it runs from (whose
``addopts`` were written for another suite); the cache goes to ``./.pytest_cache`` as
with plain pytest, so ``--lf`` works. Exit status: 0 when every test passed, was skipped
or was expected to fail; 1 otherwise (a failure, an error, a usage error).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SUITE = __package__
SUITE_DIR = Path(__file__).resolve().parent


def pytest_args(argv: list[str]) -> list[str]:
    return ["-p", f"{SUITE}.plugin",
            "-c", os.devnull, "--rootdir", str(SUITE_DIR),
            # No conftest.py above the installed suite: a virtual environment inside a project
            # (./.venv) would otherwise load the project's own conftest into the suite's run.
            "--confcutdir", str(SUITE_DIR),
            "-o", f"cache_dir={Path.cwd() / '.pytest_cache'}",
            "-rfEX", "--strict-markers",
            "--pyargs", SUITE, *argv]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    return 0 if pytest.main(pytest_args(argv)) == pytest.ExitCode.OK else 1


if __name__ == "__main__":
    sys.exit(main())
