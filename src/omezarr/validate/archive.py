"""RFC-9 rules for single-file OME-Zarr (a ZIP archive, ``.ozx``) that zarr cannot see: how the
archive itself is laid out, beyond the hierarchy inside it."""

from __future__ import annotations

import json
import os
import posixpath
import zipfile
from pathlib import Path
from typing import Any

from ..io.storage import is_url, is_zip_target, local_path
from .report import Severity, Violation

__all__ = ["archive_violations"]

_ZIP64_LOCATOR = b"PK\x06\x07"
_NESTED_SUFFIXES = (".zip", ".ozx")


def archive_violations(path: Path, root_version: str | None) -> list[Violation]:
    """What the ZIP archive at ``path`` breaks of RFC-9: errors for what misleads readers (a
    nested archive, a ``jsonFirst`` claim that is false, a comment declaring another version
    than the hierarchy's), warnings for its recommendations (entries stored uncompressed,
    ``zarr.json`` entries first and breadth-first, ZIP64, a JSON comment, the ``.ozx`` name)."""
    violations: list[Violation] = []

    def add(message: str, rule: str, severity: Severity = "warning") -> None:
        violations.append(Violation(".", message, rule, severity))

    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        comment = archive.comment
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
    if not _has_zip64_record(path):
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
    if path.suffix.lower() != ".ozx":
        add(f"{path.name}: RFC-9 recommends the extension .ozx", "ozx-name")
    return violations


def _comment(raw: bytes) -> dict[str, Any] | None:
    """The ``ome`` object of an RFC-9 archive comment, or None."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    ome = document.get("ome") if isinstance(document, dict) else None
    return ome if isinstance(ome, dict) else None


def _has_zip64_record(path: Path) -> bool:
    """Whether the archive ends with a ZIP64 end-of-central-directory locator."""
    with open(path, "rb") as file:
        file.seek(0, 2)
        size = file.tell()
        file.seek(max(0, size - (65536 + 22 + 20)))
        tail = file.read()
    return _ZIP64_LOCATOR in tail


def local_archive(target: object) -> Path | None:
    """The path of ``target`` when it is a local single-file OME-Zarr (a ZIP archive)."""
    if not isinstance(target, str | os.PathLike) or is_url(os.fspath(target)):
        return None
    path = local_path(target, "target")
    return path if path.is_file() and is_zip_target(path) else None
