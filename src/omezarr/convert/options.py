"""Parsing the converter's options: units, per-axis values, scale factors, shapes, compressors.

The ``parse_*`` functions read the text of the command line's options, so their errors name
the option (``--scale``); :func:`normalize_unit` and :func:`auto_scale_factors` serve any caller.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ..io.codecs import BLOSC_SHUFFLE_CODES, DEFAULT_BLOCKSIZE
from ..ngff.axes import KNOWN_SPATIAL_UNITS, KNOWN_TEMPORAL_UNITS

__all__ = [
    "auto_scale_factors",
    "normalize_unit",
    "parse_axis_values",
    "parse_compressor",
    "parse_scale_factors",
    "parse_shape_option",
    "parse_units",
]

_AUTO_SMALLEST = 256
"""``scale_factors="auto"`` halves y and x until both fit in this many pixels."""


# --------------------------------------------------------------------------- units and options

_SI_SYMBOLS = {
    "Y": "yotta",
    "Z": "zetta",
    "E": "exa",
    "P": "peta",
    "T": "tera",
    "G": "giga",
    "M": "mega",
    "k": "kilo",
    "h": "hecto",
    "d": "deci",
    "c": "centi",
    "m": "milli",
    "µ": "micro",  # micro sign
    "μ": "micro",  # Greek mu
    "u": "micro",
    "n": "nano",
    "p": "pico",
    "f": "femto",
    "a": "atto",
    "z": "zepto",
    "y": "yocto",
}
_UNIT_SYMBOLS: dict[str, str] = {
    **{f"{symbol}m": f"{prefix}meter" for symbol, prefix in _SI_SYMBOLS.items()},
    **{f"{symbol}s": f"{prefix}second" for symbol, prefix in _SI_SYMBOLS.items()},
    "m": "meter",
    "s": "second",
    "h": "hour",
    "d": "day",
    "Å": "angstrom",
    "in": "inch",
    "ft": "foot",
    "yd": "yard",
    "mi": "mile",
    "pc": "parsec",
}
_UNIT_WORDS = {
    # Words that microscopy software writes for units, compared without regard to case
    # (unlike the symbols: "Mm" is a megameter, "mm" a millimeter). ImageJ writes "micron",
    # "sec", "min" and "hr"; plurals of the NGFF names are read as the names.
    "micron": "micrometer",
    "microns": "micrometer",
    "sec": "second",
    "secs": "second",
    "msec": "millisecond",
    "usec": "microsecond",
    "µsec": "microsecond",
    "nsec": "nanosecond",
    "min": "minute",
    "mins": "minute",
    "hr": "hour",
    "hrs": "hour",
    "inches": "inch",
    "feet": "foot",
}
_ESCAPED_CHARACTER = re.compile(r"\\u([0-9a-fA-F]{4})")
"""ImageJ writes non-ASCII characters of its metadata as Java escapes: ``\\u00B5m``."""


def normalize_unit(unit: str, kind: str = "space") -> str:
    """The NGFF (UDUNITS-2) name of a unit given by name or symbol (``"µm"``, ``"um"``, ``"ms"``).

    Parameters
    ----------
    unit : str
        A unit name (``"micrometer"``, ``"nanometers"``) or symbol as OME-XML and ImageJ
        write them (``"µm"``, ``"um"``, ``"micron"``, ``"\\u00B5m"``, ``"sec"``, ``"hr"``).
        Symbols are case-sensitive, words are not.
    kind : {"space", "time"}
        Which kind of axis the unit is for.

    Raises
    ------
    ValueError
        If the unit is not an NGFF unit of that kind.

    Examples
    --------
    >>> normalize_unit("µm"), normalize_unit("ms", "time")
    ('micrometer', 'millisecond')
    """
    known = KNOWN_SPATIAL_UNITS if kind == "space" else KNOWN_TEMPORAL_UNITS
    text = _ESCAPED_CHARACTER.sub(lambda match: chr(int(match[1], 16)), unit.strip())
    word = text.lower().replace("metre", "meter")
    name = _UNIT_SYMBOLS.get(text) or _UNIT_WORDS.get(word) or word
    if name not in known and name.endswith("s") and name[:-1] in known:
        name = name[:-1]  # "seconds", "nanometers"
    if name not in known:
        example = "micrometer, nanometer" if kind == "space" else "second, millisecond"
        raise ValueError(f"{unit!r} is not an NGFF {kind} unit (e.g. {example})")
    return name


def _split_pairs(text: str, option: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(
                f"{option}: expected axis=value pairs such as z=0.5,y=0.1, not {text!r}"
            )
        pairs.append((name.strip(), value.strip()))
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"{option}: an axis is given twice in {text!r}")
    return pairs


def parse_axis_values(text: str, option: str = "--scale") -> dict[str, float]:
    """``"z=0.5,y=0.1,x=0.1"`` as ``{"z": 0.5, "y": 0.1, "x": 0.1}`` (positive numbers).

    Raises
    ------
    ValueError
        Naming ``option``, for malformed text or values that are not positive numbers.
    """
    values = {}
    for name, value in _split_pairs(text, option):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{option}: {value!r} for axis {name!r} is not a number") from None
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"{option}: the value of axis {name!r} must be positive, not {value}")
        values[name] = number
    return values


def parse_units(text: str) -> str | dict[str, str]:
    """``--units``: one unit for every space axis (``"micrometer"``), or ``"x=µm,t=s"``.

    Units are normalised with :func:`normalize_unit` (time units for ``t``).

    Raises
    ------
    ValueError
        Naming ``--units``, for unknown units or malformed text.
    """
    try:
        if "=" not in text:
            return normalize_unit(text, "space")
        return {
            name: normalize_unit(value, "time" if name == "t" else "space")
            for name, value in _split_pairs(text, "--units")
        }
    except ValueError as error:
        message = str(error)
        raise ValueError(message if message.startswith("--") else f"--units: {message}") from None


def _positive_int(value: str, option: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{option}: {value!r} is not a whole number") from None
    if number < 1:
        raise ValueError(f"{option}: values must be at least 1, not {number}")
    return number


def parse_scale_factors(text: str) -> str | list[int] | list[dict[str, int]]:
    """``--scale-factors``: ``"auto"``, ``"none"``, ``"2,4,8"`` or per axis ``"z=1,y=2,x=2;z=2,y=4,x=4"``.

    Returns ``"auto"``, ``[]`` (a single level), a list of ints (y and x downsampled by each)
    or a list of dicts, one per level (as :func:`omezarr.writer.write_image` takes them).

    Raises
    ------
    ValueError
        Naming ``--scale-factors``, for malformed text or factors below 1.
    """
    option = "--scale-factors"
    text = text.strip()
    if text.lower() == "auto":
        return "auto"
    if text.lower() in ("none", "0", ""):
        return []
    if "=" in text:
        return [
            {name: _positive_int(value, option) for name, value in _split_pairs(level, option)}
            for level in text.split(";")
        ]
    return [_positive_int(part.strip(), option) for part in text.split(",")]


def parse_shape_option(text: str, option: str) -> str | tuple[int, ...] | dict[str, int]:
    """``--chunks``/``--shards``: ``"1,64,256,256"``, per axis ``"y=256,x=256"``, or ``"auto"``.

    Raises
    ------
    ValueError
        Naming ``option``, for malformed text or sizes below 1.
    """
    text = text.strip()
    if text.lower() == "auto":
        return "auto"
    if "=" in text:
        return {name: _positive_int(value, option) for name, value in _split_pairs(text, option)}
    return tuple(_positive_int(part.strip(), option) for part in text.split(","))


def parse_compressor(text: str) -> Any:
    """``--compressor``: ``blosc-zstd:1`` (``blosc[-CNAME][:LEVEL[:SHUFFLE]]``), ``zstd:3``,
    ``gzip:6``, ``lz4``, ``none`` or ``default``, as a numcodecs codec (None for none).

    Raises
    ------
    ValueError
        Naming ``--compressor``, for unknown codecs or levels.

    Examples
    --------
    >>> parse_compressor("zstd:3")
    Zstd(level=3)
    """
    import numcodecs

    option = "--compressor"
    name, _, rest = text.strip().lower().partition(":")
    args = [part for part in rest.split(":") if part] if rest else []
    if name in ("none", "raw"):
        return None
    if name == "default":
        return "default"

    def level(default: int, low: int, high: int) -> int:
        if not args:
            return default
        try:
            value = int(args[0])
        except ValueError:
            raise ValueError(
                f"{option}: level {args[0]!r} of {text!r} is not a whole number"
            ) from None
        if not low <= value <= high:
            raise ValueError(f"{option}: level of {name} must be {low} to {high}, not {value}")
        return value

    if name == "blosc" or name.startswith("blosc-"):
        cname = name.partition("-")[2] or "lz4"
        if cname not in numcodecs.blosc.list_compressors():
            choices = ", ".join(numcodecs.blosc.list_compressors())
            raise ValueError(f"{option}: blosc has no inner codec {cname!r} (choose {choices})")
        shuffle_name = args[1] if len(args) > 1 else "shuffle"
        if shuffle_name not in BLOSC_SHUFFLE_CODES:
            raise ValueError(
                f"{option}: blosc shuffle must be one of {list(BLOSC_SHUFFLE_CODES)}, "
                f"not {shuffle_name!r}"
            )
        # omezarr's block size (DEFAULT_BLOCKSIZE): faster and smaller than Blosc's own
        # choice at low levels, so "blosc-zstd:1" is exactly the default codec.
        return numcodecs.Blosc(
            cname=cname,
            clevel=level(5, 0, 9),
            shuffle=BLOSC_SHUFFLE_CODES[shuffle_name],
            blocksize=DEFAULT_BLOCKSIZE,
        )
    if name == "zstd":
        return numcodecs.Zstd(level=level(3, -131072, 22))
    if name in ("gzip", "zlib"):
        return numcodecs.GZip(level=level(6, 0, 9))
    if name == "lz4":
        return numcodecs.LZ4(acceleration=level(1, 1, 65537))
    raise ValueError(
        f"{option}: unknown compressor {text!r}; use e.g. blosc-zstd:1, blosc-lz4:5, zstd:3, "
        "gzip:6, lz4, none or default"
    )


def auto_scale_factors(shape: Sequence[int], dims: Sequence[str]) -> list[int]:
    """Powers of two for y and x until the coarsest level fits in 256 × 256 pixels.

    Examples
    --------
    >>> auto_scale_factors((2, 1000, 3000), "cyx")
    [2, 4, 8, 16]
    >>> auto_scale_factors((200, 200), "yx")
    []
    """
    largest = max((int(n) for n, d in zip(shape, dims, strict=True) if d in "yx"), default=1)
    factors: list[int] = []
    factor = 1
    while largest // factor > _AUTO_SMALLEST:
        factor *= 2
        factors.append(factor)
    return factors
