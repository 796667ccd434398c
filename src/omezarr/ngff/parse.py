"""Lenient parsing of NGFF documents for readers: axes, transformations, colours, properties."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from omezarr.ngff.format import Format
from omezarr.types import JSONDict

from .._numbers import is_finite_number, is_json_int

_IMPLIED_AXES = ("t", "c", "z", "y", "x")
"""Axis names of 0.1 and 0.2 images, which carry no ``axes`` of their own."""


def _read_axes(axes: Any, fmt: Format, ndim: int, where: str) -> list[JSONDict]:
    """The axes as dicts; implied ``tczyx`` names for 0.1 and 0.2."""
    if axes is None:
        if fmt.version not in ("0.1", "0.2"):
            raise ValueError(f"{where} is required by OME-NGFF {fmt.version}")
        if ndim > len(_IMPLIED_AXES):
            raise ValueError(
                f"{where}: OME-NGFF {fmt.version} images have at most 5 dimensions, got {ndim}"
            )
        return [{"name": name} for name in _IMPLIED_AXES[len(_IMPLIED_AXES) - ndim :]]
    axes = _require(axes, list, where)
    parsed: list[JSONDict] = []
    for i, axis in enumerate(axes):
        if isinstance(axis, str):
            parsed.append({"name": axis})
            continue
        axis = _require(axis, dict, f"{where}[{i}]")
        _require(axis.get("name"), str, f"{where}[{i}].name")
        for key in ("type", "unit"):
            if key in axis and axis[key] is not None and not isinstance(axis[key], str):
                raise ValueError(f"{where}[{i}].{key} must be a string, got {axis[key]!r}")
        parsed.append({key: value for key, value in axis.items() if value is not None})
    if len(parsed) != ndim:
        raise ValueError(
            f"{where}: {len(parsed)} axes given, but the arrays have {ndim} dimensions"
        )
    names = [axis["name"] for axis in parsed]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: axis names must be unique, got {names}")
    return parsed


def _read_transformations(
    transformations: Any, ndim: int, where: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The combined (scale, translation) of a list of transformations; identity if absent."""
    scale = [1.0] * ndim
    translation = [0.0] * ndim
    if transformations is None:
        return tuple(scale), tuple(translation)
    transformations = _require(transformations, list, where)
    for i, transformation in enumerate(transformations):
        item_where = f"{where}[{i}]"
        transformation = _require(transformation, dict, item_where)
        kind = transformation.get("type")
        if kind == "identity":
            continue
        if kind not in ("scale", "translation"):
            raise ValueError(
                f"{item_where}: unsupported transformation type {kind!r} "
                "(expected 'scale', 'translation' or 'identity')"
            )
        if kind not in transformation:
            raise ValueError(
                f"{item_where}: the {kind!r} transformation has no {kind!r} values "
                "(a 'path' to them is not supported)"
            )
        values = _require(transformation[kind], list, f"{item_where}.{kind}")
        if len(values) != ndim or not all(is_finite_number(v) for v in values):
            raise ValueError(
                f"{item_where}.{kind} must be {ndim} finite numbers, one per dimension, "
                f"got {values!r}"
            )
        # Later transformations act on the result of earlier ones.
        if kind == "scale":
            scale = [s * float(v) for s, v in zip(scale, values, strict=True)]
            translation = [t * float(v) for t, v in zip(translation, values, strict=True)]
        else:
            translation = [t + float(v) for t, v in zip(translation, values, strict=True)]
    return tuple(scale), tuple(translation)


