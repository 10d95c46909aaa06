"""torch.compile as an implementation under test: ``--impl compile`` (inductor), ``--impl
compile:aot_eager``, ``--impl compile:aot_eager_decomp_partition``, each optionally ``:dynamic``.

What is compiled, and how (docs/compiled.md says why):

- **The whole run is batched** (tests/compiled_batches.py): the forward, gradient and layout tests
  of a loss on one device and dtype (~120 samples: every option row of the covering arrays), and
  its fixture tests on one device, are compiled together as one function, static shapes, each
  distinct call traced once (a sample's forward and gradient tests share it); each test checks its
  own sample's value and gradients from that function's results, after its call was compared with
  the planned one. The layout tests are a covering design here (each sample in one layout, every
  layout of every loss kept: tests/test_layouts.py covering_layouts; ``--lossref-compiled-layouts
  every`` runs all of them). Every other test that calls a loss (refusals, identities, specifics)
  compiles its call on its own, static shapes, through **one compiled function per loss**,
  ``torch.compile(entry, backend=...)`` where ``entry`` calls ``F.<loss>`` and has a code object
  of its own (:func:`_entry` says why).
- **``:dynamic``** compiles every call on its own with symbolic shapes (``dynamic=True``), the
  function shared by every test: a graph compiled for one test serves every later test with the
  same dtypes, ranks, options and ``None``/tensor pattern, whatever the sizes (except 0 and 1,
  which dynamo specialises). The subset run that says whether a finding depends on the shapes.
- **Backends place a finding.** ``aot_eager`` traces with dynamo and AOTAutograd and runs the
  traced aten graph eagerly (torch's CompositeImplicit decompositions and its autograd
  formulas, no code generation); ``aot_eager_decomp_partition`` adds inductor's decomposition
  table and partitioner, still without code generation; ``inductor`` generates C++ (CPU) or
  Triton (CUDA) code. A wrong value in all three is a tracing or autograd bug; in the last two,
  a decomposition; in inductor only, code generation.
- **Nothing runs eagerly unseen.** The backend is wrapped to count what it compiles and how
  often a compiled graph runs. A call during which no compiled graph ran (dynamo skipped the
  frame, or broke the graph before any operation) is not a compiled result: the test is skipped
  with that reason, counted at the end of the run. Graph breaks (dynamo running part of a loss
  eagerly between two graphs) are counted per loss with dynamo's reason. Every test carries its
  graphs compiled and run in its report properties; the run's totals end the terminal summary.
- Dynamo's recompile limit (8 per function, after which it silently runs eagerly) is lifted,
  and hitting a limit fails the call instead.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import torch

#: The backends ``--impl compile:BACKEND`` accepts; the first is ``--impl compile``'s.
BACKENDS = ("inductor", "aot_eager", "aot_eager_decomp_partition")
PREFIX = "compile"


@dataclass(frozen=True)
class CompileSpec:
    backend: str = BACKENDS[0]
    dynamic: bool = False

    @classmethod
    def parse(cls, spec: str) -> "CompileSpec | None":
        """``compile[:BACKEND][:dynamic]`` -> the spec; None for any other implementation. A bad
        backend or word raises ValueError naming what is accepted."""
        head, _, rest = spec.partition(":")
        if head != PREFIX:
            return None
        words = [w for w in rest.split(":") if w] if rest else []
        dynamic = "dynamic" in words
        words = [w for w in words if w != "dynamic"]
        if len(words) > 1 or (words and words[0] not in BACKENDS):
            raise ValueError(f"--impl {spec}: expected compile[:BACKEND][:dynamic] with BACKEND one of "
                             f"{', '.join(BACKENDS)}")
        return cls(words[0] if words else BACKENDS[0], dynamic)

    @property
    def batched(self) -> bool:
        """The whole run's mode: forward, gradient and layout tests compiled in one function per
        loss, device and dtype, static shapes (tests/compiled_batches.py); ``:dynamic`` compiles
        each call on its own with symbolic shapes instead (the subset run)."""
        return not self.dynamic

    @property
    def quirk_implementations(self) -> tuple[str, ...]:
        """The ``implementation`` values of the quirk records (``lossref.quirks``) that apply to
        this backend, most specific first: ``compile:inductor`` (code generation),
        ``compile:decompositions`` (inductor's decomposition table: inductor and
        aot_eager_decomp_partition), ``compile`` (dynamo and AOTAutograd: every backend)."""
        return {"inductor": ("compile:inductor", "compile:decompositions", "compile"),
                "aot_eager_decomp_partition": ("compile:decompositions", "compile"),
                "aot_eager": ("compile",)}[self.backend]

    @property
    def name(self) -> str:
        """The spelling of the spec."""
        return f"{PREFIX}:{self.backend}" + (":dynamic" if self.dynamic else "")


@dataclass
class Tally:
    """What the backend compiled and ran, per loss: read by the suite after each call."""

    compiled: collections.Counter = field(default_factory=collections.Counter)   # loss -> graphs compiled
    runs: int = 0                                                                 # compiled graphs run
    graph_breaks: collections.Counter = field(default_factory=collections.Counter)  # (loss, reason) -> n


TALLY = Tally()


class RanEagerly(BaseException):
    """No compiled graph ran during a call: its result is eager torch's, not the compiler's.
    A BaseException, as pytest's own outcomes, so that no ``except Exception`` in a test (a
    refusal expected) takes it for the implementation's answer: the suite skips the test."""


