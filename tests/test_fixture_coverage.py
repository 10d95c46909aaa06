"""Every option value of every loss appears in at least one fixture case, and every case
says where it comes from in terms a reader can follow without this repository's surroundings.

A loss's options are read from the reference's signature (``inspect.signature(getattr(lossref,
loss))``): every parameter with a default. Each has a finite set of values a case must show,
by the kind of its default:

* ``reduction``: every value the reference accepts among ``'none'``, ``'mean'``, ``'sum'``
  and ``'batchmean'`` (asked of the reference itself, on the loss's first case);
* a boolean (``log_input``, ``full``, ``log_target``, ``swap``, ``zero_infinity``): True and False;
* ``None`` (``weight``, ``pos_weight``, ``linear_bias``, linear_cross_entropy's
  ``ignore_index``, ``distance_function``): absent and present; a ``distance_function`` is
  present by a registered name (``lossref.fixtures.DISTANCES``: JSON holds no callable);
* a number: its default and one other value. Continuous options (``margin``, ``eps``,
  ``beta``, ``delta``, triplet_margin_loss's ``p``, ``label_smoothing``: 0 and > 0) are read
  so, not value by value; so are the integer ones whose other values all act alike
  (``ignore_index``: the default -100 and a real class; ``blank``: 0 and another class;
  multi_margin_loss's ``p``: 1 and 2, the only two it accepts).

Not every combination: each value once, in any case. An option of a kind not listed here
fails the test, so that a new option gets a reading before it gets cases.
"""

from __future__ import annotations

import inspect
import numbers

import pytest

import lossref
from lossref import fixtures

from .fixture_cases import every_case

REDUCTIONS = ("none", "mean", "sum", "batchmean")


def _cases(loss):
    return [case for case in every_case() if case.loss == loss]


def _accepted_reductions(loss) -> list[str]:
    """The reductions the reference takes, asked on the loss's first case."""
    case = _cases(loss)[0]
    out = []
    for reduction in REDUCTIONS:
        try:
            getattr(lossref, loss)(*case.args, **fixtures.resolve({**case.kwargs, "reduction": reduction}))
        except ValueError:
            continue
        out.append(reduction)
    return out


def _required(loss) -> dict[str, list[str]]:
    """Each option of ``loss`` -> the labels of the values some case must show."""
    out = {}
    for name, parameter in inspect.signature(getattr(lossref, loss)).parameters.items():
        default = parameter.default
        if default is inspect.Parameter.empty:
            continue
        if name == "reduction":
            out[name] = [repr(r) for r in _accepted_reductions(loss)]
        elif isinstance(default, bool):
            out[name] = ["True", "False"]
        elif default is None:
            out[name] = ["absent", "present"]
        elif isinstance(default, numbers.Number):
            out[name] = [f"the default {default!r}", "another value"]
        else:
            out[name] = [f"(no reading for a default of type {type(default).__name__}: add one to this test)"]
    return out


def _label(name, value, default) -> str:
    if name == "reduction":
        return repr(value)
    if isinstance(default, bool):
        return str(bool(value))
    if default is None:
        return "absent" if value is None else "present"
    if isinstance(default, numbers.Number) and not isinstance(value, bool) and isinstance(value, numbers.Number):
        return f"the default {default!r}" if value == default else "another value"
    return repr(value)


def _shown(loss, cases) -> dict[str, set[str]]:
    """Each option -> the labels of the values ``cases`` show (given or by default)."""
    signature = inspect.signature(getattr(lossref, loss))
    shown: dict[str, set[str]] = {}
    for case in cases:
        bound = signature.bind(*case.args, **case.kwargs)
        bound.apply_defaults()
        for name, parameter in signature.parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                shown.setdefault(name, set()).add(_label(name, bound.arguments[name], parameter.default))
    return shown


def _missing(loss, cases) -> list[str]:
    """'<loss>: <option> = <value>' for each required value no case in ``cases`` shows."""
    required, shown = _required(loss), _shown(loss, cases)
    return [f"{loss}: {name} = {label}" for name, labels in required.items() for label in labels
            if label not in shown.get(name, set())]


@pytest.mark.parametrize("loss", lossref.LOSSES)
def test_every_option_value_has_a_case(loss):
    missing = _missing(loss, _cases(loss))
    assert not missing, "no fixture case covers " + "; ".join(missing)


def test_the_reductions_are_read_from_the_reference():
    assert _accepted_reductions("kl_div") == ["none", "mean", "sum", "batchmean"]
    assert _accepted_reductions("mse_loss") == ["none", "mean", "sum"]


def test_a_distance_function_is_a_registered_name():
    named = [case for case in every_case() if "distance_function" in case.kwargs]
    assert named, "no case passes a distance_function"
    for case in named:
        assert case.kwargs["distance_function"] in fixtures.DISTANCES, case.name
    # and the name means the same call to the reference and to a functional namespace
    distance = fixtures.DISTANCES["pairwise_distance_p1"]
    assert distance.spelled() == "torch.nn.functional.pairwise_distance(x1, x2, p=1.0, eps=1e-06)"


def test_an_uncovered_option_value_is_named():
    """Without the cases that set them, the check names the loss, the option and the value."""
    nll = [case for case in _cases("nll_loss") if "ignore_index" not in case.kwargs]
    assert _missing("nll_loss", nll) == ["nll_loss: ignore_index = another value"]
    kl = [case for case in _cases("kl_div") if case.kwargs.get("reduction") != "sum"]
    assert _missing("kl_div", kl) == ["kl_div: reduction = 'sum'"]
    triplet = [case for case in _cases("triplet_margin_with_distance_loss") if "distance_function" not in case.kwargs]
    assert _missing("triplet_margin_with_distance_loss", triplet) == [
        "triplet_margin_with_distance_loss: distance_function = present"]


# --- where each case comes from ---------------------------------------------------------

def test_every_case_lives_in_its_loss_folder():
    for case in every_case():
        assert case.name.split("/") == [case.loss, case.path.stem], case.name
        assert case.origin in fixtures.ORIGINS, case.name


def test_the_articles_cases_are_selected_by_their_origin():
    article = sorted(case.name for case in every_case() if case.origin == "article")
    assert len(article) == 13
    assert "cross_entropy/article" in article and "nll_loss/article_2d" in article
    for case in every_case():
        if case.origin == "article":
            assert "PyTorch中的Loss Function" in case.source, case.name


def test_every_source_is_findable_without_the_repositorys_surroundings():
    """The article by its title, a torch value by its release and call, a derivation by
    itself, a definition by the package that defines it; never a path outside the repository."""
    outside = ("shared" "/", "loss-semantics", "seeds/")   # the paths sources once cited, outside the repository
    for case in every_case():
        assert not any(word in case.source or word in case.description for word in outside), case.name
        if case.origin == "torch":
            assert case.source.startswith("torch 2.") and f"torch.nn.functional.{case.loss}(" in case.source, case.name
            assert case.printed is not None, case.name
        elif case.origin == "derivation":
            assert "derived by hand" in case.source, case.name
        elif case.origin == "definition":
            assert case.source.startswith("lossref.fixtures.cases"), case.name
