"""The accumulation tier's checks (tests/test_accumulation.py) and its measurements
(tests/accumulation_report.py): one large call of an implementation in a half type against the
float64 reference fed the same rounded inputs, held to the case's rounding model
(tests/registry/accumulation.py; ``lossref.tolerance``, "Half-precision reductions").

Each check returns the worst error in units of its bound (``ratio``: 1 is the bound), so that
the tier and the docs table measure the same thing.
"""

from __future__ import annotations

import numpy as np
import torch

import lossref
import lossref._common
from lossref import tolerance as rule

from .compare import assert_matches
from .convert import result_to_numpy, to_numpy, to_numpy_call, to_torch_call
from .registry import by_name
from .registry.accumulation import Case, gradient_magnitudes, value_magnitude
from .tolerances import dtype_name, magnitude_scale, tolerance


def _bound(case: Case, dtype, expected, magnitude):
    """(Tolerance, scale) of the case's model."""
    name = dtype_name(dtype)
    if case.model == "sum":
        return rule.accumulation_tolerance(name, case.final), rule.accumulation_scale(magnitude, name)
    return tolerance(dtype, by_name[case.loss].conditioning), magnitude_scale(magnitude, dtype)


def ratio(got, expected, tol, scale) -> float:
    """The worst finite entry's error over its allowance (1: at the bound)."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    allowed = tol.rtol * np.abs(expected) + tol.atol * np.broadcast_to(np.asarray(scale, dtype=np.float64),
                                                                        expected.shape)
    finite = np.isfinite(got) & np.isfinite(expected)
    if not finite.any():
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.max(np.where(finite, np.abs(got - expected) / allowed, 0.0)))


def drift_eps(got, expected, dtype) -> float:
    """The worst error in units of eps(dtype) times |expected| (what "units in the last place" means here)."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.max(np.abs(got - expected) / (rule.eps(dtype_name(dtype)) * np.abs(expected))))


def inputs(case: Case, rng, dtype, device):
    """(torch args, torch kwargs, reference args, reference kwargs): the reference gets exactly
    the rounded values torch got."""
    args, kwargs = case.build(rng)
    torch_args, torch_kwargs = to_torch_call(args, kwargs, dtype, device)
    ref_args, ref_kwargs = to_numpy_call(torch_args, torch_kwargs)
    return torch_args, dict(torch_kwargs, **case.torch_kwargs), ref_args, ref_kwargs


def check_value(case: Case, fn, prepared, dtype, *, assert_=True):
    """The value of ``fn`` on ``prepared`` (:func:`inputs`) against the reference within the
    case's bound; returns (ratio, drift in eps, got, expected)."""
    torch_args, torch_kwargs, ref_args, ref_kwargs = prepared
    got = result_to_numpy(fn(*torch_args, **torch_kwargs))
    expected = getattr(lossref, case.loss)(*ref_args, **ref_kwargs)
    if case.model == "sum":
        magnitude = value_magnitude(case, ref_args, ref_kwargs)
    else:
        record = by_name[case.loss]
        magnitude = record.value_magnitude(*ref_args, **ref_kwargs) if record.value_magnitude else None
    tol, scale = _bound(case, dtype, expected, magnitude)
    if assert_:
        assert_matches(got, expected, tol, f"{case.name} {dtype_name(dtype)}: value", dtype=dtype, scale=scale,
                       check="value")
    return ratio(got, expected, tol, scale), drift_eps(got, expected, dtype), got, expected


def check_gradient(case: Case, fn, prepared, dtype, rng, *, assert_=True):
    """Every floating argument's gradient (a random upstream value in [0.5, 2], either sign,
    drawn from ``rng``) against ``lossref.<loss>_backward``; returns the worst ratio over the
    arguments and the worst drift in eps."""
    torch_args, torch_kwargs, ref_args, ref_kwargs = prepared
    # the arguments the reference differentiates (torch refuses a gradient for the rest: targets)
    names = lossref._common.array_parameters(getattr(lossref, case.loss))
    shape = np.shape(getattr(lossref, case.loss)(*ref_args, **ref_kwargs))
    probe = getattr(lossref, f"{case.loss}_backward")(np.ones(shape), *ref_args, **ref_kwargs)
    differentiable = {n for n, gr in zip(names, probe) if gr is not None and n not in ("target",)}
    leaves = [a.detach().requires_grad_(True) if isinstance(a, torch.Tensor) and a.is_floating_point()
              and i < len(names) and names[i] in differentiable else a for i, a in enumerate(torch_args)]
    kw_leaves = {k: (v.detach().requires_grad_(True) if isinstance(v, torch.Tensor) and v.is_floating_point()
                     and k in ("linear_bias",) else v) for k, v in torch_kwargs.items()}
    out = fn(*leaves, **kw_leaves)
    upstream = rng.choice([-1.0, 1.0], size=out.shape) * rng.uniform(0.5, 2.0, size=out.shape)
    grad_output = torch.tensor(upstream, dtype=out.dtype, device=out.device)
    wrt = [t for t in list(leaves) + list(kw_leaves.values()) if isinstance(t, torch.Tensor) and t.requires_grad]
    grads = dict(zip(map(id, wrt), torch.autograd.grad(out, wrt, grad_output)))
    g = to_numpy(grad_output)
    expected = getattr(lossref, f"{case.loss}_backward")(g, *ref_args, **ref_kwargs)
    record = by_name[case.loss]
    if case.model == "sum":
        magnitudes = gradient_magnitudes(case, g, ref_args, ref_kwargs)
    else:
        magnitudes = record.gradient_magnitude(g, *ref_args, **ref_kwargs)
    given = dict(zip(names, leaves))
    given.update({k: v for k, v in kw_leaves.items() if k in names})
    worst, drift = 0.0, 0.0
    tol = tolerance(dtype, record.conditioning)
    for position, (parameter, ref_grad) in enumerate(zip(names, expected)):
        leaf = given.get(parameter)
        if ref_grad is None or not isinstance(leaf, torch.Tensor) or not leaf.requires_grad:
            continue
        got = result_to_numpy(grads[id(leaf)])
        magnitude = magnitudes[position] if position < len(magnitudes) else None
        scale = magnitude_scale(magnitude, dtype)
        if assert_:
            assert_matches(got, ref_grad, tol, f"{case.name} {dtype_name(dtype)}: gradient of {parameter}",
                           dtype=dtype, scale=scale, check="gradient")
        worst = max(worst, ratio(got, ref_grad, tol, scale))
        with np.errstate(divide="ignore", invalid="ignore"):
            drift = max(drift, float(np.nanmax(np.abs(got - ref_grad) / (rule.eps(dtype_name(dtype))
                                                                          * np.abs(ref_grad)))))
    return worst, drift
