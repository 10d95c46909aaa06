"""One direction: the package (``lossref``, the folder reference/) never imports the suite, and
everything in it but the main job imports without torch.

Facts both need (the tolerance rule, the torch releases' changes, the known torch bugs) live
once, torch-free, in the package (``lossref.tolerance``, ``lossref.releases``,
``lossref.quirks``); the suite imports them and adds what needs torch or pytest.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import lossref

PACKAGE = Path(lossref.__file__).resolve().parent
#: The suite's import names: the folder tests/ from a checkout, lossref.tests installed.
SUITE = ("tests", "lossref.tests")
#: Product modules that must exist and import torch-free (the facts the suite reads).
SHARED = ("lossref.tolerance", "lossref.releases", "lossref.quirks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["lossref", *parts])


def _is_suite(name: str) -> bool:
    return any(name == s or name.startswith(s + ".") for s in SUITE)


def suite_imports(path: Path) -> list[str]:
    """The imports in the file at ``path`` (a module of the package) that reach the suite or
    climb out of the package: ``import tests``, ``from tests...``, ``lossref.tests``, a
    relative import that resolves outside ``lossref`` or to ``lossref.tests``, and
    ``import_module``/``__import__`` of such a name spelled as a constant."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    where = path.relative_to(PACKAGE.parent)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Call)):
            continue
        line = f"{where}:{node.lineno}"
        if isinstance(node, ast.Import):
            found += [f"{line}: import {a.name}" for a in node.names if _is_suite(a.name)]
        elif isinstance(node, ast.ImportFrom):
            spelled = f"from {'.' * node.level}{node.module or ''} import {', '.join(a.name for a in node.names)}"
            parts = package.split(".")
            if node.level > len(parts):
                found.append(f"{line}: {spelled} climbs out of lossref")
                continue
            base = ".".join(parts[:len(parts) - node.level + 1] if node.level else [])
            base = ".".join(p for p in (base, node.module or "") if p)
            if _is_suite(base) or any(_is_suite(f"{base}.{a.name}") for a in node.names if base == "lossref"
                                      or node.level):
                found.append(f"{line}: {spelled}")
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str) and _is_suite(node.args[0].value):
                found.append(f"{line}: {called}({node.args[0].value!r})")
    return found


def _product_files() -> list[Path]:
    """Every module of the package but the suite, which an install puts inside it (lossref/tests/)."""
    return sorted(p for p in PACKAGE.rglob("*.py") if not p.relative_to(PACKAGE).parts[0] == "tests")


def test_the_package_never_imports_the_suite():
    files = _product_files()
    assert len(files) > 10, f"found only {len(files)} modules under {PACKAGE}"
    found = [hit for path in files for hit in suite_imports(path)]
    assert not found, "the package imports the suite (move the shared fact into lossref):\n" + "\n".join(found)


def test_the_scan_sees_every_spelling(tmp_path, monkeypatch):
    """The scan itself: each way of reaching the suite is caught, the package's own imports are not."""
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    (tmp_path / "sub").mkdir()
    bad = {
        "a.py": "import tests.releases\n",
        "b.py": "from tests import quirks\n",
        "c.py": "from lossref.tests.tolerances import ULPS\n",
        "d.py": "from lossref import tests\n",
        "e.py": "from .. import something\n",
        "sub/f.py": "from ..tests import releases\n",
        "g.py": "import importlib\nimportlib.import_module('tests.quirks')\n",
    }
    good = {"h.py": "from . import releases\nfrom .fixtures import build\nimport numpy\n",
            "sub/i.py": "from .. import quirks\nfrom ..tolerance import ULPS\n"}
    for name, text in {**bad, **good}.items():
        (tmp_path / name).write_text(text)
    for name in bad:
        assert suite_imports(tmp_path / name), name
    for name in good:
        assert not suite_imports(tmp_path / name), name


_TORCHLESS = r"""
import importlib, importlib.util, json, pkgutil, sys
sys.modules["torch"] = None                    # import torch raises ImportError
for name in ("tests", "lossref.tests"):        # and so does the suite
    sys.modules[name] = None
package = sys.argv[1]
spec = importlib.util.spec_from_file_location("lossref", package + "/__init__.py",
                                              submodule_search_locations=[package])
sys.modules["lossref"] = module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
imported, failed, optional = ["lossref"], {}, {}
names = sorted(m.name for m in pkgutil.walk_packages([package], prefix="lossref.", onerror=lambda name: None))
for name in names:
    if name.rpartition(".")[2] == "__main__" or name == "lossref.tests" or name.startswith("lossref.tests."):
        continue                                 # the main job; the suite (inside the package when installed)
    try:
        importlib.import_module(name)
    except ImportError as error:
        missing = getattr(error, "name", None) or ""
        if missing.split(".")[0] in ("torch", "tests", "lossref") or missing == "":
            failed[name] = f"{type(error).__name__}: {error}"
        else:                                    # an optional dependency (mpmath: the oracle extra)
            optional[name] = missing
    except Exception as error:
        failed[name] = f"{type(error).__name__}: {error}"
    else:
        imported.append(name)
print(json.dumps({"imported": imported, "failed": failed, "optional": optional,
                  "torch": "torch" in sys.modules and sys.modules["torch"] is not None}))
"""


def test_the_package_imports_without_torch():
    """`import lossref` and every submodule but the main job (``__main__``), in a fresh
    interpreter where ``import torch`` (and the suite) fail."""
    result = subprocess.run([sys.executable, "-c", _TORCHLESS, str(PACKAGE)], capture_output=True, text=True,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["failed"], "modules that need torch or the suite:\n" + "\n".join(
        f"{name}: {why}" for name, why in report["failed"].items())
    assert not report["torch"]
    assert set(SHARED) <= set(report["imported"]), report["imported"]
    walked = {_module_name(p) for p in _product_files() if p.stem != "__main__"}
    assert walked <= set(report["imported"]) | set(report["optional"]), sorted(
        walked - set(report["imported"]) - set(report["optional"]))
