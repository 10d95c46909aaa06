"""The two checks every parity test makes, on torch arguments it has prepared:
the forward value and the gradients, each against the reference fed the same values."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
import torch

import lossref
from lossref._common import array_parameters as _array_parameters
from lossref._common import positional_parameters as _positional_parameters

from . import quirks
from .classify import first_line
from .compare import InputModified, Mismatch, assert_matches  # noqa: F401 (re-exported for reports)
from .convert import result_to_numpy, to_numpy, to_numpy_call
from . import impl as implementations
from .plugin import value
from .session import impl_chosen
from .tolerances import dtype_name, magnitude_scale, tolerance

# torch refuses requires_grad on some arguments ("... is not differentiable with respect
# to argument 'weight'", "the derivative for 'target' is not implemented"): those get no
# gradient, and the reference must say None for them.
_NOT_DIFFERENTIABLE = re.compile(r"(?:not differentiable with respect to argument|derivative for) '(\w+)'")


def _dtype_of(request):
    """The dtype of a registry-parametrized test (its ``device_case`` / ``gradient_case``)."""
    params = getattr(getattr(request, "node", None), "callspec", None)
    case = None if params is None else params.params.get("device_case", params.params.get("gradient_case"))
    return None if case is None else dtype_name(case[3])


def apply_quirk(request, record, sample, device, test, layout="contiguous", dtype=None, inputs=None,
                implementation="torch", split=()):
    """Expect a known torch quirk where it shows (on the registry ``sample``: its id and its
    tags); ``inputs``: the drawn torch (args, kwargs), for a quirk that shows on some draws only;
    ``implementation``: which of torch's the test runs ("torch", "loss_parallel"); ``split``: the
    tags of a sharded case's class split."""
    dtype = _dtype_of(request) if dtype is None else dtype_name(dtype)
    if inputs is not None:
        inputs = to_numpy_call(*inputs)
    names = implementations.load(value(request.config, "impl")).quirk_implementations \
        if implementation == "torch" else (implementation,)
    for name in names:
        quirk = quirks.find(record.name, sample.id, device, test, layout, dtype, inputs, tags=sample.tags,
                            implementation=name, split=split)
        if quirk is not None:
            break
    if quirk is not None:
        expect_quirk(request, quirk)


def expect_quirk(request, quirk):
    """Mark the test as an expected failure of a known torch bug. Strict (a pass fails the
    run: torch fixed it, the entry must go) only where torch's own eager functions are
    under test and the bug is deterministic; another implementation (``--impl``, compile
    included) is free not to share torch's bug, so there a pass is reported as XPASS."""
    own_torch = not impl_chosen(request.config) or quirk.implementation != "torch"   # loss_parallel is torch's too
    kind = "documented limit" if quirk.documented else "known torch quirk"
    reason = f"{kind} {quirk.name}: {quirk.reason} ({quirk.thread})"
    if quirk.hangs:
        pytest.xfail(f"not run: {reason}")    # a case that never returns is not worth its timeout
    request.applymarker(pytest.mark.xfail(strict=quirk.deterministic and own_torch, reason=reason))
    if not getattr(request.config.option, "runxfail", False):
        # pytest formats a failure's traceback (parsing the source file of every frame) before
        # it learns that the failure was expected, and an expected one's is never shown: the
        # terminal, --junitxml and --report give the quirk's reason and the exception's first
        # line. The suite's ~90 quirks spent 2 to 3 s of the default run there.
        request.node.repr_failure = first_line_of


def first_line_of(excinfo) -> str:
    """An expected failure's report text (``expect_quirk``)."""
    return first_line(excinfo.value)


def implementation_of(impl, record):
    if not record.available():
        pytest.skip(f"the installed torch has no {record.name}")
    if impl.sharded:
        pytest.skip(f"{impl} follows the sharded interface: it runs in the sharded tier (-m sharded)")
    fn = impl.function(record.name)
    if fn is None:
        pytest.skip(f"{impl} does not define {record.name}")
    return fn


# Per loss, once: every forward and gradient check asks (a signature is read in ~20 µs).
@functools.lru_cache(maxsize=None)
def array_parameters(name: str) -> tuple[str, ...]:
    """The forward's array parameters, positional or keyword-only, in signature order:
    one ``<name>_backward`` entry each (the contract's rule, ``lossref._common.array_parameters``)."""
    return _array_parameters(getattr(lossref, name))


