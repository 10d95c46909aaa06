"""Registry records for reference/embedding.py: cosine_embedding_loss, triplet_margin_loss and
triplet_margin_with_distance_loss.

Random samples are drawn away from every kink by a gap (``KINK_GAP``) far wider than
float16 rounding of the inputs (~1e-3), so that torch in low precision and the float64
reference always sit on the same side: ``cos = margin`` (cosine, y = -1), ``z = 0`` (the
triplet clamp), ``d(a,n) = d(p,n)`` (swap's minimum), a zero coordinate of the difference
(p = 1's sign, p < 1's singular power) and a tie for the largest |coordinate| (p = inf).
The kinks themselves are edge samples with exact values.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import Both, ErrorCase, magnitudes, LossRecord, Sample, pairwise, shape_tags

KINK_GAP = 0.05
D = 4
N = 6

# --- cosine_embedding_loss -----------------------------------------------------------

#: (input1 shape, input2 shape, target shape) by kind: unbatched with a 0-d target, batch
#: of one, batched, input2 broadcast over the batch.
COSINE_SHAPES = {
    "D": ((D,), (D,), ()),
    "1D": ((1, D), (1, D), (1,)),
    "ND": ((N, D), (N, D), (N,)),
    "bcast": ((N, D), (1, D), (N,)),
}
#: Target kinds: labels ±1 as int64 or as floats (cast to the dtype under test), and int64
#: with other values (0 and 2 give loss 0).
COSINE_TARGETS = {
    "int": (np.array([1, -1, -1, 1, -1, 1]), np.int64),
    "float": (np.array([-1, 1, -1, 1, 1, -1]), np.float64),
    "other": (np.array([1, -1, 0, 2, -1, 1]), np.int64),
}


def _cosine(x1, x2):
    """torch's formula, only to keep random draws away from the kink."""
    den = np.sqrt((np.sum(x1 * x1, -1) + 1e-12) * (np.sum(x2 * x2, -1) + 1e-12))
    return np.sum(x1 * x2, -1) / den


def _cosine_inputs(rng, shapes, labels, margin):
    """input1, input2 with cosines spread over (-1, 1) (input2 mixes in a random multiple of
    input1), redrawn until no y = -1 row is within KINK_GAP of the margin and, when the batch
    allows it, y = -1 rows fall on both sides of it."""
    s1, s2, _ = shapes
    fallback = None
    for attempt in range(500):
        x1 = rng.normal(size=s1)
        x2 = rng.normal(size=s2)
        mix = rng.uniform(-2.0, 2.0, size=np.broadcast_shapes(s1, s2)[:-1] + (1,))
        if s2 == s1:
            x2 = x2 + mix * x1
        else:  # input2 is shared: move input1 towards it instead
            x1 = x1 + mix * x2
        cos = np.broadcast_to(_cosine(x1, x2), labels.shape)
        neg = cos[labels == -1]
        if np.any(np.abs(neg - margin) < KINK_GAP):
            continue
        both_sides = np.any(neg > margin) and np.any(neg < margin)
        if both_sides or labels.size < 4:
            return x1, x2
        fallback = fallback or (x1, x2)
    assert fallback is not None, "could not draw cosine inputs away from the kink"
    return fallback


