"""torch's own sharded cross-entropy, ``torch.distributed.tensor.parallel.loss_parallel``, behind the
sharded interface: ``lossref --impl loss_parallel --world-size N`` (the sharded tier's default when
the run tests torch).

As its documentation has a user call it: the rank's shard becomes a ``DTensor`` sharded on the
class dimension (``DTensor.from_local``, ``Shard(class axis)``) over a one-dimensional
``DeviceMesh`` of the group, and ``torch.nn.functional``'s own function is called on it inside
``loss_parallel()``, whose backward must run inside it too (``context``). Target and weight stay
plain tensors, replicated, as documented; a probability target is sharded like the logits (a
``DTensor`` too: its documentation says probabilities are not supported, and a plain tensor is
refused). ``linear_cross_entropy`` gets its ``linear_weight`` and ``linear_bias`` as ``DTensor``
sharded by rows and its input as a replicated ``DTensor``. The loss comes back as a ``DTensor``
(replicated, or partial for a probability target); ``full_tensor()`` of it is the loss.

DTensor's ``Shard`` placement splits as ``torch.chunk`` does: other splits cannot be expressed
(``SPLITS``). What it supports, refuses and computes wrongly: docs/sharded.md, and its bugs are
records in ``lossref.quirks`` (``implementation="loss_parallel"``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributed.tensor import DTensor, Replicate, Shard
from torch.distributed.tensor.parallel import loss_parallel

LOSSREF_INTERFACE = "sharded"
SPLITS = ("chunk",)

#: The one-dimensional mesh of each process group (built once: it is a collective).
_MESHES: dict = {}


def context():
    """``loss_parallel()``: around the call and its backward, as its documentation requires."""
    return loss_parallel()


def _mesh(shard, tensor):
    """The group's one-dimensional mesh on the tensor's device type (cpu with gloo, cuda with NCCL)."""
    from torch.distributed.device_mesh import DeviceMesh

    key = (id(shard.group), tensor.device.type)
    if key not in _MESHES:
        _MESHES[key] = DeviceMesh(tensor.device.type, list(range(shard.world_size)))
    return _MESHES[key]


def _sharded(local, axis, shard, classes_axis_size):
    """The rank's shard as a DTensor sharded on ``axis`` of the dense shape."""
    shape = list(local.shape)
    shape[axis] = classes_axis_size
    dense = torch.empty(shape, device="meta")
    return DTensor.from_local(local, _mesh(shard, local), [Shard(axis)], run_check=False, shape=dense.shape,
                              stride=dense.stride())


def _local(loss):
    """The loss as a plain tensor, the same on every rank: ``full_tensor()`` (differentiable), which
    reduces a ``Partial`` result (a probability target gives one: each rank's local value is its part)."""
    return loss.full_tensor() if isinstance(loss, DTensor) else loss


def cross_entropy(input, target, weight=None, *, shard, **options):
    axis = 0 if input.dim() == 1 else 1
    logits = _sharded(input, axis, shard, shard.classes)
    if target.is_floating_point():
        target = _sharded(target, axis, shard, shard.classes)
    return _local(F.cross_entropy(logits, target, weight, **options))


def nll_loss(input, target, weight=None, *, shard, **options):
    axis = 0 if input.dim() == 1 else 1
    return _local(F.nll_loss(_sharded(input, axis, shard, shard.classes), target, weight, **options))


def linear_cross_entropy(input, linear_weight, target, *, shard, linear_bias=None, **options):
    whole = DTensor.from_local(input, _mesh(shard, input), [Replicate()], run_check=False)
    rows = _sharded(linear_weight, 0, shard, shard.classes)
    if linear_bias is not None:
        linear_bias = _sharded(linear_bias, 0, shard, shard.classes)
    if target.is_floating_point():
        axis = 0 if input.dim() == 1 else 1
        target = _sharded(target, axis, shard, shard.classes)
    return _local(F.linear_cross_entropy(whole, rows, target, linear_bias=linear_bias, **options))
