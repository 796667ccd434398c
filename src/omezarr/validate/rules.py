"""The rules the schemas cannot express: checking a document against itself and its arrays."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._numbers import is_finite_number
from ..ngff.axes import axes_problems
from ..ngff.documents import validate_omero
from ..ngff.format import format_from_version
from ..types import JSONDict
from .graphs import check_multiscale_v06, check_scene
from .kinds import RULE_KINDS, _check_kind_and_version, _rules_format
from .report import Violation, _Findings, _short
from .transforms import LinkedImage, LinkedLookup, _dicts

__all__ = [
    "ArrayFacts",
    "LinkedImage",
    "check_document",
]

_PATH_SEGMENT = re.compile(r"^[^/\\]+$")


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
    linked: LinkedLookup | None = None,
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
        ``"0.4"``, ``"0.5"`` or ``"0.6"``.
    arrays : mapping of str to ArrayFacts or None, optional
        The facts of the arrays named by the datasets (see :data:`ArrayLookup`). When None,
        rules that need arrays are skipped.
    source_levels : int, optional
        For a label image: the number of levels of the image that owns it.
    zarr_format : int, optional
        The zarr format of the group holding the document.
    linked : mapping of str to LinkedImage or None, optional
        For 0.6: what the groups named by ``path`` in the transformations hold (images a
        scene or multiscales links to, vector fields). When None, those references are
        checked for form only.

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
        expected = _rules_format(version).zarr_format
        if zarr_format != expected:
            message = (
                f"OME-NGFF {version} is stored in zarr v{expected}, this group is zarr "
                f"v{zarr_format}"
            )
            findings.items.append(Violation("#", message, "zarr-format"))  # the whole group
    if metadata is None:
        return findings.items
    if kind in ("image", "label"):
        _check_multiscales(
            metadata, version, findings, arrays, kind == "label", source_levels, linked
        )
    elif kind == "labels":
        _check_labels_list(metadata, findings)
    elif kind == "plate":
        _check_plate(metadata, version, findings)
    elif kind == "well":
        _check_well(metadata, findings)
    elif kind == "scene":
        check_scene(metadata, findings, arrays, linked)
    return findings.items


def _numbers(value: Any) -> list[float] | None:
    if isinstance(value, list) and all(is_finite_number(v) for v in value):
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
    linked: LinkedLookup | None = None,
) -> None:
    multiscales = _dicts(metadata.get("multiscales"))
    for index, multiscale in multiscales:
        where: tuple[str | int, ...] = ("multiscales", index)
        axes_where: tuple[str | int, ...]
        if version == "0.6":
            intrinsic = check_multiscale_v06(multiscale, where, findings, arrays, linked)
            axes = intrinsic.axes if intrinsic is not None else None
            axes_where = (
                (*where, "coordinateSystems", intrinsic.index, "axes") if intrinsic else where
            )
        else:
            axes = multiscale.get("axes")
            axes_where = (*where, "axes")
        _check_multiscale(
            multiscale,
            where,
            version,
            findings,
            arrays,
            is_label,
            source_levels,
            axes,
            axes_where,
        )
    if "omero" in metadata and multiscales:
        channels = _channel_count(multiscales[0][1], arrays, version == "0.6")
        try:
            validate_omero(metadata["omero"], channels)
        except (TypeError, ValueError, KeyError) as exc:
            findings.add(("omero",), str(exc.args[0]) if exc.args else str(exc), "omero")


def _channel_count(
    multiscale: Mapping[str, Any], arrays: ArrayLookup | None, v06: bool = False
) -> int | None:
    """The size of the channel axis of the first level, when axes and array are known; 1 for
    typed axes without a channel axis (one channel, however many ``omero`` lists). In 0.6 the
    axes are those of the system the first level maps to."""
    axes = _intrinsic_axes(multiscale) if v06 else multiscale.get("axes")
    datasets = multiscale.get("datasets")
    if arrays is None or not isinstance(axes, list) or not isinstance(datasets, list):
        return None
    channel_axes = [
        i for i, a in enumerate(axes) if isinstance(a, Mapping) and a.get("type") == "channel"
    ]
    if not channel_axes and axes and all(isinstance(a, Mapping) and "type" in a for a in axes):
        return 1
    if len(channel_axes) != 1 or not datasets or not isinstance(datasets[0], Mapping):
        return None
    path = datasets[0].get("path")
    facts = arrays.get(path) if isinstance(path, str) else None
    if facts is None or len(facts.shape) != len(axes):
        return None
    return facts.shape[channel_axes[0]]


def _intrinsic_axes(multiscale: Mapping[str, Any]) -> Any:
    """The axes of the coordinate system a 0.6 multiscale's first level maps to, if stated."""
    datasets = multiscale.get("datasets")
    first = datasets[0] if isinstance(datasets, list) and datasets else None
    transforms = first.get("coordinateTransformations") if isinstance(first, Mapping) else None
    transform = transforms[0] if isinstance(transforms, list) and transforms else None
    output = transform.get("output") if isinstance(transform, Mapping) else None
    name = output.get("name") if isinstance(output, Mapping) else None
    for system in multiscale.get("coordinateSystems") or []:
        if isinstance(system, Mapping) and system.get("name") == name:
            return system.get("axes")
    return None


