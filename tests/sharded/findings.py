"""What the sharded tier found in torch's ``loss_parallel``: each record of ``lossref.quirks`` with
``implementation="loss_parallel"``, with a standalone reproduction, and the page that lists them.

``python -m lossref.tests.sharded.findings --write`` writes docs/sharded.md's findings section
(from the records and the reproductions here); ``--run NAME`` runs one reproduction. Each
reproduction is a few lines of torch between one shared prelude (two or four gloo processes on
127.0.0.1) and prints ``reproduced:`` with what it saw; tests/test_sharded_findings.py runs every
one (sharded tier) and checks that it still does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lossref import quirks

from .. import finding_pages
from ..finding_pages import with_section

#: Everything a reproduction needs, once: ``body(rank, world, mesh)`` is the finding's part.
PRELUDE = '''\
import os, sys, torch, torch.distributed as dist, torch.multiprocessing as mp, torch.nn.functional as F
from datetime import timedelta
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.tensor import DTensor, Replicate, Shard
from torch.distributed.tensor.parallel import loss_parallel


def shard(dense, rank, world, mesh, dim=1):
    """This rank's torch.chunk of ``dense`` on ``dim``, as a DTensor sharded there (a leaf)."""
    pieces = dense.chunk(world, dim)      # fewer than world pieces when the last ranks own nothing
    piece = pieces[rank] if rank < len(pieces) else dense.narrow(dim, dense.shape[dim], 0)
    local = piece.detach().clone().requires_grad_(True)
    return local, DTensor.from_local(local, mesh, [Shard(dim)], run_check=False, shape=dense.shape,
                                     stride=dense.stride())


def main(rank, world, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=10))
    torch.manual_seed(0)
    try:
        body(rank, world, DeviceMesh("cpu", list(range(world))))
    except Exception as error:
        print(f"reproduced: rank {rank} raised {type(error).__name__}: {str(error).splitlines()[0]}", flush=True)
    os._exit(0)   # a rank left waiting in a collective must not keep the others


'''

EPILOGUE = '''

if __name__ == "__main__":
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(main, args=(WORLD, port), nprocs=WORLD)
'''

#: Per record: the ranks it needs and the body (``body(rank, world, mesh)``).
REPRODUCTIONS: dict[str, tuple[int, str]] = {
    "loss-parallel-rank-without-classes": (4, '''\
def body(rank, world, mesh):            # 5 classes over 4 ranks: torch.chunk gives 2, 2, 1, 0
    x, t = torch.randn(4, 5, dtype=torch.float64), torch.tensor([0, 4, 2, 1])
    local, logits = shard(x, rank, world, mesh)
    with loss_parallel():
        loss = F.cross_entropy(logits, t)
    print(f"rank {rank}: {loss.to_local().item()}", flush=True)
'''),
    "loss-parallel-linear-k-dim-uneven": (2, '''\
def body(rank, world, mesh):            # linear_weight (C, d, in_features) with C = 5 over 2 ranks
    x, w, t = torch.randn(3, 4, dtype=torch.float64), torch.randn(5, 2, 4, dtype=torch.float64), torch.randint(5, (3, 2))
    local, rows = shard(w, rank, world, mesh, dim=0)
    with loss_parallel():
        F.linear_cross_entropy(DTensor.from_local(x, mesh, [Replicate()], run_check=False), rows, t)
'''),
    "loss-parallel-label-smoothing": (2, '''\
def body(rank, world, mesh):
    x, t = torch.randn(4, 5, dtype=torch.float64), torch.tensor([0, 4, 2, 1])
    local, logits = shard(x, rank, world, mesh)
    with loss_parallel():
        F.cross_entropy(logits, t, label_smoothing=0.1)
'''),
    "loss-parallel-probabilities-with-weight": (2, '''\
def body(rank, world, mesh):
    x, p = torch.randn(4, 5, dtype=torch.float64), torch.softmax(torch.randn(4, 5, dtype=torch.float64), 1)
    local, logits = shard(x, rank, world, mesh)
    _, target = shard(p, rank, world, mesh)
    with loss_parallel():
        F.cross_entropy(logits, target, weight=torch.rand(5, dtype=torch.float64))
'''),
    "loss-parallel-probabilities-not-refused": (2, '''\
def body(rank, world, mesh):            # documented as unsupported, computed anyway: the gradient is wrong
    x, p = torch.randn(4, 5, dtype=torch.float64), torch.softmax(torch.randn(4, 5, dtype=torch.float64), 1)
    local, logits = shard(x, rank, world, mesh)
    _, target = shard(p, rank, world, mesh)
    with loss_parallel():
        F.cross_entropy(logits, target, label_smoothing=0.1).full_tensor().backward()
    dense = x.clone().requires_grad_(True)
    F.cross_entropy(dense, p, label_smoothing=0.1).backward()
    want = dense.grad.chunk(world, 1)[rank]
    if not torch.allclose(local.grad, want):
        print(f"reproduced: rank {rank} gradient differs from the dense one by "
              f"{(local.grad - want).abs().max().item():.3g}", flush=True)
'''),
    "loss-parallel-weight-ignored-rows-backward": (2, '''\
def body(rank, world, mesh):            # the forward is right; the backward indexes the weight with -100
    x, t = torch.randn(4, 5, dtype=torch.float64), torch.tensor([0, -100, 2, 1])
    local, logits = shard(x, rank, world, mesh)
    with loss_parallel():
        F.cross_entropy(logits, t, weight=torch.rand(5, dtype=torch.float64)).backward()
'''),
    "loss-parallel-nll-loss-uint8-target": (2, '''\
