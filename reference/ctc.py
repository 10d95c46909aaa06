"""Connectionist Temporal Classification: ``ctc_loss`` and its gradient.

The loss of one sample is the negative log of the total probability of every alignment
of its target to its input frames (Graves et al. 2006, eq. 6-8), computed in log space
over the *extended* label sequence ``l' = [b, t1, b, t2, ..., tL, b]`` (``b`` the blank).
The recursion runs over time in a Python loop and is vectorised over the batch and over
the label positions: every sample's extended label is padded to the longest one and the
padding is masked with ``-inf`` (probability 0), so it never contributes.

As torch does, the recursion is applied *literally*: a target label equal to the blank
is not rejected (the skip rule compares labels, nothing else), the log-probabilities are
used as given (no normalisation), and an alignment that cannot exist (a repeated label
with no frame for the blank between, more labels than frames) gives ``+inf``.
"""

from __future__ import annotations

__all__ = ["ctc_loss", "ctc_loss_backward"]

import operator

import numpy as np

from ._common import as_float, check_reduction, reduce, unreduce


# --- checking and unpacking the arguments ----------------------------------------------

def _lengths(name: str, value, batch: int) -> np.ndarray:
    """One non-negative integer length per sample, as int64 of shape (N,).

    torch takes an integer tensor, list or tuple of any shape and reads its elements in
    order (an unbatched call takes a 0-d or one-element length); floats and booleans are
    refused.
    """
    raw = np.asarray(value)
    if raw.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer lengths (an integer array, list or tuple), got dtype {raw.dtype}")
    lengths = np.array(raw, dtype=np.int64).reshape(-1)
    if lengths.size != batch:
        raise ValueError(f"{name} must have one entry per sample (batch size {batch}), got {lengths.size}")
    if np.any(lengths < 0):
        raise ValueError(f"{name} must be non-negative, got {int(lengths.min())}")
    return lengths


def _targets(value, target_lengths: np.ndarray, classes: int, blank: int) -> np.ndarray:
    """Each sample's target labels as one (N, max L) array, from a padded (N, S) or a
    concatenated 1-D array; entries past a sample's length hold the blank (never read)."""
    raw = np.asarray(value)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"targets must be a numeric array of class indices, got dtype {raw.dtype}")
    # torch casts targets of any dtype to int64: float labels are truncated toward zero.
    labels = raw.astype(np.int64)
    batch = target_lengths.size
    longest = int(target_lengths.max(initial=0))
    inside = np.arange(longest)[None, :] < target_lengths[:, None]      # (N, max L)
    if labels.ndim == 2:
        if labels.shape[0] != batch:
            raise ValueError(f"padded targets must have one row per sample ({batch}), got {labels.shape[0]} rows")
        if labels.shape[1] < longest:
            raise ValueError(f"padded targets must be at least as wide as the longest target ({longest}), "
                             f"got shape {labels.shape}")
        picked = labels[:, :longest]
    elif labels.ndim == 1:
        total = int(target_lengths.sum())
        if labels.shape[0] != total:
            raise ValueError(f"concatenated 1-D targets must have sum(target_lengths) = {total} entries, "
                             f"got {labels.shape[0]}")
        starts = np.cumsum(target_lengths) - target_lengths              # where each target begins
        index = np.where(inside, starts[:, None] + np.arange(longest)[None, :], 0)
        picked = labels[index] if total else np.zeros(inside.shape, dtype=np.int64)
    else:
        raise ValueError(f"targets must be 1-D (concatenated) or 2-D (N, S) (padded), got {labels.ndim} dimensions")
    bad = inside & ((picked < 0) | (picked >= classes))
    if np.any(bad):
        # torch reads arbitrary memory here on CPU (and faults on CUDA): no value to follow.
        raise IndexError(f"targets holds class index {int(picked[bad][0])}, outside [0, {classes})")
    return np.where(inside, picked, blank)


