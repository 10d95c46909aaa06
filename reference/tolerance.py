"""The one rule of tolerances: how far an implementation computing in a dtype may be from the
float64 reference. Torch-free (NumPy and the standard library): the suite (tests/tolerances.py
maps a ``torch.dtype`` to its name) and the fixture files (``lossref.fixtures``: each file's
``tolerance`` field) both read it from here.

The reference is fed the *same rounded inputs* torch sees, so input rounding is not
part of the error; what is left is the rounding of torch's own arithmetic in the dtype
under test. Each operation of a loss rounds once (relative error ``eps/2``), a
reduction over ``n`` terms adds at most ``~log2(n)`` roundings with pairwise or
cascade summation, and cancellation (log-sum-exp minus the target logit, x - y in
L1/L2) turns relative into absolute error of the size of the inputs, which the suite
draws at O(1). So both ``rtol`` and ``atol`` are a fixed number of units of
``eps(dtype)``:

    tolerance = ULPS * eps(dtype) * conditioning(loss)

``ULPS = 16``: measured on the suite (torch 2.13.0, CPU, every registry sample, forward
and gradient, ``/ (eps * (1 + |reference|))``), the worst errors were 2.4 eps in float64,
7.3 in float32 (the gradient of gaussian_nll_loss's var, summed over a broadcast axis),
4.6 in float16 and 2.5 in bfloat16, known torch bugs (``lossref.quirks``) aside. 16 leaves
a factor of two over the worst and keeps bfloat16 at 0.125 of O(1) values, float32 at
1.9e-6 and float64 at 3.6e-15, where any larger difference is a real disagreement.

A loss that is worse conditioned than that (exp of an input, a long recursion) has an
entry in :data:`CONDITIONING`, its factor with the reason next to it; nothing else widens
a tolerance. The suite's registry records read their ``conditioning`` from that table.

Entries far below 1 (the per-entry magnitude model)
---------------------------------------------------
``atol = ULPS * eps`` is the error of an entry built from O(1) terms. It is blind to an
entry that is small because its terms are small: cross-entropy's gradient with a 32k
vocabulary has entries ~1e-7, below float32's atol of 1.9e-6, so such an entry can be
wrong by 100 % and pass (and in bfloat16 every entry below 0.125 can). And it is too
tight for an entry that is small because large terms cancel: the loss at a softmax
peaked at 0.999 is ``lse - x_y = 1e-3`` with both terms ~20. What torch's result
actually carries, entry by entry, is

* one rounding in the dtype of each term it is built from: relative, ``eps(dtype)`` times
  the sum of the terms' magnitudes (``Magnitude.rounded``), and
* the arithmetic that combines them, which torch does in the accumulation type
  (float32 for float16 and bfloat16, else the dtype itself: :func:`accumulation_dtype`):
  ``eps(acc)`` times the magnitude of the terms that cancel (``Magnitude.accumulated``),
  relative to those terms, not to 1,
* and no entry below the dtype's smallest normal number (float16: 6.1e-5) can be held to
  a relative error: its subnormal spacing ``eps * tiny`` (float16: 6e-8) is added.

So a loss that knows the magnitudes of the terms of its entries (``value_magnitude`` and
``gradient_magnitude`` in its registry record, derived next to them) is held to

    |got - expected| <= ULPS * conditioning * (eps(dtype) * (|expected| + rounded)
                                               + eps(acc) * accumulated + eps * tiny)

per entry, which :func:`magnitude_scale` writes as ``rtol * |expected| + atol * scale``
with the same ``rtol = atol = ULPS * eps(dtype) * conditioning`` as everywhere, so that
the suite's comparison (tests/compare.py) has one formula. The element-wise losses (l1, mse,
smooth_l1, huber, binary_cross_entropy(_with_logits), kl_div, poisson_nll, gaussian_nll,
hinge_embedding, margin_ranking, soft_margin) read theirs from ``lossref.magnitudes``
(``value_magnitude``, ``gradient_magnitude``): the accumulation tier's per-term rounding counts, so a 'mean' or 'sum' value is held to the sum of its terms' magnitudes and a
gradient entry to ``|g| |w| / count`` times its term's derivative and the terms that derivative is
built from (relative: a 'mean' entry of 1e-3 wrong by 100 % fails in bfloat16). A loss without
such functions keeps ``scale = 1``, terms of O(1) rounded in the dtype, where it must stay:
triplet_margin_with_distance_loss (the user's distance function: its rounding is not known);
ctc_loss (log-space sums whose error is absolute in the exponent: its CONDITIONING entry). Within
the modelled losses, an entry whose model is None keeps it too (nll_loss's value; the class
weight's gradient of cross_entropy and linear_cross_entropy, where torch gives one: not derived).
The row losses
multilabel_soft_margin_loss, cosine_embedding_loss and triplet_margin_loss (p >= 1; the O(1) model
below, where 1/p multiplies the norm's relative error without bound) have theirs in
``lossref.magnitudes`` too: the row's sum over C or D, its partial sums, and each gradient's
cancelling parts. So do multi_margin_loss and multilabel_margin_loss: their value sums margins
``margin - x_y + x_i`` of the logits, whose rounding is absolute at the logits' size (counted per
active term), but an input-gradient entry is a count of active terms times ``g w[y] / (N C)``
(p = 1; multilabel ``g / (N C)``) or a sum of ``2 g w[y] z / (N C)`` (p = 2): a product, relative,
that ``scale = 1`` let be 100 % wrong below 16 eps (float32 at N C ~ 1e6; on CUDA, bfloat16 below
0.125). A fixture file's ``tolerance`` field carries the same per-entry scale ("Fixture
files" below).

Cross-entropy (derived in ``lossref.magnitudes``): with ``gl`` the gradient
reaching the log-softmax, input-gradient entry ``i`` is ``Σ_j gl_j (δ_ij - s_i)``, so
``rounded = |gl_i| (1 - s_i) + s_i Σ_{j≠i} |gl_j|`` (without label smoothing exactly
``|expected|``: a relative error, which is what sees a small entry wrong) and
``accumulated = |gl_i| + s_i E_i Σ_j |gl_j|``, where ``E_i = |lse| + |lsm_i| + log2 C``
is the error of the exponent ``lsm_i = x_i - lse`` (the roundings of lse and of the
subtraction, and the sum of C exponentials) in units of eps(acc): the target entry
``(s_y - 1) w/n`` of a softmax peaked at 0.999 is 1e-3 w/n with ``E ~ 40``: resolvable in
bfloat16 (accumulated in float32: 16 * 1.2e-7 * 40 = 8e-5 of w/n), and a kernel computing
``s_y - 1`` in bfloat16 (Liger-Kernel PR #1329) is 100 % wrong there. The value:
``rounded = Σ_c q_c |lsm_c|`` (the loss), ``accumulated = Σ_c q_c E_c``.
linear_cross_entropy adds its logits' own error (``|x| |W|^T``, the computed logits'
rounding in the dtype) and, through the projection, ``sqrt(K)`` roundings of the K-term
product (Higham & Mary's probabilistic bound). nll_loss's gradient (``-g w/n`` at the
target, 0 elsewhere) is a product: purely relative.

Measured (torch 2.13, CPU): the small non-target gradient entries at 32k and 262k classes
are within 11 eps relative in bfloat16 and float32 (the bound: 32); float16's below 6e-5
within its subnormal spacing. Where torch is outside the bound it is wrong: its CPU
log_softmax in bfloat16 (and float16, above 0.9998) returns exactly 0 at a peaked target
(``lossref.quirks``, log-softmax-bfloat16-peaked-cpu).

Half-precision reductions (the accumulation tier)
-------------------------------------------------
Where a result sums many stored terms (a ``'mean'`` or ``'sum'`` over 2^16 to 2^22 elements,
a row over a long class or feature axis), the ULPS margin is too blunt: in bfloat16 16 eps is
12.5 %, and a kernel that adds its partial sums in the half type drifts by a few units in the
last place, well inside it. Torch's CPU design for the half types is (read in
aten/src/ATen/native: ``mean_out`` in ReduceOps.cpp, "cast_fp32 -> sum -> div ->
cast_bf16_or_fp16"; the sum kernel's cascade sum with ``acc_type`` float; the element-wise
loss kernels in Loss.cpp / PointwiseOps, each operation of ``Vectorized<BFloat16>`` computed
in float32 and rounded back):

* each term is computed from the dtype's inputs, every operation rounding its result to the
  dtype: at most ``eps/2`` relative to that operation's result, so a term carries
  ``eps/2`` times the sum of the magnitudes its operations produced (``rounded``: per loss,
  derived in ``lossref.magnitudes`` (``ROUNDED``), counting the operations);
* the stored terms are summed in float32 (cascade: at most ``log2(n)`` float32 roundings of
  partial sums that are at most the sum of the terms' magnitudes; ``accumulated``);
* the result is rounded to the dtype once per operation after the sum (``final``: one for
  ``mean()`` and ``sum()``, two for a sum then divided in the dtype).

Every rounding here is counted at its worst (round to nearest: never more than half a unit),
so the bound needs no margin on the half-type part:

    |got - expected| <= eps(dtype)/2 * (final * |expected| + rounded)
                        + ULPS * eps(float32) * accumulated + eps(dtype)/2 * tiny(dtype)

:func:`accumulation_tolerance` and :func:`accumulation_scale` write it as the suite's one
comparison ``rtol * |expected| + atol * scale``. The float32 part keeps ULPS (it is 2^-19 of
the result at 2^22 terms: never what decides). A kernel that adds partial sums in the half
type adds ``eps/2`` of each partial sum per addition and fails it from a few additions on;
where torch itself does that (its CPU nll_loss: ``lossref.quirks``) it is a quirk record.
Measured (torch 2.13, CPU): torch's worst is in docs/accumulation.md, in units of this bound.

Fixture files
-------------
A fixture's arrays keep their dtype; an implementation fed them computes in the narrowest
floating one (:func:`input_dtype`), so its ``tolerance`` field is
``tolerance(input_dtype(arrays), loss)`` and, where the loss has a per-entry model
(``lossref.magnitudes``), ``scale``: :func:`magnitude_scale` of the model on the file's inputs, per
entry of the value and of each gradient, rounded up to 2 significant digits (a bound still, and the
same on a machine whose exp or log differ in the last bit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ULPS", "EPS", "TINY", "CONDITIONING", "Tolerance", "Magnitude", "eps", "tiny", "accumulation_dtype",
           "conditioning", "conditioning_reason", "tolerance", "magnitude_scale", "input_dtype",
           "accumulation_tolerance", "accumulation_scale"]

#: Units of eps(dtype) allowed for one loss evaluation (see the module docstring).
ULPS = 16

#: Machine epsilon (the spacing of floats at 1) per floating dtype, by name.
EPS: dict[str, float] = {
    "float64": 2.0 ** -52,
    "float32": 2.0 ** -23,
    "float16": 2.0 ** -10,
    "bfloat16": 2.0 ** -7,    # 8 significand bits (7 stored)
}

#: The smallest positive normal number per floating dtype, by name.
TINY: dict[str, float] = {
    "float64": 2.0 ** -1022,
    "float32": 2.0 ** -126,
    "float16": 2.0 ** -14,
    "bfloat16": 2.0 ** -126,  # float32's exponent range
}

#: The type torch combines terms in where it is not the dtype itself (the half types).
_ACCUMULATION = {"float16": "float32", "bfloat16": "float32"}

#: Losses conditioned worse than one rounding per operation: loss -> (factor, reason).
#: Every other loss has factor 1. The suite's registry records read theirs from here.
CONDITIONING: dict[str, tuple[float, str]] = {
    # float32 gradients are exp(α + β + ℓ): α, β and ℓ are log-space sums over up to T = 12
    # frames, of size |ℓ| (up to ~30 nats in the suite's draws), so their cancellation leaves
    # an absolute error ~eps·|ℓ| in the exponent, a relative error ~|ℓ|·eps in the gradient
    # that grows linearly with T (measured, float32 CPU, worst of 40 draws: 10, 15, 31, 82,
    # 162 eps at T = 3, 6, 12, 24, 48). The forward stays within ~2 eps.
    "ctc_loss": (4.0, "the gradient exp(α+β+ℓ) carries an absolute error ~eps·|ℓ| in its exponent "
                      "(ℓ = a sum over T frames): ~|ℓ|·eps relative, linear in T; 4 x 32 eps covers "
                      "T <= 12 (|ℓ| <= ~30 nats; measured worst 34 eps)"),
    "gaussian_nll_loss": (4.0, "the gradient of a broadcast var sums 1/2 (1/v - d^2/v^2) over the broadcast "
                               "axis: the two parts cancel, so the rounding follows the terms (d^2/v^2 up to "
                               "~100 for v in [0.3, 2]) rather than the result; seed sweeps (--seed 0..33) "
                               "needed up to 1.1x the base tolerance, 4 leaves room"),
}


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclass(frozen=True)
class Magnitude:
    """Per-entry magnitudes of the terms a result entry is built from (module docstring):
    ``rounded`` carries one rounding in the dtype, ``accumulated`` is combined in the
    accumulation type. Arrays broadcastable to the entry's shape, in the result's units."""

    rounded: object
    accumulated: object


def _known(dtype: str) -> str:
    if dtype not in EPS:
        raise ValueError(f"dtype {dtype!r}: expected a floating dtype name, one of {', '.join(EPS)}")
    return dtype


def eps(dtype: str) -> float:
    """Machine epsilon of the floating dtype named ``dtype`` ("float32", "bfloat16", ...)."""
    return EPS[_known(dtype)]


def tiny(dtype: str) -> float:
    """The smallest positive normal number of the dtype named ``dtype``."""
    return TINY[_known(dtype)]


def accumulation_dtype(dtype: str) -> str:
    """The type torch combines terms in: float32 for the half types, else the dtype."""
    return _ACCUMULATION.get(_known(dtype), dtype)


def conditioning(loss: str) -> float:
    """The loss's factor in :data:`CONDITIONING` (1 for the well-conditioned majority)."""
    return CONDITIONING.get(loss, (1.0, ""))[0]


