"""The gate closes: the parity checks, run on a deliberately wrong implementation
(``tests/mutants``, loadable with ``--impl``), fail, and on torch's own they pass.

One mutant per failure class a report names (wrong value, wrong gradient, wrong shape,
argument not accepted, crash, bad input accepted, input modified), each planted the way a
real kernel shipped it; each is run here on the one sample that must expose it, with the
check the suite runs there and the error that check must raise. The module docstrings name
the suite's test that catches each one under ``--impl``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from . import impl as implementations
from .compare import InputModified, Mismatch
from .convert import to_torch_call
from .parity import check_forward, check_gradient
from .registry import by_name
from .test_layouts import transposed
from .test_sharp import LAYOUTS as ARGUMENT_LAYOUTS, _call as sharp_call

# Package-independent: the suite may be installed under another name than ``tests``.
MUTANTS_PACKAGE = f"{__package__}.mutants"


def _mutant(name):
    return implementations.load(f"{MUTANTS_PACKAGE}.{name}")


PASSED = object()   # an option that must be passed, whatever its value


@dataclass(frozen=True)
class Kind:
    """The first sample carrying ``tags`` whose call passes ``options`` (``PASSED``: any
    value): a mutant exposed by a kind of input, not by one sample."""

    tags: frozenset = frozenset()
    options: dict = field(default_factory=dict)

    def __init__(self, *tags: str, **options):
        object.__setattr__(self, "tags", frozenset(tags))
        object.__setattr__(self, "options", options)

    def matches(self, sample) -> bool:
        if not self.tags <= sample.tags:
            return False
        _, kwargs = sample.build(np.random.default_rng(0))
        return all(k in kwargs and (v is PASSED or kwargs[k] == v) for k, v in self.options.items())


MUTANTS = [
    # (module, loss, the sample: a Kind, or the id of one particular sample, check, dtype, what must be raised)
    ("gradient_times_batch", "cross_entropy", Kind("batched", "class-indices", reduction="mean"), "gradient",
     torch.float64, Mismatch),
    ("weighted_mean_over_n", "nll_loss", Kind("ignored-rows", reduction="mean", weight=PASSED), "forward",
     torch.float64, Mismatch),
    ("small_gradient_entries", "cross_entropy", "sharp-peaked-V32768-none", "gradient", torch.float32, Mismatch),
    ("small_gradient_entries", "cross_entropy", "sharp-random-V32768-weight-mean", "gradient", torch.bfloat16,
     Mismatch),
    ("peaked_softmax_rounded", "cross_entropy", "sharp-peaked-V32768-none", "gradient", torch.float32, Mismatch),
    ("first_upstream_value", "cross_entropy", Kind("batched", "class-indices", reduction="none"), "gradient",
     torch.float64, Mismatch),
    ("ignore_index_hardcoded", "cross_entropy", "sharp-peaked-ignore3-weight-mean", "forward", torch.float64,
     Mismatch),
    ("transposed_as_contiguous", "cross_entropy", Kind("batched", "class-indices", reduction="mean"),
     "forward-transposed", torch.float64, Mismatch),
    ("empty_sum_shape", "cross_entropy", Kind("empty-batch", reduction="sum"), "forward", torch.float64, Mismatch),
    ("no_weight_argument", "cross_entropy", Kind("batched", weight=PASSED), "forward", torch.float64, TypeError),
    ("positional_order", "gaussian_nll_loss", Kind(), "forward", torch.float64, (Mismatch, ValueError, RuntimeError)),
    ("crash_on_label_smoothing", "cross_entropy", Kind(label_smoothing=0.1), "forward", torch.float64,
     NotImplementedError),
    ("modifies_input", "cross_entropy", Kind("batched"), "forward", torch.float64, InputModified),
    ("label_smoothing_over_c_minus_1", "cross_entropy", Kind("batched", "class-indices", label_smoothing=0.1),
     "forward", torch.float64, Mismatch),
    ("weighted_mean_over_count", "cross_entropy", Kind("batched", "class-indices", reduction="mean", weight=PASSED),
     "forward", torch.float64, Mismatch),
    ("all_ignored_mean_zero", "cross_entropy", "sharp-every-row-ignored-ignore4-mean", "forward", torch.float64,
     Mismatch),
    # a keyword-only tensor's gradient: caught only because every floating argument is a leaf, however passed
    ("linear_bias_gradient_dropped", "linear_cross_entropy", "1C-none-ignore-100-bias-label_smoothing0.0-index",
     "gradient", torch.float64, Mismatch),
]
MUTANTS = [pytest.param(*m, id=f"{m[0]}-{m[4]}".replace("torch.", "")) for m in MUTANTS]


def _sample(record, which, dtype):
    """The sample ``which`` names: a ``Kind``, or a sample id."""
    for sample in record.samples():
        if sample.dtypes is not None and dtype not in sample.dtypes:
            continue
        if which.matches(sample) if isinstance(which, Kind) else sample.id == which:
            return sample
    raise LookupError(f"no {record.name} sample is {which!r} in {dtype}")


def _check(check, record, fn, args, kwargs, dtype, seed):
    if check.startswith("forward"):
        check_forward(record, record.name, fn, args, kwargs, dtype)
    else:   # the same upstream draw for torch and the mutant
        check_gradient(record, record.name, fn, args, kwargs, dtype, np.random.default_rng(seed))


@pytest.mark.parametrize("mutant, loss, which, check, dtype, raised", MUTANTS)
def test_checks_fail_on_a_wrong_implementation(mutant, loss, which, check, dtype, raised, rng):
    record = by_name[loss]
    if not record.available():
        pytest.skip(f"the installed torch has no {loss}")
    args, kwargs = to_torch_call(*_sample(record, which, dtype).build(rng), dtype, "cpu")
    if check == "forward-transposed":
        args = tuple(transposed(a) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
    right, wrong = implementations.load().function(loss), _mutant(mutant).function(loss)
    _check(check, record, right, args, kwargs, dtype, seed=1)
    with pytest.raises(raised):
        _check(check, record, wrong, args, kwargs, dtype, seed=1)


ARGUMENT_MUTANTS = [
    pytest.param("strided_target_misread", "nll_loss", "target", "strided", id="strided_target_misread"),
    pytest.param("broadcast_weight_misread", "cross_entropy", "weight", "expanded", id="broadcast_weight_misread"),
]


@pytest.mark.parametrize("mutant, loss, argument, layout", ARGUMENT_MUTANTS)
def test_argument_layout_mutants_fail(mutant, loss, argument, layout, rng):
    """The per-argument layouts of tests/test_sharp.py catch a kernel that ignores the
    strides of one argument."""
    record = by_name[loss]
    args, kwargs = to_torch_call(*sharp_call(loss, rng), torch.float64, "cpu")
    if argument in kwargs:
        kwargs = dict(kwargs, **{argument: ARGUMENT_LAYOUTS[layout](kwargs[argument])})
    else:
        args = (args[0], ARGUMENT_LAYOUTS[layout](args[1])) + args[2:]
    check_forward(record, loss, implementations.load().function(loss), args, kwargs, torch.float64)
    with pytest.raises(Mismatch):
        check_forward(record, loss, _mutant(mutant).function(loss), args, kwargs, torch.float64)


def test_bad_input_accepted_is_caught():
    """no_target_range_check clamps an out-of-range class index where torch refuses it:
    test_errors.py::test_torch_refuses[nll_loss-target-out-of-range] fails on it."""
    case = next(c for c in by_name["nll_loss"].errors() if c.id == "target-out-of-range")
    args = tuple(torch.as_tensor(a) for a in case.args)
    with pytest.raises(case.torch_error):
        implementations.load().function("nll_loss")(*args, **case.kwargs)
    _mutant("no_target_range_check").function("nll_loss")(*args, **case.kwargs)   # accepted: no error


def test_int32_offsets_equal_torch_below_two_to_the_31():
    """int32_row_offsets is right at every size the default suite runs, which is why the
    scale tier exists (tests/test_scale.py, ``-m scale``, catches it past 2^31 elements)."""
    record, rng = by_name["cross_entropy"], np.random.default_rng(0)
    x, t = torch.tensor(rng.normal(size=(6, 50))), torch.tensor(rng.integers(0, 50, 6))
    for reduction in ("none", "mean", "sum"):
        check_forward(record, "int32 offsets", _mutant("int32_row_offsets").function("cross_entropy"), (x, t),
                      {"reduction": reduction}, torch.float64)