def _unpack(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity):
    """Check everything torch checks; return (lp as (T, N, C), labels, il, tl, blank, batched)."""
    check_reduction(reduction)
    if not isinstance(zero_infinity, (bool, np.bool_)):
        raise TypeError(f"zero_infinity must be a bool, got {type(zero_infinity).__name__}")
    lp = as_float("log_probs", log_probs)
    if lp.ndim not in (2, 3):
        raise ValueError(f"log_probs must be (T, N, C) or unbatched (T, C), got {lp.ndim} dimensions")
    batched = lp.ndim == 3
    if not batched:
        lp = lp[:, None, :]
    if lp.size == 0:
        raise ValueError(f"log_probs must not be empty, got shape {lp.shape if batched else lp.shape[::2]}")
    frames, batch, classes = lp.shape
    try:
        if isinstance(blank, (bool, np.bool_)):   # torch's binding takes an int, not a bool
            raise TypeError
        blank = operator.index(blank)
    except TypeError:
        raise TypeError(f"blank must be an integer class index, got {type(blank).__name__}") from None
    if not 0 <= blank < classes:
        raise ValueError(f"blank must be a class index in [0, {classes}), got {blank}")
    il = _lengths("input_lengths", input_lengths, batch)
    tl = _lengths("target_lengths", target_lengths, batch)
    if np.any(il > frames):
        raise ValueError(f"input_lengths must be at most the number of frames T = {frames}, got {int(il.max())}")
    labels = _targets(targets, tl, classes, blank)
    return lp, labels, il, tl, blank, batched


# --- the recursion ---------------------------------------------------------------------

def _logsumexp3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """log(e^a + e^b + e^c) elementwise, shifted by the maximum so nothing overflows.

    Called once per frame: the caller silences divide and invalid (log 0, inf - inf) around
    its loop, and the sums are formed in place (the per-call cost is what CTC's time is).
    """
    m = np.maximum(np.maximum(a, b), c)  # np.maximum propagates nan, as torch's kernel does
    # All three -inf (no path): shift by 0 so the result is log(0) = -inf, not -inf - -inf = nan.
    np.copyto(m, 0.0, where=m == -np.inf)
    total = np.exp(a - m)
    total += np.exp(b - m)
    total += np.exp(c - m)
    np.log(total, out=total)
    total += m
    return total


def _lattice(lp: np.ndarray, labels: np.ndarray, lengths: np.ndarray, blank: int):
    """The extended labels and the per-frame emissions over them, padded and masked.

    Returns ``ext`` (N, S) labels, ``valid`` (N, S) (position inside ``l'``), ``skip``
    (N, S) (the transition s-2 -> s is allowed: a label different from the one two back,
    compared literally) and ``emit(t)`` (N, S) = lp[t, n, l'[n, s]], -inf off ``l'``.
    ``emit`` gathers one frame when asked: a (T, N, S) array of them would be (2S+1)/C
    times the input (3.2x at T=200, N=16, C=32, S=50).
    """
    frames, batch, _ = lp.shape
    width = 2 * labels.shape[1] + 1
    ext = np.full((batch, width), blank, dtype=np.int64)
    ext[:, 1::2] = labels            # labels at the odd positions, blanks between and around
    positions = np.arange(width)
    valid = positions[None, :] < (2 * lengths[:, None] + 1)
    skip = np.zeros_like(valid)
    skip[:, 2:] = (ext[:, 2:] != ext[:, :-2]) & valid[:, 2:]
    rows = np.arange(batch)[:, None]

    def emit(t: int) -> np.ndarray:
        e = lp[t][rows, ext]                                     # (N, S)
        np.copyto(e, -np.inf, where=~valid)                      # padding: probability 0
        return e
    return ext, valid, skip, emit


