"""TIFF / OME-TIFF, NumPy, PNG/JPEG and zarr inputs into the writer (``omezarr convert``).

An input is opened lazily (:func:`open_input`): TIFF pages through tifffile's zarr interface,
``.npy`` files memory-mapped, zarr arrays and OME-Zarr images as they are stored, so files
larger than memory convert within the writer's memory budget. What the file knows about
itself (OME-XML or ImageJ pixel sizes and units, channel names and colours, the dimension
order) becomes NGFF axes, scale, units and ``omero`` metadata. :func:`convert` writes a
local result through a staging directory, so a failed conversion leaves nothing behind and an
existing output is only replaced once the new one is complete. Object stores (``s3://``) have
no rename, so a remote output is written in place (:func:`remote_output`): metadata last, so
an interrupted write never looks complete, and removed again if the conversion fails. Zarr
arrays and OME-Zarr images can also be read from URLs (``s3://``, ``http(s)://``).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import time
import uuid
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr
import zarr.errors
import zarr.storage
from zarr.core.sync import sync

from .axes import KNOWN_SPATIAL_UNITS, KNOWN_TEMPORAL_UNITS
from .codecs import DEFAULT_BLOCKSIZE
from .engine import Progress, memory_budget_from
from .format import CurrentFormat, Format, format_from_version
from .inspect import coarsest_statistics, describe, describe_level, level_totals
from .layout import default_chunks, input_chunks
from .metadata import valid_axes
from .reader import open_image
from .scale import Methods, resolve_method
from .storage import (
    READ_ONLY_PROTOCOLS,
    existing_group,
    file_url_path,
    is_url,
    open_group,
    open_node,
    read_ngff_attrs,
    write_ngff_attrs,
)
from .types import JSONDict
from .writer import write_image, write_labels

__all__ = [
    "NGFF_AXIS_ORDER",
    "ConversionError",
    "ConversionResult",
    "InputImage",
    "ProgressCallback",
    "auto_scale_factors",
    "check_output",
    "check_remote_output",
    "convert",
    "normalize_unit",
    "open_input",
    "parse_axis_values",
    "parse_compressor",
    "parse_scale_factors",
    "parse_shape_option",
    "parse_units",
    "remote_output",
    "staged_output",
    "write_demo",
]

NGFF_AXIS_ORDER = "tczyx"
"""The order axes are written in: time, channel, then space (z, y, x)."""

ProgressCallback = Callable[[str, Progress], None]
"""Called with what is being written (``"image"``, ``"labels/nuclei"``) and its progress."""

_AUTO_SMALLEST = 256
"""``scale_factors="auto"`` halves y and x until both fit in this many pixels."""

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_NPY_MAGIC = b"\x93NUMPY"


class ConversionError(Exception):
    """An input that cannot be converted, or an output that cannot be written; the message
    names the path or option and is meant for the user as it is."""


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
    "sec": "second",
    "min": "minute",
    "h": "hour",
    "d": "day",
    "Å": "angstrom",
    "in": "inch",
    "ft": "foot",
    "yd": "yard",
    "mi": "mile",
    "pc": "parsec",
    "micron": "micrometer",
    "microns": "micrometer",
    "\\u00B5m": "micrometer",  # ImageJ writes the escape sequence literally
}


def normalize_unit(unit: str, kind: str = "space") -> str:
    """The NGFF (UDUNITS-2) name of a unit given by name or symbol (``"µm"``, ``"um"``, ``"ms"``).

    Parameters
    ----------
    unit : str
        A unit name (``"micrometer"``) or symbol as OME-XML and ImageJ write them.
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
    text = unit.strip()
    name = _UNIT_SYMBOLS.get(text, text.lower())
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
        shuffles = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
        shuffle_name = args[1] if len(args) > 1 else "shuffle"
        if shuffle_name not in shuffles:
            raise ValueError(
                f"{option}: blosc shuffle must be one of {list(shuffles)}, not {shuffle_name!r}"
            )
        # omezarr's block size (DEFAULT_BLOCKSIZE): faster and smaller than Blosc's own
        # choice at low levels, so "blosc-zstd:1" is exactly the default codec.
        return numcodecs.Blosc(
            cname=cname,
            clevel=level(5, 0, 9),
            shuffle=shuffles[shuffle_name],
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


# --------------------------------------------------------------------------- lazy inputs


class _Source:
    """A lazy input in NGFF axis order: reads (and transposes) only the regions asked for.

    Errors while reading become :class:`ConversionError` naming the input, so that a corrupt
    file is reported as such rather than as a failure of the writer.
    """

    def __init__(self, inner: Any, order: Sequence[int], path: str) -> None:
        self.inner = inner
        self.order = tuple(order)  # output axis i is inner axis order[i]
        self.path = path
        self.shape = tuple(int(inner.shape[i]) for i in self.order)
        self.dtype = np.dtype(inner.dtype)
        chunks = input_chunks(inner)
        self.chunks = None if chunks is None else tuple(chunks[i] for i in self.order)
        self.ndim = len(self.shape)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        if not isinstance(key, tuple) or len(key) != self.ndim:
            raise TypeError("internal: a source is read with one slice per axis")
        inner_key: list[slice] = [slice(None)] * self.ndim
        for out_axis, inner_axis in enumerate(self.order):
            inner_key[inner_axis] = key[out_axis]
        try:
            block = self.inner[tuple(inner_key)]
            if hasattr(block, "compute") and not isinstance(block, np.ndarray):
                import dask

                # Synchronous: the engine's threads already read regions in parallel.
                block = block.compute(scheduler=dask.get)
            block = np.asarray(block)
        except Exception as error:
            raise ConversionError(
                f"{self.path}: cannot read pixels: {type(error).__name__}: {error}"
            ) from error
        return block.transpose(self.order) if self.order != tuple(range(self.ndim)) else block


@dataclass
class InputImage:
    """An opened input: lazy pixels in NGFF axis order and what the file says about them.

    Attributes
    ----------
    path : str
        The input as given.
    kind : str
        ``"OME-TIFF"``, ``"ImageJ TIFF"``, ``"TIFF"``, ``"NumPy"``, ``"PNG"``, ``"JPEG"``,
        ``"zarr array"`` or ``"OME-Zarr"``.
    data : array-like
        Shape, dtype and ``__getitem__`` with one slice per axis, in :attr:`axes` order.
    source_axes : str
        The axes as the file orders them (``"YXS"``, ``"TZCYX"``, ``"yxc"``).
    axes : str
        The axes written, in NGFF order (``"czyx"``).
    scale : dict of str to float
        Physical pixel sizes found in the file.
    units : dict of str to str
        NGFF units found in the file.
    channel_names, channel_colors : list of str or None
        One name / hex ``RRGGBB`` colour per channel, when the file has them.
    name : str or None
        The image name in the file.
    notes : list of str
        What was guessed or dropped, for the user.
    """

    path: str
    kind: str
    data: Any
    source_axes: str
    axes: str
    scale: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    channel_names: list[str] | None = None
    channel_colors: list[str] | None = None
    name: str | None = None
    notes: list[str] = field(default_factory=list)


def _detect_kind(path: Path) -> str:
    if path.is_dir():
        if any((path / name).exists() for name in ("zarr.json", ".zarray", ".zgroup")):
            return "zarr"
        raise ConversionError(f"{path}: a directory that is no zarr array or group")
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_TIFF_MAGIC):
        return "tiff"
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_PNG_MAGIC):
        return "PNG"
    if head.startswith(_JPEG_MAGIC):
        return "JPEG"
    raise ConversionError(
        f"{path}: unsupported format (expected TIFF/OME-TIFF, .npy, PNG, JPEG or a zarr array)"
    )


