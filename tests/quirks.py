"""The known torch bugs the suite tests as expected failures, on the installed torch.

The records (names, reasons, threads, where each shows) are ``lossref.quirks``, torch-free;
this module binds them to the installed torch release. tests/parity.py's ``expect_quirk``
marks a test with one.
"""

from __future__ import annotations

from dataclasses import fields

from lossref import quirks as _records

from . import releases


class Quirk(_records.Quirk):
    """A ``lossref.quirks`` record that knows the installed torch."""

    def applies_to_installed_torch(self) -> bool:
        return self.holds_in(releases.INSTALLED)


#: Every record of ``lossref.quirks.QUIRKS``, in its order.
QUIRKS: tuple[Quirk, ...] = tuple(Quirk(**{f.name: getattr(q, f.name) for f in fields(q)}) for q in _records.QUIRKS)
_BY_NAME = {q.name: q for q in QUIRKS}


def find(loss: str, sample: str, device: str, test: str, layout: str = "contiguous",
         dtype: str | None = None, inputs: tuple | None = None, *, tags=(), implementation="torch",
         split=()) -> Quirk | None:
    """The quirk expected on this case with the installed torch: ``sample`` is the registry
    sample's id, ``tags`` its tags (``Sample.tags``); ``inputs`` (args, kwargs as NumPy)
    decides a quirk that ``shows_on`` some draws only (without them, such a quirk is not
    expected)."""
    found = _records.find(loss, sample, device, test, layout, dtype, inputs, tags=tags, version=releases.INSTALLED,
                          implementation=implementation, split=split)
    return None if found is None else _BY_NAME[found.name]