def _cosine_samples():
    grid = dict(shape=list(COSINE_SHAPES), margin=[None, 0.5, -0.5], target=list(COSINE_TARGETS),
                reduction=["none", "mean", "sum"])
    for row in pairwise(grid):
        def build(rng, row=row):
            shapes = COSINE_SHAPES[row["shape"]]
            values, dtype = COSINE_TARGETS[row["target"]]
            labels = values[: int(np.prod(shapes[2], dtype=int))].reshape(shapes[2]).astype(dtype)
            margin = 0.0 if row["margin"] is None else row["margin"]
            x1, x2 = _cosine_inputs(rng, shapes, labels, margin)
            kwargs = {"reduction": row["reduction"]}
            if row["margin"] is not None:
                kwargs["margin"] = row["margin"]
            return (x1, x2, labels), kwargs
        margin = "" if row["margin"] is None else f"-margin{row['margin']}"
        yield Sample(f"{row['shape']}-{row['target']}{margin}-{row['reduction']}", build,
                     tags=shape_tags(row["shape"]))

    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, D)), np.zeros((0, D)), np.zeros(0, dtype=np.int64)), {"reduction": r}),
                tags={"edge", "empty", "empty-batch"})
    # A zero vector has cos = 0 (EPSILON 1e-12 in each squared norm), so y = 1 costs 1 and
    # y = -1 with margin -0.5 costs 0.5 with a gradient of size 1/sqrt(1e-12 |x|^2).
    # float16 cannot hold 1e-12 (it rounds to 0, so torch gets 0/0 = nan there): the
    # reference computes in float64 by contract, so float16 is left out.
    yield Sample("edge-zero-vectors", lambda rng: (
        (np.array([[0.0, 0, 0], [1, 2, 3], [0, 0, 0], [0, 0, 0], [2, -1, 0]]),
         np.array([[1.0, 2, 3], [0, 0, 0], [0, 0, 0], [1, -1, 2], [0, 0, 0]]),
         np.array([1, 1, 1, -1, -1])), {"margin": -0.5, "reduction": "none"}),
        dtypes=(torch.float64, torch.float32, torch.bfloat16), tags={"edge"})
    # Orthogonal vectors: cos = 0 exactly = margin: the kink (subgradient 0; 1 up to torch 2.13).
    yield Sample("edge-kink-cos-equals-margin", lambda rng: (
        (np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[0.0, 3.0], [5.0, 0.0]]), np.array([-1, -1])),
        {"margin": 0.0, "reduction": "sum"}), tags={"edge", "kink"})
    # Parallel and antiparallel: 1 - cos cancels to ~0; cos = -1 far below the margin.
    yield Sample("edge-parallel", lambda rng: (
        (np.array([[1.0, -2.0, 0.5], [0.5, 1.5, -1.0]]), np.array([[2.0, -4.0, 1.0], [-0.5, -1.5, 1.0]]),
         np.array([1, -1])), {"reduction": "none"}), tags={"edge"})
    yield Sample("edge-nan-input", lambda rng: (
        (np.array([[np.nan, 1.0, 2.0], [1.0, 0.5, -1.0], [0.5, 2.0, 1.0]]), rng.normal(size=(3, 3)),
         np.array([1, -1, 0])), {"reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-inf-input", lambda rng: (
        (rng.normal(size=(3, 3)), np.array([[1.0, np.inf, 2.0], [1.0, 0.5, -1.0], [0.5, -np.inf, 1.0]]),
         np.array([1, 1, -1])), {"reduction": "none"}), tags={"edge", "non-finite"})
    # D = 0: both squared norms are just the 1e-12, cos = 0 (float16 left out, as for zero vectors).
    yield Sample("edge-zero-size-last-dim", lambda rng: (
        (np.zeros((3, 0)), np.zeros((3, 0)), np.array([1, -1, 1])), {"reduction": "none"}),
        dtypes=(torch.float64, torch.float32, torch.bfloat16), tags={"edge", "empty"})
    # input2 (N, 1) broadcasts along D; its squared norm is taken BEFORE broadcasting (torch).
    yield Sample("edge-broadcast-last-dim", lambda rng: (
        (rng.normal(size=(3, D)), np.array([[0.7], [-1.2], [2.0]]), np.array([1, 1, -1])),
        {"margin": -0.9, "reduction": "none"}), tags={"edge", "broadcast"})
    yield Sample("edge-broadcast-target", lambda rng: (
        (rng.normal(size=(N, D)), rng.normal(size=(N, D)), np.array([1])), {"reduction": "none"}),
            tags={"edge", "broadcast"})
    yield Sample("edge-broadcast-inputs-over-target", lambda rng: (
        (np.array([[1.0, 2.0, -0.5]]), np.array([[-1.0, 0.5, 2.0]]), np.array([1, -1, 1, 0])),
        {"margin": -0.5, "reduction": "none"}), tags={"edge", "broadcast"})
    yield Sample("edge-bool-target", lambda rng: (
        (rng.normal(size=(3, D)), rng.normal(size=(3, D)), np.array([True, False, True])), {"reduction": "sum"}),
            tags={"edge", "non-float"})
    # torch promotes integer inputs (to the default float32): no gradient; run once, as float32.
    yield Sample("edge-integer-inputs", lambda rng: (
        (np.array([[1, 2, 0], [0, -1, 3]]), np.array([[2, 1, 1], [1, 1, 0]]), np.array([1, -1])),
        {"reduction": "none"}), dtypes=(torch.float32,), tags={"edge", "non-float"})


def _cosine_errors():
    x = np.ones((3, D))
    y = np.array([1, -1, 1])
    yield ErrorCase("multi-target", (x, x, np.ones((3, 1), dtype=np.int64)), {},
                    RuntimeError, r"0D or 1D target tensor expected, multi-target not supported",
                    ValueError, r"target must be 0-d or 1-D")
    yield ErrorCase("1d-target-1d-inputs", (np.ones(D), np.ones(D), np.array([1])), {},
                    RuntimeError, r"1D target tensor expects 2D input tensors, but found inputs with sizes \[4\] and \[4\]",
                    ValueError, r"1-D target needs 2-D \(N, D\) input1 and input2")
    yield ErrorCase("0d-target-2d-inputs", (x, x, np.array(1)), {},
                    RuntimeError, r"0D target tensor expects 1D input tensors",
                    ValueError, r"0-d target needs 1-D \(D\) input1 and input2")
    yield ErrorCase("1d-target-input2-1d", (x, np.ones(D), y), {},
                    RuntimeError, r"1D target tensor expects 2D input tensors, but found inputs with sizes \[3, 4\] and \[4\]",
                    ValueError, r"input1 and input2.*\(4,\)")
    yield ErrorCase("target-length-mismatch", (x, x, np.array([1, -1])), {},
                    RuntimeError, r"The size of tensor a \(2\) must match the size of tensor b \(3\)",
                    ValueError, r"target \(2,\)")
    yield ErrorCase("last-dim-mismatch", (x, np.ones((3, D + 1)), y), {},
                    RuntimeError, r"The size of tensor a \(4\) must match the size of tensor b \(5\)",
                    ValueError, r"input1 \(3, 4\), input2 \(3, 5\)")
    yield ErrorCase("unknown-reduction", (x, x, y), {"reduction": "average"},
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")


# --- triplet_margin_loss and triplet_margin_with_distance_loss ------------------------

#: (anchor, positive, negative) shapes by kind: unbatched, batch of one, batched, an extra
#: leading dimension (the loss keeps both), positive broadcast over the batch.
TRIPLET_SHAPES = {
    "D": ((D,), (D,), (D,)),
    "1D": ((1, D), (1, D), (1, D)),
    "ND": ((N, D), (N, D), (N, D)),
    "NKD": ((2, 3, D), (2, 3, D), (2, 3, D)),
    "bcast": ((N, D), (1, D), (N, D)),
}


def _pairwise_distance(u, v, p=2.0, eps=1e-6):
    """torch.pairwise_distance, only to keep random draws away from the kinks."""
    x = u - v + eps
    if p == np.inf:
        return np.max(np.abs(x), -1)
    return np.sum(np.abs(x) ** p, -1) ** (1 / p)


def _far_from_kinks(a, pos, neg, distance, margin, swap, p=None, eps=0.0):
    """True when every kink is at least KINK_GAP away (see the module docstring)."""
    d_ap, d_an = distance(a, pos), distance(a, neg)
    d_neg = d_an
    if swap:
        d_pn = distance(pos, neg)
        if np.any(np.abs(d_an - d_pn) < KINK_GAP):
            return False
        d_neg = np.minimum(d_an, d_pn)
    if np.any(np.abs(margin + d_ap - d_neg) < KINK_GAP):
        return False
    if p is not None:
        for u, v in ((a, pos), (a, neg), (pos, neg)):
            x = np.abs(u - v + eps)
            if p <= 1 and np.any(x < KINK_GAP):
                return False
            if p == np.inf and x.shape[-1] > 1:
                top = np.sort(x, axis=-1)
                if np.any(top[..., -1] - top[..., -2] < KINK_GAP):
                    return False
    return True


def _both_sides(a, pos, neg, distance, margin, swap):
    d_neg = distance(a, neg)
    if swap:
        d_neg = np.minimum(d_neg, distance(pos, neg))
    z = margin + distance(a, pos) - d_neg
    return np.any(z > 0) and np.any(z < 0)


#: Kink-free draws tried for a batch with rows on both sides of the clamp (_triplet_inputs).
BOTH_SIDES_TRIES = 50


def _triplet_inputs(rng, shapes, distance, margin, swap, p=None, eps=0.0, both=True):
    """anchor ~ N(0, 1); positive and negative near it, the negative at a spread that varies
    by row, so that some rows are inside the margin and some beyond it. Redrawn until every
    kink is KINK_GAP away and (when the batch has 4 rows or more) both sides of the clamp occur.

    Both sides cannot always occur: a cosine distance is at most 2, so with margin 2 every row
    is inside the margin. After BOTH_SIDES_TRIES kink-free draws the first one is kept (a
    thousand draws of such a sample cost 0.15 s each time it is built)."""
    sa, sp, sn = shapes
    fallback, kink_free = None, 0
    for attempt in range(1000):
        a = rng.normal(size=sa)
        near = a if sp == sa else a.reshape(-1, sa[-1])[:1].reshape(sp)  # a shared positive: near row 0
        pos = near + rng.normal(0.0, 0.6, size=sp)
        spread = rng.uniform(0.3, 3.0, size=sn[:-1] + (1,))
        neg = a + rng.normal(size=sn) * spread
        if not _far_from_kinks(a, pos, neg, distance, margin, swap, p, eps):
            continue
        rows = int(np.prod(np.broadcast_shapes(sa, sp, sn)[:-1], dtype=int))
        if rows < 4 or not both or _both_sides(a, pos, neg, distance, margin, swap):
            return a, pos, neg
        fallback, kink_free = fallback or (a, pos, neg), kink_free + 1
        if kink_free >= BOTH_SIDES_TRIES:
            break
    assert fallback is not None, "could not draw triplets away from the kinks"
    return fallback


def _triplet_samples():
    grid = dict(shape=list(TRIPLET_SHAPES), p=[1, 2, 3, np.inf], margin=[None, 0.5, 2.0],
                eps=[None, 0.0, 0.1], swap=[False, True], reduction=["none", "mean", "sum"],
                call=["keywords", "positional"])
    for row in pairwise(grid):
        yield _triplet_sample(row)
    # The other branches of torch's norm_backward: 1 < p < 2, p < 1, negative p.
    yield _triplet_sample(dict(shape="ND", p=1.5, margin=None, eps=None, swap=True, reduction="none", call="keywords"))
    yield _triplet_sample(dict(shape="ND", p=0.5, margin=None, eps=None, swap=False, reduction="sum", call="keywords"))
    yield _triplet_sample(dict(shape="ND", p=-1.0, margin=None, eps=None, swap=False, reduction="none",
                               call="keywords"))
    # p = 0 counts the nonzero coordinates: the loss is the margin, and torch has no gradient.
    yield _triplet_sample(dict(shape="ND", p=0, margin=None, eps=None, swap=True, reduction="mean", call="keywords"))
    yield from _triplet_edges()


def _triplet_sample(row):
    p = float(row["p"])
    margin = 1.0 if row["margin"] is None else row["margin"]
    eps = 1e-6 if row["eps"] is None else row["eps"]

    def build(rng):
        if p == 0:  # a count of nonzero coordinates: no kink to avoid, every row inside the margin
            a, pos, neg = _triplet_inputs(rng, TRIPLET_SHAPES[row["shape"]], lambda u, v: np.zeros(u.shape[:-1]),
                                          margin, False, both=False)
        else:
            a, pos, neg = _triplet_inputs(rng, TRIPLET_SHAPES[row["shape"]],
                                          lambda u, v: _pairwise_distance(u, v, p, eps), margin, row["swap"], p, eps)
        if row["call"] == "positional":
            return (a, pos, neg, margin, p, eps, row["swap"]), {"reduction": row["reduction"]}
        kwargs = {"p": p, "swap": row["swap"], "reduction": row["reduction"]}
        if row["margin"] is not None:
            kwargs["margin"] = row["margin"]
        if row["eps"] is not None:
            kwargs["eps"] = row["eps"]
        return (a, pos, neg), kwargs

    parts = [row["shape"], f"p{row['p']:g}"]
    parts += [] if row["margin"] is None else [f"margin{row['margin']}"]
    parts += [] if row["eps"] is None else [f"eps{row['eps']}"]
    parts += ["swap"] if row["swap"] else []
    parts += ["positional"] if row["call"] == "positional" else []
    return Sample("-".join(parts + [row["reduction"]]), build, tags=shape_tags(row["shape"]))


def _triplet_edges():
    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, D)), np.zeros((0, D)), np.zeros((0, D))), {"reduction": r}),
                tags={"edge", "empty", "empty-batch"})
    # anchor == positive: d(a, p) = ||eps||_2 = 1e-6 sqrt(D), gradient eps/||eps|| = 1/sqrt(D)
    # per coordinate (the negative is close, so the loss is active).
    yield Sample("edge-identical-anchor-positive", lambda rng: (
        (np.array([[1.0, -0.5, 2.0, 0.0], [0.3, 0.2, -1.0, 1.5]]),) * 2
        + (np.array([[1.5, -0.5, 2.0, 0.5], [0.3, 0.7, -1.0, 1.0]]),), {"reduction": "none"}), tags={"edge"})
    # eps = 0 and anchor == positive: the difference is exactly 0, torch's subgradient is 0
    # for every p (p = 2, p > 2: masked where the norm is 0; p = 1: sign(0); p = inf: sign(0)
    # on every tied entry; p < 1: masked where the entry is 0).
    for p in (1.0, 2.0, 3.0, np.inf, 0.5):
        yield Sample(f"edge-identical-eps0-p{p:g}", lambda rng, p=p: (
            (np.array([[1.0, -0.5, 2.0]]), np.array([[1.0, -0.5, 2.0]]), np.array([[2.0, 0.5, 1.0]])),
            # margin 10: z = 10 - d_- > 0 for every p, so the norm's subgradient at the zero
            # difference is what the gradient shows (not the hinge's kink).
            {"eps": 0.0, "p": p, "swap": True, "margin": 10.0, "reduction": "sum"}), tags={"edge"})
    yield Sample("edge-zero-vectors", lambda rng: (
        (np.zeros((2, D)), np.zeros((2, D)), np.zeros((2, D))), {"swap": True, "reduction": "none"}), tags={"edge"})
    # margin + d(a,p) - d(a,n) = 2 + 1 - 3 = 0 exactly: the kink (subgradient 0; 1 up to torch 2.13).
    yield Sample("edge-kink-boundary", lambda rng: (
        (np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([[3.0, 0.0]])),
        {"margin": 2.0, "eps": 0.0, "reduction": "sum"}), tags={"edge", "kink"})
    # d(a,n) = d(p,n) = 1: torch.minimum gives each side half the gradient.
    yield Sample("edge-swap-tie", lambda rng: (
        (np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[1.0, 0.0]])),
        {"margin": 2.0, "eps": 0.0, "swap": True, "reduction": "sum"}), tags={"edge"})
    # p = 1 here (p = 2 in triplet_margin_with_distance_loss's): the nan row's loss is nan, its
    # clamp gradient 0 (nan >= 0 is false), and torch.sign(nan) = 0, so its gradient is 0, not nan.
    yield Sample("edge-nan-input", lambda rng: (
        (np.array([[np.nan, 1.0, 0.5], [0.5, -1.0, 2.0]]), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))),
        {"p": 1.0, "swap": True, "reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-inf-input", lambda rng: (
        (rng.normal(size=(2, 3)), np.array([[np.inf, 1.0, 0.5], [0.5, -1.0, 2.0]]), rng.normal(size=(2, 3))),
        {"reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-scalar-inputs", lambda rng: (
        (np.array(0.5), np.array(0.75), np.array(-1.5)), {"reduction": "none"}), tags={"edge", "scalar"})
    yield Sample("edge-zero-size-last-dim", lambda rng: (
        (np.zeros((3, 0)), np.zeros((3, 0)), np.zeros((3, 0))), {"reduction": "none"}), tags={"edge", "empty"})
    yield Sample("edge-broadcast-last-dim", lambda rng: (
        (np.array([[0.5, -1.0, 2.0], [1.0, 0.0, 0.5]]), np.array([[0.7, -0.6, 1.5], [1.2, 0.3, 0.4]]),
         np.array([[1.0], [-0.5]])), {"reduction": "none"}), tags={"edge", "broadcast"})
    # torch promotes integer inputs (to the default float32): no gradient; run once, as float32.
    yield Sample("edge-integer-inputs", lambda rng: (
        (np.array([[0, 1, 2], [1, 1, 1]]), np.array([[1, 1, 2], [0, 1, 1]]), np.array([[2, 0, 2], [1, 3, 1]])),
        {"reduction": "none"}), dtypes=(torch.float32,), tags={"edge", "non-float"})


def _shared_triplet_errors():
    """What triplet_margin_loss and triplet_margin_with_distance_loss both check."""
    x = np.ones((3, D))
    yield ErrorCase("margin-zero", (x, x, x), {"margin": 0.0},
                    ValueError, r"margin must be greater than 0, got 0.0", ValueError, r"margin must be greater than 0")
    yield ErrorCase("ndim-mismatch", (x, np.ones(D), x), {},
                    RuntimeError, r"expected to have the same number of dimensions, but got: anchor 2D, positive 1D",
                    ValueError, r"anchor 2-D, positive 1-D and negative 2-D")
    yield ErrorCase("last-dim-mismatch", (x, np.ones((3, D + 1)), x), {},
                    RuntimeError, r"The size of tensor a \(4\) must match the size of tensor b \(5\)",
                    ValueError, r"anchor \(3, 4\), positive \(3, 5\)")
    yield ErrorCase("unknown-reduction", (x, x, x), {"reduction": "average"},
                    ValueError, r"average is not a valid value for reduction", ValueError, r"reduction.*'average'")


def _triplet_errors():
    x = np.ones((3, D))
    yield from _shared_triplet_errors()
    yield ErrorCase("margin-negative", (x, x, x), {"margin": -1.0},
                    ValueError, r"margin must be greater than 0, got -1.0", ValueError, r"margin.*-1.0")
    yield ErrorCase("complex-p", (x, x, x), {"p": 2 + 0j},
                    TypeError, r"argument 'p' .* must be float, not complex", TypeError, r"p must be a real number")
    yield ErrorCase("p-inf-empty-last-dim", (np.ones((3, 0)),) * 3, {"p": np.inf},
                    RuntimeError, r"cannot compute the inf norm on the dimension 1",
                    ValueError, r"p=inf needs a non-empty last dimension")
    yield ErrorCase("negative-p-empty-last-dim", (np.ones((3, 0)),) * 3, {"p": -1.0},
                    RuntimeError, r"cannot compute the -1 norm on the dimension 1",
                    ValueError, r"p=-1.0 needs a non-empty last dimension")


# --- triplet_margin_with_distance_loss ---------------------------------------------------

def _numpy_cosine_distance(a, b):
    """1 - F.cosine_similarity(a, b, dim=-1, eps=1e-8) in NumPy: torch broadcasts first, then
    divides each vector by its own norm clamped at 1e-8 (each norm, not their product)."""
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.sqrt(np.sum(a * a, -1, keepdims=True)), 1e-8)
    nb = np.maximum(np.sqrt(np.sum(b * b, -1, keepdims=True)), 1e-8)
    return 1.0 - np.sum((a / na) * (b / nb), -1)


def _numpy_cosine_distance_backward(a, b, grad):
    """(d/da, d/db) of Σ grad · (1 - cos): d cos/da = b̂/|a| - cos · a/|a|² (|·| clamped at 1e-8
    in the value only, as torch clamps without recording it). Samples keep |a|, |b| >> 1e-8."""
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.sqrt(np.sum(a * a, -1, keepdims=True)), 1e-8)
    nb = np.maximum(np.sqrt(np.sum(b * b, -1, keepdims=True)), 1e-8)
    cos = np.sum((a / na) * (b / nb), -1, keepdims=True)
    g = np.asarray(grad)[..., None]
    return -g * (b / (na * nb) - cos * a / na ** 2), -g * (a / (na * nb) - cos * b / nb ** 2)


