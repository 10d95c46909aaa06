"""What kind of failure a failed test is, for the conformance table and ``--report``.

Read from the exception and the test: the parity checks raise typed errors
(:class:`tests.compare.Mismatch` with ``kind`` and ``check``, :class:`tests.compare.InputModified`);
``pytest.raises`` says ``DID NOT RAISE`` when bad input is accepted; a ``TypeError`` about
the call's arguments means the implementation does not take an argument or option that
torch's signature has; a refusal test (marked ``checks("refusal")``) that gets another exception
or message than torch's saw the bad input refused differently; any other exception is
raised by the implementation where torch raises none (the suite passes on torch).
"""

from __future__ import annotations

import re

import pytest

from .compare import InputModified, Mismatch

#: Category id (as written in the report) -> what it means (as printed).
CATEGORIES = {
    "wrong-value": "wrong value",
    "wrong-gradient": "wrong gradient",
    "wrong-shape": "wrong shape",
    "argument-not-accepted": "argument or option not accepted",
    "crash": "crash where torch does not",
    "bad-input-accepted": "bad input accepted",
    "input-modified": "input modified",
    "refused-differently": "bad input refused, but not with torch's exception and message",
    "passes-a-torch-quirk": "torch passes where it had a known bug (a strict quirk xfail): the entry can go",
}

# Python's own messages for a call whose arguments do not bind to the signature.
_SIGNATURE_MISMATCH = re.compile(
    r"unexpected keyword argument|takes (?:from )?\d+ (?:to \d+ )?positional arguments? but \d+ (?:were|was) given"
    r"|got multiple values for argument|missing \d+ required (?:positional|keyword-only) arguments?"
    r"|takes no keyword arguments|Too many positional arguments")   # the last: torch._refs' own binder

# The same, in the assertion messages of tests that compare without tests/compare.py.
_SHAPE_MESSAGE = re.compile(r"\bshape\b.*\breference\b|\bshapes?\b.*\bdiffer", re.IGNORECASE)


def classify(exception: BaseException | None, check: str = "value") -> str:
    """The category of a failure: ``exception`` as the test raised it (None for a strict
    xfail that passed), ``check`` what the test checks (its ``checks`` marker: "value",
    "gradient" or "refusal")."""
    if exception is None:
        return "passes-a-torch-quirk"
    if isinstance(exception, InputModified):
        return "input-modified"
    if isinstance(exception, Mismatch):
        if exception.kind == "shape":
            return "wrong-shape"
        return "wrong-gradient" if exception.check == "gradient" else "wrong-value"
    if isinstance(exception, pytest.fail.Exception) and "DID NOT RAISE" in str(exception):
        return "bad-input-accepted"
    if isinstance(exception, AssertionError) and str(exception).startswith("Regex pattern did not match"):
        return "refused-differently"    # pytest.raises(..., match=torch's message)
    if isinstance(exception, AssertionError):
        if _SHAPE_MESSAGE.search(str(exception)):
            return "wrong-shape"
        return "wrong-gradient" if check == "gradient" else "wrong-value"
    if isinstance(exception, TypeError) and _SIGNATURE_MISMATCH.search(str(exception)):
        return "argument-not-accepted"
    if check == "refusal":
        return "refused-differently"    # an exception pytest.raises(torch's type) let through
    return "crash"


def first_line(exception: BaseException | None, limit: int = 300) -> str:
    """The exception as one short line, for the report and an xfails entry's reason."""
    if exception is None:
        return ""
    text = str(exception).strip().splitlines()
    line = f"{type(exception).__name__}: {text[0] if text else ''}"
    return line if len(line) <= limit else line[:limit - 3] + "..."
