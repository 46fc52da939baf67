"""Physical quantities written in YAML ("1.5 pJ", "40 MHz", "16 KiB") parsed to SI floats.

Units appear only in YAML files and in reports; inside the code every value is SI (J, W, s, Hz,
m, m², V) and memory is counted in **bits**. A bare number where a unit is required is an
error, and so is a unit of the wrong kind ("1.5 pF" for an energy): the message names the file,
the field and the unit kind expected, with examples.

Conventions:

* SI prefixes ``a f p n u µ μ m k M G T`` (``u``, ``µ`` (U+00B5) and ``μ`` (U+03BC) all mean
  micro); ``c`` (centi) only for lengths and areas.
* Memory: ``b``/``bit``/``bits`` is a bit and ``B``/``byte``/``bytes`` a byte (8 bits). Decimal
  prefixes are powers of 1000 (``kB`` = 1000 bytes), binary prefixes ``Ki Mi Gi Ti`` powers of
  1024 (``KiB`` = 1024 bytes). An upper-case ``K`` (``KB``, ``Kb``) is refused, because papers
  use it for both 1000 and 1024: write ``kB`` or ``KiB``.
* Area: a length unit squared, ``mm2`` or ``mm²`` (= 1e-6 m²).
* The value is computed with decimal arithmetic and rounded once, so ``"1.5 pJ"`` gives exactly
  the float ``1.5e-12``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from chipsim.errors import ChipsimError

#: dimension -> (SI unit written in reports, base-unit spellings, examples for messages)
DIMENSIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "energy": ("J", ("J",), "'1.5 pJ', '0.1 uJ', '3 nJ'"),
    "power": ("W", ("W",), "'12 mW', '0.82 mW', '0 W'"),
    "time": ("s", ("s",), "'3.5 ns', '1 ms', '25 ns'"),
    "frequency": ("Hz", ("Hz",), "'40 MHz', '1 GHz'"),
    "length": ("m", ("m",), "'28 nm', '1.2 mm'"),
    "memory": ("bit", ("b", "bit", "bits", "B", "byte", "bytes"), "'16 KiB', '128 kB', '2 Mb'"),
    "area": ("m2", ("m2", "m²", "m^2"), "'1.25 mm2', '1.25 mm²', '60 mm2'"),
    "voltage": ("V", ("V",), "'0.56 V', '750 mV'"),
}

_SI_PREFIX = {
    "": 0, "a": -18, "f": -15, "p": -12, "n": -9, "u": -6, "\u00b5": -6, "\u03bc": -6,
    "m": -3, "k": 3, "M": 6, "G": 9, "T": 12,
}
_BINARY_PREFIX = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4}
_BYTE_UNITS = ("B", "byte", "bytes")

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY_RE = re.compile(rf"^\s*({_NUMBER})\s*(\S+)\s*$")
_BARE_NUMBER_RE = re.compile(rf"^\s*{_NUMBER}\s*$")


_NOUN = {"energy": "an energy", "power": "a power", "time": "a time", "frequency": "a frequency",
         "length": "a length", "memory": "a memory size", "area": "an area",
         "voltage": "a voltage"}


def _bad(text, dimension: str, why: str, file, field) -> ChipsimError:
    examples = DIMENSIONS[dimension][2]
    return ChipsimError(why, file=file, field=field,
                        expected=f"{_NOUN[dimension]} with a unit, e.g. {examples}")


def _split_unit(unit: str, dimension: str) -> tuple[int, int, int] | None:
    """Return (decimal exponent, binary multiplier, extra factor) for a unit, or None.

    The extra factor is 8 for bytes (memory is returned in bits), else 1. For areas the decimal
    exponent is already doubled (mm² -> -6).
    """
    _, bases, _ = DIMENSIONS[dimension]
    for base in sorted(bases, key=len, reverse=True):
        if not unit.endswith(base):
            continue
        prefix = unit[: len(unit) - len(base)]
        factor = 8 if (dimension == "memory" and base in _BYTE_UNITS) else 1
        if dimension == "memory" and prefix in _BINARY_PREFIX:
            return 0, _BINARY_PREFIX[prefix], factor
        if dimension == "memory" and _SI_PREFIX.get(prefix, 0) < 0:
            continue  # no fractions of a bit ("mb" is almost always a typo for "Mb" or "MB")
        if prefix == "c" and dimension in ("length", "area"):
            exp = -2
        elif prefix in _SI_PREFIX:
            exp = _SI_PREFIX[prefix]
        else:
            continue
        if dimension == "area":
            exp *= 2
        return exp, 1, factor
    return None


def _other_dimension(unit: str, dimension: str) -> str | None:
    for dim in DIMENSIONS:
        if dim != dimension and _split_unit(unit, dim) is not None:
            return dim
    return None


def parse_quantity(text, dimension: str, *, file=None, field: str | None = None,
                   allow_negative: bool = False) -> float:
    """Parse ``text`` (e.g. ``"1.5 pJ"``) as a quantity of ``dimension``; return its SI value.

    ``dimension`` is one of :data:`DIMENSIONS` (memory is returned in bits, area in m²).
    Raises :class:`ChipsimError` naming ``file`` and ``field`` when the text is not a number
    followed by a unit of that dimension.
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; known: {sorted(DIMENSIONS)}")
    if text is None:
        raise _bad(text, dimension, "got null", file, field)
    if isinstance(text, bool):
        raise _bad(text, dimension, f"got {text!r}", file, field)
    if isinstance(text, (int, float)):
        raise _bad(text, dimension, f"the number {text!r} has no unit", file, field)
    if not isinstance(text, str):
        raise _bad(text, dimension, f"got {type(text).__name__} {text!r}", file, field)
    if _BARE_NUMBER_RE.match(text):
        raise _bad(text, dimension, f"the number '{text.strip()}' has no unit", file, field)
    m = _QUANTITY_RE.match(text)
    if not m:
        raise _bad(text, dimension, f"cannot read '{text}' as a number followed by a unit",
                   file, field)
    number, unit = m.group(1), m.group(2)
    split = _split_unit(unit, dimension)
    if split is None:
        if dimension == "memory" and unit[:1] == "K" and _split_unit("k" + unit[1:], dimension):
            raise _bad(text, dimension,
                       f"'{unit}' is ambiguous (1000 or 1024?): write 'k{unit[1:]}' for 1000 "
                       f"or 'Ki{unit[1:]}' for 1024", file, field)
        other = _other_dimension(unit, dimension)
        why = f"'{text.strip()}' is not {_NOUN[dimension]}"
        if other:
            why += f" ('{unit}' is a unit of {other})"
        else:
            why += f" (unknown unit '{unit}')"
        raise _bad(text, dimension, why, file, field)
    exp, binary, factor = split
    try:
        value = Decimal(number) * (Decimal(10) ** exp) * binary * factor
    except InvalidOperation:  # pragma: no cover - the regex only lets valid numbers through
        raise _bad(text, dimension, f"cannot read the number in '{text}'", file, field) from None
    out = float(value)
    if not math.isfinite(out):
        raise _bad(text, dimension, f"'{text.strip()}' is out of range", file, field)
    if out < 0 and not allow_negative:
        raise _bad(text, dimension, f"'{text.strip()}' is negative", file, field)
    return out