_numpy_cosine_distance.backward = _numpy_cosine_distance_backward


def _numpy_squared_euclidean(a, b):
    return np.sum((a - b) ** 2, -1)


_numpy_squared_euclidean.backward = lambda a, b, grad: (2 * (a - b) * np.asarray(grad)[..., None],
                                                        -2 * (a - b) * np.asarray(grad)[..., None])


#: Matching distance functions for the two sides (tests/convert.py hands each side its own).
COSINE_DISTANCE = Both(reference=_numpy_cosine_distance, torch=lambda x, y: 1.0 - F.cosine_similarity(x, y, dim=-1),
                       label="cosine")
SQUARED_EUCLIDEAN = Both(reference=_numpy_squared_euclidean, torch=lambda x, y: (x - y).pow(2).sum(-1),
                         label="sqeuclidean")
DISTANCES = {"default": None, "cosine": COSINE_DISTANCE, "sqeuclidean": SQUARED_EUCLIDEAN}


def _with_distance_samples():
    grid = dict(shape=list(TRIPLET_SHAPES), distance=list(DISTANCES), margin=[None, 0.5, 2.0], swap=[False, True],
                reduction=["none", "mean", "sum"])
    for row in pairwise(grid):
        def build(rng, row=row):
            fn = DISTANCES[row["distance"]]
            distance = _pairwise_distance if fn is None else fn.reference
            margin = 1.0 if row["margin"] is None else row["margin"]
            a, pos, neg = _triplet_inputs(rng, TRIPLET_SHAPES[row["shape"]], distance, margin, row["swap"])
            kwargs = {"swap": row["swap"], "reduction": row["reduction"]}
            if fn is not None:
                kwargs["distance_function"] = fn
            if row["margin"] is not None:
                kwargs["margin"] = row["margin"]
            return (a, pos, neg), kwargs
        parts = [row["shape"], row["distance"]]
        parts += [] if row["margin"] is None else [f"margin{row['margin']}"]
        parts += ["swap"] if row["swap"] else []
        yield Sample("-".join(parts + [row["reduction"]]), build, tags=shape_tags(row["shape"]))

    for reduction in ("none", "mean", "sum"):
        yield Sample(f"edge-empty-batch-{reduction}", lambda rng, r=reduction: (
            (np.zeros((0, D)), np.zeros((0, D)), np.zeros((0, D))), {"reduction": r}),
                tags={"edge", "empty", "empty-batch"})
    yield Sample("edge-identical-anchor-positive", lambda rng: (
        (np.array([[1.0, -0.5, 2.0, 0.0], [0.3, 0.2, -1.0, 1.5]]),) * 2
        + (np.array([[1.5, -0.5, 2.0, 0.5], [0.3, 0.7, -1.0, 1.0]]),), {"swap": True, "reduction": "none"}),
            tags={"edge"})
    yield Sample("edge-zero-vectors", lambda rng: (
        (np.zeros((2, D)), np.zeros((2, D)), np.zeros((2, D))), {"reduction": "none"}), tags={"edge"})
    # Squared distances 1 and 3 with margin 2: z = 0 exactly: the kink (subgradient 0; 1 up to torch 2.13).
    yield Sample("edge-kink-boundary", lambda rng: (
        (np.array([[0.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0]]), np.array([[1.0, 1.0, 1.0]])),
        {"distance_function": SQUARED_EUCLIDEAN, "margin": 2.0, "reduction": "sum"}), tags={"edge", "kink"})
    # d(a,n) = d(p,n) = 1: torch.minimum gives each side half the gradient.
    yield Sample("edge-swap-tie", lambda rng: (
        (np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[1.0, 0.0]])),
        {"distance_function": SQUARED_EUCLIDEAN, "margin": 2.0, "swap": True, "reduction": "sum"}), tags={"edge"})
    yield Sample("edge-nan-input", lambda rng: (
        (np.array([[np.nan, 1.0, 0.5], [0.5, -1.0, 2.0]]), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))),
        {"swap": True, "reduction": "none"}), tags={"edge", "non-finite"})
    yield Sample("edge-scalar-inputs", lambda rng: (
        (np.array(0.5), np.array(0.75), np.array(-1.5)), {"reduction": "none"}), tags={"edge", "scalar"})


