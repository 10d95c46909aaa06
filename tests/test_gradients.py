"""Gradient parity: each ``reference.<name>_backward`` equals ``torch.autograd.grad`` of
the implementation under test, for a random ``grad_output`` (never only ones), on every
registry sample, device and dtype; ``None`` exactly where torch gives no gradient."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch

import reference

from .compare import assert_matches
from .convert import result_to_numpy, to_numpy, to_numpy_call, to_torch_call
from .test_forward import apply_quirk, implementation_of
from .tolerances import tolerance

# torch refuses requires_grad on some arguments ("... is not differentiable with respect
# to argument 'weight'", "the derivative for 'target' is not implemented"): those get no
# gradient, and the reference must say None for them.
_NOT_DIFFERENTIABLE = re.compile(r"(?:not differentiable with respect to argument|derivative for) '(\w+)'")


def _array_parameters(name: str) -> list[str]:
    """The forward's positional parameters that take arrays: one backward entry each."""
    return [p for p in inspect.signature(getattr(reference, name)).parameters.values()
            if p.kind is p.POSITIONAL_OR_KEYWORD]


def _autograd(name, fn, args, kwargs, leaves, transform):
    """Run fn with ``leaves`` (argument positions) requiring grad; drop the ones torch refuses."""
    while True:
        leaf_tensors = {i: args[i].detach().requires_grad_(True) for i in leaves}
        call_args = [leaf_tensors.get(i, a) for i, a in enumerate(args)]
        if transform is not None:
            call_args[transform.position] = transform.torch_fn(call_args[transform.position])
        try:
            out = fn(*call_args, **kwargs)
            return out, leaf_tensors
        except RuntimeError as error:
            match = _NOT_DIFFERENTIABLE.search(str(error))
            if not match:
                raise
            names = [p.name for p in _array_parameters(name)]
            refused = [i for i in leaves if i < len(names) and names[i] == match.group(1)]
            if not refused:
                raise
            leaves = [i for i in leaves if i not in refused]


def test_gradient(device_case, rng, impl, request):
    record, sample, device, dtype = device_case
    apply_quirk(request, record, sample, device, "gradient")
    fn = implementation_of(impl, record)
    backward = getattr(reference, f"{record.name}_backward")
    args, kwargs = sample.build(rng)
    torch_args, torch_kwargs = to_torch_call(args, kwargs, dtype, device)
    transform = record.gradient_transform
    float_positions = [i for i, a in enumerate(torch_args)
                       if isinstance(a, torch.Tensor) and a.is_floating_point()]

    out, leaf_tensors = _autograd(record.name, fn, torch_args, torch_kwargs, float_positions, transform)
    grad_output = torch.tensor(rng.normal(size=out.shape), dtype=out.dtype, device=device)
    torch_grads = dict(zip(leaf_tensors, torch.autograd.grad(
        out, list(leaf_tensors.values()), grad_output, allow_unused=True))) if leaf_tensors else {}

    ref_args, ref_kwargs = to_numpy_call(torch_args, torch_kwargs)
    if transform is not None:
        leaf = ref_args[transform.position]
        ref_args = ref_args[:transform.position] + (transform.numpy_fn(leaf),) + ref_args[transform.position + 1:]
    ref_grads = backward(to_numpy(grad_output), *ref_args, **ref_kwargs)
    if transform is not None and ref_grads[transform.position] is not None:
        ref_grads = list(ref_grads)
        ref_grads[transform.position] = transform.numpy_vjp(leaf, ref_grads[transform.position])

    assert isinstance(ref_grads, tuple) and len(ref_grads) == len(_array_parameters(record.name)), (
        f"{record.name}_backward must return one entry per array parameter of the forward")
    tol = tolerance(dtype, record.conditioning)
    for position, ref_grad in enumerate(ref_grads[:len(torch_args)]):
        torch_grad = torch_grads.get(position)
        what = f"{record.name} {sample.id}: gradient of argument {position}"
        if torch_grad is None:
            assert ref_grad is None, f"{what}: torch gives none, the reference gives one"
            continue
        assert ref_grad is not None, f"{what}: torch gives one, the reference gives None"
        assert isinstance(ref_grad, np.ndarray) and ref_grad.dtype == np.float64, f"{what}: not a float64 array"
        assert_matches(result_to_numpy(torch_grad), ref_grad, tol, what=what)
