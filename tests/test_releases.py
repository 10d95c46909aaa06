"""The behaviour-by-release records (tests/releases.py): the generated page is current,
and each record is well formed and does what it says on an older torch."""

from __future__ import annotations

import re

import numpy as np
import pytest

from . import releases
from .quirks import QUIRKS
from .registry import by_name


def test_the_release_table_is_current():
    """docs/torch-releases.md is generated from the records: rerun the generator after
    editing them (``python -m tests.releases --write``)."""
    assert releases.PAGE.read_text(encoding="utf-8") == releases.page(), (
        "docs/torch-releases.md is stale: run python -m tests.releases --write")


@pytest.mark.parametrize("change", releases.CHANGES, ids=lambda c: f"{c.loss[0]}-{c.release}-{c.what[:30]}")
def test_a_change_names_known_losses_a_tested_release_and_a_thread(change):
    assert change.loss == ("*",) or all(name in by_name for name in change.loss)
    assert any(t.startswith(change.release + ".") for t in releases.TESTED[1:]), (
        f"{change.release}: not a tested release after the oldest")
    assert change.thread and change.what and change.before
    assert change.quirk is None or change.quirk in {q.name for q in QUIRKS}
    assert all(re.fullmatch(r"[a-z0-9*?-]+", pattern) for pattern in change.errors)


def test_holds_before_compares_releases_not_strings():
    change = releases.Change(("l1_loss",), "x", "2.10", "t", "y")
    assert change.holds_before("2.9.1") and change.holds_before("2.10.0a0")
    assert not change.holds_before("2.10.0") and not change.holds_before("2.15.0")


def test_an_argument_change_recognises_keyword_and_positional_calls(monkeypatch):
    change = releases.Change(("huber_loss",), "x", "2.99", "t", "no weight", argument=("weight", 4))
    monkeypatch.setattr(releases, "CHANGES", (change,))
    x = np.zeros(3)
    assert releases.needs_newer("huber_loss", (x, x), {"weight": x}) is change
    assert releases.needs_newer("huber_loss", (x, x, "mean", 1.0, x), {}) is change
    assert releases.needs_newer("huber_loss", (x, x, "mean", 1.0, None), {}) is None
    assert releases.needs_newer("huber_loss", (x, x), {}) is None
    assert releases.needs_newer("mse_loss", (x, x), {"weight": x}) is None
    with pytest.raises(pytest.skip.Exception, match="no weight.*2.99"):
        releases.skip_if_lacking("huber_loss", (x, x), {"weight": x})


def test_old_gaussian_var_rule():
    """torch < 2.6: var of input's shape, one dimension short, or with a last dimension of 1."""
    accepted = releases._gaussian_var_shape_accepted_before_2_6
    x = np.zeros((4, 3))
    assert all(accepted((x, x, np.ones(s)), {}) for s in ((4, 3), (4,), (4, 1)))
    assert not any(accepted((x, x, np.ones(s)), {}) for s in ((1, 3), (3,), (), (4, 3, 1), (1, 1)))
