"""Reading single-file OME-Zarr (RFC-9 ZIP archives), local or remote, by byte range.

An :class:`ArchiveReader` reads an archive's central directory once (the end of the file:
its end records, then the directory), then only the bytes asked for: an entry's local header
the first time the entry is read (where its bytes start), then the entry's bytes or the byte
range of them that zarr asks for — the index at the end of a shard, one inner chunk. Local
archives are read with ``pread``; remote ones (``s3://``, ``http(s)://`` and any fsspec URL)
with one ranged request per read, so opening a remote archive of gigabytes costs a few small
requests. Entries compressed by ZIP (RFC-9 advises against them) are read whole and inflated.
"""

from __future__ import annotations

import os
import posixpath
import struct
import threading
import weakref
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, BufferPrototype

from .zip_records import LOCAL, LOCAL_SIGNATURE

__all__ = [
    "ArchiveKeys",
    "ArchiveReader",
    "IndexedEntry",
    "read_index",
]

_METADATA_NAMES = frozenset({"zarr.json", ".zgroup", ".zattrs", ".zarray", ".zmetadata"})


@dataclass(frozen=True)
class IndexedEntry:
    """An entry of an archive's central directory."""

    header: int
    """Offset of its local header."""
    size: int
    """Bytes once read (uncompressed)."""
    stored: int
    """Bytes in the archive."""
    crc: int
    method: int
    """ZIP compression method: 0 stored, 8 deflated."""

    @property
    def compressed(self) -> bool:
        return self.method != zipfile.ZIP_STORED


def read_index(file: BinaryIO) -> dict[str, IndexedEntry]:
    """The file entries of the ZIP archive ``file`` (seekable), from its central directory.

    Raises
    ------
    zipfile.BadZipFile
        If ``file`` is no ZIP archive or is cut short.
    NotImplementedError
        For a multi-part archive.
    """
    with zipfile.ZipFile(file) as archive:
        infos = archive.infolist()
    split = next((info.filename for info in infos if info.volume != 0), None)
    if split is not None or _end_record_names_other_disks(file):
        # zipfile reads the directory of a split archive's last part without a word; its
        # entries then point into parts that are not there.
        raise NotImplementedError(
            "a multi-part (split) ZIP archive"
            + (f": its entry {split!r} is in another part" if split is not None else "")
        )
    return {
        info.filename: IndexedEntry(
            info.header_offset, info.file_size, info.compress_size, info.CRC, info.compress_type
        )
        for info in infos
        if not info.is_dir()
    }


_END = struct.Struct("<IHHHHIIH")  # end of central directory record, 22 bytes


def _end_record_names_other_disks(file: BinaryIO) -> bool:
    """Whether the end-of-central-directory record says the archive has several parts."""
    size = file.seek(0, os.SEEK_END)
    start = max(0, size - (0xFFFF + _END.size))
    file.seek(start)
    tail = file.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _END.size > len(tail):
        return False
    _, disk, directory_disk, here, total, _, _, _ = _END.unpack_from(tail, at)
    return disk != 0 or directory_disk != 0 or here != total


ReadRange = Callable[[int, int], bytes]
"""Bytes ``start:stop`` of the archive file."""


def local_range(descriptor: int) -> ReadRange:
    """Reading a local archive open at ``descriptor``."""

    def read(start: int, stop: int) -> bytes:
        parts = []
        while start < stop:
            part = os.pread(descriptor, stop - start, start)
            if not part:
                break
            parts.append(part)
            start += len(part)
        return b"".join(parts)

    return read


def remote_range(fs: Any, path: str) -> ReadRange:
    """Reading the remote archive ``path`` of the fsspec filesystem ``fs``, a range per call."""

    def read(start: int, stop: int) -> bytes:
        return bytes(fs.cat_file(path, start=start, end=stop)) if stop > start else b""

    return read


class ArchiveKeys(Store):
    """What the stores over an archive share: reading entries (whole or by byte range) and
    listing their names; a subclass says what the entries are (:meth:`entry_names`,
    :meth:`entry_size`, :meth:`read`)."""

    def entry_names(self) -> list[str]:
        raise NotImplementedError

    def entry_size(self, key: str) -> int | None:
        raise NotImplementedError

    def read(self, name: str, start: int = 0, stop: int | None = None) -> bytes | None:
        raise NotImplementedError

    def check_whole_read(self, key: str, size: int) -> None:
        """Called before an entry is read whole (a reader refuses oversized metadata)."""

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        size = self.entry_size(key)
        if size is None:
            return None
        start, stop = 0, None
        if isinstance(byte_range, RangeByteRequest):
            start, stop = byte_range.start, byte_range.end
        elif isinstance(byte_range, OffsetByteRequest):
            start = byte_range.offset
        elif isinstance(byte_range, SuffixByteRequest):
            start = max(0, size - byte_range.suffix)
        else:
            self.check_whole_read(key, size)
        data = self.read(key, start, stop)
        return None if data is None else prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return [await self.get(key, prototype, byte_range) for key, byte_range in key_ranges]

    async def exists(self, key: str) -> bool:
        return self.entry_size(key) is not None

    async def list(self) -> AsyncIterator[str]:
        for key in self.entry_names():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in self.entry_names():
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        lead = f"{prefix}/" if prefix else ""
        seen: set[str] = set()
        for key in self.entry_names():
            if key.startswith(lead):
                child = key[len(lead) :].split("/", 1)[0]
                if child and child not in seen:
                    seen.add(child)
                    yield child


