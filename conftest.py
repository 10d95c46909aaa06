"""The repository's pytest configuration: the checkout tests itself.

The references live in the folder ``reference/`` (the layout is fixed) and are imported as
``lossref``. An installed ``lossref`` (a wheel of an older tree, or another checkout's editable
install) must never stand in for this tree, so ``lossref`` is imported from here before
anything else asks for it, and the installed suite's plugin is switched off in
``pyproject.toml`` (``-p no:lossref``) in favour of this checkout's (``tests.plugin``, below).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

CHECKOUT_PACKAGE = Path(__file__).resolve().parent / "reference"


def _import_checkout_as_lossref() -> None:
    loaded = sys.modules.get("lossref")
    if loaded is not None:
        where = Path(loaded.__file__).resolve().parent
        if where != CHECKOUT_PACKAGE:
            raise ImportError(f"lossref was imported from {where} before the checkout's conftest.py ran; "
                              f"the checkout tests {CHECKOUT_PACKAGE} only")
        return
    spec = importlib.util.spec_from_file_location("lossref", CHECKOUT_PACKAGE / "__init__.py",
                                                  submodule_search_locations=[str(CHECKOUT_PACKAGE)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["lossref"] = module
    spec.loader.exec_module(module)


_import_checkout_as_lossref()

pytest_plugins = ["tests.plugin"]
