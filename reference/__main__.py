"""``python -m lossref``: the article's examples, then one parity line per loss.

For each of the article's examples it prints the value the article printed, the
reference's value and torch's on every device present; then, for every loss, whether
torch reproduces all of its fixtures (recorded inputs, recorded dtypes, the fixture's
tolerance) on every device. Exit status 0 when everything agrees, 1 otherwise.

It never ends in a traceback. Without torch, or with a torch older than the range the
package declares (``torch>=...`` in its metadata), it says so in one line and exits 2.
A fixture that needs something the installed torch lacks (a loss, an argument: torch
2.4 has no ``weight`` for ``l1_loss``; any call ``lossref.releases`` records as needing a
newer release) is reported on its line as not checked; an error torch raises on a
fixture is a disagreement, printed on its line.

This is the only module of the package that imports torch.
"""

from __future__ import annotations

import inspect
import re
import sys
import warnings
from collections import defaultdict
from importlib import metadata
from pathlib import Path

import numpy as np

import lossref
from lossref import fixtures, releases
from lossref._common import array_parameters, positional_parameters

#: Exit status when torch is missing or outside the declared range (1: a disagreement).
NOT_RUN = 2


def declared_torch_minimum() -> str | None:
    """The lowest torch the package declares (``torch>=X`` in its ``torch`` extra): from the
    source tree's pyproject.toml when run from a checkout (an editable install's metadata
    can be older than the tree), else from the installed metadata; None if neither says."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        requirements = re.findall(r'"(torch[^"]*)"', pyproject.read_text())
    else:
        try:
            requirements = metadata.requires("lossref") or []
        except metadata.PackageNotFoundError:
            requirements = []
    for requirement in requirements:
        match = re.match(r"torch\s*>=\s*([0-9][0-9.]*)", requirement)
        if match:
            return match.group(1)
    return None


def _missing(torch, case) -> str | None:
    """What the installed torch lacks to run ``case`` (None: nothing)."""
    fn = getattr(torch.nn.functional, case.loss, None)
    if fn is None:
        return f"torch {torch.__version__} has no {case.loss}"
    parameters = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        unknown = [k for k in case.kwargs if k not in parameters]
        if unknown:
            return f"torch {torch.__version__}'s {case.loss} has no argument {', '.join(unknown)}"
    change = releases.needs_newer(case.loss, case.args, case.kwargs, torch.__version__)
    return change.reason(torch.__version__) if change else None


def _torch_call(torch, case, device):
    fn = getattr(torch.nn.functional, case.loss)

    def convert(value):
        return torch.from_numpy(np.array(value)).to(device) if isinstance(value, np.ndarray) else value

    kwargs = fixtures.resolve(case.kwargs, torch.nn.functional)   # a named distance_function, as torch's
    with warnings.catch_warnings():
        # torch warns about the broadcast targets some fixtures use on purpose.
        warnings.simplefilter("ignore", UserWarning)
        out = fn(*map(convert, case.args), **{k: convert(v) for k, v in kwargs.items()})
    return out.detach().cpu().double().numpy()


def _torch_disagrees(torch, case, device) -> str | None:
    """None where torch reproduces ``case`` on ``device``; otherwise what went wrong."""
    try:
        got = _torch_call(torch, case, device)
    except Exception as error:   # torch refusing a fixture is a disagreement to report, not a crash
        return f"{case.name} on {device} raised {type(error).__name__}: {str(error).splitlines()[0][:120]}"
    return None if _within(got, case.expected, *_tolerance(case)) else f"{case.name} on {device}"


def _within(got, expected, rtol, atol, scale=1.0) -> bool:
    """Every finite entry within ``rtol * |expected| + atol * scale`` (the file's per-entry scale)."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return False
    same_nan = np.array_equal(np.isnan(got), np.isnan(expected))
    finite = np.isfinite(expected)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), expected.shape)
    return bool(same_nan and np.all(got[~finite & ~np.isnan(expected)] == expected[~finite & ~np.isnan(expected)])
                and np.all(np.abs(got[finite] - expected[finite]) <= atol * scale[finite]
                           + rtol * np.abs(expected[finite])))


