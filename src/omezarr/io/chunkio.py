"""Writing whole chunks straight to a local store, bypassing zarr's per-call machinery.

zarr-python routes every write through its event loop, where most of the time of a
pyramid write goes to Python bookkeeping on one core. For the common layouts — a local
directory store, no filters, a little-endian bytes codec and compressors that numcodecs
implements, unsharded or sharded with zarr's default shard index — encoding a whole chunk is
just ``compressor(bytes)``, which numcodecs does with the GIL released, so the engine's
threads can encode in parallel; a shard is its encoded inner chunks followed by their index.

Files are written the way zarr's LocalStore writes them: to a temporary file in the same
folder, then renamed, so a reader never sees a partial chunk; on local disks with direct I/O
(see :mod:`omezarr.io.files`), which skips the kernel's copy into its page cache. Any other
layout returns ``None`` from :func:`direct_writer` and the engine uses zarr.
"""

from __future__ import annotations

import functools
import os
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numcodecs
import numcodecs.abc
import numpy as np
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, ShardingCodec
from zarr.storage import LocalStore

from .archive import Archive, ArchiveStore
from .codecs import numcodecs_equivalent
from .files import WriteBehind, direct_io_mode, use_direct_io, write_file

__all__ = ["DirectChunkWriter", "DirectIO", "direct_writer"]


def _numcodecs_for_v3(codec: Any, itemsize: int) -> numcodecs.abc.Codec | None:
    """The numcodecs codec that encodes exactly like a zarr v3 bytes-to-bytes codec."""
    equivalent = numcodecs_equivalent(codec)
    if isinstance(codec, BloscCodec) and isinstance(equivalent, numcodecs.Blosc):
        # zarr gives Blosc the element size of the data; numcodecs takes it from the buffer.
        return _TypedBlosc(equivalent, codec.typesize or itemsize)
    return equivalent


class _TypedBlosc(numcodecs.abc.Codec):
    """Blosc on raw bytes viewed with the data's element size, as zarr's BloscCodec does."""

    codec_id = "omezarr-typed-blosc"

    def __init__(self, blosc: numcodecs.Blosc, typesize: int) -> None:
        self.blosc = blosc
        self.dtype = np.dtype(f"u{typesize}") if typesize in (1, 2, 4, 8) else np.dtype("u1")

    def encode(self, buf: Any) -> Any:
        data = np.frombuffer(memoryview(buf).cast("B"), dtype=np.uint8)
        if data.size % self.dtype.itemsize == 0:
            data = data.view(self.dtype)
        return self.blosc.encode(data)

    def decode(self, buf: Any, out: Any = None) -> Any:  # pragma: no cover - never used to read
        return self.blosc.decode(buf, out)


_NO_CHUNK = 2**64 - 1
"""A shard index entry (offset and size) for an inner chunk that is not stored."""


@dataclass
class DirectIO:
    """How one array's chunk files are written: with direct I/O (``enabled``), and whether
    a refusal is an error (``strict``, ``$OMEZARR_DIRECT_IO=on``) or turns it off."""

    enabled: bool = False
    strict: bool = False


