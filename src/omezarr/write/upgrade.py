"""Upgrading a whole OME-Zarr hierarchy in place, from OME-NGFF 0.5 to 0.6 (metadata only).

Every group of the hierarchy that carries OME-NGFF metadata (an image, its labels group and
label images, a plate, its wells and fields, a bioformats2raw collection and its series) gets
0.6 metadata: ``version`` "0.6" at ``ome`` only, each image's axes as its intrinsic coordinate
system and one transformation per level from its array to it (a 0.5 multiscale-wide scale or
translation folded into each level's). Arrays, chunks and unknown attributes are untouched:
0.5 arrays already carry ``dimension_names``.

Crash safety on a local disk: every new document is written beside the old one first (a
``zarr.json.<hex>.partial`` file, which readers ignore and ``verify`` reports as a leftover),
then each is renamed over its ``zarr.json`` (deepest first, the top group last), so the top
group declares 0.6 only once every node does. A kill before the renames leaves the old
hierarchy; a kill during them leaves nodes of both versions, each whole and readable by
omezarr; running the upgrade again finishes it (it converts what is still 0.5, and removes
the pending files of the killed run).

0.4 (zarr v2) hierarchies are refused for now: their array metadata must become zarr v3.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io.storage import is_partial_file
from ..ngff.documents import build_multiscale
from ..ngff.format import FormatV06
from ..types import JSONDict

__all__ = ["UpgradeReport", "upgrade"]

_TARGETS = ("0.6",)
"""Versions a hierarchy can be upgraded to."""
_MAX_DEPTH = 8
"""Groups deeper than this are not searched (a plate's field labels are at depth 6)."""


@dataclass(frozen=True)
class UpgradeReport:
    """What :func:`upgrade` changed, or would change (``dry_run``).

    ``changed`` lists the group paths (relative, "." for the top) whose metadata is (or would
    be) rewritten; ``current`` those already at the target version.
    """

    target: str
    to: str
    changed: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    dry_run: bool = False

    def format(self) -> str:
        verb = "would upgrade" if self.dry_run else "upgraded"
        lines = [
            f"{self.target}: {verb} {len(self.changed)} groups to OME-NGFF {self.to}"
            + (f" ({len(self.current)} already {self.to})" if self.current else "")
        ]
        lines += [f"  {path}" for path in self.changed]
        return "\n".join(lines)


def upgrade(
    target: str | os.PathLike[str], to: str = "0.6", *, dry_run: bool = False
) -> UpgradeReport:
    """Upgrade the OME-Zarr hierarchy at ``target`` in place to OME-NGFF ``to``.

    Parameters
    ----------
    target : str or os.PathLike
        A local OME-Zarr directory: an image (with its labels), a plate, a bioformats2raw
        collection.
    to : str, default "0.6"
        The version to reach; "0.6" (from 0.5, rewriting metadata only).
    dry_run : bool, default False
        Check everything and report what would change; write nothing.

    Returns
    -------
    UpgradeReport

    Raises
    ------
    ValueError
        For a target that is not a local directory holding OME-NGFF 0.5 or 0.6 metadata, a
        node of another version (0.4 is not upgraded yet), or metadata that cannot become
        valid 0.6 (each named); raised before anything is written.

    Examples
    --------
    >>> upgrade("img.ome.zarr", "0.6").changed  # doctest: +SKIP
    ['.', 'labels', 'labels/mask']
    """
    if to not in _TARGETS:
        raise ValueError(f"to: expected one of {list(_TARGETS)}, not {to!r}")
    root = Path(os.fspath(target))
    if not (root / "zarr.json").is_file():
        if (root / ".zgroup").is_file() or (root / ".zattrs").is_file():
            raise ValueError(
                f"{root}: a zarr v2 (OME-NGFF 0.4 or older) hierarchy; upgrading it to "
                f"{to} is not supported yet (its arrays need zarr v3 metadata)"
            )
        raise ValueError(f"{root}: not a local OME-Zarr directory (no zarr.json)")
    documents = dict(_groups(root))
    pending: dict[Path, JSONDict] = {}
    current: list[str] = []
    for relative, document in documents.items():
        ome = document.get("attributes", {}).get("ome")
        if not isinstance(ome, Mapping):
            continue
        version = ome.get("version")
        where = relative.as_posix() if relative.parts else "."
        if version == to:
            current.append(where)
        elif version == "0.5" or (version is None and relative.parts):
            # A group without a version inside a 0.5 hierarchy (ome-zarr-py writes its labels
            # group so) is of its hierarchy's version.
            pending[relative] = {**document, "attributes": _upgraded_attributes(document, where)}
        else:
            raise ValueError(
                f"{root}/{where}: OME-NGFF {version!r}; only 0.5 groups are upgraded to {to} "
                "(every group of a hierarchy must have one version)"
            )
    if not pending and not current:
        raise ValueError(f"{root}: no OME-NGFF metadata found to upgrade")
    changed = [p.as_posix() if p.parts else "." for p in sorted(pending, key=_deepest_first)]
    report = UpgradeReport(os.fspath(target), to, changed, sorted(current), dry_run)
    if dry_run:
        return report
    _remove_pending_files(root, documents)
    written = []
    for relative in sorted(pending, key=_deepest_first):
        written.append(_write_beside(root / relative, pending[relative]))
    for document_path, new_path in written:  # deepest first: the top group declares 0.6 last
        os.replace(new_path, document_path)
    return report


def _deepest_first(relative: Path) -> tuple[int, str]:
    return (-len(relative.parts), relative.as_posix())


def _groups(root: Path) -> Iterator[tuple[Path, JSONDict]]:
    """Every zarr v3 group below ``root`` (itself included): relative path and document."""
    stack: list[tuple[Path, int]] = [(Path(), 0)]
    while stack:
        relative, depth = stack.pop()
        document_path = root / relative / "zarr.json"
        try:
            document = json.loads(document_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"{document_path}: cannot be read ({error})") from None
        if not isinstance(document, dict) or document.get("node_type") != "group":
            continue
        yield relative, document
        if depth >= _MAX_DEPTH:
            continue
        for child in sorted((root / relative).iterdir()):
            if child.is_dir() and not child.is_symlink() and (child / "zarr.json").is_file():
                stack.append((relative / child.name, depth + 1))


def _remove_pending_files(root: Path, documents: Mapping[Path, Any]) -> None:
    """The new documents a killed upgrade had not yet renamed: recomputed, so removed."""
    for relative in documents:
        for leftover in (root / relative).glob("zarr.json.*.partial"):
            if is_partial_file(leftover.name):
                leftover.unlink(missing_ok=True)


def _write_beside(directory: Path, document: JSONDict) -> tuple[Path, Path]:
    """Write ``document`` to a pending file beside ``directory``'s zarr.json, flushed to disk."""
    target = directory / "zarr.json"
    pending = directory / f"zarr.json.{uuid.uuid4().hex}.partial"
    with open(pending, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=2)
        file.flush()
        os.fsync(file.fileno())
    return target, pending


def _upgraded_attributes(document: Mapping[str, Any], where: str) -> JSONDict:
    """The group's attributes with 0.6 ``ome`` metadata; every other attribute kept."""
    attributes = dict(document.get("attributes", {}))
    ome = dict(attributes["ome"])
    ome["version"] = "0.6"
    if "multiscales" in ome:
        multiscales = ome["multiscales"]
        if not isinstance(multiscales, list):
            raise ValueError(f"{where}: 'multiscales' must be a list, not {multiscales!r}")
        ome["multiscales"] = [
            _upgraded_multiscale(entry, f"{where}: multiscales[{i}]")
            for i, entry in enumerate(multiscales)
        ]
    if isinstance(ome.get("plate"), Mapping):
        ome["plate"] = {k: v for k, v in ome["plate"].items() if k != "version"}
    attributes["ome"] = ome
    return attributes


def _upgraded_multiscale(entry: Any, where: str) -> JSONDict:
    """A 0.5 multiscales entry in the 0.6 form (checked as omezarr's writers check theirs)."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected an object, not {entry!r}")
    extras = {k: v for k, v in entry.items() if k not in ("datasets", "axes", "version", "name")}
    outer = extras.pop("coordinateTransformations", None)
    datasets = entry.get("datasets")
    if not isinstance(datasets, list):
        raise ValueError(f"{where}.datasets: expected a list, not {datasets!r}")
    if outer is not None:
        datasets = [
            _folded(dataset, outer, f"{where}.datasets[{i}]") for i, dataset in enumerate(datasets)
        ]
    try:
        return build_multiscale(datasets, FormatV06(), entry.get("axes"), entry.get("name"), extras)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: cannot become OME-NGFF 0.6: {error}") from None


def _folded(dataset: Any, outer: Any, where: str) -> Any:
    """``dataset`` with the multiscale-wide transformations applied after its own."""
    if not isinstance(dataset, Mapping) or not isinstance(outer, list):
        raise ValueError(
            f"{where}: cannot fold the multiscale's coordinateTransformations {outer!r}"
        )
    transforms = [*dataset.get("coordinateTransformations", []), *outer]
    scale: list[float] | None = None
    translation: list[float] | None = None
    for transform in transforms:
        kind = transform.get("type") if isinstance(transform, Mapping) else None
        values = transform.get(kind) if kind in ("scale", "translation") else None
        if kind == "identity":
            continue
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: cannot fold transformation {transform!r}")
        if scale is None:
            scale = [1.0] * len(values)
            translation = [0.0] * len(values)
        assert translation is not None
        if len(values) != len(scale):
            raise ValueError(f"{where}: transformations of different lengths: {transforms!r}")
        if kind == "scale":
            scale = [s * float(v) for s, v in zip(scale, values, strict=True)]
            translation = [t * float(v) for t, v in zip(translation, values, strict=True)]
        else:
            translation = [t + float(v) for t, v in zip(translation, values, strict=True)]
    if scale is None or translation is None:
        raise ValueError(f"{where}: no scale to fold the multiscale's transformations into")
    folded: list[dict[str, Any]] = [{"type": "scale", "scale": scale}]
    if any(translation):
        folded.append({"type": "translation", "translation": translation})
    return {**dataset, "coordinateTransformations": folded}
