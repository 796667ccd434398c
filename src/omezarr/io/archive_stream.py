"""Writing an ``.ozx`` (RFC-9) straight to S3: a multipart upload fed as the engine encodes.

A :class:`StreamedArchiveWriter` never writes a local file: entries are copied into a part
buffer that is uploaded (one part in flight while the next fills) once it is full. RFC-9 wants
the ``zarr.json`` documents first, but they are complete only at the end; S3 assembles an
object from its parts by *number*, not by upload order, so part 1 is kept back: it is
uploaded last and holds the documents followed by the first :data:`PART_SIZE` bytes of
entries (S3 wants at least 5 MiB in every part but the last). No entry's bytes depend on
where it lands — local headers hold no offsets — so only the central directory, written with
the last part, needs the documents' length. Entries may straddle parts. The object appears
when the upload is completed, whole; a failed write aborts the upload, and a killed one leaves
an incomplete upload that no reader sees (a bucket's ``AbortIncompleteMultipartUpload``
lifecycle rule removes it).

Memory: three part buffers of a fixed size (part 1, the part being filled, the one in flight),
allocated once and reused, plus the entries of small arrays (a pyramid's coarsest levels, at
most :data:`RETAINED_BYTES` in all) kept so that they can be read back while the archive is
written (a conversion sets its channel windows from the coarsest level) — together
:data:`UPLOAD_BUFFERS`, which the writers take out of the memory budget. Reading back any
other entry once it is uploaded raises :class:`StreamedEntryError`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .archive import Archive, is_archive_metadata
from .zip_records import breadth_first, crc_and_size, directory_bytes, dos_time, local_header

__all__ = [
    "RETAINED_BYTES",
    "UPLOAD_BUFFERS",
    "StreamedArchiveWriter",
    "StreamedEntryError",
    "part_size_for",
    "upload_buffers",
]

MIN_PART = 5 * 1024 * 1024
"""S3's smallest part (all but the last): part 1 holds at least this much of the entries."""
PART_SIZE = 8 * 1024 * 1024
"""The smallest size of every part but the last (part 1 holds the documents besides): an
archive of known size gets parts large enough for 9,000 of them (:func:`part_size_for`)."""
RETAINED_BYTES = 32 * 1024 * 1024
"""The encoded bytes of small arrays' entries kept for reading back, in all."""
UPLOAD_BUFFERS = 3 * PART_SIZE + RETAINED_BYTES
"""What a streamed archive of parts of :data:`PART_SIZE` holds at most besides the
documents: part 1, the part being filled, the part in flight and the kept entries."""
_PARTS_PLANNED = 9000
"""Parts an archive of known size is planned in (S3 allows 10,000: room for misestimates)."""


