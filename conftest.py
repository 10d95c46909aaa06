"""The repository's pytest configuration is the suite's plugin (tests/plugin.py), so that
``python -m pytest`` here, the installed suite and ``python -m pytest benchmarks`` share
one set of options and hooks."""

pytest_plugins = ["tests.plugin"]
