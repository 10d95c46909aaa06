"""The implementation under test, in one place: ``lossref --impl MODULE`` (``--lossref-impl`` to pytest).

Default ``torch.nn.functional``. ``compile[:BACKEND][:dynamic]`` means ``torch.compile``
applied to torch's own functions (tests/compiled.py: a loss's samples compiled together per
device and dtype, or with ``:dynamic`` each call with symbolic shapes; every graph counted). Any other value is a dotted module exposing functions with
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

import torch.nn.functional as F

from .compiled import CompileSpec, CompiledFunctions
from .plugin import DEFAULT_IMPL as DEFAULT  # one spelling of the default, in the plugin
from .sharded.interface import is_sharded

#: Implementations named by a word, not a module: the module each stands for.
BUILT_IN = {"loss_parallel": f"{__package__}.sharded.loss_parallel"}


class Implementation:
    def __init__(self, spec: str = DEFAULT):
        self.spec = spec
        #: The torch.compile backend and shapes, for ``compile...``; None for a module.
        self.compiled = CompileSpec.parse(spec)
        if self.compiled is not None:
            self._module = F
            self._wrap = CompiledFunctions(self.compiled).wrap
        else:
            try:
                self._module = importlib.import_module(BUILT_IN.get(spec, spec))
            except Exception as error:   # ImportError, or whatever the module raises while it loads
                raise ValueError(f"--impl {spec}: cannot import it ({type(error).__name__}: {error})") from None
            self._wrap = lambda name, fn: fn
        self._cache: dict[str, Callable | None] = {}
        #: Whether the module follows the sharded interface (its ``LOSSREF_INTERFACE``).
        self.sharded = is_sharded(self._module)
        #: The module itself (a sharded one's optional ``SPLITS`` and ``context`` are read from it).
        self.module = self._module
        #: The module's importable name: what a rank of the sharded tier imports.
        self.module_name = self._module.__name__

    @property
    def quirk_implementations(self) -> tuple[str, ...]:
        """The quirk records' ``implementation`` values a test of torch's functions looks up, in
        order: torch.compile's own bugs first (where they lie: tests/compiled.py), then eager torch's."""
        return (self.compiled.quirk_implementations if self.compiled is not None else ()) + ("torch",)

    @property
    def torch_own(self) -> bool:
        """Torch's own functions, eager or compiled: its exceptions and messages are expected."""
        return self.spec == DEFAULT or self.compiled is not None

    def function(self, name: str) -> Callable | None:
        """The implementation's ``name``, or None where it has none."""
        if name not in self._cache:
            fn = getattr(self._module, name, None)
            self._cache[name] = self._wrap(name, fn) if callable(fn) else None
        return self._cache[name]

    def __repr__(self) -> str:
        return self.spec


@lru_cache(maxsize=None)
def load(spec: str = DEFAULT) -> Implementation:
    return Implementation(spec)
