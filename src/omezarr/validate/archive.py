"""RFC-9 rules for single-file OME-Zarr (a ZIP archive, ``.ozx``) that zarr cannot see: how the
archive itself is laid out, beyond the hierarchy inside it."""

from __future__ import annotations

import json
import os
import posixpath
import zipfile
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from ..io.storage import is_url, is_zip_target, local_path
from .report import Severity, Violation

__all__ = ["archive_target", "archive_violations"]

_ZIP64_LOCATOR = b"PK\x06\x07"
_NESTED_SUFFIXES = (".zip", ".ozx")


def archive_violations(path: Path | str, root_version: str | None) -> list[Violation]:
    """What the ZIP archive at ``path`` (a local path, or a remote URL read by byte range)
    breaks of RFC-9: errors for what misleads readers (a nested archive, a ``jsonFirst`` claim
    that is false, a comment declaring another version than the hierarchy's), warnings for its
    recommendations (entries stored uncompressed, ``zarr.json`` entries first and
    breadth-first, ZIP64, a JSON comment, the ``.ozx`` name)."""
    violations: list[Violation] = []

    def add(message: str, rule: str, severity: Severity = "warning") -> None:
        violations.append(Violation(".", message, rule, severity))

    with _open(path) as file:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            comment = archive.comment
        zip64 = _has_zip64_record(file)
    names = [info.filename for info in infos]
    nested = [n for n in names if n.lower().endswith(_NESTED_SUFFIXES)]
    if nested:
        add(
            f"the archive holds another archive ({nested[0]!r}): a single-file OME-Zarr holds "
            "exactly one hierarchy, not archives",
            "ozx-nested",
            "error",
        )
    compressed = [info.filename for info in infos if info.compress_type != zipfile.ZIP_STORED]
    if compressed:
        add(
            f"{len(compressed)} of {len(infos)} entries are compressed by ZIP (e.g. "
            f"{compressed[0]!r}); RFC-9 recommends storing them, as zarr's codecs compress "
            "already and stored entries can be read by byte range",
            "ozx-compression",
        )
    documents = [n for n in names if posixpath.basename(n) == "zarr.json"]
    breadth_first = sorted(documents, key=lambda n: (n.count("/"), n))
    json_first = names[: len(documents)] == breadth_first
    if names[:1] != ["zarr.json"] or not json_first:
        add(
            "the zarr.json entries do not come first in breadth-first order (root first), as "
            "RFC-9 recommends, so readers must list the whole archive to find the hierarchy",
            "ozx-order",
        )
    if not zip64:
        add("the archive does not use the ZIP64 format, which RFC-9 recommends", "ozx-zip64")
    declared = _comment(comment)
    if declared is None:
        add(
            'the archive comment is no JSON object {"ome": {"version": ...}}, which RFC-9 '
            "recommends",
            "ozx-comment",
        )
    else:
        version = declared.get("version")
        if root_version is not None and version is not None and str(version) != root_version:
            add(
                f"the archive comment declares OME-Zarr {version}, the hierarchy is {root_version}",
                "ozx-comment",
                "error",
            )
        directory = declared.get("zipFile", {})
        claimed = (
            directory.get("centralDirectory", {}).get("jsonFirst")
            if isinstance(directory, dict) and isinstance(directory.get("centralDirectory"), dict)
            else None
        )
        if claimed is True and names[: len(documents)] != documents:
            add(
                'the archive comment claims "jsonFirst" but zarr.json entries follow other '
                "entries: readers that trust it miss part of the hierarchy",
                "ozx-comment",
                "error",
            )
    name = posixpath.basename(urlsplit(path).path if isinstance(path, str) else path.name)
    if not name.lower().endswith(".ozx"):
        add(f"{name}: RFC-9 recommends the extension .ozx", "ozx-name")
    return violations


def _comment(raw: bytes) -> dict[str, Any] | None:
    """The ``ome`` object of an RFC-9 archive comment, or None."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    ome = document.get("ome") if isinstance(document, dict) else None
    return ome if isinstance(ome, dict) else None


def _has_zip64_record(file: BinaryIO) -> bool:
    """Whether the archive ends with a ZIP64 end-of-central-directory locator."""
    size = file.seek(0, 2)
    file.seek(max(0, size - (65536 + 22 + 20)))
    return _ZIP64_LOCATOR in file.read()


def _open(path: Path | str) -> BinaryIO:
    """The archive at ``path`` for reading: a local file, or a remote one read by range."""
    if isinstance(path, Path):
        return open(path, "rb")
    import fsspec

    fs, remote = fsspec.core.url_to_fs(path)
    return fs.open(remote, "rb", block_size=256 * 1024, cache_type="readahead")


def archive_target(target: object) -> Path | str | None:
    """Where the single-file OME-Zarr ``target`` is when it is one: the path of a local ZIP
    archive, or a remote URL whose name ends in ``.ozx``."""
    if not isinstance(target, str | os.PathLike):
        return None
    text = os.fspath(target)
    if is_url(text) and not text.startswith("file://"):
        return text if urlsplit(text).path.lower().endswith(".ozx") else None
    path = local_path(text, "target")
    return path if path.is_file() and is_zip_target(path) else None
