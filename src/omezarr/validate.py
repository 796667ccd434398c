"""Checking OME-NGFF documents and whole OME-Zarr hierarchies, more strictly than the schemas.

Three layers, each usable alone:

* the schema layer, :func:`validate_document`, checks one attributes document against the
  official NGFF JSON schemas bundled with the package (never fetching anything);
* the rule layer, :func:`check_document`, checks what a schema cannot express (axis order,
  transformation lengths, levels getting smaller, plate indices agreeing with paths, …) on a
  document plus the facts about its arrays (:class:`ArrayFacts`); pure, no storage;
* the hierarchy walk, :func:`validate`, opens a zarr group, reads metadata only (never pixel
  data) and applies both layers to every node it reaches: image → labels → label images,
  plate → wells → field images, bioformats2raw container → series.

Every problem becomes a :class:`Violation`; bad data never raises.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema
import numpy as np
import zarr
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from zarr.abc.store import Store

from .axes import axes_problems
from .format import format_from_version, metadata_version
from .metadata import validate_omero
from .storage import UnreadableMetadataError, is_url, open_node
from .types import JSONDict

__all__ = [
    "DOCUMENT_KINDS",
    "RULE_KINDS",
    "SUPPORTED_VERSIONS",
    "ArrayFacts",
    "Severity",
    "ValidationReport",
    "Violation",
    "check_document",
    "validate",
    "validate_document",
]

Severity = Literal["error", "warning"]
"""How bad a violation is: errors make a document invalid, warnings do not."""

SUPPORTED_VERSIONS: tuple[str, ...] = ("0.4", "0.5")
"""The NGFF versions whose schemas are bundled."""

DOCUMENT_KINDS: tuple[str, ...] = ("image", "label", "plate", "well", "bf2raw", "ome")
"""Kinds of document the schemas describe (``strict_*`` schemas exist for the first four)."""

RULE_KINDS: tuple[str, ...] = (*DOCUMENT_KINDS, "labels")
"""Kinds of document :func:`check_document` knows; ``labels`` is the group listing label images."""

_STRICT_KINDS = frozenset({"image", "label", "plate", "well"})
_ZARR_FORMAT_VERSION = {2: "0.4", 3: "0.5"}
_MAX_DEPTH = 8
_MAX_READS = 20_000
_MAX_MESSAGE = 300
_PATH_SEGMENT = re.compile(r"^[^/\\]+$")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Violation:
    """One problem found in a document or hierarchy.

    Attributes
    ----------
    location : str
        Where: a node path relative to the validated group (``"."`` for the group itself),
        optionally followed by a JSON pointer into its attributes (``"A/1#/well/images/0"``).
        Documents checked alone are located by pointer only (``"#/multiscales/0/axes"``).
    message : str
        What is wrong, for a human.
    rule : str
        A stable identifier of the rule that fired (``"schema"``, ``"axes"``,
        ``"dimension-names"``, …), for programs and tests.
    severity : {"error", "warning"}
        Errors make the target invalid; warnings do not.
    """

    location: str
    message: str
    rule: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        """The violation as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate`: every violation found, and what the target is.

    Use :attr:`valid` to decide; the report itself has no truth value.

    Attributes
    ----------
    target : str
        What was validated (a path, URL or store description).
    violations : list of Violation
        In the order found: parents before children.
    version : str or None
        The NGFF version of the top node, if it has one.
    kind : str or None
        What the top node is: ``image``, ``label``, ``labels``, ``plate``, ``well``,
        ``bf2raw`` or ``ome``; None when it is no OME-Zarr.
    """

    target: str
    violations: list[Violation] = field(default_factory=list)
    version: str | None = None
    kind: str | None = None

    @property
    def errors(self) -> list[Violation]:
        """The violations of severity ``error``."""
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        """The violations of severity ``warning``."""
        return [v for v in self.violations if v.severity == "warning"]

    @property
    def valid(self) -> bool:
        """True when no error was found (warnings allowed)."""
        return not self.errors

    def __bool__(self) -> bool:
        raise TypeError("ValidationReport has no truth value: use report.valid")

    def summary(self) -> str:
        """One line: the target, valid or not, its version and kind, and the counts."""
        counts = _plural(len(self.errors), "error") + ", " + _plural(len(self.warnings), "warning")
        if self.kind is None:
            return f"{self.target}: no OME-Zarr found ({counts})"
        what = " ".join(p for p in ("OME-Zarr", self.version, self.kind) if p is not None)
        verdict = "valid" if self.valid else "invalid"
        return f"{self.target}: {verdict} {what} ({counts})"

    def format(self) -> str:
        """One line per violation, ``location: message [rule]``; warnings say so."""
        lines = []
        for violation in self.violations:
            prefix = "warning: " if violation.severity == "warning" else ""
            lines.append(f"{violation.location}: {prefix}{violation.message} [{violation.rule}]")
        return "\n".join(lines)

    def to_dict(self) -> JSONDict:
        """The report as a JSON-ready dict."""
        return {
            "target": self.target,
            "valid": self.valid,
            "version": self.version,
            "kind": self.kind,
            "error_count": len(self.errors),
            "warning_count": len(self.warnings),
            "violations": [v.to_dict() for v in self.violations],
        }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pointer(parts: Iterable[str | int]) -> str:
    """A JSON pointer fragment, ``#`` for the whole document."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "#" + "".join("/" + p for p in escaped)


class _Findings:
    """Collects violations located by JSON pointer below a base pointer."""

    def __init__(self, base: Sequence[str | int] = ()) -> None:
        self.base = tuple(base)
        self.items: list[Violation] = []

    def add(
        self,
        where: Sequence[str | int],
        message: str,
        rule: str,
        severity: Severity = "error",
    ) -> None:
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        self.items.append(Violation(_pointer((*self.base, *where)), message, rule, severity))


# --------------------------------------------------------------------------- schema layer


def _check_kind_and_version(kind: Any, version: Any, kinds: Sequence[str]) -> str:
    """``version`` as a string, after refusing an unknown ``kind`` or ``version``."""
    if kind not in kinds:
        raise ValueError(f"kind: expected one of {list(kinds)}, not {_short(kind)}")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(
            f"version: expected one of {list(SUPPORTED_VERSIONS)}, not {_short(version)}"
        )
    return str(version)


@functools.cache
def _schema_ids(version: str) -> dict[str, str]:
    """The ``$id`` of every bundled schema of ``version``, by file stem (``strict_image``)."""
    folder = resources.files("omezarr").joinpath("schemas", version)
    ids = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".schema"):
            ids[entry.name.removesuffix(".schema")] = json.loads(entry.read_text("utf-8"))["$id"]
    return ids


@functools.cache
def _registry() -> Registry:
    """Every bundled schema, keyed by its ``$id``: references resolve here, never online.

    The 0.4 ``bf2raw`` and ``ome`` schemas carry ``latest`` ids and the 0.5 ones ``0.5``
    ids, so both versions share one registry without clashes.
    """
    resources_by_id = []
    for version in SUPPORTED_VERSIONS:
        folder = resources.files("omezarr").joinpath("schemas", version)
        for entry in folder.iterdir():
            if entry.name.endswith(".schema"):
                contents = json.loads(entry.read_text("utf-8"))
                resource = Resource.from_contents(contents, default_specification=DRAFT202012)
                resources_by_id.append((contents["$id"], resource))
    return Registry().with_resources(resources_by_id)


@functools.cache
def _schema_validator(version: str, kind: str, strict: bool) -> jsonschema.Draft202012Validator:
    stem = f"strict_{kind}" if strict and kind in _STRICT_KINDS else kind
    schema_id = _schema_ids(version)[stem]
    # Format checking stays off, as in the official suites.
    return jsonschema.Draft202012Validator({"$ref": schema_id}, registry=_registry())


def _schema_message(error: ValidationError) -> tuple[tuple[str | int, ...], str]:
    """The most specific location and message of a schema error."""
    if error.context:
        deepest = best_match(error.context)
        if deepest is not None:
            error = deepest
    return tuple(error.absolute_path), error.message


def validate_document(
    document: JSONDict, kind: str, version: str, strict: bool = False, rules: bool = False
) -> list[Violation]:
    """Check one attributes document against the bundled NGFF JSON schema.

    Parameters
    ----------
    document : dict
        The group attributes as stored: for 0.4 the top-level attributes
        (``{"multiscales": [...]}``), for 0.5 the whole attributes dict (``{"ome": {...}}``).
    kind : str
        One of :data:`DOCUMENT_KINDS`: ``image``, ``label``, ``plate``, ``well``,
        ``bf2raw`` or ``ome``.
    version : str
        ``"0.4"`` or ``"0.5"``.
    strict : bool, default False
        Use the ``strict_*`` schemas (they require names, colours and more), where the kind
        has one.
    rules : bool, default False
        Also apply the rule layer's document checks (:func:`check_document` without array
        facts), which refuse documents the schemas accept.

    Returns
    -------
    list of Violation
        Empty when the document is valid. Locations are JSON pointers (``"#/ome/plate"``).

    Raises
    ------
    ValueError
        If ``kind`` or ``version`` is not one of the known values.

    Examples
    --------
    >>> validate_document({"well": {"images": [{"path": "0"}]}}, "well", "0.4")
    []
    """
    version = _check_kind_and_version(kind, version, DOCUMENT_KINDS)
    findings = _Findings()
    validator = _schema_validator(version, kind, bool(strict))
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path])
    for error in errors:
        where, message = _schema_message(error)
        findings.add(where, message, "schema")
    if rules:
        findings.items.extend(check_document(document, kind, version))
    return findings.items


# --------------------------------------------------------------------------- rule layer


@dataclass(frozen=True)
class ArrayFacts:
    """What the rules need to know about one stored array: its metadata, never its data.

    Attributes
    ----------
    shape : tuple of int
    dtype : str
        The NumPy name of the data type (``"uint16"``).
    zarr_format : int
        2 or 3.
    dimension_names : tuple of str or None, optional
        The zarr v3 ``dimension_names``; None when absent (always for zarr v2).
    """

    shape: tuple[int, ...]
    dtype: str
    zarr_format: int
    dimension_names: tuple[str | None, ...] | None = None


ArrayLookup = Mapping[str, ArrayFacts | None]
"""Dataset path → its facts; a path mapped to None exists but is no array; absent paths do
not exist."""


def _unwrap(document: Any, version: str) -> tuple[Mapping[str, Any] | None, tuple[str, ...]]:
    """The NGFF metadata inside an attributes document and its JSON pointer base."""
    if not isinstance(document, Mapping):
        return None, ()
    if version == "0.4":
        return document, ()
    ome = document.get("ome")
    return (ome, ("ome",)) if isinstance(ome, Mapping) else (None, ())


def check_document(
    document: JSONDict,
    kind: str,
    version: str,
    *,
    arrays: ArrayLookup | None = None,
    source_levels: int | None = None,
    zarr_format: int | None = None,
) -> list[Violation]:
    """Check the rules of the specification that the JSON schemas cannot express.

    Pure: everything known about the storage comes in as arguments. Parts of the document
    that are malformed (wrong types, missing keys) are left to the schema layer and skipped
    here, so any JSON value gives a list, never an exception.

    Parameters
    ----------
    document : dict
        The attributes document as for :func:`validate_document`.
    kind : str
        One of :data:`RULE_KINDS`.
    version : str
        ``"0.4"`` or ``"0.5"``.
    arrays : mapping of str to ArrayFacts or None, optional
        The facts of the arrays named by the datasets (see :data:`ArrayLookup`). When None,
        rules that need arrays are skipped.
    source_levels : int, optional
        For a label image: the number of levels of the image that owns it.
    zarr_format : int, optional
        The zarr format of the group holding the document.

    Returns
    -------
    list of Violation
        Located by JSON pointer into ``document``.

    Raises
    ------
    ValueError
        If ``kind`` or ``version`` is not one of the known values.

    Examples
    --------
    >>> doc = {"ome": {"version": "0.5", "multiscales": [{
    ...     "axes": [{"name": "x", "type": "space"}, {"name": "y", "type": "space"}],
    ...     "datasets": [{"path": "0", "coordinateTransformations": [
    ...         {"type": "translation", "translation": [0, 0]},
    ...         {"type": "scale", "scale": [1, 1]}]}]}]}}
    >>> [v.rule for v in check_document(doc, "image", "0.5")]
    ['transformations']
    """
    version = _check_kind_and_version(kind, version, RULE_KINDS)
    metadata, base = _unwrap(document, version)
    findings = _Findings(base)
    if zarr_format is not None:
        expected = format_from_version(version).zarr_format
        if zarr_format != expected:
            message = (
                f"OME-NGFF {version} is stored in zarr v{expected}, this group is zarr "
                f"v{zarr_format}"
            )
            findings.items.append(Violation("#", message, "zarr-format"))  # the whole group
    if metadata is None:
        return findings.items
    if kind in ("image", "label"):
        _check_multiscales(metadata, version, findings, arrays, kind == "label", source_levels)
    elif kind == "labels":
        _check_labels_list(metadata, findings)
    elif kind == "plate":
        _check_plate(metadata, version, findings)
    elif kind == "well":
        _check_well(metadata, findings)
    return findings.items


def _dicts(value: Any) -> list[tuple[int, Mapping[str, Any]]]:
    """The (index, item) pairs of a list whose items are dicts; nothing for a non-list."""
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, Mapping)]


def _numbers(value: Any) -> list[float] | None:
    if isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        return [float(v) for v in value]
    return None


def _repeated(values: Iterable[Any]) -> list[str]:
    """The strings that occur more than once, in first-seen order."""
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if isinstance(value, str):
            if value in seen and value not in repeated:
                repeated.append(value)
            seen.add(value)
    return repeated


def _check_multiscales(
    metadata: Mapping[str, Any],
    version: str,
    findings: _Findings,
    arrays: ArrayLookup | None,
    is_label: bool,
    source_levels: int | None,
) -> None:
    multiscales = _dicts(metadata.get("multiscales"))
    for index, multiscale in multiscales:
        _check_multiscale(
            multiscale, ("multiscales", index), version, findings, arrays, is_label, source_levels
        )
    if "omero" in metadata and multiscales:
        channels = _channel_count(multiscales[0][1], arrays)
        try:
            validate_omero(metadata["omero"], channels)
        except (TypeError, ValueError, KeyError) as exc:
            findings.add(("omero",), str(exc.args[0]) if exc.args else str(exc), "omero")


def _channel_count(multiscale: Mapping[str, Any], arrays: ArrayLookup | None) -> int | None:
    """The size of the channel axis of the first level, when axes and array are known."""
    axes = multiscale.get("axes")
    datasets = multiscale.get("datasets")
    if arrays is None or not isinstance(axes, list) or not isinstance(datasets, list):
        return None
    channel_axes = [
        i for i, a in enumerate(axes) if isinstance(a, Mapping) and a.get("type") == "channel"
    ]
    if len(channel_axes) != 1 or not datasets or not isinstance(datasets[0], Mapping):
        return None
    path = datasets[0].get("path")
    facts = arrays.get(path) if isinstance(path, str) else None
    if facts is None or len(facts.shape) != len(axes):
        return None
    return facts.shape[channel_axes[0]]


def _check_multiscale(
    multiscale: Mapping[str, Any],
    where: tuple[str | int, ...],
    version: str,
    findings: _Findings,
    arrays: ArrayLookup | None,
    is_label: bool,
    source_levels: int | None,
) -> None:
    axes = multiscale.get("axes")
    well_formed_axes = isinstance(axes, list) and all(isinstance(a, Mapping) for a in axes)
    ndim: int | None = None
    names: list[Any] = []
    if isinstance(axes, list) and well_formed_axes:
        ndim = len(axes)
        names = [a.get("name") for a in axes]
        for problem in axes_problems(axes):
            findings.add((*where, "axes"), problem, "axes")
    datasets = multiscale.get("datasets")
    levels = _dicts(datasets)
    if ndim is not None:
        _check_transformations(multiscale, where, ndim, levels, findings)
    level_count = len(datasets) if isinstance(datasets, list) else None
    if is_label and source_levels is not None and level_count not in (None, source_levels):
        findings.add(
            (*where, "datasets"),
            f"the label image has {level_count} levels, its source image has {source_levels}",
            "label-levels",
        )
    shapes: list[tuple[int, tuple[int, ...] | None]] = []
    for index, dataset in levels:
        path = dataset.get("path")
        if arrays is None or not isinstance(path, str):
            continue
        facts = _check_level_array(
            path, arrays, (*where, "datasets", index), ndim, names, version, is_label, findings
        )
        shapes.append((index, facts.shape if facts is not None else None))
    _check_level_order(levels, shapes, where, ndim, findings)


def _check_transformations(
    multiscale: Mapping[str, Any],
    where: tuple[str | int, ...],
    ndim: int,
    levels: list[tuple[int, Mapping[str, Any]]],
    findings: _Findings,
) -> None:
    """Transformation order, count and lengths, per level and for the whole multiscale."""
    fmt = format_from_version("0.4")
    per_level: list[Any] = [d.get("coordinateTransformations") for _, d in levels]
    if per_level and all(isinstance(t, list) for t in per_level):
        try:
            fmt.validate_coordinate_transformations(ndim, len(per_level), per_level)
        except ValueError as exc:
            findings.add((*where, "datasets"), f"datasets: {exc}", "transformations")
    shared = multiscale.get("coordinateTransformations")
    if isinstance(shared, list):
        try:
            fmt.validate_coordinate_transformations(ndim, 1, [shared])
        except ValueError as exc:
            findings.add(
                (*where, "coordinateTransformations"),
                f"the multiscale's own transformations: {exc}",
                "transformations",
            )


def _check_level_array(
    path: str,
    arrays: ArrayLookup,
    where: tuple[str | int, ...],
    ndim: int | None,
    names: list[Any],
    version: str,
    is_label: bool,
    findings: _Findings,
) -> ArrayFacts | None:
    """The facts of one level's array after checking them; None if there is no array."""
    problem = _relative_path_problem(path)
    if problem is not None:
        findings.add(where, f"the level path {problem}", "dataset-array")
        return None
    if path not in arrays:
        findings.add(where, f"the level array {path!r} does not exist", "dataset-array")
        return None
    facts = arrays[path]
    if facts is None:
        findings.add(where, f"{path!r} is a group, not an array", "dataset-array")
        return None
    expected_format = format_from_version(version).zarr_format
    if facts.zarr_format != expected_format:
        findings.add(
            where,
            f"array {path!r} is zarr v{facts.zarr_format}, OME-NGFF {version} needs "
            f"zarr v{expected_format}",
            "zarr-format",
        )
    if ndim is not None and len(facts.shape) != ndim:
        findings.add(
            where,
            f"array {path!r} has {len(facts.shape)} dimensions, the multiscale has {ndim} axes",
            "dataset-ndim",
        )
    if version == "0.5" and ndim is not None:
        if facts.dimension_names is None:
            findings.add(
                where,
                f"array {path!r} has no dimension_names; OME-Zarr 0.5 needs the axis names {names}",
                "dimension-names",
            )
        elif list(facts.dimension_names) != names:
            findings.add(
                where,
                f"array {path!r} has dimension_names {list(facts.dimension_names)}, the axes "
                f"are {names}",
                "dimension-names",
            )
    if is_label and not _is_integer_dtype(facts.dtype):
        findings.add(
            where,
            f"label array {path!r} has data type {facts.dtype}; labels must be integers",
            "label-dtype",
            "error" if version == "0.5" else "warning",
        )
    return facts


def _is_integer_dtype(dtype: str) -> bool:
    try:
        return np.dtype(dtype).kind in "iu"
    except (TypeError, ValueError):
        return False


def _level_scale(dataset: Mapping[str, Any], ndim: int | None) -> list[float] | None:
    for transform in _dicts(dataset.get("coordinateTransformations")):
        if transform[1].get("type") == "scale":
            values = _numbers(transform[1].get("scale"))
            return values if values is not None and len(values) == ndim else None
    return None


def _check_level_order(
    levels: list[tuple[int, Mapping[str, Any]]],
    shapes: list[tuple[int, tuple[int, ...] | None]],
    where: tuple[str | int, ...],
    ndim: int | None,
    findings: _Findings,
) -> None:
    """Levels go from the highest resolution to the lowest: shapes shrink, scales grow."""
    previous_shape: tuple[int, ...] | None = None
    for index, shape in shapes:
        if (
            shape is not None
            and previous_shape is not None
            and len(shape) == len(previous_shape)
            and any(s > p for s, p in zip(shape, previous_shape, strict=True))
        ):
            findings.add(
                (*where, "datasets", index),
                f"level {index} has shape {list(shape)}, larger than the previous level's "
                f"{list(previous_shape)}; levels go from highest to lowest resolution",
                "level-order",
            )
        previous_shape = shape if shape is not None else previous_shape
    previous_scale: list[float] | None = None
    for index, dataset in levels:
        scale = _level_scale(dataset, ndim)
        if (
            scale is not None
            and previous_scale is not None
            and any(s < p for s, p in zip(scale, previous_scale, strict=True))
        ):
            findings.add(
                (*where, "datasets", index),
                f"level {index} has scale {scale}, smaller than the previous level's "
                f"{previous_scale}; levels go from highest to lowest resolution",
                "level-order",
            )
        previous_scale = scale if scale is not None else previous_scale


def _relative_path_problem(path: Any) -> str | None:
    """Why ``path`` is no relative path of one or more segments inside a group, or None."""
    if not isinstance(path, str) or not path:
        return f"{_short(path)} is not a non-empty string"
    segments = path.split("/")
    if any(not _PATH_SEGMENT.match(s) or s in (".", "..") for s in segments):
        return f"{path!r} is not a relative path inside the group"
    return None


def _check_labels_list(metadata: Mapping[str, Any], findings: _Findings) -> None:
    labels = metadata.get("labels")
    if not isinstance(labels, list):
        findings.add(
            ("labels",), f"'labels' must be a list of names, not {_short(labels)}", "labels"
        )
        return
    for index, name in enumerate(labels):
        problem = _relative_path_problem(name)
        if problem:
            findings.add(("labels", index), f"label name {problem}", "labels")
    for name in _repeated(labels):
        findings.add(("labels",), f"label {name!r} is listed more than once", "labels")


def _check_plate(metadata: Mapping[str, Any], version: str, findings: _Findings) -> None:
    plate = metadata.get("plate")
    if not isinstance(plate, Mapping):
        return
    names: dict[str, list[str]] = {}
    for key in ("rows", "columns"):
        names[key] = [n for _, d in _dicts(plate.get(key)) if isinstance(n := d.get("name"), str)]
        for name in _repeated(names[key]):
            findings.add(
                ("plate", key), f"{key[:-1]} name {name!r} is used more than once", "plate-unique"
            )
    wells = _dicts(plate.get("wells"))
    fmt = format_from_version(version)
    for index, well in wells:
        if not (
            isinstance(well.get("path"), str)
            and isinstance(well.get("rowIndex"), int)
            and isinstance(well.get("columnIndex"), int)
        ):
            continue  # malformed: the schema reports it
        try:
            fmt.validate_well_dict(well, names["rows"], names["columns"])
        except ValueError as exc:
            findings.add(("plate", "wells", index), str(exc), "plate-well")
    for path in _repeated(w.get("path") for _, w in wells):
        findings.add(("plate", "wells"), f"well {path!r} is listed more than once", "plate-unique")


def _check_well(metadata: Mapping[str, Any], findings: _Findings) -> None:
    well = metadata.get("well")
    if not isinstance(well, Mapping):
        return
    for path in _repeated(image.get("path") for _, image in _dicts(well.get("images"))):
        findings.add(("well", "images"), f"field {path!r} is listed more than once", "well-unique")


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
            self.problem(
                node,
                f"stopped after reading {_MAX_READS} nodes; the rest was not checked",
                "budget",
                "warning",
            )
            raise _TooMany
        try:
            return group[path]
        except KeyError:
            return None
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
        if wrapped != (version == "0.5"):
            where = "under the 'ome' attribute" if version == "0.5" else "at the top level"
            self.problem(node, f"OME-NGFF {version} metadata belongs {where}", "metadata-layout")
        document = {"ome": dict(metadata)} if version == "0.5" else dict(metadata)
        arrays = self.level_arrays(group, node, metadata, kinds)
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
        for _, multiscale in _dicts(metadata.get("multiscales")):
            for path in _listed(multiscale.get("datasets"), "path"):
                if path in arrays:
                    continue
                member = self.member(group, node, path)
                if isinstance(member, zarr.Array):
                    arrays[path] = _array_facts(member)
                elif member is not None:
                    arrays[path] = None
        return arrays

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
}


def _describe_error(exc: BaseException) -> str:
    return _short(f"{type(exc).__name__}: {exc}", _MAX_MESSAGE)


def _join(node: str, path: str) -> str:
    return f"{node}/{path}" if node else path


def _listed(entries: Any, key: str | None) -> list[str]:
    """The valid relative paths of a metadata list (of strings, or of dicts by ``key``)."""
    if not isinstance(entries, list):
        return []
    paths: list[str] = []
    for entry in entries:
        if key is not None:
            entry = entry.get(key) if isinstance(entry, Mapping) else None
        if isinstance(entry, str) and _relative_path_problem(entry) is None and entry not in paths:
            paths.append(entry)
    return paths


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
    and each label image, from a plate into each well and each field image, and from a
    bioformats2raw container into each series.

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
    except UnreadableMetadataError as exc:
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
        worst: Severity = (
            "error"
            if walk.violations and any(v.severity == "error" for v in walk.violations)
            else "warning"
        )
        walk.violations.append(
            Violation(
                ".",
                "too many violations: the rest of the hierarchy was not checked",
                "budget",
                worst,
            )
        )
    except Exception as exc:  # the root's own metadata is unreadable: bad data, not a crash
        walk.violations.append(Violation(".", f"unreadable: {_describe_error(exc)}", "unreadable"))
    root_node = walk.root
    kind = root_node.kinds[0] if root_node is not None and root_node.kinds else None
    version = root_node.version if root_node is not None else None
    return ValidationReport(description, walk.violations, version, kind)


def _not_zarr(description: str, why: str) -> ValidationReport:
    return ValidationReport(
        description, [Violation(".", f"not an OME-Zarr: {why}", "not-ome-zarr")], None, None
    )
