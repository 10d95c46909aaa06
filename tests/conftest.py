"""The suite's own configuration: what pytest loads when it collects the suite, wherever it runs
(the repository's ``tests/``, or installed as ``lossref.tests`` by the ``lossref`` command).

It switches the suite on for the tests below this directory (``tests/session.py``); the
installed plugin (``tests/plugin.py``) only adds the options, so an adopter's unrelated run,
which never collects this directory, meets none of this.
"""

from pathlib import Path

from .session import configure, impl, pytest_generate_tests, rng  # noqa: F401  (hooks and fixtures, by name)
from .sharded.gate import sharded_groups  # noqa: F401  (the sharded tier's process groups, started once per run)

# tests/test_plugin.py runs pytest on sandbox files: pytester, for the suite's own runs only.
pytest_plugins = ["pytester"]


def pytest_configure(config):
    configure(config, Path(__file__).resolve().parent)
