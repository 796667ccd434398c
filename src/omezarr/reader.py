"""The reference's ``ome_zarr.reader`` import path: lazy reading of images, labels, plates, wells.

Re-exports only; the code lives in :mod:`omezarr.read`.
"""

from __future__ import annotations

from .read import (
    Bioformats2Raw,
    Image,
    LabelImage,
    Labels,
    Plate,
    PlateWell,
    Well,
    WellImage,
    open_bioformats2raw,
    open_image,
    open_label,
    open_labels,
    open_ome_zarr,
    open_plate,
    open_well,
)
from .read.nodes import LOGGER

__all__ = [
    "LOGGER",
    "Bioformats2Raw",
    "Image",
    "LabelImage",
    "Labels",
    "Plate",
    "PlateWell",
    "Well",
    "WellImage",
    "open_bioformats2raw",
    "open_image",
    "open_label",
    "open_labels",
    "open_ome_zarr",
    "open_plate",
    "open_well",
]