def part_size_for(expected_bytes: int) -> int:
    """The part size for an archive expected to reach ``expected_bytes``: :data:`PART_SIZE`,
    or more (whole MiB) when that many parts would not hold it.

    Examples
    --------
    >>> part_size_for(0) == PART_SIZE, part_size_for(2**40) // 2**20
    (True, 117)
    """
    needed = -(-max(expected_bytes, 0) // _PARTS_PLANNED)
    return max(PART_SIZE, -(-needed // 2**20) * 2**20)


def upload_buffers(part_size: int) -> int:
    """The memory a streamed archive with parts of ``part_size`` holds (see the module)."""
    return 3 * part_size + RETAINED_BYTES


_RETAINED_ARRAY = 16 * 1024 * 1024
"""Arrays of at most this many uncompressed bytes have their entries kept."""
_CHUNK_KEY = re.compile(r"^(?:(.*)/)?c(?:/\d+)+$")


class StreamedEntryError(OSError):
    """An entry of an archive streamed to object storage was read after it was uploaded."""


class _Placed:
    """An entry of the stream: ``offset`` of its local header from the start of the entries
    (the documents come before them), the length of that header, its size and CRC."""

    __slots__ = ("crc", "header", "offset", "size")

    def __init__(self, offset: int, header: int, size: int, crc: int) -> None:
        self.offset, self.header, self.size, self.crc = offset, header, size, crc


class StreamedArchiveWriter(Archive):
    """One ``.ozx`` written to ``s3://bucket/key`` by a multipart upload (see the module).

    Parameters
    ----------
    fs : s3fs.S3FileSystem
        The filesystem whose client uploads.
    path : str
        ``bucket/key`` of the archive.
    part_size : int, optional
        Bytes a part holds before it is uploaded (at least :data:`MIN_PART`); default from
        ``expected_bytes`` (:func:`part_size_for`).
    expected_bytes : int, default 0
        How large the archive is expected to grow (0: unknown), so that its parts are large
        enough for S3's 10,000 from the start and the buffers stay of one size.
    """

    def __init__(
        self, fs: Any, path: str, *, part_size: int | None = None, expected_bytes: int = 0
    ) -> None:
        self.destination = Path(path)
        self._fs = fs
        self._bucket, self._key, _ = fs.split_path(path)
        self._part_size = part_size_for(expected_bytes) if part_size is None else part_size
        self._part_size = max(self._part_size, MIN_PART)
        self._when = dos_time(time.time())
        self._lock = threading.Lock()
        self._documents: dict[str, bytes] = {}
        self._entries: dict[str, _Placed] = {}
        self._retained: dict[str, bytes] = {}
        self._retained_bytes = 0
        # Buffers of a fixed size, allocated once and reused: growing and freeing buffers of
        # megabytes as entries come would leave the allocator's arenas fragmented.
        self._head = bytearray(self._part_size)  # the entries of part 1, uploaded last
        self._head_used = 0
        self._buffer = bytearray()  # the part being filled (allocated once part 1 is full)
        self._buffer_used = 0
        self._buffer_start = 0  # its first byte's offset in the stream of entries
        self._spare: bytearray | None = None  # the buffer of the part uploaded last
        self._streaming = False  # part 1 is full: entries go to later parts
        self._parts: list[dict[str, Any]] = []
        self._pending: Future[tuple[dict[str, Any], bytearray]] | None = None
        self._uploader = ThreadPoolExecutor(1, thread_name_prefix="omezarr-upload")
        self._upload_id: str | None = None
        self._failed: BaseException | None = None
        self.closed = False
        self.held_archive = None

    @property
    def buffers(self) -> int:
        """The memory this archive's upload holds at most (its parts of the planned size)."""
        return upload_buffers(self._part_size)

    # ------------------------------------------------------------------------- writing

    def append(self, name: str, parts: Sequence[Any]) -> None:
        """Add the entry ``name`` holding ``parts``; documents stay in memory until the end."""
        if is_archive_metadata(name):
            with self._lock:
                self._check_open()
                self._documents[name] = b"".join(bytes(memoryview(p).cast("B")) for p in parts)
            return
        crc, size = crc_and_size(parts)
        header = local_header(name.encode("utf-8"), size, crc, self._when, b"")
        with self._lock:
            self._check_open()
            offset = self._buffer_start + self._buffer_used if self._streaming else self._head_used
            self._put(memoryview(header))
            for part in parts:
                self._put(memoryview(part).cast("B"))
            self._entries.pop(name, None)
            self._retained_bytes -= len(self._retained.pop(name, b""))
            self._entries[name] = _Placed(offset, len(header), size, crc)
            if self._retains(name, size):
                self._retained[name] = b"".join(memoryview(p).cast("B") for p in parts)
                self._retained_bytes += size

    def _put(self, data: memoryview) -> None:
        """Copy ``data`` into part 1 until it is full, then into the part being filled,
        uploading each part as it fills (the lock is held)."""
        while data:
            if not self._streaming:
                taken = min(len(self._head) - self._head_used, len(data))
                self._head[self._head_used : self._head_used + taken] = data[:taken]
                self._head_used += taken
                data = data[taken:]
                if self._head_used == len(self._head):
                    self._streaming = True
                    self._buffer_start = self._head_used
                    self._buffer = self._free_buffer()
                continue
            taken = min(len(self._buffer) - self._buffer_used, len(data))
            self._buffer[self._buffer_used : self._buffer_used + taken] = data[:taken]
            self._buffer_used += taken
            data = data[taken:]
            if self._buffer_used == len(self._buffer):
                self._send_buffer()

    def release(self, prefix: str) -> None:
        """Stop keeping the entries below ``prefix`` (an image whose windows are set), so
        that the next images of a plate or collection have the room."""
        start = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        with self._lock:
            for name in [n for n in self._retained if n.startswith(start)]:
                self._retained_bytes -= len(self._retained.pop(name))

    def _retains(self, name: str, size: int) -> bool:
        """Whether the entry ``name`` of ``size`` bytes is kept for reading back."""
        if self._retained_bytes + size > RETAINED_BYTES:
            return False
        match = _CHUNK_KEY.match(name)
        if match is None:
            return False
        document = self._documents.get(
            f"{match.group(1)}/zarr.json" if match.group(1) else "zarr.json"
        )
        try:
            metadata = json.loads(document or b"{}")
            nominal = (
                math.prod(int(n) for n in metadata["shape"])
                * np.dtype(metadata["data_type"]).itemsize
            )
        except (ValueError, TypeError, KeyError):
            return False
        return nominal <= _RETAINED_ARRAY

    def _current_part_size(self) -> int:
        """The planned size until part 9,000; then (an archive larger than expected) doubling
        every 100 parts, so that S3's last part number still holds its largest object."""
        number = len(self._parts) + 2
        beyond = number - _PARTS_PLANNED
        return self._part_size << (min(beyond // 100 + 1, 9) if beyond >= 0 else 0)

    def _free_buffer(self) -> bytearray:
        """A buffer for the next part: the last uploaded one's, if it is of the size due."""
        size = self._current_part_size()
        spare, self._spare = self._spare, None
        return spare if spare is not None and len(spare) == size else bytearray(size)

    def _send_buffer(self) -> None:
        """Upload the filled part (waiting for the one before: one part in flight)."""
        self._finish_pending()
        number = len(self._parts) + 2  # part 1 is part of the head, uploaded last
        body = self._buffer
        self._buffer_start += self._buffer_used
        self._pending = self._uploader.submit(self._upload_part, number, body)
        self._buffer, self._buffer_used = self._free_buffer(), 0

    def _finish_pending(self) -> None:
        if self._pending is not None:
            try:
                part, self._spare = self._pending.result()
            except BaseException as error:
                # Remembered: a part is missing, so nothing more may be added or committed
                # (a caller that catches this and goes on would complete a corrupt object).
                self._failed = error
                raise
            self._pending = None  # only now: abandon() waits for an upload still running
            self._parts.append(part)

    def _check_open(self) -> None:
        super()._check_open()
        if self._failed is not None:
            raise OSError(
                f"s3://{self._bucket}/{self._key}: a part of the archive failed to upload "
                f"({type(self._failed).__name__}: {self._failed}); it cannot be completed"
            ) from self._failed

    def _upload_part(
        self, number: int, body: bytes | bytearray
    ) -> tuple[dict[str, Any], bytearray]:
        if self._upload_id is None:
            self._upload_id = self._call("create_multipart_upload")["UploadId"]
        answer = self._call("upload_part", PartNumber=number, UploadId=self._upload_id, Body=body)
        spare = body if isinstance(body, bytearray) else bytearray()
        return {"PartNumber": number, "ETag": answer["ETag"]}, spare

    def _call(self, method: str, **arguments: Any) -> Any:
        return self._fs.call_s3(method, Bucket=self._bucket, Key=self._key, **arguments)

    def delete(self, name: str) -> bool:
        with self._lock:
            self._retained_bytes -= len(self._retained.pop(name, b""))
        return super().delete(name)

    # ------------------------------------------------------------------------- reading

    def read(self, name: str, start: int = 0, stop: int | None = None) -> bytes | None:
        """Bytes ``start:stop`` of the entry ``name`` (None if there is none).

        Raises
        ------
        StreamedEntryError
            If its bytes are uploaded already and were not kept.
        """
        with self._lock:
            self._check_open()
            document = self._documents.get(name)
            if document is not None:
                return document[start:stop]
            entry = self._entries.get(name)
            if entry is None:
                return None
            stop = entry.size if stop is None else min(stop, entry.size)
            start = min(max(start, 0), stop)
            retained = self._retained.get(name)
            if retained is not None:
                return retained[start:stop]
            first = entry.offset + entry.header
            if first + entry.size <= self._head_used:
                return bytes(self._head[first + start : first + stop])
            end = self._buffer_start + self._buffer_used
            if self._streaming and first >= self._buffer_start and first + entry.size <= end:
                at = first - self._buffer_start
                return bytes(self._buffer[at + start : at + stop])
        raise StreamedEntryError(
            f"{name}: uploaded to s3://{self._bucket}/{self._key} already; an archive streamed "
            "to object storage cannot be read back until it is complete"
        )

    # ------------------------------------------------------------------------- finishing

    def commit(self) -> Path:
        """Upload the last part and part 1 (the documents, then the first entries) and
        complete the upload: the object appears, whole. The destination's path."""
        try:
            with self._lock:
                self._check_open()
                self._finish_pending()
                documents, records = self._documents_bytes()
                shift = len(documents)
                records += [
                    (name, shift + e.offset, e.size, e.crc) for name, e in self._entries.items()
                ]
                entries = (
                    self._buffer_start + self._buffer_used if self._streaming else self._head_used
                )
                end = shift + entries
                tail = directory_bytes(records, end, self._documents.get("zarr.json"), self._when)
                head = documents + memoryview(self._head)[: self._head_used]
                self._head = bytearray()
                if self._streaming:
                    last = memoryview(self._buffer)[: self._buffer_used].tobytes() + tail
                    self._buffer = bytearray()
                    self._parts.append(self._upload_part(len(self._parts) + 2, last)[0])
                    self._parts.append(self._upload_part(1, head)[0])
                else:  # one part: everything
                    self._parts.append(self._upload_part(1, head + tail)[0])
                self._parts.sort(key=lambda p: p["PartNumber"])
                self._call(
                    "complete_multipart_upload",
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                self._close()
        except BaseException:
            self.abandon()
            raise
        return self.destination

    def _documents_bytes(self) -> tuple[bytes, list[tuple[str, int, int, int]]]:
        """The documents' entries, breadth-first, and their directory records."""
        content, records, offset = [], [], 0
        for name in sorted(self._documents, key=breadth_first):
            document = self._documents[name]
            crc = zlib.crc32(document)
            header = local_header(name.encode("utf-8"), len(document), crc, self._when, b"")
            content += [header, document]
            records.append((name, offset, len(document), crc))
            offset += len(header) + len(document)
        return b"".join(content), records

    def abandon(self) -> None:
        """Stop writing and abort the upload: what was at the destination stays."""
        with self._lock:
            if self.closed:
                return
            self._close()
        if self._pending is not None:  # its failure is what is being abandoned for
            with contextlib.suppress(BaseException):
                self._pending.result()
        if self._upload_id is not None:  # unreachable now: a lifecycle rule removes it
            with contextlib.suppress(Exception):
                self._call("abort_multipart_upload", UploadId=self._upload_id)

    def _close(self) -> None:
        self.closed = True
        self._uploader.shutdown(wait=False)
        self._head, self._buffer = bytearray(), bytearray()
        self._retained.clear()
