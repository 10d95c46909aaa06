"""The batched compiled run (tests/compiled_batches.py) hands a test only what the batch computed
for that test's own call: a different call is not answered from the batch, a different
grad_output is refused, a failing sample keeps its own error, a batch that compiled nothing ran
eagerly, and a call that modified its input says so. Plain functions stand in for the compiled
batch (no compilation: the mechanism, fast)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from . import compiled_batches as batches
from .compare import InputModified
from .compiled import TALLY, RanEagerly
from .parity import draw_upstream


def _plan(x, y, wants_gradient=True, nodeid="t"):
    leaf = x.detach().clone().requires_grad_(True)
    return batches.Planned(nodeid, "mse_loss", (leaf, y.clone()), {"reduction": "sum"}, [leaf],
                           functools.partial(draw_upstream, np.random.default_rng(0)), wants_gradient)


def _eager_batch(calls):
    """The batch, eagerly, counted as one compiled graph run (what the counting backend does)."""
    TALLY.runs += 1
    return [F.mse_loss(*args, **kwargs) for args, kwargs in calls]


def _call(planned, x, y):
    leaf = x.detach().clone().requires_grad_(True)
    return leaf, (leaf, y.clone()), {"reduction": "sum"}


def test_a_test_gets_its_own_samples_value_and_gradient():
    x, y = torch.linspace(-1, 1, 6, dtype=torch.float64), torch.zeros(6, dtype=torch.float64)
    plans = [_plan(x, y, nodeid="a"), _plan(2 * x, y, nodeid="b")]
    batches.run(plans, lambda: _eager_batch)
    leaf, args, kwargs = _call(plans[1], 2 * x, y)
    assert batches.matches(plans[1], args, kwargs) and not batches.matches(plans[0], args, kwargs)
    out = batches.replay(plans[1], args, kwargs)
    assert out.item() == pytest.approx(F.mse_loss(2 * x, y, reduction="sum").item())
    (grad,) = torch.autograd.grad(out, [leaf], plans[1].upstream)
    assert torch.allclose(grad, 2 * (2 * x - y) * plans[1].upstream)


def test_a_call_that_differs_from_its_plan_is_not_answered():
    x, y = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    planned = _plan(x, y)
    batches.run([planned], lambda: _eager_batch)
    for args, kwargs in [((x.clone().requires_grad_(True), y + 1), {"reduction": "sum"}),          # another value
                         ((x.clone().requires_grad_(True), y), {"reduction": "mean"}),             # another option
                         ((x.clone(), y), {"reduction": "sum"}),                                  # not a leaf
                         ((x.clone().requires_grad_(True), y.float()), {"reduction": "sum"})]:    # another dtype
        assert not batches.matches(planned, args, kwargs)


def test_another_grad_output_is_refused():
    x, y = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    planned = _plan(x, y)
    batches.run([planned], lambda: _eager_batch)
    leaf, args, kwargs = _call(planned, x, y)
    out = batches.replay(planned, args, kwargs)
    with pytest.raises(RuntimeError, match="not the one the batch planned"):
        torch.autograd.grad(out, [leaf], -planned.upstream)


def test_a_failing_sample_keeps_its_own_error_and_the_others_their_results():
    x, y = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    plans = [_plan(k * x, y, nodeid=str(k)) for k in range(5)]

    def batch(calls):   # sample 3 "fails to compile", as a BackendCompilerFailed would
        if any(torch.equal(args[0].detach(), 3 * x) for args, _ in calls):
            raise ValueError("sample 3 cannot be compiled")
        return _eager_batch(calls)
    batches.run(plans, lambda: batch)
    assert [type(p.error).__name__ if p.error else None for p in plans] == [None, None, None, "ValueError", None]
    assert [p.out.item() for p in plans if p.error is None] == [0.0, 3.0, 12.0, 48.0]
    with pytest.raises(ValueError, match="sample 3 cannot be compiled"):
        batches.replay(plans[3], *_call(plans[3], 3 * x, y)[1:])


def test_calls_of_one_signature_run_as_layers_of_one_function():
    """The forward and gradient tests of a sample make the same call with other values: one
    compiled function runs the batch layer by layer, and each plan gets its own call's result
    (a filler, run again for the guards, never gives its result to another plan)."""
    one = [_plan(torch.full((3,), float(k), dtype=torch.float64), torch.zeros(3, dtype=torch.float64),
                 nodeid=f"one{k}") for k in range(3)]
    other = _plan(torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64), nodeid="other")
    assert batches.signature(one[0]) == batches.signature(one[2]) != batches.signature(other)
    made, lengths = [], []

    def new_batch():
        made.append(1)

        def batch(calls):
            lengths.append(len(calls))
            return _eager_batch(calls)
        return batch
    batches.run([*one, other], new_batch)
    assert made == [1] and lengths == [2, 2, 2]
    assert [p.out.item() for p in one] == [0.0, 3.0, 12.0] and other.out.item() == 4.0
    assert all(len(p.grads) == 1 for p in (*one, other))
    assert torch.allclose(one[2].grads[0], 2 * torch.full((3,), 2.0, dtype=torch.float64) * one[2].upstream)
    assert torch.allclose(other.grads[0], 2 * torch.ones(2, 2, dtype=torch.float64) * other.upstream)


def test_a_batch_that_raised_is_screened_and_its_failures_run_again_by_the_backend():
    """An inductor batch that raises is screened with aot_eager: what the screen finds failing is
    run on its own by the backend, whose outcome it gets (here the backend computes it), the
    others together; a batch that does not raise is never screened."""
    plans = [_plan(torch.ones(k + 1, dtype=torch.float64), torch.zeros(k + 1, dtype=torch.float64), nodeid=str(k))
             for k in range(4)]

    def screen(calls):
        if any(args[0].numel() == 3 for args, _ in calls):
            raise ValueError("the screen fails on sample 2")
        return [F.mse_loss(*args, **kwargs) for args, kwargs in calls]
    seen = []

    def backend(calls):
        seen.append(len(calls))
        if len(calls) > 1 and any(args[0].numel() == 3 for args, _ in calls):
            raise ValueError("the backend fails on a batch with sample 2")
        return _eager_batch(calls)
    batches.run(plans, lambda: backend, lambda: screen)
    assert all(p.error is None for p in plans) and plans[2].out.item() == 3.0
    assert seen == [4, 3, 1]      # the batch, then the three that passed the screen, then sample 2 alone
    seen.clear()
    batches.run(plans[:2], lambda: backend, lambda: pytest.fail("screened a batch that did not raise"))
    assert seen == [2]


def test_a_batch_that_compiled_nothing_ran_eagerly():
    planned = _plan(torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    batches.run([planned], lambda: lambda calls: [F.mse_loss(*a, **k) for a, k in calls])   # no compiled graph ran
    with pytest.raises(RanEagerly, match="ran no compiled graph for mse_loss's batch"):
        batches.replay(planned, *_call(planned, torch.ones(3, dtype=torch.float64),
                                       torch.zeros(3, dtype=torch.float64))[1:])


def test_a_batch_that_modified_an_input_says_so():
    planned = _plan(torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))

    def batch(calls):
        for args, _ in calls:
            args[1].add_(1.0)            # the target, in place
        return _eager_batch(calls)
    batches.run([planned], lambda: batch)
    assert isinstance(planned.error, InputModified)


def test_a_backward_error_is_raised_by_the_backward():
    """A sample whose backward raises (eager torch's nll_loss2d on a non-contiguous input does)
    gets its value from the forward and the error from its backward, where a gradient quirk sees it."""
    x, y = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    plans = [_plan(x, y, nodeid="ok"), _plan(2 * x, y, nodeid="bad")]

    class Refuses(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t.clone()

        @staticmethod
        def backward(ctx, g):
            raise RuntimeError("grad_input must be contiguous")

    def batch(calls):
        TALLY.runs += 1
        return [F.mse_loss(Refuses.apply(a[0]) if torch.equal(a[0].detach(), 2 * x) else a[0], a[1], **k)
                for a, k in calls]
    batches.run(plans, lambda: batch)
    assert plans[0].error is None and plans[0].backward_error is None
    bad = plans[1]
    assert bad.error is None and bad.out.item() == 12.0
    leaf, args, kwargs = _call(bad, 2 * x, y)
    out = batches.replay(bad, args, kwargs)
    with pytest.raises(RuntimeError, match="grad_input must be contiguous"):
        torch.autograd.grad(out, [leaf], bad.upstream)


def test_a_fixture_test_is_planned_as_it_calls_the_loss():
    """A fixture test's plan is the call the test makes (tests/fixture_cases.py builds both), with
    the file's grad_output: its call is answered from the batch, its backward only for that."""
    import types

    from lossref.fixtures.cases import specs

    from .fixture_cases import case as loaded, fixture_call, recorded_grad_output
    from .registry import by_name
    spec = next(s for s in specs() if s.name == "cross_entropy/article")   # every supported torch makes its call
    item = types.SimpleNamespace(nodeid="t[cpu-cross_entropy/article]", originalname="test_implementation_reproduces",
                                 callspec=types.SimpleNamespace(params={"spec": spec, "device": "cpu"}))
    planned = batches.BATCHES._plan(item)
    case = loaded(spec.name)
    built = fixture_call(case, by_name[case.loss], "cpu")
    assert planned.wants_gradient and len(planned.differentiable) == len(built.leaves) > 0
    assert batches.matches(planned, tuple(built.args), built.kwargs)

    def cross_entropy_batch(calls):
        TALLY.runs += 1
        return [F.cross_entropy(*args, **kwargs) for args, kwargs in calls]
    batches.run([planned], lambda: cross_entropy_batch)
    out = batches.replay(planned, tuple(built.args), built.kwargs)
    torch.testing.assert_close(out, F.cross_entropy(*built.args, **built.kwargs))
    assert torch.equal(planned.upstream, recorded_grad_output(case, out))


def test_a_test_making_several_calls_gets_a_plan_for_each():
    """The unsupported-dtype test calls the loss once per sample: each call is planned as the test
    makes it (tests/test_errors.py unsupported_calls builds both), answered from the batch in any
    order, and differentiated with the gradient of ``out.sum()`` only."""
    import types

    from .registry import by_name
    from .test_errors import unsupported_calls
    record = by_name["multi_margin_loss"]
    item = types.SimpleNamespace(nodeid="t[multi_margin_loss-cpu-float16]",
                                 originalname="test_unsupported_dtype_still_refused",
                                 callspec=types.SimpleNamespace(
                                     params={"unsupported_case": (record, "cpu", torch.float16)}))
    plans = batches.BATCHES._plans(item)
    calls = list(unsupported_calls(record, "cpu", torch.float16))
    assert len(plans) == len(calls) > 1
    batches.BATCHES.planned[item.nodeid] = plans
    batches.BATCHES.current = item.nodeid
    try:
        for at, (args, kwargs, leaves) in reversed(list(enumerate(calls))):
            planned = batches.BATCHES.lookup(record.name, args, kwargs, run_group=None)
            assert planned is plans[at]
            assert planned.wants_gradient == bool(leaves)
            assert torch.equal(planned.upstream_of(torch.zeros(2, 3)), torch.ones(2, 3))
    finally:
        del batches.BATCHES.planned[item.nodeid]
        batches.BATCHES.current = None


def test_an_argument_laid_out_is_planned_once_for_both_checks():
    """tests/test_sharp.py checks the value and then the gradient of one call: one plan, which
    wants the gradient, matches the call the test builds (laid_out_argument_call)."""
    import types

    from .test_sharp import laid_out_argument_call
    nodeid = "tests/test_sharp.py::test_every_argument_laid_out[cpu-nll_loss-weight-strided]"
    params = {"name": "nll_loss", "argument": "weight", "layout": "strided", "device": "cpu"}
    item = types.SimpleNamespace(nodeid=nodeid, originalname="test_every_argument_laid_out",
                                 callspec=types.SimpleNamespace(params=params))
    plans = batches.BATCHES._plans(item, eager=F.nll_loss)   # eager torch says which leaves it accepts
    rng = np.random.default_rng([__import__("zlib").crc32(nodeid.encode()), batches.BATCHES.seed])
    args, kwargs = laid_out_argument_call("nll_loss", "weight", "strided", "cpu", rng)
    args = (args[0].detach().requires_grad_(True), *args[1:])   # the leaves torch accepts: the input
    assert len(plans) == 1 and plans[0].wants_gradient
    assert batches.matches(plans[0], args, kwargs)


def _with_every_leaf(k, refused=("weight",)):
    """A plan whose test's first call has a leaf eager torch refuses (the alternative plan)."""
    x, y = torch.full((3,), float(k), dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    planned, alternative = _plan(x, y, nodeid=str(k)), _plan(x, y, nodeid=str(k))
    planned.every_leaf, alternative.refused = alternative, refused
    return planned


@pytest.mark.parametrize("compiled_accepts", [True, False])
def test_leaves_eager_refuses_are_probed_once_per_set(compiled_accepts):
    """One probe per set of refused leaves: where the compiled function accepts the leaves, every
    test's first call is planned as the test makes it; where it refuses, the probe's test gets
    that refusal for its first call and the others keep the plan of their second call."""
    plans = [_with_every_leaf(k) for k in range(3)] + [_plan(torch.ones(2, dtype=torch.float64),
                                                             torch.zeros(2, dtype=torch.float64), nodeid="plain")]
    ran = []

    def run_group(group):
        ran.append(list(group))
        for p in group:
            if compiled_accepts:
                p.out = torch.zeros(())
            else:
                p.error = RuntimeError("the derivative for 'weight' is not implemented")
    out = batches.Batches._probed(plans, run_group)
    assert ran == [[plans[0].every_leaf]]              # the probe, alone, once
    if compiled_accepts:
        assert out == [p.every_leaf for p in plans[:3]] + [plans[3]]
    else:
        assert out == [plans[0].every_leaf, plans[0], plans[1], plans[2], plans[3]]


def test_a_call_with_a_known_compiled_bug_is_batched_apart():
    """The samples a record of the implementation under test applies to are found at planning
    (compile-mean-backward-empty: mse_loss's empty batch with reduction='mean' does not compile),
    so that they run in a batch of their own; no record, no mark; records of another implementation
    do not count."""
    from .registry import by_name
    record = by_name["mse_loss"]
    samples = {s.id: s for s in record.samples()}
    planner = batches.Batches()
    planner.quirk_implementations = ("compile", "torch")

    def known(sample_id, implementations=("compile", "torch")):
        planner.quirk_implementations = implementations
        sample = samples[sample_id]
        args, kwargs = sample.build(np.random.default_rng(0))
        return planner._known_bug(record, sample, "cpu", "contiguous", torch.float64, args, kwargs)
    assert known("edge-empty-batch-mean")
    assert not known("edge-empty-batch-mean", implementations=("torch",))
    assert not known(next(i for i in samples if not i.startswith("edge")))


def test_a_known_failure_is_looked_for_first():
    """A batch that raised runs again without the calls a record expects to fail: the others
    pass as one batch, unsplit, and the known one fails alone, with its own error."""
    plans = [_plan(torch.full((k + 1,), float(k), dtype=torch.float64), torch.zeros(k + 1, dtype=torch.float64),
                   nodeid=str(k)) for k in range(5)]   # five signatures: one layer
    plans[3].known_bug = True
    batches_run = []

    def raising_on_three(calls):
        batches_run.append(len(calls))
        if any(float(args[0][0]) == 3.0 for args, _ in calls):
            raise RuntimeError("three does not compile")
        return _eager_batch(calls)
    batches.run(plans, lambda: raising_on_three)
    assert batches_run == [5, 4, 1]
    assert [p.error is None for p in plans] == [True, True, True, False, True]
    assert "three" in str(plans[3].error)
