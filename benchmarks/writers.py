"""The pyramid writers under test, each behind one function ``write(image, path, chunks)``.

Every writer produces a 5-level OME-NGFF 0.5 (zarr v3) pyramid, downsampled by 2, 4, 8 and 16
in y and x. ``chunks`` is the chunk shape asked of every writer that lets one set it, or None
for each writer's own default. Writers run in a fresh subprocess each (see ``run.py``); this
module imports no writer library at import time, so a missing one only disables its cases.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import dask.array as da
import numpy as np
import numpy.typing as npt

__all__ = [
    "AXES",
    "COMPETITORS",
    "EQUAL_CODEC",
    "SCALE_FACTORS",
    "WRITERS",
    "WriterCase",
    "WriterUnavailable",
    "describe_codecs",
    "level_shapes",
    "write",
]

Image = npt.NDArray[np.uint16] | da.Array
Chunks = tuple[int, ...] | None

AXES: Final = "tczyx"
SCALE_FACTORS: Final = (2, 4, 8, 16)
COMPETITORS: Final = ("ome-zarr", "ngff-zarr")
EQUAL_CODEC: Final = "zstd0"
"""zarr-python's default zarr v3 codec chain (bytes + ZstdCodec(level=0, checksum=False)).

ome-zarr 0.18 and ngff-zarr both write it when given no codec, so omezarr's "equal codec"
cases use it, and so does the floor.
"""


class WriterUnavailable(RuntimeError):
    """The library behind a writer case cannot be imported (yet)."""


@dataclass(frozen=True)
class WriterCase:
    """One writer configuration that the benchmark times.

    Parameters
    ----------
    library : str
        ``"ome-zarr"``, ``"ngff-zarr"``, ``"floor"`` or ``"omezarr"``.
    method : str
        Downsampling method, in the library's own words.
    codec : str
        ``"default"`` for the library's own default codec, or ``EQUAL_CODEC``.
    """

    library: str
    method: str
    codec: str = "default"

    @property
    def name(self) -> str:
        """Unique name, e.g. ``omezarr/nearest@zstd0``, used by ``--only`` and in reports."""
        suffix = "" if self.codec == "default" else f"@{self.codec}"
        return f"{self.library}/{self.method}{suffix}"

    @property
    def is_competitor(self) -> bool:
        """True for the established libraries omezarr is compared against."""
        return self.library in COMPETITORS


OMEZARR_METHODS: Final = ("resize", "nearest", "local_mean")

WRITERS: Final[tuple[WriterCase, ...]] = (
    WriterCase("ome-zarr", "resize"),  # write_image's default method
    WriterCase("ome-zarr", "nearest"),
    WriterCase("ngff-zarr", "itkwasm_gaussian"),  # to_multiscales' default method
    WriterCase("ngff-zarr", "itkwasm_bin_shrink"),
    WriterCase("ngff-zarr", "dask_bin_shrink"),
    WriterCase("floor", "block_mean", EQUAL_CODEC),
    *(WriterCase("omezarr", method) for method in OMEZARR_METHODS),
    *(WriterCase("omezarr", method, EQUAL_CODEC) for method in OMEZARR_METHODS),
)


def level_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes of the pyramid levels of a ``tczyx`` image of ``shape``."""
    return [(*shape[:3], shape[3] // f, shape[4] // f) for f in (1, *SCALE_FACTORS)]


# --------------------------------------------------------------------------- competitors


def _write_ome_zarr(image: Image, path: Path, case: WriterCase, chunks: Chunks) -> None:
    try:
        from ome_zarr.format import FormatV05
        from ome_zarr.scale import Methods
        from ome_zarr.writer import write_image
    except ImportError as error:
        raise WriterUnavailable(f"ome-zarr: {error}") from error
    write_image(
        image,
        str(path),
        scale_factors=SCALE_FACTORS,
        method=Methods(case.method),
        fmt=FormatV05(),
        axes=AXES,
        storage_options={"chunks": chunks} if chunks else None,
    )


def _write_ngff_zarr(image: Image, path: Path, case: WriterCase, chunks: Chunks) -> None:
    try:
        import ngff_zarr
    except ImportError as error:
        raise WriterUnavailable(f"ngff-zarr: {error}") from error
    ngff_image = ngff_zarr.to_ngff_image(image, dims=[*AXES])
    # ngff-zarr applies integer scale factors to z as well; dicts keep z at full resolution.
    factors = [{"z": 1, "y": f, "x": f} for f in SCALE_FACTORS]
    multiscales = ngff_zarr.to_multiscales(
        ngff_image, scale_factors=factors, method=ngff_zarr.Methods(case.method), chunks=chunks
    )
    ngff_zarr.to_ngff_zarr(str(path), multiscales, version="0.5")


# --------------------------------------------------------------------------- floor


def _mean_2x2(plane: npt.NDArray[np.uint16]) -> npt.NDArray[np.uint16]:
    """Rounded means of 2×2 blocks (odd trailing rows and columns are dropped)."""
    height, width = plane.shape[0] // 2 * 2, plane.shape[1] // 2 * 2
    even, odd = plane[0:height:2, :width], plane[1:height:2, :width]
    total = even[:, 0::2].astype(np.uint32)
    total += even[:, 1::2]
    total += odd[:, 0::2]
    total += odd[:, 1::2]
    total += 2
    total >>= 2
    return total.astype(np.uint16)


def _ngff_metadata(shape: tuple[int, ...]) -> dict[str, Any]:
    """Minimal OME-NGFF 0.5 ``ome`` attribute for a pyramid of ``shape``."""
    kinds = {"t": "time", "c": "channel"}
    return {
        "version": "0.5",
        "multiscales": [
            {
                "axes": [{"name": a, "type": kinds.get(a, "space")} for a in AXES],
                "datasets": [
                    {
                        "path": f"s{level}",
                        "coordinateTransformations": [
                            {"type": "scale", "scale": [1.0, 1.0, 1.0, float(f), float(f)]}
                        ],
                    }
                    for level, f in enumerate((1, *SCALE_FACTORS))
                ],
            }
        ],
    }


def _tiles(shape: tuple[int, int], tile: tuple[int, int]) -> Iterator[tuple[int, int]]:
    """Chunk-grid indices of a 2-D plane of ``shape`` cut in tiles of ``tile``."""
    for row in range(-(-shape[0] // tile[0])):
        for col in range(-(-shape[1] // tile[1])):
            yield row, col


def _write_floor(image: Image, path: Path, case: WriterCase, chunks: Chunks) -> None:
    """Lower bound: encode and store every chunk once, with 2×2 block means between levels.

    Works plane by plane (t, c, z) on all cores: level 0 is cut into chunks, each encoded with
    the equal codec and written as a file; levels 1–4 are chained 2×2 block means of the plane.
    """
    import numcodecs
    import zarr
    from zarr.codecs import ZstdCodec

    chunks = chunks or (1, 1, 1, 1024, 1024)
    if chunks[:3] != (1, 1, 1):
        raise ValueError(
            f"chunks: the floor writes one plane per chunk, (1, 1, 1, y, x); got {chunks}"
        )
    shapes = level_shapes(image.shape)
    tiles = [(min(chunks[3], s[3]), min(chunks[4], s[4])) for s in shapes]
    group = zarr.open_group(path, mode="w", zarr_format=3)
    group.attrs["ome"] = _ngff_metadata(image.shape)
    for level, (shape, tile) in enumerate(zip(shapes, tiles, strict=True)):
        group.create_array(
            f"s{level}",
            shape=shape,
            chunks=(1, 1, 1, *tile),
            dtype=np.uint16,
            compressors=ZstdCodec(level=0, checksum=False),
            fill_value=0,
            dimension_names=list(AXES),
        )
    codec = numcodecs.Zstd(level=0, checksum=False)

    def write_plane(index: tuple[int, int, int]) -> None:
        plane = np.asarray(
            image[index].compute(scheduler="synchronous")
            if isinstance(image, da.Array)
            else image[index]
        )
        for level, tile in enumerate(tiles):
            if level:
                plane = _mean_2x2(plane)
            prefix = path / f"s{level}" / "c" / "/".join(map(str, index))
            for row, col in _tiles(plane.shape, tile):
                chunk = plane[
                    row * tile[0] : (row + 1) * tile[0], col * tile[1] : (col + 1) * tile[1]
                ]
                if chunk.shape != tile:  # zarr stores edge chunks padded to the full chunk shape
                    chunk = np.pad(
                        chunk, [(0, t - s) for t, s in zip(tile, chunk.shape, strict=True)]
                    )
                if col == 0:
                    (prefix / str(row)).mkdir(parents=True, exist_ok=True)
                (prefix / str(row) / str(col)).write_bytes(
                    codec.encode(np.ascontiguousarray(chunk))
                )

    planes = list(np.ndindex(*image.shape[:3]))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for _ in pool.map(write_plane, planes):
            pass


# --------------------------------------------------------------------------- omezarr


def _omezarr_attr(module: str, name: str) -> Any:
    """``omezarr.<module>.<name>``; raises ImportError or AttributeError when not there yet."""
    return getattr(importlib.import_module(f"omezarr.{module}"), name)


def _write_omezarr(image: Image, path: Path, case: WriterCase, chunks: Chunks) -> None:
    # Looked up by name: the writer is being written while this harness already runs.
    try:
        omezarr = importlib.import_module("omezarr")
        write_image = getattr(omezarr, "write_image", None) or _omezarr_attr(
            "writer", "write_image"
        )
        format_v05 = _omezarr_attr("format", "FormatV05")
    except (ImportError, AttributeError) as error:
        raise WriterUnavailable(f"omezarr.write_image: {error}") from error
    try:
        method: object = _omezarr_attr("scale", "Methods")(case.method)
    except (ImportError, AttributeError):
        method = case.method  # write_image also takes the method's name
    storage_options: dict[str, Any] = {}
    if chunks:
        storage_options["chunks"] = chunks
    if case.codec == EQUAL_CODEC:
        from zarr.codecs import ZstdCodec

        storage_options["compressors"] = [ZstdCodec(level=0, checksum=False)]
    write_image(
        image,
        str(path),
        scale_factors=SCALE_FACTORS,
        method=method,
        fmt=format_v05(),
        axes=AXES,
        storage_options=storage_options or None,
    )


_IMPLEMENTATIONS: Final[dict[str, Callable[[Image, Path, WriterCase, Chunks], None]]] = {
    "ome-zarr": _write_ome_zarr,
    "ngff-zarr": _write_ngff_zarr,
    "floor": _write_floor,
    "omezarr": _write_omezarr,
}


def write(case: WriterCase, image: Image, path: Path, chunks: Chunks) -> None:
    """Write ``image`` as a 5-level OME-NGFF 0.5 pyramid at ``path`` with writer ``case``.

    Parameters
    ----------
    case : WriterCase
        Which library, method and codec.
    image : numpy.ndarray or dask.array.Array
        ``uint16`` image, axes ``tczyx``.
    path : pathlib.Path
        Output directory (created; must not exist).
    chunks : tuple of int or None
        Chunk shape to ask for, or None for the writer's default.

    Raises
    ------
    WriterUnavailable
        If the writer's library cannot be imported.
    """
    _IMPLEMENTATIONS[case.library](image, path, case, chunks)


def describe_codecs(codecs: list[dict[str, Any]]) -> str:
    """Short text for a zarr v3 codec chain, e.g. ``zstd(0)`` or ``blosc(zstd,5,shuffle)``."""
    parts = []
    for codec in codecs:
        name, config = codec.get("name"), codec.get("configuration", {})
        if name == "bytes":
            continue
        if name == "zstd":
            parts.append(f"zstd({config.get('level')}{',crc' if config.get('checksum') else ''})")
        elif name == "blosc":
            parts.append(
                f"blosc({config.get('cname')},{config.get('clevel')},{config.get('shuffle')})"
            )
        elif name == "sharding_indexed":
            parts.append(f"shard[{describe_codecs(config.get('codecs', []))}]")
        else:
            parts.append(json.dumps(codec, separators=(",", ":")))
    return "+".join(parts) or "raw"
