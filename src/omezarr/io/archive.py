"""Writing single-file OME-Zarr (RFC-9): a ZIP archive appended to as the engine encodes.

An :class:`ArchiveWriter` builds one ``.ozx`` file in a single pass and never stages a
directory: chunk and shard bytes are appended as *stored* ZIP entries (zarr's codecs compress
already) the moment they are encoded — the engine's threads encode in parallel and only the
appends are serialised — while the small ``zarr.json`` documents stay in memory until the
archive is committed. Then they are written in breadth-first order (root first) into a region
reserved for them at the start of the file when the first chunk came, so that they are the
first entries of the file as well as of the central directory; should they outgrow that
region (a hierarchy grown by later calls), they follow the data instead, and the region is
left as an entry no directory record names. The central directory (``zarr.json`` first, which
the archive comment's ``jsonFirst`` states), the ZIP64 end records (always: RFC-9 recommends
ZIP64 whatever the size) and a JSON comment ``{"ome": {"version": ...}}`` end the file.

Crash safety: the archive is written under a hidden temporary name beside its destination
(``.NAME.partial-TOKEN``, the convention of :mod:`omezarr.io.staging`), held with an
``flock`` while written, and renamed over the destination only once complete, so a kill never
leaves an ``.ozx`` that opens as an incomplete image, and an archive being replaced stays
whole until then. A killed write can be resumed: the entries of its partial file whose bytes
are all there and match their CRC are kept (:func:`recover_entries`), the rest is cut off.

Adding to an existing archive (labels after their image, wells of a plate) reads the old one
and writes a new one: the old entries that are still wanted are copied into it when it is
committed (``copy_file_range``, a reflink on file systems that have them), and the old file is
replaced only then.

:class:`ArchiveStore` is the zarr store over an :class:`ArchiveWriter`: zarr-python writes
and reads through it; :mod:`omezarr.io.chunkio` appends the engine's encoded chunks to it
directly.
"""

from __future__ import annotations

import json
import os
import posixpath
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from zarr.core.buffer import Buffer

from .archive_read import ArchiveKeys
from .files import (
    _BLOCK,
    _O_DIRECT,
    DIRECT_IO_MIN_BYTES,
    DirectIORefused,
    use_direct_io,
    write_direct_at,
)
from .zip_records import (
    LOCAL,
    LOCAL_SIGNATURE,
    MAX32,
    MAX_EXTRA,
    breadth_first,
    crc_and_size,
    directory_bytes,
    dos_time,
    local_header,
    padding_field,
)

try:
    import fcntl
except ImportError:  # Windows: partial archives are then never held or cleaned
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Archive",
    "ArchiveStore",
    "ArchiveWriter",
    "is_archive_metadata",
    "recover_entries",
]

_RESERVED_NAME = ".ozx-reserved"
"""The entry filling the metadata region while it is not written (never in the directory)."""
_MIN_REGION = 64 * 1024
_COPY_PIECE = 8 * 1024 * 1024

_METADATA_NAMES = frozenset({"zarr.json"})


def is_archive_metadata(name: str) -> bool:
    """Whether the entry ``name`` is a metadata document, kept in memory until the commit.

    Examples
    --------
    >>> is_archive_metadata("0/zarr.json"), is_archive_metadata("0/c/0/0")
    (True, False)
    """
    return posixpath.basename(name) in _METADATA_NAMES


@dataclass(frozen=True)
class _Entry:
    """Where the bytes of one entry are: ``data`` is the offset of its first byte in the
    file it was written to (``old``: the archive being replaced), ``header`` that of its
    local header."""

    header: int
    data: int
    size: int
    crc: int
    old: bool = False


def _write_all(descriptor: int, parts: Iterable[Any], offset: int) -> int:
    """Write ``parts`` at ``offset``; the offset after them."""
    for part in parts:
        view = memoryview(part).cast("B")
        while view:
            written = os.pwrite(descriptor, view, offset)
            view = view[written:]
            offset += written
    return offset


def _copy(source: int, target: int, size: int, source_offset: int, target_offset: int) -> None:
    """Copy ``size`` bytes between descriptors, in the kernel where it can."""
    while size > 0:
        try:
            copied = os.copy_file_range(source, target, size, source_offset, target_offset)
        except (AttributeError, OSError):
            copied = 0
        if copied <= 0:  # unsupported here: through user space, a piece at a time
            piece = os.pread(source, min(size, _COPY_PIECE), source_offset)
            if not piece:
                raise OSError(f"the archive being replaced ended {size} bytes early")
            _write_all(target, (piece,), target_offset)
            copied = len(piece)
        size -= copied
        source_offset += copied
        target_offset += copied