class Observation:
    """What the backend compiled and ran during one test: its report properties."""

    def __init__(self):
        self.compiled, self.runs = sum(TALLY.compiled.values()), TALLY.runs
        self.breaks = collections.Counter(TALLY.graph_breaks)

    def properties(self) -> list[tuple[str, object]]:
        breaks = collections.Counter(TALLY.graph_breaks) - self.breaks
        # the names: tests/report.py COMPILED_PROPERTIES (the report's format)
        return [("graphs_compiled", sum(TALLY.compiled.values()) - self.compiled),
                ("graphs_run", TALLY.runs - self.runs),
                ("graph_breaks", sorted(f"{loss}: {reason}" for (loss, reason) in breaks.elements()))]


def summary_lines(properties: list[dict]) -> list[str]:
    """The end of a compiled run: graphs compiled and run, recompilations and graph breaks, from
    every test's properties (one process or ``-n``). The tests that ran eagerly are skips, listed
    with the run's other skips."""
    tests = [p for p in properties if "graphs_compiled" in p]
    if not tests:
        return []
    by_loss = collections.Counter()
    for p in tests:
        by_loss[p.get("loss", "-")] += p["graphs_compiled"]
    compiled = sum(by_loss.values())
    breaks = collections.Counter(b for p in tests for b in p.get("graph_breaks", ()))
    lines = [f"{compiled} graphs compiled by {len(tests)} tests ({compiled - len([n for n in by_loss.values() if n])} "
             f"recompilations beyond one graph per loss), {sum(p['graphs_run'] for p in tests)} compiled graphs run",
             "graphs compiled per loss: " + ", ".join(f"{loss} {n}" for loss, n in by_loss.most_common()),
             f"{sum(breaks.values())} graph breaks" + (":" if breaks else "")]
    lines += [f"{n:6d}  {reason}" for reason, n in breaks.most_common()]
    return lines


def _lift_recompile_limits():
    """torch.compile recompiles a function for each new guard set, but after
    ``recompile_limit`` (8) recompilations it runs the function eagerly, with one log line:
    the suite calls each loss with hundreds of option and dtype combinations, so the run would
    test eager torch for all but the first eight. Lift the limits, and fail where one is hit."""
    import torch._dynamo
    dynamo = torch._dynamo.config
    for name in ("recompile_limit", "accumulated_recompile_limit", "cache_size_limit", "accumulated_cache_size_limit"):
        if hasattr(dynamo, name):
            setattr(dynamo, name, 1_000_000)
    for name in ("fail_on_recompile_limit_hit", "fail_on_cache_limit_hit"):
        if hasattr(dynamo, name):
            setattr(dynamo, name, True)


def _entry(fn):
    """A function that calls ``fn``, with a code object of its own: dynamo keeps its graphs,
    and its verdicts, per code object. ``torch.compile(F.mse_loss)`` traces one wrapper that
    dynamo shares between every function of torch it compiles (external_utils.wrap_inline), so
    one refusal would turn compilation off for every loss."""
    def call_loss(*args, **kwargs):
        return fn(*args, **kwargs)
    call_loss.__code__ = call_loss.__code__.replace()   # a new code object on every call of _entry
    return call_loss


def _counting_backend(loss: str, backend: str):
    """``backend``, wrapped: each graph it compiles counts for ``loss``, each run of one counts."""
    import torch._dynamo
    inner = torch._dynamo.lookup_backend(backend)

    def compile_graph(graph_module, example_inputs):
        compiled = inner(graph_module, example_inputs)
        TALLY.compiled[loss] += 1

        def run(*args):
            TALLY.runs += 1
            return compiled(*args)
        return run
    return compile_graph


