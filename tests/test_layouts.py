"""Inputs that are not plain contiguous arrays, given to torch and compared with the
reference on the same values, forward and gradient: real kernels have shipped reading
such inputs with the wrong strides. float64 (where the sample allows it), so any
difference is a real one."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from .convert import to_torch_call
from .registry import RECORDS
from .parity import apply_quirk, check_forward, check_gradient, implementation_of


def transposed(t: torch.Tensor) -> torch.Tensor:
    """Same values, last two axes column-major."""
    return t.transpose(-1, -2).contiguous().transpose(-1, -2) if t.ndim >= 2 else t


def strided(t: torch.Tensor) -> torch.Tensor:
    """Same values, every other element of a buffer twice as long (a step-2 slice)."""
    if t.ndim == 0:
        return t
    buffer = torch.zeros(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype, device=t.device)
    buffer[..., ::2] = t
    return buffer[..., ::2]


def class_axis_last(t: torch.Tensor) -> torch.Tensor:
    """Same values, axis 1 (the class axis of K-dim inputs) innermost in memory
    (channels-last for 4-D)."""
    if t.ndim < 3:
        return t
    order = [0] + list(range(2, t.ndim)) + [1]
    return t.permute(order).contiguous().permute([order.index(i) for i in range(t.ndim)])


def expanded(t: torch.Tensor) -> torch.Tensor:
    """A broadcast view (stride 0 along axis 0) of the first row: the values change,
    identically for torch and the reference. Float arrays of 2 or more dimensions only:
    index arrays must stay valid (CTC lengths, ...), and a 1-D array would become a
    constant vector, a degenerate input (cosine of equal directions) rather than a layout."""
    if t.ndim < 2 or t.shape[0] < 2 or not t.is_floating_point():
        return t
    return t[:1].expand_as(t)


LAYOUTS = {"transposed": transposed, "strided": strided, "class-axis-last": class_axis_last, "expanded": expanded}


def _laid_out(args, kwargs, layout):
    change = LAYOUTS[layout]
    return (tuple(change(a) if isinstance(a, torch.Tensor) else a for a in args),
            {k: change(v) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()})


def _cases():
    """(record, sample, layout) wherever the layout makes some argument non-contiguous:
    decided on the sample's shapes, drawn once with a fixed seed at collection."""
    for record in RECORDS:
        yield from cases_of(record, record.samples())


def cases_of(record, samples, declared=False):
    """The layout cases of ``record`` among ``samples`` (docs/losses/ counts them too, among the
    samples as ``declared``: on an older torch those build otherwise than the bounded ones)."""
    bounded = declared and record.samples is not record.declared("samples")
    for sample in samples:
        if "edge" in sample.tags:
            continue
        if "large-vocabulary" in sample.tags and (record.name, sample.id) != ("cross_entropy", "sharp-peaked-V32768-none"):
            # One large vocabulary in every layout; more add seconds, not a stride case (and a
            # stride-0 linear_weight would give all C classes one row: C alike terms whose
            # float32 sum errs like C eps, a bound that tells nothing at C = 2^15).
            continue
        for layout in _layouts_of((record.name, sample.id, bounded), sample):
            yield pytest.param((record, sample, layout), id=f"{record.name}-{sample.id}-{layout}")


#: (loss, sample id, declared sample of a bounded record) -> the layouts that change it: drawn
#: once per run (collection, and the loss pages that count the tests, ask the same).
_LAID_OUT: dict[tuple[str, str, bool], tuple[str, ...]] = {}


def _layouts_of(key, sample) -> tuple[str, ...]:
    if key not in _LAID_OUT:
        try:
            args, kwargs = to_torch_call(*sample.build(np.random.default_rng(0)), torch.float64, "cpu")
        except Exception:  # a broken sample fails its own tests, it does not stop collection
            args, kwargs = None, None
        _LAID_OUT[key] = tuple(layout for layout in LAYOUTS if args is None or _changes(args, kwargs, layout))
    return _LAID_OUT[key]


