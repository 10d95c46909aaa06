"""The fixture files as the suite reads them: each loaded (and schema-validated) once per
session, by whichever test asks first; the tests only read the cases. And a fixture's call of its
loss, built one way for its test and for a batched compiled run's plan."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from lossref import fixtures

from .convert import as_tensor
from .parity import array_parameters, arguments_by_name, positional_parameters


@functools.cache
def case(name: str) -> fixtures.Case:
    return fixtures.load(name)


def every_case() -> list[fixtures.Case]:
    return [case(name) for name in fixtures.names()]


@dataclass
class FixtureCall:
    """A fixture's call of a loss, as its test makes it: the recorded arrays as tensors of their
    recorded dtypes, a leaf for every array that has a recorded gradient (by its parameter's
    name: huber's weight, linear_cross_entropy's bias), the registry's input transform applied
    (CTC's log_softmax: torch differentiates with respect to the logits)."""

    args: list
    kwargs: dict
    leaves: dict          # index of the array parameter -> its leaf tensor
    names: list           # the loss's array parameters, by index
    transformed: int | None   # the index of the parameter the transform applies to, if any


def recorded_grad_output(case: fixtures.Case, out: torch.Tensor) -> torch.Tensor:
    """The fixture's ``grad_output``, in the output's dtype and on its device."""
    return torch.as_tensor(np.asarray(case.grad_output), dtype=out.dtype, device=out.device)


def fixture_call(case: fixtures.Case, record, device: str) -> FixtureCall:
    """The call of ``case`` on ``device``: tests/test_fixtures.py makes it, and a batched compiled
    run plans it (tests/compiled_batches.py)."""
    args = [as_tensor(a, device) for a in case.args]
    kwargs = {k: as_tensor(v, device) for k, v in fixtures.resolve(case.kwargs, torch.nn.functional).items()}
    names = array_parameters(case.loss)
    positional = positional_parameters(case.loss)
    given = arguments_by_name(case.loss, args, kwargs)
    wanted = [] if case.gradients is None else [
        i for i, g in enumerate(case.gradients) if g is not None and isinstance(given.get(names[i]), torch.Tensor)
        and given[names[i]].is_floating_point()]
    leaves = {i: given[names[i]].detach().clone().requires_grad_(True) for i in wanted}
    leaf_of = {names[i]: leaf for i, leaf in leaves.items()}
    call = [leaf_of.get(positional[i], a) if i < len(positional) else a for i, a in enumerate(args)]
    call_kwargs = {k: leaf_of.get(k, v) for k, v in kwargs.items()}
    transform = record.gradient_transform
    at = None if transform is None else names.index(positional[transform.position])
    if transform is not None and at in leaves:
        call[transform.position] = transform.torch_fn(call[transform.position])
    return FixtureCall(call, call_kwargs, leaves, names, at if at in leaves else None)
