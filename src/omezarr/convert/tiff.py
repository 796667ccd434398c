"""TIFF, OME-TIFF, ImageJ and Aperio SVS inputs: pixels read lazily through tifffile, metadata
from the file (OME-XML, ImageJ, SVS, resolution tags), the original metadata kept alongside."""

from __future__ import annotations

import base64
import contextlib
import importlib
import logging
import math
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
import zarr.errors
import zarr.storage

from ..io.layout import input_chunks
from .errors import ConversionError, InvalidParameterError, Parameter
from .options import normalize_unit
from .source import InputImage, _arrange, _check_user_axes, _import_optional

__all__ = [
    "tiff_levels",
]

_SAMPLE_NAMES = ("red", "green", "blue")
_SAMPLE_COLORS = ("FF0000", "00FF00", "0000FF")
_EXTRA_SAMPLE_COLOR = "FFFFFF"

_MICROMETERS_PER_RESOLUTION_UNIT = {"INCH": 25400.0, "CENTIMETER": 10000.0, "MILLIMETER": 1000.0}
"""Pixel sizes from XResolution/YResolution (pixels per unit), as Bio-Formats reads them.
ResolutionUnit NONE (1) makes the tags a mere aspect ratio: no size."""

_FORMAT_METADATA = (
    "imagej",
    "micromanager",
    "lsm",
    "stk",
    "metaseries",
    "fluoview",
    "scanimage",
    "nih",
    "fei",
    "sem",
    "sis",
    "andor",
    "epics",
    "pilatus",
    "tvips",
    "nuvu",
    "eer",
    "indica",
    "philips",
    "scn",
    "avs",
    "streak",
    "mdgel",
    "geotiff",
    "gdal",
    "astrotiff",
)
"""Formats whose metadata tifffile parses (``TiffFile.<name>_metadata``), kept on the input."""

_TIFF_TAGS_KEPT = (
    "ImageDescription",
    "Software",
    "DateTime",
    "Artist",
    "HostComputer",
    "Make",
    "Model",
    "DocumentName",
    "PageName",
    "Copyright",
)


# --------------------------------------------------------------------------- opening


def _open_tiff(
    path: Path, series: int, axes: str | None, stack: contextlib.ExitStack
) -> InputImage:
    """The full-resolution level of image ``series`` of the TIFF at ``path``, with what the
    file says about it (closed with ``stack``)."""
    tifffile = _import_optional("tifffile", "tifffile", "TIFF files")
    tiff = _open_tiff_file(tifffile, path, stack)
    chosen = _series(tiff, path, series)
    image = _level_image(tifffile, tiff, path, chosen, 0, axes, stack)
    count = len(tiff.series)
    if count > 1:
        image.notes.append(
            f"series {series} of {count} (--series picks one; without it every one is converted)"
        )
    page = chosen.keyframe
    group_names: list[str | None] | None = None
    if tiff.is_ome and tiff.ome_metadata:
        image.ome_xml = str(tiff.ome_metadata)
        group_names = _read_ome_xml(image.ome_xml, series, image)
    elif tiff.is_imagej and tiff.imagej_metadata:
        _read_imagej(tiff.imagej_metadata, page, image)
    elif tiff.is_svs:
        _read_svs(_svs_metadata(tifffile, tiff), image)
    _read_resolution(page, image)
    if axes is None or _samples_are_channels(str(chosen.axes), axes):
        _name_samples(tifffile, page, image, group_names)
    image.original_metadata = _original_metadata(tifffile, tiff)
    return image