def torch_agreed(spec, expected, gradients, tolerance: dict):
    """For ``python -m lossref.fixtures regenerate``'s provenance: the installed torch's
    release if its forward on the fixture's definition ``spec`` (and its float64 autograd,
    CTC aside) agrees with ``expected`` (and ``gradients``) within ``tolerance`` (rtol, atol);
    None if it disagrees or refuses the call; False if there is no torch."""
    try:
        import torch
    except ImportError:
        return False
    tolerance = fixtures.decode_tolerance(tolerance)
    rtol, atol = tolerance.rtol, tolerance.atol
    named_kwargs = fixtures.resolve(spec.kwargs, torch.nn.functional)   # a named distance_function, as torch's

    def tensor(a):   # as a file's reader gets it: contiguous, in its recorded dtype
        return torch.from_numpy(np.array(a, order="C")) if isinstance(a, (np.ndarray, np.generic)) else a

    # ``gradients`` has one entry per array parameter (positional or keyword), in signature order
    forward = getattr(lossref, spec.loss)
    arrays = array_parameters(forward)
    positional = positional_parameters(forward)

    def leaf(name, value):
        t = tensor(value)
        i = arrays.index(name) if name in arrays else None
        wanted = gradients is not None and i is not None and i < len(gradients) and gradients[i] is not None
        return t.requires_grad_(True) if wanted and isinstance(t, torch.Tensor) and t.is_floating_point() else t

    try:
        args = [leaf(positional[i] if i < len(positional) else None, a) for i, a in enumerate(spec.args)]
        kwargs = {k: leaf(k, v) for k, v in named_kwargs.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = getattr(torch.nn.functional, spec.loss)(*args, **kwargs)
        if not _within(out.detach().double().numpy(), expected, rtol, atol, tolerance.scale()):
            return None
        named = list(zip(positional, args)) + list(kwargs.items())
        grads = [(arrays.index(n), t) for n, t in named if isinstance(t, torch.Tensor) and t.requires_grad]
        if grads and spec.loss != "ctc_loss":   # torch's CTC gradient is with respect to logits
            upstream = torch.from_numpy(np.array(spec.grad_output, dtype=np.float64)).to(out.dtype)
            got = torch.autograd.grad(out, [t for _, t in grads], upstream, allow_unused=True)
            if any(g is None or not _within(g.double().numpy(), gradients[i], rtol, atol, tolerance.gradient_scale(i))
                   for (i, _), g in zip(grads, got)):
                return None
    except Exception:   # noqa: BLE001 (a release that refuses the call did not agree)
        return None
    return torch.__version__.split("+")[0]


def _show(value) -> str:
    value = np.asarray(value)
    if value.ndim == 0:
        return f"{float(value):.10g}"
    flat = ", ".join(f"{v:.6g}" for v in value.ravel()[:4])
    return f"[{flat}{', ...' if value.size > 4 else ''}]"


def _tolerance(case):
    """The fixture's own tolerance of its value (every file written by fixtures/generate.py has one):
    rtol, atol and atol's per-entry scale."""
    return case.tolerance.rtol, case.tolerance.atol, case.tolerance.scale()


def main() -> int:
    try:
        import torch
    except ImportError:
        print("python -m lossref compares with torch, which is not installed: "
              "pip install 'lossref[torch]' (the references themselves need only NumPy)")
        return NOT_RUN
    minimum = declared_torch_minimum()
    if minimum is not None and torch.torch_version.TorchVersion(torch.__version__) < minimum:
        print(f"python -m lossref: torch {torch.__version__} is older than the supported range "
              f"(torch>={minimum}): pip install 'torch>={minimum}'")
        return NOT_RUN
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"lossref: torch {torch.__version__}, numpy {np.__version__}; devices: {', '.join(devices)}")
    ok = True

    print('\nThe article\'s examples ("PyTorch中的Loss Function"; the fixtures whose origin is "article")')
    header = f"  {'case':<40}{'article printed':>24}  {'reference':<32}" + "".join(f"{'torch ' + d:<32}" for d in devices)
    print(header)
    for name in fixtures.names():
        case = fixtures.load(name)
        if case.origin != "article":
            continue
        ref = getattr(lossref, case.loss)(*case.args, **fixtures.resolve(case.kwargs))
        agrees = _within(ref, case.expected, *_tolerance(case))
        if case.printed is not None:
            agrees &= not fixtures.printed_mismatches(ref, case.printed)
        row = f"  {name:<40}{case.printed or '-':>24}  {_show(ref):<32}"
        missing = _missing(torch, case)
        if missing:
            ok &= agrees
            print(row + f"not checked: {missing}")
            continue
        problems = []
        for device in devices:
            try:
                got = _torch_call(torch, case, device)
            except Exception as error:   # reported on the line, never a traceback
                problems.append(f"{device} raised {type(error).__name__}: {str(error).splitlines()[0][:80]}")
                row += f"{'error':<32}"
                continue
            agrees &= _within(got, case.expected, *_tolerance(case))
            row += f"{_show(got):<32}"
        agrees &= not problems
        ok &= agrees
        print(row + ("ok" if agrees else "DISAGREE" + "".join(f" ({p})" for p in problems)))

    print("\nParity with torch per loss: every fixture, recorded dtypes, every device")
    by_loss = defaultdict(list)
    for name in fixtures.names():
        case = fixtures.load(name)
        by_loss[case.loss].append(case)
    for loss in lossref.LOSSES:
        cases = by_loss.get(loss, [])
        if not hasattr(torch.nn.functional, loss):
            print(f"  {loss:<36} not checked: torch {torch.__version__} has no {loss}")
            continue
        unchecked = {c.name: _missing(torch, c) for c in cases if _missing(torch, c)}
        checked = [c for c in cases if c.name not in unchecked]
        failures = [problem for c in checked for d in devices
                    for problem in [_torch_disagrees(torch, c, d)] if problem]
        failures += [f"{c.name} (reference)" for c in cases
                     if not _within(getattr(lossref, loss)(*c.args, **fixtures.resolve(c.kwargs)), c.expected,
                                    *_tolerance(c))]
        if not cases:
            failures.append("no fixture")
        ok &= not failures
        status = "ok" if not failures else "DISAGREE: " + ", ".join(failures)
        if unchecked:
            status += "; not checked: " + ", ".join(f"{n} ({why})" for n, why in unchecked.items())
        print(f"  {loss:<36}{len(checked):3d} fixtures x {len(devices)} device(s)  {status}")

    print("\nall agree" if ok else "\nDISAGREEMENT: see the lines marked above")
    return 0 if ok else 1


