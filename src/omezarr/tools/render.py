"""Rendering one plane of an OME-Zarr image as an RGB picture (thumbnails and the viewer).

:func:`render_plane` picks a resolution level, reads only the plane it needs (or the planes of
a maximum-intensity projection, a few at a time), colours each channel from the ``omero``
rendering metadata, blends the channels additively and can overlay a label image.
:func:`encode_png` turns the result into PNG bytes, with Pillow when it is installed and with
a small zlib writer otherwise, so thumbnails need no optional dependency.

Examples
--------
>>> rgb = render_plane("image.ome.zarr", size=256, projection="mip")  # doctest: +SKIP
>>> Path("thumbnail.png").write_bytes(encode_png(rgb))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import zarr
from numpy.typing import NDArray
from scipy import ndimage

from ..io.storage import GroupLike
from ..io.units import decoding
from ..read import Image, LabelImage, open_image

__all__ = [
    "DEFAULT_SIZE",
    "ChannelDisplay",
    "channel_displays",
    "choose_level",
    "encode_png",
    "label_palette",
    "render_plane",
]

DEFAULT_SIZE = 256
"""Without ``size`` or ``level``, the coarsest level at least this many pixels wide or high."""

_DEFAULT_COLORS: tuple[str, ...] = (
    "00FF00",
    "FF00FF",
    "00FFFF",
    "FFFF00",
    "FF0000",
    "0000FF",
    "FF8000",
    "FFFFFF",
)
"""Colours of channels that the ``omero`` metadata leaves without one (several channels)."""

_GREY = "FFFFFF"
_PERCENTILES = (0.1, 99.9)
_MIP_BATCH_BYTES = 64 * 2**20
"""Planes read at once by a maximum-intensity projection; bounds its memory."""

Projection = Literal["plane", "mip"]


@dataclass(frozen=True)
class ChannelDisplay:
    """How one channel is shown.

    Attributes
    ----------
    index : int
        The channel's position along the ``c`` axis.
    name : str
        ``omero`` ``label``, else ``"c{index}"``.
    color : tuple of int
        (red, green, blue), 0–255.
    window : tuple of float or None
        The intensities shown as black and as full colour; None to use the 0.1 and 99.9
        percentiles of the rendered plane.
    active : bool
        Whether the channel is shown when no channels are chosen.
    """

    index: int
    name: str
    color: tuple[int, int, int]
    window: tuple[float, float] | None
    active: bool

    @property
    def hex_color(self) -> str:
        """The colour as ``RRGGBB``."""
        return "".join(f"{value:02X}" for value in self.color)


def _parse_hex(color: Any) -> tuple[int, int, int] | None:
    if not isinstance(color, str) or len(color) != 6:
        return None
    try:
        value = int(color, 16)
    except ValueError:
        return None
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def _omero_window(channel: Mapping[str, Any]) -> tuple[float, float] | None:
    window = channel.get("window")
    if not isinstance(window, Mapping):
        return None
    bounds = (window.get("start"), window.get("end"))
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bounds):
        return None
    start, end = (float(v) for v in bounds)  # type: ignore[arg-type]  # checked above
    if not (math.isfinite(start) and math.isfinite(end)) or start == end:
        return None
    return start, end


def _channel_count(image: Image) -> int:
    letters = image.axis_letters
    return int(image.levels[0].shape[letters.index("c")]) if "c" in letters else 1


def channel_displays(image: Image) -> list[ChannelDisplay]:
    """How each channel of ``image`` is shown: ``omero`` settings, else defaults.

    Colours default to grey for a single channel and to green, magenta, cyan, yellow, ... for
    several; windows default to None (percentiles of the rendered data).

    Examples
    --------
    >>> [d.hex_color for d in channel_displays(open_image("image.ome.zarr"))]  # doctest: +SKIP
    ['0000FF', '00FF00']
    """
    count = _channel_count(image)
    channels = (image.omero or {}).get("channels")
    if not isinstance(channels, list):
        channels = []
    displays = []
    for index in range(count):
        entry = channels[index] if index < len(channels) else {}
        entry = entry if isinstance(entry, Mapping) else {}
        default = _GREY if count == 1 else _DEFAULT_COLORS[index % len(_DEFAULT_COLORS)]
        color = _parse_hex(entry.get("color")) or _parse_hex(default)
        assert color is not None
        label = entry.get("label")
        displays.append(
            ChannelDisplay(
                index=index,
                name=str(label) if label not in (None, "") else f"c{index}",
                color=color,
                window=_omero_window(entry),
                active=entry.get("active", True) is not False,
            )
        )
    return displays


def _check_index(value: Any, name: str, count: int) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, not {type(value).__name__}")
    if not 0 <= value < count:
        raise ValueError(f"{name}: {value} is out of range, expected 0 to {count - 1}")
    return int(value)


def _yx_size(image: Image, level: int) -> int:
    shape, letters = image.levels[level].shape, image.axis_letters
    return max(int(shape[letters.index("y")]), int(shape[letters.index("x")]))


def choose_level(image: Image, size: int | None = None) -> int:
    """The level to render for an output of at most ``size`` pixels along y and x.

    The coarsest level whose larger side still has at least ``size`` pixels (so nothing is
    enlarged), or level 0 when even that is smaller. Without ``size``, the coarsest level of
    at least :data:`DEFAULT_SIZE` pixels.

    Raises
    ------
    ValueError
        If ``size`` is not a positive int, or the image has no y and x axes.

    Examples
    --------
    >>> choose_level(open_image("image.ome.zarr"), 256)  # doctest: +SKIP
    2
    """
    _require_yx(image)
    wanted = DEFAULT_SIZE if size is None else _check_size(size)
    chosen = 0
    for level in range(len(image.levels)):
        if _yx_size(image, level) >= wanted:
            chosen = level
    return chosen


def _check_size(size: Any) -> int:
    if not isinstance(size, int | np.integer) or isinstance(size, bool):
        raise TypeError(f"size: expected an int, not {type(size).__name__}")
    if size < 1:
        raise ValueError(f"size: expected a positive number of pixels, not {size}")
    return int(size)


def _require_yx(image: Image) -> None:
    # Axes are found by letter, in either case: "T C Z Y X" is valid NGFF.
    if "y" not in image.axis_letters or "x" not in image.axis_letters:
        raise ValueError(f"image: needs y and x axes to be rendered, it has {image.dims}")


def label_palette(values: NDArray[Any]) -> NDArray[np.uint8]:
    """A stable, well-spread RGBA colour for each label value (0 is transparent).

    Examples
    --------
    >>> label_palette(np.array([0, 1]))[:, 3].tolist()
    [0, 255]
    """
    values = np.asarray(values).astype(np.uint64)
    # A multiplicative hash spreads neighbouring values over the hue circle.
    mixed = (values * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    hue = mixed.astype(np.float64) / 2.0**32
    sector = hue * 6.0
    ramp = np.abs((sector[:, None] - np.array([3.0, 1.0, 5.0])) % 6.0 - 3.0) - 1.0
    rgb = np.clip(ramp, 0.0, 1.0) * 200.0 + 55.0
    alpha = np.where(values == 0, 0, 255)
    return np.concatenate([rgb, alpha[:, None]], axis=1).astype(np.uint8)


def _level_array(image: Image, level: int) -> Any:
    """The zarr array of a level (zarr reads only the chunks a selection touches)."""
    array = image.group[image.paths[level]]
    assert isinstance(array, zarr.Array)
    return array


def _read_yx(
    image: Image,
    level: int,
    picks: Mapping[str, int],
    projection: Projection,
) -> NDArray[Any]:
    """A (y, x) plane of ``level``: ``picks`` index the other axes; ``mip`` projects z."""
    array = _level_array(image, level)
    dims = image.axis_letters
    mip_z = projection == "mip" and "z" in dims
    selection: list[int | slice] = []
    for dim in dims:
        if dim in ("y", "x") or (dim == "z" and mip_z):
            selection.append(slice(None))
        else:
            selection.append(picks.get(dim, 0))
    plane = _max_over_z(array, selection, dims) if mip_z else np.asarray(array[tuple(selection)])
    # y and x may be stored as x, y.
    return plane.T if dims.index("y") > dims.index("x") else plane


def _max_over_z(array: Any, selection: list[int | slice], dims: Sequence[str]) -> NDArray[Any]:
    """The maximum over z of ``array[selection]``, reading a batch of planes at a time."""
    z_axis = dims.index("z")
    kept = [dim for dim, pick in zip(dims, selection, strict=True) if isinstance(pick, slice)]
    depth = int(array.shape[z_axis])
    plane_bytes = math.prod(
        int(n) for dim, n in zip(dims, array.shape, strict=True) if dim in ("y", "x")
    )
    batch = max(1, min(depth, _MIP_BATCH_BYTES // max(plane_bytes * array.dtype.itemsize, 1)))
    selection = list(selection)
    selection[z_axis] = slice(0, batch)
    plane: NDArray[Any] = np.asarray(array[tuple(selection)]).max(axis=kept.index("z"))
    for start in range(batch, depth, batch):
        selection[z_axis] = slice(start, min(start + batch, depth))
        block = np.asarray(array[tuple(selection)])
        plane = np.maximum(plane, block.max(axis=kept.index("z")))
    return plane


def _window_of(plane: NDArray[np.float32], display: ChannelDisplay) -> tuple[float, float]:
    if display.window is not None:
        return display.window
    finite = plane[np.isfinite(plane)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(finite, _PERCENTILES))
    if high <= low:
        high = low + 1.0
    return low, high


def _resize(plane: NDArray[Any], shape: tuple[int, int], order: int) -> NDArray[Any]:
    """``plane`` scaled to ``shape``: linear (``order=1``, averaging first when shrinking by
    2 or more, against aliasing) or nearest (``order=0``, for labels)."""
    if plane.shape[:2] == shape:
        return plane
    if order > 0:
        steps = [max(1, plane.shape[i] // shape[i]) for i in range(2)]
        if max(steps) > 1:
            height = plane.shape[0] // steps[0] * steps[0]
            width = plane.shape[1] // steps[1] * steps[1]
            blocks = plane[:height, :width].reshape(
                height // steps[0], steps[0], width // steps[1], steps[1], *plane.shape[2:]
            )
            plane = blocks.mean(axis=(1, 3))
            if plane.shape[:2] == shape:
                return plane
    factors = [shape[0] / plane.shape[0], shape[1] / plane.shape[1]]
    factors += [1.0] * (plane.ndim - 2)
    resized = ndimage.zoom(plane, factors, order=order, mode="nearest", grid_mode=True)
    return resized[: shape[0], : shape[1]]


def _output_shape(plane_shape: tuple[int, int], size: int | None) -> tuple[int, int]:
    height, width = plane_shape
    if size is None or max(height, width) <= size:
        return height, width
    ratio = size / max(height, width)
    return max(1, round(height * ratio)), max(1, round(width * ratio))


def _pick_channels(displays: Sequence[ChannelDisplay], channels: Any) -> list[ChannelDisplay]:
    if channels is None:
        return [display for display in displays if display.active]
    if isinstance(channels, int | np.integer) and not isinstance(channels, bool):
        channels = [channels]
    if not isinstance(channels, Sequence) or isinstance(channels, str):
        raise TypeError(f"channels: expected a list of channel indices, not {channels!r}")
    return [displays[_check_index(c, "channels", len(displays))] for c in channels]


def _resolve_label(image: Image, label: Any) -> LabelImage | None:
    if label is None or isinstance(label, LabelImage):
        return label
    if isinstance(label, str):
        return image.label(label)
    raise TypeError(f"label: expected a label name or a LabelImage, not {type(label).__name__}")


def _label_plane(
    label: LabelImage,
    image: Image,
    picks: Mapping[str, int],
    projection: Projection,
    shape: tuple[int, int],
) -> NDArray[Any]:
    """The label values over the rendered (y, x) area, resized to ``shape`` by nearest."""
    _require_yx(label)
    letters = label.axis_letters
    # The coarsest label level still at least as large as the output: the least to read
    # without losing detail that would show.
    level = 0
    for candidate in range(len(label.levels)):
        level_shape = label.levels[candidate].shape
        ly, lx = level_shape[letters.index("y")], level_shape[letters.index("x")]
        if ly >= shape[0] and lx >= shape[1]:
            level = candidate
    label_picks: dict[str, int] = {}
    for dim in letters:
        if dim in ("y", "x"):
            continue
        count = int(label.levels[level].shape[letters.index(dim)])
        if dim in ("t", "z") and dim in picks and dim in image.axis_letters:
            # Follow the image along t and z, proportionally when the label has fewer planes.
            image_count = int(image.levels[0].shape[image.axis_letters.index(dim)])
            label_picks[dim] = min(count - 1, picks[dim] * count // max(image_count, 1))
        else:
            label_picks[dim] = 0
    plane = _read_yx(label, level, label_picks, projection)
    return _resize(plane, shape, order=0)


def _overlay_labels(
    rgb: NDArray[np.float32],
    values: NDArray[Any],
    colors: Mapping[int, tuple[int, int, int, int]],
    opacity: float,
) -> None:
    """Blend label colours over ``rgb`` in place; value 0 is background."""
    unique, inverse = np.unique(values, return_inverse=True)
    inverse = inverse.reshape(values.shape)
    palette = label_palette(unique).astype(np.float32)
    for i, value in enumerate(unique.tolist()):
        if value in colors:
            palette[i] = colors[value]
    alpha = palette[:, 3] / 255.0 * opacity
    alpha[unique == 0] = 0.0
    pixel_alpha = alpha[inverse][..., None]
    rgb *= 1.0 - pixel_alpha
    rgb += palette[:, :3][inverse] * pixel_alpha


def render_plane(
    image: Image | GroupLike,
    *,
    level: int | None = None,
    t: int = 0,
    z: int | None = None,
    channels: Sequence[int] | int | None = None,
    projection: Projection = "plane",
    size: int | None = None,
    label: str | LabelImage | None = None,
    label_opacity: float = 0.5,
) -> NDArray[np.uint8]:
    """Render one (y, x) view of an image as RGB.

    Parameters
    ----------
    image : Image or str or zarr.Group
        An opened image, or what :func:`omezarr.reader.open_image` opens.
    level : int, optional
        The resolution level to read; by default chosen by :func:`choose_level`.
    t : int, default 0
        The time point.
    z : int, optional
        The z plane, in the chosen level's planes; by default the middle one. Not allowed
        with ``projection="mip"``.
    channels : list of int, optional
        The channels to blend; by default those ``omero`` marks active (all without omero).
    projection : {"plane", "mip"}, default "plane"
        One z plane, or the maximum-intensity projection over z.
    size : int, optional
        The largest side of the result, in pixels; the picture is scaled down to fit but
        never enlarged.
    label : str or LabelImage, optional
        A label image (by name among the image's labels) drawn over the picture in its
        ``image-label`` colours, or in hashed colours for values without one.
    label_opacity : float, default 0.5
        The labels' opacity, 0 (invisible) to 1.

    Returns
    -------
    numpy.ndarray
        ``(height, width, 3)`` uint8.

    Raises
    ------
    ValueError
        If an index is out of range, ``projection`` is unknown, ``z`` is given with
        ``"mip"``, or the image has no y and x axes.
    TypeError
        If an argument has the wrong type.

    Examples
    --------
    >>> image = open_image("image.ome.zarr")  # doctest: +SKIP
    >>> render_plane(image, channels=[0], z=3, label="nuclei").shape  # doctest: +SKIP
    (256, 256, 3)
    """
    if not isinstance(image, Image):
        image = open_image(image)
    _require_yx(image)
    if projection not in ("plane", "mip"):
        raise ValueError(f"projection: expected 'plane' or 'mip', not {projection!r}")
    if projection == "mip" and z is not None:
        raise ValueError("z: a z plane cannot be chosen with projection='mip'")
    if size is not None:
        size = _check_size(size)
    if not isinstance(label_opacity, int | float) or not 0.0 <= label_opacity <= 1.0:
        raise ValueError(f"label_opacity: expected a number from 0 to 1, not {label_opacity!r}")
    level = (
        choose_level(image, size)
        if level is None
        else _check_index(level, "level", len(image.levels))
    )
    image.check_decodable(level)
    shape = dict(zip(image.axis_letters, image.levels[level].shape, strict=True))
    picks: dict[str, int] = {}
    if "t" in shape:
        picks["t"] = _check_index(t, "t", int(shape["t"]))
    elif t != 0:
        raise ValueError(f"t: the image has no t axis, so t must be 0, not {t!r}")
    if "z" in shape and projection == "plane":
        picks["z"] = int(shape["z"]) // 2 if z is None else _check_index(z, "z", int(shape["z"]))
    elif z not in (None, 0):
        raise ValueError(f"z: the image has no z axis, so z must be None, not {z!r}")
    displays = _pick_channels(channel_displays(image), channels)
    label_image = _resolve_label(image, label)

    height, width = int(shape["y"]), int(shape["x"])
    out_shape = _output_shape((height, width), size)
    rgb = np.zeros((*out_shape, 3), dtype=np.float32)
    for display in displays:
        channel_picks = {**picks, "c": display.index}
        with decoding(f"{image.group.store_path}/{image.paths[level]}"):
            plane = _read_yx(image, level, channel_picks, projection).astype(np.float32)
        low, high = _window_of(plane, display)
        intensity = np.nan_to_num(np.clip((plane - low) / (high - low), 0.0, 1.0))
        intensity = _resize(intensity, out_shape, order=1)
        rgb += intensity[..., None] * np.asarray(display.color, dtype=np.float32)
    np.clip(rgb, 0.0, 255.0, out=rgb)
    if label_image is not None and label_opacity > 0:
        with decoding(label_image.group.store_path):
            values = _label_plane(label_image, image, picks, projection, out_shape)
        _overlay_labels(rgb, values, label_image.colors, float(label_opacity))
    return np.rint(rgb).astype(np.uint8)


def _check_rgb(rgb: Any) -> NDArray[np.uint8]:
    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(
            f"rgb: expected a (height, width, 3) uint8 array, not {array.shape} {array.dtype}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"rgb: the picture is empty ({array.shape})")
    return np.ascontiguousarray(array)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _encode_png_zlib(rgb: NDArray[np.uint8]) -> bytes:
    """A PNG of 8-bit RGB: every row with filter type 0, one zlib-compressed IDAT chunk."""
    height, width, _ = rgb.shape
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)
    rows[:, 1:] = rgb.reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + _png_chunk(b"IEND", b"")
    )


def encode_png(rgb: NDArray[np.uint8]) -> bytes:
    """PNG bytes of a ``(height, width, 3)`` uint8 picture (Pillow if installed, else zlib).

    Raises
    ------
    ValueError
        If ``rgb`` is not a non-empty (height, width, 3) uint8 array.

    Examples
    --------
    >>> encode_png(np.zeros((2, 3, 3), dtype=np.uint8))[:4]
    b'\\x89PNG'
    """
    rgb = _check_rgb(rgb)
    try:
        from PIL import Image as PillowImage
    except ImportError:
        return _encode_png_zlib(rgb)
    import io

    buffer = io.BytesIO()
    PillowImage.fromarray(rgb).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