def _check_multiscale(
    multiscale: Mapping[str, Any],
    where: tuple[str | int, ...],
    version: str,
    findings: _Findings,
    arrays: ArrayLookup | None,
    is_label: bool,
    source_levels: int | None,
    axes: Any,
    axes_where: tuple[str | int, ...],
) -> None:
    """The rules shared by every version; the 0.6 axes are those of the intrinsic system
    (whose axes rules :func:`check_multiscale_v06` has checked with the others)."""
    well_formed_axes = isinstance(axes, list) and all(isinstance(a, Mapping) for a in axes)
    ndim: int | None = None
    names: list[Any] = []
    if isinstance(axes, list) and well_formed_axes:
        ndim = len(axes)
        names = [a.get("name") for a in axes]
        if version != "0.6":
            for problem in axes_problems(axes):
                findings.add(axes_where, problem, "axes")
    datasets = multiscale.get("datasets")
    levels = _dicts(datasets)
    if ndim is not None and version != "0.6":
        _check_transformations(multiscale, where, ndim, levels, findings)
    level_count = len(datasets) if isinstance(datasets, list) else None
    if is_label and source_levels is not None and level_count not in (None, source_levels):
        findings.add(
            (*where, "datasets"),
            f"the label image has {level_count} levels, its source image has {source_levels}",
            "label-levels",
        )
    shapes: list[tuple[int, tuple[int, ...] | None]] = []
    dtypes: dict[str, str] = {}
    for index, dataset in levels:
        path = dataset.get("path")
        if arrays is None or not isinstance(path, str):
            continue
        facts = _check_level_array(
            path, arrays, (*where, "datasets", index), ndim, names, version, is_label, findings
        )
        shapes.append((index, facts.shape if facts is not None else None))
        if facts is not None and version == "0.6":
            dtypes.setdefault(facts.dtype, path)
    if len(dtypes) > 1:
        findings.add(
            (*where, "datasets"),
            f"every level has the same data type, found {sorted(dtypes)}",
            "dataset-dtype",
        )
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
    expected_format = _rules_format(version).zarr_format
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
    if version != "0.4" and ndim is not None:
        if facts.dimension_names is None:
            # 0.5 requires them; the 0.6 text no longer says so, but readers rely on them.
            findings.add(
                where,
                f"array {path!r} has no dimension_names; OME-Zarr {version} "
                f"{'needs' if version == '0.5' else 'should have'} the axis names {names}",
                "dimension-names",
                "error" if version == "0.5" else "warning",
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
            "error" if version != "0.4" else "warning",
        )
    return facts


def _is_integer_dtype(dtype: str) -> bool:
    try:
        return np.dtype(dtype).kind in "iu"
    except (TypeError, ValueError):
        return False


def _level_scale(dataset: Mapping[str, Any], ndim: int | None) -> list[float] | None:
    """The scale of a level: its scale transformation's, or (0.6) its sequence's scale."""
    transforms = _dicts(dataset.get("coordinateTransformations"))
    for _, transform in transforms:
        if transform.get("type") == "sequence":
            transforms = _dicts(transform.get("transformations"))
            break
    for _, transform in transforms:
        if transform.get("type") == "scale":
            values = _numbers(transform.get("scale"))
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
    fmt = _rules_format(version)
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
