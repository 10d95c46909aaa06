"""docs/losses/ (one page per loss, tests/pages.py) is current, and each record reaches
what the suite knows about its loss."""

from __future__ import annotations

import functools

import pytest

from . import pages
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
    import torch
    assert torch.__version__ not in text
