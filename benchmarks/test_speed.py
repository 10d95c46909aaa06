"""Speed and memory of the references beside torch, with pytest-benchmark.

Not part of the default suite (``testpaths`` is ``tests``); run with

    python -m pytest benchmarks --benchmark-only

Each loss (the conftest parametrizes ``record`` from the registry) is timed on the registry's first sample scaled up by ``SCALE`` in its batch
(NumPy float64 reference vs torch float64 on the CPU); the reference's peak memory
(tracemalloc) goes into the benchmark's extra_info. The numbers are for reading, not
asserting: a timed assertion would make the suite flaky.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

import reference
from tests.convert import to_numpy_call, to_torch_call

SCALE = 64


def _first_sample(record):
    return next(s for s in record.samples() if not s.id.startswith("edge-"))


def _scaled(value):
    """Repeat arrays along their first axis (not CTC lengths: their values must stay valid)."""
    if isinstance(value, np.ndarray) and value.ndim >= 2 and value.dtype.kind == "f":
        return np.concatenate([value] * SCALE)
    return value


def _call(record, rng):
    args, kwargs = _first_sample(record).build(rng)
    if record.name != "ctc_loss":
        args = tuple(_scaled(a) for a in args)
    return to_torch_call(args, kwargs, torch.float64, "cpu")


@pytest.mark.benchmark(group="reference")
def test_reference_speed(benchmark, record, rng):
    try:
        ref_args, ref_kwargs = to_numpy_call(*_call(record, rng))
    except Exception as error:
        pytest.skip(f"scaled sample invalid for {record.name}: {error}")
    fn = getattr(reference, record.name)
    tracemalloc.start()
    fn(*ref_args, **ref_kwargs)
    benchmark.extra_info["peak_bytes"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    benchmark(fn, *ref_args, **ref_kwargs)


@pytest.mark.benchmark(group="torch")
def test_torch_speed(benchmark, record, rng):
    if not record.available():
        pytest.skip(f"the installed torch has no {record.name}")
    try:
        args, kwargs = _call(record, rng)
    except Exception as error:
        pytest.skip(f"scaled sample invalid for {record.name}: {error}")
    benchmark(getattr(torch.nn.functional, record.name), *args, **kwargs)
