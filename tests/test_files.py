"""Chunk files written with direct I/O or buffered hold the same bytes; the mode, the file
system lookup and the fallback when a file system refuses direct I/O."""

from __future__ import annotations

import errno
import itertools
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import zarr

import omezarr
from _arrays import random_image
from omezarr.io import files as _files
from omezarr.io.chunkio import direct_writer
from omezarr.io.files import (
    DIRECT_IO_ENV,
    DIRECT_IO_FILESYSTEMS,
    DIRECT_IO_MIN_BYTES,
    DirectIORefused,
    WriteBehind,
    direct_io_mode,
    filesystem_type,
    use_direct_io,
    write_file,
)

LINUX = sys.platform.startswith("linux")


@pytest.fixture
def direct_dir(tmp_path: Path) -> Path:
    """The temporary folder, for tests that write with direct I/O (strict mode, so a file
    system refusing it fails them rather than being worked around)."""
    if not LINUX:
        pytest.skip(f"direct I/O (O_DIRECT) is Linux-only; this is {sys.platform}")
    return tmp_path


def _parts(total: int, pieces: int, seed: int = 0) -> list[bytes]:
    data = np.random.default_rng(seed).integers(0, 256, total, dtype=np.uint8).tobytes()
    cuts = sorted({0, total, *np.random.default_rng(seed).integers(0, total + 1, pieces - 1)})
    return [data[a:b] for a, b in itertools.pairwise(cuts)] or [b""]


@pytest.mark.parametrize(
    "total", [0, 1, 4095, 4096, 4097, 3 * 4096, DIRECT_IO_MIN_BYTES - 1, 2**20 + 3]
)
@pytest.mark.parametrize("pieces", [1, 3])
def test_direct_and_buffered_files_hold_the_same_bytes(
    direct_dir: Path, total: int, pieces: int
) -> None:
    parts = _parts(total, pieces)
    write_file(direct_dir / "direct", parts, direct=True, strict=True)
    write_file(direct_dir / "buffered", parts, direct=False)
    expected = b"".join(parts)
    assert (direct_dir / "direct").read_bytes() == expected
    assert (direct_dir / "buffered").read_bytes() == expected


def test_direct_buffers_are_reused_then_released(direct_dir: Path) -> None:
    _files.release_buffers()
    small, large = _parts(5000, 2, seed=1), _parts(3 * 2**20 + 11, 4, seed=2)
    for name, parts in [("a", small), ("b", large), ("c", small)]:
        write_file(direct_dir / name, parts, direct=True, strict=True)
        assert (direct_dir / name).read_bytes() == b"".join(parts)
    assert _files._STAGING.free == [4 * 2**20]  # the small files reused the large buffer
    _files.release_buffers()
    assert _files._STAGING.free == []


@pytest.mark.parametrize("total", [3 * 4096, 3 * 4096 + 1, 10 * 4096 + 17, 50_001])
def test_files_larger_than_the_staging_buffer_pass_through_it_in_pieces(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch, total: int
) -> None:
    monkeypatch.setattr(_files, "_STAGING_BYTES", 2 * 4096)
    _files.release_buffers()
    parts = _parts(total, 5, seed=total)
    write_file(direct_dir / "file", parts, direct=True, strict=True)
    assert (direct_dir / "file").read_bytes() == b"".join(parts)
    assert _files._STAGING.free == [2 * 4096]  # never a whole file's worth
    _files.release_buffers()


def test_direct_write_refuses_an_existing_file(direct_dir: Path) -> None:
    (direct_dir / "there").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        write_file(direct_dir / "there", [bytes(DIRECT_IO_MIN_BYTES)], direct=True)
    assert (direct_dir / "there").read_bytes() == b"keep"