def _parse_option_value(text: str):
    """A command-line value: true/false, None, an int, a float, numbers separated by commas
    (a weight), else the string itself."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if "," in text:
        try:
            return [float(part) for part in text.split(",")]
        except ValueError:
            pass
    return text


def explain_torch(walk) -> dict | None:
    """torch's value of the walk-through's call on every device present (cpu, cuda when
    available), or a line saying why there is none; None where torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    fn = getattr(torch.nn.functional, walk.loss, None)
    if fn is None:
        return {"cpu": f"not checked: torch {torch.__version__} has no {walk.loss}"}
    results = {}
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        def convert(value):
            return torch.from_numpy(np.array(value)).to(device) if isinstance(value, np.ndarray) else value
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                out = fn(*map(convert, walk.args), **{k: convert(v) for k, v in walk.kwargs.items()})
            results[device] = out.detach().cpu().double().numpy()
        except Exception as error:   # shown on its line, never a traceback
            results[device] = f"raised {type(error).__name__}: {str(error).splitlines()[0][:60]}"
    return results


def explain_command(argv: list[str]) -> int:
    """``python -m lossref explain <loss> [--option value ...]``: the loss step by step on its
    example, torch's value beside the reference's. 0: torch agrees (or is absent), 1: it
    disagrees beyond the loss's tolerance, 2: an unknown loss or option (one line on stderr)."""
    from lossref import explain

    def refuse(message: str) -> int:
        print(f"python -m lossref explain: {message}", file=sys.stderr)
        return NOT_RUN

    if not argv or argv[0].startswith("-"):
        return refuse("expected a loss: python -m lossref explain <loss> [--option value ...]")
    loss, rest, options = argv[0], argv[1:], {}
    while rest:
        flag = rest.pop(0)
        if not flag.startswith("--") or len(flag) < 3:
            return refuse(f"expected --option value, got {flag!r}")
        name, _, value = flag[2:].partition("=")
        if not _:
            if not rest:
                return refuse(f"option --{name} needs a value")
            value = rest.pop(0)
        options[name.replace("-", "_")] = _parse_option_value(value)
    try:
        walk = explain.walkthrough(loss, **options)
    except ValueError as error:
        return refuse(" ".join(str(error).split()))
    torch_results = explain_torch(walk)
    print(explain.render(walk, torch_results))
    bad = [d for d, v in (torch_results or {}).items()
           if (isinstance(v, str) and not v.startswith("not checked")) or
           (not isinstance(v, str) and not explain.agrees(walk, v))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(explain_command(sys.argv[2:]) if sys.argv[1:2] == ["explain"] else main())