@dataclass(frozen=True)
class DirectChunkWriter:
    """Encodes and stores whole chunks of one array in a local directory store.

    For a sharded array (``shards`` set) the stored unit is a shard: its inner chunks
    (``chunks``) are encoded one by one and written as one file followed by the shard index
    (offset and size of every inner chunk, little-endian ``uint64``, then its CRC32C), the
    layout of zarr's ``sharding_indexed`` codec with its default index codecs. Inner chunks
    beyond the array's end are not stored, as zarr does.
    """

    folder: Path
    chunks: tuple[int, ...]
    shape: tuple[int, ...]
    dtype: np.dtype
    fill_value: Any
    compressors: tuple[numcodecs.abc.Codec, ...]
    encode_key: Any  # the array metadata's encode_chunk_key
    shards: tuple[int, ...] | None = None
    made_folders: set[Path] = field(default_factory=set, compare=False, repr=False)
    """Folders known to exist (each is created once rather than once per chunk)."""
    direct_io: DirectIO = field(default_factory=DirectIO, compare=False)
    archive: Archive | None = None
    """The single-file archive the array is in (``folder`` is then its path inside it)."""

    def write(
        self, start: Sequence[int], data: np.ndarray, behind: WriteBehind | None = None
    ) -> None:
        """Store ``data``, which covers whole chunks (shards) from ``start``, clipped at the
        array's end; with direct I/O or into an archive, ``behind`` writes while encoding goes
        on."""
        unit = self.shards or self.chunks
        grid = [
            range(s // c, -(-(s + n) // c)) for s, n, c in zip(start, data.shape, unit, strict=True)
        ]
        for coords in np.ndindex(*(len(r) for r in grid)):
            key = tuple(r[i] for r, i in zip(grid, coords, strict=True))
            lo = [k * c - s for k, c, s in zip(key, unit, start, strict=True)]
            piece = data[tuple(slice(a, a + c) for a, c in zip(lo, unit, strict=True))]
            parts = [self._encode(piece)] if self.shards is None else self._shard_parts(piece)
            if behind is not None and (self.direct_io.enabled or self.archive is not None):
                # Written by another thread while this one encodes (an archive's appends
                # take turns, so an encoding thread would otherwise wait for them).
                size = sum(memoryview(part).nbytes for part in parts)
                behind.submit(functools.partial(self._store, key, parts), size)
            else:
                self._store(key, parts)

    def _encode(self, piece: np.ndarray) -> Any:
        """One chunk, encoded; edge chunks are padded with the fill value, as zarr does."""
        if piece.shape != self.chunks:
            full = np.full(self.chunks, self.fill_value, dtype=self.dtype)
            full[tuple(slice(0, n) for n in piece.shape)] = piece
            piece = full
        # A contiguous array is passed on as it is: numcodecs reads it through the buffer
        # protocol, so no extra copy of the chunk is made.
        encoded: Any = np.ascontiguousarray(piece, dtype=self.dtype)
        for compressor in self.compressors:
            encoded = compressor.encode(encoded)
        if isinstance(encoded, np.ndarray) and np.may_share_memory(encoded, piece):
            # Stored as it is (no compressor): the file may be written by a WriteBehind thread
            # after the caller has reused ``piece``'s memory, so it gets its own copy.
            encoded = encoded.copy()
        return encoded

    def _shard_parts(self, shard: np.ndarray) -> list[Any]:
        """The encoded inner chunks of ``shard`` (clipped at the array's end), then its index."""
        assert self.shards is not None
        per_shard = [s // c for s, c in zip(self.shards, self.chunks, strict=True)]
        index = np.full((*per_shard, 2), _NO_CHUNK, dtype="<u8")
        parts: list[Any] = []
        offset = 0
        for inner in np.ndindex(*per_shard):
            lo = [i * c for i, c in zip(inner, self.chunks, strict=True)]
            if any(a >= n for a, n in zip(lo, shard.shape, strict=True)):
                continue  # wholly beyond the array's end: not stored
            encoded = self._encode(
                shard[tuple(slice(a, a + c) for a, c in zip(lo, self.chunks, strict=True))]
            )
            size = memoryview(encoded).nbytes
            index[inner] = (offset, size)
            parts.append(encoded)
            offset += size
        index_bytes = index.tobytes()
        parts += [index_bytes, _crc32c(index_bytes)]
        return parts

    def _store(self, key: tuple[int, ...], parts: list[Any]) -> None:
        """Write ``parts`` as the file of ``key``: to a temporary file, then renamed (or
        appended to the archive)."""
        if self.archive is not None:
            name = self.encode_key(key)
            self.archive.append(
                f"{self.folder.as_posix()}/{name}" if self.folder.parts else name, parts
            )
            return
        path = self.folder / self.encode_key(key)
        if path.parent not in self.made_folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made_folders.add(path.parent)  # a set: safe to share between threads
        temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.partial")
        io = self.direct_io
        try:
            if not write_file(temporary, parts, io.enabled, io.strict):
                io.enabled = False  # refused: this file system writes buffered from now on
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def _crc32c(data: bytes) -> bytes:
    """The CRC32C of ``data`` as 4 little-endian bytes (zarr's ``crc32c`` codec)."""
    return bytes(np.asarray(numcodecs.CRC32C().encode(data))[-4:])


def _is_default_shard_index(sharding: Any) -> bool:
    """Whether a sharding codec keeps its index at the end, encoded as bytes + crc32c."""
    codecs = list(sharding.index_codecs)
    return (
        getattr(sharding.index_location, "value", sharding.index_location) == "end"
        and len(codecs) == 2
        and isinstance(codecs[0], BytesCodec)
        and (codecs[0].endian is None or codecs[0].endian.value == "little")
        and isinstance(codecs[1], Crc32cCodec)
    )


def direct_writer(array: Any) -> DirectChunkWriter | None:
    """A :class:`DirectChunkWriter` for ``array`` when its layout allows, else None."""
    store = getattr(array, "store", None)
    archive = store.archive if isinstance(store, ArchiveStore) else None
    if archive is None and (
        not isinstance(store, LocalStore) or getattr(store, "read_only", False)
    ):
        return None
    if sys.byteorder != "little":
        return None
    metadata = array.metadata
    dtype = np.dtype(array.dtype)
    if dtype.kind not in "biuf" or dtype.byteorder == ">":
        return None
    compressors: list[numcodecs.abc.Codec] = []
    shards = None
    if metadata.zarr_format == 3:
        codecs = list(metadata.codecs)
        if getattr(array, "shards", None) is not None:
            if len(codecs) != 1 or not isinstance(codecs[0], ShardingCodec):
                return None
            if not _is_default_shard_index(codecs[0]):
                return None
            shards = tuple(int(n) for n in array.shards)
            codecs = list(codecs[0].codecs)
        if not codecs or not isinstance(codecs[0], BytesCodec):
            return None
        if (
            codecs[0].endian is not None
            and codecs[0].endian.value != "little"
            and dtype.itemsize > 1
        ):
            return None
        for codec in codecs[1:]:
            translated = _numcodecs_for_v3(codec, dtype.itemsize)
            if translated is None:
                return None
            compressors.append(translated)
    else:
        if metadata.filters or metadata.order != "C":
            return None
        if metadata.compressor is not None:
            compressors.append(metadata.compressor)
    fill_value = metadata.fill_value
    if archive is not None:  # chunks are entries of the archive: no folders, no direct I/O
        folder, mode = Path(array.path), "off"
    else:
        assert isinstance(store, LocalStore)
        folder, mode = Path(store.root) / array.path, direct_io_mode()

    return DirectChunkWriter(
        folder=folder,
        chunks=tuple(int(c) for c in array.chunks),
        shape=tuple(int(n) for n in array.shape),
        dtype=dtype,
        fill_value=fill_value if fill_value is not None else 0,
        compressors=tuple(compressors),
        encode_key=metadata.encode_chunk_key,
        shards=shards,
        direct_io=DirectIO(enabled=use_direct_io(folder, mode), strict=mode == "on"),
        archive=archive,
    )
