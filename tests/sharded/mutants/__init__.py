"""Sharded implementations wrong in the ways sharded cross-entropy has shipped wrong.

Each is ``tests/sharded/collectives.py`` with one function replaced by a wrong one (patched in
for the call: a rank runs one case at a time), loadable with ``--impl`` and each failing the
check named in its docstring (tests/test_sharded_mutants.py proves it, beside the plain
implementation passing the same case).
"""

from __future__ import annotations

import contextlib
from unittest import mock

from .. import collectives as plain


def planted(**replacements):
    """A context in which ``collectives``' functions named by the keywords are the given ones."""
    stack = contextlib.ExitStack()
    for name, replacement in replacements.items():
        stack.enter_context(mock.patch.object(plain, name, replacement))
    return stack
