"""The suite's options, checked before the first test: a bad option or file is refused in one
line that names it and says what was wrong (pytest's usage-error status, 4), never a run of
thousands of tests into the same error, nor a traceback after the whole run.

Used twice, with one code: by the ``lossref`` command before it starts pytest (so that the
refusal is the only line printed), and by the suite's ``pytest_configure`` (``python -m pytest
--lossref-impl ...`` from the checkout, or any run that collects the suite).
"""

from __future__ import annotations

import os
from pathlib import Path

from .plugin import DEFAULT_IMPL


class OptionError(ValueError):
    """An invalid option or file given to the suite; its message is the one line printed."""


def check_impl(spec: str) -> None:
    """The implementation can be imported and defines at least one loss of torch.nn.functional."""
    from . import impl
    import lossref

    try:
        implementation = impl.load(spec)
    except ValueError as error:
        raise OptionError(str(error)) from None
    if implementation.sharded:
        from .sharded.interface import SHARDABLE

        if not any(implementation.function(name) for name in SHARDABLE):
            raise OptionError(f"--impl {spec}: declares the sharded interface but defines none of its losses "
                              f"({', '.join(SHARDABLE)}): nothing to test")
    elif spec != DEFAULT_IMPL and not any(implementation.function(name) for name in lossref.LOSSES):
        raise OptionError(f"--impl {spec}: defines none of torch.nn.functional's losses "
                          f"({', '.join(lossref.LOSSES[:3])}, ...): nothing to test")


def check_world_size(size) -> None:
    """``--world-size``: 1 to 8 processes (tests/sharded/gate.py says why 8)."""
    from .sharded.interface import MAX_WORLD_SIZE

    if size is not None and not 1 <= int(size) <= MAX_WORLD_SIZE:
        raise OptionError(f"--world-size {size}: expected 1 to {MAX_WORLD_SIZE} processes (the sharded tolerance "
                          f"covers at most {MAX_WORLD_SIZE} ranks without a factor)")


def check_writable(option: str, name: str | None, cwd: Path) -> None:
    """A file the run will write at its end can be written: refused now, not after the run."""
    if not name:
        return
    path = cwd / name
    if path.is_dir():
        raise OptionError(f"{option} {name}: is a directory, expected a file to write")
    if not path.parent.is_dir():
        raise OptionError(f"{option} {name}: cannot write it: the directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OptionError(f"{option} {name}: cannot write it: permission denied")


def check_xfails(name: str | None, cwd: Path):
    """The baseline file, read and parsed (None without ``--xfails``)."""
    if not name:
        return None
    from .xfails import Baseline

    try:
        return Baseline.read(cwd / name, name)
    except ValueError as error:
        raise OptionError(str(error)) from None


def check_values(get) -> None:
    """Options with a fixed set of values (``--device``, ``--conformance``) or a type (``--seed``):
    pytest checks them too, but with its usage text around the line; the command says one line."""
    from .plugin import OPTIONS

    for option in OPTIONS:
        given = get(option.name)
        choices = option.settings.get("choices")
        if choices and given not in choices:
            raise OptionError(f"{option.short} {given}: expected one of {', '.join(choices)}")
        kind = option.settings.get("type")
        if kind is not None and given is not None:
            try:
                kind(given)
            except (TypeError, ValueError):
                raise OptionError(f"{option.short} {given}: expected {'an integer' if kind is int else kind.__name__}") from None


def check_all(get, cwd: Path):
    """Every option, in the order a user reads them; ``get(name)`` gives an option's value.
    Returns the parsed xfails baseline."""
    check_values(get)
    check_writable("--report", get("report"), cwd)
    check_writable("--write-xfails", get("write-xfails"), cwd)
    baseline = check_xfails(get("xfails"), cwd)
    check_world_size(get("world-size"))
    check_impl(get("impl"))
    return baseline
