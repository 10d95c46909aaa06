"""The behaviour-by-release records (lossref.releases, read through tests/releases.py): the
generated page is current, and each record is well formed and does what it says on an older
torch."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from . import releases
from .quirks import QUIRKS
from .registry import by_name


@pytest.mark.repository   # docs/ is not installed with the suite
def test_the_release_table_is_current():
    """docs/torch-releases.md is generated from the records: rerun the generator after
    editing them (``python -m lossref.releases --write``)."""
    assert releases.PAGE.read_text(encoding="utf-8") == releases.page(), (
        "docs/torch-releases.md is stale: run python -m lossref.releases --write (from a checkout without an "
        "install: python -c \"import conftest; from lossref.releases import main; main(['--write'])\")")


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
    from lossref import releases as records
    change = releases.Change(("huber_loss",), "x", "2.99", "t", "no weight", argument=("weight", 4))
    monkeypatch.setattr(records, "CHANGES", (change,))
    x = np.zeros(3)
    assert releases.needs_newer("huber_loss", (x, x), {"weight": x}) is change
    assert releases.needs_newer("huber_loss", (x, x, "mean", 1.0, x), {}) is change
    assert releases.needs_newer("huber_loss", (x, x, "mean", 1.0, None), {}) is None
    assert releases.needs_newer("huber_loss", (x, x), {}) is None
    assert releases.needs_newer("mse_loss", (x, x), {"weight": x}) is None
    with pytest.raises(pytest.skip.Exception, match="no weight.*2.99"):
        releases.skip_if_lacking("huber_loss", (x, x), {"weight": x})


def test_old_gaussian_var_rule():
    """Before PR #147522: var of input's shape, one dimension short, or with a last dimension of 1."""
    accepted = releases._old_gaussian_var_rule
    x = np.zeros((4, 3))
    assert all(accepted((x, x, np.ones(s)), {}) for s in ((4, 3), (4,), (4, 1)))
    assert not any(accepted((x, x, np.ones(s)), {}) for s in ((1, 3), (3,), (), (4, 3, 1), (1, 1)))


# --- the main job (python -m lossref) on a torch outside the range ------------------

def test_the_main_job_reads_the_declared_minimum():
    from lossref import __main__ as main_job
    assert main_job.declared_torch_minimum() == releases.OLDEST.rsplit(".", 1)[0]


def test_the_main_job_refuses_an_older_torch_in_one_line(monkeypatch, capsys):
    import torch
    from lossref import __main__ as main_job
    monkeypatch.setattr(torch, "__version__", "2.3.1")
    assert main_job.main() == main_job.NOT_RUN
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "2.3.1" in out and "torch>=2.4" in out


def test_the_main_job_without_torch_says_so_in_one_line(monkeypatch, capsys):
    from lossref import __main__ as main_job
    monkeypatch.setitem(sys.modules, "torch", None)   # import torch raises ImportError
    assert main_job.main() == main_job.NOT_RUN
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not installed" in out


def test_the_main_job_names_an_argument_torch_lacks():
    from types import SimpleNamespace
    from lossref import __main__ as main_job
    fake = SimpleNamespace(__version__="2.4.1", nn=SimpleNamespace(functional=SimpleNamespace(
        l1_loss=lambda input, target, size_average=None, reduce=None, reduction="mean": None)))
    x = np.ones(2)
    case = SimpleNamespace(loss="l1_loss", args=(x, x), kwargs={"weight": x})
    assert main_job._missing(fake, case) == "torch 2.4.1's l1_loss has no argument weight"
    assert main_job._missing(fake, SimpleNamespace(loss="l1_loss", args=(x, x), kwargs={})) is None
    assert "has no huber_loss" in main_job._missing(fake, SimpleNamespace(loss="huber_loss", args=(x, x), kwargs={}))


@pytest.mark.parametrize("older, newer", [
    ("2.9.1", "2.10"), ("2.10.0.dev20250101", "2.10.0a0"), ("2.10.0a0", "2.10.0rc1"), ("2.10.0rc1", "2.10"),
    ("2.10.0a0+git1234", "2.10.0"), ("2.10.0", "2.10.0+cu124"), ("2.10.0+cu124", "2.10.0.post1"),
    ("2.10.0.post1", "2.11.0"), ("2.9", "2.15.0")])
def test_the_torch_free_version_orders_releases_as_torch_does(older, newer):
    """lossref.releases.Version (no torch, no packaging) agrees with torch's own TorchVersion."""
    from torch.torch_version import TorchVersion
    assert releases.Version(older) < releases.Version(newer) and not releases.Version(newer) < releases.Version(older)
    assert TorchVersion(older) < newer
    assert releases.Version("2.10") == releases.Version("2.10.0") == "2.10.0"
