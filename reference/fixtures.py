"""Citable expected values: one JSON file a case under the repository's ``fixtures/``.

    >>> from reference import fixtures
    >>> case = fixtures.load("article/cross_entropy")
    >>> case.loss, case.printed
    ('cross_entropy', '3.7925')
    >>> import torch.nn.functional as F, torch                          # doctest: +SKIP
    >>> got = getattr(F, case.loss)(*map(torch.as_tensor, case.args), **case.kwargs)   # doctest: +SKIP

Every file is validated against ``fixtures/schema.json`` when it is loaded; a missing,
truncated or malformed file raises ``FixtureError`` naming the file and the field.
Files are plain JSON: nothing is ever unpickled.
"""

from __future__ import annotations

import json
from decimal import Decimal
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["Case", "FixtureError", "Tolerance", "names", "load", "load_file", "root", "encode_array",
           "printed_mismatches"]


class FixtureError(ValueError):
    """A fixture file is missing, unreadable or does not match the schema."""


@dataclass(frozen=True)
class Tolerance:
    """How close a float computation in the recorded dtype must come to ``expected``."""

    rtol: float
    atol: float
    reason: str


@dataclass(frozen=True)
class Case:
    """One loss evaluation: ``reference.<loss>(*args, **kwargs)`` is ``expected``."""

    name: str
    loss: str
    args: tuple
    kwargs: dict
    expected: np.ndarray
    printed: str | None
    source: str
    description: str
    generator: str
    tolerance: Tolerance | None = None
    grad_output: np.ndarray | None = None
    gradients: tuple | None = None
    intermediates: dict = field(default_factory=dict)
    path: Path | None = None


def root() -> Path:
    """The folder that holds the fixture files.

    Installed, the files live in ``reference/_fixture_data``; in a checkout (and in an
    editable install) they are the repository's top-level ``fixtures/``.
    """
    installed = Path(__file__).with_name("_fixture_data")
    if (installed / "schema.json").is_file():
        return installed
    return Path(__file__).resolve().parent.parent / "fixtures"


def names() -> list[str]:
    """Every fixture's name, sorted, e.g. ``"article/cross_entropy"``."""
    base = root()
    return sorted(p.relative_to(base).with_suffix("").as_posix()
                  for p in base.rglob("*.json") if p.name != "schema.json")


def load(name: str) -> Case:
    """The case called ``name`` (see ``names()``)."""
    path = root() / f"{name}.json"
    if not path.is_file():
        raise FixtureError(f"no fixture named {name!r} (looked for {path}); known: {', '.join(names())}")
    return load_file(path)


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads((root() / "schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def load_file(path) -> Case:
    """Read, validate and decode one fixture file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FixtureError(f"{path}: cannot read fixture file ({error.strerror or error})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise FixtureError(f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    from jsonschema.exceptions import best_match

    first = best_match(_validator().iter_errors(raw))  # descends into anyOf to the deepest cause
    if first is not None:
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise FixtureError(f"{path}: field {where!r}: {first.message}")
    expected_name = path.relative_to(path.parents[len(Path(raw['name']).parts) - 1]).with_suffix("").as_posix()
    if raw["name"] != expected_name:
        raise FixtureError(f"{path}: field 'name': {raw['name']!r} does not match the file's path {expected_name!r}")

    def value(v, where):
        return _decode_array(v, path, where) if isinstance(v, dict) else v

    tolerance = raw.get("tolerance")
    gradients = raw.get("gradients")
    return Case(
        name=raw["name"],
        loss=raw["loss"],
        args=tuple(value(v, f"args/{i}") for i, v in enumerate(raw["args"])),
        kwargs={k: value(v, f"kwargs/{k}") for k, v in raw["kwargs"].items()},
        expected=_decode_array(raw["expected"], path, "expected").astype(np.float64),
        printed=raw["printed"],
        source=raw["source"],
        description=raw["description"],
        generator=raw["generator"],
        tolerance=Tolerance(**tolerance) if tolerance else None,
        grad_output=_decode_array(raw["grad_output"], path, "grad_output") if "grad_output" in raw else None,
        gradients=None if gradients is None else tuple(
            None if g is None else _decode_array(g, path, f"gradients/{i}") for i, g in enumerate(gradients)),
        intermediates={k: (_decode_array(v["expected"], path, f"intermediates/{k}/expected"), v["printed"])
                       for k, v in raw.get("intermediates", {}).items()},
        path=path,
    )


_NON_FINITE = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}


def _decode_array(spec: dict, path: Path, where: str) -> np.ndarray:
    def number(x):
        return _NON_FINITE[x] if isinstance(x, str) else x

    def walk(x):
        return [walk(i) for i in x] if isinstance(x, list) else number(x)

    try:
        array = np.array(walk(spec["data"]), dtype=spec["dtype"])
    except (TypeError, ValueError, OverflowError) as error:
        raise FixtureError(f"{path}: field '{where}/data': cannot be read as {spec['dtype']}: {error}") from None
    if array.shape != tuple(spec["shape"]):
        raise FixtureError(f"{path}: field '{where}/data': has shape {array.shape}, but 'shape' says {tuple(spec['shape'])}")
    return array


def _number(x) -> object:
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def encode_array(array) -> dict:
    """The JSON form of an array (the inverse of the loader's decoding): dtype, shape and
    nested data, with nan and ±inf as the strings "nan", "inf" and "-inf"."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        data = [_number(float(v)) for v in array.ravel()]
    elif array.dtype.kind == "b":
        data = [bool(v) for v in array.ravel()]
    else:
        data = [int(v) for v in array.ravel()]
    nested = np.empty(len(data), dtype=object)
    nested[:] = data
    return {"dtype": str(array.dtype), "shape": list(array.shape), "data": nested.reshape(array.shape).tolist()}


def printed_mismatches(value, printed: str) -> list[str]:
    """Where ``value`` does not agree with ``printed`` to the digits printed (empty: it agrees).

    ``printed`` holds numbers separated by whitespace in row-major order ('3.7925',
    '8.0005 3.3555 0.021476', 'nan'); each entry must lie within half a unit of the last
    printed digit ('3.7925' -> 5e-5, '8.0005e+00' -> 5e-5), with a 1e-9 relative slack
    for the float32 output the printed digits came from.
    """
    tokens = printed.split()
    values = np.ravel(np.asarray(value, dtype=np.float64))
    if len(tokens) != values.size:
        return [f"{values.size} values but {len(tokens)} printed"]
    problems = []
    for index, (v, token) in enumerate(zip(values, tokens)):
        if token.lower() in ("nan", "inf", "-inf"):
            ok = np.isnan(v) if token.lower() == "nan" else v == float(token)
        else:
            half_unit = 0.5 * 10.0 ** Decimal(token).as_tuple().exponent
            ok = abs(v - float(token)) <= half_unit * (1 + 1e-9)
        if not ok:
            problems.append(f"[{index}] {v!r} does not print as {token}")
    return problems
