"""``--impl compile...`` (tests/compiled.py): the spelling is checked, what the backend compiles
and runs is counted, and a call that ran no compiled graph is never taken for a compiled result."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from . import impl as implementations
from .compiled import BACKENDS, TALLY, CompiledFunctions, CompileSpec, Observation, RanEagerly, summary_lines
from .options import OptionError, check_impl


@pytest.mark.parametrize("spec, backend, dynamic", [
    ("compile", "inductor", False),
    ("compile:aot_eager", "aot_eager", False),
    ("compile:dynamic", "inductor", True),
    ("compile:aot_eager_decomp_partition:dynamic", "aot_eager_decomp_partition", True),
])
def test_spec_spelling(spec, backend, dynamic):
    parsed = CompileSpec.parse(spec)
    assert (parsed.backend, parsed.dynamic) == (backend, dynamic)
    assert CompileSpec.parse(parsed.name) == parsed     # the name spells the same spec back


@pytest.mark.parametrize("spec", ["compile:cudagraphs", "compile:inductor:aot_eager", "compile:static"])
def test_a_bad_spec_is_refused_in_one_line(spec):
    with pytest.raises(OptionError, match=r"expected compile\[:BACKEND\]\[:dynamic\] with BACKEND one of "
                                          + ", ".join(BACKENDS)):
        check_impl(spec)


def test_other_implementations_are_not_compiled():
    assert CompileSpec.parse("torch.nn.functional") is None
    assert CompileSpec.parse("compiled_losses") is None   # a module whose name starts with the word
    assert implementations.load("compile:aot_eager").torch_own


def test_what_is_compiled_and_run_is_counted():
    fn = CompiledFunctions(CompileSpec("aot_eager", dynamic=True)).wrap("mse_loss", F.mse_loss)
    x = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(2, 3).clone()   # not a view: no guard on a base
    seen = Observation()
    fn(x, x.flip(0), reduction="sum")
    fn(x + 1, x, reduction="sum")                          # the same guards: the same graph
    fn(x[:, :2].contiguous(), x[:, :2].contiguous() * 2, reduction="sum")   # another size: dynamic
    properties = dict(seen.properties())
    assert (properties["graphs_compiled"], properties["graphs_run"], properties["graph_breaks"]) == (1, 3, [])
    fn(x, x, reduction="none")                            # a new option: a new graph
    assert dict(seen.properties())["graphs_compiled"] == 2


def test_a_call_that_ran_eagerly_is_said():
    runs = TALLY.runs
    eager = torch._dynamo.disable(F.mse_loss)

    def mse_loss(input, target):   # dynamo breaks the graph at the call: nothing left to compile
        return eager(input, target)
    fn = CompiledFunctions(CompileSpec("aot_eager")).wrap("mse_loss", mse_loss)
    with pytest.raises(RanEagerly, match="torch.compile ran no compiled graph for mse_loss"):
        fn(torch.ones(3), torch.zeros(3))
    assert TALLY.runs == runs


def test_the_summary_adds_up_the_tests():
    tests = [{"loss": "mse_loss", "graphs_compiled": 1, "graphs_run": 1, "graph_breaks": []},
             {"loss": "mse_loss", "graphs_compiled": 1, "graphs_run": 1, "graph_breaks": []},
             {"loss": "ctc_loss", "graphs_compiled": 2, "graphs_run": 2, "graph_breaks": ["ctc_loss: data-dependent"]},
             {"loss": "l1_loss"}]                          # not a compiled test: not counted
    lines = summary_lines(tests)
    assert lines[0] == "4 graphs compiled by 3 tests (2 recompilations beyond one graph per loss), 4 compiled graphs run"
    assert lines[1] == "graphs compiled per loss: mse_loss 2, ctc_loss 2"
    assert lines[2:] == ["1 graph breaks:", "     1  ctc_loss: data-dependent"]
    assert summary_lines([{"loss": "l1_loss"}]) == []


def test_a_refusal_does_not_turn_compilation_off():
    """Dynamo never compiles a code object again once tracing it raised (torch 2.13): through
    torch.compile(F.<loss>) directly, one refused call made every later call of every loss run
    eagerly. Each loss has its own entry, renewed after a refusal."""
    spec = CompileSpec("aot_eager")
    triplet = CompiledFunctions(spec).wrap("triplet_margin_with_distance_loss", F.triplet_margin_with_distance_loss)
    mse = CompiledFunctions(spec).wrap("mse_loss", F.mse_loss)
    x = torch.linspace(0, 1, 4, dtype=torch.float64).reshape(1, 4).clone()
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        triplet(x, x, x, reduction="average")
    seen = Observation()
    triplet(x, x * 2, x)
    mse(x, x * 2)
    assert dict(seen.properties())["graphs_run"] == 2


def test_a_batch_dynamo_ran_eagerly_is_compiled_call_by_call(monkeypatch):
    """A graph break inside the batch's loop makes dynamo run the whole batch function eagerly
    (gaussian_nll_loss's data-dependent check that var is positive, torch 2.13): the batch answers
    none of its tests, whose calls are compiled one by one, with symbolic shapes."""
    from . import compiled_batches
    x = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(2, 3).clone()
    planned = compiled_batches.Planned("t", "mse_loss", (x, x), {}, [], None, False,
                                       out=torch.tensor(0.0, dtype=torch.float64), eager=True)
    monkeypatch.setattr(compiled_batches.BATCHES, "lookup", lambda *args, **kwargs: planned)
    fn = CompiledFunctions(CompileSpec("aot_eager")).wrap("mse_loss", F.mse_loss)
    seen = Observation()
    out = fn(x, x.flip(0))
    fn(x[:, :2].contiguous(), x[:, :2].contiguous())     # another size: the same graph (symbolic shapes)
    properties = dict(seen.properties())
    assert (properties["graphs_compiled"], properties["graphs_run"]) == (1, 2)
    torch.testing.assert_close(out, F.mse_loss(x, x.flip(0)))       # the call's own value, not the batch's 0