class Archive:
    """An archive being written: what the engine and :class:`ArchiveStore` use. Entries by
    name in ``_entries`` (anything with a ``size``), metadata documents in ``_documents``
    until the commit; subclasses say where the bytes go: :class:`ArchiveWriter` (a local
    file) and :class:`~omezarr.io.archive_stream.StreamedArchiveWriter` (an S3 upload)."""

    destination: Path
    closed: bool
    _lock: threading.Lock
    _documents: dict[str, bytes]
    _entries: dict[str, Any]

    def append(self, name: str, parts: Sequence[Any]) -> None:
        raise NotImplementedError

    def read(self, name: str, start: int = 0, stop: int | None = None) -> bytes | None:
        raise NotImplementedError

    def commit(self) -> Path:
        raise NotImplementedError

    def abandon(self) -> None:
        raise NotImplementedError

    def delete(self, name: str) -> bool:
        """Forget the entry ``name`` (its bytes stay unnamed); whether there was one."""
        with self._lock:
            self._check_open()
            found = self._documents.pop(name, None) is not None
            return self._entries.pop(name, None) is not None or found

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"{self.destination}: the archive is committed or abandoned")

    def names(self) -> list[str]:
        """Every entry name: documents, then the others."""
        with self._lock:
            return [*self._documents, *self._entries]

    def contains(self, name: str) -> bool:
        with self._lock:
            return name in self._documents or name in self._entries

    def size(self, name: str) -> int | None:
        with self._lock:
            document = self._documents.get(name)
            entry = self._entries.get(name)
        return len(document) if document is not None else entry.size if entry else None

    def __dask_tokenize__(self) -> object:
        return ("omezarr-archive", id(self))

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            f"{self.destination}: an .ozx archive is written by one process; it cannot be sent "
            "to dask.distributed workers (write a directory, or compute in this process)"
        )


