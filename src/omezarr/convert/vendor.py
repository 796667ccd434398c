"""Vendor microscopy files without Java: Zeiss CZI (pylibCZIrw), Nikon ND2 (nd2) and Leica
LIF/LOF (liffile), read lazily plane by plane, with physical sizes, channel names and colours.

Each reader is an optional extra (``omezarr[czi]``, ``omezarr[nd2]``, ``omezarr[lif]``, or all
three as ``omezarr[vendor]``). A file holds several image series where its reader exposes
them: the scenes of a CZI (the tiles of a mosaic scene are composed into one plane), the XY
positions of an ND2, the images of a LIF and the tiles of a LIF tile scan.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConversionError, InvalidParameterError, Parameter
from .options import normalize_unit
from .source import InputImage, _arrange, _check_user_axes
from .tiff import _json_ready

__all__ = [
    "VENDOR_KINDS",
    "open_vendor",
    "vendor_kind",
    "vendor_series",
]

VENDOR_KINDS = ("CZI", "ND2", "LIF")
"""The kinds of input this module reads, as :func:`vendor_kind` names them."""

_CZI_MAGIC = b"ZISRAWFILE"
"""The id of a CZI's first segment, its file header."""
_ND2_MAGIC = b"\xda\xce\xbe\x0a"
"""The first bytes of an ND2 file of format 2 or 3 (NIS-Elements 4 and later)."""
_JPEG2000_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
"""A JPEG 2000 file: a legacy ND2 (NIS-Elements 3) when its name ends in .nd2."""
_LIF_MAGIC = b"\x70\x00\x00\x00"
"""The first bytes of a LIF or LOF file; its ninth byte is 0x2A."""
_LIF_MARK = 0x2A


@dataclass(frozen=True)
class _Reader:
    """The package that reads one kind of vendor file, and the extra that installs it."""

    module: str
    package: str
    extra: str


_READERS = {
    "CZI": _Reader("pylibCZIrw.czi", "pylibCZIrw", "czi"),
    "ND2": _Reader("nd2", "nd2", "nd2"),
    "LIF": _Reader("liffile", "liffile", "lif"),
}

_RGB_NAMES = ("red", "green", "blue")
_RGB_COLORS = ("FF0000", "00FF00", "0000FF")
_SPACE_TIME_LABELS = "TCZYX"
"""Dimension labels that are NGFF axes as they are (S, samples, becomes c where it can)."""


# --------------------------------------------------------------------------- entry points


def vendor_kind(head: bytes, path: Path) -> str | None:
    """The vendor kind (``"CZI"``, ``"ND2"`` or ``"LIF"``) of a file whose first bytes are
    ``head`` (16 or more), else None.

    Examples
    --------
    >>> vendor_kind(b"ZISRAWFILE\\x00\\x00\\x00\\x00\\x00\\x00", Path("cells.czi"))
    'CZI'
    >>> vendor_kind(b"\\x89PNG\\r\\n\\x1a\\n", Path("cells.png")) is None
    True
    """
    if head.startswith(_CZI_MAGIC):
        return "CZI"
    if head.startswith(_ND2_MAGIC):
        return "ND2"
    if head.startswith(_JPEG2000_MAGIC) and path.suffix.lower() == ".nd2":
        return "ND2"
    if head.startswith(_LIF_MAGIC) and len(head) > 8 and head[8] == _LIF_MARK:
        return "LIF"
    return None


def open_vendor(
    kind: str, path: Path, series: int, axes: str | None, stack: contextlib.ExitStack
) -> InputImage:
    """Image ``series`` of the vendor file at ``path``, read lazily (closed with ``stack``).

    Parameters
    ----------
    kind : {"CZI", "ND2", "LIF"}
        What :func:`vendor_kind` said of the file.
    path : Path
        A local file.
    series : int
        The series: a CZI scene, an ND2 XY position, a LIF image (or tile of a tile scan).
    axes : str, optional
        The file's axes in the order :attr:`InputImage.source_axes` gives, overriding them.
    stack : contextlib.ExitStack
        Closes the file when the conversion is done.

    Raises
    ------
    ConversionError
        If the extra that reads ``kind`` is not installed, or the file cannot be read.
    InvalidParameterError
        For a ``series`` or ``axes`` that does not fit the file.

    Examples
    --------
    >>> with contextlib.ExitStack() as stack:  # doctest: +SKIP
    ...     image = open_vendor("CZI", Path("cells.czi"), 0, None, stack)
    ...     image.axes, image.channel_names
    ('czyx', ['DAPI', 'GFP'])
    """
    module = _import_reader(kind, path)
    openers = {"CZI": _open_czi, "ND2": _open_nd2, "LIF": _open_lif}
    with _reading(path, kind):
        return openers[kind](module, path, series, axes, stack)


