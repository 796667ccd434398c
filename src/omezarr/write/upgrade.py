"""Upgrading a whole OME-Zarr hierarchy in place: 0.4 to 0.5 or 0.6, 0.5 to 0.6.

Every group of the hierarchy that carries OME-NGFF metadata (an image, its labels group and
label images, a plate, its wells and fields, a bioformats2raw collection and its series) gets
the new version's metadata. To 0.6: ``version`` "0.6" at ``ome`` only, each image's axes as
its intrinsic coordinate system and one transformation per level from its array to it (a
multiscale-wide scale or translation folded into each level's). From 0.4 (zarr v2) every
group and array also gets zarr v3 metadata, translated by zarr's own migration: the chunks
are not rewritten, only read through the v2 chunk key encoding; level arrays get dimension
names from their image's axes. Chunks and unknown attributes are never touched.

Crash safety on a local disk: every new document is written beside the old one first (a
``zarr.json.<hex>.partial`` file, which readers ignore and ``verify`` reports as a leftover),
then each is renamed into place (deepest first, the top group last), and only then are zarr v2
documents removed. A kill before the top group's rename leaves the old hierarchy readable as
it was (from 0.4, zarr v2 readers never see the new documents); a kill after it, the new one;
from 0.5, a kill among the renames leaves nodes of both versions, each whole and readable by
omezarr. Running the upgrade again finishes it: it converts what is still old and removes the
pending files and v2 documents a killed run left.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import uuid
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ..io.archive_open import open_archive
from ..io.storage import is_partial_file, open_zip_store
from ..ngff.documents import build_multiscale
from ..ngff.format import FormatV06
from ..ngff.parse import _read_transformations
from ..types import JSONDict

__all__ = ["UpgradeReport", "upgrade"]

_TARGETS = ("0.5", "0.6")
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
    arrays: int = 0
    """Arrays whose zarr v2 metadata became zarr v3 (an upgrade from 0.4)."""
    recoded: list[str] = field(default_factory=list)
    """Arrays whose chunks were (or would be) rewritten: their zarr v2 codecs have no zarr v3
    equivalent in the specification (e.g. LZ4, Delta), so other readers could not decode them."""

    def format(self) -> str:
        verb = "would upgrade" if self.dry_run else "upgraded"
        lines = [
            f"{self.target}: {verb} {len(self.changed)} groups to OME-NGFF {self.to}"
            + (f" ({self.arrays} arrays from zarr v2 to v3)" if self.arrays else "")
            + (f" ({len(self.current)} already {self.to})" if self.current else "")
        ]
        lines += [f"  {path}" for path in self.changed]
        if self.recoded:
            verb = "would re-encode" if self.dry_run else "re-encoded"
            lines.append(
                f"{verb} the chunks of {len(self.recoded)} arrays whose codecs zarr v3 does not "
                "specify, with omezarr's default (Blosc zstd):"
            )
            lines += [f"  {path}" for path in self.recoded]
        return "\n".join(lines)


def upgrade(
    target: str | os.PathLike[str], to: str = "0.6", *, dry_run: bool = False
) -> UpgradeReport:
    """Upgrade the OME-Zarr hierarchy at ``target`` in place to OME-NGFF ``to``.

    Parameters
    ----------
    target : str or os.PathLike
        A local OME-Zarr directory, or single-file archive (``.ozx``, OME-NGFF 0.5): an image
        (with its labels), a plate, a bioformats2raw collection. An archive gets a new one
        with the new documents and its other entries, which replaces it once complete.
    to : str, default "0.6"
        The version to reach: "0.6" (from 0.5 or 0.4) or "0.5" (from 0.4). From 0.4 the zarr
        v2 metadata of every group and array becomes zarr v3 (the chunks stay where they
        are, read through the v2 chunk key encoding); from 0.5 only metadata changes.
    dry_run : bool, default False
        Check everything and report what would change; write nothing.

    Returns
    -------
    UpgradeReport

    Raises
    ------
    ValueError
        For a target that is not a local directory holding OME-NGFF 0.4, 0.5 or 0.6
        metadata, a node of another version, arrays whose codecs zarr v3 cannot read as they
        are, or metadata that cannot become valid (each named); raised before anything is
        written.

    Examples
    --------
    >>> upgrade("img.ome.zarr", "0.6").changed  # doctest: +SKIP
    ['.', 'labels', 'labels/mask']
    """
    if to not in _TARGETS:
        raise ValueError(f"to: expected one of {list(_TARGETS)}, not {to!r}")
    root = Path(os.fspath(target))
    archive = root.is_file() and zipfile.is_zipfile(root)
    if not archive and not root.is_dir():
        raise ValueError(f"{root}: not a local OME-Zarr directory or .ozx archive")
    from_v2 = not archive and not (root / "zarr.json").is_file()
    if archive:
        documents = _archive_documents(root)
    elif from_v2:
        if not ((root / ".zgroup").is_file() or (root / ".zattrs").is_file()):
            raise ValueError(f"{root}: not a local OME-Zarr directory (no zarr metadata)")
        documents = _migrated_v2(root)
    else:
        documents = dict(_nodes(root))
    pending: dict[Path, JSONDict] = {}
    current: list[str] = []
    for relative, document in documents.items():
        if from_v2:
            pending[relative] = document  # every node gets its zarr v3 document
        ome = document.get("attributes", {}).get("ome")
        if document.get("node_type") != "group" or not isinstance(ome, Mapping):
            continue
        version = ome.get("version")
        where = relative.as_posix() if relative.parts else "."
        if version == to and not from_v2:
            current.append(where)
        elif version == "0.5" or (version is None and relative.parts):
            # A group without a version inside a 0.5 hierarchy (ome-zarr-py writes its labels
            # group so) is of its hierarchy's version.
            if to == "0.6":
                pending[relative] = {
                    **document,
                    "attributes": _upgraded_attributes(document, where),
                }
            elif not from_v2:
                current.append(where)
        else:
            raise ValueError(
                f"{root}/{where}: OME-NGFF {version!r}; only 0.4 and 0.5 groups are upgraded "
                f"to {to} (every group of a hierarchy must have one version)"
            )
    if not pending and not current:
        raise ValueError(f"{root}: no OME-NGFF metadata found to upgrade")
    changed = [
        p.as_posix() if p.parts else "."
        for p in sorted(pending, key=_deepest_first)
        if pending[p].get("node_type") == "group"
    ]
    arrays = sum(1 for d in pending.values() if d.get("node_type") == "array")
    recoded = sorted(
        (r for r, d in pending.items() if from_v2 and _unspecified_codecs(d)), key=_deepest_first
    )
    for relative in recoded:
        pending[relative] = _recoded_document(pending[relative])
    report = UpgradeReport(
        os.fspath(target), to, changed, sorted(current), dry_run, arrays,
        [r.as_posix() for r in recoded],
    )  # fmt: skip
    if dry_run:
        return report
    if archive:
        _write_archive_documents(root, pending)
        return report
    _remove_pending_files(root, documents)
    # Chunks that must change are written first, in a hidden directory beside the old ones
    # (which v2 readers keep reading), then moved to where the new documents point.
    staged = [(root / r, _recode_chunks(root / r, pending[r])) for r in recoded]
    written = []
    for relative in sorted(pending, key=_deepest_first):
        written.append(_write_beside(root / relative, pending[relative]))
    for directory, staging in staged:
        shutil.rmtree(directory / "c", ignore_errors=True)  # a killed run's, unreferenced
        os.replace(staging / "c", directory / "c")
        shutil.rmtree(staging)
    for document_path, new_path in written:  # deepest first: the top group changes last
        os.replace(new_path, document_path)
    # Only now, with every zarr v3 document in place, do the v2 chunks that were re-encoded
    # and the v2 documents go (also those a killed run left).
    for relative in documents:
        _remove_old_chunks(root / relative)
        for name in _V2_DOCUMENTS:
            (root / relative / name).unlink(missing_ok=True)
    return report


_SPECIFIED_CODECS = frozenset(
    {"bytes", "transpose", "blosc", "gzip", "zstd", "crc32c", "sharding_indexed"}
)
"""Codecs of the zarr v3 specification (and its registered extensions every reader has)."""


def _unspecified_codecs(document: Mapping[str, Any]) -> list[str]:
    """The codecs of an array document that the zarr v3 specification does not define."""
    if document.get("node_type") != "array":
        return []
    return [
        str(codec.get("name"))
        for codec in document.get("codecs", [])
        if isinstance(codec, Mapping) and codec.get("name") not in _SPECIFIED_CODECS
    ]


def _recoded_document(document: JSONDict) -> JSONDict:
    """``document`` with specified codecs (a transpose kept, then bytes and omezarr's default
    compressor) and the default chunk key encoding, whose keys ("c/...") differ from every v2
    key, so the old chunks stay readable until the new ones are complete."""
    import numpy as np
    import zarr
    from zarr.storage import MemoryStore

    from ..io.codecs import default_compressors

    scratch = zarr.create_array(
        MemoryStore(),
        shape=tuple(document["shape"]),
        chunks=tuple(document["chunk_grid"]["configuration"]["chunk_shape"]),
        dtype=np.dtype(str(document["data_type"])),  # v3 names numeric types as NumPy does
        compressors=default_compressors(3),
    )
    codecs = list(cast(list[Any], scratch.metadata.to_dict()["codecs"]))
    kept = [c for c in document.get("codecs", []) if c.get("name") == "transpose"]
    return {
        **document,
        "codecs": [*kept, *codecs],
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    }


def _recode_chunks(directory: Path, document: JSONDict) -> Path:
    """Copy the stored chunks of the zarr v2 array in ``directory`` into a new array with
    ``document``'s codecs, in a hidden staging directory beside them; one chunk at a time."""
    import numpy as np
    import zarr
    from zarr.storage import LocalStore

    for stale in directory.glob(".upgrade-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = directory / f".upgrade-{uuid.uuid4().hex}"
    staging.mkdir()
    (staging / "zarr.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    source = zarr.open_array(LocalStore(directory, read_only=True), zarr_format=2, mode="r")
    target = zarr.open_array(LocalStore(staging), zarr_format=3, mode="r+")
    separator = json.loads((directory / ".zarray").read_text()).get("dimension_separator", ".")
    chunks = source.chunks
    grid = [-(-n // c) for n, c in zip(source.shape, chunks, strict=True)]
    with zarr.config.set({"array.write_empty_chunks": True}):  # stored stays stored
        for index in np.ndindex(*grid):
            key = separator.join(str(i) for i in index) if index else "0"
            if not (directory / key).is_file():
                continue  # absent stays absent (the fill value)
            region = tuple(
                slice(i * c, min((i + 1) * c, n))
                for i, c, n in zip(index, chunks, source.shape, strict=True)
            )
            target[region] = source[region]
    return staging


_V2_CHUNK_NAME = re.compile(r"^\d+(\.\d+)*$")


def _remove_old_chunks(directory: Path) -> None:
    """The zarr v2 chunks of an array whose chunks were re-encoded (its zarr.json uses the
    default "c/..." keys while its .zarray is still there): removed, before the .zarray."""
    if not (directory / ".zarray").is_file() or not (directory / "zarr.json").is_file():
        return
    try:
        document = json.loads((directory / "zarr.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if document.get("chunk_key_encoding", {}).get("name") != "default":
        return  # chunks read where they are: nothing to remove
    for entry in directory.iterdir():
        if _V2_CHUNK_NAME.match(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)


_V2_DOCUMENTS = (".zgroup", ".zarray", ".zattrs", ".zmetadata")
_NGFF_KEYS = (
    "multiscales", "omero", "labels", "image-label", "plate", "well",
    "bioformats2raw.layout", "series",
)  # fmt: skip
"""The attributes that are OME-NGFF metadata: top-level in 0.4, under ``ome`` from 0.5."""


def _migrated_v2(root: Path) -> dict[Path, JSONDict]:
    """The zarr v3 document of every node of the zarr v2 hierarchy at ``root``, OME-NGFF 0.4
    attributes moved under ``ome`` as 0.5 has them and level arrays given dimension names.

    zarr's own migration translates the array metadata (codecs, fill value, the v2 chunk key
    encoding, so that the chunks are read where they are), into memory: nothing is written.
    """
    from zarr.metadata.migrate_v3 import migrate_v2_to_v3
    from zarr.storage import LocalStore, MemoryStore

    from ..io.zarr_internals import list_keys, read_key

    memory = MemoryStore()
    try:
        # zarr opens the input for writing, but writes only to ``output_store``.
        with warnings.catch_warnings():
            # Codecs outside the zarr v3 specification are re-encoded (see _recoded_document).
            warnings.filterwarnings("ignore", "Numcodecs codecs are not in the Zarr version 3")
            # A killed run's pending documents, removed before anything is written.
            warnings.filterwarnings("ignore", "Object at .* is not recognized as a component")
            migrate_v2_to_v3(input_store=LocalStore(root), output_store=memory)
    except Exception as error:
        raise ValueError(
            f"{root}: its zarr v2 metadata cannot become zarr v3 without rewriting chunks "
            f"({type(error).__name__}: {error})"
        ) from None
    documents: dict[Path, JSONDict] = {}
    for key in list_keys(memory, ""):
        if key == "zarr.json" or key.endswith("/zarr.json"):
            raw = read_key(memory, key)
            assert raw is not None
            documents[Path(key).parent] = json.loads(raw)
    for relative, document in documents.items():
        if document.get("node_type") == "group":
            where = relative.as_posix() if relative.parts else "."
            document["attributes"] = _v05_attributes(document.get("attributes", {}), where)
    for relative, document in documents.items():
        ome = document.get("attributes", {}).get("ome", {})
        for multiscale in ome.get("multiscales", []) if isinstance(ome, Mapping) else []:
            names = [
                a.get("name") if isinstance(a, Mapping) else a for a in multiscale.get("axes", [])
            ]
            for dataset in multiscale.get("datasets", []):
                level = documents.get(relative / str(dataset.get("path", "")))
                if level is not None and level.get("node_type") == "array" and names:
                    level["dimension_names"] = names
    return documents


def _v05_attributes(attributes: Mapping[str, Any], where: str) -> JSONDict:
    """OME-NGFF 0.4 attributes (top level, versions inside) as 0.5 has them: under ``ome``
    with one ``version``; other attributes stay where they are."""
    ngff = {k: v for k, v in attributes.items() if k in _NGFF_KEYS}
    if not ngff:
        return dict(attributes)
    versions = set()
    for key in ("multiscales",):
        for entry in ngff.get(key, []) if isinstance(ngff.get(key), list) else []:
            if isinstance(entry, Mapping) and "version" in entry:
                versions.add(entry["version"])
    for key in ("plate", "well", "image-label"):
        if isinstance(ngff.get(key), Mapping) and "version" in ngff[key]:
            versions.add(ngff[key]["version"])
    if versions - {"0.4"}:
        raise ValueError(
            f"{where}: OME-NGFF {sorted(map(str, versions))}; only 0.4 zarr v2 hierarchies are "
            "upgraded"
        )
    ome: JSONDict = {"version": "0.5"}
    for key, value in ngff.items():
        if key == "multiscales" and isinstance(value, list):
            value = [
                {k: v for k, v in e.items() if k != "version"} if isinstance(e, Mapping) else e
                for e in value
            ]
        elif key in ("well", "image-label") and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k != "version"}
        elif key == "plate" and isinstance(value, Mapping):
            value = {**value, "version": "0.5"}  # as omezarr's and the reference's 0.5 plates
        ome[key] = value
    return {**{k: v for k, v in attributes.items() if k not in _NGFF_KEYS}, "ome": ome}


def _deepest_first(relative: Path) -> tuple[int, str]:
    return (-len(relative.parts), relative.as_posix())


def _nodes(root: Path) -> Iterator[tuple[Path, JSONDict]]:
    """Every zarr v3 group and array below ``root`` (itself included), as relative path and
    document; arrays are not searched for children."""
    stack: list[tuple[Path, int]] = [(Path(), 0)]
    while stack:
        relative, depth = stack.pop()
        document_path = root / relative / "zarr.json"
        try:
            document = json.loads(document_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"{document_path}: cannot be read ({error})") from None
        if not isinstance(document, dict):
            continue
        yield relative, document
        if document.get("node_type") != "group" or depth >= _MAX_DEPTH:
            continue
        for child in sorted((root / relative).iterdir()):
            if child.is_dir() and not child.is_symlink() and (child / "zarr.json").is_file():
                stack.append((relative / child.name, depth + 1))


def _archive_documents(root: Path) -> dict[Path, JSONDict]:
    """The zarr v3 documents of the single-file OME-Zarr ``root``, by relative path."""
    reader = open_zip_store(root, "r", "target")  # a whole RFC-9 archive; sizes guarded
    documents: dict[Path, JSONDict] = {}
    try:
        for name in sorted(reader.index):
            if posixpath.basename(name) != "zarr.json":
                continue
            reader.check_metadata(f"{root}/{name}", reader.index[name].size)
            try:
                document = json.loads(reader.read(name) or b"")
            except ValueError as error:
                raise ValueError(f"{root}/{name}: cannot be read ({error})") from None
            if isinstance(document, dict):
                documents[Path(posixpath.dirname(name))] = document
    finally:
        reader.close()
    return documents


def _write_archive_documents(root: Path, pending: Mapping[Path, JSONDict]) -> None:
    """Write ``pending`` documents into a new archive with the old one's other entries, which
    replaces it once complete (see :mod:`omezarr.io.archive`): the old one stays whole."""
    writer = open_archive(root, replace=False)
    try:
        for relative, document in pending.items():
            name = f"{relative.as_posix()}/zarr.json" if relative.parts else "zarr.json"
            writer.append(name, [json.dumps(document, indent=2).encode()])
    except BaseException:
        writer.abandon()
        raise
    writer.commit()


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
    first = transforms[0] if transforms and isinstance(transforms[0], Mapping) else {}
    values = first.get(first.get("type")) if first.get("type") in ("scale", "translation") else None
    if not isinstance(values, list) or not values:
        raise ValueError(f"{where}: no scale to fold the multiscale's transformations into")
    # The readers' composition: later transformations act on the result of earlier ones.
    scale, translation = _read_transformations(transforms, len(values), where)
    folded: list[dict[str, Any]] = [{"type": "scale", "scale": list(scale)}]
    if any(translation):
        folded.append({"type": "translation", "translation": list(translation)})
    return {**dataset, "coordinateTransformations": folded}
