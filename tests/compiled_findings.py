"""What the compiled runs found in ``torch.compile`` itself: each record of ``lossref.quirks`` with
``implementation`` "compile" (or "compile:decompositions", "compile:inductor"), with a standalone
reproduction, and the section of docs/compiled.md that lists them.

``python -m lossref.tests.compiled_findings --write`` writes docs/compiled.md's findings section
(from the records and the reproductions here); ``--run NAME`` runs one reproduction as a script of
its own. Each reproduction is a few lines of plain torch after one shared prelude, compiles with
the ``aot_eager`` backend (the place the records name: dynamo, AOTAutograd and torch's
decompositions, no generated code, so inductor has the bug too), prints what compiled and eager
torch give against the value the reference gives, and prints ``reproduced:`` with what it saw
while the bug is there. tests/test_compiled_findings.py runs every one and checks that it still does.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

from lossref import quirks

from . import finding_pages
from .finding_pages import with_section

#: The implementations whose records are torch.compile's (tests/compiled.py quirk_implementations).
IMPLEMENTATIONS = ("compile", "compile:decompositions", "compile:inductor")

PRELUDE = '''\
import torch, torch.nn.functional as F
'''

#: Per record, the reproduction's body (plain torch; the prelude before it).
REPRODUCTIONS: dict[str, str] = {
    "compile-l1-loss-weight-gradient": '''\
def loss(x, y, w):
    return F.l1_loss(x, y, weight=w, reduction="sum")
x, y = torch.tensor([1., 2, 3], requires_grad=True), torch.zeros(3)
w = torch.tensor([1., 0, 2], requires_grad=True)
eager = torch.autograd.grad(loss(x, y, w), (x, w), allow_unused=True)
compiled = torch.autograd.grad(torch.compile(loss, backend="aot_eager")(x, y, w), (x, w), allow_unused=True)
print("d/dx, d/dw expected:", [1., 0, 2], [1., 2, 3])   # w sign(x - y), |x - y|
print("eager:   ", *eager)
print("compiled:", *compiled)
if compiled[1] is None:
    print(f"reproduced: compiled gives no gradient for weight, and {compiled[0].tolist()} for x")
''',
    "compile-l1-loss-weight-ignored": '''\
def loss(x, y, w):
    return F.l1_loss(x, y, weight=w, reduction="none")
x, y, w = torch.tensor([1., 2, 3]), torch.zeros(3), torch.tensor([1., 0, 2])
compiled = torch.compile(loss, backend="aot_eager")(x, y, w)
print("expected:", [1., 0, 6], " eager:", loss(x, y, w).tolist(), " compiled:", compiled.tolist())
if compiled.tolist() != [1., 0, 6]:
    print(f"reproduced: compiled returns {compiled.tolist()}, the unweighted |x - y|")
''',
    "compile-l1-loss-weight-ignored-half": '''\
def loss(x, y, w):
    return F.l1_loss(x, y, weight=w)                     # 'mean': sum(w |x - y|) / sum(w)
x, y, w = torch.tensor([1., 2, 3]).half(), torch.zeros(3).half(), torch.tensor([1., 0, 2]).half()
compiled = torch.compile(loss, backend="aot_eager")(x, y, w)
print("expected: 2.333  eager:", loss(x, y, w).item(), " compiled:", compiled.item())
if abs(compiled.item() - 7 / 3) > 0.01:
    print(f"reproduced: float16 compiled gives {compiled.item()}, the unweighted mean")
''',
    "compile-multilabel-margin-terminator": '''\
def loss(x, t):
    return F.multilabel_margin_loss(x, t, reduction="sum")
x = torch.tensor([[0.1, 0.2, 0.4, 0.8]], requires_grad=True)
t = torch.tensor([[3, 0, -1, 1]])                        # targets 3 and 0; the -1 ends the list
compiled = torch.compile(loss, backend="aot_eager")(x, t)
(grad,) = torch.autograd.grad(compiled, x)
print("expected: 0.85 ((0.4 + 0.6 + 1.1 + 1.3) / 4)  eager:", loss(x, t).item(), " compiled:", compiled.item())
print("d/dx expected: [-0.5, 0.5, 0.5, -0.5]  compiled:", grad.tolist())
if abs(compiled.item() - 0.85) > 1e-5:
    print(f"reproduced: compiled gives {compiled.item():.4g}: the slots at and after -1 count as class 0")
''',
    "compile-multilabel-margin-unbatched-shape": '''\
def loss(x, t):
    return F.multilabel_margin_loss(x, t, reduction="none")
x, t = torch.tensor([0.1, 0.2, 0.4, 0.8]), torch.tensor([3, 0, -1, 1])   # unbatched (C,)
compiled = torch.compile(loss, backend="aot_eager")(x, t)
print("eager:", tuple(loss(x, t).shape), " compiled:", tuple(compiled.shape))
if compiled.dim() != 0:
    print(f"reproduced: unbatched reduction='none' gives shape {tuple(compiled.shape)}, eager ()")
''',
    "compile-multilabel-margin-zero-dim-input": '''\
def loss(x, t):
    return F.multilabel_margin_loss(x, t)
x, t = torch.tensor(0.7), torch.tensor([0])              # one class, as eager accepts it
print("eager:", loss(x, t).item())
try:
    print("compiled:", torch.compile(loss, backend="aot_eager")(x, t).item())
except Exception as error:
    print(f"reproduced: compiled raises {type(error).__name__}: {str(error).partition('got ')[2].splitlines()[0]}")
''',
    "compile-multi-margin-unbatched-shape": '''\
def loss(x, t):
    return F.multi_margin_loss(x, t, reduction="none")
x, t = torch.tensor([0.1, 0.2, 0.4, 0.8]), torch.tensor(3)   # unbatched (C,), 0-d target
compiled = torch.compile(loss, backend="aot_eager")(x, t)
print("eager:", tuple(loss(x, t).shape), " compiled:", tuple(compiled.shape))
if compiled.dim() != 0:
    print(f"reproduced: unbatched reduction='none' gives shape {tuple(compiled.shape)}, eager ()")
''',
    "compile-multi-margin-weight-gradient": '''\
def loss(x, t, w):
    return F.multi_margin_loss(x, t, weight=w, reduction="sum")
x, t = torch.tensor([[0.1, 0.2, 0.4, 0.8], [0.5, 0.1, 0.3, 0.2]], dtype=torch.float64), torch.tensor([3, 0])
w = torch.tensor([1., 2, 3, 4], dtype=torch.float64, requires_grad=True)
try:
    loss(x, t, w)
except RuntimeError as error:
    print("eager:", str(error).splitlines()[0])
(grad,) = torch.autograd.grad(torch.compile(loss, backend="aot_eager")(x, t, w), w)
h = 1e-6   # central differences of eager's forward
fd = [(loss(x, t, w.detach() + h * e) - loss(x, t, w.detach() - h * e)).item() / (2 * h) for e in torch.eye(4, dtype=torch.float64)]
print("compiled d/dw:", grad.tolist(), " finite differences:", [round(v, 6) for v in fd])
print(f"reproduced: compiled differentiates weight, which eager refuses (finite differences agree: "
      f"{torch.allclose(grad, torch.tensor(fd, dtype=torch.float64), atol=1e-6)})")
''',
    "compile-multi-margin-kink-subgradient": '''\
def loss(x, t):
    return F.multi_margin_loss(x, t, reduction="none")
x, t = torch.tensor([[1., 0, 2, 1]], requires_grad=True), torch.tensor([0])
# z = 1 - x[0] + x[i]: classes 2 and 3 active (2, 1), class 1 at its kink (z = 0)
(eager,) = torch.autograd.grad(loss(x, t).sum(), x)
(compiled,) = torch.autograd.grad(torch.compile(loss, backend="aot_eager")(x, t).sum(), x)
print("d/dx expected: [-0.5, 0, 0.25, 0.25]  eager:", eager.tolist(), " compiled:", compiled.tolist())
if compiled[0, 1] != 0:
    print(f"reproduced: at the kink compiled passes {compiled[0, 1].item()} to class 1, eager 0")
''',
    "compile-multi-margin-nan-terms": '''\
def loss(x, t):
    return F.multi_margin_loss(x, t, reduction="none")
x, t = torch.tensor([[float("nan"), 0., 1.]]), torch.tensor([1])   # the nan term adds nothing
compiled = torch.compile(loss, backend="aot_eager")(x, t)
print("expected: 0.6667 (z = 2 for class 2, over 3)  eager:", loss(x, t).item(), " compiled:", compiled.item())
if compiled.isnan().any():
    print("reproduced: compiled gives nan where eager skips the nan term")
''',
    "compile-mean-backward-empty": '''\
def loss(x, y):
    return F.mse_loss(x, y)                              # 'mean'; huber_loss and smooth_l1_loss alike
x, y = torch.zeros(0, requires_grad=True), torch.zeros(0)
print("eager:", loss(x, y).item(), torch.autograd.grad(loss(x, y), x))
try:
    print("compiled:", torch.compile(loss, backend="aot_eager")(x, y))
except Exception as error:
    print(f"reproduced: compiled raises {type(error).__name__}: {' '.join(str(error).splitlines()[:2])}")
''',
    "compile-nll-loss-uint8-target": '''\
def loss(x, t):
    return F.nll_loss(x, t, ignore_index=255)
x = torch.randn(3, 4).log_softmax(1)
t = torch.tensor([0, 3, 255], dtype=torch.uint8)         # eager takes Byte targets
print("eager:", loss(x, t).item())
try:
    print("compiled:", torch.compile(loss, backend="aot_eager")(x, t).item())
except Exception as error:
    print(f"reproduced: compiled raises {type(error).__name__}: {str(error).partition('got ')[2].splitlines()[0]}")
''',
    "compile-bce-gradient-clamp": '''\
x = torch.tensor([1e-13, 1 - 2**-40], dtype=torch.float64)   # x (1 - x) below 1e-12 in both
y = torch.zeros(2, dtype=torch.float64)
def grad(fn):
    leaf = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(leaf, y, reduction="sum"), leaf)
    return g
eager = grad(F.binary_cross_entropy)
compiled = grad(torch.compile(F.binary_cross_entropy, backend="aot_eager_decomp_partition"))
print("d/dx expected (floor float32's 1e-12): [0.10000000039958029, 1000000003994.8933]")
print("eager:", eager.tolist(), " compiled:", compiled.tolist())
if not torch.allclose(compiled, eager, rtol=1e-12, atol=0):
    print(f"reproduced: compiled floors x (1 - x) at the double 1e-12: {compiled.tolist()}")
''',
    "compile-smooth-l1-nonfinite-gradient": '''\
def loss(x, y):
    return F.smooth_l1_loss(x, y, reduction="none")
nan, inf = float("nan"), float("inf")
x = torch.tensor([nan, inf, 1.0], dtype=torch.float64, requires_grad=True)
y = torch.tensor([0.0, inf, nan], dtype=torch.float64)     # x - y: nan, inf - inf, nan
(eager,) = torch.autograd.grad(loss(x, y).sum(), x)
(compiled,) = torch.autograd.grad(torch.compile(loss, backend="aot_eager_decomp_partition")(x, y).sum(), x)
print("d/dx expected: [nan, nan, nan]  eager:", eager.tolist(), " compiled:", compiled.tolist())
if not compiled.isnan().all():
    print(f"reproduced: compiled gives {compiled.tolist()} where x - y is nan")
''',
    "compile-soft-margin-overflow-gradient": '''\
def loss(x, y):
    return F.soft_margin_loss(x, y, reduction="none")
x = torch.tensor([-800.0, 800.0, 3.0], dtype=torch.float64, requires_grad=True)
y = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)   # -y x = 800: exp overflows, float64 included
(eager,) = torch.autograd.grad(loss(x, y).sum(), x)
(compiled,) = torch.autograd.grad(torch.compile(loss, backend="aot_eager_decomp_partition")(x, y).sum(), x)
print("d/dx expected (eager's inf / inf): [nan, nan, -0.0474]  eager:", eager.tolist(), " compiled:", compiled.tolist())
if not compiled[:2].isnan().any():
    print(f"reproduced: compiled gives {compiled[:2].tolist()} (the limit -y) where eager gives nan")
''',
    "compile-triplet-inf-norm-half-gradient": '''\
def loss(a, p, n, eps):
    return F.triplet_margin_loss(a, p, n, p=float("inf"), eps=eps)
compiled_loss = torch.compile(loss, backend="inductor")
g = torch.Generator().manual_seed(0)
for shape, eps in (((3, 4), 1e-6), ((4,), 0.0)):
    a, p, n = (torch.randn(*shape, generator=g).half() for _ in range(3))
    def grad(fn):
        leaf = a.clone().requires_grad_(True)
        (d,) = torch.autograd.grad(fn(leaf, p, n, eps), leaf)
        return d.float().flatten()
    eager, compiled = grad(loss), grad(compiled_loss)
    print(f"{shape} eps={eps}  eager d/da:", eager.tolist(), " compiled:", compiled.tolist())
    if not torch.allclose(compiled, eager, atol=1e-2):
        print(f"reproduced: inductor's float16 gradient of the inf-norm triplet loss is {compiled.tolist()}")
''',
    "compile-cross-entropy-smoothing-gradient-float32": '''\
g = torch.Generator().manual_seed(0)
x = 8 * torch.randn(3, 32768, generator=g, dtype=torch.float64)
t = torch.tensor([0, 32767, 5])
x[torch.arange(3), t] += 30                               # a sharp peak at each target
def loss(x):
    return F.cross_entropy(x, t, label_smoothing=0.1, reduction="none")
def grad(fn, x):
    leaf = x.clone().requires_grad_(True)
    (d,) = torch.autograd.grad(fn(leaf).sum(), leaf)
    return d.double()
exact = grad(loss, x)                                     # float64
eager = (grad(loss, x.float()) - exact).abs().max().item()
compiled = (grad(torch.compile(loss, backend="inductor"), x.float()) - exact).abs().max().item()
print(f"largest gradient error against float64: eager float32 {eager:.2g}, inductor float32 {compiled:.2g}")
if compiled > 5 * eager:
    print(f"reproduced: inductor's float32 gradient is off by {compiled:.2g}, eager's by {eager:.2g}")
''',
}


def records() -> list:
    """torch.compile's records, in their order."""
    return [q for q in quirks.QUIRKS if q.implementation in IMPLEMENTATIONS]