def _changes(args, kwargs, layout) -> bool:
    laid_args, laid_kwargs = _laid_out(args, kwargs, layout)
    return any(isinstance(t, torch.Tensor) and not t.is_contiguous() for t in (*laid_args, *laid_kwargs.values()))


def covering_layouts(cases) -> set[tuple[str, str, str]]:
    """The layout cases a compiled run keeps (``--lossref-compiled-layouts covering``, the
    default): ``cases`` are (loss, sample id, layout) triples; each sample is laid out once, and
    every layout that some sample of a loss offers is kept for that loss (the rarest layouts are
    placed first, each on the first sample offering it; the other samples take the layout their
    loss has used least). Why: each laid-out call is a graph of its own to torch.compile (strides
    are static), 1154 of a whole inductor run's 4333, while a compiled kernel's indexing depends on
    the loss and the layout, which this keeps, more than on the sample. The eager suite, and
    ``--lossref-compiled-layouts every``, run every case."""
    order = list(LAYOUTS)
    by_loss: dict[str, dict[str, list[str]]] = {}
    for loss, sample, layout in cases:
        by_loss.setdefault(loss, {}).setdefault(sample, []).append(layout)
    kept = set()
    for loss, samples in by_loss.items():
        offered = collections.Counter(layout for layouts in samples.values() for layout in layouts)
        used: collections.Counter = collections.Counter()
        chosen: dict[str, str] = {}
        for layout in sorted(offered, key=lambda name: (offered[name], order.index(name))):
            sample = next((s for s, layouts in samples.items() if layout in layouts and s not in chosen), None)
            if sample is not None:
                chosen[sample] = layout
                used[layout] += 1
        for sample, layouts in samples.items():
            if sample not in chosen:
                chosen[sample] = min(layouts, key=lambda name: (used[name], order.index(name)))
                used[chosen[sample]] += 1
        kept |= {(loss, sample, layout) for sample, layout in chosen.items()}
    return kept


def layout_dtype(sample):
    """float64 unless the sample is meant for narrower dtypes only (integer inputs that torch
    promotes to float32, say): then the tolerance follows the dtype torch computes in."""
    return torch.float64 if sample.dtypes is None or torch.float64 in sample.dtypes else sample.dtypes[0]


def laid_out_call(sample, layout, dtype, device, rng):
    """The test's arguments: the sample drawn from ``rng``, laid out (tests/compiled_batches.py
    draws the same)."""
    return _laid_out(*to_torch_call(*sample.build(rng), dtype, device), layout)


@pytest.mark.parametrize("layout_case", list(_cases()))
def test_layout(layout_case, device, impl, rng, request):
    record, sample, layout = layout_case
    fn = implementation_of(impl, record)
    dtype = layout_dtype(sample)
    laid_args, laid_kwargs = laid_out_call(sample, layout, dtype, device, rng)
    what = f"{record.name} {sample.id} ({layout})"
    apply_quirk(request, record, sample, device, "forward", layout, dtype)
    check_forward(record, what, fn, laid_args, laid_kwargs, dtype)
    if sample.grad:
        apply_quirk(request, record, sample, device, "gradient", layout, dtype)
        check_gradient(record, what, fn, laid_args, laid_kwargs, dtype, rng)


def test_the_compiled_runs_covering_keeps_every_layout_of_every_loss():
    """--lossref-compiled-layouts covering: each sample laid out once, and no (loss, layout) pair
    that some sample offers is lost; a layout only one sample offers goes to that sample."""
    cases = [(record.name, sample.id, layout) for record, sample, layout in (p.values[0] for p in _cases())]
    kept = covering_layouts(cases)
    assert kept <= set(cases)
    assert {(loss, layout) for loss, _, layout in kept} == {(loss, layout) for loss, _, layout in cases}
    assert sorted((loss, sample) for loss, sample, _ in kept) == sorted({(loss, sample) for loss, sample, _ in cases})
    rare = [("l", "a", "transposed"), ("l", "a", "strided"), ("l", "b", "strided")]
    assert covering_layouts(rare) == {("l", "a", "transposed"), ("l", "b", "strided")}
