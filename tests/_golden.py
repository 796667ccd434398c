"""Fixed writer calls whose outputs are pinned byte for byte (tests/data/golden/manifest.json).

``python tests/_golden.py`` rewrites the manifest; do that only when an output is meant to change
and say why in the commit. The calls use no compressor, so the bytes depend on omezarr alone, not
on the compression libraries' versions.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import dask.array as da

from _arrays import cells
from omezarr.format import FormatV04, FormatV05
from omezarr.writer import (
    write_image,
    write_labels,
    write_multiscale,
    write_plate_metadata,
    write_well_metadata,
)

MANIFEST = Path(__file__).parent / "data" / "golden" / "manifest.json"
RAW = {"compressors": None}
RAW_V2 = {"compressor": None}


def _image_v05(path: Path) -> None:
    write_image(
        cells((2, 12, 70, 90)),
        str(path),
        axes="czyx",
        scale={"z": 0.5, "y": 0.2, "x": 0.2},
        axes_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"},
        storage_options={"chunks": (1, 4, 32, 32), **RAW},
        name="cells",
    )


def _nearest_dask_v04(path: Path) -> None:
    image = da.from_array(cells((65, 77), "uint8", seed=3), chunks=(20, 30))
    write_image(
        image,
        str(path),
        method="nearest",
        scale_factors=[2, 4],
        fmt=FormatV04(),
        storage_options={"chunks": (16, 16), **RAW_V2},
    )


def _local_mean_float(path: Path) -> None:
    write_image(
        cells((3, 40, 50), "float32", seed=5),
        str(path),
        axes="tyx",
        method="local_mean",
        scale_factors=[{"y": 2, "x": 2}, {"y": 4, "x": 4}],
        storage_options={"chunks": (1, 16, 16), "shards": (1, 32, 32), **RAW},
    )


def _multiscale_and_labels(path: Path) -> None:
    base = cells((40, 48), seed=11)
    write_multiscale([base, base[::2, ::2]], str(path), axes="yx", storage_options=RAW)
    labels = (base > 1500).astype("uint8")
    write_labels(labels, str(path), "cells", axes="yx", scale_factors=[2], storage_options=RAW)


def _plate_v05(path: Path) -> None:
    import zarr

    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    write_plate_metadata(
        root, ["A", "B"], ["1", "2"], ["A/1", "B/2"], name="plate", fmt=FormatV05()
    )
    for well in ("A/1", "B/2"):
        group = root.require_group(well)
        write_well_metadata(group, [{"path": "0"}], fmt=FormatV05())
        write_image(
            cells((20, 24), seed=len(well)),
            group.require_group("0"),
            axes="yx",
            scale_factors=[2],
            storage_options=RAW,
        )


CASES: dict[str, Callable[[Path], None]] = {
    "image_v05.ome.zarr": _image_v05,
    "nearest_dask_v04.ome.zarr": _nearest_dask_v04,
    "local_mean_float.ome.zarr": _local_mean_float,
    "multiscale_labels.ome.zarr": _multiscale_and_labels,
    "plate_v05.ome.zarr": _plate_v05,
}


def digest_tree(root: Path) -> dict[str, str]:
    """SHA-256 of every file below ``root``, by its POSIX path relative to ``root``."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def write_case(name: str, into: Path) -> dict[str, str]:
    """Write case ``name`` below ``into`` and return its digests."""
    CASES[name](into / name)
    return digest_tree(into / name)


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        manifest = {name: write_case(name, Path(tmp)) for name in CASES}
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"wrote {MANIFEST} ({sum(map(len, manifest.values()))} files)", file=sys.stderr)


if __name__ == "__main__":
    main()
