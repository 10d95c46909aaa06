"""``python -m reference``: the article's examples, then one parity line per loss.

For each of the article's examples it prints the value the article printed, the
reference's value and torch's on every device present; then, for every loss, whether
torch reproduces all of its fixtures (recorded inputs, recorded dtypes, the fixture's
tolerance) on every device. Exit status 0 when everything agrees, 1 otherwise.

This is the only module of the package that imports torch.
"""

from __future__ import annotations

import sys
import warnings
from collections import defaultdict

import numpy as np

import reference
from reference import fixtures

def _torch_call(torch, case, device):
    fn = getattr(torch.nn.functional, case.loss)

    def convert(value):
        return torch.from_numpy(np.array(value)).to(device) if isinstance(value, np.ndarray) else value

    with warnings.catch_warnings():
        # torch warns about the broadcast targets some fixtures use on purpose.
        warnings.simplefilter("ignore", UserWarning)
        out = fn(*map(convert, case.args), **{k: convert(v) for k, v in case.kwargs.items()})
    return out.detach().cpu().double().numpy()


def _within(got, expected, rtol, atol) -> bool:
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return False
    same_nan = np.array_equal(np.isnan(got), np.isnan(expected))
    finite = np.isfinite(expected)
    return bool(same_nan and np.all(got[~finite & ~np.isnan(expected)] == expected[~finite & ~np.isnan(expected)])
                and np.all(np.abs(got[finite] - expected[finite]) <= atol + rtol * np.abs(expected[finite])))


def _show(value) -> str:
    value = np.asarray(value)
    if value.ndim == 0:
        return f"{float(value):.10g}"
    flat = ", ".join(f"{v:.6g}" for v in value.ravel()[:4])
    return f"[{flat}{', ...' if value.size > 4 else ''}]"


def _tolerance(case):
    """The fixture's own tolerance (every file written by fixtures/generate.py has one)."""
    return case.tolerance.rtol, case.tolerance.atol


def main() -> int:
    try:
        import torch
    except ImportError:
        print("python -m reference compares with torch, which is not installed: "
              "pip install 'lossref[torch]' (the references themselves need only NumPy)")
        return 1
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"lossref: torch {torch.__version__}, numpy {np.__version__}; devices: {', '.join(devices)}")
    ok = True

    print("\nThe article's examples (shared/seeds/000_684871ec7aed11a3.txt)")
    header = f"  {'case':<40}{'article printed':>24}  {'reference':<32}" + "".join(f"{'torch ' + d:<32}" for d in devices)
    print(header)
    for name in fixtures.names():
        if not name.startswith("article/"):
            continue
        case = fixtures.load(name)
        ref = getattr(reference, case.loss)(*case.args, **case.kwargs)
        agrees = _within(ref, case.expected, *_tolerance(case))
        if case.printed is not None:
            agrees &= not fixtures.printed_mismatches(ref, case.printed)
        row = f"  {name:<40}{case.printed or '-':>24}  {_show(ref):<32}"
        for device in devices:
            got = _torch_call(torch, case, device)
            agrees &= _within(got, case.expected, *_tolerance(case))
            row += f"{_show(got):<32}"
        ok &= agrees
        print(row + ("ok" if agrees else "DISAGREE"))

    print("\nParity with torch per loss: every fixture, recorded dtypes, every device")
    by_loss = defaultdict(list)
    for name in fixtures.names():
        case = fixtures.load(name)
        by_loss[case.loss].append(case)
    for loss in reference.LOSSES:
        cases = by_loss.get(loss, [])
        if not hasattr(torch.nn.functional, loss):
            print(f"  {loss:<36} the installed torch has no {loss}: skipped")
            continue
        failures = [f"{c.name} on {d}" for c in cases for d in devices
                    if not _within(_torch_call(torch, c, d), c.expected, *_tolerance(c))]
        failures += [f"{c.name} (reference)" for c in cases
                     if not _within(getattr(reference, loss)(*c.args, **c.kwargs), c.expected, *_tolerance(c))]
        if not cases:
            failures.append("no fixture")
        ok &= not failures
        status = "ok" if not failures else "DISAGREE: " + ", ".join(failures)
        print(f"  {loss:<36}{len(cases):3d} fixtures x {len(devices)} device(s)  {status}")

    print("\nall agree" if ok else "\nDISAGREEMENT: see the lines marked above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
