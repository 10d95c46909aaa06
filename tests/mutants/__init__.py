"""Deliberately wrong implementations for ``--impl``: the suite must fail on each.

Every module here is ``torch.nn.functional`` with one planted bug, so that
``tests/test_mutants.py`` can show the gate closes on a wrong kernel, not only on a
wrong reference.
"""