def vendor_series(kind: str, path: Path) -> tuple[int, str | None]:
    """How many image series the vendor file at ``path`` holds, and its OME-XML (ND2 only).

    Raises
    ------
    ConversionError
        If the extra that reads ``kind`` is not installed, or the file cannot be read.

    Examples
    --------
    >>> vendor_series("CZI", Path("plate.czi"))  # doctest: +SKIP
    (96, None)
    """
    module = _import_reader(kind, path)
    with _reading(path, kind):
        if kind == "CZI":
            with contextlib.closing(module.CziReader(str(path))) as reader:
                return len(_czi_scenes(reader)), None
        if kind == "ND2":
            with module.ND2File(path) as nd2_file:
                return int(nd2_file.sizes.get("P", 1)), _nd2_ome_xml(nd2_file, [])
        with module.LifFile(path) as lif:
            return len(_lif_series(lif, [])), None


# --------------------------------------------------------------------------- shared machinery


def _import_reader(kind: str, path: Path) -> Any:
    reader = _READERS[kind]
    try:
        return importlib.import_module(reader.module)
    except ImportError:
        raise ConversionError(
            f"{path}: reading {kind} files needs {reader.package}: "
            f"pip install 'omezarr[{reader.extra}]'"
        ) from None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


@contextlib.contextmanager
def _reading(path: Path, kind: str) -> Iterator[None]:
    """Errors of the vendor library inside the block become one line naming the file."""
    try:
        yield
    except (ConversionError, InvalidParameterError):
        raise
    except Exception as error:  # the readers raise many types (RuntimeError from C++ too)
        raise ConversionError(
            f"{path}: not a readable {kind} file (damaged or truncated?): "
            f"{type(error).__name__}: {_one_line(error)}"
        ) from None


def _check_series(path: Path, series: int, count: int) -> None:
    if not 0 <= series < count:
        raise InvalidParameterError(
            Parameter("series"), f": {path} has series 0 to {count - 1}, not {series}"
        )


class _Handles:
    """Open handles of one file, one for each thread reading at the same time (none of the
    vendor readers may be shared between threads); all are closed with the input."""

    def __init__(self, open_handle: Callable[[], Any], first: Any) -> None:
        self._open = open_handle
        self._lock = threading.Lock()
        self._free = [first]
        self._opened = [first]

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Any]:
        with self._lock:
            handle = self._free.pop() if self._free else None
        if handle is None:
            handle = self._open()
            with self._lock:
                self._opened.append(handle)
        try:
            yield handle
        finally:
            with self._lock:
                self._free.append(handle)

    def close(self) -> None:
        with self._lock:
            opened, self._opened, self._free = self._opened, [], []
        for handle in opened:
            with contextlib.suppress(Exception):
                handle.close()


_PlaneReader = Callable[[Any, tuple[int, ...], tuple[slice, ...]], np.ndarray]
"""Reads, with an open handle, the part ``key`` (one slice per plane axis) of the plane at
``index`` (one integer per outer axis)."""


