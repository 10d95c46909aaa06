"""Collects the rows of ``test_speed`` and, with ``--write-results``, writes RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.report import render
# The suite's seeding (a generator from the test's id and --lossref-seed): the benchmarks draw
# their inputs the same way. The suite's conftest scopes it to tests/, so it is named here too.
from tests.session import rng  # noqa: F401

RESULTS = Path(__file__).with_name("RESULTS.md")
#: The rows and the machine line of the last --write-results run, so that the table can be
#: rendered again (``python -m benchmarks.report``) when the notes on exceptions change.
ROWS_JSON = Path(__file__).with_name("results.json")
_ROWS: list[dict] = []


def pytest_addoption(parser):
    parser.addoption("--write-results", action="store_true",
                     help=f"rewrite {RESULTS.name} with this run's figures (merged into {ROWS_JSON.name})")


@pytest.fixture(scope="session")
def results() -> list[dict]:
    return _ROWS


def _environment() -> str:
    threads = {k: os.environ.get(k, "unset") for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE")}
    return (f"Python {platform.python_version()}, NumPy {np.__version__}, torch {torch.__version__} "
            f"(1 thread); {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); "
            + ", ".join(f"{k}={v}" for k, v in threads.items())
            + ("; CUDA " + torch.cuda.get_device_name() if torch.cuda.is_available() else "; no CUDA device"))


def pytest_sessionfinish(session):
    if session.config.getoption("--write-results", default=False) and _ROWS:
        rows = _merged(_ROWS)
        ROWS_JSON.write_text(json.dumps({"environment": _environment(), "rows": rows}, indent=1) + "\n")
        RESULTS.write_text(render(rows, _environment()))


def _merged(new: list[dict]) -> list[dict]:
    """The saved rows with this run's in place of those it measured again (a run of a few
    cases with -k updates their lines of the table and keeps the others)."""
    key = lambda row: (row["loss"], row["size"], row["direction"])  # noqa: E731
    rows = {key(r): r for r in json.loads(ROWS_JSON.read_text())["rows"]} if ROWS_JSON.exists() else {}
    rows.update({key(r): r for r in new})
    return list(rows.values())
