"""What changed in torch's losses between the releases the package supports, as data.

The references follow the newest torch (and the mathematics where torch is wrong). Each
``Change`` says what changed, in which release, where upstream discusses it, and what the
older behaviour was, with what the suite needs to bound it: calls that need the newer
torch are skipped with the reason, error cases expect the older error, dtypes the older
torch lacks are tested as still refused, a quirk (``lossref.quirks``) is expected only
before its fix, a loss is absent before it was added. The suite (tests/releases.py, the
registry, tests/quirks.py) and the main job (``python -m lossref``) read these records;
no test compares torch versions itself.

Torch-free (NumPy and the standard library): every query takes the torch release it is
about as a string (``torch.__version__``), compared by :class:`Version`.

``python -m lossref.releases --write`` regenerates the behaviour-by-release table in
``docs/torch-releases.md`` (from a checkout) from the same records; the suite's
tests/test_releases.py checks that the page is current.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import total_ordering
from pathlib import Path
from typing import Callable

import numpy as np

#: The minor releases the suite is run on (README, "Supported releases").
TESTED = ("2.4.1", "2.5.1", "2.6.0", "2.7.1", "2.8.0", "2.9.1", "2.10.0", "2.11.0", "2.12.1", "2.13.0",
          "2.14.1", "2.15.0")
OLDEST, NEWEST = TESTED[0], TESTED[-1]
#: The page the records generate (in a checkout: the package folder's parent holds docs/).
PAGE = Path(__file__).resolve().parent.parent / "docs" / "torch-releases.md"


# --- versions -----------------------------------------------------------------------

_VERSION = re.compile(r"v?(?P<release>\d+(?:\.\d+)*)"
                      r"(?:[-_.]?(?P<pre>a|alpha|b|beta|rc|c)[-_.]?(?P<pre_n>\d*))?"
                      r"(?:[-_.]?post[-_.]?(?P<post>\d*))?"
                      r"(?:[-_.]?dev[-_.]?(?P<dev>\d*))?"
                      r"(?:\+(?P<local>[a-z0-9.]+))?", re.IGNORECASE)
_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "rc": 2, "c": 2}


@total_ordering
class Version:
    """A release number as torch writes it ("2.10.0", "2.10.0a0+git1234", "2.6.0+cu124",
    "2.14.0.dev20250101"), ordered as PEP 440 orders them (what ``torch.torch_version``
    does), without torch or ``packaging``: "2.10" == "2.10.0", a pre-release or a nightly
    comes before its release, a local part (+cu124) after the release it labels."""

    def __init__(self, text) -> None:
        self.text = str(text).strip()
        match = _VERSION.fullmatch(self.text)
        if match is None:
            raise ValueError(f"version {self.text!r}: expected a release number such as '2.10.0'")
        release = [int(p) for p in match["release"].split(".")]
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        pre, post, dev = match["pre"], match["post"], match["dev"]
        if pre is not None:
            phase = (_PRE[pre.lower()], int(match["pre_n"] or 0))
        elif dev is not None and post is None:
            phase = (-1, 0)            # 2.10.0.dev1 comes before 2.10.0a0
        else:
            phase = (3, 0)             # the release itself
        local = tuple((int(part), "") if part.isdigit() else (-1, part.lower())
                      for part in re.split(r"[-_.]", match["local"] or "") if part)
        self._key = (tuple(release), phase, -1 if post is None else int(post or 0),
                     float("inf") if dev is None else int(dev or 0), local)

    @staticmethod
    def _of(other) -> "Version":
        return other if isinstance(other, Version) else Version(other)

    def __eq__(self, other) -> bool:
        try:
            return self._key == self._of(other)._key
        except (TypeError, ValueError):
            return NotImplemented

    def __lt__(self, other) -> bool:
        return self._key < self._of(other)._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"Version({self.text!r})"

    def __str__(self) -> str:
        return self.text


# --- the records --------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One behaviour torch changed: the newer one from ``release`` on, the older one before."""

    loss: tuple[str, ...]          # the losses it concerns; ("*",) for every loss
    what: str                      # what changed (the table's column), as of ``release``
    release: str                   # the first release with the newer behaviour ("2.6")
    thread: str                    # where upstream made or discusses it
    before: str                    # the older behaviour, in words: the reason a skip or expectation gives
    # How the suite bounds the older behaviour (whichever apply):
    argument: tuple[str, int] | None = None   # (name, torch's position): a call passing it needs ``release``
    call: Callable[[tuple, dict], bool] | None = None   # true for a call (the sample's) that needs ``release``
    dtypes: dict = field(default_factory=dict)   # device -> dtype names lacking before: tested as refused
    errors: dict = field(default_factory=dict)   # error-case id pattern -> (error, match) before, or None: accepted
    error_types: dict = field(default_factory=dict)   # an error type -> the one raised before instead
    quirk: str | None = None       # a lossref.quirks record that holds before ``release``
    loss_added: bool = False       # the loss itself is new in ``release``

    def concerns(self, loss: str) -> bool:
        return "*" in self.loss or loss in self.loss

    def holds_before(self, version) -> bool:
        """True where torch ``version`` ("2.9.1", ``torch.__version__``) predates the change."""
        return Version(version) < Version(self.release)

    def reason(self, version=None) -> str:
        """The older behaviour and where it changed, for a skip or an expectation on ``version``."""
        prefix = f"torch {version}: " if version is not None else ""
        return f"{prefix}{self.before} (changed in {self.release}: {self.thread})"


