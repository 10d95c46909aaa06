"""The element-wise losses' per-entry magnitude model bites (lossref.tolerance, "Entries far
below 1"; tests/registry/accumulation.py, record_gradient_magnitude): a 'mean' gradient entry
g/N ~ 1e-3 in bfloat16 that is 100 % wrong (the mutant tests/mutants/small_mean_gradient_dropped
returns 0 there) passed the O(1) bound (atol 16 eps = 0.125) and fails test_gradient's check now,
while torch passes it on the same draw."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from . import impl as implementations
from .compare import Mismatch
from .parity import check_gradient
from .registry import RECORDS

RECORD = {r.name: r for r in RECORDS}


@pytest.mark.parametrize("loss", ["l1_loss", "mse_loss"])
def test_a_wrong_small_mean_gradient_entry_fails(loss):
    record, dtype = RECORD[loss], torch.bfloat16
    if dtype not in record.dtypes["cpu"]:   # bounded by the installed release (mse_loss: 2.5+)
        pytest.skip(f"torch {torch.__version__} has no CPU {loss} in {dtype}")
    rng = np.random.default_rng(18)
    n = 1024        # entries g/N in [0.5, 2] / 1024: ~1e-3
    x = torch.tensor(rng.normal(size=n), dtype=dtype)
    y = torch.tensor(rng.normal(size=n), dtype=dtype) + torch.where(x > 0, -0.5, 0.5).to(dtype)
    args, kwargs = (x, y), {"reduction": "mean"}
    right = implementations.load().function(loss)
    wrong = implementations.load(f"{__package__}.mutants.small_mean_gradient_dropped").function(loss)
    check_gradient(record, "torch", right, args, kwargs, dtype, np.random.default_rng(1))      # torch: inside
    old = replace(record, value_magnitude=None, gradient_magnitude=None)                       # the O(1) model
    check_gradient(old, "mutant, O(1) bound", wrong, args, kwargs, dtype, np.random.default_rng(1))
    with pytest.raises(Mismatch, match="gradient of input"):
        check_gradient(record, "mutant", wrong, args, kwargs, dtype, np.random.default_rng(1))
