"""The byte layout of the ZIP archives behind single-file OME-Zarr (RFC-9): local headers,
padding fields, the central directory, the ZIP64 end records and the RFC's JSON comment.

Pure functions over bytes, shared by the writers (:mod:`omezarr.io.archive`, a local file;
:mod:`omezarr.io.archive_stream`, an S3 upload) and the reader
(:mod:`omezarr.io.archive_read`).
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Sequence
from typing import Any

__all__ = [
    "LOCAL",
    "LOCAL_SIGNATURE",
    "MAX32",
    "MAX_EXTRA",
    "breadth_first",
    "crc_and_size",
    "directory_bytes",
    "dos_time",
    "local_header",
    "padding_field",
]

LOCAL = struct.Struct("<IHHHHHIIIHH")  # local file header, 30 bytes
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")  # central directory record, 46 bytes
_END64 = struct.Struct("<IQHHIIQQQQ")  # ZIP64 end of central directory record, 56 bytes
_LOCATOR64 = struct.Struct("<IIQI")  # ZIP64 end of central directory locator, 20 bytes
_END = struct.Struct("<IHHHHIIH")  # end of central directory record, 22 bytes
LOCAL_SIGNATURE = 0x04034B50
_UTF8_NAMES = 0x0800
_VERSION = 45  # ZIP64
_MADE_BY = (3 << 8) | _VERSION  # Unix
_FILE_MODE = 0o100644 << 16
MAX32 = 0xFFFFFFFF
_ZIP64_FROM = MAX32
"""Sizes and offsets from this one on are stored in ZIP64 extra fields (a test lowers it)."""
_PADDING_ID = 0xD935  # the extra-field id zipalign pads with; readers skip unknown ids
MAX_EXTRA = 0xFFFF


def dos_time(moment: float) -> tuple[int, int]:
    t = time.localtime(moment)
    return (
        (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2),
        ((max(t.tm_year, 1980) - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday,
    )


def local_header(name: bytes, size: int, crc: int, when: tuple[int, int], extra: bytes) -> bytes:
    if size >= _ZIP64_FROM:
        extra = struct.pack("<HHQQ", 1, 16, size, size) + extra
        stored = MAX32
    else:
        stored = size
    return (
        LOCAL.pack(
            LOCAL_SIGNATURE,
            _VERSION,
            _UTF8_NAMES,
            0,  # stored
            when[0],
            when[1],
            crc,
            stored,
            stored,
            len(name),
            len(extra),
        )
        + name
        + extra
    )


def padding_field(length: int) -> bytes:
    """An extra field of exactly ``length`` bytes (at least 4) that readers skip."""
    return struct.pack("<HH", _PADDING_ID, length - 4) + bytes(length - 4)


def crc_and_size(parts: Sequence[Any]) -> tuple[int, int]:
    """The CRC-32 and length of ``parts`` (zlib releases the GIL for large buffers)."""
    crc, size = 0, 0
    for part in parts:
        view = memoryview(part).cast("B")
        crc = zlib.crc32(view, crc)
        size += view.nbytes
    return crc, size


def breadth_first(name: str) -> tuple[int, str]:
    return (name.count("/"), name)


def directory_bytes(
    records: Sequence[tuple[str, int, int, int]],
    start: int,
    root: bytes | None,
    when: tuple[int, int],
) -> bytes:
    """The central directory of ``records`` (name, header offset, size, CRC), starting at
    ``start``, then the ZIP64 end records and the RFC-9 comment naming the version that the
    root document ``root`` declares."""
    directory: list[bytes] = []
    for name, offset, size, crc in records:
        raw = name.encode("utf-8")
        values = [v for v in (size, size, offset) if v >= _ZIP64_FROM]
        extra = struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values) if values else b""
        directory.append(
            _CENTRAL.pack(
                0x02014B50,
                _MADE_BY,
                _VERSION,
                _UTF8_NAMES,
                0,
                *when,
                crc,
                MAX32 if size >= _ZIP64_FROM else size,
                MAX32 if size >= _ZIP64_FROM else size,
                len(raw),
                len(extra),
                0,
                0,
                0,
                _FILE_MODE,
                MAX32 if offset >= _ZIP64_FROM else offset,
            )
            + raw
            + extra
        )
    count, length = len(records), sum(len(d) for d in directory)
    end = start + length
    comment = json.dumps(
        {"ome": {**_declared_version(root), "zipFile": {"centralDirectory": {"jsonFirst": True}}}},
        separators=(",", ":"),
    ).encode()
    tail = (
        _END64.pack(0x06064B50, 44, _MADE_BY, _VERSION, 0, 0, count, count, length, start)
        + _LOCATOR64.pack(0x07064B50, 0, end, 1)
        + _END.pack(
            0x06054B50,
            0,
            0,
            min(count, 0xFFFF),
            min(count, 0xFFFF),
            MAX32 if length >= _ZIP64_FROM else length,
            MAX32 if start >= _ZIP64_FROM else start,
            len(comment),
        )
        + comment
    )
    return b"".join(directory) + tail


def _declared_version(root: bytes | None) -> dict[str, str]:
    """``{"version": ...}`` of the root document's ``ome`` attributes, if it has one."""
    try:
        version = json.loads(root or b"{}").get("attributes", {}).get("ome", {}).get("version")
    except (ValueError, AttributeError):
        return {}
    return {"version": str(version)} if isinstance(version, str | int | float) else {}
