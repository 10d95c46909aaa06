"""N real processes of ``torch.distributed``, started once per run, each running the cases it is sent.

The pytest process is not a rank: it starts ``world_size`` processes (``spawn``: a fresh
interpreter each, so nothing of pytest's state is shared), which join one process group over
127.0.0.1 on a port found free, and then wait for cases. A case (:class:`Case`) goes to every
rank; each rank takes its shard of the class-sharded arguments, calls the implementation with
its :class:`~.interface.ClassShard`, differentiates the loss and sends back the loss and its
gradients as float64 NumPy arrays. The checks against the reference are the pytest process's
(``gate.py``): a rank computes, it never judges.

A rank that raises answers with its exception; a rank that hangs (a collective that its peers
never join) or dies is found by the deadline: :meth:`Ranks.run` then ends every rank by its own
process id and raises :class:`RankFailure` naming the rank and the case, and the next case
starts a new group. At the end of the run (or when the pytest process dies: a rank's pipe then
closes) every rank leaves its group and exits.

Backends: gloo for the CPU (it reduces float64, float32, float16 and bfloat16); NCCL for CUDA,
one process per GPU, where at least ``world_size`` GPUs are present.
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.connection
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from .interface import ClassShard, class_axes, is_sharded

#: Seconds a rank has to join the group after it starts (importing torch takes 2-4 s a process
#: when four start at once on two cores).
START_TIMEOUT = 120.0
#: Seconds every rank has to answer one case (they take milliseconds, the largest vocabulary a
#: second; a slow machine under pytest -n gets a wide margin): past it, a rank is hung.
#: ``LOSSREF_RANK_TIMEOUT`` sets another.
CASE_TIMEOUT = float(os.environ.get("LOSSREF_RANK_TIMEOUT", "60"))
#: Seconds the other ranks get to answer once one has raised: they may raise too (bad input seen
#: by all), or wait in a collective the raising rank never joins.
GRACE = 5.0


class RankFailure(RuntimeError):
    """A rank raised, hung or died on a case: ``rank``, ``case`` (its label) and ``kind``
    ("raised", "hang" or "died"); the message names all three and the rank's exception."""

    def __init__(self, message: str, rank: int, case: str, kind: str, error_type: str = ""):
        super().__init__(message)
        self.rank, self.case, self.kind, self.error_type = rank, case, kind, error_type


@dataclass(frozen=True)
class Case:
    """One call of a sharded loss, as every rank receives it: the dense arguments (the values
    the reference sees: floats already rounded to ``dtype``), which of them are sharded on which
    axis, the split, and what to differentiate with which ``grad_output``."""

    label: str                     # "cross_entropy NC-mean float64 split3+2": for messages
    module: str                    # the implementation's module (``impl.Implementation.module_name``)
    loss: str
    args: tuple
    kwargs: dict
    positional: tuple              # the parameter names the positional arguments bind to
    dtype: str
    device: str
    sizes: tuple
    grad_output: np.ndarray | None = None
    leaves: tuple = ()             # parameter names whose gradient is wanted
    settings: dict = field(default_factory=dict)


