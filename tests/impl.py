"""The implementation under test, in one place: ``lossref --impl MODULE`` (``--lossref-impl`` to pytest).

Default ``torch.nn.functional``. ``compile`` means ``torch.compile`` applied to torch's
own functions. Any other value is a dotted module exposing functions with
``torch.nn.functional``'s names and signatures (tensors in, tensors out). A loss the
module lacks is skipped with that reason by the tests, never a collection error.

Two kinds of module, told apart by what the module says: one that sets
``LOSSREF_INTERFACE = "sharded"`` follows the sharded interface (tests/sharded/interface.py:
its shard of the logits and a ``shard`` argument) and runs in the sharded tier only;
``loss_parallel`` names torch's own (``torch.distributed.tensor.parallel.loss_parallel``,
adapted in tests/sharded/loss_parallel.py). Any other module follows ``torch.nn.functional``'s.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Callable

import torch
import torch.nn.functional as F

from .plugin import DEFAULT_IMPL as DEFAULT  # one spelling of the default, in the plugin
from .sharded.interface import is_sharded

#: Implementations named by a word, not a module: the module each stands for.
BUILT_IN = {"loss_parallel": f"{__package__}.sharded.loss_parallel"}


class Implementation:
    def __init__(self, spec: str = DEFAULT):
        self.spec = spec
        if spec == "compile":
            _compile_every_call()
            self._module = F
            self._wrap = lambda fn: torch.compile(fn, dynamic=False, fullgraph=False)
        else:
            try:
                self._module = importlib.import_module(BUILT_IN.get(spec, spec))
            except Exception as error:   # ImportError, or whatever the module raises while it loads
                raise ValueError(f"--impl {spec}: cannot import it ({type(error).__name__}: {error})") from None
            self._wrap = lambda fn: fn
        self._cache: dict[str, Callable | None] = {}
        #: Whether the module follows the sharded interface (its ``LOSSREF_INTERFACE``).
        self.sharded = is_sharded(self._module)
        #: The module itself (a sharded one's optional ``SPLITS`` and ``context`` are read from it).
        self.module = self._module
        #: The module's importable name: what a rank of the sharded tier imports.
        self.module_name = self._module.__name__

    def function(self, name: str) -> Callable | None:
        """The implementation's ``name``, or None where it has none."""
        if name not in self._cache:
            fn = getattr(self._module, name, None)
            self._cache[name] = self._wrap(fn) if callable(fn) else None
        return self._cache[name]

    def __repr__(self) -> str:
        return self.spec


def _compile_every_call():
    """torch.compile recompiles a function for each new shape and dtype, but after
    ``recompile_limit`` (8) recompilations it runs the function eagerly, with one log line:
    the suite calls each loss at hundreds of shapes and dtypes, so a ``--impl compile`` run
    would test eager torch for all but the first eight. Lift the limits, and fail where
    one is still hit."""
    import torch._dynamo
    dynamo = torch._dynamo.config
    for name in ("recompile_limit", "accumulated_recompile_limit", "cache_size_limit", "accumulated_cache_size_limit"):
        if hasattr(dynamo, name):
            setattr(dynamo, name, 1_000_000)
    for name in ("fail_on_recompile_limit_hit", "fail_on_cache_limit_hit"):
        if hasattr(dynamo, name):
            setattr(dynamo, name, True)


@lru_cache(maxsize=None)
def load(spec: str = DEFAULT) -> Implementation:
    return Implementation(spec)
