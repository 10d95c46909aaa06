"""The registry: one ``LossRecord`` per loss, gathered from one module per family.

Each family module (``tests/registry/<family>.py``, named like ``reference/<family>.py``)
defines ``RECORDS``. Tests import ``RECORDS`` or ``by_name`` from here and nothing else.
"""

from importlib import import_module

from lossref import FAMILIES

from .base import LossRecord

RECORDS: tuple[LossRecord, ...] = tuple(
    record for family in FAMILIES for record in import_module(f"{__name__}.{family}").RECORDS
)

by_name: dict[str, LossRecord] = {record.name: record for record in RECORDS}
assert len(by_name) == len(RECORDS), "a loss is described twice in the registry"
