"""Walking a whole OME-Zarr hierarchy: every node checked by schema and rules, bounded in reads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zarr
from zarr.abc.store import Store

from ..io.storage import (
    RefusedFileError,
    UnreadableMetadataError,
    is_url,
    open_member,
    open_node,
)
from ..ngff.format import metadata_version
from .archive import archive_target, archive_violations
from .graphs import linked_image, linked_paths, scene_paths
from .kinds import SUPPORTED_VERSIONS, VERSION_ALIASES
from .report import _MAX_MESSAGE, Severity, ValidationReport, Violation, _short
from .rules import ArrayFacts, _relative_path_problem, check_document
from .schemas import validate_document
from .transforms import LinkedImage, _dicts

__all__ = [
    "validate",
]

_ZARR_FORMAT_VERSION = {2: "0.4", 3: "0.5"}
_MAX_DEPTH = 8
_MAX_READS = 200_000
"""Nodes read before the walk stops: a 1536-well plate of ten fields, five levels each, is
about 100,000; more would take minutes to check."""
_MAX_LEVELS = 100
"""Levels a multiscales may list before its arrays go unchecked: a pyramid that halves even
once per level has fewer than 64."""
_MAX_VALUES = 100_000
"""JSON values the NGFF keys of one group may hold before the group goes unchecked: a
1536-well plate holds about 8,000, and checking costs about 10 µs per value."""
_NGFF_KEYS = (
    "multiscales", "omero", "image-label", "labels", "plate", "well",
    "bioformats2raw.layout", "series", "scene",
)  # fmt: skip


# --------------------------------------------------------------------------- hierarchy walk


def _node_kinds(metadata: Mapping[str, Any]) -> list[str]:
    """What a group is, from its NGFF metadata; a bioformats2raw plate is both."""
    kinds = []
    if "multiscales" in metadata:
        kinds.append("label" if "image-label" in metadata else "image")
    elif "image-label" in metadata:
        kinds.append("label")
    for key, kind in (
        ("labels", "labels"),
        ("plate", "plate"),
        ("well", "well"),
        ("bioformats2raw.layout", "bf2raw"),
        ("series", "ome"),
        ("scene", "scene"),
    ):
        if key in metadata:
            kinds.append(kind)
    return kinds


def _array_facts(array: zarr.Array) -> ArrayFacts:
    names = getattr(array.metadata, "dimension_names", None)
    return ArrayFacts(
        shape=tuple(int(s) for s in array.shape),
        dtype=str(array.dtype),
        zarr_format=int(array.metadata.zarr_format),
        dimension_names=tuple(names) if names is not None else None,
    )


class _TooMany(Exception):
    """Raised inside the walk when the violation or read budget is spent."""


@dataclass(frozen=True)
class _Expect:
    """What a parent expects a child group to be, and the rule that fires when it is not."""

    kind: str
    what: str
    rule: str


_LABELS_GROUP = _Expect("labels", "a labels group", "labels-group")
_LABEL_IMAGE = _Expect("label", "a label image", "labels-exist")
_WELL = _Expect("well", "a well group", "plate-well-exists")
_FIELD = _Expect("image", "a field image", "well-image")
_SERIES = _Expect("image", "a series image", "bf2raw-series")
_OME_GROUP = _Expect("ome", "an OME group with a series list", "bf2raw-series")
_SCENE_IMAGE = _Expect("image", "an image of the scene", "scene-image")


@dataclass
class _Node:
    """What a visited group turned out to be, for its parent."""

    kinds: list[str]
    version: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)


class _Walk:
    """One traversal of a hierarchy, with its budget of reads and violations."""

    def __init__(self, strict: bool, max_violations: int) -> None:
        self.strict = strict
        self.max_violations = max_violations
        self.violations: list[Violation] = []
        self.reads = 0
        self.root: _Node | None = None

    # Recording -----------------------------------------------------------------------

    def add(self, node: str, violation: Violation) -> None:
        """Record ``violation`` (located by pointer) at ``node``."""
        if len(self.violations) >= self.max_violations:
            raise _TooMany
        location = violation.location
        if location == "#":
            location = node or "."
        elif location.startswith("#"):
            location = node + location
        self.violations.append(
            Violation(location, violation.message, violation.rule, violation.severity)
        )

    def problem(self, node: str, message: str, rule: str, severity: Severity = "error") -> None:
        self.add(node, Violation("#", message, rule, severity))

    # Reading -------------------------------------------------------------------------

    def member(self, group: zarr.Group, node: str, path: str) -> zarr.Array | zarr.Group | None:
        """The member at ``path``; None if it does not exist or cannot be read (reported)."""
        self.reads += 1
        if self.reads > _MAX_READS:
            # An error, not a warning: what was not checked cannot be called valid.
            self.problem(
                node,
                f"stopped after reading {_MAX_READS} nodes; the rest was not checked",
                "budget",
            )
            raise _TooMany
        try:
            return open_member(group, path)
        except Exception as exc:  # bad stored metadata must never escape the validator
            self.problem(_join(node, path), f"unreadable: {_describe_error(exc)}", "unreadable")
            return None

    # Visiting ------------------------------------------------------------------------

    def visit(
        self,
        group: zarr.Group,
        node: str,
        depth: int,
        expect: _Expect | None = None,
        source_levels: int | None = None,
        parent_version: str | None = None,
    ) -> _Node:
        """Check one group with both layers, then the groups its metadata leads to."""
        zarr_format = int(group.metadata.zarr_format)
        attrs = group.attrs.asdict()
        ome = attrs.get("ome")
        wrapped = isinstance(ome, Mapping)
        metadata: Mapping[str, Any] = ome if isinstance(ome, Mapping) else attrs
        kinds = _node_kinds(metadata)
        declared = metadata_version(attrs)
        if declared in VERSION_ALIASES:
            self.problem(
                node,
                f"OME-NGFF version {declared!r} is a pre-release; it is read as "
                f"{VERSION_ALIASES[declared]}",
                "version",
                "warning",
            )
            declared = VERSION_ALIASES[declared]
        version = declared if declared is not None else _ZARR_FORMAT_VERSION.get(zarr_format)
        found = _Node(kinds, version if kinds else None, metadata)
        if depth == 0:
            self.root = found
        if not kinds:
            if expect is not None:
                self.problem(node, f"expected {expect.what}, found no NGFF metadata", expect.rule)
            else:
                self.problem(
                    node,
                    "not an OME-Zarr: no multiscales, labels, plate, well or bioformats2raw "
                    "metadata in the attributes",
                    "not-ome-zarr",
                )
            return found
        if expect is not None and expect.kind not in kinds:
            found_kinds = " and ".join(kinds)
            self.problem(node, f"expected {expect.what}, found {found_kinds}", expect.rule)
        if version is None or version not in SUPPORTED_VERSIONS:
            self.problem(
                node,
                f"OME-NGFF version {_short(version)} is not supported here (only "
                f"{', '.join(SUPPORTED_VERSIONS)})",
                "version",
            )
            return found
        if parent_version is not None and version != parent_version:
            self.problem(
                node, f"OME-NGFF {version} inside an OME-NGFF {parent_version} hierarchy", "version"
            )
        if wrapped != (version != "0.4"):
            where = "under the 'ome' attribute" if version != "0.4" else "at the top level"
            self.problem(node, f"OME-NGFF {version} metadata belongs {where}", "metadata-layout")
        held = _count_values([metadata.get(key) for key in _NGFF_KEYS], _MAX_VALUES)
        if held > _MAX_VALUES:
            self.problem(
                node,
                f"its NGFF metadata holds more than {_MAX_VALUES:,} JSON values, more than any "
                "image, plate or well needs; not checked",
                "budget",
            )
            return found
        document = {"ome": dict(metadata)} if version != "0.4" else dict(metadata)
        arrays = self.level_arrays(group, node, metadata, kinds)
        linked = self.linked_groups(group, node, metadata, arrays) if version == "0.6" else None
        for index, kind in enumerate(kinds):
            for schema_kind in _SCHEMA_KINDS[kind]:
                for violation in validate_document(document, schema_kind, version, self.strict):
                    self.add(node, violation)
            for violation in check_document(
                document,
                kind,
                version,
                arrays=arrays,
                source_levels=source_levels if kind == "label" else None,
                zarr_format=zarr_format if index == 0 else None,
                linked=linked,
            ):
                self.add(node, violation)
        if depth >= _MAX_DEPTH:
            self.problem(node, f"nested deeper than {_MAX_DEPTH} levels: not descended", "budget")
        else:
            self.descend(group, node, depth, found, source_levels)
        return found

    def level_arrays(
        self, group: zarr.Group, node: str, metadata: Mapping[str, Any], kinds: list[str]
    ) -> dict[str, ArrayFacts | None]:
        """The facts of every array the multiscales name (metadata only, no pixels)."""
        arrays: dict[str, ArrayFacts | None] = {}
        if "image" not in kinds and "label" not in kinds:
            return arrays
        for index, multiscale in _dicts(metadata.get("multiscales")):
            datasets = multiscale.get("datasets")
            if isinstance(datasets, list) and len(datasets) > _MAX_LEVELS:
                self.problem(
                    node,
                    f"multiscales[{index}] lists {len(datasets)} levels, more than any pyramid "
                    f"has (at most {_MAX_LEVELS}); its arrays were not checked",
                    "budget",
                )
                continue
            for path in _listed(datasets, "path"):
                self.read_array(group, node, path, arrays)
        return arrays

    def read_array(
        self, group: zarr.Group, node: str, path: str, arrays: dict[str, ArrayFacts | None]
    ) -> None:
        """Add the facts of the array at ``path`` (None for a group, absent if missing)."""
        if path in arrays:
            return
        member = self.member(group, node, path)
        if isinstance(member, zarr.Array):
            arrays[path] = _array_facts(member)
        elif member is not None:
            arrays[path] = None

    def linked_groups(
        self,
        group: zarr.Group,
        node: str,
        metadata: Mapping[str, Any],
        arrays: dict[str, ArrayFacts | None],
    ) -> dict[str, LinkedImage | None]:
        """What the groups that 0.6 transformations name hold; matrix arrays go to ``arrays``."""
        group_paths, matrix_paths = linked_paths(metadata)
        for path in matrix_paths:
            self.read_array(group, node, path, arrays)
        linked: dict[str, LinkedImage | None] = {}
        for path in group_paths:
            member = self.member(group, node, path)
            if isinstance(member, zarr.Group):
                ome = member.attrs.asdict().get("ome")
                image = linked_image(ome if isinstance(ome, Mapping) else {})
                linked[path] = LinkedImage(
                    image.systems, image.intrinsic, self.first_level_shape(member, node, ome)
                )
            elif member is not None:
                linked[path] = None
        return linked

    def first_level_shape(self, member: zarr.Group, node: str, ome: Any) -> tuple[int, ...] | None:
        """The shape of the first level of a linked multiscale image, if it has one."""
        multiscales = _dicts(ome.get("multiscales")) if isinstance(ome, Mapping) else []
        datasets = multiscales[0][1].get("datasets") if multiscales else None
        paths = _listed(datasets, "path")[:1]
        array = self.member(member, node, paths[0]) if paths else None
        return tuple(int(s) for s in array.shape) if isinstance(array, zarr.Array) else None

    def descend(
        self,
        group: zarr.Group,
        node: str,
        depth: int,
        found: _Node,
        source_levels: int | None,
    ) -> None:
        """Visit the children that the metadata of ``found`` leads to."""
        metadata, kinds, version = found.metadata, found.kinds, found.version
        assert version is not None  # only supported versions descend
        if "image" in kinds:
            labels = self.member(group, node, "labels")
            if isinstance(labels, zarr.Group):
                levels = _level_count(metadata)
                self.visit_child(
                    labels, _join(node, "labels"), depth, _LABELS_GROUP, levels, version
                )
        if "labels" in kinds:
            for name in _listed(metadata.get("labels"), None):
                self.visit_listed(group, node, name, depth, _LABEL_IMAGE, source_levels, version)
        if "plate" in kinds:
            plate = metadata.get("plate")
            wells = plate.get("wells") if isinstance(plate, Mapping) else None
            for path in _listed(wells, "path"):
                self.visit_listed(group, node, path, depth, _WELL, None, version)
        if "well" in kinds:
            well = metadata.get("well")
            images = well.get("images") if isinstance(well, Mapping) else None
            for path in _listed(images, "path"):
                self.visit_listed(group, node, path, depth, _FIELD, None, version)
        if "bf2raw" in kinds and "plate" not in kinds:
            self.descend_bf2raw(group, node, depth, version)
        if "scene" in kinds:
            listed = scene_paths(metadata)
            for path in listed:
                self.visit_listed(group, node, path, depth, _SCENE_IMAGE, None, version)
            self.unlisted_scene_images(group, node, listed)

    def unlisted_scene_images(self, group: zarr.Group, node: str, listed: list[str]) -> None:
        """Warn of images in a scene group that no scene transformation names: the scene is
        "a collection of images that share a spatial relationship", and theirs is not said."""
        named = {path.split("/")[0] for path in listed} | {"coordinateTransformations"}
        try:
            children = sorted(group.group_keys())
        except Exception as exc:  # a listing that fails is reported, never raised
            self.problem(node, f"unreadable: {_describe_error(exc)}", "unreadable")
            return
        for key in children:
            if key in named:
                continue
            member = self.member(group, node, key)
            ome = member.attrs.get("ome") if isinstance(member, zarr.Group) else None
            if isinstance(ome, Mapping) and "multiscales" in ome:
                self.problem(
                    _join(node, key),
                    "an image in the scene group that no scene transformation names: how it "
                    "relates to the scene's other images is not said",
                    "scene-unlisted-image",
                    "warning",
                )

    def descend_bf2raw(self, group: zarr.Group, node: str, depth: int, version: str) -> None:
        """The series of a bioformats2raw container: as OME/series lists, else 0, 1, ..."""
        ome = self.member(group, node, "OME")
        if isinstance(ome, zarr.Group):
            found = self.visit_child(ome, _join(node, "OME"), depth, _OME_GROUP, None, version)
            if found is not None and "ome" in found.kinds:
                for path in _listed(found.metadata.get("series"), None):
                    self.visit_listed(group, node, path, depth, _SERIES, None, version)
                return
        index = 0
        while isinstance(member := self.member(group, node, str(index)), zarr.Group):
            self.visit_child(member, _join(node, str(index)), depth, _SERIES, None, version)
            index += 1
        if index == 0:
            self.problem(node, "the bioformats2raw container has no image '0'", "bf2raw-series")

    def visit_listed(
        self,
        group: zarr.Group,
        node: str,
        path: str,
        depth: int,
        expect: _Expect,
        source_levels: int | None,
        version: str,
    ) -> None:
        """Visit a child that the metadata lists, reporting it when missing."""
        child_node = _join(node, path)
        member = self.member(group, node, path)
        if member is None:
            self.problem(child_node, f"{expect.what} is listed but does not exist", expect.rule)
        elif not isinstance(member, zarr.Group):
            self.problem(child_node, f"expected {expect.what}, found an array", expect.rule)
        else:
            self.visit_child(member, child_node, depth, expect, source_levels, version)

    def visit_child(
        self,
        group: zarr.Group,
        node: str,
        depth: int,
        expect: _Expect,
        source_levels: int | None,
        version: str,
    ) -> _Node | None:
        """Visit a child group; None if its metadata cannot be read (reported)."""
        try:
            return self.visit(group, node, depth + 1, expect, source_levels, version)
        except _TooMany:
            raise
        except Exception as exc:  # bad stored metadata must never escape the validator
            self.problem(node, f"unreadable: {_describe_error(exc)}", "unreadable")
            return None


# The schemas each kind of node is checked against (a label image is also an image).
_SCHEMA_KINDS: dict[str, tuple[str, ...]] = {
    "image": ("image",),
    "label": ("image", "label"),
    "labels": (),
    "plate": ("plate",),
    "well": ("well",),
    "bf2raw": ("bf2raw",),
    "ome": ("ome",),
    "scene": ("scene",),
}


def _describe_error(exc: BaseException) -> str:
    return _short(f"{type(exc).__name__}: {exc}", _MAX_MESSAGE)


def _join(node: str, path: str) -> str:
    return f"{node}/{path}" if node else path


def _count_values(value: Any, limit: int) -> int:
    """The JSON values in ``value`` (containers included), counted up to just over ``limit``."""
    count = 0
    pending = [value]
    while pending and count <= limit:
        item = pending.pop()
        count += 1
        if isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return count


def _listed(entries: Any, key: str | None) -> list[str]:
    """The valid relative paths of a metadata list (of strings, or of dicts by ``key``)."""
    if not isinstance(entries, list):
        return []
    paths: dict[str, None] = {}  # ordered and deduplicated in linear time
    for entry in entries:
        if key is not None:
            entry = entry.get(key) if isinstance(entry, Mapping) else None
        if isinstance(entry, str) and entry not in paths and _relative_path_problem(entry) is None:
            paths[entry] = None
    return list(paths)


def _level_count(metadata: Mapping[str, Any]) -> int | None:
    multiscales = metadata.get("multiscales")
    if isinstance(multiscales, list) and multiscales and isinstance(multiscales[0], Mapping):
        datasets = multiscales[0].get("datasets")
        if isinstance(datasets, list):
            return len(datasets)
    return None


def _describe(target: Any) -> str:
    if isinstance(target, zarr.Group):
        return str(target.store_path)
    if isinstance(target, str | os.PathLike):
        return os.fspath(target)
    return str(target)


def _open(target: Any) -> zarr.Group | zarr.Array:
    """Open ``target`` read-only; a missing local path raises FileNotFoundError."""
    if isinstance(target, zarr.Group):
        return target
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if isinstance(target, str) and not is_url(target) and not Path(target).exists():
        raise FileNotFoundError(f"target: {target!r} does not exist")
    return open_node(target)


def validate(
    target: str | os.PathLike[str] | zarr.Group | Store,
    strict: bool = False,
    *,
    max_violations: int = 1000,
) -> ValidationReport:
    """Validate an OME-Zarr hierarchy: schemas and rules, on every node below ``target``.

    Reads metadata only, never pixel data. Descends from an image into its ``labels`` group
    and each label image, from a plate into each well and each field image, from a
    bioformats2raw container into each series, and (0.6) from a scene into each image its
    transformations name.

    Parameters
    ----------
    target : str, os.PathLike, zarr.Group or zarr Store
        The top group: a local path, a URL zarr can open, an open group or a store.
    strict : bool, default False
        Use the ``strict_*`` schemas (names, colours, versions required).
    max_violations : int, default 1000
        Stop after this many violations (one more says the report was cut short).

    Returns
    -------
    ValidationReport
        Bad or foreign data gives violations (``not-ome-zarr`` for a path that holds no
        OME-Zarr), never an exception.

    Raises
    ------
    FileNotFoundError
        If ``target`` is a local path that does not exist.
    TypeError
        If ``target`` is of none of the accepted types.
    ValueError
        If ``max_violations`` is not a positive integer.
    OSError
        If the storage cannot be read at all (permissions, network).

    Examples
    --------
    >>> report = validate("image.zarr")  # doctest: +SKIP
    >>> report.valid, report.kind, report.version  # doctest: +SKIP
    (True, 'image', '0.5')
    """
    if not isinstance(max_violations, int) or isinstance(max_violations, bool):
        raise ValueError(f"max_violations: expected a positive int, not {_short(max_violations)}")
    if max_violations < 1:
        raise ValueError(f"max_violations: expected a positive int, not {max_violations}")
    description = _describe(target)
    try:
        root = _open(target)
    except (FileNotFoundError, TypeError) as exc:
        if isinstance(exc, zarr.errors.NodeNotFoundError):
            return _not_zarr(description, "no zarr group or array found")
        raise
    except (UnreadableMetadataError, RefusedFileError) as exc:
        unreadable = Violation(".", f"unreadable: {exc}", "unreadable")
        return ValidationReport(description, [unreadable], None, None)
    except (ValueError, KeyError) as exc:  # unparsable zarr metadata is bad data
        return _not_zarr(description, f"unreadable zarr metadata: {type(exc).__name__}: {exc}")
    if not isinstance(root, zarr.Group):
        return _not_zarr(description, "a zarr array, not a group")
    walk = _Walk(bool(strict), max_violations)
    try:
        walk.visit(root, "", 0)
    except _TooMany:
        # An error even after warnings only: the rest was not checked, so it is not valid.
        walk.violations.append(
            Violation(
                ".", "too many violations: the rest of the hierarchy was not checked", "budget"
            )
        )
    except Exception as exc:  # the root's own metadata is unreadable: bad data, not a crash
        walk.violations.append(Violation(".", f"unreadable: {_describe_error(exc)}", "unreadable"))
    root_node = walk.root
    kind = root_node.kinds[0] if root_node is not None and root_node.kinds else None
    version = root_node.version if root_node is not None else None
    archive = archive_target(target)
    if archive is not None and root_node is not None:  # RFC-9: the archive's own layout
        walk.violations.extend(archive_violations(archive, version))
    return ValidationReport(description, walk.violations, version, kind)


def _not_zarr(description: str, why: str) -> ValidationReport:
    return ValidationReport(
        description, [Violation(".", f"not an OME-Zarr: {why}", "not-ome-zarr")], None, None
    )
