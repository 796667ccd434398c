"""The demo: a synthetic fluorescence image with its segmentation, written, validated, described."""

from __future__ import annotations

import os
import time
from typing import Any

from ..engine.memory import memory_budget_from
from ..ngff.format import CurrentFormat, Format, format_from_version
from ..pyramid.methods import Methods
from ..tools.describe import describe
from ..types import JSONDict
from ..write import write_image, write_labels
from .channels import set_windows
from .orchestrate import ConversionResult, ProgressCallback, _provenance
from .staging import check_archive_format, local_output

__all__ = [
    "write_demo",
]


def write_demo(
    output: str | os.PathLike[str],
    *,
    fmt: Format | str | None = None,
    overwrite: bool = False,
    shape: tuple[int, ...] = (2, 32, 256, 256),
    progress: ProgressCallback | None = None,
) -> ConversionResult:
    """Write the synthetic sample (:func:`omezarr.tools.sample.sample_image`) with its nuclei labels.

    The image is ``czyx`` with pixel sizes z = 0.5, y = x = 0.2 micrometer, channel names and
    colours in ``omero``, a three-level pyramid, and the label image ``labels/nuclei``.

    Examples
    --------
    >>> write_demo("demo.ome.zarr").info["levels"][0]["shape"]  # doctest: +SKIP
    [2, 32, 256, 256]
    """
    from ..tools.sample import sample_image

    resolved_fmt = format_from_version(fmt) if isinstance(fmt, str) else fmt or CurrentFormat()
    check_archive_format(output, resolved_fmt)
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
    with local_output(output, overwrite=overwrite) as (staging, _):
        write_image(
            pixels,
            staging,
            axes="czyx",
            name="demo",
            omero=omero,
            metadata=_provenance("synthetic cells made by omezarr.tools.sample", Methods.RESIZE),
            progress=None if progress is None else (lambda p: progress("image", p)),
            **common,
        )
        set_windows(staging)
        write_labels(
            labels,
            staging,
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