@functools.lru_cache(maxsize=None)
def positional_parameters(name: str) -> tuple[str, ...]:
    """The forward's parameters a positional argument binds to, in order."""
    return _positional_parameters(getattr(lossref, name))


def arguments_by_name(name: str, args, kwargs) -> dict:
    """Every argument of a call under the name of the parameter it binds to, positional or
    keyword (an argument past the signature: ``argument <i>``)."""
    names = positional_parameters(name)
    given = {names[i] if i < len(names) else f"argument {i}": a for i, a in enumerate(args)}
    given.update(kwargs)
    return given


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same shape, dtype and values, nan where nan (torch.equal calls nan unequal to itself)."""
    a, b = a.detach(), b.detach()
    return (a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.isnan(), b.isnan())
            and torch.equal(torch.where(a.isnan(), 0, a), torch.where(b.isnan(), 0, b)))


class _Snapshot:
    """The tensor arguments of a call as they were before it: values (nan where nan),
    shape, strides and offset, to prove afterwards that the call left them alone."""

    def __init__(self, name, torch_args, torch_kwargs):
        self._kept = [(label, t, t.shape, t.stride(), t.storage_offset(), t.detach().clone())
                      for label, t in arguments_by_name(name, torch_args, torch_kwargs).items()
                      if isinstance(t, torch.Tensor)]

    def assert_unchanged(self, what):
        for label, t, shape, stride, offset, before in self._kept:
            now = t.detach()
            same_layout = (now.shape, now.stride(), now.storage_offset()) == (shape, stride, offset)
            if not (same_layout and same_values(now, before)):
                raise InputModified(f"{what}: the implementation modified its argument {label!r}", what, label)


def check_forward(record, what, fn, torch_args, torch_kwargs, dtype):
    """``fn``'s value against the reference. A function that asks for its value from the
    training graph (``forward_requires_grad``: tests/compiled.py, so that the forward and the
    gradient test of a sample share one compiled graph) gets the gradient test's leaves."""
    ref_args, ref_kwargs = to_numpy_call(torch_args, torch_kwargs)
    before = _Snapshot(record.name, torch_args, torch_kwargs)
    if getattr(fn, "forward_requires_grad", False):
        leaves = _float_leaves(record.name, arguments_by_name(record.name, torch_args, torch_kwargs))
        out, _ = _autograd(record.name, fn, torch_args, torch_kwargs, leaves, None)
        got = result_to_numpy(out.detach())
    else:
        got = result_to_numpy(fn(*torch_args, **torch_kwargs))   # an exception of the implementation propagates as is
    before.assert_unchanged(what)
    expected = getattr(lossref, record.name)(*ref_args, **ref_kwargs)
    assert isinstance(expected, np.ndarray) and expected.dtype == np.float64, f"{what}: not a float64 ndarray"
    magnitude = record.value_magnitude(*ref_args, **ref_kwargs) if record.value_magnitude is not None else None
    assert_matches(got, expected, tolerance(dtype, record.conditioning), what=f"{what}: value", dtype=dtype,
                   check="value", scale=magnitude_scale(magnitude, dtype))


def leaf_call(name, args, kwargs, leaves, transform):
    """The call a gradient is taken of: ``leaves`` (parameter names) as new tensors requiring
    grad, the record's input transform applied. Returns (call args, call kwargs, leaves by name)."""
    positional = positional_parameters(name)
    given = arguments_by_name(name, args, kwargs)
    leaf_tensors = {n: given[n].detach().requires_grad_(True) for n in leaves}
    call_args = [leaf_tensors.get(positional[i], a) if i < len(positional) else a for i, a in enumerate(args)]
    call_kwargs = {k: leaf_tensors.get(k, v) for k, v in kwargs.items()}
    if transform is not None:
        call_args[transform.position] = transform.torch_fn(call_args[transform.position])
    return call_args, call_kwargs, leaf_tensors


def draw_upstream(rng, out):
    """The gradient tests' grad_output for an output ``out``: random signs and magnitudes in
    [0.5, 2], not only ones, and never so small that a wrong gradient hides inside the
    tolerance behind a tiny upstream factor."""
    upstream = rng.choice([-1.0, 1.0], size=out.shape) * rng.uniform(0.5, 2.0, size=out.shape)
    return torch.tensor(upstream, dtype=out.dtype, device=out.device)


