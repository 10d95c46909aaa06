"""docs/sharded.md's findings section is the one its generator writes from the loss_parallel records."""

from __future__ import annotations

import pytest

from .sharded import findings


@pytest.mark.repository
def test_sharded_findings_page_is_current():
    current = findings.PAGE.read_text()
    assert findings.page_text(current) == current, (
        "docs/sharded.md's findings are stale: python -m lossref.tests.sharded.findings --write")
