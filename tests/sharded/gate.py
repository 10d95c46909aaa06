"""The sharded tier's checks, in the pytest process: every rank's loss and gradient shard against
the dense reference.

A case is a registry sample of a shardable loss (``interface.SHARDABLE``), a device, a dtype
and a split of its classes over the run's ranks (``interface.splits``). The reference sees the
dense call, with the values the ranks see (floats rounded to the dtype); each rank answers its
loss and its shard of the gradient (``ranks.run_case``).

Tolerances: the suite's own (``tests/tolerances.py``: the dtype's, the loss's conditioning and
the per-entry magnitudes of the cross-entropy family), with no factor for sharding. A split
changes the order of the sums over classes, not their terms: the sum of exponentials becomes N
local sums (each ``log2(C/N)`` roundings in a pairwise or cascade sum) added over the ranks (the
reduction adds at most ``N - 1`` roundings: gloo's ring adds one rank's part at a time), and a
sum of positive terms carries a relative error of at most one unit a rounding. For N <= 8 that
is at most 7 more units of the accumulation type (the dtype itself for float32 and float64,
float32 for the half types) beside ``log2(C)``, inside the 16 units of ``ULPS`` over torch's
measured worst of 7.3 in float32; the target's log-probability and label smoothing's sum are
sums of one owner's term and N - 1 zeros, exact. The option check (``tests/options.py``)
keeps ``--world-size`` at 8 or less for that reason.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import lossref

from ..compare import Mismatch, assert_matches
from ..convert import to_numpy, to_numpy_call, to_torch_call
from ..parity import arguments_by_name, array_parameters, positional_parameters
from ..registry import by_name
from ..tolerances import dtype_name, magnitude_scale, tolerance
from .interface import MAX_WORLD_SIZE, SHARDABLE, class_axes, classes_of, splits  # noqa: F401
from .ranks import Case, Ranks

#: The default ``--world-size`` of ``-m sharded`` (the lossref command starts the tier when given one).
DEFAULT_WORLD_SIZE = 2


def records():
    """The registry records of the shardable losses the installed torch has."""
    return [by_name[name] for name in SHARDABLE if name in by_name]


@functools.lru_cache(maxsize=None)
def sample_classes(loss: str, sample_id: str) -> int:
    """The number of classes of a sample (its shapes do not depend on the draw)."""
    sample = next(s for s in by_name[loss].samples() if s.id == sample_id)
    args, kwargs = sample.build(np.random.default_rng(0))
    return classes_of(loss, arguments_by_name(loss, args, kwargs))


def world_size(config) -> int:
    from ..plugin import value

    return value(config, "world-size") or DEFAULT_WORLD_SIZE


class Groups:
    """The run's process groups, one per device, each started on first use and ended at the
    end of the run."""

    def __init__(self, world_size: int):
        self.world_size = world_size
        self._by_device: dict[str, Ranks] = {}

    def on(self, device: str) -> Ranks:
        if device == "cuda" and torch.cuda.device_count() < self.world_size:
            pytest.skip(f"NCCL needs one GPU a rank: {self.world_size} ranks, {torch.cuda.device_count()} GPUs")
        if device not in self._by_device:
            self._by_device[device] = Ranks(self.world_size, device)
        return self._by_device[device]

    def stop(self) -> None:
        for ranks in self._by_device.values():
            ranks.stop()


@pytest.fixture(scope="session")
def sharded_groups(request):
    """Started once per run (per pytest -n worker: each has its own group and ports)."""
    groups = Groups(world_size(request.config))
    yield groups
    groups.stop()


def _upstream(rng, shape, dtype):
    """A grad_output like the dense gradient test's (random signs, magnitudes in [0.5, 2]),
    rounded to the dtype: every rank gets the same one."""
    drawn = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape)
    return to_numpy(torch.tensor(drawn, dtype=dtype))


def _shard(array, axis, bounds):
    return np.take(array, np.arange(*bounds), axis=axis)


def draw(sample, dtype, rng):
    """The sample's call as the ranks and the reference see it: floats rounded to ``dtype``
    (torch tensors on the CPU; each rank moves its shard to its device)."""
    args, kwargs = sample.build(rng)
    return to_torch_call(args, kwargs, dtype, "cpu")


def check(record, sample, call, device, dtype, split, module, ranks: Ranks, rng, test: str) -> None:
    """Run ``call`` (from :func:`draw`) on every rank; check the loss (``test="forward"``) or the
    gradient shards (``"gradient"``) against the dense reference."""
    name = record.name
    ref_args, ref_kwargs = to_numpy_call(*call)
    expected = getattr(lossref, name)(*ref_args, **ref_kwargs)
    label = f"{name} {sample.id} {device} {dtype_name(dtype)} {split.id}"
    tol = tolerance(dtype, record.conditioning)
    parameters = array_parameters(name)
    grad_output, leaves, ref_grads = None, (), ()
    if test == "gradient":
        grad_output = _upstream(rng, expected.shape, dtype)
        ref_grads = getattr(lossref, f"{name}_backward")(grad_output, *ref_args, **ref_kwargs)
        leaves = tuple(p for p, g in zip(parameters, ref_grads) if g is not None)
    case = Case(label, module, name, ref_args, ref_kwargs, positional_parameters(name),
                dtype_name(dtype), device, split.sizes, grad_output, leaves)
    answers = ranks.run(case)

    if test == "forward":
        magnitude = record.value_magnitude(*ref_args, **ref_kwargs) if record.value_magnitude is not None else None
        scale = magnitude_scale(magnitude, dtype)
        for rank, (_, loss, _) in enumerate(answers):
            assert_matches(loss, expected, tol, what=f"{label}: rank {rank}'s value", dtype=dtype, check="value",
                           scale=scale)
        for rank, (_, loss, _) in enumerate(answers[1:], start=1):
            if not np.array_equal(loss, answers[0][1], equal_nan=True):
                raise Mismatch(f"{label}: rank {rank}'s loss {loss.tolist()} differs from rank 0's "
                               f"{answers[0][1].tolist()}: every rank must return the same loss",
                               f"{label}: value", "value", "value")
        return

    axes = class_axes(name, arguments_by_name(name, ref_args, ref_kwargs))
    magnitudes = (record.gradient_magnitude(grad_output, *ref_args, **ref_kwargs)
                  if record.gradient_magnitude is not None else ())
    for position, (parameter, ref_grad) in enumerate(zip(parameters, ref_grads)):
        if ref_grad is None:
            continue
        magnitude = magnitudes[position] if position < len(magnitudes) else None
        scale = np.broadcast_to(magnitude_scale(magnitude, dtype), ref_grad.shape)
        for rank, (_, _, grads) in enumerate(answers):
            bounds = split.bounds(rank)
            want, want_scale, part = ref_grad, scale, "the whole gradient (replicated)"
            if parameter in axes:
                want, want_scale = _shard(ref_grad, axes[parameter], bounds), _shard(scale, axes[parameter], bounds)
                part = f"classes {bounds[0]}:{bounds[1]}"
            where = f"{label}: rank {rank}'s gradient of {parameter} ({part})"
            got = grads.get(parameter)
            if got is None and want.size == 0:
                continue    # a rank that owns no class: autograd may say None for its empty shard
            if got is None:
                raise Mismatch(f"{where}: none, the reference gives one", where, "value", "gradient")
            assert_matches(got, want, tol, what=where, dtype=dtype, check="gradient", scale=want_scale)