def body(rank, world, mesh):            # eager nll_loss takes a uint8 (Byte) target
    x, t = torch.randn(4, 5, dtype=torch.float64).log_softmax(1), torch.tensor([0, 4, 2, 1], dtype=torch.uint8)
    local, logp = shard(x, rank, world, mesh)
    with loss_parallel():
        F.nll_loss(logp, t)
'''),
    "loss-parallel-nll-loss-gradient": (2, '''\
def body(rank, world, mesh):            # d nll / d input is -1/n at the target and 0 elsewhere
    x, t = torch.randn(4, 5, dtype=torch.float64).log_softmax(1), torch.tensor([0, 4, 2, 1])
    local, logp = shard(x, rank, world, mesh)
    with loss_parallel():
        F.nll_loss(logp, t).backward()
    dense = x.clone().requires_grad_(True)
    F.nll_loss(dense, t).backward()
    want = dense.grad.chunk(world, 1)[rank]
    if not torch.allclose(local.grad, want):
        print(f"reproduced: rank {rank} gradient {local.grad.tolist()}, dense {want.tolist()}", flush=True)
'''),
    "loss-parallel-spatial-2d-gradient": (2, '''\
def body(rank, world, mesh):            # (N, C, H, W) logits sharded on C
    x, t = torch.randn(2, 5, 3, 3, dtype=torch.float64), torch.randint(5, (2, 3, 3))
    local, logits = shard(x, rank, world, mesh)
    with loss_parallel():
        F.cross_entropy(logits, t).backward()
    dense = x.clone().requires_grad_(True)
    F.cross_entropy(dense, t).backward()
    want = dense.grad.chunk(world, 1)[rank]
    if not torch.allclose(local.grad, want):
        print(f"reproduced: rank {rank} gradient differs from the dense one by "
              f"{(local.grad - want).abs().max().item():.3g}", flush=True)
'''),
    "loss-parallel-peaked-bfloat16-gradient": (2, '''\
def body(rank, world, mesh):            # softmax 0.999 at the target, in bfloat16
    x = torch.zeros(1, 8, dtype=torch.float64); x[0, 0] = 9.0
    t = torch.tensor([0])
    local, logits = shard(x.bfloat16(), rank, world, mesh)
    with loss_parallel():
        F.cross_entropy(logits, t).backward()
    want = (torch.softmax(x, 1) - torch.nn.functional.one_hot(t, 8)).chunk(world, 1)[rank]
    if rank == 0:
        print(f"reproduced: target entry {local.grad[0, 0].item():.6g}, exact {want[0, 0].item():.6g}", flush=True)
'''),
    "loss-parallel-peaked-float16-gradient": (2, '''\
def body(rank, world, mesh):            # softmax 0.9998 at the target over 32768 classes, in float16
    x = torch.zeros(1, 32768, dtype=torch.float64); x[0, 0] = 19.0
    t = torch.tensor([0])
    local, logits = shard(x.half(), rank, world, mesh)
    with loss_parallel():
        F.cross_entropy(logits, t).backward()
    want = (torch.softmax(x, 1) - torch.nn.functional.one_hot(t, 32768)).chunk(world, 1)[rank]
    if rank == 0:
        print(f"reproduced: target entry {local.grad[0, 0].item():.6g}, exact {want[0, 0].item():.6g}", flush=True)
'''),
}


def records() -> list:
    """The loss_parallel records, in their order."""
    return [q for q in quirks.QUIRKS if q.implementation == "loss_parallel"]


def script(name: str) -> str:
    """The standalone reproduction of record ``name``: ``python`` it."""
    world, body = REPRODUCTIONS[name]
    return PRELUDE + body + f"\n\nWORLD = {world}" + EPILOGUE


def run(name: str, timeout: float = 120.0):
    """Run the reproduction of ``name`` as a script of its own (``spawn`` needs a file), its output
    shown and kept: a ``subprocess.CompletedProcess``."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name.replace('-', '_')}.py"
        path.write_text(script(name))
        done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=timeout)
    print(done.stdout, end="")
    return done


PAGE = Path(__file__).resolve().parents[2] / "docs" / "sharded.md"
BEGIN, END = "<!-- findings: python -m lossref.tests.sharded.findings --write -->", "<!-- end of findings -->"


def findings_markdown() -> str:
    lines = [BEGIN, "",
             "| finding | kind | losses | tests | what happens |",
             "|---|---|---|---|---|"]
    for quirk in records():
        kind = "documented limit" if quirk.documented else ("bug, hangs: not run" if quirk.hangs else "bug")
        lines.append(f"| [`{quirk.name}`](#{quirk.name}) | {kind} | {', '.join(quirk.losses)} | "
                     f"{', '.join(quirk.tests)} | {quirk.reason} |")
    lines.append("")
    for quirk in records():
        world, body = REPRODUCTIONS[quirk.name]
        lines += [f"### {quirk.name}", "", quirk.reason + ".", "", f"Upstream: {quirk.thread}.", "",
                  f"Reproduction ({world} processes): the prelude below, then", "", "```python", body.rstrip(),
                  f"\nWORLD = {world}", "```", ""]
    lines += ["### The prelude of every reproduction", "", "```python", PRELUDE.rstrip(), "", "# ... body ...",
              EPILOGUE.rstrip(), "```", "", END]
    return "\n".join(lines)


def page_text(current: str) -> str:
    """``current`` (docs/sharded.md) with its findings section written from the records."""
    return with_section(current, BEGIN, END, findings_markdown())


def main(argv: list[str]) -> int:
    return finding_pages.main(argv, page=PAGE, page_text=page_text, reproductions=REPRODUCTIONS, run=run,
                              module="lossref.tests.sharded.findings")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
