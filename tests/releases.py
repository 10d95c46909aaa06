"""What changed in torch's losses between releases, for the installed torch.

The records (``Change``: what changed, in which release, the thread, the older behaviour)
and their queries are ``lossref.releases``, torch-free, which the main job reads too. This
module asks them about the installed torch and adds what needs torch or pytest: the
skip a call the installed torch cannot make raises, and dtypes as ``torch.dtype``. The
registry (``tests/registry/base.py``) and the quirk list (``tests/quirks.py``) read it;
no test compares torch versions itself.

``python -m lossref.releases --write`` regenerates ``docs/torch-releases.md`` from the
records; ``tests/test_releases.py`` checks that the page is current.
"""

from __future__ import annotations

import pytest
import torch

from lossref import releases as _records
from lossref.releases import (CHANGES, NEWEST, OLDEST, PAGE, TESTED, Change, Version,  # noqa: F401
                              _old_gaussian_var_rule, page, quirk_fixed_in)

#: The installed torch's release.
INSTALLED = Version(torch.__version__)


def holding(loss: str) -> list[Change]:
    """The changes the installed torch predates that concern ``loss``."""
    return _records.holding(loss, INSTALLED)


def has_loss(loss: str) -> bool:
    return _records.has_loss(loss, INSTALLED)


def missing_loss_reason(loss: str) -> str:
    return _records.missing_loss_reason(loss, INSTALLED)


def lacks_argument(loss: str, name: str) -> bool:
    return _records.lacks_argument(loss, name, INSTALLED)


def needs_newer(loss: str, args: tuple, kwargs: dict) -> Change | None:
    """The change a call needs that the installed torch predates, or None."""
    return _records.needs_newer(loss, args, kwargs, INSTALLED)


class NeedsNewerTorch(pytest.skip.Exception, Exception):
    """pytest's skip, and an ``Exception`` too: code that draws samples outside a test
    (collection in tests/test_layouts.py) catches it like any failing draw, and the test
    that draws the sample skips with the reason."""


def skip_if_lacking(loss: str, args: tuple, kwargs: dict) -> None:
    """Skip, with the reason, a call the installed torch cannot make the newer way."""
    change = needs_newer(loss, args, kwargs)
    if change is not None:
        raise NeedsNewerTorch(change.reason(torch.__version__))


def lacking_dtypes(loss: str) -> dict[str, tuple[torch.dtype, ...]]:
    """device -> dtypes the installed torch lacks for ``loss`` (forward or backward)."""
    return {device: tuple(getattr(torch, n) for n in names)
            for device, names in _records.lacking_dtypes(loss, INSTALLED).items()}


def torch_error_before(loss: str, case_id: str, error, match: str, kwargs: dict):
    """What the installed torch raises for an error case: ``(error, match, skip reason)``."""
    return _records.error_before(loss, case_id, error, match, kwargs, torch.__version__)


def quirk_holds(name: str) -> bool:
    """A quirk that a change fixed holds only before that change's release."""
    return _records.quirk_holds(name, INSTALLED)
