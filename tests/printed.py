"""Comparing with a value as a source printed it: to the digits printed, no more."""

from __future__ import annotations

from lossref.fixtures import printed_mismatches


def assert_printed(value, printed: str, what: str = "value") -> None:
    problems = printed_mismatches(value, printed)
    assert not problems, f"{what}: " + "; ".join(problems)
