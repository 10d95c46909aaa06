"""Promises of the contract that no loss-by-loss test covers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import lossref
from lossref import fixtures

ROOT = Path(__file__).resolve().parent.parent


def test_reference_works_where_torch_is_absent():
    """`import lossref` (and its fixtures) never needs torch: only the main job compares with it."""
    # The lossref this test process imported (the checkout's, or the installed one), not
    # whatever a bare `import lossref` finds in a fresh interpreter.
    package = Path(lossref.__file__).resolve().parent
    code = ("import sys, importlib.util; sys.modules['torch'] = None\n"
            f"spec = importlib.util.spec_from_file_location('lossref', {str(package / '__init__.py')!r}, "
            f"submodule_search_locations=[{str(package)!r}])\n"
            "sys.modules['lossref'] = module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
            "import lossref.fixtures\n"
            "case = lossref.fixtures.load('cross_entropy/article')\n"
            "print(float(lossref.cross_entropy(*case.args, **case.kwargs)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    # Within the fixture's float64 bound, not bit for bit: NumPy's exp and log round differently
    # in the last bit on other CPUs and releases (seen: NumPy 1.24).
    case = fixtures.load("cross_entropy/article")
    assert abs(float(result.stdout) - float(case.expected)) <= float(case.float64_bound["expected"])


def test_accepts_lists_and_scalars():
    """Anything numpy.asarray accepts: nested lists and Python scalars, not only arrays."""
    from_lists = lossref.cross_entropy([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], [2, 1])
    from_arrays = lossref.cross_entropy(np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]), np.array([2, 1]))
    assert from_lists == from_arrays
    assert lossref.mse_loss(3.0, 1.0).shape == ()


def test_outputs_are_float64_ndarrays_whatever_the_input_dtype():
    x = np.array([[1.0, 2.0, 0.5]], dtype=np.float32)
    out = lossref.cross_entropy(x, np.array([0]))
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == ()
