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

__all__ = []
for _family in FAMILIES:
    _module = import_module(f"{__name__}.{_family}")
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
del _family, _module, _name

#: The losses this package references, by their ``torch.nn.functional`` name.
LOSSES = tuple(sorted(n for n in __all__ if not n.endswith("_backward")))

__all__ = sorted(__all__) + ["LOSSES", "FAMILIES"]
