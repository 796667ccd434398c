"""Direct chunk writing: what it writes reads back through zarr exactly; other layouts use zarr."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numcodecs
import numcodecs.zarr3
import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, ShardingCodec, ZstdCodec

from omezarr.io.chunkio import direct_writer

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
        lambda g: g.create_array(
            "s",
            shape=(8, 8),
            chunks=(2, 2),
            shards={"shape": (4, 4), "index_location": "start"},
            dtype="u2",
        ),
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
    ids=["shard-index-at-start", "big-endian", "filters"],
)
def test_other_layouts_are_left_to_zarr(tmp_path: Path, make: Any) -> None:
    group = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=3)
    assert direct_writer(make(group)) is None


@pytest.mark.parametrize("codec", ["blosc-zstd-shuffle", "zstd-checksum", "none"])
@pytest.mark.parametrize("dtype", ["bool", "uint16", "float64"])
def test_v3_shards_read_back_through_zarr_with_zarrs_layout(
    tmp_path: Path, codec: str, dtype: str
) -> None:
    """Shards (inner chunks + index + CRC32C) read back exactly through zarr, edge shards
    included; an inner chunk wholly beyond the array's end is not stored (index entry all
    ones), as zarr itself writes it; a partial inner chunk is padded with the fill value."""
    data = _data(dtype, (3, 37, 30))
    group = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=3)
    kwargs: dict[str, Any] = {
        "shape": data.shape,
        "chunks": (1, 8, 8),
        "shards": (2, 16, 32),
        "dtype": dtype,
        "compressors": V3_CODECS[codec],
    }
    ours = group.create_array("ours", **kwargs)
    writer = direct_writer(ours)
    assert writer is not None and writer.shards == (2, 16, 32)
    writer.write((0, 0, 0), data)
    assert np.array_equal(zarr.open_array(tmp_path / "a.zarr" / "ours", mode="r")[...], data)
    # The same shard written by zarr has the same index of stored chunks and decodes alike.
    theirs = group.create_array("theirs", **kwargs, config={"write_empty_chunks": True})
    theirs[...] = data
    for key in ("c/1/2/0", "c/0/0/0"):  # an edge shard and a whole one
        mine = (tmp_path / "a.zarr" / "ours" / key).read_bytes()
        zarrs = (tmp_path / "a.zarr" / "theirs" / key).read_bytes()
        per_shard = 2 * 2 * 4
        index_mine = np.frombuffer(mine[-4 - 16 * per_shard : -4], dtype="<u8").reshape(-1, 2)
        index_zarr = np.frombuffer(zarrs[-4 - 16 * per_shard : -4], dtype="<u8").reshape(-1, 2)
        assert np.array_equal(index_mine[:, 0] == 2**64 - 1, index_zarr[:, 0] == 2**64 - 1)
        assert sorted(index_mine[:, 1].tolist()) == sorted(index_zarr[:, 1].tolist())
    assert isinstance(ours.metadata.codecs[0], ShardingCodec)


def test_a_sharded_pyramid_is_written_directly_and_reads_back(tmp_path: Path) -> None:
    from omezarr import write_image

    data = _data("uint16", (1, 2, 3, 300, 260))
    path = tmp_path / "img.ome.zarr"
    write_image(
        data,
        str(path),
        axes="tczyx",
        scale_factors=(2, 4),
        storage_options={"chunks": (1, 1, 1, 64, 64), "shards": (1, 1, 1, 128, 128)},
    )
    level0 = zarr.open_array(path / "s0", mode="r")
    assert level0.shards == (1, 1, 1, 128, 128)
    assert direct_writer(zarr.open_array(path / "s0", mode="r+")) is not None
    assert np.array_equal(level0[...], data)


def test_memory_stores_are_left_to_zarr() -> None:
    group = zarr.open_group(zarr.storage.MemoryStore(), mode="w", zarr_format=3)
    assert direct_writer(group.create_array("s", shape=(4,), chunks=(2,), dtype="u1")) is None
