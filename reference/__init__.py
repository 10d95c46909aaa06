"""lossref: NumPy float64 references for every loss in ``torch.nn.functional``.

``reference.<name>`` has the name, positional order, keywords and defaults of
``torch.nn.functional.<name>`` (without the deprecated ``size_average`` and ``reduce``),
takes anything ``numpy.asarray`` accepts and returns a float64 ``numpy.ndarray`` of the
shape torch returns. ``reference.<name>_backward(grad_output, *args, **kwargs)`` is its
hand-derived gradient. ``lossref.fixtures`` loads the citable expected values.

This package never imports torch (only ``python -m lossref`` compares with it).
"""

from importlib import import_module

#: The modules that hold the references, one family of losses each.
FAMILIES = ("classification", "binary", "divergence", "regression", "margin", "embedding", "ctc")
#: The other public modules, imported on first use: the fixtures, the shared facts, the oracle (mpmath).
SUBPACKAGES = ("fixtures", "tolerance", "releases", "quirks", "oracle")


def _load() -> dict:
    """Import the families and gather their public names, once, on first use: ``import lossref``
    itself stays cheap (the suite's pytest plugin lives in this package and is loaded into every
    pytest run of an environment that has lossref installed)."""
    names = {}
    for family in FAMILIES:
        module = import_module(f"{__name__}.{family}")
        names.update((name, getattr(module, name)) for name in getattr(module, "__all__", ()))
    # The losses this package references, by their ``torch.nn.functional`` name.
    names["LOSSES"] = tuple(sorted(n for n in names if not n.endswith("_backward")))
    names["__all__"] = sorted(names) + ["FAMILIES"]
    globals().update(names)
    return names


def __getattr__(name: str):
    """``lossref.cross_entropy``, ``lossref.LOSSES``, ``from lossref import *``: the references,
    imported when first asked for (PEP 562)."""
    if name.startswith("__") and name != "__all__":
        raise AttributeError(name)
    if name in SUBPACKAGES:        # lossref.fixtures without its own import statement
        return import_module(f"{__name__}.{name}")
    names = _load()
    if name in names:
        return names[name]
    raise AttributeError(f"module 'lossref' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_load()))
