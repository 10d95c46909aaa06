"""The oracle's hand-derived gradients against its own forward, differentiated numerically:
at 90 digits a central difference with step 1e-30 has rounding error ~1e-60 and truncation
error ~1e-60 times the third derivative (1e-36 for the most curved case here, t log t at
t = 1e-12; at a switch point where only the first derivative is continuous, ~1e-30 times
the jump of the second), far below float64's resolution: they must agree to 1e-20. Every fixture at a smooth point (no kink,
clamp or switch point nearby, finite values) is checked along a random direction, so an
error in a derivation would show here before it reached a file."""

from __future__ import annotations

import os

import numpy as np
import pytest

mpmath = pytest.importorskip("mpmath")

import lossref  # noqa: E402
from lossref import oracle  # noqa: E402
from lossref._common import array_parameters, positional_parameters  # noqa: E402
from lossref.fixtures.cases import specs  # noqa: E402
from lossref.oracle._num import MP, Num, array, total  # noqa: E402

#: Cases whose inputs sit on a kink, a clamp or a branch switch on purpose: their recorded
#: gradient is a convention (a subgradient, torch's clamp handling), not a derivative.
NOT_SMOOTH = ("kink", "clamp", "switch", "var_below_eps", "edges", "overflow", "infeasible",
              "hinge_embedding_loss/article", "hinge_embedding_loss/torch_2_13", "margin_none", "near_one",
              "binary_cross_entropy/torch_2_13", "binary_cross_entropy_with_logits/torch_2_13",
              "gaussian_nll_loss/torch_2_13", "kl_div/torch_2_13_none", "poisson_nll_loss/torch_2_13",
              "kl_div/none_zero", "poisson_nll_loss/log_input_full", "poisson_nll_loss/rates_eps",
              "multi_margin_loss/torch_2_13", "smooth_l1_loss/torch_2_13", "huber_loss/torch_2_13",
              "l1_loss/by_hand", "mse_loss/torch_2_13", "cosine_embedding_loss/torch_2_13",
              "triplet_margin_loss/torch_2_13", "triplet_margin_with_distance_loss/torch_2_13",
              "ctc_loss/torch_2_13_sum", "l1_loss", "multi_margin_loss/article", "l1_loss/article",
              "cross_entropy/torch_2_13_all", "margin_ranking_loss/torch_2_13",
              "blank_in_target", "multi_margin_loss", "multilabel_margin_loss", "triplet_margin_loss/swap",
              "zero_vector", "hinge_embedding_loss", "margin_ranking_loss/mean", "smooth_l1_loss/none")
STEP = "1e-30"


#: Cases per loss in the default run (the first smooth ones; 12 s for all 126, 3 s for these).
#: LOSSREF_ORACLE_ALL=1 checks every smooth case.
PER_LOSS = None if os.environ.get("LOSSREF_ORACLE_ALL") else 2


def _smooth_cases():
    out, per_loss = [], {}
    for spec in specs():
        if spec.grad_output is None or any(tag in spec.name for tag in NOT_SMOOTH):
            continue
        if any(isinstance(a, np.ndarray) and a.size == 0 for a in spec.args):
            continue
        per_loss[spec.loss] = per_loss.get(spec.loss, 0) + 1
        if PER_LOSS is None or per_loss[spec.loss] <= PER_LOSS:
            out.append(spec)
    return out


def _shifted(value, direction, sign):
    base = array(value)
    out = np.empty(base.shape, dtype=object)
    for index in np.ndindex(base.shape):
        out[index] = Num(base[index].v + sign * MP.mpf(STEP) * MP.mpf(float(direction[index])))
    return out


@pytest.fixture
def ninety_digits():
    MP.dps = 90
    yield
    MP.dps = oracle.DIGITS


@pytest.mark.parametrize("spec", _smooth_cases(), ids=lambda s: s.name)
def test_oracle_gradient_is_the_derivative_of_its_forward(spec, ninety_digits):
    rng = np.random.default_rng(0)
    result = oracle.evaluate(spec.loss, spec.args, spec.kwargs, spec.grad_output)
    g_out = array(spec.grad_output)
    forward = oracle.loss_function(spec.loss)
    # one gradient per array parameter, positional or keyword (linear_bias, weight, ...): found by name
    names = array_parameters(getattr(lossref, spec.loss))
    positional = positional_parameters(getattr(lossref, spec.loss))[:len(spec.args)]
    assert len(result.gradients) == len(names), f"{spec.name}: one gradient per array parameter ({names})"
    for position, grad in enumerate(result.gradients):
        name = names[position]
        if grad is None or (name not in positional and name not in spec.kwargs):
            continue
        value = spec.args[positional.index(name)] if name in positional else spec.kwargs[name]
        if not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
            continue
        direction = rng.choice([-1.0, 1.0], size=value.shape) * rng.uniform(0.5, 1.5, size=value.shape)
        sides = []
        for sign in (1, -1):
            args, kwargs = list(spec.args), dict(spec.kwargs)
            if name in positional:
                args[positional.index(name)] = _shifted(value, direction, sign)
            else:
                kwargs[name] = _shifted(value, direction, sign)
            sides.append(total(np.asarray(forward(*args, **kwargs), dtype=object) * g_out).v)
        numeric = (sides[0] - sides[1]) / (2 * MP.mpf(STEP))
        analytic = total(grad * array(direction)).v
        if not MP.isfinite(analytic):
            continue      # a convention, not a derivative (kl_div's t/t at t = 0, ...)
        scale = float(np.sum(np.abs(oracle.rounded(grad))))
        assert abs(numeric - analytic) <= MP.mpf("1e-20") * max(scale, 1.0), (
            f"{spec.name}: gradient of {name}: analytic {MP.nstr(analytic, 20)}, numeric {MP.nstr(numeric, 20)}")