_FORMAT_PREFIXES = {12: "T", 9: "G", 6: "M", 3: "k", 0: "", -3: "m", -6: "µ", -9: "n",
                    -12: "p", -15: "f", -18: "a"}


def format_si(value: float, unit: str, digits: int = 4) -> str:
    """Format an SI value for display: ``format_si(1.5e-12, 'J') -> '1.5 pJ'``.

    ``unit`` is the SI unit (``J W s Hz m V bit``); ``m2`` (or ``m²``) is formatted with the
    prefix applied to the metre (``1.25e-6 -> '1.25 mm²'``). ``digits`` significant digits.
    ``None`` formats as ``'n/a'``.
    """
    if value is None:
        return "n/a"
    value = float(value)
    area = unit in ("m2", "m²", "m^2")
    shown = "m²" if area else unit
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {shown}"
    step = 2 if area else 1
    exp = 3 * math.floor(math.log10(abs(value)) / (3 * step))
    exp = max(-18, min(12, exp))
    text = f"{value / 10.0 ** (exp * step):.{digits}g}"
    if abs(float(text)) >= 1000 and exp < 12:   # rounding reached the next prefix
        exp += 3
        text = f"{value / 10.0 ** (exp * step):.{digits}g}"
    return f"{text} {_FORMAT_PREFIXES[exp]}{shown}"
