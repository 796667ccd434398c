"""Writing several images of one file as a bioformats2raw collection (layout version 3).

The layout: the root group says ``"bioformats2raw.layout": 3``, each image series is an
OME-Zarr image in ``0/``, ``1/``, …, and the ``OME/`` group lists them (``series``) beside the
file's OME-XML in ``OME/METADATA.ome.xml``, as bioformats2raw writes them; readers that
understand the layout (omezarr, ome-zarr-py, napari's plugin, OMERO) open every series.
"""

from __future__ import annotations

import zarr

from ..io.storage import write_ngff_attrs
from ..io.zarr_internals import write_key
from ..ngff.format import Format

__all__ = ["BF2RAW_LAYOUT", "write_collection_end", "write_collection_start"]

BF2RAW_LAYOUT = 3


def _versioned(fmt: Format) -> dict[str, str]:
    """Zarr v3 attributes (under ``ome``) carry the version; zarr v2 ones do not."""
    return {"version": fmt.version} if fmt.zarr_format == 3 else {}


def write_collection_start(root: zarr.Group, fmt: Format) -> None:
    """Mark ``root`` as a bioformats2raw collection (before its series are written)."""
    write_ngff_attrs(root, {**_versioned(fmt), "bioformats2raw.layout": BF2RAW_LAYOUT})


def write_collection_end(root: zarr.Group, fmt: Format, count: int, ome_xml: str | None) -> None:
    """List the ``count`` series in ``OME/`` and keep the file's OME-XML there, last: a
    reader finds the list only once every series it names is written."""
    ome = root.require_group("OME")
    write_ngff_attrs(ome, {**_versioned(fmt), "series": [str(i) for i in range(count)]})
    if ome_xml is not None:
        prefix = f"{root.path}/" if root.path else ""
        write_key(root.store, f"{prefix}OME/METADATA.ome.xml", ome_xml.encode("utf-8"))