class CompiledFunctions:
    """torch.nn.functional's losses, compiled as ``spec`` says: tests/impl.py wraps each
    function of ``--impl compile...`` with :meth:`wrap`."""

    def __init__(self, spec: CompileSpec):
        _lift_recompile_limits()
        self.spec = spec

    def _compile(self, name: str, fn, dynamic: bool | None = None):
        return torch.compile(_entry(fn), backend=_counting_backend(name, self.spec.backend),
                             dynamic=self.spec.dynamic if dynamic is None else dynamic, fullgraph=False)

    def _batch_compiler(self, name: str, fn, backend: str | None = None):
        """``() -> (calls -> outputs)``: a fresh compiled function calling the loss on every call of
        a batch (static shapes), run once per layer of the batch (tests/compiled_batches.py), its
        graphs and graph breaks counted as the per-call path counts them; ``backend``: another
        backend, not counted (the screen of a batched run)."""
        def new_batch():
            from torch._dynamo.utils import counters

            def call_all(calls):
                return [fn(*args, **kwargs) for args, kwargs in calls]
            compiled = torch.compile(_entry(call_all), backend=backend or _counting_backend(name, self.spec.backend),
                                     dynamic=False, fullgraph=False)

            def run_calls(calls):
                breaks = collections.Counter(counters["graph_break"])
                try:
                    return compiled(calls)
                finally:
                    if backend is None:
                        for reason, count in (collections.Counter(counters["graph_break"]) - breaks).items():
                            TALLY.graph_breaks[name, reason.splitlines()[0][:160]] += count
            return run_calls
        return new_batch

    def wrap(self, name: str, fn):
        # Per-call entries: False, the spec's shapes; True, symbolic shapes for a batch dynamo ran eagerly.
        entries = {False: self._compile(name, fn)}
        new_batch = self._batch_compiler(name, fn)
        # an inductor batch that raises is screened with aot_eager (tests/compiled_batches.py run):
        # a sample that fails in tracing or AOTAutograd is found at aot_eager's cost, not inductor's.
        screen = self._batch_compiler(name, fn, "aot_eager") if self.spec.backend == "inductor" else None

        def call(*args, **kwargs):
            from torch._dynamo.utils import counters
            dynamic = False
            if self.spec.batched:
                from . import compiled_batches
                planned = compiled_batches.BATCHES.lookup(
                    name, args, kwargs, lambda plans: compiled_batches.run(plans, new_batch, screen), eager=fn)
                if planned is not None and not planned.eager:
                    return compiled_batches.replay(planned, args, kwargs)
                # Dynamo ran none of the batch's graphs: a graph break inside the batch's loop
                # (gaussian_nll_loss's data-dependent check that var is positive) makes it run the
                # whole batch function eagerly. Such a batch's calls are compiled one by one, with
                # symbolic shapes (one entry, as ``:dynamic``), so its tests still test compiled code.
                dynamic = planned is not None
            if dynamic not in entries:
                entries[dynamic] = self._compile(name, fn, dynamic=dynamic or None)
            runs, breaks = TALLY.runs, collections.Counter(counters["graph_break"])
            try:
                out = entries[dynamic](*args, **kwargs)
            except Exception:
                # Dynamo never compiles a code object again once tracing it raised a Python
                # exception (a refusal): every later call would run eagerly (docs/compiled.md,
                # "One refusal turns compilation off"). A fresh entry for the calls to come.
                entries[dynamic] = self._compile(name, fn, dynamic=dynamic or None)
                raise
            for reason, count in (collections.Counter(counters["graph_break"]) - breaks).items():
                TALLY.graph_breaks[name, reason.splitlines()[0][:160]] += count
            if TALLY.runs == runs:
                raise RanEagerly(f"torch.compile ran no compiled graph for {name}: the call ran eagerly")
            return out
        call.__name__ = call.__qualname__ = name
        call.__wrapped__ = fn
        # A forward test asks for the value from the graph a training step runs (the gradient
        # test's leaves requiring grad): the forward and gradient tests of a sample then share
        # one compiled graph, half the compilations. Inference graphs (no input requiring grad)
        # are compiled by the tests that call the loss otherwise (layouts, refusals, specifics).
        call.forward_requires_grad = True
        return call
