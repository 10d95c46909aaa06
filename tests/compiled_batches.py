"""The whole compiled run, batched: each loss's forward, gradient and layout tests on one device
and dtype, and its fixture tests, its every-argument layouts (test_sharp.py) and its calls in a
dtype eager torch lacks, each on one device, are compiled together, as one function, and each
test then checks its own sample's value and gradients from that function's results
(``--impl compile[:BACKEND]``; tests/compiled.py).

Why: inductor spends about 2.5 s on the CPU compiling a loss's forward and backward graph on its
own, most of it fixed cost (its passes, and a C++ file for each graph built by the system compiler,
about 40 % of the wall time of such a compile), and the suite's covering arrays make almost every
sample a graph of its own (distinct options, dtypes, None patterns): 5900 graphs, about 3 hours on
2 cores. One function over a group's ~120 samples pays the fixed cost once per group; what a batch
cannot save is tracing each call (dynamo, AOTAutograd, inductor's lowering: about 0.3 s a call
under inductor), so a batch traces each distinct call once (``layers``): the forward and the
gradient test of a sample make the same call with other values.

How a test gets its batch's result, with nothing trusted that was not checked:

- **The plan.** When a group's first test calls the loss, every test of the group that the run
  collected is planned: its arguments drawn exactly as the test draws them (the same seed from its
  node id, the same sample, dtype, device and layout, the same leaves and input transform), and,
  for a gradient, the same random ``grad_output`` (``parity.draw_upstream``, from the test's
  generator after the sample; a fixture's own). The group runs once: one ``torch.compile`` of a
  function calling the loss on one planned call of each signature (static shapes), run again for
  the group's other calls of the same signatures (``layers``: the same graph, no new trace), each
  run followed by one backward over its outputs that want a gradient. Each planned call's tensors
  are compared before and after: a call that modified its input records ``InputModified``.
- **The replay.** When a test calls the loss, its call is compared with its plan: the same
  tensors (dtype, shape, strides, values, which ones require grad) and the same other arguments.
  Only then does it get the batch's output for its sample, through an autograd function whose
  backward returns the batch's gradients, and only for the planned ``grad_output`` (any other is
  an error). A call that differs from its plan (a leaf torch refused, a test this module does not
  plan) is compiled on its own, as in ``:dynamic`` mode: never answered from another call.
- **Calls planned as the tests make them.** A test that calls the loss several times (the
  unsupported-dtype test: a call per sample) has a plan per call, matched call by call. A test's
  first call differentiates every floating argument; where eager torch refuses a leaf, one call
  per group and set of refused leaves probes compiled torch (``Batches._probed``): if compiled
  torch accepts the leaf, the tests' first calls are planned as made. The calls a quirk record
  expects to fail run as a batch of their own after the others (``Planned.known_bug``: where to
  batch, never what a test gets), so that a known failure does not split the group's batch.
- **Failures stay the sample's own.** A batch that raises is split in halves and run again, down
  to the single samples: a sample whose compilation fails gets its own exception, the others their
  results (an inductor batch that raised is split with aot_eager first, ``run``). A batch in
  which no compiled graph ran (dynamo runs the whole batch function eagerly when a graph break
  falls inside its loop: gaussian_nll_loss's data-dependent check) answers none of its tests:
  their calls are compiled one by one, with symbolic shapes (tests/compiled.py).
  The graphs a batch compiles count for the test that triggered it.
"""

from __future__ import annotations

import copy
import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .parity import same_values

#: The test functions whose calls are planned and batched, by name: what their calls need.
KINDS = {"test_forward": "forward", "test_gradient": "gradient", "test_layout": "layout",
         "test_implementation_reproduces": "fixture", "test_unsupported_dtype_still_refused": "unsupported",
         "test_every_argument_laid_out": "argument laid out"}