def _with_distance_errors():
    x = np.ones((3, D))
    yield from _shared_triplet_errors()
    # No deprecated alias here: torch checks the three strings by hand.
    yield ErrorCase("elementwise-mean-refused", (x, x, x), {"reduction": "elementwise_mean"},
                    ValueError, r"elementwise_mean is not a valid value for reduction",
                    ValueError, r"reduction.*'elementwise_mean'")
    yield ErrorCase("distance-not-callable", (x, x, x), {"distance_function": 5},
                    TypeError, r"'int' object is not callable", TypeError, r"distance_function must be None or a callable")


RECORDS = [
    LossRecord(name="cosine_embedding_loss", **magnitudes("cosine_embedding_loss"), module="CosineEmbeddingLoss", samples=_cosine_samples,
               errors=_cosine_errors),
    LossRecord(name="triplet_margin_loss", **magnitudes("triplet_margin_loss"), module="TripletMarginLoss", samples=_triplet_samples,
               errors=_triplet_errors),
    LossRecord(name="triplet_margin_with_distance_loss", module="TripletMarginWithDistanceLoss",
               samples=_with_distance_samples, errors=_with_distance_errors),
]


# The golden cases, for tests/test_embedding_specifics.py; defined with every fixture in lossref.fixtures.cases.
from lossref.fixtures.cases.embedding import GOLDEN as FIXTURES  # noqa: E402
