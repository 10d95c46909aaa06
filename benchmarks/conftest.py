"""Collects the rows of ``test_speed`` and, with ``--write-results``, writes RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.report import render

RESULTS = Path(__file__).with_name("RESULTS.md")
_ROWS: list[dict] = []


def pytest_addoption(parser):
    parser.addoption("--write-results", action="store_true",
                     help=f"rewrite {RESULTS.name} with the table of this run (run every case)")


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
        RESULTS.write_text(render(_ROWS, _environment()))
