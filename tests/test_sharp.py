"""Sharp where kernels break: every argument of the classification losses laid out in memory
as a kernel may not expect, one argument at a time.

The registry's ``sharp-*`` samples (tests/registry/classification.py: a softmax peaked at
0.999, vocabularies of 32k and 262k, targets 0 and C - 1, ignore_index other than -100,
every row ignored) run through test_forward/test_gradients like every sample, and
tests/test_layouts.py lays out all float arguments at once. Here each argument on its own,
the integer target and the class weight included, is made strided (a step-2 slice),
transposed (2-D and more) or broadcast (stride 0), and the loss with ``reduction='none'``
(one upstream value per row, all different: a kernel that scales every row by the first,
Liger-Kernel #968, fails) is compared with the reference on the same values, forward and
gradient, in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from .convert import to_torch_call
from .parity import check_forward, check_gradient, implementation_of
from .registry import by_name
from .registry.classification import edge_targets, peaked_logits
from .registry.base import logits, positive
from .test_layouts import strided, transposed

ROWS, CLASSES, FEATURES, IGNORED = 5, 7, 3, 2


def _broadcast(t: torch.Tensor) -> torch.Tensor:
    """Stride 0 along axis 0: every row (every class, for a weight) the first one's values."""
    return t[:1].expand_as(t) if t.ndim else t


LAYOUTS = {"strided": strided, "transposed": transposed, "expanded": _broadcast}


def _call(name, rng):
    """A ``reduction='none'`` call with weight and ignore_index = 2 (one row ignored), the
    first and last classes among the targets, peaked logits: (args, kwargs) in NumPy."""
    target = edge_targets(rng, ROWS, CLASSES)
    target[2] = IGNORED
    kwargs = {"weight": positive(rng, CLASSES), "ignore_index": IGNORED, "reduction": "none"}
    if name == "linear_cross_entropy":
        return (logits(rng, (ROWS, FEATURES), 1.0), logits(rng, (CLASSES, FEATURES), 1.0), target), \
            dict(kwargs, linear_bias=logits(rng, CLASSES, 1.0))
    x = peaked_logits(rng, np.where(target == IGNORED, 0, target), CLASSES)
    if name == "nll_loss":
        x = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    return (x, target), kwargs


def _cases():
    for name in ("cross_entropy", "nll_loss", "linear_cross_entropy"):
        args, kwargs = _call(name, np.random.default_rng(0))
        positional = {"cross_entropy": ("input", "target"), "nll_loss": ("input", "target"),
                      "linear_cross_entropy": ("input", "linear_weight", "target")}[name]
        for argument, value in list(zip(positional, args)) + [(k, v) for k, v in kwargs.items()
                                                              if isinstance(v, np.ndarray)]:
            for layout in LAYOUTS:
                if layout == "transposed" and value.ndim < 2:
                    continue
                yield pytest.param(name, argument, layout, id=f"{name}-{argument}-{layout}")


def laid_out_argument_call(name, argument, layout, device, rng):
    """The test's call: ``argument`` laid out as ``layout`` says, every other one contiguous, in
    float64. Also the batched compiled run's plan of the test (tests/compiled_batches.py)."""
    args, kwargs = to_torch_call(*_call(name, rng), torch.float64, device)
    names = [p for p in ("input", "linear_weight", "target") if name == "linear_cross_entropy" or p != "linear_weight"]
    if argument in kwargs:
        kwargs = dict(kwargs, **{argument: LAYOUTS[layout](kwargs[argument])})
    else:
        position = names.index(argument)
        args = args[:position] + (LAYOUTS[layout](args[position]),) + args[position + 1:]
    laid = args[names.index(argument)] if argument in names else kwargs[argument]
    assert not laid.is_contiguous(), f"{argument} ({layout}) should not be contiguous"
    return args, kwargs


@pytest.mark.parametrize("name, argument, layout", list(_cases()))
def test_every_argument_laid_out(name, argument, layout, device, impl, rng):
    record = by_name[name]
    fn = implementation_of(impl, record)
    args, kwargs = laid_out_argument_call(name, argument, layout, device, rng)
    what = f"{name} ({argument} {layout})"
    check_forward(record, what, fn, args, kwargs, torch.float64)
    check_gradient(record, what, fn, args, kwargs, torch.float64, rng)