class _PlaneArray:
    """A lazy array of planes: its first axes index planes, its last ones are a plane, of which
    a reader takes the part a region needs (CZI) or reads it whole (ND2, LIF: ``chunks`` are
    then whole planes, so the converter reads each plane once for neighbouring regions)."""

    def __init__(
        self,
        shape: Sequence[int],
        dtype: Any,
        outer_ndim: int,
        handles: _Handles,
        read_plane: _PlaneReader,
        whole_planes: bool,
    ) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self.outer_ndim = outer_ndim
        self.handles = handles
        self.read_plane = read_plane
        self.chunks: tuple[int, ...] | None = (
            (1,) * outer_ndim + self.shape[outer_ndim:] if whole_planes else None
        )

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        if not isinstance(key, tuple) or len(key) != self.ndim:
            raise TypeError("internal: a plane array is read with one slice per axis")
        ranges = [range(*k.indices(n)) for k, n in zip(key, self.shape, strict=True)]
        plane_key = tuple(slice(r.start, r.stop, r.step) for r in ranges[self.outer_ndim :])
        block = np.empty(tuple(len(r) for r in ranges), dtype=self.dtype)
        if block.size == 0:
            return block
        outer = ranges[: self.outer_ndim]
        with self.handles.borrow() as handle:
            for position in np.ndindex(*(len(r) for r in outer)):
                index = tuple(r[i] for r, i in zip(outer, position, strict=True))
                block[position] = self.read_plane(handle, index, plane_key)
        return block


def _letters(labels: Sequence[str], sizes: Sequence[int], kind: str, notes: list[str]) -> str:
    """One axis letter per dimension label of a reader: T, C, Z, Y, X and S (samples) as they
    are; any other dimension becomes the first free axis of z, t, c, with a note."""
    taken = {label.upper() for label in labels if label.upper() in _SPACE_TIME_LABELS}
    if "S" in labels and "C" not in taken:
        taken.add("C")  # the samples become the channels
    letters = []
    for label, size in zip(labels, sizes, strict=True):
        if label.upper() in _SPACE_TIME_LABELS + "S":
            letters.append(label.upper())
            continue
        free = next((a for a in "ZTC" if a not in taken), None)
        if free is None:
            raise ConversionError(
                f"{kind} dimension {label!r} ({size} planes) has no NGFF axis left: t, c and "
                "z are taken"
            )
        taken.add(free)
        letters.append(free)
        notes.append(f"{kind} dimension {label!r} ({size} planes) written as axis {free.lower()!r}")
    return "".join(letters)


def _arranged(
    path: Path,
    kind: str,
    array: _PlaneArray,
    labels: Sequence[str],
    axes: str | None,
    notes: list[str],
) -> InputImage:
    if axes is not None:
        letters = _check_user_axes(axes, array.ndim)
    else:
        letters = _letters(labels, array.shape, kind, notes)
    image = _arrange(path, kind, array, letters, notes)
    if axes is None:
        image.source_axes = "".join(labels)  # the reader's labels (LIF's "λ", "M" …)
    return image


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _set_size(image: InputImage, axis: str, size: float | None, unit: str) -> None:
    if size is not None and axis in image.axes:
        # 15 digits: a size of 2e-07 m is 0.2 µm, not 0.19999999999999998.
        image.scale[axis] = float(f"{size:.15g}")
        image.units[axis] = unit


def _name_channels(
    image: InputImage, names: Sequence[str | None], colors: Sequence[str | None]
) -> None:
    """Channel names and colours, if they are one per channel of ``image``."""
    count = image.data.shape[image.axes.index("c")] if "c" in image.axes else 1
    if names and len(names) == count and any(names):
        image.channel_names = [name or f"Channel {i}" for i, name in enumerate(names)]
    if colors and len(colors) == count and all(colors):
        image.channel_colors = [str(color) for color in colors]


def _hex_color(text: str | None) -> str | None:
    """``RRGGBB`` of a colour written ``#AARRGGBB`` or ``#RRGGBB`` (CZI), else None."""
    if not text:
        return None
    digits = text.strip().lstrip("#")
    if len(digits) not in (6, 8) or any(c not in "0123456789abcdefABCDEF" for c in digits):
        return None
    return digits[-6:].upper()


# --------------------------------------------------------------------------- Zeiss CZI

_CZI_PIXEL_TYPES = {
    "Gray8": ("uint8", 1),
    "Gray16": ("uint16", 1),
    "Gray32Float": ("float32", 1),
    "Bgr24": ("uint8", 3),
    "Bgr48": ("uint16", 3),
    "Bgr96Float": ("float32", 3),
}
"""The NumPy type and samples of each pixel type pylibCZIrw reads."""
_CZI_GRAY_ORDER = ("Gray8", "Gray16", "Gray32Float")
"""Grey pixel types from narrowest to widest: channels of several are read as the widest."""
_CZI_METERS_TO_MICROMETERS = 1e6
"""CZI Scaling/Distance values are in meters."""