@contextlib.contextmanager
def tiff_levels(
    path: str | os.PathLike[str], *, series: int = 0, axes: str | None = None
) -> Iterator[list[Any]]:
    """The resolution levels a TIFF stores for image ``series``, full resolution first.

    OME-TIFF sub-resolutions (SubIFDs), Aperio SVS levels and reduced-resolution pages of
    other pyramidal TIFFs, each read lazily and in the axis order of
    :func:`~omezarr.convert.open_input`'s ``data`` (so samples become channels the same way).

    Parameters
    ----------
    path : str or os.PathLike
        A local TIFF file.
    series : int, default 0
        The image series.
    axes : str, optional
        The file's axes in its order, overriding what it says (as ``open_input``).

    Yields
    ------
    list of array-like
        One per level: ``shape``, ``dtype`` and ``__getitem__`` with one slice per axis; valid
        until the context exits. A TIFF without a pyramid yields one level.

    Raises
    ------
    ConversionError
        For files tifffile cannot read or decode.
    InvalidParameterError
        For a ``series`` or ``axes`` that does not fit the file.

    Examples
    --------
    >>> with tiff_levels("slide.ome.tif") as levels:  # doctest: +SKIP
    ...     [level.shape for level in levels]
    [(3, 20000, 30000), (3, 10000, 15000), (3, 5000, 7500)]
    """
    tifffile = _import_optional("tifffile", "tifffile", "TIFF files")
    source = Path(path)
    with contextlib.ExitStack() as stack:
        tiff = _open_tiff_file(tifffile, source, stack)
        chosen = _series(tiff, source, series)
        yield [
            _level_image(tifffile, tiff, source, chosen, level, axes, stack).data
            for level in range(len(chosen.levels))
        ]


def _open_tiff_file(tifffile: Any, path: Path, stack: contextlib.ExitStack) -> Any:
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
    return tiff


def _series(tiff: Any, path: Path, series: int) -> Any:
    count = len(tiff.series)
    if not 0 <= series < count:
        raise InvalidParameterError(
            Parameter("series"), f": {path} has series 0 to {count - 1}, not {series}"
        )
    return tiff.series[series]


def _level_image(
    tifffile: Any,
    tiff: Any,
    path: Path,
    chosen: Any,
    level: int,
    axes: str | None,
    stack: contextlib.ExitStack,
) -> InputImage:
    """Resolution ``level`` of the series ``chosen``, arranged in NGFF axis order."""
    stored = chosen.levels[level]
    _check_codec(tifffile, path, stored.keyframe)
    try:
        array: Any = zarr.open_array(stack.enter_context(chosen.aszarr(level=level)), mode="r")
    except Exception as error:
        raise ConversionError(
            f"{path}: not a readable TIFF: {type(error).__name__}: {error}"
        ) from None
    file_axes = str(stored.axes)
    if array.ndim != len(file_axes):
        raise ConversionError(
            f"{path}: tifffile reports axes {file_axes!r} for a {array.ndim}-D array"
        )
    _check_decoding(tifffile, path, stored.keyframe, array)
    kind = (
        "OME-TIFF"
        if tiff.is_ome
        else "ImageJ TIFF"
        if tiff.is_imagej
        else "Aperio SVS"
        if tiff.is_svs
        else "TIFF"
    )
    notes: list[str] = []
    if axes is not None:
        letters = _check_user_axes(axes, array.ndim)
    elif "C" in file_axes and "S" in file_axes:
        # An OME-TIFF of RGB channels: the samples of each channel are channels of their own
        # (NGFF has one channel axis), rather than an axis taken for z.
        array = _SamplesAsChannels(array, file_axes.index("C"), file_axes.index("S"))
        letters = file_axes.replace("S", "")
        notes.append(
            f"the {array.samples} samples of each of the {array.groups} channels are "
            f"written as {array.groups * array.samples} channels"
        )
    else:
        letters = file_axes
    image = _arrange(path, kind, array, letters, notes)
    if axes is None:
        image.source_axes = file_axes  # with the sample axis that channels took in
    return image