def _old_gaussian_var_rule(args, kwargs) -> bool:
    """The older rule for a tensor var (torch/nn/functional.py before PR #147522): var.size()
    equal to input.size(), or input.size()[:-1], or input.size()[:-1] + (1,)."""
    x, var = np.shape(args[0]), args[2] if len(args) > 2 else kwargs.get("var")
    if isinstance(var, (float, int)):
        return True   # a number: the other record's business
    var = np.shape(var)
    return var == x or var == x[:-1] or (len(var) == len(x) and var[:-1] == x[:-1] and var[-1:] == (1,))


def _gaussian_var_is_a_number(args, kwargs) -> bool:
    var = args[2] if len(args) > 2 else kwargs.get("var")
    return isinstance(var, (float, int))


_NO_WEIGHT = "{} has no `weight` argument"
_WEIGHT_PR = "https://github.com/pytorch/pytorch/pull/132049"

CHANGES: tuple[Change, ...] = (
    Change(("l1_loss",), "gained a `weight` argument (per-element weights, weighted mean over Σw)", "2.6",
           _WEIGHT_PR, _NO_WEIGHT.format("l1_loss"), argument=("weight", 5)),
    Change(("mse_loss",), "gained a `weight` argument (per-element weights, weighted mean over Σw)", "2.6",
           _WEIGHT_PR, _NO_WEIGHT.format("mse_loss"), argument=("weight", 5)),
    Change(("huber_loss",), "gained a `weight` argument (weighted mean over numel)", "2.6",
           _WEIGHT_PR, _NO_WEIGHT.format("huber_loss"), argument=("weight", 4)),
    Change(("gaussian_nll_loss",), "`var` may be a Python float (a constant variance)", "2.6",
           "https://github.com/pytorch/pytorch/issues/149131",
           "var must be a tensor (a float fails with \"'float' object has no attribute 'size'\")",
           call=_gaussian_var_is_a_number,
           errors={"negative-float-var": (AttributeError, r"'float' object has no attribute 'size'"),
                   "int-var": (AttributeError, r"'int' object has no attribute 'size'")}),
    Change(("gaussian_nll_loss",), "`var` may broadcast to the input (a 1 in any dimension, fewer dimensions)",
           "2.10", "https://github.com/pytorch/pytorch/pull/147522 (issue #147521)",
           "var must have input's shape, input's shape without the last dimension, or that with a last "
           "dimension of 1 ('var is of incorrect size' otherwise)",
           call=lambda args, kwargs: not _old_gaussian_var_rule(args, kwargs),
           errors={"var-passes-size-rule-then-fails": (ValueError, r"var is of incorrect size")}),
    Change(("mse_loss",), "bfloat16 on the CPU", "2.6", "https://github.com/pytorch/pytorch/pull/139959",
           "mse_loss has no bfloat16 CPU kernel ('\"mse_cpu\" not implemented for 'BFloat16'')",
           dtypes={"cpu": ("bfloat16",)}),
    Change(("mse_loss",), "float16 backward on the CPU", "2.6", "aten/src/ATen/native/cpu/PointwiseOpsKernel.cpp "
           "(mse_backward_cpu_kernel)",
           "mse_loss has no float16 backward on the CPU ('\"mse_backward_cpu_out\" not implemented for 'Half'')",
           dtypes={"cpu": ("float16",)}),
    Change(("mse_loss",), "the backward takes an integer or boolean target (the forward promotes it)", "2.12",
           "https://github.com/pytorch/pytorch/issues/76646",
           "the backward raises 'Found dtype Long but expected Double': expected failure mse-backward-non-float-target",
           quirk="mse-backward-non-float-target"),
    Change(("smooth_l1_loss",), "float16 backward on the CPU", "2.10",
           "aten/src/ATen/native/cpu/PointwiseOpsKernel.cpp (smooth_l1_backward_cpu_kernel)",
           "smooth_l1_loss has no float16 backward on the CPU ('\"smooth_l1_backward_cpu_out\" not implemented "
           "for 'Half'')", dtypes={"cpu": ("float16",)}),
    Change(("*",), "a dtype a kernel lacks raises NotImplementedError (was RuntimeError), same message", "2.8",
           "https://github.com/pytorch/pytorch/pull/155470",
           "a dtype a kernel lacks raises RuntimeError", error_types={NotImplementedError: RuntimeError}),
    Change(("nll_loss", "cross_entropy"), "a target of the wrong dtype: 'expected target dtype to be Long or Byte'",
           "2.12", "aten/src/ATen/native/LossNLL.cpp (Byte targets: issue #59765)",
           "a target of the wrong dtype: 'expected scalar type Long but found ...'",
           errors={"float-class-indices": (RuntimeError, r"expected scalar type Long but found Double"),
                   "int32-class-indices": (RuntimeError, r"expected scalar type Long but found Int")}),
    Change(("multi_margin_loss",), "target shape errors name the expected size ('Expected target size [3]', "
           "'target tensor should be 1-D')", "2.12",
           "https://github.com/pytorch/pytorch/pull/174072 (issue #106251)",
           "target shape errors: 'inconsistent target size, expected 3 but got ...'",
           errors={"target-batch-mismatch": (RuntimeError, r"inconsistent target size, expected 3 but got \[2\]"),
                   "target-two-dim": (RuntimeError, r"inconsistent target size, expected 3 but got \[3, 1\]")}),
    Change(("ctc_loss",), "an empty log_probs is refused ('log_probs tensor must not be empty')", "2.8",
           "https://github.com/pytorch/pytorch/pull/150981",
           "an empty batch is accepted; zero frames fail inside the kernel ('start (0) + length (1) exceeds "
           "dimension size (0)')",
           errors={"empty-batch": None,
                   "zero-frames": (RuntimeError, r"start \(0\) \+ length \(1\) exceeds dimension size \(0\)")}),
    Change(("linear_cross_entropy",), "added: F.linear_cross_entropy and nn.LinearCrossEntropyLoss", "2.13",
           "https://github.com/pytorch/pytorch/pull/163774 (issue #124480)", "torch has no linear_cross_entropy", loss_added=True),
    Change(("hinge_embedding_loss", "margin_ranking_loss", "cosine_embedding_loss", "triplet_margin_loss",
            "triplet_margin_with_distance_loss"),
           "clamp_min's gradient at the boundary is 0 (the minimum-norm subgradient at a hinge's kink)", "2.14",
           "https://github.com/pytorch/pytorch/issues/184574",
           "clamp_min passes the gradient at its boundary (slope 1 at a kink): expected failure "
           "clamp-boundary-subgradient", quirk="clamp-boundary-subgradient"),
)


