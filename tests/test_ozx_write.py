"""Writing single-file OME-Zarr (RFC-9, ``.ozx``) directly: every writer, convert and demo;
read back by omezarr, zarr's ZipStore, ngff-zarr and ``unzip -t``; crash-safe and resumable."""

from __future__ import annotations

import inspect
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

import dask
import ngff_zarr as nz
import numpy as np
import pytest
import zarr
from zarr.storage import FsspecStore

from _cli import run_cli
from omezarr import upgrade
from omezarr.cli import main
from omezarr.format import FormatV04, FormatV05, FormatV06
from omezarr.io import zip_records
from omezarr.io.archive import recover_entries
from omezarr.io.archive_open import open_ozx
from omezarr.reader import open_image, open_label, open_plate
from omezarr.tools.viewer import create_server
from omezarr.validate import validate
from omezarr.writer import (
    write_image,
    write_labels,
    write_plate_metadata,
    write_well_metadata,
)

_UNZIP = shutil.which("unzip")


def _check_archive(path: Path, version: str = "0.5") -> zipfile.ZipFile:
    """What every archive omezarr writes must be: RFC-9 without a warning, tested by unzip."""
    report = validate(str(path))
    assert report.valid and report.version == version, report.format()
    assert not report.violations, report.format()  # the RFC's recommendations included
    if _UNZIP is not None:
        tested = subprocess.run([_UNZIP, "-t", str(path)], capture_output=True, text=True)
        assert tested.returncode == 0 and "No errors detected" in tested.stdout, tested.stdout
    handle = zipfile.ZipFile(path)
    infos = handle.infolist()
    assert all(info.compress_type == zipfile.ZIP_STORED for info in infos)
    names = [info.filename for info in infos]
    assert len(names) == len(set(names))  # an entry written twice is listed once
    documents = [n for n in names if n.endswith("zarr.json")]
    assert names[: len(documents)] == sorted(documents, key=lambda n: (n.count("/"), n))
    offsets = {info.filename: info.header_offset for info in infos}
    # First in the file as well as in the directory.
    assert max(offsets[n] for n in documents) < min(
        (offsets[n] for n in names if n not in documents), default=2**63
    )
    comment = json.loads(handle.comment)
    assert comment == {
        "ome": {"version": version, "zipFile": {"centralDirectory": {"jsonFirst": True}}}
    }
    return handle


def _only(folder: Path) -> list[str]:
    """The names in ``folder``, hidden ones included (no staging directory or partial file)."""
    return sorted(p.name for p in folder.iterdir())


