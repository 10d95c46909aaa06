"""The suite's installed pytest plugin (entry point ``pytest11: lossref``): its options, nothing else.

Installing lossref registers this module in every pytest run of the environment, as
pytest-randomly and Hypothesis register theirs. So it is cheap (pytest and the standard
library only: no torch, no NumPy, no registry) and it touches nothing: it adds the
``--lossref-*`` options, in the group "lossref". What the suite does with them (parametrizing
from the registry, seeding, the header, the xfails baseline, the report and the table at the
end) is switched on by the suite's own ``conftest.py`` (``tests/session.py``) when pytest
collects the suite, and acts on the suite's own tests only. An adopter's unrelated run gets
the options and nothing more.

The ``lossref`` command spells the options without the prefix (``--impl``, ``--device``,
``--seed``, ``--xfails``, ``--write-xfails``, ``--report``, ``--world-size``, ``--conformance``): ``OPTIONS``
is the one list both read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PREFIX = "--lossref-"
DEFAULT_IMPL = "torch.nn.functional"


@dataclass(frozen=True)
class Option:
    """One option of the suite: ``--lossref-<name>`` for pytest, ``--<name>`` for the command."""

    name: str
    help: str
    settings: dict = field(default_factory=dict)   # argparse settings: default, choices, type, metavar

    @property
    def flag(self) -> str:
        return PREFIX + self.name

    @property
    def short(self) -> str:
        return "--" + self.name

    @property
    def dest(self) -> str:
        return "lossref_" + self.name.replace("-", "_")


OPTIONS = (
    Option("impl", "implementation under test: a dotted module with torch.nn.functional's loss names and "
                   "signatures, 'compile' for torch.compile of torch's own, or a sharded implementation for "
                   "the sharded tier (see --world-size) (default: torch.nn.functional). "
                   "Under --impl only the tests that exercise the implementation run",
           {"default": DEFAULT_IMPL, "metavar": "MODULE"}),
    Option("device", "devices to test: cpu, cuda or all (default: all; CUDA cases are skipped with a reason "
                     "when CUDA is absent)",
           {"default": "all", "choices": ("cpu", "cuda", "all")}),
    Option("seed", "mixed into every test's seed (default 0): draw other random inputs, reproducibly",
           {"default": 0, "type": int, "metavar": "N"}),
    Option("xfails", "known failures: one test id or glob per line, '# reason' after it; listed tests that fail "
                     "are expected failures, listed tests that pass are reported (XPASS)",
           {"default": None, "metavar": "FILE"}),
    Option("write-xfails", "at the end of the run, write the tests that failed (and the listed ones that still "
                           "fail) as an xfails file: the baseline for --xfails",
           {"default": None, "metavar": "FILE"}),
    Option("report", "write the run as JSON: header, conformance table, every test's outcome and, for failures, "
                     "its category (schema: report.schema.json in lossref.tests)",
           {"default": None, "metavar": "FILE"}),
    Option("world-size", "run the sharded tier (-m sharded) on N processes of torch.distributed, the class "
                         "dimension split over them (default 2; at most 8). --impl: a sharded implementation "
                         "(LOSSREF_INTERFACE = 'sharded', or loss_parallel: torch's; the default, torch, means "
                         "loss_parallel here)",
           {"default": None, "type": int, "metavar": "N"}),
    Option("compiled-layouts", "under --impl compile: the layout tests (tests/test_layouts.py) to run: 'covering' "
                               "(the default: each sample in one layout, every layout of every loss kept; every "
                               "laid-out call is a graph of its own, see docs/compiled.md) or 'every'",
           {"default": "covering", "choices": ("covering", "every")}),
    Option("conformance", "the conformance table at the end: one line per loss x device x dtype (full), per "
                          "loss (compact), full when it fits in 40 lines (auto, the default), or off",
           {"default": "auto", "choices": ("auto", "full", "compact", "off")}),
)


def pytest_addoption(parser):
    group = parser.getgroup("lossref", "lossref: the loss suite (active where its tests are collected)")
    for option in OPTIONS:
        group.addoption(option.flag, dest=option.dest, help=option.help, **option.settings)


def value(config, name: str):
    """The value of the suite's option ``name`` (``"impl"``, ``"write-xfails"``, ...)."""
    return config.getoption(Option(name, "").dest)
