"""Writing chunk files to a local disk: buffered, or with direct I/O that skips the page cache.

A buffered ``write`` copies every byte into the kernel's page cache, which the kernel writes
to disk later. For the gigabytes of a pyramid that copy is a large share of the CPU a write
costs, about as much as compressing the data on the machine where omezarr is benchmarked
(benchmarks/RESULTS.md, "Figures behind the code"). With direct I/O (Linux's
``O_DIRECT``) the disk reads the bytes straight from the process's memory, so the kernel copies
nothing and the data is on its way to the disk when the call returns.

Direct I/O wants the memory, the file offset and the length aligned to the disk's blocks, so
a file passes through a page-aligned staging buffer (from a pool shared by all threads, at
most 8 MiB at a time): its whole 4 KiB blocks with direct I/O, then the remaining tail (less
than 4 KiB) buffered, on the same descriptor. :class:`WriteBehind` lets other threads do the
writing while the caller goes on encoding.

``$OMEZARR_DIRECT_IO`` chooses (see :func:`direct_io_mode`):

* ``auto`` (the default): direct I/O on Linux, for files of at least
  :data:`DIRECT_IO_MIN_BYTES`, on the local disk file systems listed in
  :data:`DIRECT_IO_FILESYSTEMS`; a file system that refuses it turns it off for the rest of
  the array, silently. Network and FUSE file systems, tmpfs and every other platform write
  buffered: there direct I/O is slower, unsupported or means something else.
* ``on``: direct I/O for every file on any file system; one that refuses it is an error.
* ``off``: always buffered.
"""

from __future__ import annotations

import errno
import mmap
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

from .._numbers import ceil_div

__all__ = [
    "DIRECT_IO_ENV",
    "DIRECT_IO_FILESYSTEMS",
    "DIRECT_IO_MIN_BYTES",
    "DIRECT_IO_MODES",
    "DirectIORefused",
    "WriteBehind",
    "direct_io_mode",
    "filesystem_type",
    "release_buffers",
    "use_direct_io",
    "write_direct_at",
    "write_file",
]

DIRECT_IO_ENV: Final = "OMEZARR_DIRECT_IO"
DIRECT_IO_MODES: Final = ("auto", "on", "off")
DIRECT_IO_MIN_BYTES: Final = 256 * 1024
"""Smaller files are written buffered in ``auto`` mode: for them the cost of creating the
file outweighs the copy that direct I/O saves."""
DIRECT_IO_FILESYSTEMS: Final = frozenset({"ext4", "xfs", "btrfs", "f2fs"})
"""The file systems on which ``auto`` mode uses direct I/O: local disk file systems that
implement it as a transfer straight from the process's memory to the disk."""

_BLOCK: Final = 4096
"""Alignment of the direct part of a file (memory, offset and length): a multiple of every
common logical block size (512 and 4,096 bytes)."""

_O_DIRECT: Final[int] = getattr(os, "O_DIRECT", 0)
_OCTAL_ESCAPE: Final = re.compile(r"\\([0-7]{3})")


class DirectIORefused(OSError):
    """The file system refused direct I/O (``EINVAL``) for a file being written."""


def direct_io_mode() -> str:
    """The direct I/O mode from ``$OMEZARR_DIRECT_IO``: ``"auto"`` (the default), ``"on"`` or
    ``"off"``.

    Raises
    ------
    ValueError
        If the variable holds anything else, or ``on`` where the platform has no direct I/O.

    Examples
    --------
    >>> direct_io_mode() in DIRECT_IO_MODES
    True
    """
    mode = os.environ.get(DIRECT_IO_ENV, "auto").strip().lower() or "auto"
    if mode not in DIRECT_IO_MODES:
        raise ValueError(
            f"${DIRECT_IO_ENV} must be one of {', '.join(DIRECT_IO_MODES)}; got {mode!r}"
        )
    if mode == "on" and not _O_DIRECT:
        raise ValueError(
            f"${DIRECT_IO_ENV}=on: direct I/O (O_DIRECT) is not available on {sys.platform}"
        )
    return mode


def _unescape_mount_field(field: str) -> str:
    r"""A field of ``/proc/self/mounts``, whose spaces, tabs, newlines and backslashes are
    written as octal escapes (``\040`` …)."""
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def filesystem_type(path: str | os.PathLike[str], mounts: str | None = None) -> str | None:
    """The type of the file system holding ``path`` (``"ext4"``, ``"nfs"`` …), from the
    mount table; None when it cannot be told (no ``/proc/self/mounts``: not Linux).

    Parameters
    ----------
    path : str or os.PathLike
        An existing file or folder.
    mounts : str, optional
        The mount table's text; default: read ``/proc/self/mounts``.

    Examples
    --------
    >>> table = "/dev/vda / ext4 rw 0 0\\nserver:/data /mnt/my\\\\040data nfs4 rw 0 0\\n"
    >>> filesystem_type("/mnt/my data/image.zarr", table), filesystem_type("/tmp", table)
    ('nfs4', 'ext4')
    """
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    target = os.path.realpath(path)
    best, best_type = -1, None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape_mount_field(fields[1])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best:  # the last of equal mount points is the one in use
            best, best_type = len(point), fields[2]
    return best_type


