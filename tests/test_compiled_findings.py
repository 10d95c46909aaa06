"""Every torch.compile finding on docs/compiled.md still reproduces, standalone, and every
torch.compile quirk record has its reproduction.

The reproductions compile (about 10 s for all of them on 2 cores, most of it dynamo's first
compilation), so the default run leaves them out, as it leaves out the tiers: they run with
``LOSSREF_COMPILED_FINDINGS=1``, as .ci/run's compiled step does. The two checks that compile
nothing always run."""

from __future__ import annotations

import os

import pytest

from . import compiled_findings as findings

RUN = os.environ.get("LOSSREF_COMPILED_FINDINGS") == "1"


def test_every_compile_record_has_a_reproduction():
    assert sorted(q.name for q in findings.records()) == sorted(findings.REPRODUCTIONS)


@pytest.mark.repository
def test_compiled_findings_page_is_current():
    current = findings.PAGE.read_text()
    assert findings.page_text(current) == current, (
        "docs/compiled.md's findings are stale: python -m lossref.tests.compiled_findings --write")


@pytest.mark.skipif(not RUN, reason="compiles: set LOSSREF_COMPILED_FINDINGS=1 (.ci/run's compiled step does)")
@pytest.mark.parametrize("name", sorted(findings.REPRODUCTIONS))
def test_finding_reproduces(name):
    printed = findings.run_here(name)
    assert "reproduced:" in printed, (
        f"{name}: the reproduction no longer shows the finding (torch fixed it? then the record goes, or a "
        f"release bound in lossref.releases)\n{printed[-2000:]}")