# --- queries: what holds on a given torch release -------------------------------------

def holding(loss: str, version) -> list[Change]:
    """The changes torch ``version`` predates that concern ``loss``."""
    return [c for c in CHANGES if c.concerns(loss) and c.holds_before(version)]


def has_loss(loss: str, version) -> bool:
    return not any(c.loss_added for c in holding(loss, version))


def missing_loss_reason(loss: str, version) -> str:
    return next(c.reason(version) for c in holding(loss, version) if c.loss_added)


def lacks_argument(loss: str, name: str, version) -> bool:
    return any(c.argument and c.argument[0] == name for c in holding(loss, version))


def needs_newer(loss: str, args: tuple, kwargs: dict, version) -> Change | None:
    """The change a call needs that torch ``version`` predates, or None."""
    for change in holding(loss, version):
        if change.argument:
            name, position = change.argument
            if name in kwargs and kwargs[name] is not None or len(args) > position and args[position] is not None:
                return change
        if change.call is not None and change.call(args, kwargs):
            return change
    return None


def lacking_dtypes(loss: str, version) -> dict[str, tuple[str, ...]]:
    """device -> names of the dtypes torch ``version`` lacks for ``loss`` (forward or backward)."""
    out: dict[str, tuple[str, ...]] = {}
    for change in holding(loss, version):
        for device, names in change.dtypes.items():
            out[device] = out.get(device, ()) + tuple(names)
    return out


