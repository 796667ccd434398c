"""Archives streamed to S3 (moto on 127.0.0.1): a multipart upload fed as chunks are encoded,
no local file, the documents first although they are finished last, nothing at the URL until
the upload completes, and read back by omezarr, zarr's ZipStore, ngff-zarr and ``unzip -t``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import ngff_zarr as nz
import numpy as np
import pytest
import zarr

from _cli import run_cli
from omezarr.io import archive_stream
from omezarr.io.archive import ArchiveStore
from omezarr.io.archive_open import open_ozx, open_remote_archive
from omezarr.io.archive_stream import MIN_PART, StreamedArchiveWriter, StreamedEntryError
from omezarr.reader import open_image, open_plate
from omezarr.writer import write_image, write_labels, write_plate_metadata, write_well_metadata
from test_ozx_write import _check_archive


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> int:
    """Parts of S3's smallest size, so that a small image makes several of them."""
    monkeypatch.setattr(archive_stream, "PART_SIZE", MIN_PART)
    return MIN_PART


@pytest.fixture
def no_local_files() -> Iterator[None]:
    """Fails if a streamed write leaves or makes a file in the temporary directory."""
    folder = Path(tempfile.gettempdir())
    before = {p.name for p in folder.glob(".omezarr-upload-*")}
    yield
    assert {p.name for p in folder.glob(".omezarr-upload-*")} == before


