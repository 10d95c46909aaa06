"""Oracle for ctc_loss (loss-semantics §2.21): Graves' forward-backward in log space, one
sample at a time, over the extended label l' = [b, t1, b, ..., tL, b], applied literally
(a label equal to the blank is not rejected; the skip s-2 -> s is allowed iff l'[s] != l'[s-2]).

The gradient is the true derivative with respect to ``log_probs``:
d ℓ_n / d lp[t, c] = -Σ_{s: l'[s] = c} exp(α_t(s) + β_t(s) + ℓ_n) for t < T_n, 0 after,
with β_t(s) not counting frame t's own emission.
"""

from __future__ import annotations

import numpy as np

from ._num import MP, ZERO, Num, array, exp, log, num, reduce, total, upstream

_MINUS_INF = MP.mpf("-inf")


def _lse(terms) -> Num:
    """log Σ exp(terms): the maximum out, as float64 would; no terms or all -inf: -inf."""
    terms = [t for t in terms if not (t.v == _MINUS_INF)]
    if not terms:
        return Num(_MINUS_INF)
    if any(MP.isnan(t.v) for t in terms):
        return Num(MP.nan)
    # The shift m is taken as exact: log-sum-exp does not depend on it, so its error cancels
    # (counting it in both the shifted terms and the sum would make the scale grow like 3^T).
    m = Num(max(terms, key=lambda t: t.v).v)
    return m + log(sum((exp(t - m) for t in terms), ZERO))


def _samples(log_probs, targets, input_lengths, target_lengths):
    lp = array(log_probs)
    batched = lp.ndim == 3
    if not batched:
        lp = lp[:, None, :]
    il = np.asarray(input_lengths, dtype=np.int64).reshape(-1)
    tl = np.asarray(target_lengths, dtype=np.int64).reshape(-1)
    raw = np.asarray(targets).astype(np.int64)
    labels = []
    start = 0
    for n in range(lp.shape[1]):
        if raw.ndim == 2:
            labels.append([int(v) for v in raw[n, :tl[n]]])
        else:
            labels.append([int(v) for v in raw[start:start + tl[n]]])
            start += int(tl[n])
    return lp, batched, il, tl, labels


def _lattice(lp_n, labels, frames, blank):
    ext = [blank]
    for label in labels:
        ext += [label, blank]
    width = len(ext)

    def skip(s):
        return s > 1 and ext[s] != ext[s - 2]

    alpha = [[Num(_MINUS_INF)] * width for _ in range(frames)]
    if frames:
        alpha[0][0] = lp_n[0][ext[0]]
        if width > 1:
            alpha[0][1] = lp_n[0][ext[1]]
    for t in range(1, frames):
        for s in range(width):
            terms = [alpha[t - 1][s]] + ([alpha[t - 1][s - 1]] if s > 0 else []) + (
                [alpha[t - 1][s - 2]] if skip(s) else [])
            alpha[t][s] = _lse(terms) + lp_n[t][ext[s]]
    ends = [width - 1] + ([width - 2] if labels else [])
    beta = [[Num(_MINUS_INF)] * width for _ in range(frames)]
    if frames:
        for s in ends:
            beta[frames - 1][s] = Num(0)
    for t in range(frames - 2, -1, -1):
        for s in range(width):
            terms = [beta[t + 1][s] + lp_n[t + 1][ext[s]]]
            if s + 1 < width:
                terms.append(beta[t + 1][s + 1] + lp_n[t + 1][ext[s + 1]])
            if s + 2 < width and skip(s + 2):
                terms.append(beta[t + 1][s + 2] + lp_n[t + 1][ext[s + 2]])
            beta[t][s] = _lse(terms)
    if frames == 0:
        nll = Num(0) if not labels else Num(MP.inf)
    else:
        nll = -_lse([alpha[frames - 1][s] for s in ends])
    return ext, alpha, beta, nll


def _per_sample(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
    lp, batched, il, tl, labels = _samples(log_probs, targets, input_lengths, target_lengths)
    out = []
    for n in range(lp.shape[1]):
        frames = int(il[n])
        lp_n = lp[:frames, n, :]
        ext, alpha, beta, nll = _lattice(lp_n, labels[n], frames, blank)
        infinite = nll.v == MP.inf
        out.append((ext, alpha, beta, Num(0) if (zero_infinity and infinite) else nll, infinite, frames))
    return lp, batched, tl, out


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    lp, batched, tl, samples = _per_sample(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
    loss = np.empty(len(samples), dtype=object)
    for n, (*_, nll, _, _) in enumerate(samples):
        loss[n] = nll / num(max(int(tl[n]), 1)) if reduction == "mean" else nll
    out = reduce(loss, reduction)
    return out if batched or reduction != "none" else out.reshape(())


def ctc_loss_vjp(grad_output, log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
                 zero_infinity=False):
    lp, batched, tl, samples = _per_sample(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
    frames_total, batch, classes = lp.shape
    g = upstream(grad_output, reduction, (batch,))
    grad = np.empty(lp.shape, dtype=object)
    for index in np.ndindex(lp.shape):
        grad[index] = ZERO
    for n, (ext, alpha, beta, nll, infinite, frames) in enumerate(samples):
        if zero_infinity and infinite:
            continue
        gn = g[n] / num(max(int(tl[n]), 1)) if reduction == "mean" else g[n]
        for t in range(frames):
            for c in range(classes):
                positions = [s for s in range(len(ext)) if ext[s] == c]
                if infinite:
                    share = Num(MP.nan)
                else:
                    share = sum((exp(alpha[t][s] + beta[t][s] + nll) for s in positions
                                 if alpha[t][s].v != _MINUS_INF and beta[t][s].v != _MINUS_INF), ZERO)
                grad[t, n, c] = -(share * gn)
    if not batched:
        grad = grad[:, 0, :]
    return grad, None, None, None   # one per array parameter: the rest are integers