def use_direct_io(folder: str | os.PathLike[str], mode: str | None = None) -> bool:
    """Whether chunk files written in ``folder`` should use direct I/O under ``mode``
    (default: :func:`direct_io_mode`).

    Examples
    --------
    >>> use_direct_io(".", "off")
    False
    """
    mode = direct_io_mode() if mode is None else mode
    if mode == "off" or not _O_DIRECT:
        return False
    if mode == "on":
        return True
    return filesystem_type(folder) in DIRECT_IO_FILESYSTEMS


_STAGING_BYTES: Final = 8 * 2**20
"""The most a direct I/O buffer holds: larger files (shards) pass through it in
pieces of this size, so direct I/O never holds a second copy of a whole shard."""


class _StagingPool:
    """Page-aligned buffers that files pass through for direct I/O (anonymous ``mmap`` memory
    starts on a page boundary), shared by every thread and reused from file to file: the
    threads writing files come and go with each task, and fresh memory for each would be
    faulted in page by page every time."""

    def __init__(self, keep: int = 8) -> None:
        self._lock = threading.Lock()
        self._free: list[mmap.mmap] = []
        self._keep = keep

    def take(self, total: int) -> mmap.mmap:
        """A buffer of at least ``min(total, _STAGING_BYTES)`` bytes, in whole blocks."""
        wanted = max(_BLOCK, min(ceil_div(total, 2**20) * 2**20, _STAGING_BYTES))
        with self._lock:
            for position, memory in enumerate(self._free):
                if len(memory) >= wanted:
                    return self._free.pop(position)
            if self._free:
                self._free.pop(0)  # the smallest: a larger one replaces it
        return mmap.mmap(-1, wanted)

    def give_back(self, memory: mmap.mmap) -> None:
        with self._lock:
            if len(self._free) < self._keep:
                self._free.append(memory)
                self._free.sort(key=len)

    def clear(self) -> None:
        with self._lock:
            self._free.clear()

    @property
    def free(self) -> list[int]:
        """Sizes of the buffers waiting to be reused."""
        with self._lock:
            return [len(memory) for memory in self._free]


_STAGING = _StagingPool()


def release_buffers() -> None:
    """Free the direct I/O buffers not in use (after a write: they are not needed until the
    next one)."""
    _STAGING.clear()


def _write_all(descriptor: int, data: memoryview) -> None:
    done = 0
    while done < data.nbytes:
        done += os.write(descriptor, data[done:])


def _write_buffered(path: Path, parts: Sequence[Any]) -> None:
    with open(path, "wb") as handle:
        for part in parts:
            handle.write(memoryview(part))


def _refused(error: OSError, path: Path) -> DirectIORefused:
    return DirectIORefused(error.errno, f"direct I/O refused: {error.strerror}", str(path))


def _through(staging: memoryview, parts: Sequence[Any], flush: Callable[[memoryview], Any]) -> int:
    """Copy ``parts`` into ``staging``, handing each full buffer to ``flush``; how many bytes
    are left in it at the end."""
    filled = 0
    for part in parts:
        data = memoryview(part).cast("B")
        taken = 0
        while taken < data.nbytes:
            count = min(staging.nbytes - filled, data.nbytes - taken)
            staging[filled : filled + count] = data[taken : taken + count]
            filled, taken = filled + count, taken + count
            if filled == staging.nbytes:
                flush(staging)
                filled = 0
    return filled


def _write_direct(path: Path, parts: Sequence[Any], total: int) -> None:
    """Write ``parts`` as a new file: whole blocks with direct I/O, then the tail buffered.

    The bytes pass through a staging buffer from the pool, a buffer-full at a time.
    Raises :class:`DirectIORefused` (having removed the file) if the file system refuses."""
    import fcntl  # POSIX only, like O_DIRECT itself

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags | _O_DIRECT, 0o666)
    except OSError as error:
        if error.errno == errno.EINVAL:
            raise _refused(error, path) from error
        raise
    memory = _STAGING.take(total)
    staging = memoryview(memory)
    try:
        try:
            filled = _through(staging, parts, lambda full: _write_all(descriptor, full))
            aligned = filled - filled % _BLOCK
            _write_all(descriptor, staging[:aligned])
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            path.unlink(missing_ok=True)
            raise _refused(error, path) from error
        if aligned < filled:
            status = fcntl.fcntl(descriptor, fcntl.F_GETFL)
            fcntl.fcntl(descriptor, fcntl.F_SETFL, status & ~_O_DIRECT)
            _write_all(descriptor, staging[aligned:filled])
    finally:
        staging.release()
        os.close(descriptor)
        _STAGING.give_back(memory)


