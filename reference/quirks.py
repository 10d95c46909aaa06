"""The known torch bugs, as data: the one list the suite tests as expected failures.

Where torch has a plain bug, the reference follows the documented mathematics and the
affected cases are marked ``xfail`` by the suite (tests/quirks.py, tests/parity.py): strict
where torch is deterministic (a fix upstream then turns the run red, and the record must
go, or a ``Change`` in ``lossref.releases`` names the release that fixed it), not strict
where torch reads uninitialised memory (its wrong value can coincide with the right one by
chance). Documented conventions, however odd, are not here: the reference follows those.

Each ``Quirk`` names the bug, says where it shows (losses, samples, devices, tests,
layouts, dtypes, draws), why (``reason``) and where upstream discusses it (``thread``).
A kind of sample is selected by its tags (``tags``: plain strings, the suite's vocabulary in
tests/registry/base.py ``TAGS``), a particular sample by its exact id (``samples``: ids are
public and stable); an id is a name, never parsed for what kind of input it is.
Torch-free (NumPy and the standard library): :func:`find` takes the torch release it is
about as a string and the sample's tags as strings; the fixture definitions
(``lossref.fixtures``) name these records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from . import releases


@dataclass(frozen=True)
class Quirk:
    name: str
    loss: str | tuple[str, ...]
    reason: str
    thread: str                  # where upstream discusses it
    # Where it shows, by kind or by name (either suffices): on a sample carrying every tag of
    # one of the sets in ``tags``, and on the samples whose ids ``samples`` lists (exact ids).
    tags: tuple[frozenset[str], ...] = ()
    samples: tuple[str, ...] = ()
    devices: tuple[str, ...] = ("cpu", "cuda")
    tests: tuple[str, ...] = ("forward",)
    deterministic: bool = True   # False: torch returns garbage, which may match by chance
    layouts: tuple[str, ...] = ("contiguous",)   # memory layouts of the inputs (tests/test_layouts.py)
    dtypes: tuple[str, ...] | None = None          # dtype names ("bfloat16") it shows in; None: every dtype
    # A condition on the drawn arguments (as NumPy, the values torch got): a bug that shows only
    # on some draws of a random sample is expected where the draw shows it, and nowhere else.
    shows_on: Callable[..., bool] | None = None
    # Which of torch's implementations has the bug: "torch", its eager functions (what the
    # default run tests, and what another --impl is measured against), "loss_parallel",
    # torch.distributed.tensor.parallel's sharded cross-entropy (the sharded tier), or torch.compile
    # where its bug lies: "compile" (dynamo, AOTAutograd: every backend), "compile:decompositions"
    # (inductor's decomposition table) or "compile:inductor" (its code generation).
    implementation: str = "torch"
    # A documented limit rather than a bug: torch says it does not support this input, and the
    # expected failure is its refusal (however unclear its message), not a wrong number.
    documented: bool = False
    # The case never returns (a rank waits in a collective that a peer never joins): expected,
    # and not run, so that the run does not spend a timeout on it.
    hangs: bool = False
    # The sharded tier: the kinds of class split it shows on (a split's tags, e.g. "empty-rank":
    # a rank owns no class); None: any split, and every test that splits nothing.
    splits: tuple[str, ...] | None = None

    def __post_init__(self):
        # ``tags`` may be written as one set of tags or as several; stored as a tuple of frozensets.
        sets = (self.tags,) if isinstance(self.tags, (set, frozenset)) else tuple(self.tags)
        sets = tuple(frozenset((s,) if isinstance(s, str) else s) for s in sets)
        object.__setattr__(self, "tags", sets)
        object.__setattr__(self, "samples", (self.samples,) if isinstance(self.samples, str) else tuple(self.samples))
        if not sets and not self.samples:
            raise ValueError(f"quirk {self.name!r}: say where it shows (tags, samples or both)")
        if any(not s for s in sets):
            raise ValueError(f"quirk {self.name!r}: an empty tag set would select every sample")
        patterns = [i for i in self.samples if any(c in i for c in "*?[")]
        if patterns:
            raise ValueError(f"quirk {self.name!r}: samples are exact ids, not patterns ({', '.join(patterns)}); "
                             f"select a kind of sample by its tags")

    def selects(self, sample: str, tags: Iterable[str] = ()) -> bool:
        """Whether the sample with id ``sample`` and ``tags`` is one the bug shows on: it
        carries every tag of one of ``self.tags``, or ``self.samples`` names it."""
        tags = frozenset(tags)
        return sample in self.samples or any(wanted <= tags for wanted in self.tags)

    @property
    def losses(self) -> tuple[str, ...]:
        return (self.loss,) if isinstance(self.loss, str) else tuple(self.loss)

    @property
    def fixed_in(self) -> str | None:
        """The torch release that fixed it (a ``Change`` naming this quirk in ``lossref.releases``):
        older releases keep the expected failure, newer ones must pass."""
        return releases.quirk_fixed_in(self.name)

    def holds_in(self, version) -> bool:
        """Whether torch ``version`` ("2.13.0", ``torch.__version__``) still has the bug."""
        return releases.quirk_holds(self.name, version)

    def shows(self, loss: str, sample: str, device: str, test: str, layout: str = "contiguous",
              dtype: str | None = None, inputs: tuple | None = None, *, tags: Iterable[str] = (),
              implementation: str = "torch", split: Iterable[str] = ()) -> bool:
        """Whether the bug shows on this case (whatever the release): ``sample`` is the
        sample's id, ``tags`` its tags, ``implementation`` the one of torch's implementations
        the case runs."""
        return (implementation == self.implementation and loss in self.losses
                and (self.splits is None or bool(set(self.splits) & set(split))) and self.selects(sample, tags)
                and device in self.devices and test in self.tests and layout in self.layouts
                and (self.dtypes is None or dtype in self.dtypes)
                and (self.shows_on is None or (inputs is not None and self.shows_on(*inputs[0], **inputs[1]))))


_LOSS_PARALLEL_DOCS = ("https://pytorch.org/docs/stable/distributed.tensor.parallel.html"
                       "#torch.distributed.tensor.parallel.loss_parallel")


# torch.compile's records: every memory layout of the inputs (tests/test_layouts.py), and
# l1_loss's samples that pass a weight, the loss compiled torch gets wrong.
_ALL_LAYOUTS = ("contiguous", "transposed", "strided", "class-axis-last", "expanded")
_L1_WEIGHTED = ("N-none-weight", "N-sum-weight", "N-mean-weight", "NDK-mean-weight", "bcast-target-mean-weight",
                "bcast-input-mean-weight", "bcast-both-mean-weight", "edge-weight-sum-zero-mean")


# What a registry call of a class-index loss looks like: (input, target) or linear_cross_entropy's
# (input, linear_weight, target) positionally, the options by name.
def _target(args):
    return np.asarray(args[2] if len(args) >= 3 else args[1])


def _classes(args) -> int:
    logits = np.asarray(args[1] if len(args) >= 3 else args[0])   # linear_weight's rows, or the logits' class axis
    return logits.shape[0] if len(args) >= 3 or logits.ndim == 1 else logits.shape[1]


def _probabilities(args) -> bool:
    return _target(args).dtype.kind == "f"


def _smoothed(kwargs) -> bool:
    return float(kwargs.get("label_smoothing", 0.0)) > 0.0


def _ignore_index(kwargs) -> int:
    index = kwargs.get("ignore_index")
    return -100 if index is None else int(index)


def _ignores_outside_classes(args, kwargs) -> bool:
    """Some class-index target equals an ignore_index that is not a class."""
    index = _ignore_index(kwargs)
    return (not _probabilities(args) and not 0 <= index < _classes(args)
            and bool(np.any(_target(args) == index)))


def _some_target_kept(args, kwargs) -> bool:
    target = _target(args)
    return target.size > 0 and bool(np.any(target != _ignore_index(kwargs)))


QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        name="log-softmax-bfloat16-peaked-cpu",
        loss="cross_entropy",   # linear_cross_entropy's half-precision logits (~20, rounded by 0.06) hide it
        # every peaked sample with ignored rows (ignoring rows leaves the peaked rows wrong), and the
        # peaked samples without (not sharp-peaked-V32768-smoothing0.1-none: label smoothing's
        # eps/C terms keep the loss and the target's gradient entry away from 0, and it passes)
        tags=({"peaked", "ignored-rows"},),
        samples=("sharp-peaked-V32768-none", "sharp-peaked-V262144-none", "sharp-peaked-targets-0-and-last-weight-sum"),
        devices=("cpu",),
        tests=("forward", "gradient"),
        layouts=("contiguous", "transposed", "strided", "class-axis-last", "expanded"),
        dtypes=("bfloat16",),
        reason="torch's CPU log_softmax in bfloat16 behaves as if it rounded the sum of exponentials to the dtype "
               "before its log (log_softmax is exactly 0 at the target), so a softmax peaked above 1 - 2^-8 gives "
               "a loss of 0 instead of 1e-3 (at 0.999) and a target gradient entry ((s_y - 1) w/n) of 0, a 100 % "
               "error, the bug of Liger-Kernel PR #1329; below that peak the error is a half-ulp of 1, not of the "
               "entry. float16: log-softmax-float16-peaked-cpu. CUDA not checked here (no GPU)",
        thread="https://github.com/pytorch/pytorch/issues/140222 (bfloat16 log_softmax CPU vs CUDA; no issue names "
               "the peaked case)",
    ),
    Quirk(
        name="log-softmax-float16-peaked-cpu",
        loss="cross_entropy",
        samples=("sharp-peaked0.9998-V32768-none",),
        devices=("cpu",),
        tests=("forward", "gradient"),
        layouts=("contiguous", "transposed", "strided", "class-axis-last", "expanded"),
        dtypes=("float16",),
        reason="the same rounding of the sum of exponentials in float16 (log-softmax-bfloat16-peaked-cpu): a "
               "softmax peaked above 1 - 2^-11 (0.9998 here) gives log_softmax = 0 at the target, loss 0 "
               "instead of 2e-4 and a zero target gradient entry; at 0.999 float16 is still right",
        thread="https://github.com/pytorch/pytorch/issues/140222",
    ),
    Quirk(
        name="log-softmax-float32-peaked-cpu",
        loss="cross_entropy",
        samples=("sharp-peaked-V262144-none",),
        devices=("cpu",),
        tests=("forward", "gradient"),
        layouts=("contiguous", "transposed", "strided", "class-axis-last", "expanded"),
        dtypes=("float32",),
        # How much is lost depends on the SIMD width (AVX2: 8 lanes; AVX-512 loses about half as
        # much) and, within a few %, on the draw: at the bound here, so expected without strictness.
        deterministic=False,
        reason="torch's CPU log_softmax in float32 sums the exponentials lane by lane of its SIMD vector: the "
               "lane holding the target's exp(0) = 1 drops every term below its half-ulp (6e-8), so at 262,144 "
               "classes peaked at 0.999 an eighth of the 1e-3 of other mass is lost and the loss is 7.5 to 7.8 % "
               "low (40 draws, AVX2; at 32,768 classes 2.6 to 2.9 %, inside the bound); torch.logsumexp of the "
               "same float32 logits (cascade summation) is within 0.1 %, so the kernel does worse than torch's "
               "own reductions",
        thread="no upstream issue found (aten/src/ATen/native/cpu/SoftMaxKernel.cpp, _vec_log_softmax_lastdim)",
    ),
    Quirk(
        name="log-softmax-bfloat16-peaked-cpu-probability-targets",
        loss="cross_entropy",
        tags=({"probability-targets"},),
        devices=("cpu",),
        tests=("gradient",),
        dtypes=("bfloat16",),
        shows_on=lambda input, *args, **kwargs: _softmax_peaks_above(input, 1 - 2 ** -8),
        deterministic=False,   # a row right at the threshold may round either way
        reason="the same bfloat16 log_softmax rounding, seen through the gradient with respect to probability "
               "targets, -w (1-ε) log_softmax / n: 0 where the softmax peaks above 1 - 2^-8 (expected only on "
               "the draws whose softmax does) instead of ~ -4e-3",
        thread="https://github.com/pytorch/pytorch/issues/140222",
    ),
    Quirk(
        name="clamp-boundary-subgradient",
        loss=("hinge_embedding_loss", "margin_ranking_loss", "cosine_embedding_loss", "triplet_margin_loss",
              "triplet_margin_with_distance_loss"),
        samples=("edge-kink-sum", "edge-kink-margin0-sum", "edge-kink-margin-half-none",
                 "edge-kink-cos-equals-margin", "edge-kink-boundary"),
        tests=("gradient",),   # fixed in 2.14: lossref.releases
        reason="up to torch 2.13, clamp_min's backward passes the gradient at the kink (max(0, z) at z = 0 "
               "gets slope 1); torch documents the minimum-norm subgradient (0), which clamp follows from 2.14 "
               "on, and so does the reference (lossref._common.hinge_active)",
        thread="https://github.com/pytorch/pytorch/issues/184574 (changed in 2.14; regression report #195931)",
    ),
    Quirk(
        name="nll-unbatched-ignored-mean-cuda",
        loss="nll_loss",
        samples=("edge-unbatched-ignored-mean",),
        devices=("cuda",),
        reason="CUDA's 1-D nll_loss kernel returns 0 when the only target is ignored; the mean "
               "is 0/0, and CPU (and the reference) give nan",
        thread="aten/src/ATen/native/cuda/Loss.cu nll_loss_forward_reduce_cuda_kernel_1d",
    ),
    Quirk(
        name="cross-entropy-unbatched-ignored-mean-cuda",
        loss="cross_entropy",
        samples=("edge-unbatched-ignored-mean",),
        devices=("cuda",),
        reason="cross_entropy calls the same CUDA 1-D nll_loss kernel (see nll-unbatched-ignored-mean-cuda)",
        thread="aten/src/ATen/native/cuda/Loss.cu nll_loss_forward_reduce_cuda_kernel_1d",
    ),
    Quirk(
        name="nll-loss2d-backward-non-contiguous",
        loss="nll_loss",
        tags=({"spatial-2d"},),   # 4-D only: 3-D and 5-D+ inputs are made contiguous
        tests=("gradient",),
        layouts=("transposed", "class-axis-last"),
        reason="the backward of nll_loss on a 4-D (N, C, H, W) input that is not contiguous (channels-last, "
               "permuted) raises 'grad_input must be contiguous': nll_loss_nd sends 4-D inputs to nll_loss2d "
               "without .contiguous(), unlike 3-D and 5-D+",
        thread="https://github.com/pytorch/pytorch/issues/175084 (fix: PR #175246)",
    ),
    Quirk(
        name="multi-margin-empty-batch-garbage",
        loss="multi_margin_loss",
        samples=("edge-empty-batch-mean", "edge-empty-batch-sum"),
        reason="with N = 0, 'mean' and 'sum' return uninitialised memory (values like 2.9e-44 or "
               "3.8e12); the reference gives 0/0 = nan for 'mean' and 0 for 'sum', as every other loss",
        thread="aten/src/ATen/native/LossMultiMargin.cpp (no upstream issue found; torch's decomposition gives nan)",
        deterministic=False,
    ),
    Quirk(
        name="multilabel-margin-empty-batch-garbage",
        loss="multilabel_margin_loss",
        samples=("edge-empty-batch-mean", "edge-empty-batch-sum"),
        reason="with N = 0, 'mean' and 'sum' return uninitialised memory (observed 3.8e12, 1.5e-42, 0.0, "
               "-2e14, 6.9e-310); the reference gives 0/0 = nan for 'mean' and 0 for 'sum'",
        thread="aten/src/ATen/native/LossMultiLabelMargin.cpp (no upstream issue found)",
        deterministic=False,
    ),
    Quirk(
        name="soft-margin-bool-target-backward",
        loss="soft_margin_loss",
        samples=("edge-bool-target-sum",),
        tests=("gradient",),
        reason="the forward accepts a bool target, but the backward computes -target * input and raises "
               "'Negation, the `-` operator, on a bool tensor is not supported'; the gradient with respect to "
               "the input is well defined (reference: -y z / (1 + z), z = exp(-y x))",
        thread="aten/src/ATen/native/Loss.cpp soft_margin_loss_backward (no upstream issue found)",
    ),
    Quirk(
        name="huber-backward-non-float-target",
        loss="huber_loss",
        samples=("edge-int64-target", "edge-bool-target"),
        tests=("gradient",),
        reason="huber_loss's forward promotes an integer or boolean target, but its backward kernel "
               "(aten::huber_loss_backward) needs one dtype and raises 'Found dtype Long but expected Double'; "
               "mse and smooth_l1 accept it. The reference gives clamp(x - y, -delta, delta) for the input",
        thread="https://github.com/pytorch/pytorch/issues/76646 (HuberLoss backward fails on mixed dtypes)",
    ),
    Quirk(
        name="mse-backward-non-float-target",
        loss="mse_loss",
        samples=("edge-int64-target", "edge-bool-target"),
        tests=("gradient",),
        reason="mse_loss's forward promotes an integer or boolean target, but its backward kernel needs one "
               "dtype and raises 'Found dtype Long but expected Double' (the huber quirk's twin); fixed in a "
               "later release (lossref.releases). The reference gives 2 (x - y) for the input",
        thread="https://github.com/pytorch/pytorch/issues/76646 (loss backward fails on mixed dtypes)",
    ),
    Quirk(
        name="ctc-blank-last-label-gradient",
        loss="ctc_loss",
        samples=("edge-blank-last-label",),
        tests=("gradient",),
        reason="when the last target label equals blank, the backward kernel assigns the last-frame alpha*beta "
               "term for l'[2L-1] over the one for l'[2L] instead of adding them (its comment: 'the first two are "
               "a blank and a non-blank, so we know they are different'), so the gradient at frame T_n-1, class "
               "blank, misses the path ending on the final blank; the forward is right",
        thread="aten/src/ATen/native/LossCTC.cpp ctc_loss_backward_cpu_template (same in cuda/LossCTC.cu); "
               "no upstream issue found",
    ),
    Quirk(
        name="ctc-strided-concatenated-targets",
        loss="ctc_loss",
        tags=({"batched", "concatenated-targets"},),   # a batch of several: the first sample's offset is right
        tests=("forward", "gradient"),
        layouts=("strided",),
        reason="for 1-D concatenated targets the batch offsets are the running sum of target_lengths, not "
               "scaled by targets.stride(0): a non-contiguous targets tensor reads the wrong labels for every "
               "sample after the first (whether the wrong labels change the loss depends on the draw: an "
               "infeasible sample zeroed by zero_infinity stays 0)",
        thread="aten/src/ATen/native/LossCTC.cpp and cuda/LossCTC.cu, tg_batch_offsets; no upstream issue found",
        deterministic=False,
    ),
    Quirk(
        name="nll-loss-float16-total-weight-overflow-cpu",
        loss=("nll_loss", "cross_entropy"),   # cross_entropy with class indices is nll_loss of its log_softmax
        tags=({"class-indices", "batched"},),
        devices=("cpu",),
        tests=("forward", "gradient"),
        dtypes=("float16",),
        shows_on=lambda input, target, *args, **kwargs: _nll_total_weight(target, kwargs, *args) >= 65504.0,
        # not strict: past ~2^19 rows the right gradient entries (g w / total, 1e-6 at 2^20) are
        # within float16's subnormal spacing of the 0 torch returns, and that passes
        deterministic=False,
        reason="the CPU kernel (LossNLL.cpp nll_loss_out_frame) keeps the total weight of a 'mean' in the "
               "input's type: in float16 a batch whose counted weights reach 65504 (65520 unweighted rows) "
               "has a total weight of inf, so the mean of O(1) losses is inf/inf = nan and every gradient "
               "entry g w / total is 0; float32 accumulation (torch's design for the half types, "
               "ReduceOps.cpp mean_out) has neither. The accumulation tier's rows2^16 and rows2^20 cases",
        thread="aten/src/ATen/native/LossNLL.cpp nll_loss_out_frame (total_weight_val is scalar_t); "
               "no upstream issue found",
    ),
    Quirk(
        name="nll-loss-half-accumulation-cpu",
        loss=("nll_loss", "cross_entropy"),
        tags=({"class-indices", "batched"},),
        devices=("cpu",),
        tests=("forward",),
        dtypes=("bfloat16", "float16"),
        shows_on=lambda input, target, *args, **kwargs: (
            kwargs.get("reduction", "mean") != "none" and int(np.size(target)) >= 4096),
        deterministic=False,   # how far the cascade drifts depends on the draw (some pass the bound)
        reason="the CPU kernel adds the losses and the weights of a 'mean' or 'sum' in the input's type (a "
               "cascade of 8 levels of 16 partial sums, each a scalar_t), then divides in it, where torch's "
               "own reductions accumulate in float32 with one final rounding: measured 2.7 eps (bfloat16) "
               "off the weighted mean over 2^20 rows, beyond that rounding's half-ulp bound (the accumulation "
               "tier, docs/accumulation.md); an implementation that accumulates in float32 passes",
        thread="aten/src/ATen/native/LossNLL.cpp nll_loss_out_frame (loss_partial_sums, weight_partial_sums "
               "are scalar_t); no upstream issue found",
    ),
    Quirk(
        name="cosine-embedding-float16-norm-product-overflow",
        loss="cosine_embedding_loss",
        tags=({"batched"},),
        tests=("forward",),
        dtypes=("float16",),
        shows_on=lambda input1, input2, *args, **kwargs: _row_norm_product(input1, input2) >= 65504.0,
        reason="torch's composite cosine_embedding_loss multiplies the two rows' squared norms in the input's "
               "type before the square root (sqrt(|x1|^2 |x2|^2)): in float16 rows of a few hundred O(1) "
               "features overflow that product to inf, the cosine to 0 and the loss to 1 (or 0 for y = -1), "
               "where the cosine itself is O(1); F.cosine_similarity normalises first and is right. The "
               "accumulation tier's D16384 rows",
        thread="torch/nn/functional.py cosine_embedding_loss -> aten/src/ATen/native/Loss.cpp "
               "cosine_embedding_loss (denom = (mag_square1 * mag_square2).sqrt_()); no upstream issue found",
    ),
    # --- torch.distributed.tensor.parallel.loss_parallel (the sharded tier; docs/sharded.md) ----------
    # Found by the sharded tier at 2, 3 and 4 ranks on the CPU (gloo), torch 2.13; each with a
    # reproduction in docs/sharded.md. The first match wins: the order goes from the refusals
    # that stop a call to the wrong numbers.
    Quirk(
        name="loss-parallel-rank-without-classes",
        loss=("cross_entropy", "nll_loss", "linear_cross_entropy"),
        tags=({"class-indices"}, {"probability-targets"}),
        tests=("forward", "gradient"),
        splits=("empty-rank",),
        implementation="loss_parallel",
        hangs=True,
        reason="DTensor's own split (torch.chunk's) leaves the last ranks without a class when C is not a multiple "
               "of ceil(C/N) (5 classes over 4 ranks: 2+2+1+0): the rank that owns none raises 'index 0 is out "
               "of bounds for dimension ... with size 0' and the others wait in the next collective for ever "
               "(the gloo timeout, 30 min by default); not run",
        thread=_LOSS_PARALLEL_DOCS + " (no upstream issue found)",
    ),
    Quirk(
        name="loss-parallel-linear-k-dim-uneven",
        loss="linear_cross_entropy",
        tags=({"k-dim"},),
        tests=("forward", "gradient"),
        implementation="loss_parallel",
        reason="a K-dimensional linear_weight (C, d, in_features) sharded by rows over ranks that do not divide C "
               "evenly (5 classes over 2, 3 or 4 ranks): RuntimeError 'Cannot flatten unevenly sharded tensor' from "
               "the projection's reshape, where the dense call computes",
        thread=_LOSS_PARALLEL_DOCS + " (no upstream issue found)",
    ),
    Quirk(
        name="loss-parallel-label-smoothing",
        loss=("cross_entropy", "linear_cross_entropy"),
        tags=({"class-indices"},),
        tests=("forward", "gradient"),
        shows_on=lambda *args, **kwargs: _smoothed(kwargs) and not _probabilities(args),
        implementation="loss_parallel",
        documented=True,
        reason="documented as unsupported ('label_smoothing: Currently not supported'), and refused, but not in "
               "words a user can act on: RuntimeError 'aten.masked_fill_.Scalar got mixed torch.Tensor and "
               "DTensor' (with an ignore_index inside the classes: 'in-place operations that require placement "
               "changes are not supported')",
        thread=_LOSS_PARALLEL_DOCS,
    ),
    Quirk(
        name="loss-parallel-probabilities-with-weight",
        loss=("cross_entropy", "linear_cross_entropy"),
        tags=({"probability-targets"},),
        tests=("forward", "gradient"),
        shows_on=lambda *args, **kwargs: _probabilities(args) and kwargs.get("weight") is not None,
        implementation="loss_parallel",
        documented=True,
        reason="class probabilities are documented as unsupported ('class probabilities currently not "
               "supported'); with a class weight the call is refused with RuntimeError 'aten.mul.Tensor got mixed "
               "torch.Tensor and DTensor'",
        thread=_LOSS_PARALLEL_DOCS,
    ),
    Quirk(
        name="loss-parallel-probabilities-not-refused",
        loss=("cross_entropy", "linear_cross_entropy"),
        tags=({"probability-targets"},),
        tests=("gradient",),
        deterministic=False,   # right on most calls without label smoothing, wrong on the others
        implementation="loss_parallel",
        reason="class probabilities are documented as unsupported, but a probability target sharded like the "
               "logits is not refused: the loss (a partial DTensor: its full_tensor()) is right, and its gradient "
               "is wrong with label smoothing (every call), with linear_cross_entropy's linear_bias, and in "
               "float32 and bfloat16 at 32768 classes: a silent wrong gradient where a refusal was documented",
        thread=_LOSS_PARALLEL_DOCS + " (no upstream issue found)",
    ),
    Quirk(
        name="loss-parallel-weight-ignored-rows-backward",
        loss=("cross_entropy", "nll_loss", "linear_cross_entropy"),
        tags=({"class-indices"},),
        tests=("gradient",),
        shows_on=lambda *args, **kwargs: kwargs.get("weight") is not None and _ignores_outside_classes(args, kwargs),
        implementation="loss_parallel",
        reason="a class weight with some target equal to an ignore_index outside [0, C) (the default -100): the "
               "forward is right, the backward raises RuntimeError 'index -100 is out of bounds for dimension 1 "
               "with size C': it indexes the weight with the ignored target before masking it",
        thread=_LOSS_PARALLEL_DOCS + " (no upstream issue found)",
    ),
    Quirk(
        name="loss-parallel-nll-loss-uint8-target",
        loss="nll_loss",
        samples=("uint8-target-ignore255",),
        tests=("forward", "gradient"),
        implementation="loss_parallel",
        reason="a uint8 target (eager nll_loss takes Long or Byte) raises RuntimeError 'gather(): Expected dtype "
               "int32/int64 for index, but got torch.uint8'",
        thread=_LOSS_PARALLEL_DOCS + " (no upstream issue found)",
    ),
    Quirk(
        name="loss-parallel-nll-loss-gradient",
        loss="nll_loss",
        tags=({"class-indices"},),
        tests=("gradient",),
        shows_on=lambda *args, **kwargs: _some_target_kept(args, kwargs),
        implementation="loss_parallel",
        reason="nll_loss on a class-sharded DTensor inside loss_parallel (documented for cross-entropy only, but "
               "not refused): the loss is right, its gradient is not: entries off the target are nonzero (the "
               "gradient of nll_loss is -w_y/n at the target and 0 elsewhere); right only where every target is "
               "ignored",
        thread=_LOSS_PARALLEL_DOCS + " (no upstream issue found)",
    ),
    Quirk(
        name="loss-parallel-spatial-2d-gradient",
        loss="cross_entropy",
        tags=({"spatial-2d", "class-indices"},),
        tests=("gradient",),
        implementation="loss_parallel",
        reason="cross_entropy of (N, C, H, W) logits sharded on C with class-index targets: the loss is right, the "
               "gradient is wrong (the (N, C, d) and (N, C) layouts are right)",
        thread=_LOSS_PARALLEL_DOCS + " (no upstream issue found)",
    ),
    Quirk(
        name="loss-parallel-peaked-bfloat16-gradient",
        loss="cross_entropy",
        tags=({"class-indices"},),
        dtypes=("bfloat16",),
        devices=("cpu",),
        tests=("gradient",),
        # a softmax above 0.99 somewhere: the peaked samples, and random draws that peak by chance
        shows_on=lambda *args, **kwargs: _softmax_peaks_above(args[0], 0.99),
        deterministic=False,   # whether the draw's peaked entries cross the bound depends on the draw
        implementation="loss_parallel",
        reason="a softmax peaked at the target (0.99 or more) in bfloat16: the gradient's target entry "
               "(s_y - 1) w/n is computed from s_y rounded to bfloat16 (spacing 2^-8 below 1), so it is wrong by up "
               "to 2^-9 / (1 - s_y): 30 % at 0.995, 100 % at 0.999, as eager torch's log-softmax-bfloat16-peaked-cpu "
               "and Liger-Kernel PR #1329; the loss itself is right, its log-sum-exp being loss_parallel's own",
        thread="https://github.com/pytorch/pytorch/issues/140222",
    ),
    Quirk(
        name="loss-parallel-peaked-float16-gradient",
        loss="cross_entropy",
        samples=("sharp-peaked0.9998-V32768-none",),
        dtypes=("float16",),
        devices=("cpu",),
        tests=("gradient",),
        implementation="loss_parallel",
        reason="as loss-parallel-peaked-bfloat16-gradient, in float16 above a peak of 0.9998 "
               "(log-softmax-float16-peaked-cpu)",
        thread="https://github.com/pytorch/pytorch/issues/140222",
    ),

    # --- torch.compile (tests/compiled.py; docs/compiled.md) --------------------------------------
    # Found by the whole compile:aot_eager run on the CPU, torch 2.13.0 (docs/compiled.md). aot_eager
    # runs no generated code, so each lies in dynamo, AOTAutograd or the Python decompositions that
    # AOTAutograd traces, and every backend has it: implementation="compile". Each has a standalone
    # reproduction in tests/compiled_findings.py (docs/compiled.md, "Known bugs"). Selected by exact
    # sample ids: the registry has no tag for "passes a weight" or "has a -1 terminator".
    Quirk(
        name="compile-l1-loss-weight-gradient",
        loss="l1_loss",
        samples=_L1_WEIGHTED + ("0d-mean-weight", "edge-empty-batch-weight-mean", "edge-int64-both-weight-mean"),
        tests=("gradient",),
        layouts=_ALL_LAYOUTS,
        implementation="compile",
        reason="compiled F.l1_loss drops its weight: no gradient for weight (eager and the reference give |x - y| "
               "g, or its 'mean' form), and the input's gradient is the unweighted sign(x - y) g; with integer "
               "inputs and a weight the compilation fails ('mean(): could not infer output dtype', the unweighted "
               "integer l1_loss). torch/nn/functional.py l1_loss calls handle_torch_function without weight=, and "
               "AOTAutograd traces F.l1_loss under a torch-function mode, so the unweighted branch is traced; "
               "dynamo alone (backend 'eager') is right",
        thread="https://github.com/pytorch/pytorch/pull/193003 (open: fix l1_loss __torch_function__ dispatch for "
               "weight)",
    ),
    Quirk(
        name="compile-l1-loss-weight-ignored",
        loss="l1_loss",
        samples=_L1_WEIGHTED + ("edge-int64-both-weight-mean",),
        tests=("forward",),
        layouts=_ALL_LAYOUTS,
        dtypes=("float32", "float64"),
        implementation="compile",
        reason="compiled F.l1_loss(x, y, weight=w) returns the unweighted loss: |x - y| for 'none' (eager and the "
               "reference: w |x - y|), its plain sum or mean for 'sum' and 'mean' (the reference: sum(w |x - y|), "
               "over sum(w) for 'mean'); integer inputs with a weight fail to compile. The weight is dropped by "
               "l1_loss's handle_torch_function call (compile-l1-loss-weight-gradient)",
        thread="https://github.com/pytorch/pytorch/pull/193003 (open)",
    ),
    Quirk(
        name="compile-l1-loss-weight-ignored-half",
        loss="l1_loss",
        samples=_L1_WEIGHTED + ("edge-int64-both-weight-mean",),
        tests=("forward",),
        layouts=_ALL_LAYOUTS,
        dtypes=("bfloat16", "float16"),
        # the unweighted mean of some draws lies within the half-precision bound of the weighted one
        # (seen: N-mean-weight and NDK-mean-weight in bfloat16, bcast-target-mean-weight in both)
        deterministic=False,
        implementation="compile",
        reason="compile-l1-loss-weight-ignored in bfloat16 and float16: the weight dropped; where the weighted "
               "and unweighted means of a draw agree within half precision's bound, the value passes",
        thread="https://github.com/pytorch/pytorch/pull/193003 (open)",
    ),
    Quirk(
        name="compile-multilabel-margin-terminator",
        loss="multilabel_margin_loss",
        samples=("C-random-mean", "C-random-sum", "1C-random-none", "1C-dups-sum", "NC-random-none", "NC-dups-mean",
                 "NC-mixed-rows-mean", "edge-kink-and-leading-terminator-none", "edge-nan-inf-none",
                 "edge-logits-1e4-sum"),
        tests=("forward", "gradient"),
        layouts=_ALL_LAYOUTS,
        implementation="compile",
        reason="compiled multilabel_margin_loss counts the target slots at and after a row's -1 terminator as "
               "targets of class 0: the decomposition (torch/_decomp/decompositions.py "
               "multilabel_margin_loss_forward) gathers input[..., 0] for them and never masks their terms "
               "1 - x[0] + x[i], so any row with a terminator (every row but a full one) has a loss too large "
               "and a wrong input gradient (eager and the reference stop at the -1); nan rows where the extra "
               "terms are inf - inf",
        thread="https://github.com/pytorch/pytorch/issues/141017 (also #185464; fix PR #186074/#189552, after 2.13)",
    ),
    Quirk(
        name="compile-multilabel-margin-unbatched-shape",
        loss="multilabel_margin_loss",
        samples=("C-dups-none", "C-full-none", "edge-zero-dim-target-none"),
        tests=("forward", "gradient"),
        layouts=_ALL_LAYOUTS,
        implementation="compile",
        reason="compiled multilabel_margin_loss of an unbatched (C,) input with reduction='none' returns shape (1,) "
               "where eager and the reference return a 0-d loss: the decomposition makes the input 2-D "
               "(atleast_2d) and never restores the shape; its gradient then needs a (1,) grad_output",
        thread="https://github.com/pytorch/pytorch/issues/141017 (fix PR #186074 restores the 0-d shape, after 2.13)",
    ),
    Quirk(
        name="compile-multilabel-margin-zero-dim-input",
        loss="multilabel_margin_loss",
        samples=("0d-random-none", "0d-dups-mean", "0d-full-sum"),
        tests=("forward", "gradient"),
        implementation="compile",
        reason="a 0-d input with a (1,) target, which eager computes (one class), is refused while tracing: "
               "TorchRuntimeError 'inconsistent target size: torch.Size([1]) for input of size: torch.Size([])' "
               "from the decomposition's shape check (orig_target_shape == orig_input_shape)",
        thread="no upstream issue found (torch/_decomp/decompositions.py multilabel_margin_loss_forward)",
    ),
    Quirk(
        name="compile-multi-margin-unbatched-shape",
        loss="multi_margin_loss",
        samples=("0d-p1-none", "C-kw-p1-margin2.0-none", "C-pos-p2-none", "C-p2-margin-0.5-none"),
        tests=("forward", "gradient"),
        layouts=_ALL_LAYOUTS,
        implementation="compile",
        reason="compiled multi_margin_loss of an unbatched (C,) or 0-d input with a 0-d target and "
               "reduction='none' returns shape (1,) where eager and the reference return a 0-d loss: the "
               "decomposition (torch/_decomp/decompositions.py multi_margin_loss) makes the input 2-D "
               "(atleast_2d) and returns z.mean(dim=1); its gradient then needs a (1,) grad_output",
        thread="no upstream issue found (torch/_decomp/decompositions.py multi_margin_loss)",
    ),
    Quirk(
        name="compile-multi-margin-weight-gradient",
        loss="multi_margin_loss",
        samples=("0d-kw-p2-margin0.5-mean", "0d-pos-p1-margin-0.5-sum", "1C-kw-p2-margin0.5-none",
                 "1C-pos-p1-margin-0.5-mean", "C-kw-p1-sum", "C-t1-kw-p2-margin-0.5-none",
                 "C-t1-pos-p1-margin0.5-sum", "C-t1-pos-p1-margin2.0-mean", "NC-kw-p2-margin0.5-mean",
                 "NC-pos-p1-margin-0.5-sum", "edge-inf-p2-weight-none", "edge-kink-p2-weight-sum"),
        tests=("gradient",),
        layouts=_ALL_LAYOUTS,
        implementation="compile",
        reason="compiled multi_margin_loss differentiates its class weight, which eager refuses ('not "
               "differentiable with respect to argument 'weight'') and the reference, following eager, gives none: the "
               "decomposition registered for the Autograd key (torch/_decomp/decompositions.py multi_margin_loss) "
               "replaces the kernel's derivative formula. Not a wrong number (the reproduction checks it against "
               "finite differences), but a different contract: code that relies on eager's refusal, or on "
               "weight.grad staying None, behaves otherwise compiled",
        thread="no upstream issue found (torch/_decomp/decompositions.py multi_margin_loss, "
               "py_impl(DispatchKey.Autograd))",
    ),
    Quirk(
        name="compile-multi-margin-kink-subgradient",
        loss="multi_margin_loss",
        samples=("edge-kink-p1-none",),
        tests=("gradient",),
        implementation="compile",
        reason="at a hinge's kink (margin - x[y] + x[i] = 0) compiled multi_margin_loss passes the gradient (slope "
               "1: the decomposition's clamp_min(0), whose backward up to 2.13 passes it at 0, "
               "clamp-boundary-subgradient) where eager's kernel (z > 0) and the reference (the minimum-norm "
               "subgradient) give 0",
        thread="no upstream issue found (torch/_decomp/decompositions.py multi_margin_loss: clamp_min; clamp's "
               "backward changed in 2.14, https://github.com/pytorch/pytorch/issues/184574)",
    ),
    Quirk(
        name="compile-multi-margin-nan-terms",
        loss="multi_margin_loss",
        samples=("edge-nan-inf-p1-none",),
        tests=("forward",),
        implementation="compile",
        reason="a hinge term that is nan (a nan logit, or inf - inf) adds nothing in eager's kernel (z > 0 is false) "
               "and in the reference, so a row with one nan logit off the target still has a finite loss; the "
               "decomposition's clamp_min(0) keeps the nan and the whole row's loss is nan",
        thread="no upstream issue found (torch/_decomp/decompositions.py multi_margin_loss)",
    ),
    Quirk(
        name="compile-mean-backward-empty",
        loss=("mse_loss", "huber_loss", "smooth_l1_loss"),
        samples=("edge-empty-batch-mean",),
        tests=("forward", "gradient"),
        implementation="compile",
        reason="an empty input with reduction='mean' and requires_grad does not compile: BackendCompilerFailed "
               "(ZeroDivisionError: float division by zero) from the backward decompositions' Python "
               "'norm = 2.0 / input.numel()' (mse_loss_backward; 1.0 / numel in huber_loss_backward and "
               "smooth_l1_loss_backward), the size 0 being a constant once dynamo specialises it; eager returns "
               "nan and an empty gradient, as the reference",
        thread="no upstream issue found (torch/_decomp/decompositions.py mse_loss_backward, huber_loss_backward, "
               "smooth_l1_loss_backward)",
    ),
    Quirk(
        name="compile-nll-loss-uint8-target",
        loss="nll_loss",
        samples=("uint8-target-ignore255",),
        tests=("forward", "gradient"),
        layouts=_ALL_LAYOUTS,
        implementation="compile",
        reason="a uint8 target, which eager nll_loss takes (Byte, https://github.com/pytorch/pytorch/issues/59765), "
               "is refused while tracing: TorchRuntimeError 'gather(): Expected dtype int32/int64 for index, but "
               "got torch.uint8' from the decomposition's gather (its meta, torch/_meta_registrations.py "
               "meta_gather)",
        thread="no upstream issue found (torch/_decomp/decompositions.py _nll_loss_forward: gather with the target)",
    ),

    # Found by the whole inductor run (docs/compiled.md), not by aot_eager: placed by running each
    # reproduction with aot_eager_decomp_partition (inductor's decomposition table, no generated code):
    # a bug it shows is "compile:decompositions" (inductor and aot_eager_decomp_partition have it),
    # one only inductor shows is "compile:inductor" (code generation).
    Quirk(
        name="compile-bce-gradient-clamp",
        loss="binary_cross_entropy",
        samples=("edge-near-0-1-none", "edge-probabilities-0-1-none", "edge-probabilities-0-1-sum",
                 "edge-probabilities-0-1-zero-weight-mean"),
        tests=("gradient",),
        dtypes=("float64",),
        implementation="compile:decompositions",
        reason="binary_cross_entropy's input gradient where x (1 - x) is below its floor: eager's kernel floors "
               "it at float32's 1e-12 (9.9999999600e-13), as the reference does, inductor's decomposition "
               "(binary_cross_entropy_backward) at the double 1e-12; in float64 a gradient entry at the floor "
               "differs by 4e-10 of itself, far beyond float64's bound (float32 cannot see it)",
        thread="no upstream issue found (torch/_decomp/decompositions.py binary_cross_entropy_backward: EPSILON = 1e-12)",
    ),
    Quirk(
        name="compile-smooth-l1-nonfinite-gradient",
        loss="smooth_l1_loss",
        samples=("edge-nan-inf",),
        tests=("gradient",),
        implementation="compile:decompositions",
        reason="smooth_l1_loss's input gradient where x - y is nan (a nan on either side, or inf - inf): eager's "
               "kernel and the reference give nan, inductor's decomposition 0 (the nan falls in the sign branch, "
               "and the decomposition's sign of nan is 0)",
        thread="no upstream issue found (torch/_decomp/decompositions.py smooth_l1_loss_backward)",
    ),
    Quirk(
        name="compile-soft-margin-overflow-gradient",
        loss="soft_margin_loss",
        samples=("edge-overflow-none",),
        tests=("gradient",),
        implementation="compile:decompositions",
        reason="soft_margin_loss's input gradient where exp(-y x) overflows (-y x = 800): eager's kernel computes "
               "-y exp(-y x) / (1 + exp(-y x)) = inf / inf = nan, as the reference does, inductor's decomposition "
               "gives the limit -y. Compiled is the better number here, but not eager's: code that detects "
               "the overflow by its nan sees none",
        thread="no upstream issue found (torch/_decomp/decompositions.py soft_margin_loss_backward)",
    ),
    Quirk(
        name="compile-triplet-inf-norm-half-gradient",
        loss="triplet_margin_loss",
        samples=("1D-pinf-margin2.0-swap-mean", "D-pinf-eps0.0-mean", "ND-pinf-margin0.5-eps0.1-positional-sum",
                 "NKD-pinf-none", "bcast-pinf-none"),
        tests=("gradient",),
        dtypes=("float16", "bfloat16"),
        implementation="compile:inductor",
        reason="triplet_margin_loss with p=inf in float16 and bfloat16: inductor's generated code gives a wrong "
               "input gradient (nan for every entry, or 0 where the largest |difference| is), where eager, "
               "aot_eager_decomp_partition and the reference give the max-norm's subgradient; the forward "
               "value is right, float32 and float64 are right",
        thread="no upstream issue found (inductor code generation: aot_eager_decomp_partition is right)",
    ),
    Quirk(
        name="compile-cross-entropy-smoothing-gradient-float32",
        loss="cross_entropy",
        samples=("sharp-peaked-V32768-smoothing0.1-none",),
        tests=("gradient",),
        dtypes=("float32",),
        implementation="compile:inductor",
        reason="cross_entropy with label_smoothing over 32768 classes in float32: inductor's generated code "
               "gives input gradient entries off by up to 4e-4 (2e-3 of an entry of 0.17; thousands of ulps), "
               "where eager is within 2e-5 and aot_eager_decomp_partition within 6e-7 of the float64 value; "
               "the forward value is as accurate as eager's",
        thread="no upstream issue found (inductor code generation: aot_eager_decomp_partition is right)",
    ),
)


def _row_norm_product(input1, input2) -> float:
    """The largest product of the two inputs' squared row norms (along the last axis)."""
    a, b = np.asarray(input1, dtype=np.float64), np.asarray(input2, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return 0.0
    return float(np.max(np.sum(a * a, axis=-1) * np.sum(b * b, axis=-1)))


def _nll_total_weight(target, kwargs, weight=None, *rest) -> float:
    """The summed weight of the counted targets of a 'mean' (0 for any other reduction)."""
    if kwargs.get("reduction", "mean") != "mean":
        return 0.0
    weight = kwargs.get("weight", weight)
    target = np.asarray(target).reshape(-1)
    counted = target[target != kwargs.get("ignore_index", -100)]
    if weight is None:
        return float(counted.size)
    return float(np.asarray(weight, dtype=np.float64)[counted].sum())


def _softmax_peaks_above(input, threshold: float) -> bool:
    """Whether some position's softmax over the class axis (0 for unbatched, else 1) exceeds
    ``threshold``: its largest probability is 1 / sum(exp(x - max))."""
    x = np.asarray(input, dtype=np.float64)
    if x.size == 0:
        return False
    axis = 0 if x.ndim == 1 else 1
    with np.errstate(invalid="ignore", over="ignore"):   # a row with inf or nan: no peak (nan compares False)
        largest = 1.0 / np.sum(np.exp(x - np.max(x, axis=axis, keepdims=True)), axis=axis)
    return bool(np.any(largest > threshold))


def names() -> tuple[str, ...]:
    """The names of every record."""
    return tuple(q.name for q in QUIRKS)


def named(name: str) -> Quirk:
    """The record called ``name``; ``KeyError`` naming the known ones if there is none."""
    for quirk in QUIRKS:
        if quirk.name == name:
            return quirk
    raise KeyError(f"no torch quirk named {name!r} (lossref.quirks: {', '.join(names())})")


def find(loss: str, sample: str, device: str, test: str, layout: str = "contiguous",
         dtype: str | None = None, inputs: tuple | None = None, *, tags: Iterable[str] = (), version,
         implementation: str = "torch", split: Iterable[str] = ()) -> Quirk | None:
    """The quirk expected on this case with torch ``version``: ``sample`` is the sample's id,
    ``tags`` its tags (strings); ``inputs`` (args, kwargs as NumPy) decides a quirk that
    ``shows_on`` some draws only (without them, such a quirk is not expected);
    ``implementation`` which of torch's ("torch", "loss_parallel") runs it; ``split`` the tags of
    the class split of a sharded case."""
    for quirk in QUIRKS:
        if (quirk.shows(loss, sample, device, test, layout, dtype, inputs, tags=tags, implementation=implementation,
                        split=split)
                and quirk.holds_in(version)):
            return quirk
    return None
