"""The fixture files as the suite reads them: each loaded (and schema-validated) once per
session, by whichever test asks first; the tests only read the cases."""

from __future__ import annotations

import functools

from lossref import fixtures


@functools.cache
def case(name: str) -> fixtures.Case:
    return fixtures.load(name)


def every_case() -> list[fixtures.Case]:
    return [case(name) for name in fixtures.names()]