class ArchiveReader(ArchiveKeys):
    """A read-only zarr store over a ZIP archive (see the module's docstring).

    Parameters
    ----------
    where : str
        The archive's path or URL, for messages and ``str()``.
    read_range : callable
        Reads bytes ``start:stop`` of the archive.
    index : dict
        Its entries by name (:func:`read_index`).
    check_metadata : callable
        Called with (where, size) before a metadata document is read whole; raises to refuse.
    close : callable, optional
        Releases what ``read_range`` holds.
    """

    supports_writes = False
    supports_deletes = False
    supports_partial_writes = False
    supports_listing = True

    def __init__(
        self,
        where: str,
        read_range: ReadRange,
        index: Mapping[str, IndexedEntry],
        check_metadata: Callable[[str, int], None],
        close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(read_only=True)
        self.where = where
        self.index = dict(index)
        self._read = read_range
        self.check_metadata = check_metadata
        self._release = close
        self._data: dict[str, int] = {}
        self._lock = threading.Lock()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArchiveReader) and other.where == self.where

    def __hash__(self) -> int:
        return hash(self.where)

    def __str__(self) -> str:
        return f"zip://{self.where}"

    def __repr__(self) -> str:
        return f"ArchiveReader('{self.where}')"

    def close(self) -> None:
        super().close()
        if self._release is not None:
            self._release()
            self._release = None

    def data_offset(self, name: str) -> int:
        """Where the bytes of the entry ``name`` start (its local header is read once)."""
        with self._lock:
            known = self._data.get(name)
        if known is not None:
            return known
        entry = self.index[name]
        fields = LOCAL.unpack(self._read(entry.header, entry.header + LOCAL.size).ljust(30, b"\0"))
        if fields[0] != LOCAL_SIGNATURE:
            raise OSError(
                f"{self.where}: the entry {name!r} has no local header where its record says"
            )
        offset = entry.header + LOCAL.size + fields[9] + fields[10]
        with self._lock:
            self._data[name] = offset
        return offset

    def read(self, name: str, start: int = 0, stop: int | None = None) -> bytes | None:
        """Bytes ``start:stop`` of the entry ``name`` once read; None if there is none."""
        entry = self.index.get(name)
        if entry is None:
            return None
        stop = entry.size if stop is None else min(stop, entry.size)
        start = min(max(start, 0), stop)
        if entry.compressed:
            return self._inflated(name, entry)[start:stop]
        data = self.data_offset(name)
        return self._read(data + start, data + stop)

    def _inflated(self, name: str, entry: IndexedEntry) -> bytes:
        if entry.method != zipfile.ZIP_DEFLATED:
            raise OSError(
                f"{self.where}: the entry {name!r} is compressed with ZIP method {entry.method}, "
                "which omezarr does not read (RFC-9 archives store their entries)"
            )
        data = self.data_offset(name)
        return zlib.decompressobj(-15).decompress(self._read(data, data + entry.stored), entry.size)

    def entry_names(self) -> list[str]:
        return list(self.index)

    def entry_size(self, key: str) -> int | None:
        entry = self.index.get(key)
        return None if entry is None else entry.size

    def check_whole_read(self, key: str, size: int) -> None:
        if posixpath.basename(key) in _METADATA_NAMES:
            self.check_metadata(f"{self.where}/{key}", size)

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()

    async def delete(self, key: str) -> None:
        self._check_writable()


def local_reader(path: Path, check_metadata: Callable[[str, int], None]) -> ArchiveReader:
    """An :class:`ArchiveReader` of the local archive ``path`` (its directory read now)."""
    with open(path, "rb") as file:
        index = read_index(file)
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    closer = _Closer(descriptor)
    reader = ArchiveReader(os.fspath(path), local_range(descriptor), index, check_metadata, closer)
    weakref.finalize(reader, closer)  # a reader nobody closes (a group dropped) still releases it
    return reader


class _Closer:
    """Closes a descriptor once, however often it is called."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor: int | None = descriptor

    def __call__(self) -> None:
        descriptor, self.descriptor = self.descriptor, None
        if descriptor is not None:
            os.close(descriptor)


def remote_reader(
    url: str, storage_options: Mapping[str, Any], check_metadata: Callable[[str, int], None]
) -> ArchiveReader:
    """An :class:`ArchiveReader` of the remote archive at ``url`` (fsspec), by ranged reads."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, **dict(storage_options))
    # Small blocks: the end records and the directory are near the end, nothing else is read.
    with fs.open(path, "rb", block_size=256 * 1024, cache_type="readahead") as file:
        index = read_index(file)
    return ArchiveReader(url, remote_range(fs, path), index, check_metadata)