# --- the pytest process's side ----------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice, never a fixed one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _loopback_interface() -> str | None:
    """The loopback interface's name ("lo" on Linux, "lo0" on macOS), for gloo's socket."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (AttributeError, OSError):
        return None
    return next((name for name in names if name.startswith("lo")), None)


class Ranks:
    """``world_size`` processes in one ``torch.distributed`` group, started on first use."""

    def __init__(self, world_size: int, device: str = "cpu", case_timeout: float = CASE_TIMEOUT):
        self.world_size = world_size
        self.device = device
        self.backend = "nccl" if device == "cuda" else "gloo"
        self.case_timeout = case_timeout
        self.starts = 0                # how many times a group was started (1 in a run without failures)
        self._processes: list = []
        self._pipes: list = []

    @property
    def alive(self) -> bool:
        return bool(self._processes) and all(p.is_alive() for p in self._processes)

    def start(self) -> None:
        self.stop()
        context = multiprocessing.get_context("spawn")
        port = free_port()
        env = {"GLOO_SOCKET_IFNAME": _loopback_interface()} if self.backend == "gloo" else {}
        for rank in range(self.world_size):
            ours, theirs = context.Pipe()
            process = context.Process(target=serve, name=f"lossref-rank{rank}", daemon=True,
                                      args=(rank, self.world_size, port, theirs, self.backend, self.device, env))
            process.start()
            theirs.close()
            self._processes.append(process)
            self._pipes.append(ours)
        self.starts += 1
        answers = self._collect("start", START_TIMEOUT)
        failed = [(rank, a) for rank, a in enumerate(answers) if a[0] != "ready"]
        if failed:
            rank, answer = failed[0]
            self.stop()
            raise RankFailure(f"rank {rank} could not join the group on 127.0.0.1:{port}: {answer[2]}",
                              rank, "start", "raised", answer[1])

    def run(self, case: Case) -> list[tuple]:
        """Every rank's answer to ``case``: ``("ok", loss, grads)`` or ``("skip", reason)``.
        A rank that raised, hung or died: :class:`RankFailure` (the group is restarted first
        where a rank may still be waiting in a collective)."""
        if not self.alive:
            self.start()
        for pipe in self._pipes:
            pipe.send(case)
        answers = self._collect(case.label, self.case_timeout)
        raised = [(rank, a) for rank, a in enumerate(answers) if a[0] == "error"]
        if raised:
            rank, (_, error_type, message, trace) = raised[0]
            others = f" (ranks {', '.join(str(r) for r, _ in raised[1:])} raised too)" if len(raised) > 1 else ""
            raise RankFailure(f"rank {rank} raised {error_type}: {message}{others} in case {case.label}\n{trace}",
                              rank, case.label, "raised", error_type)
        return answers

    def _collect(self, label: str, timeout: float) -> list:
        """Every rank's answer within ``timeout`` s (``GRACE`` s once one has raised); past it,
        the ranks are ended and :class:`RankFailure` says which did not answer."""
        answers: list = [None] * self.world_size
        deadline = time.monotonic() + timeout
        pending = dict(zip(self._pipes, range(self.world_size)))
        while pending:
            ready = multiprocessing.connection.wait(list(pending), max(0.0, deadline - time.monotonic()))
            if not ready:
                silent = sorted(pending.values())
                raised = [(r, a) for r, a in enumerate(answers) if a is not None and a[0] == "error"]
                self.stop()
                cause = (f" after rank {raised[0][0]} raised {raised[0][1][1]}: {raised[0][1][2]}" if raised
                         else f" within {timeout:.0f} s")
                raise RankFailure(f"rank {silent[0]} did not answer{cause} (ranks {silent} hung) in case {label}; "
                                  f"the group was ended and restarts for the next case",
                                  silent[0], label, "hang" if not raised else "raised",
                                  raised[0][1][1] if raised else "")
            for pipe in ready:
                rank = pending.pop(pipe)
                try:
                    answers[rank] = pipe.recv()
                except (EOFError, OSError):
                    code = self._processes[rank].exitcode
                    self.stop()
                    raise RankFailure(f"rank {rank} died (exit code {code}) in case {label}; the group restarts "
                                      f"for the next case", rank, label, "died") from None
                if answers[rank][0] == "error":
                    deadline = min(deadline, time.monotonic() + GRACE)
        return answers

    def stop(self) -> None:
        """Ask every rank to leave its group and exit; end by its process id any still running."""
        for pipe in self._pipes:
            try:
                pipe.send(None)
            except (OSError, BrokenPipeError):
                pass
        deadline = time.monotonic() + 5.0
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in self._processes:
            if process.is_alive():
                process.kill()          # SIGKILL to this process's own pid, nothing else
                process.join(5.0)
        for pipe in self._pipes:
            pipe.close()
        self._processes, self._pipes = [], []


# --- a rank's side -------------------------------------------------------------------------------------------

def serve(rank, world_size, port, pipe, backend, device, env):
    """A rank's life: join the group, answer cases until told to stop (or the pipe closes)."""
    for key, value in env.items():
        if value:
            os.environ.setdefault(key, value)
    try:
        import torch
        import torch.distributed as dist

        torch.set_num_threads(1)   # world_size ranks share the machine's cores
        if device == "cuda":
            torch.cuda.set_device(rank)
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=CASE_TIMEOUT * 2))
    except BaseException as error:   # noqa: BLE001: whatever it is, the pytest process reports it
        pipe.send(("error", type(error).__name__, str(error).splitlines()[0] if str(error) else "", ""))
        return
    pipe.send(("ready",))
    group = dist.group.WORLD
    try:
        while True:
            try:
                case = pipe.recv()
            except (EOFError, OSError):
                break                     # the pytest process is gone
            if case is None:
                break
            try:
                answer = run_case(case, rank, world_size, group)
            except BaseException as error:   # noqa: BLE001
                text = str(error).strip().splitlines()
                answer = ("error", type(error).__name__, text[0] if text else "", _short_trace(error))
            pipe.send(answer)
    finally:
        try:
            dist.destroy_process_group()
        except Exception:   # noqa: BLE001: a group a failed collective left broken; the process exits anyway
            pass