def write_direct_at(direct: int, buffered: int, offset: int, parts: Sequence[Any]) -> None:
    """Write ``parts`` at ``offset`` (a multiple of 4 KiB) of an open file: whole blocks
    through ``direct`` (opened with ``O_DIRECT``), then the tail through ``buffered``.

    Used for the entries of a single-file archive, whose data start on block boundaries.
    Raises :class:`DirectIORefused` if the file system refuses (nothing is lost: the caller
    writes the same bytes buffered)."""
    total = sum(memoryview(part).nbytes for part in parts)
    memory = _STAGING.take(total)
    staging = memoryview(memory)
    try:
        position = [offset]

        def flush(full: memoryview) -> None:
            position[0] = _pwrite_all(direct, full, position[0])

        filled = _through(staging, parts, flush)
        offset = position[0]
        aligned = filled - filled % _BLOCK
        offset = _pwrite_all(direct, staging[:aligned], offset)
        _pwrite_all(buffered, staging[aligned:filled], offset)
    except OSError as error:
        if error.errno == errno.EINVAL:
            raise DirectIORefused(error.errno, f"direct I/O refused: {error.strerror}") from error
        raise
    finally:
        staging.release()
        _STAGING.give_back(memory)


def _pwrite_all(descriptor: int, data: memoryview, offset: int) -> int:
    done = 0
    while done < data.nbytes:
        done += os.pwrite(descriptor, data[done:], offset + done)
    return offset + done


def write_file(path: Path, parts: Sequence[Any], direct: bool, strict: bool = False) -> bool:
    """Write ``parts`` (bytes-like, in order) as the new file ``path``.

    Parameters
    ----------
    path : pathlib.Path
        The file to create; it must not exist when ``direct`` is True.
    parts : sequence of bytes-like
        The file's contents, in order.
    direct : bool
        Use direct I/O (files smaller than :data:`DIRECT_IO_MIN_BYTES` are written buffered
        unless ``strict``).
    strict : bool
        ``$OMEZARR_DIRECT_IO=on``: every file with direct I/O, and a refusal is raised.

    Returns
    -------
    bool
        False if the file system refused direct I/O and the file was written buffered
        instead (the caller should stop asking); True otherwise.

    Raises
    ------
    DirectIORefused
        If ``strict`` and the file system refuses direct I/O.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "chunk"
    >>> write_file(path, [b"abc", bytes(5000)], direct=False), path.stat().st_size
    (True, 5003)
    """
    if direct:
        total = sum(memoryview(part).nbytes for part in parts)
        if strict or total >= DIRECT_IO_MIN_BYTES:
            try:
                _write_direct(path, parts, total)
                return True
            except DirectIORefused:
                if strict:
                    raise
                _write_buffered(path, parts)
                return False
    _write_buffered(path, parts)
    return True


class WriteBehind:
    """Runs file writes in background threads, so that the thread encoding chunks goes on
    while the disk takes the previous ones.

    Direct I/O returns once the disk has the bytes, and meanwhile the writing thread would sit
    idle; here it waits only when ``limit`` bytes are already in flight. The first failure is
    raised by the next :meth:`submit` and by :meth:`close`, which waits for every write.

    Parameters
    ----------
    limit : int
        Bytes (of files submitted and not yet written) beyond which :meth:`submit` waits; a
        single larger file is still taken when nothing else is in flight.
    threads : int
        Background threads (started as needed).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with WriteBehind(limit=2**20) as behind:
    ...     for name in "abc":
    ...         behind.submit(lambda name=name: (folder / name).write_bytes(b"x"), 1)
    >>> sorted(path.name for path in folder.iterdir())
    ['a', 'b', 'c']
    """

    def __init__(self, limit: int, threads: int = 2) -> None:
        self._limit = limit
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="omezarr-io")
        self._condition = threading.Condition()
        self._in_flight = 0
        self._error: BaseException | None = None

    def submit(self, write: Callable[[], Any], size: int) -> None:
        """Run ``write`` (which writes ``size`` bytes) in the background."""
        with self._condition:
            while self._error is None and self._in_flight and self._in_flight + size > self._limit:
                self._condition.wait()
            if self._error is not None:
                raise self._error
            self._in_flight += size
        self._pool.submit(self._run, write, size)

    def _run(self, write: Callable[[], Any], size: int) -> None:
        try:
            write()
        except BaseException as error:  # handed to the submitting thread
            with self._condition:
                if self._error is None:
                    self._error = error
        finally:
            with self._condition:
                self._in_flight -= size
                self._condition.notify_all()

    def close(self, raise_error: bool = True) -> None:
        """Wait for every submitted write (the threads then end, freeing their buffers);
        raise the first failure unless ``raise_error`` is False."""
        self._pool.shutdown(wait=True)
        if raise_error and self._error is not None:
            raise self._error

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self.close(raise_error=error is None)
