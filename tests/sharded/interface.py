"""The interface a sharded implementation meets, and how the gate splits a sample.

A module is a sharded implementation when it says so: ``LOSSREF_INTERFACE = "sharded"`` at
its top level (a module without it follows ``torch.nn.functional``'s interface). It defines
any of :data:`SHARDABLE`, each with ``torch.nn.functional``'s signature plus one keyword-only
argument, ``shard`` (a :class:`ClassShard`), and is called on every rank with:

- the rank's shard of every class-sharded argument (:func:`class_axes`): the logits
  (``cross_entropy``, ``nll_loss``), probability targets (sharded like the logits),
  ``linear_cross_entropy``'s ``linear_weight`` and ``linear_bias`` (by rows: the classes);
- the whole of every other argument: class-index targets, the class ``weight``,
  ``linear_cross_entropy``'s ``input`` (replicated), and the options.

It returns the loss, a tensor of the dense call's shape and of the input's dtype, **the same
on every rank**. ``torch.autograd.grad`` of it on every rank, with the same ``grad_output``
everywhere, gives that rank's shard of the dense gradient for each sharded argument, and the
whole gradient of a replicated one (``linear_cross_entropy``'s ``input``: its gradient sums
over every rank's classes, so the implementation reduces it in its backward).

Optional module attributes: ``context()``, a context manager the gate enters around each call
and its backward (torch's ``loss_parallel`` needs its backward inside it); ``SPLITS``, the
kinds of split it accepts (default: all of :data:`SPLIT_KINDS`; a split it does not accept is
skipped with that reason).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: The value of ``LOSSREF_INTERFACE`` that marks a module as sharded.
INTERFACE = "sharded"
#: The largest world size the tolerance rule covers without a factor (tests/sharded/gate.py says why).
MAX_WORLD_SIZE = 8
#: The losses whose class dimension can be split over ranks.
SHARDABLE = ("cross_entropy", "nll_loss", "linear_cross_entropy")


@dataclass(frozen=True)
class ClassShard:
    """What a rank owns: classes ``start`` to ``stop`` (exclusive) of ``classes``, as rank
    ``rank`` of ``world_size`` in the process ``group`` (``torch.distributed``'s)."""

    start: int
    stop: int
    classes: int
    rank: int
    world_size: int
    group: Any = None

    @property
    def size(self) -> int:
        return self.stop - self.start


def is_sharded(module) -> bool:
    """Whether ``module`` declares the sharded interface."""
    return getattr(module, "LOSSREF_INTERFACE", None) == INTERFACE


# --- splits ------------------------------------------------------------------------------------------

def balanced(classes: int, world_size: int) -> tuple[int, ...]:
    """Sizes that differ by at most one, the larger first (Megatron's vocabulary split, padded
    vocabularies aside)."""
    base, extra = divmod(classes, world_size)
    return tuple(base + (rank < extra) for rank in range(world_size))


def chunk(classes: int, world_size: int) -> tuple[int, ...]:
    """The split ``torch.chunk`` makes, which DTensor's ``Shard`` placement follows: ceil(C / N)
    classes a rank until they run out, so the last ranks may own none (5 classes over 4 ranks:
    2, 2, 1, 0)."""
    size = math.ceil(classes / world_size) if classes else 0
    return tuple(max(0, min(size, classes - rank * size)) for rank in range(world_size))


def single_last(classes: int, world_size: int) -> tuple[int, ...]:
    """The last rank owns one class, the others split the rest evenly: a rank that owns a single
    class even where the balanced split has none (5 classes over 2 ranks: 4, 1)."""
    if world_size < 2 or classes < world_size:
        return balanced(classes, world_size)
    return balanced(classes - 1, world_size - 1) + (1,)


#: Every kind of split, by name.
SPLIT_KINDS = {"balanced": balanced, "chunk": chunk, "single-last": single_last}


@dataclass(frozen=True)
class Split:
    """Contiguous shards of the class dimension, rank by rank, and the kinds that make them."""

    sizes: tuple[int, ...]
    kinds: frozenset[str]

    @property
    def id(self) -> str:
        return "split" + "+".join(map(str, self.sizes))

    @property
    def tags(self) -> frozenset[str]:
        """Its kinds, and what it makes of a rank: "empty-rank" (a rank owns no class),
        "single-class-rank" (one owns a single class). Quirk records select splits by these."""
        owned = {"empty-rank": 0 in self.sizes, "single-class-rank": 1 in self.sizes}
        return self.kinds | {tag for tag, shows in owned.items() if shows}

    def bounds(self, rank: int) -> tuple[int, int]:
        start = sum(self.sizes[:rank])
        return start, start + self.sizes[rank]


def splits(classes: int, world_size: int) -> tuple[Split, ...]:
    """The distinct splits of ``classes`` over ``world_size`` ranks, each with every kind that
    makes it (5 classes over 2 ranks: 3+2, balanced and chunk; 4+1, single-last)."""
    found: dict[tuple[int, ...], set[str]] = {}
    for kind, make in SPLIT_KINDS.items():
        found.setdefault(make(classes, world_size), set()).add(kind)
    return tuple(Split(sizes, frozenset(kinds)) for sizes, kinds in found.items())


# --- which argument is sharded on which axis -----------------------------------------------------------

def class_axes(name: str, arguments: dict) -> dict[str, int]:
    """The class-sharded arguments of a call of loss ``name`` and the axis each is split on.

    ``arguments``: every argument by its parameter's name (arrays or tensors, anything with
    ``ndim`` and ``dtype``). A floating ``target`` holds class probabilities and is sharded like
    the logits; an integer target holds class indices and is whole on every rank."""
    def floating(value) -> bool:
        kind = getattr(getattr(value, "dtype", None), "kind", None)           # NumPy
        return kind == "f" if kind is not None else bool(getattr(value, "is_floating_point", lambda: False)())

    if name in ("cross_entropy", "nll_loss"):
        logits = arguments["input"]
        axis = 0 if logits.ndim == 1 else 1
        axes = {"input": axis}
    elif name == "linear_cross_entropy":
        axis = 0 if arguments["input"].ndim == 1 else 1      # the class axis of the computed logits
        axes = {"linear_weight": 0}
        if arguments.get("linear_bias") is not None:
            axes["linear_bias"] = 0
    else:
        raise ValueError(f"{name}: not a shardable loss (expected one of {', '.join(SHARDABLE)})")
    target = arguments.get("target")
    if name != "nll_loss" and target is not None and floating(target):
        axes["target"] = axis
    return axes


def classes_of(name: str, arguments: dict) -> int:
    """The number of classes of a call: the length of the class axis of its logits."""
    if name == "linear_cross_entropy":
        return arguments["linear_weight"].shape[0]
    logits = arguments["input"]
    return logits.shape[0 if logits.ndim == 1 else 1]
