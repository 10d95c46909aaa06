"""Every loss_parallel finding on docs/sharded.md still reproduces, standalone (sharded tier), and
every loss_parallel quirk record has its reproduction."""

from __future__ import annotations

import pytest

from .sharded import findings

pytestmark = pytest.mark.sharded


def test_every_loss_parallel_record_has_a_reproduction():
    assert sorted(q.name for q in findings.records()) == sorted(findings.REPRODUCTIONS)


@pytest.mark.parametrize("name", sorted(findings.REPRODUCTIONS))
def test_finding_reproduces(name):
    done = findings.run(name)
    assert "reproduced:" in done.stdout, (
        f"{name}: the reproduction no longer shows the finding (torch fixed it? then the record goes)\n"
        f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
