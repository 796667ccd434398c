"""The reference's ``ome_zarr.writer`` import path: metadata writers and pixel writers.

Re-exports only; the code lives in :mod:`omezarr.write` (and the reference's private helpers
that its users import in :mod:`omezarr._compat` and, ``_retuple``, :mod:`omezarr.io.layout`). Arguments are validated, pixels go through
:mod:`omezarr.engine`, and the metadata that advertises an image is written last.
"""

from __future__ import annotations

from ._compat import Scaler, _extract_dims_from_axes, _get_valid_axes
from .io.layout import _retuple
from .ngff.format import CurrentFormat, Format, FormatV04
from .pyramid import Methods
from .types import AxesType, JSONDict
from .write import (
    ArrayLike,
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
from .write.metadata import LOGGER, SPATIAL_DIMS

__all__ = [
    "LOGGER",
    "SPATIAL_DIMS",
    "ArrayLike",
    "AxesType",
    "CurrentFormat",
    "Format",
    "FormatV04",
    "JSONDict",
    "Methods",
    "Scaler",
    "_extract_dims_from_axes",
    "_get_valid_axes",
    "_retuple",
    "add_metadata",
    "check_format",
    "check_group_fmt",
    "get_metadata",
    "write_image",
    "write_label_metadata",
    "write_labels",
    "write_multiscale",
    "write_multiscale_labels",
    "write_multiscales_metadata",
    "write_plate_metadata",
    "write_well_metadata",
]