def error_before(loss: str, case_id: str, error, match: str, kwargs: dict, version):
    """What torch ``version`` raises for an error case: ``(error, match, reason to skip it or "")``."""
    skip = ""
    for change in holding(loss, version):
        if change.argument and change.argument[0] in kwargs:
            return TypeError, rf"unexpected keyword argument '{change.argument[0]}'", ""
        for pattern, older in change.errors.items():
            if fnmatchcase(case_id, pattern):
                if older is None:
                    skip = change.reason(version)
                else:
                    error, match = older
        if isinstance(error, type) and error in change.error_types:
            error = change.error_types[error]
    return error, match, skip


def quirk_holds(name: str, version) -> bool:
    """A quirk that a change fixed holds only before that change's release."""
    return all(c.holds_before(version) for c in CHANGES if c.quirk == name)


def quirk_fixed_in(name: str) -> str | None:
    """The release whose change fixed the quirk ``name``, None if none did."""
    return next((c.release for c in CHANGES if c.quirk == name), None)


# --- the behaviour-by-release table -------------------------------------------------

COMMAND = "python -m lossref.releases --write"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def thread_markdown(thread: str) -> str:
    """A thread as Markdown: a link for an address (and the words after it), code for a source
    file. The release table and the per-loss pages (tests/pages.py) both write threads so."""
    if thread.startswith("https://"):
        url, _, rest = thread.partition(" ")
        return f"<{url}>" + (f" {rest}" if rest else "")
    return f"`{thread}`"


def page() -> str:
    """docs/torch-releases.md, generated from CHANGES."""
    rows = sorted(CHANGES, key=lambda c: (Version(c.release), c.loss))
    lines = [
        "# Loss behaviour by torch release",
        "",
        f"Generated by `{COMMAND}` from `reference/releases.py` (`lossref.releases`), the",
        "records the suite runs on: on an older torch, each row's older behaviour is what the suite",
        "expects (a skip with the reason, another error, a dtype tested as still refused, an expected",
        f"failure). Releases tested: {', '.join(TESTED)}. The references follow torch {NEWEST}.",
        "",
        "| loss | what changed | release | thread | before |",
        "|---|---|---|---|---|",
    ]
    for c in rows:
        loss = "every loss" if "*" in c.loss else ", ".join(f"`{n}`" for n in c.loss)
        lines.append(f"| {loss} | {_cell(c.what)} | {c.release} | {_cell(thread_markdown(c.thread))} | {_cell(c.before)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lossref.releases", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="rewrite docs/torch-releases.md of the checkout this package is in")
    options = parser.parse_args(argv)
    if not options.write:
        sys.stdout.write(page())
        return 0
    if not (PAGE.parent.parent / "pyproject.toml").is_file():
        print(f"{COMMAND}: {PAGE.parent.parent} is not a source checkout (no pyproject.toml); "
              "run it from one, or leave out --write to print the page", file=sys.stderr)
        return 2
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(page(), encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