def _alpha(emit, frames: int, skip: np.ndarray, last_frame: np.ndarray, keep: bool):
    """Forward variables: alpha[t, n, s] = log P(l'[:s+1] emitted by frames 0..t, ending at s).

    Returns all of them (T, N, S) if ``keep`` (the backward needs them; else None: only two
    frames are held) and, (N, S), each sample's alpha at its ``last_frame`` (-inf if < 0).
    """
    batch, width = skip.shape
    # Two -inf columns before position 0, so that s-1 and s-2 are views, not shifted copies.
    padded = np.full((frames if keep else 2, batch, width + 2), -np.inf)
    padded[0, :, 2:4] = emit(0)[:, :2]   # start at the first blank or the first label (-inf if L = 0)
    at_last = np.where((last_frame == 0)[:, None], padded[0, :, 2:], -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(1, frames):
            prev, alpha = (padded[t - 1], padded[t]) if keep else (padded[(t - 1) % 2], padded[t % 2])
            alpha[:, 2:] = _logsumexp3(prev[:, 2:], prev[:, 1:-1], np.where(skip, prev[:, :-2], -np.inf))
            alpha[:, 2:] += emit(t)
            ending = last_frame == t
            at_last[ending] = alpha[ending, 2:]
    return (padded[:, :, 2:] if keep else None), at_last


def _end_mask(lengths: np.ndarray, width: int) -> np.ndarray:
    """(N, S): the two positions a complete alignment may end on (2L and 2L-1; only 0 if L = 0)."""
    s = np.arange(width)[None, :]
    end = 2 * lengths[:, None]
    return (s == end) | ((s == end - 1) & (lengths[:, None] > 0))


def _forward(lp, labels, il, lengths, blank, keep=False):
    """Per-sample negative log-likelihood (N,), with the lattice (alpha only if ``keep``) for the backward."""
    ext, valid, skip, emit = _lattice(lp, labels, lengths, blank)
    alpha, last = _alpha(emit, lp.shape[0], skip, il - 1, keep)  # last: alpha at each sample's last frame
    batch, width = ext.shape
    ends = np.where(_end_mask(lengths, width), last, -np.inf)
    m = np.max(ends, axis=1, keepdims=True)
    m = np.where(m == -np.inf, 0.0, m)                         # no path at all: log(0) = -inf, not nan
    with np.errstate(divide="ignore", invalid="ignore"):
        nll = -(np.log(np.sum(np.exp(ends - m), axis=1)) + m[:, 0])
    # No frames: the empty alignment exists only for the empty target.
    nll = np.where(il == 0, np.where(lengths == 0, 0.0, np.inf), nll)
    return nll, (ext, valid, skip, emit, alpha)


def _scaled(loss: np.ndarray, tl: np.ndarray, reduction: str) -> np.ndarray:
    """'mean' divides each sample by its target length (at least 1) before averaging."""
    return loss / np.maximum(tl, 1) if reduction == "mean" else loss


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    r"""CTC loss: the negative log-probability of all alignments of each target to its input.

    With ``l'`` the extended label (length ``2L+1``), ``lp = log_probs`` and the log-space
    forward variables (``lse`` = log-sum-exp)::

        α_0(0) = lp[0, b],  α_0(1) = lp[0, t1] (if L > 0),  α_0(s > 1) = -inf
        α_t(s) = lse(α_{t-1}(s), α_{t-1}(s-1), α_{t-1}(s-2) if s > 1 and l'[s] != l'[s-2]) + lp[t, l'[s]]
        ℓ_n    = -lse(α_{T_n-1}(2L), α_{T_n-1}(2L-1))          (L = 0: -α_{T_n-1}(0))
        T_n = 0:  ℓ_n = 0 if L = 0 else +inf

    ``zero_infinity`` replaces a ``+inf`` per-sample loss by 0 (nan stays nan).
    ``'mean'`` = mean_n(ℓ_n / max(L_n, 1)); ``'sum'`` = Σ ℓ_n; ``'none'``: (N,), or 0-d
    for an unbatched (T, C) ``log_probs``.

    ``targets`` is padded (N, S) (row n uses its first L_n entries) or the concatenation
    of all targets (1-D, exactly Σ L_n long); any numeric dtype, truncated to integers.
    ``input_lengths`` and ``target_lengths`` are integer arrays, lists or tuples.
    """
    lp, labels, il, tl, blank, batched = _unpack(log_probs, targets, input_lengths, target_lengths, blank,
                                                 reduction, zero_infinity)
    nll, _ = _forward(lp, labels, il, tl, blank)
    if zero_infinity:
        nll = np.where(nll == np.inf, 0.0, nll)
    out = reduce(_scaled(nll, tl, reduction), reduction)
    return out if batched or reduction != "none" else out.reshape(())


def _beta(emit, frames: int, skip: np.ndarray, il: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Backward variables that do NOT include frame t's own emission.

    beta[t, n, s] = log P(frames t+1 .. T_n-1 complete the alignment | at position s at t),
    so alpha_t(s) + beta_t(s) counts lp[t, l'[s]] exactly once: it is the log of the total
    probability of the alignments through (t, s). beta[T_n - 1] is 0 on the two end
    positions; frames t >= T_n get -inf (no alignment uses them).
    """
    batch, width = skip.shape
    beta = np.full((frames, batch, width), -np.inf)
    start = np.where(ends, 0.0, -np.inf)
    skip_from = np.zeros_like(skip)
    skip_from[:, :-2] = skip[:, 2:]             # s -> s+2 allowed iff skip[s+2]
    # Two -inf columns after the last position, so that s+1 and s+2 are views, not shifted copies.
    nxt = np.full((batch, width + 2), -np.inf)
    step = np.full_like(start, -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(frames - 1, -1, -1):
            if t + 1 < frames:
                np.add(beta[t + 1], emit(t + 1), out=nxt[:, :width])   # continue by emitting frame t+1
                step = _logsumexp3(nxt[:, :width], nxt[:, 1:-1], np.where(skip_from, nxt[:, 2:], -np.inf))
            here = (il - 1 == t)[:, None]
            beta[t] = np.where(here, start, np.where((t < il - 1)[:, None], step, -np.inf))
    return beta


def ctc_loss_backward(grad_output, log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
                      zero_infinity=False):
    r"""The true derivative of ``ctc_loss`` with respect to ``log_probs``.

    The probability of the target is ``p = Σ_paths Π_t exp(lp[t, π_t])``; each path through
    label ``c`` at frame ``t`` contains ``exp(lp[t, c])`` exactly once, so
    ``∂p/∂lp[t, c]`` is the probability of the paths through ``(t, c)``:
    ``Σ_{s: l'[s] = c} exp(α_t(s) + β_t(s))`` with β (see ``_beta``) not counting frame
    ``t``. Hence, for t < T_n::

        ∂ℓ_n/∂lp[t, n, c] = -Σ_{s: l'[s] = c} exp(α_t(s) + β_t(s) + ℓ_n)

    and 0 for t >= T_n (frames past the input length are never read). α + β + ℓ ≤ 0 (a
    part of p over p), so the sum is taken in probability space without overflow. Times
    the reduction's weight: g_n ('none'), g ('sum'), g / (N · max(L_n, 1)) ('mean').
    A ``+inf`` loss (no alignment) gives nan for every t < T_n (α + β = -inf, ℓ = inf), as
    torch; with ``zero_infinity`` those samples get 0.

    torch's autograd returns this plus ``exp(lp)`` (the gradient with respect to logits
    behind a ``log_softmax``); the two agree once carried through a ``log_softmax``.
    Returns one entry per array parameter (log_probs, targets, input_lengths,
    target_lengths): (grad_log_probs, None, None, None): targets and lengths are integers.
    """
    lp, labels, il, tl, blank, batched = _unpack(log_probs, targets, input_lengths, target_lengths, blank,
                                                 reduction, zero_infinity)
    nll, (ext, valid, skip, emit, alpha) = _forward(lp, labels, il, tl, blank, keep=True)
    frames, batch, classes = lp.shape
    beta = _beta(emit, frames, skip, il, _end_mask(tl, ext.shape[1]))
    share = alpha                                               # (T, N, S): share of p through (t, s),
    with np.errstate(invalid="ignore"):                         # formed in place (alpha is ours)
        share += beta
        del beta
        share += nll[None, :, None]
        np.exp(share, out=share)
    onehot = (ext[:, :, None] == np.arange(classes)) & valid[:, :, None]   # (N, S, C): l'[s] = c
    with np.errstate(invalid="ignore"):
        # -Σ_s share[t, n, s] [l'[n, s] = c]: for each n a (T, S) @ (S, C) matrix product
        # (as einsum "tns,nsc->tnc" it took 17 ms of 100 at T=200, N=16, C=32, S=50).
        grad = -np.matmul(share.transpose(1, 0, 2), onehot.astype(np.float64)).transpose(1, 0, 2)
    g = unreduce(grad_output, reduction, (batch,))
    if reduction == "mean":
        g = g / np.maximum(tl, 1)
    with np.errstate(invalid="ignore"):
        grad = grad * g[None, :, None]
    used = np.arange(frames)[:, None] < il[None, :]               # (T, N): frame read by the loss
    keep = used & ~(zero_infinity & (nll == np.inf))[None, :]     # zero_infinity: infinite samples get 0
    grad = np.where(keep[:, :, None], grad, 0.0)
    if not batched:
        grad = grad[:, 0, :]
    return grad, None, None, None
