"""The scale tier (``-m scale``; left out of the default run): cross_entropy and
linear_cross_entropy at N * V > 2^31 logits, in bfloat16 and float16, where int32 index
arithmetic (row * V + target) overflows. No fused-loss project's tests reach this size.

The reference streams over blocks of rows, each a plain call of the NumPy reference (its
formula stays the readable one), so it needs ``ROW_BLOCK * V`` float64 values at a time,
not N * V. Memory on the implementation's side: 2 bytes per logit for the input and 2 for
torch's saved log-softmax (8.6 GB at N * V = 2^31 + 2^21 in bfloat16); the gradient needs
two more such tensors (~17 GB), so it runs where that fits (``LOSSREF_SCALE_MEMORY_GB``,
default 12: on a 12 GB CPU budget the forward runs and the gradient is skipped with that
reason; on CUDA the device's free memory decides).

Runs on CUDA when present, else on the CPU (slow: minutes per case on 2 cores).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import lossref

from .compare import assert_matches
from .convert import to_numpy
from .parity import implementation_of
from .registry import by_name
from .tolerances import Magnitude, magnitude_scale, tolerance

pytestmark = pytest.mark.scale

VOCABULARY = 2 ** 18                       # 262144: Gemma 3's vocabulary
ROWS = 2 ** 31 // VOCABULARY + 8           # 8200 rows: the last 8 start beyond 2^31 elements
FEATURES = 16                              # linear_cross_entropy's in_features
ROW_BLOCK = 32                             # rows per reference call: 32 * 2^18 float64 = 64 MB an array
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPES = [pytest.param(torch.bfloat16, id="bfloat16"), pytest.param(torch.float16, id="float16")]


def _budget_bytes() -> int:
    if DEVICE == "cuda":
        return torch.cuda.mem_get_info()[0]
    return int(float(os.environ.get("LOSSREF_SCALE_MEMORY_GB", "12")) * 2 ** 30)


def _needs(tensors_of_logit_size: int, dtype) -> None:
    need = tensors_of_logit_size * ROWS * VOCABULARY * torch.finfo(dtype).bits // 8
    if need > _budget_bytes():
        pytest.skip(f"needs ~{need / 2 ** 30:.1f} GiB for {tensors_of_logit_size} tensors of {ROWS} x {VOCABULARY} "
                    f"on {DEVICE}; the budget is {_budget_bytes() / 2 ** 30:.1f} GiB (LOSSREF_SCALE_MEMORY_GB)")


def _logits(seed: int, dtype) -> torch.Tensor:
    """Normal logits (scale 2), drawn block by block straight into the dtype under test."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.empty(ROWS, VOCABULARY, dtype=dtype, device=DEVICE)
    for start in range(0, ROWS, ROW_BLOCK):
        block = torch.randn(min(ROW_BLOCK, ROWS - start), VOCABULARY, generator=generator) * 2.0
        x[start:start + len(block)] = block.to(dtype)
    return x


def _targets(rng) -> torch.Tensor:
    """Random classes, the last class on the last row (the largest offset) and one ignored row."""
    target = rng.integers(0, VOCABULARY, ROWS)
    target[-1], target[-2] = VOCABULARY - 1, -100
    return torch.tensor(target, device=DEVICE)


def _streamed(fn, magnitude_fn, row_args, shared_args, kwargs):
    """``fn`` (a reference) on blocks of rows, concatenated: per-row results ('none'), and
    the per-row magnitudes of the tolerance model (tests/tolerances.py) alongside."""
    values, rounded, accumulated = [], [], []
    for start in range(0, ROWS, ROW_BLOCK):
        rows = [to_numpy(a[start:start + ROW_BLOCK]) for a in row_args]
        args = rows[:1] + [to_numpy(a) for a in shared_args] + rows[1:]
        values.append(fn(*args, **kwargs))
        magnitude = magnitude_fn(*args, **kwargs)
        rounded.append(magnitude.rounded)
        accumulated.append(magnitude.accumulated)
    return np.concatenate(values), Magnitude(np.concatenate(rounded), np.concatenate(accumulated))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_at_scale(dtype, impl, rng):
    """Per-row losses over N * V > 2^31 logits equal the streamed reference: an int32 offset
    reads the wrong logit on the rows past 2^31 (tests/mutants/int32_row_offsets.py)."""
    record = by_name["cross_entropy"]
    fn = implementation_of(impl, record)
    _needs(2, dtype)
    x, target = _logits(int(rng.integers(2 ** 31)), dtype), _targets(rng)
    got = fn(x, target, reduction="none").detach().cpu().double().numpy()
    expected, magnitude = _streamed(lossref.cross_entropy, record.value_magnitude, (x, target), (),
                                    {"reduction": "none"})
    assert_matches(got, expected, tolerance(dtype), f"cross_entropy {ROWS} x {VOCABULARY}: value", dtype=dtype,
                   scale=magnitude_scale(magnitude, dtype), check="value")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.checks("gradient")
def test_cross_entropy_gradient_at_scale(dtype, impl, rng):
    """d loss / d input ('none', a different upstream value per row) over N * V > 2^31."""
    record = by_name["cross_entropy"]
    fn = implementation_of(impl, record)
    _needs(4, dtype)
    x, target = _logits(int(rng.integers(2 ** 31)), dtype), _targets(rng)
    upstream = torch.tensor(rng.choice([-1.0, 1.0], ROWS) * rng.uniform(0.5, 2.0, ROWS), dtype=dtype, device=DEVICE)
    leaf = x.requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(leaf, target, reduction="none"), leaf, upstream)
    for start in range(0, ROWS, ROW_BLOCK):
        block = slice(start, start + ROW_BLOCK)
        args = (to_numpy(upstream[block]), to_numpy(x[block]), to_numpy(target[block]))
        expected = lossref.cross_entropy_backward(*args, reduction="none")[0]
        magnitude = record.gradient_magnitude(*args, reduction="none")[0]
        assert_matches(grad[block].cpu().double().numpy(), expected, tolerance(dtype),
                       f"cross_entropy {ROWS} x {VOCABULARY}: gradient of input, rows {start}+", dtype=dtype,
                       scale=magnitude_scale(magnitude, dtype), check="gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_cross_entropy_at_scale(dtype, impl, rng):
    """linear_cross_entropy whose logits (N, V) pass 2^31 elements though its arguments are
    small: (N, 16) and (V, 16)."""
    record = by_name["linear_cross_entropy"]
    if not record.available():
        pytest.skip("the installed torch has no linear_cross_entropy")
    fn = implementation_of(impl, record)
    _needs(2, dtype)
    generator = torch.Generator().manual_seed(int(rng.integers(2 ** 31)))
    x = torch.randn(ROWS, FEATURES, generator=generator).to(dtype).to(DEVICE)
    w = (torch.randn(VOCABULARY, FEATURES, generator=generator) * 0.5).to(dtype).to(DEVICE)
    target = _targets(rng)
    got = fn(x, w, target, reduction="none").detach().cpu().double().numpy()
    expected, magnitude = _streamed(lossref.linear_cross_entropy, record.value_magnitude, (x, target), (w,),
                                    {"reduction": "none"})
    assert_matches(got, expected, tolerance(dtype), f"linear_cross_entropy {ROWS} x {VOCABULARY}: value",
                   dtype=dtype, scale=magnitude_scale(magnitude, dtype), check="value")