class ArchiveWriter(Archive):
    """One ``.ozx`` archive being written, under a temporary name until :meth:`commit`.

    Parameters
    ----------
    destination : Path
        The archive's name once complete.
    temporary : Path
        The hidden file written meanwhile (created or, when resumed, truncated to ``end``).
    old : Path, optional
        The archive at ``destination`` whose entries (``entries`` marked ``old``) and
        documents this one starts with, and which it replaces when committed.
    entries, documents, end
        What a resumed or copied archive already holds: entries by name, metadata documents
        by name, and the end of the valid data in ``temporary``.
    region : int, optional
        The bytes reserved for the metadata at the start of ``temporary`` (resumed archives).
    upload : callable, optional
        Called with ``temporary`` once it is complete, instead of renaming it (an archive on
        object storage, see :func:`omezarr.io.archive_open.open_remote_archive`); the file is removed afterwards.
    """

    def __init__(
        self,
        destination: Path,
        temporary: Path,
        *,
        old: Path | None = None,
        entries: dict[str, _Entry] | None = None,
        documents: dict[str, bytes] | None = None,
        end: int = 0,
        region: int | None = None,
        upload: Callable[[Path], None] | None = None,
    ) -> None:
        self.destination = destination
        self.temporary = temporary
        self._upload = upload
        self._when = dos_time(time.time())
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = dict(entries or {})
        self._documents: dict[str, bytes] = dict(documents or {})
        self._old_descriptor = os.open(old, os.O_RDONLY) if old is not None else None
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._descriptor = os.open(temporary, flags, 0o644)
        if fcntl is not None:  # held while written: a later writer tells it from a killed one
            fcntl.flock(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(self._descriptor, end)
        self._end = end
        self._region = region
        self.closed = False
        self._direct: int | None = None
        self._direct_wanted = upload is None
        self.held_archive: int | None = None
        """The old archive's lock an addition holds until it is committed (archive_open.open_archive)."""

    # ------------------------------------------------------------------------- writing

    def append(self, name: str, parts: Sequence[Any]) -> None:
        """Add the entry ``name`` holding ``parts`` (replacing one of that name); a metadata
        document is kept in memory until the commit. Safe to call from several threads."""
        if is_archive_metadata(name):
            with self._lock:
                self._check_open()
                self._documents[name] = b"".join(bytes(memoryview(p).cast("B")) for p in parts)
            return
        crc, size = crc_and_size(parts)  # outside the lock: threads checksum in parallel
        encoded = name.encode("utf-8")
        with self._lock:
            self._check_open()
            if self._region is None:
                self._reserve_region()
            start = self._end
            header = local_header(encoded, size, crc, self._when, b"")
            direct = self._direct_descriptor() if size >= DIRECT_IO_MIN_BYTES else None
            if direct is not None:  # the data on a block boundary: written with direct I/O
                gap = -(start + len(header)) % _BLOCK
                gap += _BLOCK if 0 < gap < 4 else 0
                header = local_header(
                    encoded, size, crc, self._when, padding_field(gap) if gap else b""
                )
            self._end = start + len(header) + size  # reserved: the bytes go in outside the lock
        _write_all(self._descriptor, (header,), start)
        self._write_data(direct, start + len(header), parts)
        with self._lock:
            self._entries.pop(name, None)  # a rewritten entry goes to the end of the directory
            self._entries[name] = _Entry(start, start + len(header), size, crc)

    def _direct_descriptor(self) -> int | None:
        """A descriptor of the temporary file with direct I/O, where the disk allows it."""
        if self._direct is None and self._direct_wanted:
            self._direct_wanted = False
            if use_direct_io(self.temporary.parent):
                try:
                    self._direct = os.open(self.temporary, os.O_WRONLY | _O_DIRECT)
                except OSError:
                    self._direct = None
        return self._direct

    def _write_data(self, direct: int | None, offset: int, parts: Sequence[Any]) -> None:
        if direct is not None:
            try:
                write_direct_at(direct, self._descriptor, offset, parts)
                return
            except DirectIORefused:
                self._direct_wanted = False  # written buffered below, and from now on
                with self._lock:
                    refused, self._direct = self._direct, None
                if refused is not None:
                    os.close(refused)
        _write_all(self._descriptor, parts, offset)

    def _reserve_region(self) -> None:
        """Reserve the metadata's room at the start, before the first chunk: four times the
        documents known so far (the level arrays of an image are created before its pixels)
        plus their attributes to come, at least 64 KiB; filled by an unnamed entry holding
        those documents, so that a resumed write can check its arrays against them."""
        known = sum(len(d) + 256 for d in self._documents.values())
        region = max(_MIN_REGION, 4 * known + 16 * 1024)
        if self._end != 0:  # a resumed or copied archive: its region is known already
            raise RuntimeError("the metadata region of an archive is reserved at its start")
        saved = json.dumps({n: d.decode("utf-8", "replace") for n, d in self._documents.items()})
        self._fill_region(0, region, saved.encode())
        self._region = region
        self._end = region

    def _fill_region(self, start: int, length: int, content: bytes = b"") -> None:
        """Write one unnamed stored entry covering ``length`` bytes from ``start``: ``content``
        (if it fits), then zeros."""
        name = _RESERVED_NAME.encode()
        size = length - LOCAL.size - len(name)
        content = content if len(content) <= size else b""
        crc = zlib.crc32(bytes(size - len(content)), zlib.crc32(content))
        header = local_header(name, size, crc, self._when, b"")
        _write_all(self._descriptor, (header, content), start)
        end = start + len(header) + len(content)
        # The rest are zeros: a hole, or zeros written over what was there.
        os.ftruncate(self._descriptor, max(self._end, start + length))
        if end < start + length:
            _write_all(self._descriptor, (bytes(start + length - end),), end)

    def read(self, name: str, start: int = 0, stop: int | None = None) -> bytes | None:
        """Bytes ``start:stop`` of the entry ``name`` (None if there is none)."""
        with self._lock:
            document = self._documents.get(name)
            entry = self._entries.get(name)
        if document is not None:
            return document[start:stop]
        if entry is None:
            return None
        stop = entry.size if stop is None else min(stop, entry.size)
        start = min(max(start, 0), stop)
        descriptor = self._old_descriptor if entry.old else self._descriptor
        assert descriptor is not None
        return os.pread(descriptor, stop - start, entry.data + start)

    # ------------------------------------------------------------------------- finishing

    def commit(self) -> Path:
        """Write what is left (copied entries, documents, directory, end records), make it
        durable and rename it over the destination; the destination's path."""
        try:
            with self._lock:
                self._check_open()
                self._copy_old_entries()
                offsets = self._write_documents()
                self._write_directory(offsets)
                os.fsync(self._descriptor)
                self._close()
        except BaseException:
            self.abandon()  # no space left, an I/O error: what was at the destination stays
            raise
        if self._upload is not None:  # to object storage: the finished file, then it goes
            try:
                self._upload(self.temporary)
            finally:
                self.temporary.unlink(missing_ok=True)
            return self.destination
        try:
            os.replace(self.temporary, self.destination)
            _sync_directory(self.destination.parent)
        finally:
            self._release_archive()
        return self.destination

    def abandon(self) -> None:
        """Stop writing and remove the temporary file; the destination is left as it was."""
        with self._lock:
            if self.closed:
                self._release_archive()
                return
            self._close()
        self.temporary.unlink(missing_ok=True)
        self._release_archive()

    def _close(self) -> None:
        self.closed = True
        os.close(self._descriptor)
        if self._direct is not None:
            os.close(self._direct)
            self._direct = None
        if self._old_descriptor is not None:
            os.close(self._old_descriptor)

    def _release_archive(self) -> None:
        held, self.held_archive = self.held_archive, None
        if held is not None:
            os.close(held)  # releases the flock: the next addition reads the new archive

    def _copy_old_entries(self) -> None:
        if self._region is None:
            self._reserve_region()
        for name, entry in list(self._entries.items()):
            if not entry.old:
                continue
            assert self._old_descriptor is not None
            header = local_header(name.encode(), entry.size, entry.crc, self._when, b"")
            start = self._end
            _write_all(self._descriptor, (header,), start)
            _copy(
                self._old_descriptor, self._descriptor, entry.size, entry.data, start + len(header)
            )
            self._end = start + len(header) + entry.size
            self._entries[name] = _Entry(start, start + len(header), entry.size, entry.crc)

    def _write_documents(self) -> dict[str, tuple[int, int, int]]:
        """Write the documents, breadth-first; their header offset, size and CRC by name."""
        names = sorted(self._documents, key=breadth_first)
        encoded = [(n, n.encode(), self._documents[n]) for n in names]
        headers = [local_header(e, len(d), zlib.crc32(d), self._when, b"") for _, e, d in encoded]
        total = sum(len(h) + len(d) for h, (_, _, d) in zip(headers, encoded, strict=True))
        assert self._region is not None
        gap = self._region - total
        padding = [0] * len(names)
        room = sum(
            MAX_EXTRA - (len(h) - LOCAL.size - len(e))
            for h, (_, e, _) in zip(headers, encoded, strict=True)
        )
        fits = gap == 0 or (4 <= gap <= room and names)
        if fits:
            left = gap
            for i in reversed(range(len(names))):  # the last ones: the first stay contiguous
                take = min(left, MAX_EXTRA - (len(headers[i]) - LOCAL.size - len(encoded[i][1])))
                if 0 < left - take < 4:  # leave at least a whole padding field for the next
                    take = left - 4
                padding[i] = take if take >= 4 else 0
                left -= padding[i]
            fits = left == 0
        if fits:
            position = 0
        else:  # after the data; the region stays one unnamed entry
            self._fill_region(0, self._region)
            position = self._end
        offsets: dict[str, tuple[int, int, int]] = {}
        records = []
        for (name, raw, document), pad in zip(
            encoded, padding if fits else [0] * len(names), strict=True
        ):
            crc = zlib.crc32(document)
            header = local_header(
                raw, len(document), crc, self._when, padding_field(pad) if pad else b""
            )
            offsets[name] = (position, len(document), crc)
            records.append((position, header, document))
            position += len(header) + len(document)
        # Last to first: the entry at offset 0 is written last, so that a kill meanwhile
        # leaves the region's unnamed entry whole for a resumed write to skip.
        for start, header, document in reversed(records):
            _write_all(self._descriptor, (header, document), start)
        if not fits:
            self._end = position
        return offsets

    def _write_directory(self, documents: dict[str, tuple[int, int, int]]) -> None:
        records = [
            *((name, *documents[name]) for name in sorted(documents, key=breadth_first)),
            *((name, e.header, e.size, e.crc) for name, e in self._entries.items()),
        ]
        tail = directory_bytes(records, self._end, self._documents.get("zarr.json"), self._when)
        self._end = _write_all(self._descriptor, (tail,), self._end)
        os.ftruncate(self._descriptor, self._end)


def _sync_directory(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def recover_entries(
    path: Path,
) -> tuple[dict[str, _Entry], int, int | None, dict[str, bytes]]:
    """The whole entries of the partial archive at ``path`` (a killed write's), read in file
    order until the first one that is cut short or does not match its CRC.

    Returns
    -------
    tuple
        The entries by name (later ones replace earlier ones), the end of the last whole
        one, the size of the metadata region at the start (None if there is none), and the
        documents the region's unnamed entry saved when it was reserved (the level arrays of
        the write, to check a resumed write against).
    """
    entries: dict[str, _Entry] = {}
    documents: dict[str, bytes] = {}
    region: int | None = None
    offset = 0
    with open(path, "rb") as file:
        total = os.fstat(file.fileno()).st_size
        while offset + LOCAL.size <= total:
            file.seek(offset)
            fields = LOCAL.unpack(file.read(LOCAL.size))
            if fields[0] != LOCAL_SIGNATURE or fields[3] != 0:
                break
            crc, stored, name_length, extra_length = fields[6], fields[7], fields[9], fields[10]
            name = file.read(name_length).decode("utf-8", "replace")
            extra = file.read(extra_length)
            size = stored
            if stored == MAX32 and extra[:2] == b"\x01\x00":
                size = struct.unpack_from("<Q", extra, 4)[0]
            data = offset + LOCAL.size + name_length + extra_length
            if data + size > total:
                break
            placeholder = offset == 0 and name == _RESERVED_NAME
            whole, content = _checked(file, data, size, crc, keep=placeholder)
            if placeholder:  # the region: skipped whole even if a commit began to fill it
                region = data + size
                documents = _saved_documents(content) if whole else {}
            elif not whole:
                break
            elif is_archive_metadata(name):
                if not entries and (region is None or region == offset):
                    region = data + size  # the leading documents of a committed region
            else:
                entries.pop(name, None)
                entries[name] = _Entry(offset, data, size, crc)
            offset = data + size
    return entries, offset, region, documents


def _checked(file: BinaryIO, data: int, size: int, crc: int, *, keep: bool) -> tuple[bool, bytes]:
    """Whether the ``size`` bytes at ``data`` match ``crc``; with ``keep``, their text part
    (the bytes before the first zero) too."""
    checksum, left = 0, size
    kept: list[bytes] = []
    file.seek(data)
    while left:
        piece = file.read(min(left, _COPY_PIECE))
        if not piece:
            return False, b""
        checksum = zlib.crc32(piece, checksum)
        if keep and (not kept or b"\0" not in kept[-1]):
            kept.append(piece)
        left -= len(piece)
    return checksum == crc, b"".join(kept).split(b"\0", 1)[0]


def _saved_documents(content: bytes) -> dict[str, bytes]:
    try:
        saved = json.loads(content or b"{}")
    except ValueError:
        return {}
    if not isinstance(saved, dict):
        return {}
    return {str(n): str(d).encode() for n, d in saved.items() if is_archive_metadata(str(n))}


class ArchiveStore(ArchiveKeys):
    """The zarr store of an archive being written (see :class:`ArchiveWriter`)."""

    supports_writes = True
    supports_deletes = True
    supports_partial_writes = False
    supports_listing = True

    def __init__(self, archive: Archive) -> None:
        super().__init__(read_only=False)
        self.archive = archive

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArchiveStore) and other.archive is self.archive

    def __hash__(self) -> int:
        return id(self.archive)

    def __str__(self) -> str:
        return f"ozx://{self.archive.destination}"

    def __repr__(self) -> str:
        return f"ArchiveStore('{self}')"

    def entry_names(self) -> list[str]:
        return self.archive.names()

    def entry_size(self, key: str) -> int | None:
        return self.archive.size(key)

    def read(self, name: str, start: int = 0, stop: int | None = None) -> bytes | None:
        return self.archive.read(name, start, stop)

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        self.archive.append(key, [value.as_numpy_array()])

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        if not self.archive.contains(key):
            await self.set(key, value)

    async def delete(self, key: str) -> None:
        self._check_writable()
        self.archive.delete(key)
