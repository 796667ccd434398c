"""Writing OME-Zarr: the metadata writers and the pixel writers (request → plan → run → metadata).

Modules: ``metadata`` (multiscales, plate, well and label documents), ``request`` (the pixel
writers' arguments checked into a plan), ``levels`` (level arrays, clearing and resuming),
``execute`` (running the plan on threads, dask or a cluster, then the metadata), ``pixels``
(``write_image`` and its siblings), ``scene`` (0.6 scenes), ``upgrade`` (a whole hierarchy to a newer version). This is the only package that joins the NGFF model
(:mod:`omezarr.ngff`) with the engine and the stores.
"""

from __future__ import annotations

from .metadata import (
    add_metadata,
    check_format,
    check_group_fmt,
    get_metadata,
    write_label_metadata,
    write_multiscales_metadata,
    write_plate_metadata,
    write_well_metadata,
)
from .pixels import write_image, write_labels, write_multiscale, write_multiscale_labels
from .request import ArrayLike
from .scene import write_scene_metadata
from .upgrade import UpgradeReport, upgrade

__all__ = [
    "ArrayLike",
    "UpgradeReport",
    "add_metadata",
    "check_format",
    "check_group_fmt",
    "get_metadata",
    "upgrade",
    "write_image",
    "write_label_metadata",
    "write_labels",
    "write_multiscale",
    "write_multiscale_labels",
    "write_multiscales_metadata",
    "write_plate_metadata",
    "write_scene_metadata",
    "write_well_metadata",
]
