"""lossref.explain and ``python -m lossref explain``: a walk-through of every loss whose own
arithmetic is the reference's value, whose text fits 80 columns, and whose command agrees
with torch (called in-process: the checkout's lossref, as the rest of the suite)."""

from __future__ import annotations

import numpy as np
import pytest

import lossref
from lossref import explain
from lossref.__main__ import explain_command

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def walks():
    return {loss: explain.walkthrough(loss) for loss in lossref.LOSSES}


@pytest.mark.parametrize("loss", lossref.LOSSES)
def test_walkthrough_is_the_reference(loss, walks):
    walk = walks[loss]
    expected = getattr(lossref, loss)(*walk.args, **walk.kwargs)
    assert walk.result.dtype == np.float64
    np.testing.assert_array_equal(walk.result, expected)
    # the steps' own arithmetic: the last step is the result, the last gradient step the gradient
    np.testing.assert_allclose(walk.steps[-1].value, walk.result, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(walk.computed, walk.result, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(walk.gradient_steps[-1].value, walk.gradient, rtol=1e-9, atol=1e-12)
    assert all(isinstance(s, explain.Step) and s.title for s in walk.steps + walk.gradient_steps)


@pytest.mark.parametrize("loss", lossref.LOSSES)
def test_options_change_the_walkthrough_and_agree(loss):
    for name in explain.options(loss):
        value = {"reduction": "sum", "label_smoothing": 0.1, "weight": 2.0, "pos_weight": 3.0,
                 "ignore_index": 2, "log_target": True, "log_input": False, "full": False,
                 "zero_infinity": True, "swap": True, "p": 2, "eps": 0.01, "margin": 0.5,
                 "beta": 0.5, "delta": 0.5}[name]
        walk = explain.walkthrough(loss, **{name: value})
        assert walk.kwargs[name] is not None
        np.testing.assert_allclose(walk.computed, walk.result, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(walk.gradient_steps[-1].value, walk.gradient, rtol=1e-9, atol=1e-12)
    walk = explain.walkthrough(loss, reduction="none")
    assert walk.steps[-1].title != "reduction='none'"
    np.testing.assert_allclose(walk.steps[-1].value, walk.result, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss", lossref.LOSSES)
def test_rendered_lines_fit(loss, walks):
    text = explain.render(walks[loss], {"cpu": walks[loss].result, "cuda": "not checked: none"})
    assert max(explain._columns(line) for line in text.splitlines()) <= 80
    assert "torch cpu" in text and "agrees" in text
    assert max(explain._columns(line) for line in explain.render(walks[loss], width=60).splitlines()) <= 60


@pytest.mark.parametrize("loss", lossref.LOSSES)
def test_command_agrees_with_torch(loss, capsys):
    torch = pytest.importorskip("torch")
    assert explain_command([loss]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert max(explain._columns(line) for line in out.splitlines()) <= 80
    if hasattr(torch.nn.functional, loss):
        assert any(line.strip().startswith("torch cpu") and "agrees" in line for line in out.splitlines())
        assert "DISAGREES" not in out


def test_disagreement_exits_1(capsys, monkeypatch):
    pytest.importorskip("torch")
    import lossref.__main__ as main
    monkeypatch.setattr(main, "explain_torch", lambda walk: {"cpu": walk.result + 1e-3})
    assert explain_command(["cross_entropy"]) == 1
    assert "DISAGREES" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["no_such_loss"], ["cross_entropy", "--beta", "1"],
                                  ["cross_entropy", "--reduction", "avg"], [],
                                  ["cross_entropy", "--reduction"]])
def test_refusals_are_one_line_status_2(argv, capsys):
    assert explain_command(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1


def test_cross_entropy_options(capsys):
    assert explain_command(["cross_entropy"]) == 0
    plain = capsys.readouterr().out
    assert "3.792478639" in plain and "reduction='mean'" in plain

    assert explain_command(["cross_entropy", "--reduction", "none"]) == 0
    per_sample = capsys.readouterr().out
    assert "reduction='mean'" not in per_sample and "per-sample losses" in per_sample
    assert "[8.000467 3.355492 0.021476]" in per_sample
    walk = explain.walkthrough("cross_entropy", reduction="none")
    assert walk.steps[-1].title == "per-sample losses" and walk.result.shape == (3,)

    assert explain_command(["cross_entropy", "--label-smoothing", "0.1"]) == 0
    smoothed = capsys.readouterr().out
    assert "smoothed target (label_smoothing=0.1)" in smoothed and smoothed != plain
    walk = explain.walkthrough("cross_entropy", label_smoothing=0.1)
    target = next(s.value for s in walk.steps if s.title.startswith("smoothed target"))
    np.testing.assert_allclose(target[0], [0.02, 0.92, 0.02, 0.02, 0.02])
    np.testing.assert_allclose(walk.gradient_steps[0].value, walk.steps[2].value - target)


def test_article_values():
    assert f"{float(explain.walkthrough('cross_entropy').result):.4f}" == "3.7925"
    assert f"{float(explain.walkthrough('nll_loss').result):.4f}" == "1.7265"
