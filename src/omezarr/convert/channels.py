"""The omero metadata of a converted image: its channels' names and colours (the file's, or
defaults) and windows computed from the written data, so that every viewer opens it the same
way and with sensible contrast."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import zarr

from ..io.archive_stream import StreamedEntryError
from ..io.storage import open_group, read_ngff_attrs, write_ngff_attrs
from ..read import open_image
from ..tools.describe import coarsest_statistics
from ..types import JSONDict
from .source import InputImage

__all__ = ["omero_of", "set_windows"]


_DEFAULT_COLORS = ("FF0000", "00FF00", "0000FF", "FFFFFF", "00FFFF", "FF00FF", "FFFF00")
"""Colours of channels the file gives none for (ImageJ's composite order); one channel: white."""


def omero_of(image: InputImage) -> JSONDict:
    """The omero metadata of ``image``: its channels' names and colours, or defaults, so that
    every viewer opens it the same way (windows are set from the data once it is written)."""
    count = image.data.shape[image.axes.index("c")] if "c" in image.axes else 1
    names = image.channel_names or [f"Channel {c}" for c in range(count)]
    colors = list(image.channel_colors or [])
    defaults = ("FFFFFF",) if count == 1 else _DEFAULT_COLORS
    channels: list[JSONDict] = [
        {
            "label": name,
            "active": True,
            "color": colors[i] if i < len(colors) and colors[i] else defaults[i % len(defaults)],
        }
        for i, name in enumerate(names)
    ]
    return {"channels": channels}


_WINDOW_PERCENTILES = (0.1, 99.9)
"""The window a viewer opens with: these percentiles of the pixels (robust to hot pixels)."""
_WINDOW_SAMPLE = 1 << 22
"""Pixels per channel sampled (evenly strided) from the coarsest level for the percentiles."""


def set_windows(path: Path | str | zarr.Group) -> bool:
    """Give every omero channel a window: ``min``/``max`` the coarsest level's range,
    ``start``/``end`` its 0.1 and 99.9 percentiles (a strided sample: cheap and bounded,
    never a second pass over level 0). False if the level could not be read back (an archive
    streamed to object storage): the windows are the type's range then."""
    group = open_group(path, mode="a")
    attrs = read_ngff_attrs(group)
    omero = attrs.get("omero")
    if not isinstance(omero, dict) or not isinstance(omero.get("channels"), list):
        return True
    image = open_image(group)
    try:
        statistics = coarsest_statistics(image)
        bounds = _percentiles(image)
    except StreamedEntryError:  # uploaded already, and too large to have been kept
        statistics, bounds = [], []
    for index, channel in enumerate(omero["channels"]):
        low_value, high_value = math.nan, math.nan
        if index < len(statistics):
            low_value, high_value = float(statistics[index][0]), float(statistics[index][1])
        if not (math.isfinite(low_value) and math.isfinite(high_value)):
            # No finite pixel, or none read: the type's range (NGFF 0.4 requires a window).
            low_value, high_value = _type_range(image.levels[-1].dtype)
        bound = bounds[index] if index < len(bounds) else None
        start, end = bound if bound is not None else (low_value, high_value)
        channel["window"] = {"min": low_value, "max": high_value, "start": start, "end": end}
    write_ngff_attrs(group, {"omero": omero})
    return bool(statistics)


def _percentiles(image: Any) -> list[tuple[float, float] | None]:
    """The window percentiles of each channel of ``image``'s coarsest level (None: no finite
    pixel), from an evenly strided sample of at most :data:`_WINDOW_SAMPLE` pixels."""
    import numpy as np

    level = image.levels[-1]
    axis = image.dims.index("c") if "c" in image.dims else None
    channels = (
        [level]
        if axis is None
        else [level[(slice(None),) * axis + (c,)] for c in range(level.shape[axis])]
    )
    result: list[tuple[float, float] | None] = []
    for channel in channels:
        total = math.prod(channel.shape)
        step = 1
        if total > _WINDOW_SAMPLE:
            step = math.ceil((total / _WINDOW_SAMPLE) ** (1 / max(channel.ndim, 1)))
        sample = channel[tuple(slice(None, None, step) for _ in channel.shape)]
        values = np.asarray(sample.compute(scheduler="threads"), dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            result.append(None)
            continue
        low, high = np.percentile(values, _WINDOW_PERCENTILES)
        result.append((float(low), float(high)))
    return result


def _type_range(dtype: Any) -> tuple[float, float]:
    import numpy as np

    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return 0.0, 1.0
