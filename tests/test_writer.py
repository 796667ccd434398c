"""The pixel writers: write_image, write_multiscale, write_labels and write_multiscale_labels.

Every level is checked against :func:`omezarr.scale.downsample_pyramid` of level 0 (bit-exact), and the
metadata against shapes computed here independently. Metadata and arrays are read from the
files on disk, not through omezarr's storage layer.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs
from dask.delayed import Delayed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _arrays import seeded_image
from omezarr._compat import Scaler
from omezarr.engine.targets import Progress
from omezarr.format import Format, FormatV01, FormatV02, FormatV03, FormatV04, FormatV05
from omezarr.pyramid.methods import Methods
from omezarr.pyramid.steps import downsample_pyramid
from omezarr.reader import open_image
from omezarr.writer import (
    write_image,
    write_labels,
    write_multiscale,
    write_multiscale_labels,
    write_multiscales_metadata,
)

FORMATS = [pytest.param(FormatV04(), id="0.4"), pytest.param(FormatV05(), id="0.5")]
METHODS = [pytest.param(m, id=m.value) for m in Methods]
PLANE = (37, 45)  # odd sizes: levels do not divide evenly

AXES_CASES = [
    pytest.param("yx", PLANE, id="yx"),
    pytest.param("zyx", (5, *PLANE), id="zyx"),
    pytest.param("czyx", (2, 3, *PLANE), id="czyx"),
    pytest.param("tczyx", (2, 2, 3, *PLANE), id="tczyx"),
    pytest.param("xy", PLANE[::-1], id="xy-space-axes-in-another-order"),
    pytest.param("tcyx", (2, 2, *PLANE), id="tcyx"),
    pytest.param(
        [{"name": "angle", "type": "angle"}, "y", "x"], (3, *PLANE), id="custom-axis-type"
    ),
]

SPACE_UNITS = {"z": "micrometer", "y": "micrometer", "x": "micrometer", "t": "second"}


# ------------------------------------------------------------------------------------ helpers


class PlainArray:
    """The least an input may be: shape, dtype and ``__getitem__`` (counted)."""

    def __init__(self, data: np.ndarray, fail_at_call: int | None = None) -> None:
        self._data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.calls = 0
        self._fail_at_call = fail_at_call

    def __getitem__(self, key: Any) -> np.ndarray:
        self.calls += 1
        if self._fail_at_call is not None and self.calls >= self._fail_at_call:
            raise RuntimeError("the source failed while being read")
        return np.asarray(self._data[key])


def _dims(axes: Any) -> tuple[str, ...]:
    if isinstance(axes, str):
        return tuple(axes)
    return tuple(a if isinstance(a, str) else a["name"] for a in axes)


def _ngff(path: Path) -> dict[str, Any]:
    """The NGFF attributes of the group at ``path``, read from its JSON file ({} if none)."""
    if (path / "zarr.json").exists():
        document = json.loads((path / "zarr.json").read_text())
        return dict(document.get("attributes", {}).get("ome", {}))
    if (path / ".zattrs").exists():
        return dict(json.loads((path / ".zattrs").read_text()))
    return {}


def _array_metadata(path: Path) -> dict[str, Any]:
    """The zarr metadata document of the array at ``path`` (v2 or v3)."""
    if (path / "zarr.json").exists():
        return dict(json.loads((path / "zarr.json").read_text()))
    return dict(json.loads((path / ".zarray").read_text()))


def _tree(path: Path) -> dict[str, bytes]:
    """Every file below ``path`` with its bytes: a snapshot to prove nothing changed."""
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _level_factors(dims: Sequence[str], scale_factors: Sequence[Any]) -> list[tuple[int, ...]]:
    """Per-axis factors as the writer promises: ints on y/x only, dicts per axis."""
    levels = [tuple(1 for _ in dims)]
    for entry in scale_factors:
        if isinstance(entry, dict):
            levels.append(tuple(entry.get(d, 1) for d in dims))
        else:
            levels.append(tuple(entry if d in ("y", "x") else 1 for d in dims))
    return levels


def _check_pyramid(
    path: Path,
    image: np.ndarray,
    dims: Sequence[str],
    scale_factors: Sequence[Any],
    method: Methods,
    pixel_sizes: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Level 0 bit-exact, levels equal to the whole-array pyramid, paths s0…, scales; the multiscale."""
    multiscale = _ngff(path)["multiscales"][0]
    factors = _level_factors(dims, scale_factors)
    shapes = [tuple(max(1, n // f) for n, f in zip(image.shape, fs, strict=True)) for fs in factors]
    datasets = multiscale["datasets"]
    assert [d["path"] for d in datasets] == [f"s{i}" for i in range(len(shapes))]
    group = zarr.open_group(path, mode="r")
    assert sorted(group.array_keys()) == sorted(d["path"] for d in datasets)
    native = image.dtype.newbyteorder("=")
    sizes = [(pixel_sizes or {}).get(d, 1.0) for d in dims]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # clamped levels warned when written
        expected_levels = downsample_pyramid(image, factors[1:], method)
    for level, (dataset, shape) in enumerate(zip(datasets, shapes, strict=True)):
        array = group[dataset["path"]]
        assert isinstance(array, zarr.Array)
        assert array.shape == shape, f"level {level}"
        assert array.dtype == native, f"level {level}"
        assert np.array_equal(array[...], expected_levels[level]), f"level {level} differs"
        transform = dataset["coordinateTransformations"][0]
        assert transform["type"] == "scale"
        wanted = [s * n0 / n for s, n0, n in zip(sizes, image.shape, shape, strict=True)]
        assert transform["scale"] == pytest.approx(wanted), f"level {level}"
    return multiscale


def _as_input(kind: str, image: np.ndarray) -> Any:
    chunks = (*image.shape[:-2], 19, 23)  # not aligned with any level
    if kind == "dask":
        return da.from_array(image, chunks=chunks)
    if kind == "zarr":
        array = zarr.create_array(
            zarr.storage.MemoryStore(), shape=image.shape, dtype=image.dtype, chunks=chunks
        )
        array[...] = image
        return array
    if kind == "array-like":
        return PlainArray(image)
    return image


def _compute(result: list) -> None:
    """Run what ``compute=False`` returned: one dask.delayed."""
    assert len(result) == 1
    assert isinstance(result[0], Delayed)
    dask.compute(*result)


# ------------------------------------------------------------------------- levels and axes


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("axes", "shape"), AXES_CASES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_level_equals_downsample_of_level_zero_for_every_axes_order(
    tmp_path: Path, fmt: Format, axes: Any, shape: tuple[int, ...], method: Methods
) -> None:
    dims = _dims(axes)
    image = seeded_image(shape, seed=len(shape))
    pixel_sizes = {d: 0.5 + i for i, d in enumerate(dims) if d in SPACE_UNITS}
    units = {d: SPACE_UNITS[d] for d in dims if d in SPACE_UNITS}
    path = tmp_path / "image.zarr"
    result = write_image(
        image,
        str(path),
        scale_factors=[2, 3],
        method=method,
        fmt=fmt,
        axes=axes,
        scale=pixel_sizes,
        axes_units=units,
        storage_options={"chunks": (16, 16)},
    )
    assert result == []
    multiscale = _check_pyramid(path, image, dims, [2, 3], method, pixel_sizes)
    assert [a["name"] for a in multiscale["axes"]] == list(dims)
    assert {a["name"]: a["unit"] for a in multiscale["axes"] if "unit" in a} == units
    for dataset in multiscale["datasets"]:
        metadata = _array_metadata(path / dataset["path"])
        if fmt.version == "0.5":
            assert metadata["dimension_names"] == list(dims)
        else:
            assert metadata["dimension_separator"] == "/"
    chunk_depth = len(shape)
    nested = [p for p in (path / "s0").rglob("*") if p.is_file() and not p.name.startswith(".")]
    chunk_files = [p for p in nested if p.name != "zarr.json"]
    # "/" chunk keys: one directory level per dimension (v3 adds the "c" prefix directory).
    extra = 1 if fmt.version == "0.5" else 0
    assert chunk_files
    assert all(len(p.relative_to(path / "s0").parts) == chunk_depth + extra for p in chunk_files)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("compute", [True, False], ids=["compute", "delayed"])
@pytest.mark.parametrize("kind", ["numpy", "dask", "zarr", "array-like"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_input_kind_and_compute_mode_writes_the_same_pyramid(
    tmp_path: Path, fmt: Format, kind: str, compute: bool, method: Methods
) -> None:
    image = seeded_image((2, 3, *PLANE), seed=3)
    path = tmp_path / "image.zarr"
    result = write_image(
        _as_input(kind, image),
        str(path),
        scale_factors=[2, 4],
        method=method,
        fmt=fmt,
        axes="czyx",
        compute=compute,
    )
    if compute:
        assert result == []
    else:
        assert "multiscales" not in _ngff(path), "metadata must wait for the pixels"
        _compute(result)
    _check_pyramid(path, image, "czyx", [2, 4], method)
    s0 = zarr.open_array(path / "s0", mode="r")
    if kind in ("dask", "zarr"):
        assert s0.chunks == (2, 3, 19, 23), "default chunks follow a chunked input"
    else:
        assert s0.chunks == (1, 3, *PLANE)


def test_multiscale_type_names_the_method(tmp_path: Path) -> None:
    write_image(
        seeded_image(PLANE), str(tmp_path / "a.zarr"), method="local_mean", scale_factors=[2]
    )
    write_image(seeded_image(PLANE), str(tmp_path / "b.zarr"), scale_factors=[2])
    assert _ngff(tmp_path / "a.zarr")["multiscales"][0]["type"] == "local_mean"
    assert _ngff(tmp_path / "b.zarr")["multiscales"][0]["type"] == "resize"


def test_default_chunks_of_an_unchunked_input_cap_yx_at_1024_and_grow_z(tmp_path: Path) -> None:
    big = PlainArray(np.zeros((3, 1100, 1030), np.uint8))
    write_image(big, str(tmp_path / "big.zarr"), scale_factors=[], axes="zyx")
    assert zarr.open_array(tmp_path / "big.zarr" / "s0", mode="r").chunks == (2, 1024, 1024)
    small = np.zeros((40, *PLANE), np.uint16)
    write_image(small, str(tmp_path / "small.zarr"), scale_factors=[], axes="zyx")
    assert zarr.open_array(tmp_path / "small.zarr" / "s0", mode="r").chunks == (40, *PLANE)


def test_the_default_compressor_is_blosc_zstd_level_1_with_byte_shuffle_and_big_blocks(
    tmp_path: Path,
) -> None:
    image = seeded_image(PLANE)
    write_image(image, str(tmp_path / "v4.zarr"), fmt=FormatV04(), scale_factors=[])
    write_image(image, str(tmp_path / "v5.zarr"), fmt=FormatV05(), scale_factors=[])
    v2 = _array_metadata(tmp_path / "v4.zarr" / "s0")["compressor"]
    assert (v2["id"], v2["cname"], v2["clevel"], v2["shuffle"]) == ("blosc", "zstd", 1, 1)
    assert v2["blocksize"] == 512 * 1024
    codecs = _array_metadata(tmp_path / "v5.zarr" / "s0")["codecs"]
    blosc = [c["configuration"] for c in codecs if c["name"] == "blosc"]
    assert len(blosc) == 1
    assert (blosc[0]["cname"], blosc[0]["clevel"], blosc[0]["shuffle"]) == ("zstd", 1, "shuffle")
    assert blosc[0]["blocksize"] == 512 * 1024
    # both decode to the pixels, through zarr (not omezarr)
    for name in ("v4.zarr", "v5.zarr"):
        assert np.array_equal(zarr.open_array(tmp_path / name / "s0", mode="r")[...], image)


# ----------------------------------------------------------------------------------- dtypes

DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    ">u2",
    ">i4",
    ">i8",
    ">f4",
    ">f8",
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_dtype_is_stored_native_with_exact_levels(
    tmp_path: Path, fmt: Format, dtype: str, method: Methods
) -> None:
    image = seeded_image((19, 22), dtype, seed=7)
    path = tmp_path / "image.zarr"
    write_image(image, str(path), scale_factors=[2, 3], method=method, fmt=fmt)
    _check_pyramid(path, image, "yx", [2, 3], method)
    assert zarr.open_array(path / "s0", mode="r").dtype.isnative


def test_integer_results_are_rounded_not_truncated(tmp_path: Path) -> None:
    image = np.array([[0, 1], [1, 1]], np.uint8)  # mean 0.75 rounds to 1
    write_image(image, str(tmp_path / "i.zarr"), scale_factors=[2], method="local_mean")
    assert zarr.open_array(tmp_path / "i.zarr" / "s1", mode="r")[...].tolist() == [[1]]


# ---------------------------------------------------------------------------- scale_factors


def test_integer_scale_factors_are_honoured_not_powers_of_two(tmp_path: Path) -> None:
    image = seeded_image(PLANE)
    path = tmp_path / "image.zarr"
    write_image(image, str(path), scale_factors=[3, 9], method="nearest")
    _check_pyramid(path, image, "yx", [3, 9], Methods.NEAREST)
    shapes = [zarr.open_array(path / f"s{i}", mode="r").shape for i in range(3)]
    assert shapes == [PLANE, (12, 15), (4, 5)]


def test_integer_scale_factors_leave_z_alone_and_dicts_downsample_it(tmp_path: Path) -> None:
    image = seeded_image((8, 32, 36))
    write_image(image, str(tmp_path / "ints.zarr"), scale_factors=[2], axes="zyx")
    assert zarr.open_array(tmp_path / "ints.zarr" / "s1", mode="r").shape == (8, 16, 18)
    factors = [{"z": 2, "y": 2, "x": 2}, {"z": 4, "y": 4, "x": 4}, {"z": 4, "y": 8, "x": 8}]
    path = tmp_path / "dicts.zarr"
    write_image(image, str(path), scale_factors=factors, axes="zyx", method="local_mean")
    _check_pyramid(path, image, "zyx", factors, Methods.LOCAL_MEAN)


def test_empty_scale_factors_write_a_single_level(tmp_path: Path) -> None:
    image = seeded_image(PLANE)
    path = tmp_path / "image.zarr"
    write_image(image, str(path), scale_factors=[])
    multiscale = _check_pyramid(path, image, "yx", [], Methods.RESIZE)
    assert len(multiscale["datasets"]) == 1
    assert not (path / "s1").exists()


def test_a_dimension_reaching_one_warns_and_stays_one(tmp_path: Path) -> None:
    image = seeded_image((4, 40))
    path = tmp_path / "image.zarr"
    with pytest.warns(UserWarning, match="too small"):
        write_image(image, str(path), scale_factors=[8], method="nearest")
    assert zarr.open_array(path / "s1", mode="r").shape == (1, 5)
    _check_pyramid(path, image, "yx", [8], Methods.NEAREST)


BAD_SCALE_FACTORS = [
    pytest.param([0], "yx", id="zero"),
    pytest.param([-2], "yx", id="negative"),
    pytest.param([1.5], "yx", id="float"),
    pytest.param([True], "yx", id="bool"),
    pytest.param(["2"], "yx", id="string-entry"),
    pytest.param(2, "yx", id="bare-int"),
    pytest.param([4, 2], "yx", id="shrinking"),
]


@pytest.mark.parametrize(("scale_factors", "axes"), BAD_SCALE_FACTORS)
def test_bad_scale_factors_are_refused_before_anything_is_written(
    tmp_path: Path, scale_factors: Any, axes: str
) -> None:
    image = seeded_image((1, 1, 2, 8, 8)[-len(axes) :])
    path = tmp_path / "new.zarr"
    with pytest.raises((ValueError, TypeError), match="scale_factors"):
        write_image(image, str(path), scale_factors=scale_factors, axes=axes)
    assert not path.exists()
    existing = tmp_path / "existing.zarr"
    write_image(image, str(existing), scale_factors=[2], axes=axes)
    before = _tree(existing)
    with pytest.raises((ValueError, TypeError), match="scale_factors"):
        write_image(image, str(existing), scale_factors=scale_factors, axes=axes, overwrite=True)
    assert _tree(existing) == before


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    steps=st.lists(st.integers(1, 3), min_size=0, max_size=3),
    method=st.sampled_from(list(Methods)),
    chunk=st.integers(3, 16),
)
def test_any_shape_factors_and_chunks_give_exact_levels(
    tmp_path_factory: pytest.TempPathFactory,
    height: int,
    width: int,
    steps: list[int],
    method: Methods,
    chunk: int,
) -> None:
    factors = list(np.cumprod([s + 1 for s in steps]).tolist()) if steps else []
    image = seeded_image((height, width), seed=height * 41 + width)
    path = tmp_path_factory.mktemp("prop") / "image.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dimensions reaching 1
        write_image(
            image,
            str(path),
            scale_factors=factors,
            method=method,
            storage_options={"chunks": chunk},
        )
    _check_pyramid(path, image, "yx", factors, method)


# ---------------------------------------------------------------------------- storage_options


def _chunks(path: Path, level: int = 0) -> tuple[int, ...]:
    return tuple(zarr.open_array(path / f"s{level}", mode="r").chunks)


def test_chunks_int_applies_to_every_axis_and_tuples_are_right_aligned(tmp_path: Path) -> None:
    image = seeded_image((2, 3, *PLANE))
    write_image(image, str(tmp_path / "int.zarr"), axes="czyx", storage_options={"chunks": 16})
    assert _chunks(tmp_path / "int.zarr") == (2, 3, 16, 16)
    write_image(image, str(tmp_path / "tup.zarr"), axes="czyx", storage_options={"chunks": (8, 8)})
    assert _chunks(tmp_path / "tup.zarr") == (2, 3, 8, 8)
    assert _chunks(tmp_path / "tup.zarr", 4) == (2, 3, 2, 2)  # clipped to the level


def test_auto_chunks_warn_and_use_the_input_chunking(tmp_path: Path) -> None:
    image = seeded_image(PLANE)
    path = tmp_path / "image.zarr"
    with pytest.warns(UserWarning, match="auto"):
        write_image(
            da.from_array(image, chunks=(10, 20)), str(path), storage_options={"chunks": "auto"}
        )
    assert _chunks(path) == (10, 20)
    assert np.array_equal(zarr.open_array(path / "s0", mode="r")[...], image)


def test_storage_options_list_gives_per_level_options(tmp_path: Path) -> None:
    image = seeded_image(PLANE)
    path = tmp_path / "image.zarr"
    options = [{"chunks": (16, 16)}, {"chunks": (8, 4)}, {"chunks": 3, "compressors": None}]
    write_image(image, str(path), scale_factors=[2, 4], storage_options=options)
    assert [_chunks(path, i) for i in range(3)] == [(16, 16), (8, 4), (3, 3)]
    codecs = [c["name"] for c in _array_metadata(path / "s2")["codecs"]]
    assert codecs == ["bytes"]
    _check_pyramid(path, image, "yx", [2, 4], Methods.RESIZE)


@pytest.mark.parametrize("fmt", FORMATS)
def test_shards_on_zarr_v3_hold_whole_chunks(tmp_path: Path, fmt: Format) -> None:
    image = seeded_image(PLANE)
    path = tmp_path / "image.zarr"
    options = {"chunks": (8, 8), "shards": (16, 24)}
    if fmt.version == "0.4":
        with pytest.raises(ValueError, match=r"storage_options.*shards"):
            write_image(image, str(path), fmt=fmt, storage_options=options)
        assert not path.exists()
        return
    write_image(image, str(path), fmt=fmt, scale_factors=[2, 3], storage_options=options)
    s0 = zarr.open_array(path / "s0", mode="r")
    assert (s0.chunks, s0.shards) == ((8, 8), (16, 24))
    _check_pyramid(path, image, "yx", [2, 3], Methods.RESIZE)


def test_explicit_shards_fit_levels_smaller_than_a_chunk(tmp_path: Path) -> None:
    image = seeded_image(PLANE)
    path = tmp_path / "image.zarr"
    options = {"chunks": (16, 16), "shards": (32, 32)}
    write_image(image, str(path), scale_factors=[3], storage_options=options)  # s1 is 12 x 15
    for level in (0, 1):
        array = zarr.open_array(path / f"s{level}", mode="r")
        assert array.shards is not None
        assert all(s % c == 0 for s, c in zip(array.shards, array.chunks, strict=True))
    _check_pyramid(path, image, "yx", [3], Methods.RESIZE)


def test_auto_shards_are_multiples_of_the_chunks(tmp_path: Path) -> None:
    image = seeded_image((3, *PLANE))
    path = tmp_path / "image.zarr"
    write_image(
        image,
        str(path),
        axes="zyx",
        scale_factors=[2],
        storage_options={"chunks": (1, 8, 8), "shards": "auto"},
    )
    for level in (0, 1):
        array = zarr.open_array(path / f"s{level}", mode="r")
        assert array.shards is not None
        assert all(s % c == 0 for s, c in zip(array.shards, array.chunks, strict=True))
        assert math.prod(array.shards) > math.prod(array.chunks)
    _check_pyramid(path, image, "zyx", [2], Methods.RESIZE)


BLOSC_LZ4 = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)
COMPRESSORS = [
    pytest.param(
        FormatV04(),
        {"compressor": BLOSC_LZ4},
        ("blosc", {"cname": "lz4", "clevel": 5, "shuffle": 2}),
        id="0.4-numcodecs-blosc",
    ),
    pytest.param(
        FormatV04(),
        {"compressor": numcodecs.Zstd(level=3)},
        ("zstd", {"level": 3}),
        id="0.4-numcodecs-zstd",
    ),
    pytest.param(
        FormatV05(),
        {"compressor": BLOSC_LZ4},
        ("blosc", {"cname": "lz4", "clevel": 5, "shuffle": "bitshuffle"}),
        id="0.5-numcodecs-blosc",
    ),
    pytest.param(
        FormatV05(),
        {"compressor": numcodecs.Zstd(level=3)},
        ("zstd", {"level": 3}),
        id="0.5-numcodecs-zstd",
    ),
    pytest.param(
        FormatV05(),
        {"compressors": zarr.codecs.ZstdCodec(level=4)},
        ("zstd", {"level": 4}),
        id="0.5-zarr-zstd",
    ),
    pytest.param(
        FormatV05(),
        {"compressors": [zarr.codecs.GzipCodec(level=2)]},
        ("gzip", {"level": 2}),
        id="0.5-zarr-gzip",
    ),
]


@pytest.mark.parametrize(("fmt", "options", "expected"), COMPRESSORS)
def test_compressors_are_honoured_on_every_level(
    tmp_path: Path, fmt: Format, options: dict[str, Any], expected: tuple[str, dict[str, Any]]
) -> None:
    image = seeded_image(PLANE)
    path = tmp_path / "image.zarr"
    write_image(image, str(path), fmt=fmt, scale_factors=[2], storage_options=options)
    name, settings_subset = expected
    for level in ("s0", "s1"):
        metadata = _array_metadata(path / level)
        if fmt.version == "0.4":
            stored_name, stored = metadata["compressor"]["id"], metadata["compressor"]
        else:
            assert [c["name"] for c in metadata["codecs"]] == ["bytes", name]
            stored_name, stored = name, metadata["codecs"][1]["configuration"]
        assert stored_name == name
        assert {key: stored[key] for key in settings_subset} == settings_subset
    _check_pyramid(path, image, "yx", [2], Methods.RESIZE)


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_compressor_stores_raw_chunks(tmp_path: Path, fmt: Format) -> None:
    image = seeded_image(PLANE)
    path = tmp_path / "image.zarr"
    write_image(image, str(path), fmt=fmt, scale_factors=[], storage_options={"compressors": None})
    metadata = _array_metadata(path / "s0")
    if fmt.version == "0.4":
        assert metadata["compressor"] is None
    else:
        assert [c["name"] for c in metadata["codecs"]] == ["bytes"]
    assert (
        path / "s0" / ("c/0/0" if fmt.version == "0.5" else "0/0")
    ).stat().st_size == image.nbytes


BAD_STORAGE_OPTIONS = [
    pytest.param(FormatV05(), [{}, {}], id="list-of-wrong-length"),
    pytest.param(FormatV05(), {"no_such_option": 1}, id="unknown-option"),
    pytest.param(
        FormatV05(), {"chunks": (16, 16), "shards": (24, 24)}, id="chunks-not-dividing-shards"
    ),
    pytest.param(FormatV04(), {"shards": (32, 32)}, id="shards-on-0.4"),
    pytest.param(FormatV05(), {"chunks": (0, 8)}, id="zero-chunks"),
    pytest.param(FormatV05(), {"compressor": "zstd"}, id="compressor-string"),
    pytest.param(
        FormatV04(), {"compressors": [numcodecs.Zstd(), numcodecs.GZip()]}, id="two-v2-compressors"
    ),
    pytest.param(FormatV05(), "chunks", id="not-a-dict"),
]


@pytest.mark.parametrize(("fmt", "options"), BAD_STORAGE_OPTIONS)
def test_bad_storage_options_are_refused_before_anything_is_written(
    tmp_path: Path, fmt: Format, options: Any
) -> None:
    image = seeded_image(PLANE)
    path = tmp_path / "new.zarr"
    with pytest.raises((ValueError, TypeError), match="storage_options"):
        write_image(image, str(path), fmt=fmt, scale_factors=[2, 4], storage_options=options)
    assert not path.exists()
    existing = tmp_path / "existing.zarr"
    write_image(image, str(existing), fmt=fmt, scale_factors=[2])
    before = _tree(existing)
    with pytest.raises((ValueError, TypeError), match="storage_options"):
        write_image(
            image,
            str(existing),
            fmt=fmt,
            scale_factors=[2, 4],
            storage_options=options,
            overwrite=True,
        )
    assert _tree(existing) == before


BAD_ARGUMENTS = [
    pytest.param({"memory_budget": "lots"}, "memory_budget", id="memory-budget-unreadable"),
    pytest.param({"memory_budget": 1}, "memory_budget", id="memory-budget-too-small"),
    pytest.param({"scale": {"q": 1.0}}, "scale", id="scale-unknown-axis"),
    pytest.param({"scale": {"x": -1.0}}, "scale", id="scale-negative"),
    pytest.param({"axes": "zyx"}, "axes", id="axes-wrong-count"),
    pytest.param({"axes": "yy"}, "axes", id="axes-repeated"),
    pytest.param({"method": "cubic"}, "method", id="method-unknown"),
    pytest.param({"fmt": 4}, "fmt", id="fmt-not-a-format"),
    pytest.param({"progress": 3}, "progress", id="progress-not-callable"),
]


@pytest.mark.parametrize(("kwargs", "parameter"), BAD_ARGUMENTS)
def test_bad_arguments_name_the_parameter_and_write_nothing(
    tmp_path: Path, kwargs: dict[str, Any], parameter: str
) -> None:
    path = tmp_path / "image.zarr"
    with pytest.raises((ValueError, TypeError), match=parameter):
        write_image(seeded_image((16, 16)), str(path), scale_factors=[2], **kwargs)
    assert not path.exists()


@pytest.mark.parametrize(
    ("image", "message"),
    [
        pytest.param([[1, 2], [3, 4]], "not a list", id="list"),
        pytest.param(np.zeros(4), "2 to 5 dimensions", id="1-D"),
        pytest.param(np.zeros((1,) * 6), "2 to 5 dimensions", id="6-D"),
        pytest.param(np.zeros((4, 4), complex), "not supported", id="complex"),
        pytest.param(np.zeros((4, 4), object), "not supported", id="object"),
        pytest.param(np.zeros((0, 4)), "at least 1", id="empty"),
        pytest.param("pixels", "shape, dtype", id="string"),
    ],
)
def test_images_that_are_not_2_to_5_d_numeric_arrays_are_refused(
    tmp_path: Path, image: Any, message: str
) -> None:
    path = tmp_path / "image.zarr"
    with pytest.raises((ValueError, TypeError), match=f"image: .*{message}"):
        write_image(image, str(path))
    assert not path.exists()


# --------------------------------------------------------------------------------- deprecated


def test_coordinate_transformations_warn_and_take_precedence_over_scale(tmp_path: Path) -> None:
    image = seeded_image((3, *PLANE))
    path = tmp_path / "image.zarr"
    transformations = [
        [{"type": "scale", "scale": [2.0, 0.25, 0.25]}],
        [
            {"type": "scale", "scale": [2.0, 0.5, 0.5]},
            {"type": "translation", "translation": [0, 1, 1]},
        ],
    ]
    with pytest.warns(DeprecationWarning, match="coordinate_transformations"):
        write_image(
            image,
            str(path),
            scale_factors=[2],
            axes="zyx",
            scale={"z": 9.0, "y": 9.0, "x": 9.0},
            coordinate_transformations=transformations,
        )
    datasets = _ngff(path)["multiscales"][0]["datasets"]
    assert [d["coordinateTransformations"] for d in datasets] == transformations


@pytest.mark.parametrize(
    ("scaler_method", "method"),
    [("local_mean", Methods.LOCAL_MEAN), ("nearest", Methods.NEAREST), ("zoom", Methods.ZOOM)],
)
def test_a_scaler_warns_and_maps_to_scale_factors_and_method(
    tmp_path: Path, scaler_method: str, method: Methods
) -> None:
    with pytest.warns(DeprecationWarning):
        scaler = Scaler(max_layer=2, method=scaler_method)
    image = seeded_image((2, *PLANE))
    path = tmp_path / "image.zarr"
    with pytest.warns(DeprecationWarning, match="scaler"):
        write_image(image, str(path), scaler=scaler, axes="cyx")
    multiscale = _check_pyramid(path, image, "cyx", [2, 4], method)
    assert multiscale["type"] == method.value


def test_a_scaler_for_labels_maps_like_for_images(tmp_path: Path) -> None:
    with pytest.warns(DeprecationWarning):
        scaler = Scaler(max_layer=1, method="nearest")
    mask = seeded_image(PLANE, np.uint8)
    # two levels, as the scaler's labels (one level once gave an image that did not validate)
    write_image(seeded_image(PLANE), str(tmp_path / "image.zarr"), scale_factors=[2])
    with pytest.warns(DeprecationWarning, match="scaler"):
        write_labels(mask, str(tmp_path / "image.zarr"), name="cells", scaler=scaler)
    _check_pyramid(tmp_path / "image.zarr" / "labels" / "cells", mask, "yx", [2], Methods.NEAREST)


@pytest.mark.parametrize("old", [FormatV01(), FormatV02(), FormatV03()], ids=["0.1", "0.2", "0.3"])
@pytest.mark.parametrize("writer", ["image", "multiscale", "labels", "multiscale_labels"])
def test_old_formats_raise_deprecation_warning_and_write_nothing(
    tmp_path: Path, old: Format, writer: str
) -> None:
    image = seeded_image((2, 3, 4, 16, 16), np.uint8)
    path = tmp_path / "image.zarr"
    with pytest.raises(DeprecationWarning, match=f"v{old.version}"):
        if writer == "image":
            write_image(image, str(path), fmt=old)
        elif writer == "multiscale":
            write_multiscale([image], str(path), fmt=old)
        elif writer == "labels":
            write_labels(image, str(path), name="cells", fmt=old)
        else:
            write_multiscale_labels([image], str(path), name="cells", fmt=old)
    assert not path.exists()


# ------------------------------------------------------------------------------------ labels


@pytest.mark.parametrize("fmt", FORMATS)
def test_labels_have_image_label_metadata_and_levels_matching_the_image(
    tmp_path: Path, fmt: Format
) -> None:
    image = seeded_image((3, *PLANE))
    mask = seeded_image((3, *PLANE), np.uint16, seed=5) % 7
    path = tmp_path / "image.zarr"
    scale = {"z": 2.0, "y": 0.5, "x": 0.5}
    write_image(image, str(path), fmt=fmt, axes="zyx", scale=scale, scale_factors=[2, 3])
    colors = [
        {"label-value": 1, "rgba": [255, 0, 0, 255]},
        {"label-value": 2, "rgba": [0, 255, 0, 128]},
    ]
    properties = [{"label-value": 1, "class": "nucleus"}]
    write_labels(
        mask,
        str(path),
        name="cells",
        fmt=fmt,
        axes="zyx",
        scale=scale,
        scale_factors=[2, 3],
        label_metadata={"colors": colors, "properties": properties, "source": {"image": "../../"}},
    )
    label_path = path / "labels" / "cells"
    label_multiscale = _check_pyramid(label_path, mask, "zyx", [2, 3], Methods.NEAREST, scale)
    image_multiscale = _ngff(path)["multiscales"][0]
    assert label_multiscale["datasets"] == image_multiscale["datasets"]
    label_attrs = _ngff(label_path)
    assert label_attrs["image-label"]["colors"] == colors
    assert label_attrs["image-label"]["properties"] == properties
    assert label_attrs["image-label"]["source"] == {"image": "../../"}
    assert _ngff(path / "labels")["labels"] == ["cells"]
    if fmt.version == "0.5":
        assert label_attrs["version"] == _ngff(path / "labels")["version"] == "0.5"
    opened = open_image(str(label_path))
    assert opened.metadata["name"] == "cells"


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_labels_are_both_kept_and_listed_once(tmp_path: Path, fmt: Format) -> None:
    path = tmp_path / "image.zarr"
    write_image(seeded_image(PLANE), str(path), fmt=fmt, scale_factors=[2])
    cells = seeded_image(PLANE, np.uint8, seed=1)
    nuclei = seeded_image(PLANE, np.uint8, seed=2)
    write_labels(cells, str(path), name="cells", fmt=fmt, scale_factors=[2])
    write_multiscale_labels([nuclei, nuclei[::2, ::2]], str(path), name="nuclei", fmt=fmt)
    write_labels(cells, str(path), name="cells", fmt=fmt, scale_factors=[2], overwrite=True)
    assert _ngff(path / "labels")["labels"] == ["cells", "nuclei"]
    assert _ngff(path / "labels" / "cells")["image-label"]["source"] == {"image": "../../"}
    assert _ngff(path / "labels" / "nuclei")["image-label"]["source"] == {"image": "../../"}
    _check_pyramid(path / "labels" / "cells", cells, "yx", [2], Methods.NEAREST)
    group = zarr.open_group(path / "labels" / "nuclei", mode="r")
    assert np.array_equal(group["s0"][...], nuclei)
    assert np.array_equal(group["s1"][...], nuclei[::2, ::2])


@pytest.mark.parametrize("dtype", ["float32", "bool"])
@pytest.mark.parametrize(
    "multiscale", [False, True], ids=["write_labels", "write_multiscale_labels"]
)
def test_non_integer_labels_in_0_5_raise_type_error_and_write_nothing(
    tmp_path: Path, dtype: str, multiscale: bool
) -> None:
    path = tmp_path / "image.zarr"
    write_image(seeded_image(PLANE), str(path), scale_factors=[2])
    before = _tree(path)
    mask = seeded_image(PLANE, dtype)
    with pytest.raises(TypeError, match="labels"):
        if multiscale:
            write_multiscale_labels([mask], str(path), name="cells")
        else:
            write_labels(mask, str(path), name="cells")
    assert _tree(path) == before


def test_float_labels_are_accepted_in_0_4_as_by_the_reference(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    mask = seeded_image(PLANE, np.float32)
    write_labels(mask, str(path), name="cells", fmt=FormatV04(), scale_factors=[2])
    _check_pyramid(path / "labels" / "cells", mask, "yx", [2], Methods.NEAREST)


@pytest.mark.parametrize("name", ["", "a/b", None])
def test_a_label_needs_a_plain_name(tmp_path: Path, name: Any) -> None:
    with pytest.raises(ValueError, match="name"):
        write_labels(seeded_image(PLANE, np.uint8), str(tmp_path / "image.zarr"), name=name)
    assert not (tmp_path / "image.zarr").exists()


# --------------------------------------------------------------------------- write_multiscale


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_multiscale_stores_the_given_levels(tmp_path: Path, fmt: Format) -> None:
    level0 = seeded_image((2, *PLANE))
    pyramid = [
        level0,
        da.from_array(level0[:, ::2, ::2], chunks=(1, 8, 8)),
        PlainArray(level0[:, ::4, ::3]),
    ]
    path = tmp_path / "image.zarr"
    write_multiscale(
        pyramid, str(path), fmt=fmt, axes="cyx", scale={"y": 0.5, "x": 0.25}, name="given"
    )
    multiscale = _ngff(path)["multiscales"][0]
    assert multiscale["name"] == "given"
    expected = [level0, level0[:, ::2, ::2], level0[:, ::4, ::3]]
    for dataset, level in zip(multiscale["datasets"], expected, strict=True):
        assert np.array_equal(zarr.open_array(path / dataset["path"], mode="r")[...], level)
        wanted = [1.0, 0.5 * PLANE[0] / level.shape[1], 0.25 * PLANE[1] / level.shape[2]]
        assert dataset["coordinateTransformations"][0]["scale"] == pytest.approx(wanted)
    assert [d["path"] for d in multiscale["datasets"]] == ["s0", "s1", "s2"]


@pytest.mark.parametrize(
    "pyramid",
    [
        pytest.param([np.zeros((8, 8)), np.zeros((16, 16))], id="growing"),
        pytest.param([np.zeros((8, 8)), np.zeros((2, 4, 4))], id="rank-change"),
        pytest.param([np.zeros((8, 8)), np.zeros((4, 4), np.uint8)], id="dtype-change"),
        pytest.param([], id="empty"),
        pytest.param(np.zeros((8, 8)), id="not-a-list"),
    ],
)
def test_write_multiscale_refuses_inconsistent_pyramids(tmp_path: Path, pyramid: Any) -> None:
    with pytest.raises((ValueError, TypeError), match="pyramid"):
        write_multiscale(pyramid, str(tmp_path / "image.zarr"))
    assert not (tmp_path / "image.zarr").exists()


@pytest.mark.parametrize("compute", [True, False], ids=["compute", "delayed"])
def test_write_multiscale_delays_like_write_image(tmp_path: Path, compute: bool) -> None:
    level0 = seeded_image(PLANE)
    path = tmp_path / "image.zarr"
    result = write_multiscale([level0, level0[::2, ::2]], str(path), compute=compute)
    if not compute:
        assert "multiscales" not in _ngff(path)
        _compute(result)
    assert len(_ngff(path)["multiscales"][0]["datasets"]) == 2
    assert np.array_equal(zarr.open_array(path / "s1", mode="r")[...], level0[::2, ::2])


# ----------------------------------------------------------------------------------- overwrite


@pytest.mark.parametrize("fmt", FORMATS)
def test_writing_over_an_image_without_overwrite_raises_and_keeps_it(
    tmp_path: Path, fmt: Format
) -> None:
    path = tmp_path / "image.zarr"
    write_image(seeded_image(PLANE), str(path), fmt=fmt, scale_factors=[2])
    write_labels(seeded_image(PLANE, np.uint8), str(path), name="cells", fmt=fmt, scale_factors=[2])
    before = _tree(path)
    with pytest.raises(ValueError, match="overwrite=True"):
        write_image(seeded_image(PLANE, seed=9), str(path), fmt=fmt)
    with pytest.raises(ValueError, match="overwrite=True"):
        write_multiscale([seeded_image(PLANE, seed=9)], str(path), fmt=fmt)
    with pytest.raises(ValueError, match="overwrite=True"):
        write_labels(seeded_image(PLANE, np.uint8), str(path), name="cells", fmt=fmt)
    assert _tree(path) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_overwrite_with_fewer_levels_leaves_no_stale_arrays_or_chunks(
    tmp_path: Path, fmt: Format
) -> None:
    path = tmp_path / "image.zarr"
    write_image(seeded_image((64, 64)), str(path), fmt=fmt, storage_options={"chunks": (16, 16)})
    assert (path / "s4").exists()
    smaller = seeded_image((32, 32), seed=4)
    write_image(
        smaller,
        str(path),
        fmt=fmt,
        scale_factors=[2],
        storage_options={"chunks": (16, 16)},
        overwrite=True,
    )
    _check_pyramid(path, smaller, "yx", [2], Methods.RESIZE)
    assert sorted(p.name for p in path.iterdir() if p.is_dir()) == ["s0", "s1"]
    chunk_files = [
        p
        for p in (path / "s0").rglob("*")
        if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs")
    ]
    assert len(chunk_files) == 4, "the 16 chunks of the old 64 x 64 level 0 must be gone"


@pytest.mark.parametrize("fmt", FORMATS)
def test_overwrite_image_keeps_its_labels(tmp_path: Path, fmt: Format) -> None:
    path = tmp_path / "image.zarr"
    mask = seeded_image(PLANE, np.uint8)
    write_image(seeded_image(PLANE), str(path), fmt=fmt, scale_factors=[2])
    write_labels(mask, str(path), name="cells", fmt=fmt, scale_factors=[2])
    replacement = seeded_image(PLANE, seed=11)
    write_image(replacement, str(path), fmt=fmt, scale_factors=[2], overwrite=True)
    _check_pyramid(path, replacement, "yx", [2], Methods.RESIZE)
    assert _ngff(path / "labels")["labels"] == ["cells"]
    _check_pyramid(path / "labels" / "cells", mask, "yx", [2], Methods.NEAREST)
    assert open_image(str(path)).label_names == ["cells"]


def test_overwrite_removes_levels_named_by_the_old_metadata(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    for name, size in (("0", 32), ("1", 16)):
        root.create_array(name, shape=(size, size), dtype="uint8", chunks=(8, 8))[...] = 1
    write_multiscales_metadata(
        root,
        [
            {"path": p, "coordinateTransformations": [{"type": "scale", "scale": [f, f]}]}
            for p, f in (("0", 1.0), ("1", 2.0))
        ],
        axes="yx",
    )
    image = seeded_image((32, 32), np.uint8)
    write_image(image, str(path), scale_factors=[2], overwrite=True)
    assert sorted(p.name for p in path.iterdir() if p.is_dir()) == ["s0", "s1"]
    _check_pyramid(path, image, "yx", [2], Methods.RESIZE)


# -------------------------------------------------------------------------------- crash safety


@pytest.mark.parametrize("compute", [True, False], ids=["compute", "delayed"])
@pytest.mark.parametrize("replacing", [False, True], ids=["new", "overwriting"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failing_source_leaves_no_new_multiscales_metadata(
    tmp_path: Path, fmt: Format, replacing: bool, compute: bool
) -> None:
    """A new image is not advertised; an image being overwritten stays as it was."""
    path = tmp_path / "image.zarr"
    image = seeded_image((64, 64))
    if replacing:
        write_image(image, str(path), fmt=fmt, scale_factors=[2])
    source = PlainArray(seeded_image((64, 64), seed=9), fail_at_call=3)
    with pytest.raises(RuntimeError, match="failed while being read"):
        result = write_image(
            source,
            str(path),
            fmt=fmt,
            scale_factors=[2],
            storage_options={"chunks": (16, 16)},
            compute=compute,
            overwrite=replacing,
        )
        _compute(result)
    assert source.calls >= 3
    from omezarr.validate import validate

    if replacing:
        assert np.array_equal(open_image(str(path)).levels[0].compute(), image)
        assert validate(str(path)).valid
        return
    assert "multiscales" not in _ngff(path)
    with pytest.raises(ValueError):
        open_image(str(path))
    assert not validate(str(path)).valid


@pytest.mark.parametrize("fmt", FORMATS)
def test_after_a_failed_write_overwrite_true_writes_the_image(tmp_path: Path, fmt: Format) -> None:
    path = tmp_path / "image.zarr"
    image = seeded_image((64, 64))
    options = {"chunks": (16, 16)}
    with pytest.raises(RuntimeError):
        write_image(
            PlainArray(image, fail_at_call=2),
            str(path),
            fmt=fmt,
            scale_factors=[2],
            storage_options=options,
        )
    write_image(
        image, str(path), fmt=fmt, scale_factors=[2], storage_options=options, overwrite=True
    )
    _check_pyramid(path, image, "yx", [2], Methods.RESIZE)
    assert np.array_equal(open_image(str(path)).levels[0].compute(), image)


# ------------------------------------------------------------------------- metadata, progress


def test_omero_name_and_other_metadata_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    omero = {
        "channels": [
            {"color": "FF0000", "window": {"min": 0, "max": 65535, "start": 0, "end": 1000}},
            {"color": "00FF00", "window": {"min": 0, "max": 65535, "start": 10, "end": 900}},
        ],
        "rdefs": {"model": "color"},
    }
    write_image(
        seeded_image((2, *PLANE)),
        str(path),
        axes="cyx",
        scale_factors=[2],
        name="my image",
        omero=omero,
        metadata={"description": "two channels", "method": "omezarr"},
        acquisition="first",
    )
    attrs = _ngff(path)
    assert attrs["omero"] == omero
    multiscale = attrs["multiscales"][0]
    assert multiscale["name"] == "my image"
    assert multiscale["metadata"] == {"description": "two channels", "method": "omezarr"}
    assert multiscale["acquisition"] == "first"


def test_omero_with_the_wrong_channel_count_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    with pytest.raises(ValueError, match="omero"):
        write_image(
            seeded_image((2, *PLANE)),
            str(path),
            axes="cyx",
            omero={"channels": [{"color": "FF0000"}]},
        )
    assert not path.exists()


def test_progress_reaches_regions_total(tmp_path: Path) -> None:
    reports: list[Progress] = []
    write_image(
        seeded_image((64, 64)),
        str(tmp_path / "image.zarr"),
        scale_factors=[2],
        storage_options={"chunks": (16, 16)},
        progress=reports.append,
    )
    assert reports
    done = [p.regions_done for p in reports]
    assert done == sorted(done)
    last = reports[-1]
    assert last.regions_done == last.regions_total > 1
    assert last.bytes_done == last.bytes_total
    assert last.levels == 2


# ------------------------------------------------------------------------------------ targets


@pytest.mark.parametrize(("zarr_format", "version"), [(2, "0.4"), (3, "0.5")])
def test_an_open_zarr_group_is_written_in_its_own_format(
    tmp_path: Path, zarr_format: int, version: str
) -> None:
    root = zarr.open_group(tmp_path / "root.zarr", mode="w", zarr_format=zarr_format)
    image = seeded_image((2, *PLANE))
    write_image(image, root.create_group("field"), axes="cyx", scale_factors=[2])
    path = tmp_path / "root.zarr" / "field"
    _check_pyramid(path, image, "cyx", [2], Methods.RESIZE)
    attrs = _ngff(path)
    assert (attrs.get("version") or attrs["multiscales"][0]["version"]) == version


def test_a_format_that_does_not_match_the_group_is_refused(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "root.zarr", mode="w", zarr_format=2)
    with pytest.raises(ValueError, match="zarr_format"):
        write_image(seeded_image(PLANE), root, fmt=FormatV05())
    assert list(root.keys()) == []


def test_a_zarr_store_is_a_valid_target(tmp_path: Path) -> None:
    store = zarr.storage.LocalStore(tmp_path / "store.zarr")
    image = seeded_image(PLANE)
    write_image(image, store, scale_factors=[2])
    _check_pyramid(tmp_path / "store.zarr", image, "yx", [2], Methods.RESIZE)


def test_what_is_written_reads_back_with_omezarrs_reader(tmp_path: Path) -> None:
    image = seeded_image((3, *PLANE))
    path = tmp_path / "image.zarr"
    write_image(
        image,
        str(path),
        axes="zyx",
        scale={"z": 2.0, "x": 0.5},
        axes_units={"x": "micrometer"},
        scale_factors=[2],
    )
    opened = open_image(str(path))
    assert opened.dims == ("z", "y", "x")
    assert opened.units == {"x": "micrometer"}
    assert opened.scales[0] == pytest.approx((2.0, 1.0, 0.5))
    assert np.array_equal(opened.levels[0].compute(), image)
    assert [level.shape for level in opened.levels] == [(3, *PLANE), (3, 18, 22)]


def test_a_failing_label_source_leaves_the_labels_list_alone(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    write_image(seeded_image((64, 64)), str(path), scale_factors=[2])
    write_labels(seeded_image((64, 64), np.uint8), str(path), name="cells", scale_factors=[2])
    source = PlainArray(seeded_image((64, 64), np.uint8, seed=3), fail_at_call=3)
    with pytest.raises(RuntimeError, match="failed while being read"):
        write_labels(
            source,
            str(path),
            name="nuclei",
            scale_factors=[2],
            storage_options={"chunks": (16, 16)},
        )
    assert _ngff(path / "labels")["labels"] == ["cells"]
    assert "multiscales" not in _ngff(path / "labels" / "nuclei")
    assert "image-label" not in _ngff(path / "labels" / "nuclei")
