r"""Cross-entropy over a class dimension split across ranks, with three plain collectives.

The worked example of the sharded interface (``interface.py``): ``lossref --impl
lossref.tests.sharded.collectives --world-size N``. Each rank holds the logits of classes
``shard.start`` to ``shard.stop``; the whole-vocabulary quantities come from

1. ``all_reduce(MAX)`` of each row's largest local logit: the shift ``m`` that keeps every
   exponential at most 1 (no overflow for logits of 1e4, no underflow of the whole row);
2. ``all_reduce(SUM)`` of each row's local ``Σ_c exp(x_c - m)``: then
   ``log_softmax(x)_c = x_c - m - log Σ_ranks Σ_c exp(x_c - m)``, on each rank for its classes;
3. ``all_reduce(SUM)`` of the target's log-probability, which only its owner holds (the
   others add 0): ``-log p_y`` on every rank. Label smoothing's ``Σ_c w_c log p_c / C`` and a
   probability target's ``Σ_c w_c p_c log p_c`` are sums over classes too, reduced the same way
   (over the *whole* vocabulary's ``C``).

Every rank returns the same loss, and every rank differentiates it with the same upstream
gradient; autograd on a rank reaches only that rank's tensors. Two kinds of sum over ranks
therefore differentiate differently:

- the loss is the sum of every rank's part (the target's term from its owner, each rank's
  classes of label smoothing's or a probability target's sum): each rank's part enters it
  once, so its gradient is the loss's, as it arrives (``_SumOfParts``: backward the identity);
- the softmax's normaliser ``Σ exp`` is summed once and then used by every rank's classes
  (``log p_c = x_c - m - log Σ``): each rank's backward brings the gradient of its own
  classes' uses only, so the gradient of the sum is the sum over ranks of theirs
  (``_SharedSum``: backward an ``all_reduce(SUM)``), and so is that of a tensor every rank
  holds whole and uses in part (``_Replicated``): ``linear_cross_entropy``'s input, and the
  class weight where a probability target makes it differentiable.

The max is a shift, constant for the gradient.

Half precision: the arithmetic is float32's (as torch's own kernels accumulate), the loss is
returned in the input's dtype.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

LOSSREF_INTERFACE = "sharded"


def _all_reduce_sum(tensor, group):
    total = tensor.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
    return total


class _SumOfParts(torch.autograd.Function):
    """The loss from every rank's part: ``all_reduce(SUM)``, differentiated as the identity."""

    @staticmethod
    def forward(ctx, part, group):
        return _all_reduce_sum(part, group)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class _SharedSum(torch.autograd.Function):
    """A sum every rank's classes go on to use: ``all_reduce(SUM)``, and its gradient summed too."""

    @staticmethod
    def forward(ctx, part, group):
        ctx.group = group
        return _all_reduce_sum(part, group)

    @staticmethod
    def backward(ctx, grad):
        return _all_reduce_sum(grad, ctx.group), None


class _Replicated(torch.autograd.Function):
    """The identity, whose gradient is summed over ranks: a tensor every rank uses whole."""

    @staticmethod
    def forward(ctx, whole, group):
        ctx.group = group
        return whole.view_as(whole)

    @staticmethod
    def backward(ctx, grad):
        return _all_reduce_sum(grad, ctx.group), None


def _max_over_ranks(local, axis, group):
    """The largest logit of each row over every rank (-inf from a rank that owns no class)."""
    shape = list(local.shape)
    shape[axis] = 1
    m = (local.detach().amax(axis, keepdim=True) if local.shape[axis] else
         torch.full(shape, -torch.inf, dtype=local.dtype, device=local.device))
    dist.all_reduce(m, op=dist.ReduceOp.MAX, group=group)
    return m


def log_softmax(local, axis, shard):
    """This rank's classes of ``log_softmax`` over the whole class axis."""
    shifted = local - _max_over_ranks(local, axis, shard.group)
    total = _SharedSum.apply(shifted.exp().sum(axis, keepdim=True), shard.group)
    return shifted - total.log()


def _owned_target(log_probs, target, kept, shard):
    """This rank's part of ``log p`` at each position's target: the value where it owns the
    target class, else 0 (and 0 where the target is ignored)."""
    owned = kept & (target >= shard.start) & (target < shard.stop)
    if not shard.size:
        # A rank that owns no class adds 0, but as a sum over its (empty) classes: its loss stays
        # a function of its logits, so its backward joins the others' collectives.
        return log_probs.sum(1)
    index = torch.where(owned, target - shard.start, 0).unsqueeze(1)
    return torch.where(owned, log_probs.gather(1, index).squeeze(1), 0.0)


def _kept(target, ignore_index, shard):
    """The positions whose target counts (not ``ignore_index``), every one a class in range."""
    kept = target != ignore_index
    bad = kept & ((target < 0) | (target >= shard.classes))
    if bad.any():
        raise IndexError(f"target: class index {int(target[bad][0])} is out of bounds for {shard.classes} classes")
    return kept


