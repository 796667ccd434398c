"""Remote stores: writers, reader and validator on s3:// (a moto server), http:// (read-only),
file:// URLs and zarr store objects. Every server runs on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
import zarr.storage

from conftest import close_remote_filesystems
from omezarr.format import FormatV04, FormatV05
from omezarr.io.storage import open_group
from omezarr.reader import open_image, open_ome_zarr, open_plate
from omezarr.validate import validate
from omezarr.writer import (
    write_image,
    write_labels,
    write_plate_metadata,
    write_well_metadata,
)

IMAGE = (np.arange(2 * 64 * 64, dtype=np.uint16).reshape(2, 64, 64) * 7) % 4093
LABELS = (np.arange(64 * 64).reshape(64, 64) // 512).astype(np.uint8)
FACTORS = (2, 4)

# Few objects per image: every object is a request to the S3 server.
LAYOUTS = {
    "0.4": (FormatV04(), {"chunks": (1, 32, 32)}),
    "0.5": (FormatV05(), {"chunks": (1, 32, 32)}),
    "0.5-sharded": (FormatV05(), {"chunks": (1, 16, 16), "shards": (1, 64, 64)}),
}


@pytest.fixture(autouse=True, scope="module")
def _no_filesystem_left_open() -> Iterator[None]:
    yield
    for protocol in ("http", "s3"):
        close_remote_filesystems(protocol)


def write_image_with_labels(target: Any, layout: str) -> None:
    fmt, options = LAYOUTS[layout]
    write_image(IMAGE, target, scale_factors=FACTORS, fmt=fmt, axes="cyx", storage_options=options)
    label_options = {key: value[1:] for key, value in options.items()}
    write_labels(
        LABELS,
        target,
        "cells",
        scale_factors=FACTORS,
        fmt=fmt,
        axes="yx",
        storage_options=label_options,
        label_metadata={"colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]},
    )


def levels_of(image: Any) -> list[np.ndarray]:
    return [np.asarray(level) for level in image.levels]


# --------------------------------------------------------------------------------------------
# s3:// on a moto server, endpoint and credentials from the environment
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_s3_image_with_labels_reads_back_equal_to_a_local_write(
    s3_bucket: str, tmp_path: Path, layout: str
) -> None:
    url = f"{s3_bucket}/image.zarr"
    write_image_with_labels(url, layout)
    write_image_with_labels(tmp_path / "local.zarr", layout)

    remote, local = open_image(url), open_image(tmp_path / "local.zarr")
    assert remote.version == LAYOUTS[layout][0].version
    np.testing.assert_array_equal(np.asarray(remote.data), IMAGE)
    for got, expected in zip(levels_of(remote), levels_of(local), strict=True):
        np.testing.assert_array_equal(got, expected)
    assert remote.label_names == ["cells"]
    cells = remote.label("cells")
    np.testing.assert_array_equal(np.asarray(cells.data), LABELS)
    assert cells.colors == {1: (255, 0, 0, 255)}
    for got, expected in zip(levels_of(cells), levels_of(local.label("cells")), strict=True):
        np.testing.assert_array_equal(got, expected)

    # zarr alone reads the same bytes, with the layout that was asked for.
    group = zarr.open_group(url, mode="r")
    assert group.metadata.zarr_format == LAYOUTS[layout][0].zarr_format
    level0 = group[remote.paths[0]]
    np.testing.assert_array_equal(level0[:], IMAGE)
    np.testing.assert_array_equal(group[f"labels/cells/{cells.paths[0]}"][:], LABELS)
    expected_shards = (1, 64, 64) if layout.endswith("sharded") else None
    assert level0.shards == expected_shards

    report = validate(url)
    assert report.valid, report.format()
    assert (report.kind, report.version) == ("image", LAYOUTS[layout][0].version)


def test_s3_plate_with_wells_is_written_read_and_valid(s3_bucket: str) -> None:
    url = f"{s3_bucket}/plate.zarr"
    wells = ["A/1", "B/2"]
    write_plate_metadata(url, ["A", "B"], ["1", "2"], wells, field_count=1, name="remote")
    for index, well in enumerate(wells):
        write_well_metadata(f"{url}/{well}", ["0"])
        write_image(IMAGE[index], f"{url}/{well}/0", scale_factors=(2,), axes="yx")

    plate = open_plate(url)
    assert [well.path for well in plate.wells] == wells
    assert plate.name == "remote"
    field = plate.well("B/2").image(0)
    np.testing.assert_array_equal(np.asarray(field.data), IMAGE[1])
    report = validate(url)
    assert report.valid, report.format()
    assert report.kind == "plate"


def test_s3_endpoint_from_the_service_specific_variable_wins(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch, s3_env: str, closed_port: int
) -> None:
    # The general variable points nowhere: only AWS_ENDPOINT_URL_S3 reaches the bucket.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env)
    url = f"{s3_bucket}/image.zarr"
    write_image(IMAGE[0], url, scale_factors=(), axes="yx")
    np.testing.assert_array_equal(np.asarray(open_image(url).data), IMAGE[0])


def test_s3_explicit_options_without_any_environment(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch, s3_env: str
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    options = {"endpoint_url": s3_env, "key": "explicit-key", "secret": "explicit-secret"}

    # The pixel writers take a store (the writer creates the group in fmt's zarr format) or a
    # group opened with the options; the reader takes storage_options itself.
    store = zarr.storage.FsspecStore.from_url(f"{s3_bucket}/v04.zarr", storage_options=options)
    write_image(IMAGE, store, scale_factors=(2,), fmt=FormatV04(), axes="cyx")
    group = open_group(f"{s3_bucket}/v05.zarr", mode="w", storage_options=options)
    write_image(IMAGE, group, scale_factors=(2,), axes="cyx")
    for name, version in (("v04.zarr", "0.4"), ("v05.zarr", "0.5")):
        image = open_image(f"{s3_bucket}/{name}", storage_options=options)
        assert image.version == version
        np.testing.assert_array_equal(np.asarray(image.data), IMAGE)
    assert open_ome_zarr(f"{s3_bucket}/v04.zarr", storage_options=options).dims == ("c", "y", "x")

    read_only = zarr.storage.FsspecStore.from_url(
        f"{s3_bucket}/v04.zarr", storage_options=options, read_only=True
    )
    report = validate(read_only)
    assert report.valid, report.format()
    assert (report.kind, report.version) == ("image", "0.4")


# --------------------------------------------------------------------------------------------
# Store objects and file:// URLs
# --------------------------------------------------------------------------------------------


def _memory_store(tmp_path: Path, bucket: str) -> zarr.storage.MemoryStore:
    return zarr.storage.MemoryStore()


def _local_store(tmp_path: Path, bucket: str) -> zarr.storage.LocalStore:
    return zarr.storage.LocalStore(tmp_path / "store.zarr")


def _fsspec_store(tmp_path: Path, bucket: str) -> zarr.storage.FsspecStore:
    return zarr.storage.FsspecStore.from_url(f"{bucket}/store.zarr")


@pytest.mark.parametrize("make_store", [_memory_store, _local_store, _fsspec_store])
def test_store_objects_are_written_read_and_validated(
    s3_bucket: str, tmp_path: Path, make_store: Any
) -> None:
    store = make_store(tmp_path, s3_bucket)
    write_image_with_labels(store, "0.5-sharded")
    image = open_image(store)
    np.testing.assert_array_equal(np.asarray(image.data), IMAGE)
    np.testing.assert_array_equal(np.asarray(image.label("cells").data), LABELS)
    report = validate(store)
    assert report.valid, report.format()
    assert report.kind == "image"


def test_file_urls_work_like_paths(tmp_path: Path) -> None:
    url = (tmp_path / "file url.zarr").as_uri()  # percent-encoded space
    write_image_with_labels(url, "0.4")
    assert (tmp_path / "file url.zarr" / ".zattrs").is_file()
    np.testing.assert_array_equal(np.asarray(open_image(url).data), IMAGE)
    assert validate(url).valid


def test_storage_options_are_refused_for_local_paths(tmp_path: Path) -> None:
    write_image(IMAGE[0], tmp_path / "img.zarr", scale_factors=(), axes="yx")
    with pytest.raises(ValueError, match="storage_options"):
        open_image(tmp_path / "img.zarr", storage_options={"anon": True})


# --------------------------------------------------------------------------------------------
# http:// is read-only
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["0.4", "0.5-sharded"])
def test_http_image_is_read_and_validated(http_root: tuple[Path, str], layout: str) -> None:
    directory, base = http_root
    name = f"image-{layout}.zarr"
    write_image_with_labels(directory / name, layout)
    local = open_image(directory / name)

    image = open_image(f"{base}/{name}")
    for got, expected in zip(levels_of(image), levels_of(local), strict=True):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.asarray(image.label("cells").data), LABELS)
    report = validate(f"{base}/{name}")
    assert report.valid, report.format()
    assert (report.kind, report.version) == ("image", LAYOUTS[layout][0].version)


def test_http_targets_are_refused_for_writing_before_anything_happens(
    http_root: tuple[Path, str], closed_port: int
) -> None:
    directory, base = http_root
    url = f"{base}/refused.zarr"
    with pytest.raises(ValueError, match=r"group: http://.*refused\.zarr.*read-only"):
        write_image(IMAGE, url, axes="cyx")
    with pytest.raises(ValueError, match="read-only"):
        write_plate_metadata(url, ["A"], ["1"], ["A/1"])
    # A store the user opened over HTTP is refused too, and so is a label write into it.
    _written_image(directory / "existing.zarr")
    store = zarr.storage.FsspecStore.from_url(f"{base}/existing.zarr")
    with pytest.raises(ValueError, match="read-only"):
        write_labels(LABELS, store, "cells", axes="yx")
    assert not (directory / "refused.zarr").exists()
    assert not (directory / "existing.zarr" / "labels").exists()
    # Nothing is contacted: an unreachable host gives the same refusal, not a network error.
    with pytest.raises(ValueError, match="read-only"):
        write_image(IMAGE, f"http://127.0.0.1:{closed_port}/x.zarr", axes="cyx")


def _written_image(path: Path) -> Path:
    write_image(IMAGE[0], path, scale_factors=(), axes="yx")
    return path


def test_read_only_group_is_refused_by_writers(tmp_path: Path) -> None:
    path = _written_image(tmp_path / "img.zarr")
    group = zarr.open_group(path, mode="r")
    with pytest.raises(ValueError, match="read-only"):
        write_labels(LABELS, group, "cells", axes="yx")
    assert not (path / "labels").exists()


# --------------------------------------------------------------------------------------------
# Unreachable endpoints fail at once, naming the URL
# --------------------------------------------------------------------------------------------


def test_unreachable_http_url_gives_a_connection_error(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/x.zarr"
    with pytest.raises(ConnectionError, match=r"cannot reach http://127\.0\.0\.1:\d+/x\.zarr"):
        open_image(url)
    with pytest.raises(ConnectionError, match="cannot reach"):
        validate(url)


def test_unreachable_s3_endpoint_gives_a_connection_error(
    s3_env: str, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's retry count, documented knob
    with pytest.raises(ConnectionError, match=r"cannot reach s3://bucket/x\.zarr.*endpoint"):
        write_image(IMAGE, "s3://bucket/x.zarr", axes="cyx")
    with pytest.raises(ConnectionError, match="cannot reach"):
        open_image("s3://bucket/x.zarr")
