"""docs/losses/ (one page per loss, tests/pages.py) is current, and each record reaches
what the suite knows about its loss."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from . import pages, plots
from .quirks import QUIRKS
from .registry import RECORDS, by_name
from .releases import CHANGES


@functools.lru_cache(maxsize=1)
def _generated() -> dict:
    return pages.pages()   # seconds: the layout cases draw every sample once


@pytest.mark.repository   # docs/ is not installed with the suite
@pytest.mark.parametrize("path", pages.paths(), ids=lambda p: p.name)
def test_the_loss_page_is_current(path):
    """Rerun the generator after changing a record, a sample, a quirk, a release change, a
    fixture or a reference's docstring: ``python -m tests.pages --write``."""
    expected = _generated()[path]
    assert path.is_file(), f"{path.name} is missing: run {pages.COMMAND}"
    assert path.read_text(encoding="utf-8") == expected, f"docs/losses/{path.name} is stale: run {pages.COMMAND}"


@pytest.mark.repository
def test_no_page_is_left_for_a_loss_the_registry_lost():
    assert {p.name for p in pages.PAGES.glob("*.md")} == {p.name for p in pages.paths()}


def test_every_quirk_and_change_is_reached_from_a_record():
    assert {q.name for r in RECORDS for q in r.quirks} == {q.name for q in QUIRKS}
    assert {id(c) for r in RECORDS for c in r.changes} == {id(c) for c in CHANGES}


def test_every_quirk_selects_registry_samples():
    """Each of a quirk's tag sets and sample ids selects some sample of a loss it names, and it
    selects some sample of every loss it names: a tag outside tests/registry/base.py ``TAGS``,
    a renamed sample or a loss that lost the kind leaves a stale record."""
    for q in QUIRKS:
        samples = {loss: list(by_name[loss].declared("samples")()) for loss in q.losses}
        for tags in q.tags:
            assert any(tags <= s.tags for ss in samples.values() for s in ss), (
                f"quirk {q.name}: no sample of {', '.join(q.losses)} carries every tag of {sorted(tags)}")
        for sample in q.samples:
            assert any(s.id == sample for ss in samples.values() for s in ss), (
                f"quirk {q.name}: no sample of {', '.join(q.losses)} is called {sample!r}")
        for loss, ss in samples.items():
            assert any(q.selects(s.id, s.tags) for s in ss), f"quirk {q.name} selects no sample of {loss}"


def test_the_page_text_names_no_machine_or_release():
    text = "".join(_generated().values())
    assert str(pages.ROOT) not in text
    # The one release a page names: the one that drew its picture's markers, read from the
    # committed data file (so the page is the same whichever torch checks it).
    for record in RECORDS:
        data = plots.recorded(record.name)
        if data is not None:
            text = text.replace(pages.overlay_phrase(data["torch"]), "")
    import torch
    assert torch.__version__ not in text


def test_every_loss_has_a_plot():
    assert set(plots.PLOTS) == {record.name for record in RECORDS}


#: The committed numbers are checked at every CHECKED_EVERY-th point of each curve (and its
#: first): a changed reference or plot moves a curve over a range of x, not at one point, and
#: recomputing all ~9000 points (a forward and a backward each) took 1.5 s of the default suite.
CHECKED_EVERY = 4


@functools.lru_cache(maxsize=None)
def _recomputed(loss: str) -> dict:
    return plots.compute(plots.PLOTS[loss], digits=None, every=CHECKED_EVERY)


#: How far the committed numbers may be from the references recomputed here, relative to the
#: curve's largest magnitude (at least 1): the file rounds to 12 significant digits (5e-13
#: relative), and another machine's NumPy or libm may round the last bit of a log or exp
#: differently (1e-16, times the few operations of a point). 1e-10 is far above both and far
#: below anything a plot could show (a changed reference moves a curve by percents).
DATA_TOLERANCE = 1e-10


@pytest.mark.repository
@pytest.mark.parametrize("loss", sorted(plots.PLOTS))
def test_the_plot_data_is_current(loss):
    """docs/losses/data/<loss>.json holds what the references compute for tests/plots.py's
    curves (the pictures are drawn from these numbers; their bytes are not compared). Rerun
    ``python -m tests.pages --write`` (with matplotlib) after changing a reference or a plot."""
    committed = plots.recorded(loss)
    stale = f"docs/losses/data/{loss}.json is stale: run {pages.COMMAND} with matplotlib installed"
    assert committed is not None, stale
    assert (plots.IMAGES / f"{loss}.png").is_file() and (plots.IMAGES / f"{loss}_small.png").is_file(), stale
    fresh = _recomputed(loss)
    assert {k: v for k, v in committed.items() if k not in ("torch", "x", "curves")} == \
        {k: v for k, v in fresh.items() if k not in ("x", "curves")}, stale
    assert [(c["label"], c["options"], c["fixed"]) for c in committed["curves"]] == \
        [(c["label"], c["options"], c["fixed"]) for c in fresh["curves"]], stale
    assert len(committed["x"]) == plots.PLOTS[loss].x[2], stale
    np.testing.assert_allclose(committed["x"][::CHECKED_EVERY], fresh["x"], rtol=DATA_TOLERANCE, atol=0,
                               err_msg=stale)
    for old, new in zip(committed["curves"], fresh["curves"]):
        for what in ("loss", "gradient"):
            scale = max(1.0, float(np.max(np.abs(old[what]))))
            np.testing.assert_allclose(old[what][::CHECKED_EVERY], new[what], rtol=DATA_TOLERANCE,
                                       atol=DATA_TOLERANCE * scale, err_msg=f"{stale} ({new['label']}, {what})")