def _read_v06_levels(multiscale: Mapping[str, Any], where: str) -> tuple[Any, list[Any], str]:
    """An OME-NGFF 0.6 multiscale's intrinsic coordinate system: its axes, each level's
    transformations into it as a plain list (``[scale]``, ``[scale, translation]`` or ``[]``
    for identity, as :func:`_read_transformations` takes them), and its name.

    The intrinsic system is the one every level's transformation names as its ``output``.
    """
    datasets = _require(multiscale.get("datasets"), list, f"{where}.datasets")
    systems = _require(multiscale.get("coordinateSystems"), list, f"{where}.coordinateSystems")
    levels: list[Any] = []
    outputs: set[str] = set()
    for i, dataset in enumerate(datasets):
        dataset_where = f"{where}.datasets[{i}].coordinateTransformations"
        transforms = _require(
            _require(dataset, dict, f"{where}.datasets[{i}]").get("coordinateTransformations"),
            list,
            dataset_where,
        )
        if len(transforms) != 1:
            raise ValueError(
                f"{dataset_where} must hold one transformation (OME-NGFF 0.6), got {len(transforms)}"
            )
        transform = _require(transforms[0], dict, f"{dataset_where}[0]")
        output = transform.get("output")
        name = output.get("name") if isinstance(output, Mapping) else None
        if not isinstance(name, str):
            raise ValueError(f"{dataset_where}[0].output must name a coordinate system")
        outputs.add(name)
        kind = transform.get("type")
        if kind == "sequence":
            levels.append(_require(transform.get("transformations"), list, f"{dataset_where}[0]"))
        elif kind == "identity":
            levels.append([])
        else:
            levels.append([transform])
    if len(outputs) != 1:
        raise ValueError(
            f"{where}.datasets: every level must map to one coordinate system, got {sorted(outputs)}"
        )
    intrinsic = outputs.pop()
    for i, system in enumerate(systems):
        system = _require(system, dict, f"{where}.coordinateSystems[{i}]")
        if system.get("name") == intrinsic:
            return system.get("axes"), levels, intrinsic
    raise ValueError(
        f"{where}: the levels map to coordinate system {intrinsic!r}, which "
        "coordinateSystems does not declare"
    )


def _read_colors(colors: Any, where: str) -> dict[int, tuple[int, int, int, int]]:
    if colors is None:
        return {}
    result: dict[int, tuple[int, int, int, int]] = {}
    for i, color in enumerate(_require(colors, list, where)):
        color = _require(color, dict, f"{where}[{i}]")
        value = _label_value(color, f"{where}[{i}]")
        rgba = color.get("rgba")
        if (
            not isinstance(rgba, list)
            or len(rgba) != 4
            or not all(is_json_int(c) and 0 <= c <= 255 for c in rgba)
        ):
            raise ValueError(f"{where}[{i}].rgba must be 4 integers in 0..255, got {rgba!r}")
        result[value] = (rgba[0], rgba[1], rgba[2], rgba[3])
    return result


def _read_properties(properties: Any, where: str) -> dict[int, JSONDict]:
    if properties is None:
        return {}
    result: dict[int, JSONDict] = {}
    for i, entry in enumerate(_require(properties, list, where)):
        entry = _require(entry, dict, f"{where}[{i}]")
        value = _label_value(entry, f"{where}[{i}]")
        result[value] = {key: item for key, item in entry.items() if key != "label-value"}
    return result


def _label_value(entry: Mapping[str, Any], where: str) -> int:
    value = entry.get("label-value")
    # Early documents used booleans for binary masks; they are the integers 0 and 1.
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int):
        raise ValueError(f"{where}['label-value'] must be an integer, got {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# Plates, wells and collections
# --------------------------------------------------------------------------------------------


def _names(entries: Any, where: str) -> list[str]:
    """The ``name`` of each ``{"name": ...}`` entry of a plate's rows or columns."""
    names = []
    for i, entry in enumerate(_require(entries, list, where)):
        entry = _require(entry, dict, f"{where}[{i}]")
        names.append(_require(entry.get("name"), str, f"{where}[{i}].name"))
    return names


# --------------------------------------------------------------------------------------------
# Small checks
# --------------------------------------------------------------------------------------------


def _require(value: Any, kind: type, where: str) -> Any:
    """Return ``value`` if it is a ``kind``, else raise a ValueError naming ``where``."""
    if value is None:
        raise ValueError(f"{where} is missing")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(
            f"{where} must be a {_KIND_NAMES.get(kind, kind.__name__)}, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


_KIND_NAMES: dict[type, str] = {dict: "JSON object", list: "list", str: "string"}


def _matches(wanted: int | str, name: str, index: int) -> bool:
    """Whether a row/column given as a name or an index is ``name`` at ``index``."""
    return wanted == index if is_json_int(wanted) else wanted == name


def _pick(key: int | str, paths: Sequence[str], parameter: str, location: str) -> str:
    """The path chosen by position or by name, or a ValueError naming ``parameter``."""
    if is_json_int(key):
        assert isinstance(key, int)
        if not 0 <= key < len(paths):
            raise ValueError(
                f"{parameter}: {key} is out of range, {location} has {len(paths)} ({paths})"
            )
        return paths[key]
    if isinstance(key, str):
        if key not in paths:
            raise ValueError(f"{parameter}: {key!r} is not one of {paths} in {location}")
        return key
    raise TypeError(f"{parameter}: expected an int or a path string, not {type(key).__name__}")