def _noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Pixels that do not compress, so that the archive is as large as the image."""
    return np.random.default_rng(seed).integers(0, 65535, shape, dtype=np.uint16)


def _downloaded(url: str, folder: Path) -> Path:
    local = folder / Path(url).name
    fsspec.filesystem("s3").get_file(url, str(local))
    return local


def _parts(url: str) -> int:
    """How many parts the object at ``url`` was uploaded in (S3's ETag says it: "…-N")."""
    tag = fsspec.filesystem("s3").info(url)["ETag"].strip('"')
    return int(tag.rsplit("-", 1)[1]) if "-" in tag else 1


def test_an_image_is_streamed_in_parts_and_read_by_every_reader(
    tmp_path: Path, s3_bucket: str, small_parts: int, no_local_files: None
) -> None:
    pixels = _noise((4, 1536, 2048), 3)  # 24 MiB: part 1 and at least two more
    url = f"{s3_bucket}/noise.ozx"
    assert write_image(pixels, url, axes="cyx", scale_factors=[2, 4]) == []
    assert _parts(url) >= 3
    ours = open_image(url)
    np.testing.assert_array_equal(np.asarray(ours.levels[0]), pixels)
    local = _downloaded(url, tmp_path)
    handle = _check_archive(local)  # RFC-9, zarr.json entries first, unzip -t
    assert handle.namelist()[0] == "zarr.json"
    theirs = zarr.open_group(zarr.storage.ZipStore(local, mode="r"), mode="r")
    np.testing.assert_array_equal(theirs["s0"][...], pixels)
    np.testing.assert_array_equal(theirs["s2"][...], np.asarray(ours.levels[2]))
    multiscales = nz.from_ngff_zarr(str(local))
    np.testing.assert_array_equal(np.asarray(multiscales.images[0].data), pixels)


def test_a_small_archive_is_one_part(tmp_path: Path, s3_bucket: str) -> None:
    pixels = _noise((64, 80), 4)
    url = f"{s3_bucket}/small.ozx"
    write_image(pixels, url, axes="yx", scale_factors=[])
    assert _parts(url) == 1
    _check_archive(_downloaded(url, tmp_path))
    np.testing.assert_array_equal(np.asarray(open_image(url).levels[0]), pixels)


def test_a_failed_streamed_write_leaves_nothing_and_no_upload(
    s3_bucket: str, small_parts: int, no_local_files: None
) -> None:
    pixels = _noise((1, 16384, 2048), 5)  # 64 MiB, read in pieces within the budget
    fs = fsspec.filesystem("s3")
    url = f"{s3_bucket}/failed.ozx"
    fs.pipe_file(url, b"what was there")

    class Failing:  # fails once parts are uploaded: nothing may change at the URL
        shape, dtype, ndim = pixels.shape, pixels.dtype, pixels.ndim

        def __getitem__(self, key: Any) -> np.ndarray:
            if key[1].stop == pixels.shape[1] and key[1].start > 0:  # the last piece:
                raise OSError("the microscope went away")  # parts are uploaded by then
            return pixels[key]

    with pytest.raises(OSError, match="the microscope went away"):
        write_image(
            Failing(),
            url,
            axes="cyx",
            overwrite=True,
            memory_budget="128M",  # less the upload's buffers: read in pieces
            scale_factors=[2],
            storage_options={"chunks": (1, 256, 2048), "shards": (1, 256, 2048)},
        )
    assert fs.cat_file(url) == b"what was there"
    assert fs.list_multipart_uploads(s3_bucket.removeprefix("s3://")) == []  # aborted


def test_entries_are_read_back_while_in_memory_or_small(s3_bucket: str, small_parts: int) -> None:
    fs = fsspec.filesystem("s3")
    url = f"{s3_bucket}/direct.ozx"
    writer = open_remote_archive(url, overwrite=False)
    assert isinstance(writer, StreamedArchiveWriter)
    small = {"shape": [4, 4], "data_type": "uint8", "node_type": "array"}
    large = {"shape": [4096, 4096], "data_type": "uint16", "node_type": "array"}
    writer.append("small/zarr.json", [json.dumps(small).encode()])
    writer.append("large/zarr.json", [json.dumps(large).encode()])
    writer.append("small/c/0/0", [b"kept"])
    first = _noise((1024, 1024), 6).tobytes()  # 2 MiB each
    for i in range(7):  # part 1, then a part uploaded, then part of one
        writer.append(f"large/c/{i}/0", [first])
    assert writer.read("large/c/0/0") == first  # in part 1, which is uploaded last
    assert writer.read("large/c/6/0", 10, 20) == first[10:20]  # in the part being filled
    for i in range(7, 16):
        writer.append(f"large/c/{i}/0", [first])
    with pytest.raises(StreamedEntryError, match="cannot be read back until it is complete"):
        writer.read("large/c/3/0")
    assert writer.read("small/c/0/0") == b"kept"  # a small array's entries are kept
    assert writer.read("missing/c/0") is None
    store = ArchiveStore(writer)
    assert "small/c/0/0" in store.entry_names()
    writer.abandon()
    assert not fs.exists(url)
    assert fs.list_multipart_uploads(s3_bucket.removeprefix("s3://")) == []


def test_a_plate_with_labels_is_streamed_into_one_object(
    tmp_path: Path, s3_bucket: str, cells_image: Callable[..., np.ndarray], no_local_files: None
) -> None:
    url = f"{s3_bucket}/plate.ozx"
    wells = ("A/1", "B/2")
    fields = {
        (w, f): cells_image((1, 96, 128), "uint16", i)
        for i, (w, f) in enumerate((w, f) for w in wells for f in ("0", "1"))
    }
    with open_ozx(url, mode="w") as root:
        write_plate_metadata(root, ["A", "B"], ["1", "2"], list(wells))
        for well in wells:
            group = root.require_group(well)
            write_well_metadata(group, ["0", "1"])
            for field in ("0", "1"):
                image = group.require_group(field)
                write_image(fields[well, field], image, axes="cyx", scale_factors=[2])
                mask = (fields[well, field] > fields[well, field].mean()).astype(np.uint8)
                write_labels(mask, image, "cells", axes="cyx", scale_factors=[2])
        assert not fsspec.filesystem("s3").exists(url)  # nothing before the block ends
    _check_archive(_downloaded(url, tmp_path))
    plate = open_plate(url)
    for (well, field), expected in fields.items():
        image = plate.well(well).image(field)
        np.testing.assert_array_equal(np.asarray(image.levels[0]), expected)
        assert image.label_names == ["cells"]


def test_convert_streams_to_s3_with_channel_windows(
    tmp_path: Path, s3_bucket: str, cells_image: Callable[..., np.ndarray], no_local_files: None
) -> None:
    import tifffile

    pixels = cells_image((2, 600, 700), "uint16", 8)
    source = tmp_path / "cells.ome.tif"  # named channels: the image gets omero metadata
    tifffile.imwrite(
        source, pixels, ome=True, metadata={"axes": "CYX", "Channel": {"Name": ["DNA", "actin"]}}
    )
    url = f"{s3_bucket}/converted.ozx"
    done = run_cli("convert", str(source), url, "-q")
    assert done.returncode == 0, done.stderr
    image = open_image(url)
    np.testing.assert_array_equal(np.asarray(image.levels[0]), pixels)
    local = zarr.storage.ZipStore(_downloaded(url, tmp_path), mode="r")
    omero = zarr.open_group(local, mode="r").attrs["ome"]["omero"]
    coarsest = np.asarray(image.levels[-1])
    for index, channel in enumerate(omero["channels"]):  # from the coarsest level, read back
        assert channel["window"]["min"] == float(coarsest[index].min())
        assert channel["window"]["max"] == float(coarsest[index].max())
    assert [c["label"] for c in omero["channels"]] == ["DNA", "actin"]


def test_windows_too_large_to_read_back_are_the_type_range_with_a_warning(
    tmp_path: Path,
    s3_bucket: str,
    cells_image: Callable[..., np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    small_parts: int,
) -> None:
    import tifffile

    from omezarr.convert import ConversionWarning, convert

    monkeypatch.setattr(archive_stream, "_RETAINED_ARRAY", 0)  # as if every level were large
    pixels = _noise((2, 2048, 3072), 9)  # one level of 24 MiB: most of it uploaded at the end
    source = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        source, pixels, ome=True, metadata={"axes": "CYX", "Channel": {"Name": ["a", "b"]}}
    )
    url = f"{s3_bucket}/no-windows.ozx"
    with pytest.warns(ConversionWarning, match="channel windows are the pixel type's range"):
        convert(str(source), url, scale_factors=[])
    np.testing.assert_array_equal(np.asarray(open_image(url).levels[0]), pixels)
    local = zarr.storage.ZipStore(_downloaded(url, tmp_path), mode="r")
    channels = zarr.open_group(local, mode="r").attrs["ome"]["omero"]["channels"]
    assert [c["label"] for c in channels] == ["a", "b"]
    full_range = {"min": 0.0, "max": 65535.0, "start": 0.0, "end": 65535.0}
    assert [c["window"] for c in channels] == [full_range, full_range]


def test_other_object_stores_get_the_archive_uploaded_whole(
    tmp_path: Path, cells_image: Callable[..., np.ndarray], no_local_files: None
) -> None:
    pixels = cells_image((2, 200, 240), "uint16", 10)
    url = "memory://omezarr-tests/cells.ozx"  # no multipart upload: written, then put
    memory = fsspec.filesystem("memory")
    try:
        write_image(pixels, url, axes="cyx", scale_factors=[2])
        local = tmp_path / "cells.ozx"
        local.write_bytes(memory.cat_file(url))
        _check_archive(local)
        np.testing.assert_array_equal(np.asarray(open_image(str(local)).levels[0]), pixels)
    finally:
        memory.rm("omezarr-tests", recursive=True)


def test_a_part_that_failed_to_upload_forbids_completing_the_archive(
    s3_bucket: str, small_parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{s3_bucket}/gap.ozx"
    writer = open_remote_archive(url, overwrite=False)
    assert isinstance(writer, StreamedArchiveWriter)
    calls = writer._call

    def flaky(method: str, **arguments: Any) -> Any:
        if method == "upload_part" and arguments["PartNumber"] == 2:
            raise ConnectionError("the network went away")
        return calls(method, **arguments)

    monkeypatch.setattr(writer, "_call", flaky)
    writer.append("zarr.json", [b'{"zarr_format": 3, "node_type": "group"}'])
    block = _noise((1024, 1024), 7).tobytes()
    failures = 0
    for i in range(8):  # part 2 fails while later entries are appended
        try:
            writer.append(f"c/{i}", [block])
        except ConnectionError:
            failures += 1  # a caller that catches this and goes on…
    assert failures == 1
    with pytest.raises(OSError, match="failed to upload"):  # …cannot complete a gap
        writer.commit()
    assert not fsspec.filesystem("s3").exists(url)
    assert fsspec.filesystem("s3").list_multipart_uploads(s3_bucket.removeprefix("s3://")) == []


def test_parts_are_planned_from_the_size_and_taken_out_of_the_budget(s3_bucket: str) -> None:
    from omezarr.io.archive_stream import PART_SIZE, part_size_for

    assert part_size_for(0) == PART_SIZE
    assert part_size_for(2**40) * 9000 >= 2**40  # a terabyte fits S3's parts at one size
    url = f"{s3_bucket}/small-budget.ozx"
    with pytest.raises(ValueError, match="memory_budget: 48 MiB leaves the writer"):
        write_image(_noise((64, 64), 8), url, axes="yx", memory_budget="48M")
    assert not fsspec.filesystem("s3").exists(url)
