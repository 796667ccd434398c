"""The reference's ``ome_zarr.format`` import path: the NGFF versions.

Re-exports only; the code lives in :mod:`omezarr.ngff.format`.
"""

from __future__ import annotations

from .ngff.format import (
    LOGGER,
    CurrentFormat,
    Format,
    FormatV01,
    FormatV02,
    FormatV03,
    FormatV04,
    FormatV05,
    FormatV06,
    detect_format,
    format_from_version,
    format_implementations,
    metadata_version,
)

__all__ = [
    "LOGGER",
    "CurrentFormat",
    "Format",
    "FormatV01",
    "FormatV02",
    "FormatV03",
    "FormatV04",
    "FormatV05",
    "FormatV06",
    "detect_format",
    "format_from_version",
    "format_implementations",
    "metadata_version",
]
