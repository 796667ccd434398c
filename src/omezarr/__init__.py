"""omezarr: fast, bounded-memory, crash-safe OME-Zarr (OME-NGFF) writing and reading.

The names below are imported when first used (PEP 562), so that ``import omezarr`` and the
command line start without loading zarr, dask or numba until they are needed.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .io.archive_open import open_ozx
    from .ngff.format import (
        CurrentFormat,
        FormatV01,
        FormatV02,
        FormatV03,
        FormatV04,
        FormatV05,
        FormatV06,
        format_from_version,
    )
    from .pyramid.methods import (
        Methods,
    )
    from .read import (
        open_image,
        open_ome_zarr,
        open_plate,
        open_well,
    )
    from .write import (
        add_metadata,
        check_format,
        check_group_fmt,
        get_metadata,
        upgrade,
        write_image,
        write_label_metadata,
        write_labels,
        write_multiscale,
        write_multiscale_labels,
        write_multiscales_metadata,
        write_plate_metadata,
        write_well_metadata,
    )

_HOMES = {
    "CurrentFormat": "omezarr.ngff.format",
    "FormatV01": "omezarr.ngff.format",
    "FormatV02": "omezarr.ngff.format",
    "FormatV03": "omezarr.ngff.format",
    "FormatV04": "omezarr.ngff.format",
    "FormatV05": "omezarr.ngff.format",
    "FormatV06": "omezarr.ngff.format",
    "format_from_version": "omezarr.ngff.format",
    "Methods": "omezarr.pyramid.methods",
    "open_ozx": "omezarr.io.archive_open",
    "open_image": "omezarr.read",
    "open_ome_zarr": "omezarr.read",
    "open_plate": "omezarr.read",
    "open_well": "omezarr.read",
    "add_metadata": "omezarr.write",
    "check_format": "omezarr.write",
    "check_group_fmt": "omezarr.write",
    "get_metadata": "omezarr.write",
    "write_image": "omezarr.write",
    "write_label_metadata": "omezarr.write",
    "write_labels": "omezarr.write",
    "upgrade": "omezarr.write",
    "write_multiscale": "omezarr.write",
    "write_multiscale_labels": "omezarr.write",
    "write_multiscales_metadata": "omezarr.write",
    "write_plate_metadata": "omezarr.write",
    "write_well_metadata": "omezarr.write",
}
"""Where each lazily imported public name lives."""

__all__ = [
    "CurrentFormat",
    "FormatV01",
    "FormatV02",
    "FormatV03",
    "FormatV04",
    "FormatV05",
    "FormatV06",
    "Methods",
    "__version__",
    "add_metadata",
    "check_format",
    "check_group_fmt",
    "format_from_version",
    "get_metadata",
    "open_image",
    "open_ome_zarr",
    "open_ozx",
    "open_plate",
    "open_well",
    "upgrade",
    "write_image",
    "write_label_metadata",
    "write_labels",
    "write_multiscale",
    "write_multiscale_labels",
    "write_multiscales_metadata",
    "write_plate_metadata",
    "write_well_metadata",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        # A submodule (``omezarr.writer``…), which importing the package used to bind.
        if name.startswith("_") or importlib.util.find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module 'omezarr' has no attribute {name!r}")
        return importlib.import_module(f"{__name__}.{name}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
