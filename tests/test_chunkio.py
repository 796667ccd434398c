"""Direct chunk writing: what it writes reads back through zarr exactly; other layouts use zarr."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numcodecs
import numcodecs.zarr3
import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, ZstdCodec

from omezarr.chunkio import direct_writer

V3_CODECS: dict[str, Any] = {
    "blosc-zstd-shuffle": [BloscCodec(cname="zstd", clevel=1, shuffle="shuffle")],
    "blosc-lz4-bitshuffle": [BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")],
    "zstd-checksum": [ZstdCodec(level=3, checksum=True)],
    "gzip": [GzipCodec(level=1)],
    "two": [ZstdCodec(level=1), GzipCodec(level=1)],
    "none": None,
}
V2_CODECS: dict[str, Any] = {
    "blosc": numcodecs.Blosc("zstd", 1, numcodecs.Blosc.SHUFFLE),
    "zstd": numcodecs.Zstd(level=1),
    "none": None,
}
DTYPES = ["bool", "uint8", "int16", "uint16", "int32", "uint64", "float16", "float32", "float64"]


def _data(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(3)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind == "f":
        return rng.normal(0, 1000, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def _write_all(array: Any, data: np.ndarray) -> None:
    writer = direct_writer(array)
    assert writer is not None
    writer.write((0,) * data.ndim, data)


@pytest.mark.parametrize("codec", list(V3_CODECS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_v3_chunks_read_back_through_zarr(tmp_path: Path, codec: str, dtype: str) -> None:
    data = _data(dtype, (5, 37, 30))  # edge chunks on every axis
    group = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=3)
    array = group.create_array(
        "s0", shape=data.shape, chunks=(2, 16, 16), dtype=dtype, compressors=V3_CODECS[codec]
    )
    _write_all(array, data)
    assert np.array_equal(zarr.open_array(tmp_path / "a.zarr" / "s0", mode="r")[...], data)


@pytest.mark.parametrize("codec", list(V2_CODECS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_v2_chunks_read_back_through_zarr(tmp_path: Path, codec: str, dtype: str) -> None:
    data = _data(dtype, (3, 21, 10))
    group = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=2)
    array = group.create_array(
        "s0",
        shape=data.shape,
        chunks=(2, 8, 8),
        dtype=dtype,
        compressors=V2_CODECS[codec],
        chunk_key_encoding={"name": "v2", "separator": "/"},
    )
    _write_all(array, data)
    assert (tmp_path / "a.zarr" / "s0" / "1" / "2" / "1").is_file()
    assert np.array_equal(zarr.open_array(tmp_path / "a.zarr" / "s0", mode="r")[...], data)


def test_a_region_of_several_chunks_lands_where_it_belongs(tmp_path: Path) -> None:
    data = _data("uint16", (40, 40))
    group = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=3)
    array = group.create_array(
        "s0", shape=data.shape, chunks=(16, 16), dtype="uint16", fill_value=7
    )
    writer = direct_writer(array)
    assert writer is not None
    writer.write((16, 0), data[16:40, 0:32])
    stored = zarr.open_array(tmp_path / "a.zarr" / "s0", mode="r")[...]
    assert np.array_equal(stored[16:40, 0:32], data[16:40, 0:32])
    assert (stored[:16] == 7).all()
    assert not list((tmp_path / "a.zarr").rglob("*.partial"))


@pytest.mark.parametrize(
    "make",
    [
        lambda g: g.create_array("s", shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="u2"),
        lambda g: g.create_array(
            "s", shape=(8, 8), chunks=(4, 4), dtype="u2", serializer=BytesCodec(endian="big")
        ),
        lambda g: g.create_array(
            "s",
            shape=(8, 8),
            chunks=(4, 4),
            dtype="u2",
            filters=[numcodecs.zarr3.Delta(dtype="u2")],
        ),
    ],
    ids=["sharded", "big-endian", "filters"],
)
def test_other_layouts_are_left_to_zarr(tmp_path: Path, make: Any) -> None:
    group = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=3)
    assert direct_writer(make(group)) is None


def test_memory_stores_are_left_to_zarr() -> None:
    group = zarr.open_group(zarr.storage.MemoryStore(), mode="w", zarr_format=3)
    assert direct_writer(group.create_array("s", shape=(4,), chunks=(2,), dtype="u1")) is None
