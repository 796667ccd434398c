"""omezarr: fast, bounded-memory, crash-safe OME-Zarr (OME-NGFF) writing and reading."""

from __future__ import annotations

from .ngff.format import (
    CurrentFormat,
    FormatV01,
    FormatV02,
    FormatV03,
    FormatV04,
    FormatV05,
    format_from_version,
)
from .pyramid.methods import Methods
from .reader import open_image, open_ome_zarr, open_plate, open_well
from .writer import (
    add_metadata,
    check_format,
    check_group_fmt,
    get_metadata,
    write_image,
    write_label_metadata,
    write_labels,
    write_multiscale,
    write_multiscale_labels,
    write_multiscales_metadata,
    write_plate_metadata,
    write_well_metadata,
)

__version__ = "0.1.0"

__all__ = [
    "CurrentFormat",
    "FormatV01",
    "FormatV02",
    "FormatV03",
    "FormatV04",
    "FormatV05",
    "Methods",
    "__version__",
    "add_metadata",
    "check_format",
    "check_group_fmt",
    "format_from_version",
    "get_metadata",
    "open_image",
    "open_ome_zarr",
    "open_plate",
    "open_well",
    "write_image",
    "write_label_metadata",
    "write_labels",
    "write_multiscale",
    "write_multiscale_labels",
    "write_multiscales_metadata",
    "write_plate_metadata",
    "write_well_metadata",
]
