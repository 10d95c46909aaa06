"""No reference modifies what it is given, bit for bit: forward and backward, every
registry sample (float64 arrays, integer arrays, lists of lengths); and what a reference
returns is the caller's own array (the references read their inputs through read-only
views for speed, so a result must never be such a view, nor share memory with another)."""

from __future__ import annotations

import copy

import numpy as np

import lossref

from .registry.base import Both


def _snapshot(value):
    if isinstance(value, np.ndarray):
        return (value.dtype, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    return copy.deepcopy(value) if not isinstance(value, Both) else value


def test_reference_leaves_inputs_unmodified(record_sample, rng):
    record, sample = record_sample
    args, kwargs = sample.build(rng)
    args = tuple(a.reference if isinstance(a, Both) else a for a in args)
    kwargs = {k: v.reference if isinstance(v, Both) else v for k, v in kwargs.items()}
    before = (_snapshot(args), _snapshot(kwargs))
    out = getattr(lossref, record.name)(*args, **kwargs)
    getattr(lossref, f"{record.name}_backward")(np.ones(out.shape), *args, **kwargs)
    assert (_snapshot(args), _snapshot(kwargs)) == before


def _arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _arrays(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _arrays(v)


def test_results_are_the_callers_own(record_sample, rng):
    """Writeable, and sharing memory with no input and no other result: a caller may
    modify a loss or a gradient in place without corrupting its inputs or another result."""
    record, sample = record_sample
    args, kwargs = sample.build(rng)
    args = tuple(a.reference if isinstance(a, Both) else a for a in args)
    kwargs = {k: v.reference if isinstance(v, Both) else v for k, v in kwargs.items()}
    out = getattr(lossref, record.name)(*args, **kwargs)
    grads = [g for g in getattr(lossref, f"{record.name}_backward")(np.ones(out.shape), *args, **kwargs)
             if g is not None]
    inputs = list(_arrays((args, kwargs)))
    results = [out, *grads]
    for i, result in enumerate(results):
        assert result.flags.writeable, f"result {i} is read-only"
        for j, array in enumerate(inputs):
            assert not np.shares_memory(result, array), f"result {i} shares memory with input array {j}"
        for j in range(i):
            assert not np.shares_memory(result, results[j]), f"results {j} and {i} share memory"