def script(name: str) -> str:
    """The standalone reproduction of record ``name``: ``python`` it."""
    return PRELUDE + REPRODUCTIONS[name]


def run_here(name: str) -> str:
    """Run the reproduction of ``name`` in this process (torch imported once: the test runs them
    all in a few seconds) with dynamo's caches emptied before and after, and return what it printed."""
    import torch._dynamo

    out = io.StringIO()
    torch._dynamo.reset()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(script(name), f"<{name}>", "exec"), {"__name__": "__main__"})
    finally:
        torch._dynamo.reset()
    return out.getvalue()


def run(name: str, timeout: float = 120.0):
    """Run the reproduction of ``name`` as a script of its own, its output shown and kept: a
    ``subprocess.CompletedProcess``."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", script(name)], capture_output=True, text=True, timeout=timeout)
    print(done.stdout, end="")
    return done


PAGE = Path(__file__).resolve().parents[1] / "docs" / "compiled.md"
BEGIN, END = "<!-- findings: python -m lossref.tests.compiled_findings --write -->", "<!-- end of findings -->"


def findings_markdown() -> str:
    lines = [BEGIN, "",
             "| finding | where | losses | tests | what happens |",
             "|---|---|---|---|---|"]
    for quirk in records():
        lines.append(f"| [`{quirk.name}`](#{quirk.name}) | {quirk.implementation} | {', '.join(quirk.losses)} | "
                     f"{', '.join(quirk.tests)} | {quirk.reason.replace('|', chr(92) + '|')} |")   # |x - y| in a cell
    lines.append("")
    for quirk in records():
        lines += [f"### {quirk.name}", "", quirk.reason + ".", "", f"Upstream: {quirk.thread}.", "",
                  f"Reproduction (`python -m lossref.tests.compiled_findings --run {quirk.name}`):", "",
                  "```python", script(quirk.name).rstrip(), "```", ""]
    lines.append(END)
    return "\n".join(lines)


def page_text(current: str) -> str:
    """``current`` (docs/compiled.md) with its findings section written from the records."""
    return with_section(current, BEGIN, END, findings_markdown())


def main(argv: list[str]) -> int:
    return finding_pages.main(argv, page=PAGE, page_text=page_text, reproductions=REPRODUCTIONS, run=run,
                              module="lossref.tests.compiled_findings")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