def _import_optional(module: str, package: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConversionError(
            f"reading {what} needs {package}: pip install 'omezarr[convert]'"
        ) from None


def _guess_axes(letters: str, notes: list[str]) -> str:
    """Map file axis letters (tifffile's TCZYXS…, or user letters) to NGFF names."""
    mapped: list[str | None] = []
    for letter in letters:
        lower = letter.lower()
        if lower in NGFF_AXIS_ORDER:
            mapped.append(lower)
        elif lower == "s":
            mapped.append("c" if "c" not in letters.lower() else None)
        else:
            mapped.append(None)
    for i, name in enumerate(mapped):
        if name is None:
            free = next((a for a in "ztc" if a not in mapped), None)
            if free is None:
                raise ConversionError(
                    f"cannot map axis {letters[i]!r} of {letters!r} to t, c, z, y or x; pass --axes"
                )
            mapped[i] = free
            notes.append(f"axis {letters[i]!r} taken as {free!r} (pass --axes to change)")
    return "".join(str(name) for name in mapped)


def _check_user_axes(axes: str, ndim: int) -> str:
    axes = axes.strip().lower()
    if len(axes) != ndim or len(set(axes)) != ndim or any(a not in NGFF_AXIS_ORDER for a in axes):
        raise ValueError(
            f"--axes: expected {ndim} distinct letters of 'tczyx' for {ndim}-D input, not {axes!r}"
        )
    return axes


def _default_axes(ndim: int, notes: list[str]) -> str:
    if ndim < 2 or ndim > 5:
        raise ConversionError(f"OME-Zarr images have 2 to 5 dimensions, this input has {ndim}")
    axes = NGFF_AXIS_ORDER[-ndim:] if ndim != 4 else "czyx"
    if ndim in (3, 4):
        notes.append(f"axes guessed as {axes} (pass --axes to change)")
    return axes


def _ome_color(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        rgba = int(value) & 0xFFFFFFFF
    except ValueError:
        return None
    return f"{rgba >> 24 & 255:02X}{rgba >> 16 & 255:02X}{rgba >> 8 & 255:02X}"


def _unit_or_note(unit: str, kind: str, axis: str, notes: list[str]) -> str | None:
    try:
        return normalize_unit(unit, kind)
    except ValueError:
        notes.append(f"unit {unit!r} of axis {axis!r} is no NGFF unit and was dropped")
        return None


def _read_ome_xml(xml: str, series: int, image: InputImage) -> None:
    """Pixel sizes, units, channel names and colours of OME image ``series``."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        image.notes.append(f"the OME-XML could not be parsed ({error}); metadata ignored")
        return
    images = root.findall("{*}Image")
    if series >= len(images):
        return
    element = images[series]
    image.name = element.get("Name") or None
    pixels = element.find("{*}Pixels")
    if pixels is None:
        return
    for axis in "xyz":
        size = pixels.get(f"PhysicalSize{axis.upper()}")
        if size is not None and axis in image.axes and float(size) > 0:
            image.scale[axis] = float(size)
            unit = _unit_or_note(
                pixels.get(f"PhysicalSize{axis.upper()}Unit", "µm"), "space", axis, image.notes
            )
            if unit is not None:
                image.units[axis] = unit
    increment = pixels.get("TimeIncrement")
    if increment is not None and "t" in image.axes and float(increment) > 0:
        image.scale["t"] = float(increment)
        unit = _unit_or_note(pixels.get("TimeIncrementUnit", "s"), "time", "t", image.notes)
        if unit is not None:
            image.units["t"] = unit
    channels = pixels.findall("{*}Channel")
    n_channels = image.data.shape[image.axes.index("c")] if "c" in image.axes else 1
    if channels and len(channels) == n_channels:
        names = [c.get("Name") or f"Channel {i}" for i, c in enumerate(channels)]
        image.channel_names = names
        colors = [_ome_color(c.get("Color")) for c in channels]
        if all(color is not None for color in colors):
            image.channel_colors = [str(color) for color in colors]


def _read_imagej(metadata: Mapping[str, Any], page: Any, image: InputImage) -> None:
    """Pixel sizes from an ImageJ hyperstack: resolution tags, ``spacing``, ``unit``, ``finterval``."""
    unit_text = metadata.get("unit")
    unit = _unit_or_note(str(unit_text), "space", "x", image.notes) if unit_text else None
    for axis, tag in (("x", "XResolution"), ("y", "YResolution")):
        value = page.tags.get(tag)
        if value is not None and unit is not None:
            numerator, denominator = value.value
            if numerator > 0 and denominator > 0:
                image.scale[axis] = denominator / numerator
                image.units[axis] = unit
    spacing = metadata.get("spacing")
    if spacing and "z" in image.axes and unit is not None:
        image.scale["z"] = float(spacing)
        image.units["z"] = unit
    interval = metadata.get("finterval")
    if interval and "t" in image.axes:
        image.scale["t"] = float(interval)
        image.units["t"] = "second"


def _open_tiff(
    path: Path, series: int, axes: str | None, stack: contextlib.ExitStack
) -> InputImage:
    tifffile = _import_optional("tifffile", "tifffile", "TIFF files")
    try:
        tiff = stack.enter_context(tifffile.TiffFile(path))
        count = len(tiff.series)
    except Exception as error:  # tifffile raises many types for broken files
        raise ConversionError(
            f"{path}: not a readable TIFF: {type(error).__name__}: {error}"
        ) from None
    if count == 0:
        raise ConversionError(f"{path}: not a readable TIFF: it holds no image")
    if not 0 <= series < count:
        raise ValueError(f"--series: {path} has series 0 to {count - 1}, not {series}")
    chosen = tiff.series[series]
    try:
        array = zarr.open_array(stack.enter_context(chosen.aszarr(level=0)), mode="r")
    except Exception as error:
        raise ConversionError(
            f"{path}: not a readable TIFF: {type(error).__name__}: {error}"
        ) from None
    file_axes = str(chosen.axes)
    if array.ndim != len(file_axes):
        raise ConversionError(
            f"{path}: tifffile reports axes {file_axes!r} for a {array.ndim}-D array"
        )
    kind = "OME-TIFF" if tiff.is_ome else "ImageJ TIFF" if tiff.is_imagej else "TIFF"
    if axes is not None:
        file_axes = _check_user_axes(axes, array.ndim)
    image = _arrange(path, kind, array, file_axes)
    if count > 1:
        image.notes.append(f"series {series} of {count} converted (choose with --series)")
    if tiff.is_ome and tiff.ome_metadata:
        _read_ome_xml(tiff.ome_metadata, series, image)
    elif tiff.is_imagej and tiff.imagej_metadata:
        _read_imagej(tiff.imagej_metadata, chosen.pages[0] or tiff.pages[0], image)
    return image


def _arrange(
    path: Path | str, kind: str, array: Any, letters: str, notes: list[str] | None = None
) -> InputImage:
    """The :class:`InputImage` of ``array`` whose axes are ``letters``, reordered for NGFF."""
    notes = [] if notes is None else notes
    if not 2 <= array.ndim <= 5:
        raise ConversionError(
            f"{path}: OME-Zarr images have 2 to 5 dimensions, this input has {array.ndim} ({letters})"
        )
    names = _guess_axes(letters, notes)
    order = sorted(range(len(names)), key=lambda i: NGFF_AXIS_ORDER.index(names[i]))
    axes = "".join(names[i] for i in order)
    if axes != names:
        notes.append(f"axes {letters} reordered to {axes}")
    return InputImage(
        path=str(path),
        kind=kind,
        data=_Source(array, order, str(path)),
        source_axes=letters,
        axes=axes,
        notes=notes,
    )


def _open_picture(path: Path, kind: str, axes: str | None) -> InputImage:
    pil = _import_optional("PIL.Image", "Pillow", f"{kind} files")
    try:
        with pil.open(path) as picture:
            if picture.mode == "P":
                picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
            pixels = np.asarray(picture)
    except Exception as error:
        raise ConversionError(
            f"{path}: not a readable {kind}: {type(error).__name__}: {error}"
        ) from None
    letters = _check_user_axes(axes, pixels.ndim) if axes else ("yx" if pixels.ndim == 2 else "yxc")
    image = _arrange(path, kind, pixels, letters)
    if pixels.ndim == 3 and "c" in image.axes and pixels.shape[2] in (3, 4) and not axes:
        image.channel_names = ["red", "green", "blue", "alpha"][: pixels.shape[2]]
        image.channel_colors = ["FF0000", "00FF00", "0000FF", "FFFFFF"][: pixels.shape[2]]
    return image


def _open_zarr(path: Path | str, axes: str | None) -> InputImage:
    """A zarr array or OME-Zarr image at a local ``Path`` or a remote URL (``str``)."""
    try:
        node = open_node(str(path))
    except Exception as error:
        if isinstance(path, str):  # a remote URL
            if isinstance(error, ConnectionError | PermissionError):
                raise  # storage's message names the URL and what to check
            if isinstance(error, FileNotFoundError):
                raise ConversionError(
                    f"{path}: no zarr array or OME-Zarr image found; from URLs only zarr "
                    "arrays and OME-Zarr images are read (copy TIFF, .npy, PNG and JPEG files "
                    "to a local disk)"
                ) from None
        raise ConversionError(
            f"{path}: not a readable zarr array: {type(error).__name__}: {error}"
        ) from None
    if isinstance(node, zarr.Array):
        notes: list[str] = []
        letters = _check_user_axes(axes, node.ndim) if axes else _default_axes(node.ndim, notes)
        return _arrange(path, "zarr array", node, letters, notes)
    if "multiscales" not in read_ngff_attrs(node):
        raise ConversionError(
            f"{path}: a zarr group without an OME-Zarr image (convert one of its arrays)"
        )
    source = open_image(node)
    letters = _check_user_axes(axes, source.data.ndim) if axes else "".join(source.dims)
    image = _arrange(path, "OME-Zarr", source.data, letters)
    for name, size, unit in zip(
        source.dims, source.scales[0], [source.units.get(d) for d in source.dims], strict=True
    ):
        if name in image.axes and name in "tzyx":
            image.scale[name] = float(size)
            if unit is not None:
                image.units[name] = unit
    channels = (source.omero or {}).get("channels")
    if isinstance(channels, list) and "c" in image.axes:
        if all(isinstance(c, Mapping) and isinstance(c.get("label"), str) for c in channels):
            image.channel_names = [c["label"] for c in channels]
        if all(isinstance(c, Mapping) and isinstance(c.get("color"), str) for c in channels):
            image.channel_colors = [c["color"] for c in channels]
    image.name = source.name
    return image


@contextlib.contextmanager
def open_input(
    path: str | os.PathLike[str], *, axes: str | None = None, series: int = 0
) -> Iterator[InputImage]:
    """Open an input lazily, detecting its format from its first bytes (not its name).

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF / OME-TIFF / ImageJ TIFF, a ``.npy`` file, a PNG or JPEG picture, a zarr array
        or an OME-Zarr image (its full-resolution level): a local path or a ``file://`` URL.
        Zarr arrays and OME-Zarr images may also be remote URLs (``s3://``, ``http(s)://``;
        credentials and endpoint as for :func:`omezarr.storage.open_group`); other formats
        must be local.
    axes : str, optional
        The input's axes in the file's order (e.g. ``"yxc"``, ``"zcyx"``), overriding what the
        file says; letters of ``tczyx``. Guessed for 3-D (zyx) and 4-D (czyx) arrays that do
        not say.
    series : int, default 0
        The image series of a multi-series TIFF.

    Yields
    ------
    InputImage
        Valid until the context exits (TIFF files stay open until then).

    Raises
    ------
    FileNotFoundError
        If a local ``path`` does not exist.
    ConversionError
        For unsupported or unreadable inputs, and URLs that hold no zarr array or image.
    ConnectionError, PermissionError
        If a remote URL cannot be reached or refuses access.
    ValueError
        For ``axes`` or ``series`` that do not fit the input.

    Examples
    --------
    >>> with open_input("cells.ome.tif") as image:  # doctest: +SKIP
    ...     image.axes, image.scale, image.channel_names
    ('czyx', {'x': 0.2, 'y': 0.2, 'z': 1.0}, ['DAPI', 'GFP'])
    """
    url = _remote_url(path)
    if url is not None:
        yield _open_zarr(url, axes)
        return
    source = _local_path(path, "input_path")
    if not source.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    kind = _detect_kind(source)
    with contextlib.ExitStack() as stack:
        if kind == "tiff":
            image = _open_tiff(source, series, axes, stack)
        elif kind == "npy":
            try:
                array = np.load(source, mmap_mode="r", allow_pickle=False)
            except Exception as error:
                raise ConversionError(f"{path}: not a readable .npy file: {error}") from None
            notes: list[str] = []
            letters = (
                _check_user_axes(axes, array.ndim) if axes else _default_axes(array.ndim, notes)
            )
            image = _arrange(source, "NumPy", array, letters, notes)
        elif kind == "zarr":
            image = _open_zarr(source, axes)
        else:
            image = _open_picture(source, kind, axes)
        yield image


# --------------------------------------------------------------------------- output staging


_ZARR_METADATA_KEYS = ("zarr.json", ".zgroup", ".zarray", ".zattrs")
"""The files whose presence makes a directory (or a URL prefix) a zarr hierarchy."""


def _is_zarr_hierarchy(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in _ZARR_METADATA_KEYS)


def _url_protocols(text: str) -> set[str]:
    """The fsspec protocols of a URL (``simplecache::s3://…`` has two)."""
    return {part.lower() for part in text.split("://", 1)[0].split("::")}


def _remote_url(target: str | os.PathLike[str]) -> str | None:
    """``target`` as text if it is a remote URL (``file://`` URLs are local), else None."""
    text = os.fspath(target)
    return text if is_url(text) and _url_protocols(text) != {"file"} else None


def _local_path(target: str | os.PathLike[str], what: str) -> Path:
    """The local path of a path or ``file://`` URL."""
    text = os.fspath(target)
    return Path(file_url_path(text, what) if is_url(text) else text)


def check_output(output: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """``output`` as a Path if an image may be staged there, else a ConversionError.

    ``output`` is a local path or a ``file://`` URL; remote URLs are checked by
    :func:`check_remote_output` instead.

    Raises
    ------
    ConversionError
        If ``output`` exists and ``overwrite`` is False, if it exists but is no zarr
        hierarchy (never replaced), if it is a remote URL, or if its parent directory is
        missing.
    """
    url = _remote_url(output)
    if url is not None:
        raise ConversionError(
            f"{url}: this output must be a local path or a file:// URL (remote URLs are "
            "written in place by omezarr convert)"
        )
    try:
        target = _local_path(output, "output")
    except ValueError as error:
        raise ConversionError(str(error)) from None
    if target.exists():
        if not overwrite:
            raise ConversionError(f"{target}: already exists; pass --overwrite to replace it")
        if not _is_zarr_hierarchy(target):
            raise ConversionError(
                f"{target}: exists and is no zarr hierarchy; refusing to replace it"
            )
    parent = target.absolute().parent
    if not parent.is_dir():
        raise ConversionError(f"{target}: the directory {parent} does not exist")
    return target


@contextlib.contextmanager
def staged_output(
    output: str | os.PathLike[str], *, overwrite: bool = False, resume: bool = False
) -> Iterator[Path]:
    """A staging directory that becomes ``output`` when the block succeeds.

    The block writes into a hidden sibling of ``output``. On success it is renamed into place
    (an existing ``output`` is replaced only then, and only with ``overwrite``); on any
    failure, interruption included, the staging directory is removed and an existing
    ``output`` is left untouched.

    Raises
    ------
    ConversionError
        If ``output`` exists and ``overwrite`` is False, if it exists but is no zarr
        hierarchy (never replaced), if it is a remote URL (see :func:`remote_output`), or if
        its parent directory is missing.

    With ``resume``, the staging directory left by an interrupted (killed) conversion to the
    same output is reused, so the writer can finish it instead of starting again.
    """
    target = check_output(output, overwrite=overwrite)
    parent = target.absolute().parent
    token = uuid.uuid4().hex[:8]
    staging = parent / f".{target.name}.partial-{token}"
    if resume:
        leftovers = interrupted_stagings(target)
        if leftovers:
            staging = leftovers[-1]
            token = staging.name.rsplit("-", 1)[-1]
    try:
        yield staging
        if target.exists():
            if not overwrite:  # created by someone else while we were writing
                raise ConversionError(f"{target}: appeared while writing; nothing replaced")
            retired = parent / f".{target.name}.old-{token}"
            os.rename(target, retired)
            try:
                os.rename(staging, target)
            except OSError:
                os.rename(retired, target)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def interrupted_stagings(output: str | os.PathLike[str]) -> list[Path]:
    """Staging directories of conversions to ``output`` that were killed, oldest first."""
    target = _local_path(output, "output")
    parent = target.absolute().parent
    found = [p for p in parent.glob(f".{target.name}.partial-*") if p.is_dir()]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def _remote_contents(url: str) -> tuple[zarr.storage.FsspecStore, str]:
    """A writable store at ``url`` and what it holds: ``"nothing"``, ``"zarr"`` or ``"other"``.

    :func:`omezarr.storage.existing_group` checks that the endpoint answers (ConnectionError,
    PermissionError otherwise) and finds groups; the rest is asked of the store's listing.
    """
    try:
        holds_zarr = existing_group(url) is not None
    except zarr.errors.ContainsArrayError:
        holds_zarr = True
    store = zarr.storage.FsspecStore.from_url(url)
    store.fs.invalidate_cache()  # listings cached earlier in this process may be stale
    if not holds_zarr:
        holds_zarr = any(sync(store.exists(key)) for key in _ZARR_METADATA_KEYS)
    if holds_zarr:
        return store, "zarr"
    return store, "nothing" if sync(store.is_empty("")) else "other"


def check_remote_output(url: str, *, overwrite: bool = False, resume: bool = False) -> bool:
    """Check that an image may be written in place at the remote ``url``; whether data is there.

    Parameters
    ----------
    url : str
        A writable fsspec URL (``s3://bucket/image.ome.zarr``, ``gs://…``, ``memory://…``).
    overwrite : bool, default False
        Allow an existing zarr hierarchy at ``url`` (:func:`remote_output` deletes it).
    resume : bool, default False
        Allow an existing zarr hierarchy at ``url``: the partial output of a conversion that
        was interrupted, to be finished.

    Returns
    -------
    bool
        True if a zarr hierarchy is at ``url`` (allowed by ``overwrite`` or ``resume``).

    Raises
    ------
    ConversionError
        If ``url`` is read-only (``http(s)://``), if something exists there and neither
        ``overwrite`` nor ``resume`` is given, or if what exists is no zarr hierarchy (never
        replaced).
    ConnectionError, PermissionError
        If the endpoint cannot be reached or refuses access.

    Examples
    --------
    >>> check_remote_output("s3://bucket/new.ome.zarr")  # doctest: +SKIP
    False
    """
    return _checked_remote_output(url, overwrite, resume)[1]


def _checked_remote_output(
    url: str, overwrite: bool, resume: bool
) -> tuple[zarr.storage.FsspecStore, bool]:
    """:func:`check_remote_output`, and the store it looked at."""
    if _url_protocols(url) & READ_ONLY_PROTOCOLS:
        raise ConversionError(
            f"{url}: HTTP(S) URLs are read-only; convert to a local path or an s3:// URL"
        )
    store, contents = _remote_contents(url)
    if contents == "nothing":
        return store, False
    if not (overwrite or resume):
        raise ConversionError(f"{url}: already exists; pass --overwrite to replace it")
    if contents != "zarr":
        raise ConversionError(f"{url}: exists and is no zarr hierarchy; refusing to replace it")
    return store, True


@contextlib.contextmanager
def remote_output(url: str, *, overwrite: bool = False, resume: bool = False) -> Iterator[bool]:
    """Write an image in place at the remote ``url``, removing it again if the block fails.

    Object stores cannot rename a directory, so the staging of :func:`staged_output` does not
    exist for them; instead the writer puts the metadata last, so an interrupted write never
    looks like a complete image. What is at ``url`` is checked by
    :func:`check_remote_output`. With ``overwrite``, an existing zarr hierarchy there is
    deleted before the block runs (the old image is gone even if the new one then fails).
    If the block fails, interruption included, everything at ``url`` is deleted, since this
    run created it all, unless ``resume`` found a partial output there: that is kept, to be
    resumed again.

    Yields
    ------
    bool
        True if a partial output was found and is to be resumed (``write_image(resume=True)``).

    Raises
    ------
    ConversionError, ConnectionError, PermissionError
        As :func:`check_remote_output`, before the block runs.

    Examples
    --------
    >>> with remote_output("s3://bucket/new.ome.zarr") as resuming:  # doctest: +SKIP
    ...     write_image(pixels, "s3://bucket/new.ome.zarr", resume=resuming)
    """
    store, existed = _checked_remote_output(url, overwrite, resume)
    resuming = existed and resume
    if existed and not resume:
        sync(store.delete_dir(""))
    try:
        yield resuming
    except BaseException:
        if not resuming:
            _delete_partial_output(store, url)
        raise


def _delete_partial_output(store: zarr.storage.FsspecStore, url: str) -> None:
    """Remove a failed output; if that fails too, say so without hiding the first error."""
    try:
        store.fs.invalidate_cache()
        sync(store.delete_dir(""))
    except Exception as error:
        warnings.warn(
            f"{url}: the partial output could not be removed ({type(error).__name__}: {error}); "
            "delete it, or finish it with --resume",
            RuntimeWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- converting


@dataclass(frozen=True)
class ConversionResult:
    """What :func:`convert` or :func:`write_demo` did.

    Attributes
    ----------
    output : str
        The output path.
    source : InputImage or None
        The input as opened (its pixels are closed by now); None for the demo.
    info : dict
        The output described by :func:`omezarr.inspect.describe`, or, for a dry run, the
        planned levels (``stored_bytes`` None).
    seconds : float
        Wall time of the write.
    dry_run : bool
        True when nothing was written.
    memory_budget : int
        The budget the write ran with, in bytes.
    """

    output: str
    source: InputImage | None
    info: JSONDict
    seconds: float
    dry_run: bool
    memory_budget: int


def _resolve_units(units: str | Mapping[str, str] | None, axes: str) -> dict[str, str]:
    """Units per axis (one string: every space axis), normalised to NGFF names."""
    if units is None:
        return {}
    if isinstance(units, str):
        units = dict.fromkeys((a for a in axes if a in "zyx"), units)
    unknown = [a for a in units if a not in axes]
    if unknown:
        raise ValueError(f"--units: axes {unknown} are not among the axes {axes!r}")
    try:
        return {a: normalize_unit(u, "time" if a == "t" else "space") for a, u in units.items()}
    except ValueError as error:
        raise ValueError(f"--units: {error}") from None


def _resolve_shape_option(
    value: Any, option: str, shape: tuple[int, ...], axes: str, base: tuple[int, ...]
) -> Any:
    """None becomes ``base``, per-axis dicts full tuples (unnamed axes from ``base``)."""
    if value is None:
        return base
    if not isinstance(value, Mapping):
        if isinstance(value, tuple) and len(value) != len(shape):
            raise ValueError(
                f"{option}: {len(value)} sizes for the {len(shape)} axes {axes}; give "
                f"{len(shape)} or name axes, e.g. y=256,x=256"
            )
        return value
    unknown = [a for a in value if a not in axes]
    if unknown:
        raise ValueError(f"{option}: axes {unknown} are not among the axes {axes!r}")
    return tuple(int(value.get(a, b)) for a, b in zip(axes, base, strict=True))


def _omero(image: InputImage) -> JSONDict | None:
    if "c" not in image.axes or (image.channel_names is None and image.channel_colors is None):
        return None
    count = image.data.shape[image.axes.index("c")]
    names = image.channel_names or [f"Channel {c}" for c in range(count)]
    channels: list[JSONDict] = [{"label": name, "active": True} for name in names]
    for channel, color in zip(channels, image.channel_colors or [], strict=False):
        channel["color"] = color
    return {"channels": channels}


def _holds_image(target: Path | str) -> bool:
    """Whether an OME-Zarr image (with its multiscales metadata) is at ``target``."""
    try:
        group = open_group(target, mode="r")
    except FileNotFoundError:  # zarr's "no group here" errors are FileNotFoundErrors too
        return False
    return "multiscales" in read_ngff_attrs(group)


def _set_windows(path: Path | str) -> None:
    """Give every omero channel a window: min/max of the coarsest level (cheap and bounded)."""
    group = open_group(path, mode="a")
    attrs = read_ngff_attrs(group)
    omero = attrs.get("omero")
    if not isinstance(omero, dict) or not isinstance(omero.get("channels"), list):
        return
    statistics = coarsest_statistics(open_image(group))
    for channel, (low, high, _) in zip(omero["channels"], statistics, strict=False):
        low_value, high_value = float(low), float(high)
        if not (math.isfinite(low_value) and math.isfinite(high_value)):
            continue  # NaN or infinite pixels: JSON has no window for them
        channel["window"] = {
            "min": low_value,
            "max": high_value,
            "start": low_value,
            "end": high_value,
        }
    write_ngff_attrs(group, {"omero": omero})


def _dry_run_info(
    group: zarr.Group,
    fmt: Format,
    axes: str,
    units: dict[str, str],
    scale: dict[str, float],
    omero: JSONDict | None,
    name: str | None,
) -> JSONDict:
    """The planned levels of a write made with compute=False into a memory store."""
    levels = []
    shape0: tuple[int, ...] = ()
    for path in sorted(group.array_keys(), key=lambda p: int(p[1:])):
        array = group[path]
        assert isinstance(array, zarr.Array)
        shape0 = shape0 or array.shape
        level_scale = [
            scale.get(a, 1.0) * n0 / n for a, n0, n in zip(axes, shape0, array.shape, strict=True)
        ]
        levels.append(describe_level(array, path, level_scale, stored=False))
    axes_list = valid_axes(axes, units or None, fmt, len(axes))
    info: JSONDict = {
        "kind": "image",
        "path": ".",
        "name": name,
        "version": fmt.version,
        "zarr_format": fmt.zarr_format,
        "axes": [a if isinstance(a, dict) else {"name": a} for a in axes_list or []],
        "levels": levels,
        **level_totals(levels),
    }
    if omero is not None:
        info["channels"] = [
            {k: c[k] for k in ("label", "color") if k in c} for c in omero["channels"]
        ]
    return info


def convert(
    input_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    fmt: Format | str | None = None,
    axes: str | None = None,
    scale: Mapping[str, float] | None = None,
    units: str | Mapping[str, str] | None = None,
    scale_factors: str | Sequence[int] | Sequence[dict[str, int]] = "auto",
    method: Methods | str | None = None,
    chunks: Sequence[int] | Mapping[str, int] | None = None,
    shards: str | Sequence[int] | Mapping[str, int] | None = None,
    compressor: Any = "default",
    overwrite: bool = False,
    memory_budget: int | str | None = None,
    series: int = 0,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    resume: bool = False,
) -> ConversionResult:
    """Convert a TIFF / OME-TIFF, ``.npy``, PNG/JPEG or zarr input into an OME-Zarr image.

    The input is read region by region, so memory stays within ``memory_budget`` whatever
    its size. Pixel sizes, units, channel names and colours found in the file are written
    unless ``scale``/``units`` override them.

    Parameters
    ----------
    input_path : str or os.PathLike
        The input (see :func:`open_input`): a local path or ``file://`` URL, or, for zarr
        arrays and OME-Zarr images, a remote URL (``s3://``, ``http(s)://``).
    output : str or os.PathLike
        The OME-Zarr image to create: a local path or ``file://`` URL (written through a
        staging directory, see :func:`staged_output`), or a writable remote URL such as
        ``s3://bucket/image.ome.zarr`` (written in place, see :func:`remote_output`).
        ``http(s)://`` URLs are read-only and refused. Credentials and endpoint for ``s3://``
        come from the environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
        ``AWS_ENDPOINT_URL``, …).
    fmt : Format or str, optional
        ``"0.5"`` (zarr v3, default) or ``"0.4"`` (zarr v2).
    axes : str, optional
        The input's axes in file order, overriding the file (see :func:`open_input`).
    scale : dict of str to float, optional
        Pixel sizes per axis, overriding the file's.
    units : str or dict of str to str, optional
        One unit for every space axis, or units per axis, overriding the file's.
    scale_factors : "auto", list of int or list of dict, default "auto"
        As :func:`omezarr.writer.write_image`; ``"auto"`` halves y and x until the coarsest
        level fits in 256 × 256.
    method : Methods or str, optional
        Downsampling method; default ``resize``.
    chunks, shards : tuple of int or dict of str to int, optional
        Chunk and shard shapes; dicts give some axes (others keep the default); shards may be
        ``"auto"`` (zarr v3 only).
    compressor : codec, None or "default", default "default"
        A numcodecs or zarr codec (see :func:`parse_compressor`), None for none.
    resume : bool, default False
        Finish a conversion to ``output`` that was killed: its hidden staging directory (for
        a remote URL: the partial output itself) is reused and only missing or broken chunks
        are written (see ``write_image(resume=True)``).
    overwrite : bool, default False
        Replace an existing output, only if it is a zarr hierarchy: a local one only once the
        new one is complete; a remote one is deleted before writing (object stores cannot
        swap it atomically).
    memory_budget : int or str, optional
        e.g. ``"512M"``; default ``$OMEZARR_MEMORY_BUDGET`` or 256 MiB.
    series : int, default 0
        The series of a multi-series TIFF.
    dry_run : bool, default False
        Plan only: ``info`` lists the levels, chunks, shards and codec; nothing is written.
    progress : callable, optional
        Called with ``("image", Progress)`` after every region written.

    Returns
    -------
    ConversionResult

    Raises
    ------
    FileNotFoundError
        If a local input does not exist.
    ConversionError
        For unsupported or unreadable inputs and outputs that cannot be written (existing
        without ``overwrite``, read-only URLs).
    ConnectionError, PermissionError
        If a remote input or output cannot be reached or refuses access.
    ValueError, TypeError
        For invalid options, naming the option; nothing is written then.

    Notes
    -----
    A failed conversion leaves nothing behind: a local output's staging directory is removed
    and an existing output kept; a remote output is deleted again, unless ``resume`` found a
    partial output there (kept, to resume once more). A conversion that is killed leaves a
    hidden staging directory beside a local output, or an output without image metadata at a
    remote URL; ``resume=True`` finishes either.

    Examples
    --------
    >>> convert("cells.ome.tif", "cells.ome.zarr", shards="auto")  # doctest: +SKIP
    >>> convert("cells.ome.tif", "s3://bucket/cells.ome.zarr")  # doctest: +SKIP
    """
    resolved_fmt = format_from_version(fmt) if isinstance(fmt, str) else fmt or CurrentFormat()
    if shards is not None and resolved_fmt.zarr_format != 3:
        raise ValueError("--shards: shards need OME-NGFF 0.5 (zarr v3); add --format 0.5")
    budget = memory_budget_from(memory_budget)
    resolved_method = resolve_method(method, Methods.RESIZE)
    remote = _remote_url(output)
    if not dry_run:
        # Refused before the input is opened; checked again right before writing.
        if remote is None:
            check_output(output, overwrite=overwrite)
        else:
            check_remote_output(remote, overwrite=overwrite, resume=resume)
    with open_input(input_path, axes=axes, series=series) as image:
        image.scale.update(_checked_scale(scale, image.axes))
        image.units.update(_resolve_units(units, image.axes))
        shape = tuple(int(n) for n in image.data.shape)
        # omezarr's default chunks, not the input's: TIFF strips can be a single row.
        base_chunks = default_chunks(shape, image.axes, image.data.dtype.itemsize)
        storage: dict[str, Any] = {
            "compressor": compressor,
            "chunks": _resolve_shape_option(chunks, "--chunks", shape, image.axes, base_chunks),
        }
        if shards is not None:
            storage["shards"] = _resolve_shape_option(
                shards, "--shards", shape, image.axes, storage["chunks"]
            )
        omero = _omero(image)
        arguments: dict[str, Any] = {
            "scale_factors": (
                auto_scale_factors(shape, image.axes)
                if scale_factors == "auto"
                else list(scale_factors)
            ),
            "method": resolved_method,
            "fmt": resolved_fmt,
            "axes": image.axes,
            "storage_options": storage,
            "scale": dict(image.scale) or None,
            "axes_units": dict(image.units) or None,
            "memory_budget": budget,
        }
        arguments["name"] = image.name or Path(image.path).name.split(".")[0]
        arguments["metadata"] = _provenance(
            f"converted from {Path(image.path).name}", resolved_method
        )
        if omero is not None:
            arguments["omero"] = omero
        if dry_run:
            memory = zarr.storage.MemoryStore()
            write_image(image.data, memory, compute=False, **arguments)
            group = zarr.open_group(memory, mode="r")
            info = _dry_run_info(
                group, resolved_fmt, image.axes, image.units, image.scale, omero, arguments["name"]
            )
            return ConversionResult(os.fspath(output), image, info, 0.0, True, budget)
        start = time.perf_counter()

        def write(target: Path | str, resuming: bool) -> None:
            # A conversion killed after its pyramid was complete only needs its windows set.
            if not (resuming and _holds_image(target)):
                write_image(
                    image.data,
                    str(target),
                    progress=None if progress is None else (lambda p: progress("image", p)),
                    resume=resuming,
                    **arguments,
                )
            if omero is not None:
                _set_windows(target)

        if remote is None:
            with staged_output(output, overwrite=overwrite, resume=resume) as staging:
                write(staging, resume and staging.exists())
            written: Path | str = _local_path(output, "output")
        else:
            with remote_output(remote, overwrite=overwrite, resume=resume) as resuming:
                write(remote, resuming)
            written = remote
        seconds = time.perf_counter() - start
    return ConversionResult(os.fspath(output), image, describe(written), seconds, False, budget)


def _provenance(description: str, method: Methods) -> JSONDict:
    """The multiscales ``metadata`` entry: how the pyramid was made, and by what."""
    from . import __version__

    return {
        "description": description,
        "method": f"omezarr.scale.{method.value}",
        "version": __version__,
    }


def _checked_scale(scale: Mapping[str, float] | None, axes: str) -> dict[str, float]:
    if scale is None:
        return {}
    unknown = [a for a in scale if a not in axes]
    if unknown:
        raise ValueError(f"--scale: axes {unknown} are not among the axes {axes!r}")
    return {a: float(v) for a, v in scale.items()}


def write_demo(
    output: str | os.PathLike[str],
    *,
    fmt: Format | str | None = None,
    overwrite: bool = False,
    shape: tuple[int, ...] = (2, 32, 256, 256),
    progress: ProgressCallback | None = None,
) -> ConversionResult:
    """Write the synthetic sample (:func:`omezarr.sample.sample_image`) with its nuclei labels.

    The image is ``czyx`` with pixel sizes z = 0.5, y = x = 0.2 micrometer, channel names and
    colours in ``omero``, a three-level pyramid, and the label image ``labels/nuclei``.

    Examples
    --------
    >>> write_demo("demo.ome.zarr").info["levels"][0]["shape"]  # doctest: +SKIP
    [2, 32, 256, 256]
    """
    from .sample import sample_image

    resolved_fmt = format_from_version(fmt) if isinstance(fmt, str) else fmt or CurrentFormat()
    start = time.perf_counter()
    pixels, labels, names, colors = sample_image(shape)
    pixel_size = {"z": 0.5, "y": 0.2, "x": 0.2}
    units = dict.fromkeys(pixel_size, "micrometer")
    omero = {
        "channels": [
            {"label": name, "color": color, "active": True}
            for name, color in zip(names, colors, strict=True)
        ]
    }
    common: dict[str, Any] = {
        "scale_factors": [2, 4],
        "fmt": resolved_fmt,
        "scale": pixel_size,
        "axes_units": units,
    }
    with staged_output(output, overwrite=overwrite) as staging:
        write_image(
            pixels,
            str(staging),
            axes="czyx",
            name="demo",
            omero=omero,
            metadata=_provenance("synthetic cells made by omezarr.sample", Methods.RESIZE),
            progress=None if progress is None else (lambda p: progress("image", p)),
            **common,
        )
        _set_windows(staging)
        write_labels(
            labels,
            str(staging),
            "nuclei",
            axes="zyx",
            label_metadata={"colors": _label_colors(int(labels.max()))},
            metadata=_provenance("the nuclei of the synthetic cells", Methods.NEAREST),
            progress=None if progress is None else (lambda p: progress("labels/nuclei", p)),
            **common,
        )
    seconds = time.perf_counter() - start
    info = describe(output)
    return ConversionResult(os.fspath(output), None, info, seconds, False, memory_budget_from(None))


def _label_colors(count: int) -> list[JSONDict]:
    """Distinct, bright colours for label values 1…count (golden-angle hues)."""
    colors: list[JSONDict] = []
    for value in range(1, count + 1):
        hue = (value * 0.618033988749895) % 1.0
        red, green, blue = (
            round(255 * min(1.0, max(0.0, abs((hue * 6 + shift) % 6 - 3) - 1)))
            for shift in (0, 4, 2)
        )
        colors.append({"label-value": value, "rgba": [red, green, blue, 255]})
    return colors
