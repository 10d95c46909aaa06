"""``lossref``: run the installed suite against an implementation, from any directory.

    lossref [--impl MODULE] [--device cpu|cuda|all] [--seed N] [--xfails FILE] [--write-xfails FILE]
            [--report FILE] [--world-size N] [--conformance auto|full|compact|off] [pytest options...]

The suite's options keep their short spellings here (pytest spells them ``--lossref-impl``,
...); every other argument goes to pytest (``-k``, ``-m``, ``-n 2``, ``-x``, ``--junitxml``).
The options are checked before pytest starts: a bad one is refused in one line, status 4.
The configuration is the suite's own, never a pytest.ini or pyproject.toml of the directory
it runs from (whose ``addopts`` were written for another suite); the cache goes to
``./.pytest_cache`` as with plain pytest, so ``--lf`` works. The exit status is pytest's:
0 every test passed, was skipped or was expected to fail; 1 a test failed; 2 interrupted;
3 internal error; 4 an invalid option or file; 5 no test exercised the implementation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from .plugin import OPTIONS, Option

SUITE = __package__
SUITE_DIR = Path(__file__).resolve().parent

OTHER_COMMANDS = (
    ("python -m lossref", "the main job: the article's examples, the reference and torch side by side, "
                          "one parity line per loss"),
    ("python -m lossref.fixtures check|regenerate", "prove the fixture files current against the mpmath "
                                                    "oracle, or rewrite them"),
    ("python -m lossref.tests.xfails REPORT XFAILS", "an xfails baseline from a --report file"),
)


def usage() -> str:
    lines = ["usage: lossref [options] [pytest options]", "",
             "Runs lossref's installed suite: torch (or --impl MODULE) held to the NumPy references.", "",
             "options (pytest spells them --lossref-NAME):"]
    for option in OPTIONS:
        metavar = option.settings.get("metavar") or "|".join(option.settings.get("choices", ()))
        lines.append(f"  {option.short} {metavar}".rstrip())
        lines.append(f"      {option.help}")
    lines += ["", "exit status: 0 passed (or skipped, or expected to fail), 1 a test failed, 2 interrupted,",
              "3 internal error, 4 an invalid option or file, 5 no test exercised the implementation", "",
              "other commands:"]
    lines += [f"  {command}\n      {what}" for command, what in OTHER_COMMANDS]
    lines += ["", "Every other argument goes to pytest (-k, -m, -x, -n 2, --junitxml ...): "
                  "'lossref --help-pytest' lists them."]
    return "\n".join(lines)


def translate(argv: list[str]) -> list[str]:
    """The short spellings (``--impl X``, ``--impl=X``) as the plugin's (``--lossref-impl``)."""
    by_short = {option.short: option for option in OPTIONS}
    out = []
    for arg in argv:
        name, eq, rest = arg.partition("=")
        option: Option | None = by_short.get(name)
        out.append(option.flag + eq + rest if option is not None else arg)
    return out


def option_values(argv: list[str]) -> dict[str, str]:
    """The suite's options as given (translated spelling), for the checks before the run."""
    values = {}
    flags = {option.flag: option.name for option in OPTIONS}
    for index, arg in enumerate(argv):
        name, eq, rest = arg.partition("=")
        if name in flags:
            values[flags[name]] = rest if eq else (argv[index + 1] if index + 1 < len(argv) else None)
    return values


#: pytest's log capture is off for the suite's runs (here and pyproject.toml's addopts). It costs
#: more than most tests: around every setup, call and teardown, pytest 9 attaches its handler to
#: the root logger and to every logger that does not propagate, and torch has about forty of those
#: (torch._dynamo, torch._inductor, ...): 14 s of the default suite's 56 s on 2 cores, measured
#: with cProfile. The suite logs nothing; a warning torch logs still reaches stderr, which pytest
#: captures and shows with a failure.
NO_LOG_CAPTURE = ("-p", "no:logging")


def pytest_args(argv: list[str]) -> list[str]:
    return ["-c", os.devnull, "--rootdir", str(SUITE_DIR), *NO_LOG_CAPTURE,
            # No conftest.py above the installed suite: a virtual environment inside a project
            # (./.venv) would otherwise load the project's own conftest into the suite's run.
            "--confcutdir", str(SUITE_DIR),
            "-o", f"cache_dir={Path.cwd() / '.pytest_cache'}",
            "-rfEX", "--strict-markers",
            # This command imported lossref before pytest could mark the installed plugin's package
            # for assertion rewriting: pytest's warning about that is this command's, not the run's.
            "-W", "ignore:Module already imported so cannot be rewritten; lossref:pytest.PytestAssertRewriteWarning",
            # The suite's directory, not --pyargs: a directory given as an argument has its
            # conftest.py loaded before the run starts, on the controller of an xdist run too
            # (which collects nothing itself): the table and --report are written there.
            str(SUITE_DIR), *translate(argv)]


def check_options(argv: list[str]) -> str | None:
    """The one-line refusal of a bad option or file, or None."""
    from .options import OptionError, check_all

    given = option_values(translate(argv))
    defaults = {option.name: option.settings.get("default") for option in OPTIONS}
    try:
        check_all(lambda name: given.get(name, defaults[name]), Path.cwd())
    except OptionError as error:
        return f"lossref: {error}"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "-h" in argv or "--help" in argv:
        print(usage())
        return 0
    if "--help-pytest" in argv:
        return int(pytest.main([*pytest_args([]), "--help"]))
    refusal = check_options(argv)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    return int(pytest.main(pytest_args(argv + sharded_selection(argv))))


def sharded_selection(argv: list[str]) -> list[str]:
    """``-m sharded`` where the run asks for the sharded tier (``--world-size N``, or a sharded
    ``--impl``) and names no marker expression itself."""
    if any(arg == "-m" or arg.startswith("-m") and not arg.startswith("--") for arg in argv):
        return []
    from . import impl

    given = option_values(translate(argv))
    wants = given.get("world-size") is not None or impl.load(given.get("impl") or impl.DEFAULT).sharded
    return ["-m", "sharded"] if wants else []


if __name__ == "__main__":
    sys.exit(main())
