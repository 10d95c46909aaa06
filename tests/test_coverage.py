"""The suite says so when torch grows: every loss of the installed torch.nn.functional
has a reference, a gradient and a registry record, and every parameter of torch's
signature is accepted by the reference with the same default (contract exceptions:
the deprecated ``size_average`` and ``reduce``; ``linear_cross_entropy``'s ``options``)."""

from __future__ import annotations

import inspect

import pytest
import torch.nn.functional as F

import lossref

from . import releases
from .registry import by_name

#: Parameters the contract lets the reference leave out, and why.
EXEMPT = {
    "size_average": "deprecated alias of reduction",
    "reduce": "deprecated alias of reduction",
    "options": "linear_cross_entropy's chunking: a performance knob, not semantics",
}


def torch_losses() -> list[str]:
    names = [n for n in dir(F) if n.endswith("_loss") and callable(getattr(F, n)) and not n.startswith("_")]
    return sorted(set(names) | {n for n in ("cross_entropy", "kl_div", "binary_cross_entropy",
                                            "binary_cross_entropy_with_logits", "linear_cross_entropy")
                                if hasattr(F, n)})


def test_every_torch_loss_has_a_reference_and_a_record():
    missing = [n for n in torch_losses()
               if not hasattr(lossref, n) or not hasattr(lossref, f"{n}_backward") or n not in by_name]
    assert missing == [], f"torch.nn.functional losses without reference, _backward or registry record: {missing}"


def test_every_reference_is_a_torch_loss_or_declared_unavailable():
    extra = [n for n in lossref.LOSSES if n not in torch_losses() and by_name[n].available()]
    assert extra == []


@pytest.mark.parametrize("name", torch_losses())
def test_signature_matches_torch(name):
    if not hasattr(lossref, name):
        pytest.fail(f"reference has no {name}")
    theirs = inspect.signature(getattr(F, name)).parameters
    # An argument the installed torch predates (tests/releases.py) is not in its signature.
    ours = {n: p for n, p in inspect.signature(getattr(lossref, name)).parameters.items()
            if not releases.lacks_argument(name, n)}
    kept = [p for p in theirs.values() if p.name not in EXEMPT]
    assert [p.name for p in ours.values()] == [p.name for p in kept], "parameter names or order differ"
    positional = True
    for theirs_p in kept:
        our_p = ours[theirs_p.name]
        assert our_p.default == theirs_p.default, f"{name}({theirs_p.name}=...): default differs"
        # Before the first removed parameter the positions agree; after it ours are
        # keyword-only, so that a positional call cannot bind to the wrong parameter.
        positional &= list(theirs).index(theirs_p.name) == list(ours).index(theirs_p.name)
        if theirs_p.kind is theirs_p.KEYWORD_ONLY or not positional:
            assert our_p.kind is our_p.KEYWORD_ONLY, f"{name}: {theirs_p.name} must be keyword-only"
        else:
            assert our_p.kind is our_p.POSITIONAL_OR_KEYWORD, f"{name}: {theirs_p.name} must stay positional"


@pytest.mark.parametrize("name", lossref.LOSSES)
def test_backward_takes_the_forwards_arguments(name):
    forward = list(inspect.signature(getattr(lossref, name)).parameters.values())
    backward = list(inspect.signature(getattr(lossref, f"{name}_backward")).parameters.values())
    assert backward[0].name == "grad_output"
    assert [(p.name, p.kind, p.default) for p in backward[1:]] == [(p.name, p.kind, p.default) for p in forward]


@pytest.mark.parametrize("name", lossref.LOSSES)
def test_docstring_gives_the_formula(name):
    for fn in (getattr(lossref, name), getattr(lossref, f"{name}_backward")):
        doc = inspect.getdoc(fn) or ""
        assert len(doc.splitlines()) >= 3 and any(c in doc for c in "=∑Σ"), f"{fn.__name__}: no formula in docstring"