def _autograd(name, fn, args, kwargs, leaves, transform):
    """Run fn with ``leaves`` (parameter names, positional or keyword arguments) requiring
    grad; drop the ones torch refuses. Returns the output and the leaf tensors by name."""
    while True:
        call_args, call_kwargs, leaf_tensors = leaf_call(name, args, kwargs, leaves, transform)
        try:
            return fn(*call_args, **call_kwargs), leaf_tensors
        except RuntimeError as error:
            match = _NOT_DIFFERENTIABLE.search(str(error))
            refused = [n for n in leaves if match and n == match.group(1)]
            if not refused:
                raise
            leaves = [n for n in leaves if n not in refused]


def _float_leaves(name, given: dict) -> list[str]:
    """The parameters a gradient test differentiates: every floating tensor argument
    (``given``: the call's arguments by parameter name, :func:`arguments_by_name`)."""
    return [n for n in array_parameters(name) if isinstance(given.get(n), torch.Tensor) and given[n].is_floating_point()]


def check_gradient(record, what, fn, torch_args, torch_kwargs, dtype, rng):
    """autograd of ``fn`` for a random grad_output against ``reference.<name>_backward``.

    Every floating tensor argument is a leaf, positional or keyword (``linear_bias``,
    ``pos_weight``, a ``weight`` passed by name), and is compared with the reference's
    entry for its parameter, found by name among the forward's array parameters."""
    transform = record.gradient_transform
    names = array_parameters(record.name)
    given = arguments_by_name(record.name, torch_args, torch_kwargs)
    float_leaves = _float_leaves(record.name, given)
    before = _Snapshot(record.name, torch_args, torch_kwargs)
    out, leaf_tensors = _autograd(record.name, fn, torch_args, torch_kwargs, float_leaves, transform)
    grad_output = draw_upstream(rng, out)
    torch_grads = dict(zip(leaf_tensors, torch.autograd.grad(
        out, list(leaf_tensors.values()), grad_output, allow_unused=True))) if leaf_tensors else {}
    before.assert_unchanged(what)   # the leaves share the arguments' memory: forward and backward are both covered

    ref_args, ref_kwargs = to_numpy_call(torch_args, torch_kwargs)
    if transform is not None:
        leaf = ref_args[transform.position]
        ref_args = ref_args[:transform.position] + (transform.numpy_fn(leaf),) + ref_args[transform.position + 1:]
    ref_grads = getattr(lossref, f"{record.name}_backward")(to_numpy(grad_output), *ref_args, **ref_kwargs)
    assert isinstance(ref_grads, tuple) and len(ref_grads) == len(names), (
        f"{record.name}_backward must return a tuple with one entry per array parameter of the forward "
        f"({', '.join(names)}), got {len(ref_grads) if isinstance(ref_grads, tuple) else type(ref_grads).__name__}")
    if transform is not None:
        at = names.index(positional_parameters(record.name)[transform.position])
        if ref_grads[at] is not None:
            ref_grads = ref_grads[:at] + (transform.numpy_vjp(leaf, ref_grads[at]),) + ref_grads[at + 1:]

    tol = tolerance(dtype, record.conditioning)
    magnitudes = (record.gradient_magnitude(to_numpy(grad_output), *ref_args, **ref_kwargs)
                  if record.gradient_magnitude is not None and transform is None else ())
    for position, (parameter, ref_grad) in enumerate(zip(names, ref_grads)):
        torch_grad = torch_grads.get(parameter)
        where = f"{what}: gradient of {parameter}"
        if parameter not in given:
            assert ref_grad is None, f"{where}: not passed, the reference gives a gradient"
            continue
        if torch_grad is None:
            assert ref_grad is None, f"{where}: torch gives none, the reference gives one"
            continue
        assert ref_grad is not None, f"{where}: torch gives one, the reference gives None"
        assert isinstance(ref_grad, np.ndarray) and ref_grad.dtype == np.float64, f"{where}: not a float64 array"
        magnitude = magnitudes[position] if position < len(magnitudes) else None
        assert_matches(result_to_numpy(torch_grad), ref_grad, tol, what=where, dtype=dtype, check="gradient",
                       scale=magnitude_scale(magnitude, dtype))
