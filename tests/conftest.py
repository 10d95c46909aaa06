"""Loads the suite's plugin wherever the suite runs: from the repository (as ``tests``,
where the root conftest.py has already loaded it: pytest registers a module once) and
installed (``python -m pytest --pyargs lossref``)."""

pytest_plugins = [f"{__package__}.plugin"]
