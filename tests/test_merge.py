"""Reports of a split run merge into the report of one run (tests/merge.py)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from . import merge
from .report import SCHEMA, Results, TestResult

HEADER = {"impl": "torch.nn.functional", "torch": "2.13.0", "numpy": "2.1", "python": "3.11", "pytest": "8",
          "platform": "linux", "devices_present": ["cpu"], "devices_tested": ["cpu"], "seed": 0, "xfails": None,
          "args": [], "suite_prefix": "tests/"}


def _report(tests, exitstatus):
    results = Results()
    for nodeid, outcome, properties in tests:
        results.tests[nodeid] = TestResult(nodeid, outcome, dict(properties))
    return results.as_json(HEADER, exitstatus)


TESTS = [
    ("tests/a.py::t[l1_loss-cpu-float32]", "passed", {"loss": "l1_loss", "device": "cpu", "dtype": "float32",
                                                      "worst_ulps": 0.5}),
    ("tests/a.py::t[l1_loss-cpu-float16]", "failed", {"loss": "l1_loss", "device": "cpu", "dtype": "float16",
                                                      "category": "wrong-value", "message": "Mismatch: x",
                                                      "worst_ulps": float("inf")}),
    ("tests/b.py::t[mse_loss-cpu-float32]", "xfailed", {"loss": "mse_loss", "device": "cpu", "dtype": "float32"}),
    ("tests/b.py::u", "skipped", {}),
]


def test_the_parts_merge_into_the_whole_run():
    whole = _report(TESTS, 1)
    parts = [_report(TESTS[:1], 0), _report(TESTS[1:3], 1), _report(TESTS[3:], 0)]
    merged = merge.merge(parts, ["p1", "p2", "p3"])
    jsonschema.validate(merged, json.loads(SCHEMA.read_text()))
    for key in ("summary", "categories", "conformance", "exitstatus"):
        assert merged[key] == whole[key], key
    assert sorted(t["nodeid"] for t in merged["tests"]) == sorted(t["nodeid"] for t in whole["tests"])


def test_overlapping_or_foreign_parts_are_refused(tmp_path):
    part = _report(TESTS[:2], 1)
    with pytest.raises(merge.MergeError, match="overlap"):
        merge.merge([part, _report(TESTS[1:], 1)], ["p1", "p2"])
    other = dict(_report(TESTS[2:], 0), header=dict(HEADER, impl="mymodule"))
    with pytest.raises(merge.MergeError, match="impl"):
        merge.merge([part, other], ["p1", "p2"])
    (tmp_path / "p.json").write_text(json.dumps(part))
    (tmp_path / "bad.json").write_text('{"lossref_report": 1}')
    assert merge.main([str(tmp_path / "out.json"), str(tmp_path / "p.json"), str(tmp_path / "bad.json")]) == 4
    assert merge.main([str(tmp_path / "out.json"), str(tmp_path / "p.json"),
                       "--write-xfails", str(tmp_path / "base.txt")]) == 0
    assert "a.py::t[l1_loss-cpu-float16]" in (tmp_path / "base.txt").read_text()
