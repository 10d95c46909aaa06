"""Speed and memory of every reference beside torch, forward and backward, at each size.

Not part of the default suite (``testpaths`` is ``tests``); run with

    OPENBLAS_NUM_THREADS=1 python -m pytest benchmarks --benchmark-only -p no:randomly [--write-results]

``--write-results`` rewrites ``benchmarks/RESULTS.md`` (the table the README links);
``--benchmark-disable`` instead runs every case once on each side, as a quick check that
the module and its inputs still work (no figures).

Each test times one loss (``cases.CASES``) at one size in one direction:

* **forward**: ``reference.<loss>(...)`` against ``torch.nn.functional.<loss>(...)``;
* **backward**: ``reference.<loss>_backward(g, ...)`` against torch's forward plus
  ``torch.autograd.grad`` (the reference's backward recomputes its forward from the
  inputs, so both sides go from the inputs to the gradients).

torch runs on the CPU in float64 with one thread (``torch.set_num_threads(1)``), NumPy's
BLAS with one thread (``OPENBLAS_NUM_THREADS=1``, which only matters for the matrix
products of ``linear_cross_entropy`` and ``ctc_loss``). The two are measured *back to
back in the same rounds*: pytest-benchmark times the reference, and its per-round setup
times one torch call just before, so a burst of load from other processes falls on both.
The table compares the minima (the least disturbed round) and also shows the ratio of
the medians and the spread (median / min) as a measure of the noise.

The reference's peak extra memory is measured with tracemalloc (NumPy reports its
allocations to it) in a separate call, and divided by the bytes of the arrays passed in.
The numbers are for reading, not asserting: a timed assertion would make a suite flaky.
"""

from __future__ import annotations

import gc
import time
import tracemalloc

import numpy as np
import pytest
import torch

import lossref
from benchmarks.cases import CASES, SIZES

#: Timed rounds by size, fewer where one call is slow: at most ~ROUND_BUDGET_S seconds of
#: reference time per test, and never fewer than MIN_ROUNDS.
ROUNDS = {"1K": 200, "64K": 40, "4M": 9}
CTC_ROUNDS = 9
ROUND_BUDGET_S = 3.0
MIN_ROUNDS = 3

#: The upstream gradient of a reduced loss (any value but 1, so a missing factor shows).
GRAD_OUTPUT = 0.7


def _params():
    for case in CASES:
        for size, n in (case.sizes or SIZES).items():
            for direction in ("forward", "backward"):
                yield pytest.param(case, size, n, direction, id=f"{case.id}-{size}-{direction}")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _nbytes(values) -> int:
    return sum(v.nbytes for v in values if isinstance(v, np.ndarray))


def _peak_extra_bytes(fn) -> int:
    """Peak bytes allocated during ``fn()`` beyond what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - before


def _torch_side(case, args, kwargs, direction, device):
    """A no-argument callable running torch's side on ``device``; tensors prepared once."""
    function = getattr(torch.nn.functional, case.loss)
    tensors = [torch.from_numpy(a).to(device) if isinstance(a, np.ndarray) else a for a in args]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if direction == "forward":
        def run():
            function(*tensors, **kwargs)
            sync()
        return run
    # The arguments the reference differentiates (its non-None gradients) require grad in torch.
    grads = getattr(lossref, case.loss + "_backward")(GRAD_OUTPUT, *args, **kwargs)
    leaves = [t for t, g in zip(tensors, grads) if g is not None]
    for t in leaves:
        t.requires_grad_(True)

    def run():
        loss = function(*tensors, **kwargs)
        torch.autograd.grad(loss, leaves, torch.full_like(loss, GRAD_OUTPUT))
        sync()
    return run


def _reference_side(case, args, kwargs, direction):
    if direction == "forward":
        function = getattr(lossref, case.loss)
        return lambda: function(*args, **kwargs)
    function = getattr(lossref, case.loss + "_backward")
    return lambda: function(GRAD_OUTPUT, *args, **kwargs)


def _time(fn, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


@pytest.mark.benchmark(group="reference vs torch")
@pytest.mark.parametrize("case, size, n, direction", list(_params()))
def test_speed(benchmark, rng, results, case, size, n, direction):
    args, kwargs = case.build(n, rng)
    ref = _reference_side(case, args, kwargs, direction)
    on_cpu = _torch_side(case, args, kwargs, direction, "cpu")
    if benchmark.disabled:  # --benchmark-disable: a smoke run, each side once, no figures
        benchmark.pedantic(ref, setup=on_cpu, rounds=1)
        return
    first = _time(ref, 1)[0]
    rounds = max(MIN_ROUNDS, min(CTC_ROUNDS if case.sizes else ROUNDS[size], int(ROUND_BUDGET_S / first)))

    torch_times = []

    def torch_round():  # pytest-benchmark's setup: runs before each timed reference round
        start = time.perf_counter()
        on_cpu()
        torch_times.append(time.perf_counter() - start)

    benchmark.pedantic(ref, setup=torch_round, rounds=rounds, warmup_rounds=1)
    torch_times = torch_times[1:]  # the warm-up round's
    ref_min, ref_median = benchmark.stats.stats.min, benchmark.stats.stats.median
    torch_min, torch_median = min(torch_times), float(np.median(torch_times))

    row = {
        "loss": case.id, "size": size, "direction": direction, "rounds": rounds,
        "reference_min_s": ref_min, "reference_median_s": ref_median,
        "torch_min_s": torch_min, "torch_median_s": torch_median,
        "ratio_min": ref_min / torch_min, "ratio_median": ref_median / torch_median,
        "input_bytes": _nbytes(args), "peak_extra_bytes": _peak_extra_bytes(ref),
    }
    row["memory_ratio"] = row["peak_extra_bytes"] / row["input_bytes"]
    if torch.cuda.is_available():
        on_cuda = _torch_side(case, args, kwargs, direction, "cuda")
        on_cuda()  # warm-up: kernels load on first use
        row["cuda_min_s"] = min(_time(on_cuda, rounds))
    benchmark.extra_info.update(row)
    results.append(row)