class _SamplesAsChannels:
    """A lazy view of an array with channel (C) and sample (S) axes in which the samples of
    each channel are channels of their own: shape ``(C, ..., S)`` read as ``(C * S, ...)``."""

    def __init__(self, inner: Any, channel_axis: int, sample_axis: int) -> None:
        self.inner = inner
        self.channel_axis = channel_axis
        self.sample_axis = sample_axis
        self.groups = int(inner.shape[channel_axis])
        self.samples = int(inner.shape[sample_axis])
        shape = [int(n) for n in inner.shape]
        shape[channel_axis] *= self.samples
        del shape[sample_axis]
        self.shape = tuple(shape)
        self.ndim = len(shape)
        self.dtype = np.dtype(inner.dtype)
        inner_chunks = input_chunks(inner)
        if inner_chunks is None:
            self.chunks: tuple[int, ...] | None = None
        else:
            chunks = list(inner_chunks)
            chunks[channel_axis] *= self.samples
            del chunks[sample_axis]
            self.chunks = tuple(chunks)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        # Output axis i is inner axis i, but for the sample axis taken out of the inner ones.
        out_channel = self.channel_axis - (self.sample_axis < self.channel_axis)
        wanted = np.arange(self.shape[out_channel])[key[out_channel]]
        first = int(wanted.min()) // self.samples if wanted.size else 0
        last = int(wanted.max()) // self.samples + 1 if wanted.size else 0
        inner_key = list(key)
        inner_key[out_channel] = slice(first, last)
        inner_key.insert(self.sample_axis, slice(None))
        block = np.asarray(self.inner[tuple(inner_key)])
        # Samples next to their channel, then the two merged: channel c, sample s is c*S + s.
        block = np.moveaxis(block, self.sample_axis, out_channel + 1)
        merged = list(block.shape)
        merged[out_channel : out_channel + 2] = [merged[out_channel] * self.samples]
        return np.take(block.reshape(merged), wanted - first * self.samples, axis=out_channel)


# --------------------------------------------------------------------------- codecs


def _compression_name(tifffile: Any, compression: int) -> str:
    try:
        return str(tifffile.COMPRESSION(compression).name)
    except ValueError:
        return str(compression)


def _codec_missing(tifffile: Any, path: Path, name: str) -> ConversionError:
    try:
        importlib.import_module("imagecodecs")
    except ImportError:
        return ConversionError(
            f"{path}: TIFF compression {name} needs imagecodecs: pip install 'omezarr[convert]'"
        )
    return ConversionError(
        f"{path}: TIFF compression {name} is not supported by tifffile "
        f"{tifffile.__version__} with the installed imagecodecs"
    )


def _check_codec(tifffile: Any, path: Path, page: Any) -> None:
    """Refuse, before anything is written, a compression or predictor tifffile cannot decode."""
    if page.compression not in tifffile.TIFF.DECOMPRESSORS:
        raise _codec_missing(tifffile, path, _compression_name(tifffile, page.compression))
    if page.predictor not in tifffile.TIFF.PREDICTORS:
        raise _codec_missing(tifffile, path, f"predictor {page.predictor}")


def _check_decoding(tifffile: Any, path: Path, page: Any, array: Any) -> None:
    """Decode the first tile or strip: tifffile resolves some codecs only when they run."""
    if page.compression == 1 or array.size == 0:
        return
    try:
        array[tuple(slice(0, 1) for _ in array.shape)]
    except ImportError:
        raise _codec_missing(
            tifffile, path, _compression_name(tifffile, page.compression)
        ) from None
    except Exception as error:
        name = _compression_name(tifffile, page.compression)
        raise ConversionError(
            f"{path}: cannot decode its {name} compressed pixels: {type(error).__name__}: {error}"
        ) from None


# --------------------------------------------------------------------------- OME-XML


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


