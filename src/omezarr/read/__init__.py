"""Opening OME-Zarr images, labels, plates and wells lazily, with their metadata.

Every OME-NGFF version from 0.1 to 0.5 is read: 0.5 is stored as zarr v3 with the NGFF
attributes under ``"ome"``; 0.1 to 0.4 as zarr v2 with the attributes at the top level.
Pixels are never loaded here: each resolution level becomes a :class:`dask.array.Array`
whose chunks follow the zarr chunks (the shards, for sharded arrays), so only the blocks
that a computation touches are read.

Metadata that cannot be understood raises :class:`ValueError` naming the store location and
the offending key, never a ``KeyError`` from deep inside.

Modules: ``nodes`` (finding groups and versions), ``images`` (images and labels),
``collections`` (plates, wells, bioformats2raw, and :func:`open_ome_zarr`); lenient parsing of
the documents is in :mod:`omezarr.ngff.parse`.

Examples
--------
>>> image = open_image("image.ome.zarr")  # doctest: +SKIP
>>> image.dims, image.levels[0].shape  # doctest: +SKIP
(('c', 'y', 'x'), (2, 512, 512))
>>> image.levels[1].mean().compute()  # doctest: +SKIP
"""

from __future__ import annotations

from .collections import (
    Bioformats2Raw,
    Plate,
    PlateWell,
    Scene,
    Well,
    WellImage,
    open_bioformats2raw,
    open_ome_zarr,
    open_plate,
    open_scene,
    open_well,
)
from .images import Image, LabelImage, Labels, open_image, open_label, open_labels

__all__ = [
    "Bioformats2Raw",
    "Image",
    "LabelImage",
    "Labels",
    "Plate",
    "PlateWell",
    "Scene",
    "Well",
    "WellImage",
    "open_bioformats2raw",
    "open_image",
    "open_label",
    "open_labels",
    "open_ome_zarr",
    "open_plate",
    "open_scene",
    "open_well",
]
