"""Suite options, parametrization from the registry, seeding, header and skip summary.

Options (see the README): ``--device cpu|cuda|all`` (default: every device, CUDA cases
skipped with a reason where there is none), ``--impl MODULE`` (the implementation under
test; default ``torch.nn.functional``) and ``--seed N`` (mixed into every test's seed).
"""

from __future__ import annotations

import collections
import zlib

import numpy as np
import pytest
import torch

from tests import impl as implementations
from tests.registry import RECORDS

CUDA_PRESENT = torch.cuda.is_available()
NO_CUDA = "CUDA not available (torch.cuda.is_available() is False)"


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


def pytest_report_header(config):
    present = "cpu" + (f", cuda ({torch.cuda.get_device_name()})" if CUDA_PRESENT else "")
    tested = ", ".join(devices(config))
    return [
        f"lossref: implementation under test: {config.getoption('--impl')}",
        f"lossref: torch {torch.__version__}, numpy {np.__version__}; devices present: {present}; "
        f"devices tested: {tested}" + ("" if CUDA_PRESENT or "cuda" not in tested else " (cuda cases skip)"),
        f"lossref: each test's numpy seed is crc32 of its node id, with --seed {config.getoption('--seed')}",
    ]


def pytest_terminal_summary(terminalreporter):
    reasons = collections.Counter()
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):
            reasons[report.longrepr[2].removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("lossref: what was skipped and why")
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"{count:6d}  {reason}")

