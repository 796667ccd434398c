"""TIFF, OME-TIFF and ImageJ inputs: pixels read lazily through tifffile, metadata from the file."""

from __future__ import annotations

import contextlib
import logging
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import zarr
import zarr.errors
import zarr.storage

from .errors import ConversionError, InvalidParameterError, Parameter
from .options import normalize_unit
from .source import InputImage, _arrange, _check_user_axes, _import_optional


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
        with _complaints_of_tifffile() as complaints:
            tiff = stack.enter_context(tifffile.TiffFile(path))
            count = len(tiff.series)
    except Exception as error:  # tifffile raises many types for broken files
        raise ConversionError(
            f"{path}: not a readable TIFF: {type(error).__name__}: {error}"
        ) from None
    if complaints:
        # tifffile reads what it can of a damaged file and logs the rest: a truncated
        # OME-TIFF then looks like one plain plane. Converting that would lose data quietly.
        raise ConversionError(
            f"{path}: damaged or truncated TIFF ({complaints[0]}); refusing to convert part of it"
        )
    if count == 0:
        raise ConversionError(f"{path}: not a readable TIFF: it holds no image")
    if not 0 <= series < count:
        raise InvalidParameterError(
            Parameter("series"), f": {path} has series 0 to {count - 1}, not {series}"
        )
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


class _Complaints(logging.Handler):
    """Collects what tifffile logs as errors while a file is opened (its warnings are about
    harmless oddities of valid files; its errors, about bytes it could not read)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split())[:200])


@contextlib.contextmanager
def _complaints_of_tifffile() -> Iterator[list[str]]:
    """The errors tifffile logs inside the block, however its logger is configured (the CLI
    quiets it); the file being read is what they are about."""
    logger = logging.getLogger("tifffile")
    handler = _Complaints()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # collected here, not printed
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
