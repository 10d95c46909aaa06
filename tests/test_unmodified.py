"""No reference modifies what it is given, bit for bit: forward and backward, every
registry sample (float64 arrays, integer arrays, lists of lengths)."""

from __future__ import annotations

import copy

import numpy as np

import reference

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
    out = getattr(reference, record.name)(*args, **kwargs)
    getattr(reference, f"{record.name}_backward")(np.ones(out.shape), *args, **kwargs)
    assert (_snapshot(args), _snapshot(kwargs)) == before