def _czi_scenes(reader: Any) -> list[tuple[int | None, Any]]:
    """The scenes of a CZI (index, level-0 bounding rectangle); one (None, the whole) for a
    file without scenes."""
    scenes = reader.scenes_bounding_rectangle_no_pyramid
    if scenes:
        return [(int(index), scenes[index]) for index in sorted(scenes)]
    return [(None, reader.total_bounding_rectangle_no_pyramid)]


def _czi_pixel_type(path: Path, pixel_types: dict[int, str], notes: list[str]) -> str:
    """The pixel type every channel is read as."""
    kinds = sorted(set(pixel_types.values()))
    unknown = [kind for kind in kinds if kind not in _CZI_PIXEL_TYPES]
    if unknown or not kinds:
        raise ConversionError(
            f"{path}: CZI pixel type {', '.join(unknown) or 'of no channel'} is not supported "
            f"(supported: {', '.join(_CZI_PIXEL_TYPES)})"
        )
    if len(kinds) == 1:
        return kinds[0]
    if all(kind in _CZI_GRAY_ORDER for kind in kinds):
        widest = max(kinds, key=_CZI_GRAY_ORDER.index)
        notes.append(f"channels of pixel types {', '.join(kinds)} all read as {widest}")
        return widest
    raise ConversionError(f"{path}: CZI channels mix RGB and grey pixel types ({', '.join(kinds)})")


def _open_czi(
    czi: Any, path: Path, series: int, axes: str | None, stack: contextlib.ExitStack
) -> InputImage:
    first = czi.CziReader(str(path))
    handles = _Handles(lambda: czi.CziReader(str(path)), first)
    stack.callback(handles.close)
    scenes = _czi_scenes(first)
    _check_series(path, series, len(scenes))
    scene, rectangle = scenes[series]
    notes: list[str] = []
    box = first.total_bounding_box_no_pyramid
    pixel_type = _czi_pixel_type(path, dict(first.pixel_types), notes)
    dtype, samples = _CZI_PIXEL_TYPES[pixel_type]
    outer = [label for label in "TCZ" if box.get(label, (0, 1))[1] - box[label][0] > 1]
    if samples > 1 and "C" in outer:
        raise ConversionError(
            f"{path}: a CZI of several RGB channels is not supported ({pixel_type})"
        )
    for label, (start, stop) in box.items():
        if label not in "TCZXY" and stop - start > 1:
            notes.append(f"CZI dimension {label} has {stop - start} planes: only the first read")
    if len(scenes) > 1:
        notes.append(
            f"scene {series} of {len(scenes)} (--series picks one; without it every one is converted)"
        )
    labels = [*outer, "Y", "X"] + (["S"] if samples > 1 else [])
    shape = [box[label][1] - box[label][0] for label in outer] + [rectangle.h, rectangle.w]
    shape += [samples] if samples > 1 else []
    starts = [box[label][0] for label in outer]

    def read_plane(reader: Any, index: tuple[int, ...], key: tuple[slice, ...]) -> np.ndarray:
        plane = {label: start + i for label, start, i in zip(outer, starts, index, strict=True)}
        rows, columns = key[0], key[1]
        roi = (
            rectangle.x + columns.start,
            rectangle.y + rows.start,
            columns.stop - columns.start,
            rows.stop - rows.start,
        )
        block = reader.read(roi=roi, plane=plane, scene=scene, pixel_type=pixel_type)
        block = block[:: rows.step, :: columns.step]
        # pylibCZIrw gives (h, w, 1) grey or (h, w, 3) in BGR order: RGB as every reader.
        return block[..., 0] if samples == 1 else block[..., ::-1][..., key[2]]

    array = _PlaneArray(shape, dtype, len(outer), handles, read_plane, whole_planes=False)
    # Decode one pixel now: a file whose subblocks cannot be read is refused before writing.
    array[tuple(slice(0, 1) for _ in shape)]
    image = _arranged(path, "CZI", array, labels, axes, notes)
    xml = first.raw_metadata
    _read_czi_metadata(xml, scene, samples, image)
    image.original_metadata = {"czi_metadata_xml": xml}
    return image