def _short_trace(error: BaseException, lines: int = 6) -> str:
    """The last frames of a rank's traceback: where in the implementation it raised."""
    frames = traceback.format_exception(type(error), error, error.__traceback__)
    return "".join(frames[-lines:]).rstrip()


_MODULES: dict = {}


def _module(name: str):
    if name not in _MODULES:
        _MODULES[name] = importlib.import_module(name)
    return _MODULES[name]


def run_case(case: Case, rank: int, world_size: int, group):
    """Call the implementation on this rank's shard; the loss and the gradients, as float64."""
    import contextlib

    import torch

    module = _module(case.module)
    if not is_sharded(module):
        raise TypeError(f"{case.module} does not declare LOSSREF_INTERFACE = 'sharded'")
    fn = getattr(module, case.loss)
    device = f"cuda:{rank}" if case.device == "cuda" else "cpu"
    dtype = getattr(torch, case.dtype)
    named = dict(zip(case.positional, case.args))
    named.update(case.kwargs)
    axes = class_axes(case.loss, named)
    start = sum(case.sizes[:rank])
    stop = start + case.sizes[rank]
    shard = ClassShard(start, stop, sum(case.sizes), rank, world_size, group)

    def tensor(name, value):
        if not isinstance(value, np.ndarray):
            return value
        if name in axes:
            value = np.take(value, np.arange(start, stop), axis=axes[name])
        made = torch.tensor(value, dtype=dtype if value.dtype.kind == "f" else None, device=device)
        return made.requires_grad_(True) if name in case.leaves else made

    args = [tensor(name, value) for name, value in zip(case.positional, case.args)]
    kwargs = {name: tensor(name, value) for name, value in case.kwargs.items()}
    leaves = {name: t for name, t in zip(case.positional, args) if name in case.leaves}
    leaves.update({name: t for name, t in kwargs.items() if name in case.leaves})
    context = getattr(module, "context", contextlib.nullcontext)
    with context():
        loss = fn(*args, shard=shard, **kwargs)
        if not isinstance(loss, torch.Tensor):
            raise TypeError(f"{case.module}.{case.loss} returned {type(loss).__name__}, expected a tensor")
        grads = {}
        if case.grad_output is not None and leaves and loss.requires_grad:
            upstream = torch.tensor(case.grad_output, dtype=loss.dtype, device=loss.device)
            found = torch.autograd.grad(loss, list(leaves.values()), upstream, allow_unused=True)
            grads = {name: None if g is None else g.detach().cpu().double().numpy() for name, g in zip(leaves, found)}
    return ("ok", loss.detach().cpu().double().numpy(), grads)