def test_write_image_writes_an_archive_read_by_every_reader(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    pixels = cells_image((2, 300, 400), "uint16", 5)
    target = tmp_path / "cells.ozx"
    assert write_image(pixels, str(target), axes="cyx", scale_factors=[2, 4]) == []
    assert _only(tmp_path) == ["cells.ozx"]  # one file: no directory, no staging copy
    handle = _check_archive(target)
    assert handle.namelist()[0] == "zarr.json"
    ours = open_image(str(target))
    assert all(ours.group[path].shards is not None for path in ours.paths)  # sharded by default
    np.testing.assert_array_equal(np.asarray(ours.levels[0]), pixels)
    theirs = zarr.open_group(zarr.storage.ZipStore(target, mode="r"), mode="r")
    np.testing.assert_array_equal(theirs["s0"][...], pixels)
    np.testing.assert_array_equal(theirs["s2"][...], np.asarray(ours.levels[2]))
    multiscales = nz.from_ngff_zarr(str(target))
    np.testing.assert_array_equal(np.asarray(multiscales.images[0].data), pixels)


def _write_tiled(pixels: np.ndarray, target: Path) -> None:
    """Two levels of 64 × 64 chunks in 128 × 256 shards: many entries from a small image."""
    write_image(
        pixels,
        str(target),
        axes="cyx",
        scale_factors=[2],
        storage_options={"chunks": (1, 64, 64), "shards": (1, 128, 256)},
    )


def test_many_shards_encoded_in_parallel_are_all_there(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    pixels = cells_image((1, 1024, 1536), "uint16", 7)
    target = tmp_path / "tiles.ozx"
    _write_tiled(pixels, target)
    handle = _check_archive(target)
    assert sum(n.startswith("s0/c/") for n in handle.namelist()) == 8 * 6
    np.testing.assert_array_equal(np.asarray(open_image(str(target)).levels[0]), pixels)


def test_labels_are_added_to_an_archive_that_stays_whole_until_then(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    pixels = cells_image((2, 200, 240), "uint16", 3)
    target = tmp_path / "cells.ozx"
    write_image(pixels, str(target), axes="cyx", scale_factors=[2])
    before = target.read_bytes()
    labels = (pixels[0] > np.median(pixels[0])).astype(np.uint8)[None]
    with pytest.raises(TypeError, match="integer dtype"):  # refused before anything is written
        write_labels(labels.astype(np.float32), str(target), "cells", axes="cyx")
    assert target.read_bytes() == before and _only(tmp_path) == ["cells.ozx"]

    class Failing:  # fails half-way through the label's pixels
        shape, dtype, ndim = labels.shape, labels.dtype, labels.ndim

        def __getitem__(self, key: object) -> np.ndarray:
            if isinstance(key, tuple) and key[1].start:
                raise OSError("the disk went away")
            return labels[key]

    with pytest.raises(OSError, match="the disk went away"):
        write_labels(
            Failing(),
            str(target),
            "cells",
            axes="cyx",
            storage_options={"chunks": (1, 64, 64), "shards": (1, 64, 128)},
        )
    assert target.read_bytes() == before and _only(tmp_path) == ["cells.ozx"]

    write_labels(labels, str(target), "cells", axes="cyx")
    _check_archive(target)
    image = open_image(str(target))
    np.testing.assert_array_equal(np.asarray(image.levels[0]), pixels)
    assert image.label_names == ["cells"]
    label = open_label(image.group["labels/cells"])
    np.testing.assert_array_equal(np.asarray(label.levels[0]), labels)
    assert [level.shape for level in label.levels] == [(1, 200, 240), (1, 100, 120)]


def test_a_plate_is_written_into_one_archive(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    target = tmp_path / "plate.ozx"
    fields = {
        (well, field): cells_image((1, 96, 128), "uint16", i)
        for i, (well, field) in enumerate((w, f) for w in ("A/1", "A/2", "B/1") for f in ("0", "1"))
    }
    with open_ozx(target, mode="w") as root:
        write_plate_metadata(root, ["A", "B"], ["1", "2"], ["A/1", "A/2", "B/1"])
        for well in ("A/1", "A/2", "B/1"):
            group = root.require_group(well)
            write_well_metadata(group, ["0", "1"])
            for field in ("0", "1"):
                write_image(
                    fields[well, field], group.require_group(field), axes="cyx", scale_factors=[2]
                )
        assert _only(tmp_path) != ["plate.ozx"]  # nothing at the name before the block ends
    assert _only(tmp_path) == ["plate.ozx"]
    _check_archive(target)
    plate = open_plate(str(target))
    for (well, field), expected in fields.items():
        image = plate.well(well).image(field)
        np.testing.assert_array_equal(np.asarray(image.levels[0]), expected)


def test_a_failed_block_leaves_what_was_there(tmp_path: Path) -> None:
    target = tmp_path / "kept.ozx"
    write_image(np.ones((64, 64), np.uint8), str(target), scale_factors=[])
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="stop"), open_ozx(target, mode="w") as root:
        write_image(np.zeros((64, 64), np.uint8), root, scale_factors=[])
        raise RuntimeError("stop")
    assert target.read_bytes() == before and _only(tmp_path) == ["kept.ozx"]


def test_version_0_6_archives_are_read_by_ngff_zarr(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    pixels = cells_image((2, 120, 160), "uint16", 2)
    target = tmp_path / "cells6.ozx"
    write_image(pixels, str(target), axes="cyx", scale_factors=[2], fmt=FormatV06())
    _check_archive(target, "0.6")
    multiscales = nz.from_ngff_zarr(str(target))
    np.testing.assert_array_equal(np.asarray(multiscales.images[0].data), pixels)
    assert list(multiscales.images[0].dims) == ["c", "y", "x"]


def test_compute_false_writes_the_archive_when_computed(tmp_path: Path) -> None:
    pixels = np.arange(128 * 96, dtype=np.uint16).reshape(128, 96)
    target = tmp_path / "later.ozx"
    delayed = write_image(pixels, str(target), scale_factors=[2], compute=False)
    assert not target.exists()
    dask.compute(*delayed, scheduler="threads")
    _check_archive(target)
    np.testing.assert_array_equal(np.asarray(open_image(str(target)).levels[0]), pixels)


def test_large_sizes_and_offsets_use_zip64_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4 GiB are too much for a test: the threshold is lowered so that every size and offset
    # above 100 bytes takes the ZIP64 path that a large archive takes.
    monkeypatch.setattr(zip_records, "_ZIP64_FROM", 100)
    pixels = np.random.default_rng(3).integers(0, 60000, (200, 300), dtype=np.uint16)
    target = tmp_path / "big.ozx"
    write_image(
        pixels,
        str(target),
        scale_factors=[2],
        storage_options={"chunks": (50, 64), "shards": (100, 128)},
    )
    handle = _check_archive(target)
    with target.open("rb") as file:  # the chunk entries' central records carry ZIP64 fields
        infos = [i for i in handle.infolist() if "/c/" in i.filename]
        assert infos and all(i.header_offset >= 100 for i in infos)
        assert all(any(e[0] == 1 for e in _extra_fields(i.extra)) for i in infos), file.name
    np.testing.assert_array_equal(
        zarr.open_group(zarr.storage.ZipStore(target, mode="r"), mode="r")["s0"][...], pixels
    )


def _extra_fields(extra: bytes) -> list[tuple[int, int]]:
    fields, offset = [], 0
    while offset + 4 <= len(extra):
        kind, size = (
            int.from_bytes(extra[offset : offset + 2], "little"),
            int.from_bytes(extra[offset + 2 : offset + 4], "little"),
        )
        fields.append((kind, size))
        offset += 4 + size
    return fields


def test_what_cannot_be_written_is_refused_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "x.npy"
    np.save(source, np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"fmt: a single-file OME-Zarr \(\.ozx\) holds zarr v3"):
        write_image(np.zeros((8, 8), np.uint8), str(tmp_path / "a.ozx"), fmt=FormatV04())
    result = run_cli("convert", str(source), str(tmp_path / "b.ozx"), "--format", "0.4")
    assert result.returncode == 2 and "--format 0.5 or later" in result.stderr
    (tmp_path / "c.ozx").write_text("not an archive")
    for extra in ([], ["--overwrite"]):
        result = run_cli("convert", str(source), str(tmp_path / "c.ozx"), *extra)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "exists and is no ZIP archive" in result.stderr
    with zipfile.ZipFile(tmp_path / "d.ozx", "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("zarr.json", json.dumps({"zarr_format": 3, "node_type": "group"}))
    with pytest.raises(ValueError, match="compressed by ZIP"):
        write_image(np.zeros((8, 8), np.uint8), str(tmp_path / "d.ozx"), scale_factors=[])
    with pytest.raises(ValueError, match=r"is no local path or object-store URL ending in \.ozx"):
        open_ozx(tmp_path / "e.zarr").__enter__()
    assert _only(tmp_path) == ["c.ozx", "d.ozx", "x.npy"]


def test_convert_and_demo_write_archives_and_read_them_back(tmp_path: Path) -> None:
    pixels = np.random.default_rng(8).integers(0, 255, (2, 300, 260), dtype=np.uint8)
    source = tmp_path / "x.npy"
    np.save(source, pixels)
    target = tmp_path / "x.ozx"
    result = run_cli("convert", str(source), str(target), "--axes", "cyx", "-q")
    assert result.returncode == 0, result.stderr
    _check_archive(target)
    back = tmp_path / "back.ome.zarr"  # in this process from here on: the CLI is tested above
    assert main(["convert", str(target), str(back), "-q"]) == 0
    np.testing.assert_array_equal(np.asarray(open_image(str(back)).levels[0]), pixels)
    again = tmp_path / "again.ozx"
    assert main(["convert", str(back), str(again), "-q"]) == 0
    np.testing.assert_array_equal(np.asarray(open_image(str(again)).levels[0]), pixels)
    demo = tmp_path / "demo.ozx"
    assert main(["demo", str(demo)]) == 0
    _check_archive(demo)
    assert open_image(str(demo)).label_names == ["nuclei"]


def _convert(source: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "omezarr", "convert", str(source), str(output), "-q",
        "--axes", "zyx", "--scale-factors", "2", "--chunks", "1,128,128",
        "--shards", "4,256,256", *extra,
    ]  # fmt: skip


def test_a_killed_archive_write_leaves_no_archive_and_resumes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 3000, (32, 1024, 1024), dtype=np.uint16)
    source = tmp_path / "stack.npy"
    np.save(source, pixels)
    del pixels
    target = tmp_path / "out.ozx"
    child = subprocess.Popen(
        _convert(source, target), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    partial: list[Path] = []
    while child.poll() is None and time.monotonic() < deadline:
        partial = list(tmp_path.glob(".out.ozx.partial-*"))
        if partial and partial[0].stat().st_size > 8 * 2**20:  # chunks are being appended
            break
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert partial, "the write ended before it could be killed"
    assert not target.exists()  # never an archive that opens as an incomplete image
    entries, end, region, _ = recover_entries(partial[0])
    assert entries and region is not None and end <= partial[0].stat().st_size
    assert all(not n.endswith("zarr.json") for n in entries)  # documents come at the commit
    inode = partial[0].stat().st_ino

    resumed = subprocess.run(
        _convert(source, target, "--resume"), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _only(tmp_path) == ["out.ozx", "stack.npy"]
    assert target.stat().st_ino == inode  # the partial file was continued, not started over
    _check_archive(target)
    expected = np.load(source, mmap_mode="r")
    image = open_image(str(target))
    np.testing.assert_array_equal(np.asarray(image.levels[0]), expected)
    verified = run_cli("verify", str(target))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_recovery_keeps_only_whole_entries(tmp_path: Path) -> None:
    pixels = np.random.default_rng(5).integers(0, 60000, (256, 256), dtype=np.uint16)
    whole = tmp_path / "whole.ozx"
    write_image(
        pixels,
        str(whole),
        scale_factors=[],
        storage_options={"chunks": (64, 64), "shards": (64, 128)},
    )
    data = whole.read_bytes()
    with zipfile.ZipFile(whole) as handle:
        chunks = sorted(
            (i for i in handle.infolist() if "/c/" in i.filename), key=lambda i: i.header_offset
        )
    last = chunks[-1]
    cut = tmp_path / "cut"
    cut.write_bytes(data[: last.header_offset + 40])  # the last chunk entry is cut short
    entries, end, _, _ = recover_entries(cut)
    assert sorted(entries) == sorted(i.filename for i in chunks[:-1]) and end == last.header_offset
    broken = bytearray(data[: last.header_offset])
    second = chunks[1]
    broken[second.header_offset + 60] ^= 0xFF  # a flipped bit in the second chunk's bytes
    cut.write_bytes(bytes(broken))
    entries, end, _, _ = recover_entries(cut)
    assert sorted(entries) == [chunks[0].filename] and end == second.header_offset


def test_an_archive_is_upgraded_to_0_6_and_stays_whole_until_then(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    pixels = cells_image((2, 96, 128), "uint16", 9)
    target = tmp_path / "cells.ozx"
    write_image(pixels, str(target), axes="cyx", scale_factors=[2])
    write_labels((pixels[:1] > 100).astype(np.uint8), str(target), "mask", axes="cyx")
    before = target.read_bytes()
    assert upgrade(str(target), "0.6", dry_run=True).changed and target.read_bytes() == before
    report = upgrade(str(target), "0.6")
    assert set(report.changed) == {".", "labels", "labels/mask"}
    assert _only(tmp_path) == ["cells.ozx"]
    _check_archive(target, "0.6")
    np.testing.assert_array_equal(np.asarray(open_image(str(target)).levels[0]), pixels)
    result = run_cli("upgrade", str(target), "--to", "0.6")  # already 0.6: nothing to change
    assert result.returncode == 0, result.stderr


def test_view_serves_an_archive_to_zarr_over_http_by_range(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    pixels = cells_image((2, 256, 256), "uint16", 4)
    target = tmp_path / "cells.ozx"
    _write_tiled(pixels, target)
    server = create_server(target, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(server.url + "api/metadata") as response:
            assert json.load(response)["levels"][0]["shape"] == [2, 256, 256]
        request = urllib.request.Request(
            server.url + "data/s0/c/0/0/0", headers={"Range": "bytes=0-99"}
        )
        with urllib.request.urlopen(request) as response, zipfile.ZipFile(target) as handle:
            assert response.status == 206
            assert response.read() == handle.read("s0/c/0/0/0")[:100]
        store = FsspecStore.from_url(server.url + "data/", read_only=True)
        served = zarr.open_group(store, mode="r")
        np.testing.assert_array_equal(served["s0"][...], pixels)
        np.testing.assert_array_equal(served["s0"][1, 70:90, 10:20], pixels[1, 70:90, 10:20])
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url + "data/../cells.ozx")
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    (tmp_path / "plain.ozx").write_bytes(b"not a zip")
    assert main(["view", str(tmp_path / "plain.ozx"), "--port", "0", "--no-browser"]) == 2


@pytest.mark.parametrize("budget", ["256M", "1G"])
def test_automatic_shards_of_a_large_image_fit_the_budget(budget: str) -> None:
    import dask.array as da

    from omezarr.write.pixels import planned_image

    # 8 GiB, in the input's 2048² chunks: shards of a quarter of the budget (the first
    # choice) need several times that on five levels, so smaller ones are chosen.
    lazy = da.zeros((1, 1, 64, 8192, 8192), dtype=np.uint16, chunks=(1, 1, 1, 2048, 2048))
    planned = planned_image(lazy, storage_options={"shards": "auto"}, memory_budget=budget)
    shards = planned["s0"].shards
    assert shards is not None and planned["s0"].chunks == (1, 1, 1, 2048, 2048)
    shard_bytes = int(np.prod(shards)) * 2
    assert (
        8 * 2**20 <= shard_bytes <= int(budget[:-1]) * 2**20 * {"M": 1, "G": 1024}[budget[-1]] // 4
    )


def test_archives_are_written_to_object_storage_whole(
    tmp_path: Path, s3_bucket: str, cells_image: Callable[..., np.ndarray]
) -> None:
    import tempfile

    import fsspec

    pixels = cells_image((2, 160, 200), "uint16", 11)
    url = f"{s3_bucket}/cells.ozx"
    fs = fsspec.filesystem("s3")
    uploads = set(Path(tempfile.gettempdir()).glob(".omezarr-upload-*"))

    class Failing:  # fails half-way: nothing may appear at the URL
        shape, dtype, ndim = pixels.shape, pixels.dtype, pixels.ndim

        def __getitem__(self, key: object) -> np.ndarray:
            if isinstance(key, tuple) and key[1].start:
                raise OSError("the microscope went away")
            return pixels[key]

    with pytest.raises(OSError, match="the microscope went away"):
        write_image(
            Failing(),
            url,
            axes="cyx",
            storage_options={"chunks": (1, 32, 200), "shards": (1, 64, 200)},
        )
    assert not fs.exists(url)
    write_image(pixels, url, axes="cyx", scale_factors=[2])
    np.testing.assert_array_equal(np.asarray(open_image(url).levels[0]), pixels)
    local = tmp_path / "downloaded.ozx"
    fs.get_file(url, str(local))
    _check_archive(local)
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        write_image(pixels, url, axes="cyx")
    with pytest.raises(ValueError, match=r"labels cannot be added to an \.ozx on object storage"):
        write_labels((pixels[:1] > 0).astype(np.uint8), url, "mask", axes="cyx")
    with pytest.raises(ValueError, match="cannot be resumed"):
        write_image(pixels, url, axes="cyx", resume=True)
    with open_ozx(url, mode="w") as root:  # image and labels, replacing the archive
        write_image(pixels[::-1], root, axes="cyx", scale_factors=[2])
        write_labels((pixels[:1] > 100).astype(np.uint8), root, "mask", axes="cyx")
    image = open_image(url)
    np.testing.assert_array_equal(np.asarray(image.levels[0]), pixels[::-1])
    assert image.label_names == ["mask"]
    source = tmp_path / "x.npy"
    np.save(source, pixels)
    converted = f"{s3_bucket}/converted.ozx"
    assert run_cli("convert", str(source), converted, "--axes", "cyx", "-q").returncode == 0
    np.testing.assert_array_equal(np.asarray(open_image(converted).levels[0]), pixels)
    again = run_cli("convert", str(source), converted, "--axes", "cyx", "-q")
    assert again.returncode == 2 and "already exists" in again.stderr
    old_format = run_cli("convert", str(source), f"{s3_bucket}/v04.ozx", "--format", "0.4")
    assert old_format.returncode == 2 and "--format 0.5 or later" in old_format.stderr
    assert not fs.exists(f"{s3_bucket}/v04.ozx")
    assert set(Path(tempfile.gettempdir()).glob(".omezarr-upload-*")) == uploads  # cleaned up


def test_metadata_writers_take_an_archive_path(tmp_path: Path) -> None:
    from omezarr.writer import add_metadata, get_metadata

    target = tmp_path / "plate.ozx"
    write_plate_metadata(str(target), ["A"], ["1"], ["A/1"])
    add_metadata(str(target), {"note": "from a second call"})
    attributes = get_metadata(str(target))
    assert attributes["plate"]["wells"] == [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}]
    assert attributes["note"] == "from a second call"
    assert _only(tmp_path) == ["plate.ozx"]
    with pytest.raises(ValueError, match="mode='w'"):
        add_metadata("s3://bucket/plate.ozx", {"note": "not added to object storage"})


_KILLED_WRITE = """
import os, sys, time
import numpy as np
from omezarr.writer import write_image

pixels = np.full((256, 256), 7, np.uint16)

class DiesHalfWay:  # as if killed: no exception handler, no clean-up runs
    shape, dtype, ndim = pixels.shape, pixels.dtype, pixels.ndim

    def __getitem__(self, key):
        if key[0].start:
            time.sleep(1.0)  # the first rows' shards are appended meanwhile (written behind)
            os._exit(9)
        return pixels[key]

write_image(DiesHalfWay(), sys.argv[1], scale_factors=[],
            storage_options={"chunks": (64, 64), "shards": (128, 256)})
"""


def test_a_resumed_archive_write_is_checked_against_the_killed_one(tmp_path: Path) -> None:
    target = tmp_path / "sevens.ozx"
    killed = subprocess.run([sys.executable, "-c", _KILLED_WRITE, str(target)], timeout=120)
    assert killed.returncode == 9 and not target.exists()
    (partial,) = tmp_path.glob(".sevens.ozx.partial-*")
    entries, _, region, documents = recover_entries(partial)
    assert entries and region is not None and "s0/zarr.json" in documents
    other = np.ones((512, 512), np.uint16)  # another image: refused, the partial kept
    with pytest.raises(ValueError, match="differs from the planned one"):
        write_image(
            other,
            str(target),
            scale_factors=[],
            storage_options={"chunks": (64, 64), "shards": (128, 256)},
            resume=True,
        )
    assert not target.exists()
    sevens = np.full((256, 256), 7, np.uint16)
    write_image(
        sevens,
        str(target),
        scale_factors=[],
        storage_options={"chunks": (64, 64), "shards": (128, 256)},
        resume=True,
    )
    _check_archive(target)
    np.testing.assert_array_equal(np.asarray(open_image(str(target)).levels[0]), sevens)


def test_a_write_killed_after_its_commit_began_is_resumed(tmp_path: Path) -> None:
    pixels = np.arange(256 * 256, dtype=np.uint16).reshape(256, 256)
    options = {"chunks": (64, 64), "shards": (128, 256)}
    finished = tmp_path / "finished.ozx"
    write_image(pixels, str(finished), scale_factors=[2], storage_options=options)
    # The documents were written and the directory begun: as a partial file, it is whole
    # entries up to where the directory starts.
    target = tmp_path / "late.ozx"
    shutil.copyfile(finished, tmp_path / ".late.ozx.partial-0123abcd")
    write_image(pixels, str(target), scale_factors=[2], storage_options=options, resume=True)
    _check_archive(target)
    np.testing.assert_array_equal(np.asarray(open_image(str(target)).levels[0]), pixels)
    assert _only(tmp_path) == ["finished.ozx", "late.ozx"]


_ADD_LABEL = """
import pathlib, sys, time
import numpy as np
from omezarr.writer import write_labels

value = int(sys.argv[2])
labels = np.full((1, 1024, 1024), value, np.uint8)
labels[0, ::7] = 0  # not a constant: it takes a moment to encode
ready = pathlib.Path(sys.argv[1] + f".ready{value}")
ready.touch()
while not pathlib.Path(sys.argv[1] + f".ready{3 - value}").exists():  # start together
    time.sleep(0.001)
write_labels(labels, sys.argv[1], f"label{value}", axes="cyx")
"""


def test_additions_to_one_archive_from_two_processes_both_land(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    target = tmp_path / "shared.ozx"
    write_image(cells_image((1, 1024, 1024), "uint16", 1), str(target), axes="cyx")
    writers = [
        subprocess.Popen([sys.executable, "-c", _ADD_LABEL, str(target), str(value)])
        for value in (1, 2)
    ]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    image = open_image(str(target))
    assert sorted(image.label_names) == ["label1", "label2"]  # neither addition lost
    for value in (1, 2):
        label = np.asarray(open_label(image.group[f"labels/label{value}"]).levels[0])
        assert np.all(label[0, 1::7] == value) and np.all(label[0, ::7] == 0)
    _check_archive(target)


def test_automatic_shards_leave_every_core_a_task() -> None:
    import dask.array as da

    from omezarr.write.pixels import _image_request
    from omezarr.write.request import plan_write

    # Shards span their level's planes unless capped: a task owns whole shards of every
    # level, so shards spanning every plane of a coarse level made the image one task.
    lazy = da.zeros((1, 1, 128, 4096, 4096), dtype=np.uint16, chunks=(1, 1, 1, 2048, 2048))

    def at_once(storage_options: dict | None) -> int:
        bound = inspect.signature(write_image).bind(
            lazy, None, storage_options=storage_options, memory_budget="256M"
        )
        bound.apply_defaults()
        plan = plan_write(_image_request(bound.arguments), FormatV05())
        return plan.engine_plans[0].concurrency

    assert at_once({"shards": "auto"}) >= min(at_once(None), 2)


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_large_entries_are_written_with_direct_io_where_the_disk_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from omezarr.io.archive_read import local_reader
    from omezarr.io.files import DIRECT_IO_MIN_BYTES, use_direct_io

    monkeypatch.setenv("OMEZARR_DIRECT_IO", mode)
    pixels = np.random.default_rng(9).integers(0, 2**16, (2, 1024, 1536), dtype=np.uint16)
    target = tmp_path / "direct.ozx"
    write_image(
        pixels,
        str(target),
        axes="cyx",
        scale_factors=[2],
        storage_options={"chunks": (1, 256, 256), "shards": (1, 512, 512)},
    )
    _check_archive(target)
    np.testing.assert_array_equal(np.asarray(open_image(str(target)).levels[0]), pixels)
    reader = local_reader(target, lambda *_: None)
    try:
        large = [n for n, e in reader.index.items() if e.size >= DIRECT_IO_MIN_BYTES]
        aligned = [reader.data_offset(n) % 4096 == 0 for n in large]
    finally:
        reader.close()
    assert large  # incompressible noise: every level-0 shard is large
    # With direct I/O each large entry's bytes start on a 4 KiB block (padded headers).
    assert all(aligned) == (mode == "auto" and use_direct_io(tmp_path, "auto"))