def _ome_number(
    image: InputImage,
    element: str,
    attribute: str,
    series: int,
    text: str,
    expected: str = "a number",
) -> float:
    """The number an OME-XML attribute holds; a file whose attribute holds no finite number
    is refused, naming the attribute."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConversionError(
            f"{image.path}: OME-XML attribute {element} {attribute} of image {series} is "
            f"{text!r}, not {expected}"
        )
    return value


def _ome_size(image: InputImage, attribute: str, series: int, text: str) -> float | None:
    """A pixel size or time increment of OME-XML ``Pixels``: a positive number, or None (with
    a note) for zero or less, which some writers store for "unknown"."""
    value = _ome_number(image, "Pixels", attribute, series, text, "a positive number")
    if value <= 0:
        image.notes.append(f"OME-XML Pixels {attribute}={text} is not positive and was ignored")
        return None
    return value


def _read_ome_xml(xml: str, series: int, image: InputImage) -> list[str | None] | None:
    """Pixel sizes, units, channel names and colours of OME image ``series``.

    Returns the names of the OME channels (None where unnamed), or None if the XML has none.
    """
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        image.notes.append(f"the OME-XML could not be parsed ({error}); metadata ignored")
        return None
    images = root.findall("{*}Image")
    if series >= len(images):
        return None
    element = images[series]
    image.name = element.get("Name") or None
    pixels = element.find("{*}Pixels")
    if pixels is None:
        return None
    for axis in "xyz":
        attribute = f"PhysicalSize{axis.upper()}"
        text = pixels.get(attribute)
        if text is None or axis not in image.axes:
            continue
        size = _ome_size(image, attribute, series, text)
        if size is not None:
            image.scale[axis] = size
            unit = _unit_or_note(pixels.get(f"{attribute}Unit", "µm"), "space", axis, image.notes)
            if unit is not None:
                image.units[axis] = unit
    if "t" in image.axes:
        _read_ome_time(pixels, series, image)
    channels = pixels.findall("{*}Channel")
    n_channels = image.data.shape[image.axes.index("c")] if "c" in image.axes else 1
    if channels and len(channels) == n_channels:
        names = [c.get("Name") or f"Channel {i}" for i, c in enumerate(channels)]
        image.channel_names = names
        colors = [_ome_color(c.get("Color")) for c in channels]
        if all(color is not None for color in colors):
            image.channel_colors = [str(color) for color in colors]
    return [c.get("Name") or None for c in channels] or None


def _read_ome_time(pixels: ElementTree.Element, series: int, image: InputImage) -> None:
    """The time step: ``TimeIncrement``, else the mean interval between the ``DeltaT`` of the
    planes of successive time points (the first plane of each)."""
    text = pixels.get("TimeIncrement")
    if text is not None:
        increment = _ome_size(image, "TimeIncrement", series, text)
        if increment is not None:
            image.scale["t"] = increment
            unit = _unit_or_note(pixels.get("TimeIncrementUnit", "s"), "time", "t", image.notes)
            if unit is not None:
                image.units["t"] = unit
            return
    starts: dict[int, float] = {}
    units: set[str] = set()
    for plane in pixels.findall("{*}Plane"):
        delta, the_t = plane.get("DeltaT"), plane.get("TheT", "0")
        if delta is None or not the_t.isdigit():
            continue
        time = _ome_number(image, "Plane", "DeltaT", series, delta)
        starts[int(the_t)] = min(time, starts.get(int(the_t), time))
        units.add(plane.get("DeltaTUnit", "s"))
    if len(starts) < 2:
        return
    if len(units) > 1:
        image.notes.append(f"Plane DeltaT in several units {sorted(units)}: no time step read")
        return
    first, last = min(starts), max(starts)
    step = (starts[last] - starts[first]) / (last - first)
    if step <= 0:
        return
    image.scale["t"] = step
    image.notes.append("time step of axis 't' is the mean interval of the planes' DeltaT")
    unit = _unit_or_note(units.pop(), "time", "t", image.notes)
    if unit is not None:
        image.units["t"] = unit


# --------------------------------------------------------------------------- ImageJ, SVS, tags


def _imagej_unit(value: Any, kind: str, axis: str, notes: list[str]) -> str | None:
    if value is None or str(value).strip() == "" or str(value).lower() in ("pixel", "pixels"):
        return None  # ImageJ's word for an uncalibrated image
    return _unit_or_note(str(value), kind, axis, notes)


def _imagej_number(metadata: Mapping[str, Any], key: str, image: InputImage) -> float | None:
    """The positive number ImageJ metadata holds under ``key``, None if it has none (zero or
    less: a note); a value that is no finite number refuses the file, naming the key."""
    value = metadata.get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ConversionError(
            f"{image.path}: ImageJ metadata {key}={value!r} is not a positive number"
        )
    if number <= 0:
        if number < 0:
            image.notes.append(f"ImageJ {key}={value} is not positive and was ignored")
        return None
    return number


def _read_imagej(metadata: Mapping[str, Any], page: Any, image: InputImage) -> None:
    """Pixel sizes and colours of an ImageJ hyperstack: resolution tags with ``unit`` (and
    ``yunit``, ``zunit``), ``spacing``, ``finterval`` with ``tunit``, and the channel LUTs."""
    unit_x = _imagej_unit(metadata.get("unit"), "space", "x", image.notes)
    units = {"x": unit_x}
    for axis in "yz":
        key = f"{axis}unit"
        units[axis] = (
            _imagej_unit(metadata[key], "space", axis, image.notes) if key in metadata else unit_x
        )
    for axis, tag in (("x", "XResolution"), ("y", "YResolution")):
        value = page.tags.get(tag)
        unit = units[axis]
        if value is not None and unit is not None:
            numerator, denominator = value.value
            if numerator > 0 and denominator > 0:
                image.scale[axis] = denominator / numerator
                image.units[axis] = unit
    spacing = _imagej_number(metadata, "spacing", image)
    z_unit = units["z"]
    if spacing is not None and "z" in image.axes and z_unit is not None:
        image.scale["z"] = spacing
        image.units["z"] = z_unit
    interval = _imagej_number(metadata, "finterval", image)
    if interval is not None and "t" in image.axes:
        image.scale["t"] = interval
        # ImageJ's time unit is seconds unless the file says otherwise.
        t_unit = _imagej_unit(metadata.get("tunit", "sec"), "time", "t", image.notes)
        if t_unit is not None:
            image.units["t"] = t_unit
    luts = metadata.get("LUTs")
    if luts and "c" in image.axes and len(luts) == image.data.shape[image.axes.index("c")]:
        colors = [_lut_color(lut) for lut in luts]
        if all(color is not None for color in colors):
            image.channel_colors = [str(color) for color in colors]
        else:
            image.notes.append("ImageJ LUTs that are no (3, N) tables: channel colours dropped")


def _lut_color(lut: Any) -> str | None:
    """The colour of an ImageJ LUT, its (3, 256) table: the colour of its brightest value, or
    of its brightest entry for a LUT that ends in black (an inverted one)."""
    table = np.asarray(lut)
    if table.ndim != 2 or table.shape[0] != 3 or table.shape[1] == 0:
        return None
    table = table.astype(np.int64)
    color = table[:, -1]
    if not color.any():
        color = table[:, int(table.sum(axis=0).argmax())]
    red, green, blue = (int(v) & 255 for v in color)
    return f"{red:02X}{green:02X}{blue:02X}"


def _svs_metadata(tifffile: Any, tiff: Any) -> dict[str, Any]:
    """The key = value pairs of an Aperio ImageDescription, as tifffile parses them."""
    try:
        return dict(tifffile.tifffile.svs_description_metadata(tiff.pages.first.description))
    except ValueError:
        return {}


def _read_svs(metadata: Mapping[str, Any], image: InputImage) -> None:
    """Pixel sizes of an Aperio SVS slide: ``MPP``, micrometers per pixel."""
    mpp = metadata.get("MPP")
    if mpp is None:
        return
    if isinstance(mpp, int | float) and math.isfinite(mpp) and mpp > 0:
        for axis in "xy":
            image.scale[axis] = float(mpp)
            image.units[axis] = "micrometer"
    else:
        image.notes.append(f"Aperio MPP = {mpp!r} is no pixel size and was ignored")


def _read_resolution(page: Any, image: InputImage) -> None:
    """Pixel sizes from XResolution/YResolution in inches, centimeters or millimeters, for x
    and y whose size no other metadata gave."""
    unit = getattr(page.resolutionunit, "name", None)
    factor = _MICROMETERS_PER_RESOLUTION_UNIT.get(str(unit))
    if factor is None or not {"x", "y"} - set(image.scale):
        return
    resolutions = dict(zip("xy", page.get_resolution(), strict=True))
    used = []
    for axis, tag in (("x", "XResolution"), ("y", "YResolution")):
        per_unit = resolutions[axis]
        if axis in image.scale or tag not in page.tags:
            continue
        if not (math.isfinite(per_unit) and per_unit > 0):
            continue
        image.scale[axis] = factor / per_unit
        image.units[axis] = "micrometer"
        used.append(f"{axis}: {per_unit:g}")
    if used:
        image.notes.append(
            f"pixel sizes from the TIFF resolution tags ({', '.join(used)} pixels per "
            f"{str(unit).lower()})"
        )


def _samples_are_channels(file_axes: str, axes: str) -> bool:
    """Whether the user's ``axes`` take the file's sample axis for channels."""
    return "S" in file_axes and axes.strip().lower()[file_axes.index("S")] == "c"


def _name_samples(
    tifffile: Any, page: Any, image: InputImage, group_names: Sequence[str | None] | None
) -> None:
    """Names and colours of the channels that hold the samples of RGB(A) pixels: red, green,
    blue, then alpha or other extra samples in white; ``"HE red"`` for the samples of an OME
    channel named HE."""
    if "c" not in image.axes or page.samplesperpixel < 3:
        return
    if page.photometric not in (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.YCBCR):
        return
    alpha = (tifffile.EXTRASAMPLE.ASSOCALPHA, tifffile.EXTRASAMPLE.UNASSALPHA)
    names = list(_SAMPLE_NAMES) + [
        "alpha" if extra in alpha else f"sample {3 + i}"
        for i, extra in enumerate(page.extrasamples)
    ]
    names = names[: page.samplesperpixel]
    colors = list(_SAMPLE_COLORS) + [_EXTRA_SAMPLE_COLOR] * (len(names) - len(_SAMPLE_COLORS))
    count = image.data.shape[image.axes.index("c")]
    if count % len(names):
        return  # the channel axis is not the samples (odd user axes)
    groups = count // len(names)
    if group_names is None or len(group_names) != groups:
        group_names = [None] * groups
    image.channel_names = [
        f"{group} {name}" if group else name for group in group_names for name in names
    ]
    image.channel_colors = colors * groups


# --------------------------------------------------------------------------- original metadata


def _json_ready(value: Any) -> Any:
    """``value`` as JSON can store it: arrays as lists, bytes as base64 text, other objects
    (dates, enums) as their text, non-finite floats as ``"NaN"``/``"Infinity"``."""
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        return _json_ready(value.item())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    return str(value)


def _original_metadata(tifffile: Any, tiff: Any) -> dict[str, Any]:
    """What the file says of itself beyond the OME-XML: text tags of its first page, and the
    metadata of the formats tifffile knows (``"imagej"``, ``"svs"``, ``"micromanager"`` …)."""
    metadata: dict[str, Any] = {}
    first = tiff.pages.first
    for tag in _TIFF_TAGS_KEPT:
        value = first.tags.valueof(tag)
        if tag == "ImageDescription" and tiff.is_ome:
            continue  # the OME-XML, kept whole as ``ome_xml``
        if isinstance(value, str) and value:
            metadata[tag] = value
    if tiff.is_svs:
        metadata["svs"] = _json_ready(_svs_metadata(tifffile, tiff))
    for name in _FORMAT_METADATA:
        if not getattr(tiff, f"is_{name}", False):
            continue
        try:
            value = getattr(tiff, f"{name}_metadata", None)
        except Exception:  # a vendor's metadata tifffile cannot parse: the tags above remain
            continue
        if value:
            metadata[name] = _json_ready(value)
    return metadata


# --------------------------------------------------------------------------- tifffile's log


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