def _read_czi_metadata(xml: str, scene: int | None, samples: int, image: InputImage) -> None:
    """Pixel sizes, channel names and colours, and the scene's name from a CZI's XML."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        image.notes.append(f"the CZI metadata could not be parsed ({error}); metadata ignored")
        return
    metadata = root.find("Metadata")
    if metadata is None:
        return
    for distance in metadata.findall("Scaling/Items/Distance"):
        axis = (distance.get("Id") or "").lower()
        if axis in ("x", "y", "z"):
            meters = _positive(distance.findtext("Value"))
            size = None if meters is None else meters * _CZI_METERS_TO_MICROMETERS
            _set_size(image, axis, size, "micrometer")
    dimensions = metadata.find("Information/Image/Dimensions")
    if samples > 1:
        _name_channels(image, _RGB_NAMES, _RGB_COLORS)
    else:
        _read_czi_channels(metadata, dimensions, image)
    if dimensions is not None and scene is not None:
        for element in dimensions.findall("S/Scenes/Scene"):
            if element.get("Index") == str(scene) and element.get("Name"):
                image.name = element.get("Name")
    if image.name is None:
        image.name = metadata.findtext("Information/Document/Name") or None


def _read_czi_channels(
    metadata: ElementTree.Element, dimensions: ElementTree.Element | None, image: InputImage
) -> None:
    """Names and colours of the channels: those of Information/Image/Dimensions/Channels,
    completed by the DisplaySetting of the channel of the same Id (or place)."""
    channels = [] if dimensions is None else dimensions.findall("Channels/Channel")
    display = metadata.findall("DisplaySetting/Channels/Channel")
    by_id = {element.get("Id"): element for element in display if element.get("Id")}
    names: list[str | None] = []
    colors: list[str | None] = []
    for index, channel in enumerate(channels or display):
        shown = by_id.get(channel.get("Id")) or (display[index] if index < len(display) else None)
        name = channel.get("Name") or (shown.get("Name") if shown is not None else None)
        color = _hex_color(channel.findtext("Color"))
        if color is None and shown is not None:
            color = _hex_color(shown.findtext("Color"))
        names.append(name)
        colors.append(color)
    _name_channels(image, names, colors)


# --------------------------------------------------------------------------- Nikon ND2

_ND2_FRAME_LABELS = ("C", "Y", "X", "S")
"""The dimensions of one ND2 frame (nd2's sizes name them so)."""


def _open_nd2(
    nd2: Any, path: Path, series: int, axes: str | None, stack: contextlib.ExitStack
) -> InputImage:
    first = nd2.ND2File(path)
    handles = _Handles(lambda: nd2.ND2File(path), first)
    stack.callback(handles.close)
    sizes = {str(label): int(size) for label, size in first.sizes.items()}
    positions = sizes.get("P", 1)
    _check_series(path, series, positions)
    if "Y" not in sizes or "X" not in sizes:
        raise ConversionError(f"{path}: ND2 frames of dimensions {list(sizes)} hold no plane")
    loops = [label for label in sizes if label not in _ND2_FRAME_LABELS]
    loop_shape = tuple(sizes[label] for label in loops)
    outer = [label for label in loops if label != "P"]
    frame = [label for label in sizes if label in _ND2_FRAME_LABELS]
    notes: list[str] = []
    if positions > 1:
        notes.append(
            f"XY position {series} of {positions} (--series picks one; without it every one is converted)"
        )
    if first.is_legacy:
        notes.append("a legacy (JPEG 2000) ND2: frames decoded by imagecodecs")

    def read_plane(nd2_file: Any, index: tuple[int, ...], key: tuple[slice, ...]) -> np.ndarray:
        coordinates = dict(zip(outer, index, strict=True))
        coordinates["P"] = series
        if loops:
            frame_index = int(np.ravel_multi_index([coordinates[c] for c in loops], loop_shape))
        else:
            frame_index = 0
        return np.array(nd2_file.read_frame(frame_index)[key])

    shape = [sizes[label] for label in outer + frame]
    array = _PlaneArray(shape, first.dtype, len(outer), handles, read_plane, whole_planes=True)
    array[tuple(slice(0, 1) for _ in shape)]  # decode the first frame now (refused before writing)
    image = _arranged(path, "ND2", array, outer + frame, axes, notes)
    _read_nd2_metadata(first, series, positions, image)
    image.ome_xml = _nd2_ome_xml(first, image.notes)
    return image


def _read_nd2_metadata(nd2_file: Any, series: int, positions: int, image: InputImage) -> None:
    """Voxel sizes, the time step, channel names and colours, the position's name."""
    voxel = nd2_file.voxel_size()
    for axis in "xyz":
        _set_size(image, axis, _positive(getattr(voxel, axis)), "micrometer")
    for loop in nd2_file.experiment:
        if loop.type == "TimeLoop":
            period = loop.parameters.periodDiff
            milliseconds = _positive(period.avg if period is not None else None)
            milliseconds = milliseconds or _positive(loop.parameters.periodMs)
            _set_size(image, "t", None if milliseconds is None else milliseconds / 1000, "second")
        elif loop.type == "XYPosLoop" and positions > 1:
            points = loop.parameters.points
            if series < len(points) and points[series].name:
                image.name = str(points[series].name)
    if "S" in image.source_axes and "C" not in image.source_axes:
        _name_channels(image, _RGB_NAMES, _RGB_COLORS)
    else:
        channels = nd2_file.metadata.channels or []
        names = [channel.channel.name or None for channel in channels]
        colors = [_nd2_color(channel.channel.color) for channel in channels]
        _name_channels(image, names, colors)
    image.original_metadata = {
        "nd2": _json_ready(
            {
                "text_info": dict(nd2_file.text_info),
                "attributes": nd2_file.attributes._asdict(),
                "experiment": [dataclasses.asdict(loop) for loop in nd2_file.experiment],
            }
        )
    }


def _nd2_color(color: Any) -> str | None:
    try:
        return f"{int(color.r) & 255:02X}{int(color.g) & 255:02X}{int(color.b) & 255:02X}"
    except (AttributeError, TypeError, ValueError):
        return None


def _nd2_ome_xml(nd2_file: Any, notes: list[str]) -> str | None:
    """The OME-XML nd2 makes of the file's metadata (one Image per XY position)."""
    try:
        return str(nd2_file.ome_metadata().to_xml())
    except Exception as error:  # metadata nd2 cannot map to OME: the pixels are still read
        notes.append(f"no OME-XML kept: nd2 could not make it ({type(error).__name__})")
        return None


# --------------------------------------------------------------------------- Leica LIF

_LIF_UNITS = {"m": ("micrometer", 1e6), "s": ("second", 1.0)}
"""Units of LIF dimensions, as written in micrometers and seconds."""
_LIF_AXES = {"1": "x", "2": "y", "3": "z", "4": "t"}
"""The NGFF axis of each LIF DimID that has one."""
_LIF_LUT_COLORS = {
    "red": "FF0000",
    "green": "00FF00",
    "blue": "0000FF",
    "cyan": "00FFFF",
    "magenta": "FF00FF",
    "yellow": "FFFF00",
    "gray": "FFFFFF",
    "grey": "FFFFFF",
}
"""Colours of the LUTs LAS X names."""


@dataclass(frozen=True)
class _LifSeries:
    """One series of a LIF: an image (its index among the file's images), or one tile."""

    image: int
    tile: int | None


def _lif_series(lif: Any, notes: list[str]) -> list[_LifSeries]:
    """The series of a LIF: each image that is no FLIM histogram, each tile of a tile scan
    (its M dimension) a series of its own."""
    series: list[_LifSeries] = []
    skipped = 0
    for index, image in enumerate(lif.images):
        if image.is_flim:
            skipped += 1
            continue
        tiles = int(image.sizes.get("M", 1))
        if tiles > 1:
            series.extend(_LifSeries(index, tile) for tile in range(tiles))
        else:
            series.append(_LifSeries(index, None))
    if skipped:
        notes.append(f"{skipped} FLIM/TCSPC histogram images skipped (not converted)")
    return series


class _LifHandle:
    """An open LIF file and the image being read from it."""

    def __init__(self, liffile: Any, path: Path, index: int) -> None:
        self.file = liffile.LifFile(path)
        try:
            self.image = self.file.images[index]
        except Exception:
            self.file.close()
            raise

    def close(self) -> None:
        self.file.close()


def _open_lif(
    liffile: Any, path: Path, series: int, axes: str | None, stack: contextlib.ExitStack
) -> InputImage:
    notes: list[str] = []
    with liffile.LifFile(path) as lif:
        entries = _lif_series(lif, notes)
    if not entries:
        raise ConversionError(f"{path}: the LIF file holds no image omezarr can convert")
    _check_series(path, series, len(entries))
    entry = entries[series]
    first = _LifHandle(liffile, path, entry.image)
    handles = _Handles(lambda: _LifHandle(liffile, path, entry.image), first)
    stack.callback(handles.close)
    lif_image = first.image
    sizes = {str(label): int(size) for label, size in lif_image.sizes.items()}
    frame = [label for label in sizes if label in lif_image.frames.frame_sizes]
    outer = [label for label in sizes if label not in frame and label != "M"]
    if len(entries) > 1:
        notes.append(
            f"series {series} of {len(entries)} (--series picks one; without it every one is converted)"
        )
    if entry.tile is not None:
        notes.append(f"tile {entry.tile} of the tile scan {lif_image.name!r} (one series each)")

    def read_plane(
        handle: _LifHandle, index: tuple[int, ...], key: tuple[slice, ...]
    ) -> np.ndarray:
        indices = dict(zip(outer, index, strict=True))
        if entry.tile is not None:
            indices["M"] = entry.tile
        return np.asarray(handle.image.frame(**indices)[key])

    shape = [sizes[label] for label in outer + frame]
    array = _PlaneArray(shape, lif_image.dtype, len(outer), handles, read_plane, whole_planes=True)
    array[tuple(slice(0, 1) for _ in shape)]  # read the first frame now (refused before writing)
    image = _arranged(path, "LIF", array, outer + frame, axes, notes)
    _read_lif_metadata(lif_image, image)
    image.name = lif_image.name if entry.tile is None else f"{lif_image.name} tile {entry.tile}"
    image.original_metadata = {"lif": _json_ready(dict(lif_image.attrs))}
    return image


def _read_lif_metadata(lif_image: Any, image: InputImage) -> None:
    """Pixel sizes and the time step of the image's dimensions (their Length spans
    NumberOfElements - 1 steps), channel names and colours from its channels' LUTs."""
    description = lif_image.xml_element.find("Data/Image/ImageDescription")
    if description is None:
        return
    for dimension in description.findall("Dimensions/DimensionDescription"):
        axis = _LIF_AXES.get(dimension.get("DimID", ""))
        count = int(dimension.get("NumberOfElements", "1"))
        length = _positive(dimension.get("Length"))
        if axis is None or count < 2 or length is None:
            continue
        unit_text = dimension.get("Unit", "")
        unit, factor = _LIF_UNITS.get(unit_text, (unit_text, 1.0))
        try:
            unit = normalize_unit(unit, "time" if axis == "t" else "space")
        except ValueError:
            image.notes.append(f"unit {unit_text!r} of LIF axis {axis!r} is no NGFF unit: dropped")
            continue
        _set_size(image, axis, length / (count - 1) * factor, unit)
    if "S" in image.source_axes and "C" not in image.source_axes:
        _name_channels(image, _RGB_NAMES, _RGB_COLORS)
        return
    # liffile orders channels by their place in memory (BytesInc), as they are read.
    channels = sorted(
        description.findall("Channels/ChannelDescription"),
        key=lambda element: int(element.get("BytesInc", "0")),
    )
    filters = {
        info.get("LUT", ""): info.get("FluoCubeName") or None
        for info in lif_image.xml_element.iter("WideFieldChannelInfo")
    }
    luts = [channel.get("LUTName", "") for channel in channels]
    names = [filters.get(lut) or lut or None for lut in luts]
    colors = [_LIF_LUT_COLORS.get(lut.lower()) for lut in luts]
    _name_channels(image, names, colors)
