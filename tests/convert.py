"""Moving a sample between the two sides: NumPy (reference) and torch (implementation)."""

from __future__ import annotations

import numpy as np
import torch

from .registry.base import Both


class _TorchSide:
    """What torch gets for a ``Both`` function: its torch side, remembering the reference's."""

    def __init__(self, both: Both):
        self.both = both

    def __call__(self, *args, **kwargs):
        return self.both.torch(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self.both)


#: One torch side per function: every call of a sample passes the same callable, as code does,
#: so torch.compile's guard on its identity holds and a compiled run's plan matches the test's
#: call (tests/compiled_batches.py); a new wrapper per call made dynamo recompile for each one.
_TORCH_SIDES: dict[int, _TorchSide] = {}


def _torch_side(both: Both) -> _TorchSide:
    side = _TORCH_SIDES.get(id(both))
    if side is None or side.both is not both:
        side = _TORCH_SIDES[id(both)] = _TorchSide(both)
    return side


def to_torch(value, dtype: torch.dtype, device: str):
    """Float arrays become tensors of the dtype under test; integer arrays keep their dtype."""
    if isinstance(value, Both):
        return _torch_side(value) if callable(value.torch) else value.torch
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return torch.tensor(value, dtype=dtype, device=device)
        return torch.tensor(value, device=device)
    if isinstance(value, (list, tuple)):
        return type(value)(to_torch(v, dtype, device) for v in value)
    return value


def to_numpy(value):
    """What the reference gets: exactly the values torch got, as float64 (or int64)."""
    if isinstance(value, Both):
        return value.reference
    if isinstance(value, _TorchSide):
        return value.both.reference
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.double().numpy() if value.is_floating_point() else value.numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    return value


def as_tensor(value, device: str = "cpu"):
    """A NumPy array as a tensor of its own dtype (a copy), anything else as it is: how
    fixtures and error cases reach torch, with their recorded dtypes."""
    return torch.from_numpy(np.array(value)).to(device) if isinstance(value, np.ndarray) else value


def to_torch_call(args, kwargs, dtype, device):
    return (tuple(to_torch(a, dtype, device) for a in args),
            {k: to_torch(v, dtype, device) for k, v in kwargs.items()})


def to_numpy_call(args, kwargs):
    return tuple(to_numpy(a) for a in args), {k: to_numpy(v) for k, v in kwargs.items()}


def result_to_numpy(value: torch.Tensor) -> np.ndarray:
    return value.detach().cpu().double().numpy()