def conditioning_reason(loss: str) -> str:
    """Why the loss's factor is not 1 ("" where it is)."""
    return CONDITIONING.get(loss, (1.0, ""))[1]


def tolerance(dtype: str, loss: str | None = None, *, factor: float | None = None) -> Tolerance:
    """rtol = atol = ULPS * eps(dtype) * the loss's conditioning (``factor`` instead, where
    given: a comparison that knows its own conditioning; neither: 1)."""
    if factor is None:
        factor = 1.0 if loss is None else conditioning(loss)
    t = ULPS * eps(dtype) * factor
    return Tolerance(rtol=t, atol=t)


def magnitude_scale(magnitude: Magnitude | None, dtype: str):
    """``scale`` per entry in units of ``eps(dtype)``: 1 (O(1) terms) without a magnitude, else
    ``rounded + accumulated * eps(acc) / eps(dtype) + tiny(dtype)``."""
    if magnitude is None:
        return 1.0
    # + the spacing of the dtype's subnormals (float16's 6e-8): an entry below the
    # smallest normal number cannot be held to a relative error.
    return np.asarray(magnitude.rounded) + np.asarray(magnitude.accumulated) * (
        eps(accumulation_dtype(dtype)) / eps(dtype)) + tiny(dtype)


def input_dtype(values) -> str:
    """The dtype an implementation fed ``values`` computes in: the name of the narrowest
    floating dtype among the NumPy arrays (and NumPy scalars) in ``values``; "float64" if none."""
    names = [np.dtype(v.dtype).name for v in values
             if isinstance(v, (np.ndarray, np.generic)) and np.dtype(v.dtype).kind == "f"]
    known = [n for n in names if n in EPS]
    return max(known, key=eps, default="float64")


def accumulation_tolerance(dtype: str, final: int = 1) -> Tolerance:
    """The half-precision reduction bound (module docstring, "Half-precision reductions"):
    ``rtol = final * eps/2`` (the result rounded to the dtype ``final`` times after its sum)
    and ``atol = eps/2``, for a scale from :func:`accumulation_scale`. No ULPS margin: every
    half-type rounding is counted at its worst."""
    half = eps(dtype) / 2
    return Tolerance(rtol=final * half, atol=half)


def accumulation_scale(magnitude: Magnitude, dtype: str):
    """``scale`` per entry for :func:`accumulation_tolerance`, in units of ``eps(dtype)/2``:
    ``rounded`` (each term's half-type roundings, at their worst) + ``accumulated`` (the float32
    sum's partial sums) at ULPS float32 roundings + the dtype's subnormal spacing."""
    return np.asarray(magnitude.rounded, dtype=np.float64) + np.asarray(magnitude.accumulated, dtype=np.float64) * (
        2 * ULPS * eps(accumulation_dtype(dtype)) / eps(dtype)) + tiny(dtype)