def _smoothing_part(log_probs, w_class, shard):
    """This rank's part of label smoothing's ``-Σ_c w_c log p_c / C``, over the whole vocabulary's C."""
    view = (1, -1) + (1,) * (log_probs.dim() - 2)
    return -(log_probs * w_class[shard.start:shard.stop].view(view)).sum(1) / shard.classes


def _reduce(losses, reduction, denominator):
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.sum() / denominator
    raise ValueError(f"reduction: expected 'none', 'mean' or 'sum', got {reduction!r}")


def _batched(fn):
    """Run ``fn`` on a batch of one where the call is unbatched ((C,) logits), and take it off again."""
    def call(input, target, *args, reduction="mean", **kwargs):
        if input.dim() > 1:
            return fn(input, target, *args, reduction=reduction, **kwargs)
        loss = fn(input.unsqueeze(0), target.unsqueeze(0), *args, reduction=reduction, **kwargs)
        return loss.squeeze(0) if reduction == "none" else loss
    return call


@_batched
def _nll(log_probs, target, weight, *, shard, ignore_index, reduction, label_smoothing=0.0):
    """``-(1-ε) w_y log p_y - ε Σ_c w_c log p_c / C`` per position, over sharded log-probabilities."""
    target = target.long()      # a uint8 target indexes as a class, never as a mask
    kept = _kept(target, ignore_index, shard)
    w_class = torch.ones(shard.classes, dtype=log_probs.dtype, device=log_probs.device) if weight is None \
        else weight.to(log_probs.dtype)
    w_target = torch.where(kept, w_class[torch.where(kept, target, 0)], 0.0)
    part = -w_target * _owned_target(log_probs, target, kept, shard)
    if label_smoothing:
        smooth = _smoothing_part(log_probs, w_class, shard)
        part = (1 - label_smoothing) * part + label_smoothing * torch.where(kept, smooth, 0.0)
    return _reduce(_SumOfParts.apply(part, shard.group), reduction, w_target.sum())


@_batched
def _soft(log_probs, target, weight, *, shard, reduction, label_smoothing=0.0):
    """``-Σ_c w_c p'_c log p_c`` per position, ``p' = (1-ε) p + ε / C``, over sharded classes."""
    view = (1, -1) + (1,) * (log_probs.dim() - 2)
    smoothed = (1 - label_smoothing) * target.to(log_probs.dtype) + label_smoothing / shard.classes
    if weight is not None:     # whole on every rank, and differentiable here: each rank's classes give a part
        smoothed = smoothed * _Replicated.apply(weight, shard.group)[shard.start:shard.stop].to(log_probs.dtype).view(view)
    losses = _SumOfParts.apply(-(smoothed * log_probs).sum(1), shard.group)
    return _reduce(losses, reduction, losses.numel())


def _work_dtype(x):
    return torch.promote_types(x.dtype, torch.float32)   # float32 arithmetic for the half types


def nll_loss(input, target, weight=None, *, shard, ignore_index=-100, reduction="mean"):
    work = input.to(_work_dtype(input))
    return _nll(work, target, weight, shard=shard, ignore_index=ignore_index, reduction=reduction).to(input.dtype)


def cross_entropy(input, target, weight=None, *, shard, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    if label_smoothing > 1.0:
        raise ValueError(f"label_smoothing: expected at most 1, got {label_smoothing}")
    label_smoothing = max(label_smoothing, 0.0)    # torch takes a negative value as 0, without an error
    work = input.to(_work_dtype(input))
    log_probs = log_softmax(work, 0 if work.dim() == 1 else 1, shard)
    if target.is_floating_point():
        loss = _soft(log_probs, target, weight, shard=shard, reduction=reduction, label_smoothing=label_smoothing)
    else:
        loss = _nll(log_probs, target, weight, shard=shard, ignore_index=ignore_index, reduction=reduction,
                    label_smoothing=label_smoothing)
    return loss.to(input.dtype)


def linear_cross_entropy(input, linear_weight, target, *, shard, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0):
    """``cross_entropy(input @ linear_weight.T + linear_bias)``: ``linear_weight`` (and the bias) by rows, the
    input whole on every rank."""
    whole = _Replicated.apply(input, shard.group)
    logits = torch.tensordot(whole, linear_weight, dims=([-1], [-1]))   # (N, C_rank, d...) or (C_rank, d...)
    if linear_bias is not None:
        logits = logits + linear_bias
    if target.is_floating_point() and ignore_index is not None:
        raise ValueError("ignore_index: cannot be given when target holds class probabilities")
    return cross_entropy(logits, target, weight, shard=shard, reduction=reduction, label_smoothing=label_smoothing,
                         ignore_index=-100 if ignore_index is None else ignore_index)