@dataclass
class Planned:
    """One test's call of the loss, as planned, and what the batch gave it."""

    nodeid: str
    loss: str
    call_args: tuple
    call_kwargs: dict
    differentiable: list          # the call's tensors requiring grad, in call order
    upstream_of: Callable         # output -> the test's grad_output (drawn from its generator, or recorded)
    wants_gradient: bool
    before: list = field(default_factory=list)
    upstream: torch.Tensor | None = None
    out: torch.Tensor | None = None
    grads: tuple = ()
    error: BaseException | None = None
    backward_error: BaseException | None = None   # raised by the backward, where eager torch raises it
    eager: bool = False
    every_leaf: "Planned | None" = None   # the call with the leaves eager torch refuses too (``_probed``)
    refused: tuple = ()                    # those leaves, by name (on that call's plan)
    known_bug: bool = False                # a quirk record applies to its test: batched apart (``lookup``)

    def tensors(self) -> list:
        return [t for t in (*self.call_args, *self.call_kwargs.values()) if isinstance(t, torch.Tensor)]


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    if (a.dtype, a.shape, a.stride(), a.device, a.requires_grad) != (b.dtype, b.shape, b.stride(), b.device,
                                                                   b.requires_grad):
        return False
    return same_values(a, b)


def _same_value(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and _same_tensor(a, b)
    if callable(a) or callable(b):
        return a is b
    try:
        return type(a) is type(b) and bool(a == b or (a != a and b != b))   # nan options equal themselves
    except Exception:   # noqa: BLE001 (an option that cannot be compared is not the planned one)
        return False


def matches(planned: Planned, args, kwargs) -> bool:
    """Whether a call is the planned one: the same arguments, position by position."""
    return (len(args) == len(planned.call_args) and set(kwargs) == set(planned.call_kwargs)
            and all(_same_value(a, b) for a, b in zip(args, planned.call_args))
            and all(_same_value(kwargs[k], planned.call_kwargs[k]) for k in kwargs))


class _Replay(torch.autograd.Function):
    """The batch's output for a planned call, differentiable through the call's own tensors:
    backward gives the batch's gradients, for the planned grad_output only."""

    @staticmethod
    def forward(ctx, planned, *tensors):
        ctx.planned = planned
        return planned.out.clone()

    @staticmethod
    def backward(ctx, grad_output):
        planned = ctx.planned
        if planned.backward_error is not None:
            raise planned.backward_error.with_traceback(None)
        if planned.upstream is None or not torch.equal(grad_output, planned.upstream):
            raise RuntimeError(f"{planned.nodeid}: the backward's grad_output is not the one the batch planned "
                               f"(tests/compiled_batches.py): no gradient was compiled for it")
        return (None, *planned.grads)


def replay(planned: Planned, args, kwargs):
    from .compiled import RanEagerly
    if planned.error is not None:
        raise planned.error.with_traceback(None)
    if planned.eager:
        raise RanEagerly(f"torch.compile ran no compiled graph for {planned.loss}'s batch: the call ran eagerly")
    tensors = [t for t in (*args, *kwargs.values()) if isinstance(t, torch.Tensor) and t.requires_grad]
    return _Replay.apply(planned, *tensors)


class Batches:
    """The run's groups: (loss, device, dtype) -> the planned calls of its collected tests."""

    def __init__(self):
        self.items: dict[tuple, list] = {}        # group -> pytest items, collection order
        self.by_id: dict[str, object] = {}        # node id -> pytest item
        self.planned: dict[str, list] = {}        # node id -> its plans (a call each), once its group ran
        self.done: set = set()
        self.current: str | None = None           # the node id of the test running
        self.seed = 0
        self.quirk_implementations: tuple[str, ...] = ()

    def register(self, items, seed: int, quirk_implementations: tuple[str, ...] = ()):
        """The collected tests whose calls are batched (``KINDS``), by group; ``quirk_implementations``:
        the records that apply to the implementation (tests/impl.py)."""
        self.seed = seed
        self.quirk_implementations = quirk_implementations
        self.items.clear()
        self.by_id.clear()
        for item in items:
            group = self._group(item)
            if group is not None:
                self.items.setdefault(group, []).append(item)
                self.by_id[item.nodeid] = item

    @staticmethod
    def _group(item):
        kind = KINDS.get(getattr(item, "originalname", None))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if kind is None:
            return None
        if kind == "layout":
            from .test_layouts import layout_dtype
            record, sample, _ = params["layout_case"]
            return record.name, params["device"], layout_dtype(sample)
        if kind == "fixture":     # a loss's fixtures, whatever their recorded dtypes
            from .fixture_cases import case
            return case(params["spec"].name).loss, params["device"], "fixtures"
        if kind == "argument laid out":   # tests/test_sharp.py: three losses, float64
            return params["name"], params["device"], "every argument laid out"
        if kind == "unsupported":  # one test, a call per sample in a dtype eager torch lacks
            if params.get("unsupported_case") is None:
                return None
            record, device, dtype = params["unsupported_case"]
            return record.name, device, f"unsupported {dtype}"
        record, _, device, dtype = params["device_case" if kind == "forward" else "gradient_case"]
        return record.name, device, dtype

    def lookup(self, loss: str, args, kwargs, run_group, eager=None) -> Planned | None:
        """The plan of the running test's call, its group run first (``run_group(planned)``);
        None where the call is not the planned one. ``eager``: torch's own function, which says
        which leaves a test's call ends with (``_accepted_leaves``)."""
        item = self.by_id.get(self.current) if self.current not in self.planned else None
        if item is not None:
            group = self._group(item)
            if group not in self.done and group[0] == loss:
                self.done.add(group)
                plans = self._probed([p for i in self.items[group] for p in self._plans(i, eager)], run_group)
                run_group([p for p in plans if p.out is None and p.error is None])
                for p in plans:
                    self.planned.setdefault(p.nodeid, []).append(p)
        return next((p for p in self.planned.get(self.current, ()) if p.loss == loss and matches(p, args, kwargs)),
                    None)

    @staticmethod
    def _probed(plans: list[Planned], run_group) -> list[Planned]:
        """A test differentiates every floating argument and drops the ones torch refuses
        (parity._autograd): its first call has every leaf, and only if the implementation refuses
        one does it call again without it. Eager torch's refusals are known (``_accepted_leaves``);
        compiled torch's are found by compiling one such call per set of refused leaves, the probe.
        Where compiled torch accepts the leaves (multi_margin_loss's and mse_loss's weight), the
        group's first calls are planned as the tests make them: answered from the batch, not
        compiled one by one (59 graphs for multi_margin_loss alone). Where it refuses, the probe's
        plan answers its test's first call with that refusal, and the others' first calls are
        compiled on their own, as before. Either way every answer is the call's own."""
        probes: dict[tuple, Planned] = {}
        out = []
        for p in plans:
            alternative = p.every_leaf
            if alternative is None:
                out.append(p)
                continue
            key = alternative.refused
            if key not in probes:
                probes[key] = alternative
                run_group([alternative])
                out.append(alternative)        # answers its test's first call: a value or the refusal
                if alternative.error is not None:
                    out.append(p)
                continue
            out.append(alternative if probes[key].error is None else p)
        return out

    def _plans(self, item, eager=None) -> list[Planned]:
        """The test's planned calls: one, or for a test that makes several (``unsupported``), each."""
        if KINDS[item.originalname] == "unsupported":
            return self._plan_unsupported(item)
        planned = self._plan(item, eager)
        return [] if planned is None else [planned]

    def _plan(self, item, eager=None) -> Planned | None:
        kind = KINDS[item.originalname]
        if kind == "fixture":
            return self._plan_fixture(item)
        from .parity import _float_leaves, arguments_by_name, draw_upstream, leaf_call
        from .convert import to_torch_call
        params = item.callspec.params
        rng = np.random.default_rng([zlib.crc32(item.nodeid.encode()), self.seed])   # tests/session.py rng
        try:
            if kind == "layout":
                from .test_layouts import laid_out_call, layout_dtype
                record, sample, layout = params["layout_case"]
                device, dtype = params["device"], layout_dtype(sample)
                args, kwargs = laid_out_call(sample, layout, dtype, device, rng)
                wants = sample.grad
            elif kind == "argument laid out":   # its forward and gradient checks make this one call
                from .registry import by_name
                from .test_sharp import laid_out_argument_call
                record, sample, device = by_name[params["name"]], None, params["device"]   # no record looked up
                args, kwargs = laid_out_argument_call(params["name"], params["argument"], params["layout"],
                                                      device, rng)
                wants = True
            else:
                record, sample, device, dtype = params["device_case" if kind == "forward" else "gradient_case"]
                layout = "contiguous"
                args, kwargs = to_torch_call(*sample.build(rng), dtype, device)
                wants = kind == "gradient"
            leaves = _float_leaves(record.name, arguments_by_name(record.name, args, kwargs))
        except Exception:   # noqa: BLE001 (a sample that cannot be drawn fails in its own test)
            return None
        every = leaves
        if eager is not None:
            leaves = _accepted_leaves(record, eager, args, kwargs, leaves)
        try:
            planned = [_planned(item.nodeid, record.name, *leaf_call(record.name, args, kwargs, chosen,
                                                                  record.gradient_transform)[:2],
                                # the test's generator after its sample: its grad_output comes next
                                functools.partial(draw_upstream, copy.deepcopy(rng)), wants)
                       for chosen in ([leaves, every] if leaves != every else [leaves])]
        except Exception:   # noqa: BLE001 (an input transform that fails, fails in its own test)
            return None
        if len(planned) == 2:
            planned[0].every_leaf = planned[1]
            planned[1].refused = tuple(n for n in every if n not in leaves)
        for p in planned:
            p.known_bug = sample is not None and self._known_bug(record, sample, device, layout, dtype, args, kwargs)
        return planned[0]

    def _known_bug(self, record, sample, device, layout, dtype, args, kwargs) -> bool:
        """Whether a quirk record of the implementation under test applies to this sample's forward
        or gradient (tests/parity.py apply_quirk), on these inputs: a hint where to batch the call,
        never an outcome (each call's result is still its own). Forward and gradient alike, so that
        a sample's two tests, which make one call, stay in one batch."""
        from . import quirks
        from .convert import to_numpy_call
        from .tolerances import dtype_name
        try:
            inputs = to_numpy_call(args, kwargs)
        except Exception:   # noqa: BLE001 (an argument NumPy cannot hold: no draw-dependent record is asked)
            inputs = None
        return any(quirks.find(record.name, sample.id, device, test, layout, dtype_name(dtype), inputs,
                               tags=sample.tags, implementation=name) is not None
                   for test in ("forward", "gradient") for name in self.quirk_implementations)

    @staticmethod
    def _plan_fixture(item) -> Planned | None:
        """A fixture test's call (tests/test_fixtures.py), built as the test builds it, with the
        file's grad_output."""
        from . import releases
        from .fixture_cases import case as loaded, fixture_call, recorded_grad_output
        from .registry import by_name
        case = loaded(item.callspec.params["spec"].name)
        try:
            releases.skip_if_lacking(case.loss, case.args, case.kwargs)
            built = fixture_call(case, by_name[case.loss], item.callspec.params["device"])
        except Exception:   # noqa: BLE001 (a call the installed torch cannot make: its test says so)
            return None
        planned = _planned(item.nodeid, case.loss, tuple(built.args), built.kwargs,
                           functools.partial(recorded_grad_output, case), bool(built.leaves))
        planned.known_bug = item.callspec.params["spec"].torch_quirk is not None   # the record its test expects
        return planned


    @staticmethod
    def _plan_unsupported(item) -> list[Planned]:
        """tests/test_errors.py's unsupported-dtype test: a call per sample, each differentiated
        with the gradient of ``out.sum()`` (ones), made as the test makes them."""
        from .test_errors import unsupported_calls
        record, device, dtype = item.callspec.params["unsupported_case"]
        try:
            calls = list(unsupported_calls(record, device, dtype))
        except Exception:   # noqa: BLE001 (a sample that cannot be drawn fails in the test)
            return []
        return [_planned(item.nodeid, record.name, args, kwargs, torch.ones_like, bool(leaves))
                for args, kwargs, leaves in calls]


def _planned(nodeid, loss, call_args, call_kwargs, upstream_of, wants) -> Planned:
    """The plan of a call: the batch differentiates with respect to the call's own tensors (a
    transform's output included), which the replay's autograd function receives in the same order."""
    differentiable = []

    def own(t):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            t = t.detach().requires_grad_(True)
            differentiable.append(t)
        return t
    call_args = tuple(own(a) for a in call_args)
    call_kwargs = {k: own(v) for k, v in call_kwargs.items()}
    return Planned(nodeid, loss, call_args, call_kwargs, differentiable, upstream_of, wants)


BATCHES = Batches()


def _accepted_leaves(record, eager, args, kwargs, leaves) -> list[str]:
    """The leaves a test's call ends with: a test differentiates every floating argument and
    drops the ones torch refuses (parity._autograd: nll_loss's class weight, for example), so
    its last call has the leaves that eager torch accepts. That call is the one planned. The
    test's first call, with a refused leaf, is not in the batch: it is compiled on its own,
    where compiled torch refuses it too (or accepts it: a finding, tests/compiled_findings.py).
    Planned with every leaf, the batch's forward fails on each such sample, and splitting the
    batch down to them cost ~2 log2(n) compilations each (3515 graphs in a whole aot_eager run)."""
    from .parity import _autograd
    try:
        _, accepted = _autograd(record.name, eager, args, kwargs, leaves, record.gradient_transform)
    except Exception:   # noqa: BLE001 (eager torch refuses the sample: its test sees what compile does)
        return leaves
    return list(accepted)


def signature(planned: Planned) -> tuple:
    """What a static compiled call's guards depend on, as far as this key can say: each tensor's
    dtype, shape, strides, storage offset, device and whether it requires grad, which arguments are
    the same tensor, and every other argument's type and value. Calls of one signature are run by one
    compiled function (``layers``); a key that misses a guard costs a recompilation (counted), never
    a wrong answer, since every call is still run by the compiled function on its own tensors."""
    seen: dict[int, int] = {}

    def key(value):
        if isinstance(value, torch.Tensor):
            return ("tensor", value.dtype, tuple(value.shape), value.stride(), value.storage_offset(),
                    str(value.device), value.requires_grad, seen.setdefault(id(value), len(seen)))
        if isinstance(value, (list, tuple)):
            return (type(value).__name__, *map(key, value))
        if callable(value):
            return ("callable", id(value))
        return (type(value).__name__, repr(value))
    return (key(planned.call_args), tuple((name, key(v)) for name, v in planned.call_kwargs.items()))


def layers(plans: list[Planned]) -> list[list[tuple[Planned, bool]]]:
    """The batch as calls of one compiled function, each call a layer holding one plan per
    signature: the forward and the gradient test of a sample draw different values for the same
    call, so a batch traced once serves both (about 40 % fewer calls traced in a whole run). Where
    a signature has fewer plans than the batch has layers, its first plan fills the place again
    (``False``: a filler, run for the graph's guards, its result not kept)."""
    by_signature: dict[tuple, list[Planned]] = {}
    for p in plans:
        by_signature.setdefault(signature(p), []).append(p)
    depth = max(len(same) for same in by_signature.values())
    return [[(same[j], True) if j < len(same) else (same[0], False) for same in by_signature.values()]
            for j in range(depth)]


def run(plans: list[Planned], new_batch, screen=None) -> None:
    """Run ``plans`` as one batch; a batch that raises is split until each failure is one sample's.
    ``new_batch()``: a fresh compiled function ``calls -> outputs``, which runs every layer.

    A batch that raised is first run again as two: the calls no quirk record expects to fail, and
    those a record expects to fail (``Planned.known_bug``), each split only if it raises again: a
    known failure then costs its own few calls a split, not the whole group's batch (a hint where
    to look, never an outcome: each call's result is its own).

    ``screen`` (a cheaper backend's ``new_batch``), for a batch that raised: split with it, then
    run the samples it found failing each on its own and the others as one batch, with
    ``new_batch``: every sample's outcome is still the backend's own, and a sample that fails in
    tracing or in AOTAutograd costs the cheap backend's compilations to find, not inductor's."""
    if len(plans) <= 1:
        _split(plans, new_batch)
        return
    try:
        _run_once(plans, new_batch)
        return
    except Exception:   # noqa: BLE001 (found again below, sample by sample)
        pass
    known = [p for p in plans if p.known_bug]
    parts = [[p for p in plans if not p.known_bug], known] if 0 < len(known) < len(plans) else [plans]
    for part in parts:
        if len(parts) > 1 and len(part) > 1:
            try:
                _run_once(part, new_batch)
                continue
            except Exception:   # noqa: BLE001 (found below)
                pass
        _resolve(part, new_batch, screen)


def _resolve(plans: list[Planned], new_batch, screen) -> None:
    """A batch that raised, sample by sample: split with ``screen`` (or with the backend itself,
    whose run of the whole batch has already failed)."""
    if screen is None or len(plans) <= 1:
        _split(plans, new_batch, failed=len(plans) > 1)
        return
    _split(plans, screen)
    failing = [p for p in plans if p.error is not None]
    _split([p for p in plans if p.error is None], new_batch)
    for p in failing:
        _split([p], new_batch)


def _split(plans: list[Planned], new_batch, failed: bool = False) -> None:
    """``plans`` as one batch, halved where it raises; ``failed``: it raised already, halve it."""
    if not plans:
        return
    try:
        if failed:
            raise RuntimeError("the batch raised")
        _run_once(plans, new_batch)
    except Exception as error:   # noqa: BLE001 (the samples' own outcome, given to their tests)
        if len(plans) == 1:
            plans[0].error = error
            return
        half = len(plans) // 2
        _split(plans[:half], new_batch)
        _split(plans[half:], new_batch)


def _run_once(plans: list[Planned], new_batch) -> None:
    from .compare import InputModified
    from .compiled import TALLY
    before = [[t.detach().clone() for t in p.tensors()] for p in plans]
    batch = new_batch()
    results = {}   # id(plan) -> (output, gradients, ran eagerly, backward error)
    for layer in layers(plans):
        runs = TALLY.runs
        outs = batch([(p.call_args, p.call_kwargs) for p, _ in layer])
        eager = TALLY.runs == runs
        own = [(p, out) for (p, mine), out in zip(layer, outs) if mine]
        wanted = [(p, out) for p, out in own if p.wants_gradient and p.differentiable]
        for p, out in wanted:
            if p.upstream is None:      # drawn once: a split batch runs the sample again
                p.upstream = p.upstream_of(out)
        backward_error = None
        try:
            grads = torch.autograd.grad([out for _, out in wanted], [t for p, _ in wanted for t in p.differentiable],
                                        [p.upstream for p, _ in wanted], allow_unused=True) if wanted else ()
        except Exception as error:   # noqa: BLE001
            if len(plans) > 1:
                raise                # split: whose backward it is
            # one sample whose forward ran and whose backward raised: its test gets the value, and the
            # error where eager torch raises it, from the backward (a quirk of the gradient applies)
            grads, backward_error = (None,) * len(plans[0].differentiable), error
        at = 0
        for p, out in own:
            kept = ()
            if p.wants_gradient and p.differentiable:
                kept = tuple(grads[at:at + len(p.differentiable)])
                at += len(p.differentiable)
            results[id(p)] = (out.detach(), kept, eager, backward_error)
    for p, kept in zip(plans, before):
        p.out, p.grads, p.eager, p.backward_error = results[id(p)]
        p.error = None
        if not all(same_values(t, k) for t, k in zip(p.tensors(), kept)):
            p.error = InputModified(f"{p.nodeid}: the compiled loss modified one of its arguments", p.nodeid, "")