def _refuse_direct_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``open`` with O_DIRECT fail as a file system without direct I/O does (EINVAL)."""
    real_open = os.open

    def refusing_open(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & _files._O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(_files.os, "open", refusing_open)


def test_a_refused_open_falls_back_to_buffered_or_raises_when_strict(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_direct_open(monkeypatch)
    parts = _parts(DIRECT_IO_MIN_BYTES + 100, 2)
    assert write_file(direct_dir / "auto", parts, direct=True) is False
    assert (direct_dir / "auto").read_bytes() == b"".join(parts)
    with pytest.raises(DirectIORefused, match="direct I/O refused"):
        write_file(direct_dir / "strict", parts, direct=True, strict=True)
    assert not (direct_dir / "strict").exists()


def test_a_refused_write_removes_the_file_and_falls_back(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = []

    def refusing_write(descriptor: int, data: memoryview) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(descriptor, data)

    monkeypatch.setattr(_files.os, "write", refusing_write)
    parts = _parts(DIRECT_IO_MIN_BYTES + 4096 + 7, 3)
    assert write_file(direct_dir / "file", parts, direct=True) is False
    assert (direct_dir / "file").read_bytes() == b"".join(parts)


def test_other_write_errors_are_raised(direct_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(descriptor: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_files.os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_file(direct_dir / "file", [bytes(DIRECT_IO_MIN_BYTES)], direct=True)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "auto"), ("", "auto"), ("AUTO", "auto"), (" off ", "off")]
)
def test_direct_io_mode_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str
) -> None:
    if value is None:
        monkeypatch.delenv(DIRECT_IO_ENV, raising=False)
    else:
        monkeypatch.setenv(DIRECT_IO_ENV, value)
    assert direct_io_mode() == expected


def test_a_bad_direct_io_mode_is_a_value_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(DIRECT_IO_ENV, "sometimes")
    with pytest.raises(ValueError, match=r"\$OMEZARR_DIRECT_IO must be one of auto, on, off"):
        direct_io_mode()
    with pytest.raises(ValueError, match="OMEZARR_DIRECT_IO"):
        omezarr.write_image(np.zeros((64, 64), np.uint8), str(tmp_path / "x.zarr"), axes="yx")


MOUNTS = "\n".join(
    [
        "/dev/vda / ext4 rw,relatime 0 0",
        "tmpfs /dev/shm tmpfs rw 0 0",
        "server:/export /mnt/lab\\040data nfs4 rw 0 0",
        "/dev/vdb /mnt/lab\\040data/scratch xfs rw 0 0",
        "overlay /srv overlay rw 0 0",
        "/dev/vdc /srv btrfs rw 0 0",
        "/dev/vdd /mnt/données\\040ü/数据 xfs rw 0 0",
        "garbage",
    ]
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", "ext4"),
        ("/home/me/image.zarr", "ext4"),
        ("/dev/shm/x", "tmpfs"),
        ("/dev/shmem", "ext4"),  # a prefix of a mount point's name is not inside it
        ("/mnt/lab data/image.zarr", "nfs4"),
        ("/mnt/lab data/scratch/image.zarr", "xfs"),
        ("/srv/image.zarr", "btrfs"),  # the later of two mounts on one point is in use
        ("/mnt/données ü/数据/a.zarr", "xfs"),
    ],
)
def test_filesystem_type_takes_the_innermost_mount(path: str, kind: str) -> None:
    assert filesystem_type(path, MOUNTS) == kind


def test_filesystem_type_of_this_machine() -> None:
    kind = filesystem_type(".")
    if LINUX:
        assert isinstance(kind, str) and kind
        assert filesystem_type("/proc/self") == "proc"
    else:
        assert kind is None


def test_auto_mode_uses_direct_io_only_on_local_disk_file_systems(tmp_path: Path) -> None:
    assert use_direct_io(tmp_path, "off") is False
    assert use_direct_io(tmp_path, "on") is LINUX
    assert use_direct_io(tmp_path, "auto") is (
        LINUX and filesystem_type(tmp_path) in DIRECT_IO_FILESYSTEMS
    )
    assert use_direct_io("/proc", "auto") is False


@pytest.mark.parametrize("mode", ["on", "off", "auto"])
def test_direct_writer_takes_the_mode_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv(DIRECT_IO_ENV, mode)
    array = zarr.create_array(tmp_path / "a.zarr", shape=(8,), chunks=(4,), dtype="u1")
    writer = direct_writer(array)
    assert writer is not None
    assert writer.direct_io.enabled is use_direct_io(writer.folder, mode)
    assert writer.direct_io.strict is (mode == "on")


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("sharded", [False, True])
def test_whole_writes_are_byte_identical_with_and_without_direct_io(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch, sharded: bool
) -> None:
    image = random_image(np.random.default_rng(5), (3, 700, 900), np.uint16)
    options = {"chunks": (1, 256, 256)}
    if sharded:
        options["shards"] = (1, 512, 512)
    trees = {}
    for mode in ("on", "off"):
        monkeypatch.setenv(DIRECT_IO_ENV, mode)
        path = direct_dir / f"{mode}.zarr"
        omezarr.write_image(image, str(path), axes="zyx", storage_options=options)
        trees[mode] = _tree(path)
        np.testing.assert_array_equal(zarr.open_group(path, mode="r")["s0"][:], image)
    assert trees["on"] == trees["off"]
    assert any(len(data) >= 4096 for data in trees["on"].values())  # direct I/O had work


def test_delayed_tasks_release_their_threads_direct_io_buffers(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # compute=False tasks run in threads that outlive the write (a dask worker's; here, with
    # the synchronous scheduler, this one): the staging buffers go with each task.
    import dask
    import dask.array as da

    monkeypatch.setenv(DIRECT_IO_ENV, "on")
    _files.release_buffers()
    image = random_image(np.random.default_rng(8), (2, 512, 512), np.uint16)
    for source in (da.from_array(image, chunks=(1, 256, 256)), image):
        path = direct_dir / f"{type(source).__name__}.zarr"
        tasks = omezarr.write_image(
            source,
            str(path),
            axes="zyx",
            storage_options={"chunks": (1, 256, 256)},
            compute=False,
        )
        dask.compute(tasks, scheduler="sync")
        assert _files._STAGING.free == []
        np.testing.assert_array_equal(zarr.open_group(path, mode="r")["s0"][:], image)


def test_a_file_system_refusing_direct_io_mid_write_falls_back_for_the_rest(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DIRECT_IO_ENV, "auto")
    monkeypatch.setattr(_files, "DIRECT_IO_MIN_BYTES", 0)
    _refuse_direct_open(monkeypatch)
    image = random_image(np.random.default_rng(6), (2, 600, 600), np.uint16)
    path = direct_dir / "image.zarr"
    omezarr.write_image(image, str(path), axes="zyx", storage_options={"chunks": (1, 256, 256)})
    np.testing.assert_array_equal(zarr.open_group(path, mode="r")["s0"][:], image)


def test_strict_direct_io_on_a_refusing_file_system_fails_and_leaves_no_partial_files(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DIRECT_IO_ENV, "on")
    _refuse_direct_open(monkeypatch)
    path = direct_dir / "image.zarr"
    with pytest.raises(DirectIORefused):
        omezarr.write_image(np.ones((2, 300, 300), np.uint16), str(path), axes="zyx")
    assert not list(path.rglob("*.partial"))


def test_write_behind_runs_every_write_before_close_returns(tmp_path: Path) -> None:
    behind = WriteBehind(limit=10)
    for index in range(50):
        behind.submit(lambda index=index: (tmp_path / str(index)).write_bytes(b"x" * 3), 3)
    behind.close()
    assert sorted(int(p.name) for p in tmp_path.iterdir()) == list(range(50))


def test_write_behind_waits_when_the_limit_is_in_flight() -> None:
    release = threading.Event()
    behind = WriteBehind(limit=100, threads=2)
    behind.submit(release.wait, 60)
    behind.submit(release.wait, 40)  # fits beside the first
    blocked = threading.Thread(target=behind.submit, args=(lambda: None, 1))
    blocked.start()
    blocked.join(timeout=0.3)
    assert blocked.is_alive()  # 101 bytes would be in flight: it waits
    release.set()
    blocked.join(timeout=10)
    assert not blocked.is_alive()
    behind.close()


def test_write_behind_takes_one_file_larger_than_its_limit() -> None:
    done = []
    with WriteBehind(limit=10) as behind:
        behind.submit(lambda: done.append(1), 1000)
    assert done == [1]


def test_write_behind_raises_the_first_failure_on_submit_and_close() -> None:
    def fail() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    behind = WriteBehind(limit=10, threads=1)
    behind.submit(fail, 1)
    with pytest.raises(OSError, match="No space left"):
        for _ in range(1000):  # the failure is seen once the first write has run
            behind.submit(lambda: None, 10)
    with pytest.raises(OSError, match="No space left"):
        behind.close()
    quiet = WriteBehind(limit=10)
    quiet.submit(fail, 1)
    quiet.close(raise_error=False)


def test_write_behind_context_does_not_mask_the_callers_error() -> None:
    def fail() -> None:
        raise OSError(errno.EIO, "disk gone")

    with pytest.raises(KeyError), WriteBehind(limit=10) as behind:
        behind.submit(fail, 1)
        raise KeyError("the caller's own error")


def test_a_disk_error_in_a_background_write_fails_the_write_and_advertises_nothing(
    direct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DIRECT_IO_ENV, "on")
    real_write = os.write
    calls = [0]

    def failing_later(descriptor: int, data: memoryview) -> int:
        calls[0] += 1
        if calls[0] > 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(descriptor, data)

    monkeypatch.setattr(_files.os, "write", failing_later)
    path = direct_dir / "image.zarr"
    image = random_image(np.random.default_rng(7), (4, 512, 512), np.uint16)
    with pytest.raises(OSError, match="No space left"):
        omezarr.write_image(image, str(path), axes="zyx", storage_options={"chunks": (1, 256, 256)})
    assert "multiscales" not in str(zarr.open_group(path, mode="r").attrs.asdict())
    assert not list(path.rglob("*.partial"))


@pytest.mark.parametrize("compressors", [None, "default"])
@pytest.mark.parametrize("sharded", [False, True])
def test_write_behind_files_do_not_reference_the_callers_memory(
    direct_dir: Path, compressors: str | None, sharded: bool
) -> None:
    """The engine reuses region buffers as soon as ``write`` returns; a file written later by
    a writer thread must hold the pixels as they were (uncompressed chunks included)."""
    options: dict[str, object] = {"chunks": (4, 64)}
    if sharded:
        options["shards"] = (8, 64)
    if compressors is None:
        options["compressors"] = None
    path = direct_dir / "a.zarr"
    array = zarr.create_array(path, shape=(8, 64), dtype="u2", **options)
    writer = direct_writer(array)
    assert writer is not None
    writer.direct_io.enabled = True
    data = np.arange(8 * 64, dtype=np.uint16).reshape(8, 64)
    expected = data.copy()
    release = threading.Event()
    behind = WriteBehind(limit=2**30, threads=1)
    behind.submit(release.wait, 1)  # holds the writer thread, so the files wait their turn
    writer.write((0, 0), data, behind)
    data[:] = 0  # the caller reuses its buffer before the files are written
    release.set()
    behind.close()
    np.testing.assert_array_equal(zarr.open_array(path, mode="r")[:], expected)
