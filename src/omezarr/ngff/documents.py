"""Building and checking OME-NGFF metadata documents: multiscales, image-label, plate, well, omero.

Pure: dicts in, dicts out, no I/O. Every refusal is a ValueError or TypeError that names the
argument and what was expected, raised before anything is written.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._numbers import is_finite_number, is_json_int
from ..types import AxesType, JSONDict
from .axes import Axes, pixel_sizes
from .format import INTRINSIC_SYSTEM, Format

__all__ = [
    "MissingKeyError",
    "build_image_label",
    "build_multiscale",
    "build_plate",
    "build_well",
    "level_transformations",
    "validate_acquisitions",
    "validate_datasets",
    "validate_omero",
    "validate_rows_columns",
    "validate_well_images",
    "validate_wells",
]

LOGGER = logging.getLogger("omezarr.metadata")

_HEX_COLOR = re.compile(r"^[0-9A-Fa-f]{6}$")
_ALNUM = re.compile(r"^[A-Za-z0-9]+$")


class MissingKeyError(KeyError, ValueError):
    """A required key or member is missing: a ValueError, and a KeyError as in the reference API.

    The established API raises KeyError for these; omezarr's contract is ValueError or
    TypeError for bad arguments, so this is both.
    """

    def __str__(self) -> str:
        # KeyError quotes its argument; this is a message, not a key.
        return str(self.args[0]) if self.args else ""


def _require_list(value: Any, name: str) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{name}: expected a list, not {type(value).__name__}")
    return list(value)


def valid_axes(
    axes: AxesType, axes_units: Mapping[str, str] | None, fmt: Format, ndim: int | None = None
) -> list[str] | list[dict[str, Any]] | None:
    """Axes as written for ``fmt``, guessing them for 2-D and 5-D data as the reference does.

    Returns None for 0.1/0.2, which have no axes. ``ndim`` None skips the guess and the
    count check.
    """
    if fmt.version in ("0.1", "0.2"):
        if axes is not None:
            LOGGER.info("axes ignored for version 0.1 or 0.2")
        return None
    if axes is None:
        if ndim == 2:
            axes = ["y", "x"]
        elif ndim == 5:
            axes = ["t", "c", "z", "y", "x"]
        else:
            raise ValueError("axes must be provided. Can't be guessed for 3D or 4D data")
    if isinstance(axes, str):
        axes = list(axes)
    if ndim is not None:
        count = len(axes) if isinstance(axes, Sequence) else None
        if count != ndim:
            raise ValueError(f"axes length ({count}) must match number of dimensions ({ndim})")
    parsed = Axes(axes, axes_units, fmt).to_list(fmt)
    for axis in parsed:
        if isinstance(axis, Mapping) and not isinstance(axis.get("unit"), str | None):
            raise TypeError(
                f"axes: the unit of axis {axis.get('name')!r} must be a string, not {axis['unit']!r}"
            )
    return parsed


def axis_names(axes: Sequence[str] | Sequence[Mapping[str, Any]] | None) -> tuple[str, ...]:
    """The names of axes as returned by :func:`valid_axes` (tczyx for 0.1/0.2)."""
    if axes is None:
        return ("t", "c", "z", "y", "x")
    return tuple(str(a["name"]) if isinstance(a, Mapping) else str(a) for a in axes)


def level_transformations(
    shapes: Sequence[Sequence[int]],
    dims: Sequence[str],
    scale: Mapping[str, float] | None,
    fmt: Format,
) -> list[list[dict[str, Any]]] | None:
    """Each level's ``coordinateTransformations`` from level shapes and the level-0 pixel size.

    The scale of level ``k`` along an axis is ``scale[axis] * shape0 / shape_k``. Axes missing
    from ``scale`` have pixel size 1.0.
    """
    transformations = fmt.generate_coordinate_transformations(shapes)
    if transformations is None:
        return None
    scale = pixel_sizes(scale, dims)
    for level in transformations:
        level[0]["scale"] = [
            s * float(scale.get(d, 1.0)) for s, d in zip(level[0]["scale"], dims, strict=True)
        ]
    return transformations


def validate_datasets(datasets: Any, ndim: int, fmt: Format) -> list[dict[str, Any]]:
    """Check a multiscales ``datasets`` list: paths and per-level transformations.

    ``ndim`` < 0 skips the length checks that need the number of axes.
    """
    datasets = _require_list(datasets, "datasets")
    if not datasets:
        raise ValueError("datasets: Empty datasets list")
    if fmt.has_coordinate_systems:
        datasets = [_from_v06_dataset(i, d, ndim) for i, d in enumerate(datasets)]
    transformations = []
    paths = []
    for i, dataset in enumerate(datasets):
        if not isinstance(dataset, Mapping):
            raise ValueError(f"datasets[{i}]: expected a dict with 'path', not {dataset!r}")
        path = dataset.get("path")
        if not path or not isinstance(path, str):
            raise ValueError(
                f"datasets[{i}]: no 'path' in dataset (a non-empty string is required)"
            )
        paths.append(path)
        if dataset.get("coordinateTransformations") is not None:
            transformations.append(dataset["coordinateTransformations"])
    if len(set(paths)) != len(paths):
        raise ValueError(f"datasets: paths must be unique, found {paths}")
    if fmt.version not in ("0.1", "0.2", "0.3"):
        if len(transformations) != len(datasets):
            raise ValueError(
                "datasets: every dataset needs 'coordinateTransformations' with a 'scale' for "
                f"OME-NGFF {fmt.version}"
            )
        try:
            fmt.validate_coordinate_transformations(
                ndim if ndim >= 0 else _scale_length(transformations),
                len(datasets),
                transformations,
            )
        except ValueError as exc:
            raise ValueError(f"datasets: {exc}") from exc
    return [dict(d) for d in datasets]


def _from_v06_dataset(index: int, dataset: Any, ndim: int) -> Any:
    """A dataset given in the 0.6 form (one transformation with ``input`` and ``output``)
    in the form the checks take (``[scale]`` or ``[scale, translation]``); others unchanged.

    The output system's name is kept under ``_output`` for :func:`build_multiscale`.
    """
    if not isinstance(dataset, Mapping):
        return dataset
    transforms = dataset.get("coordinateTransformations")
    if not (
        isinstance(transforms, list)
        and len(transforms) == 1
        and isinstance(transforms[0], Mapping)
        and ("input" in transforms[0] or "output" in transforms[0])
    ):
        return dataset
    where = f"datasets[{index}]"
    transform = transforms[0]
    source, target = transform.get("input"), transform.get("output")
    if not isinstance(source, Mapping) or source.get("path") != dataset.get("path"):
        raise ValueError(
            f"{where}: the transformation's input must be {{'path': {dataset.get('path')!r}}} "
            f"(the dataset's own array), not {source!r}"
        )
    if not isinstance(target, Mapping) or not isinstance(target.get("name"), str):
        raise ValueError(
            f"{where}: the transformation's output must name the image's coordinate system, "
            f"e.g. {{'name': 'intrinsic'}}, not {target!r}"
        )
    kind = transform.get("type")
    if kind == "scale":
        steps = [{"type": "scale", "scale": transform.get("scale")}]
    elif kind == "sequence" and isinstance(transform.get("transformations"), list):
        steps = [
            {k: v for k, v in step.items() if k not in ("input", "output")}
            if isinstance(step, Mapping)
            else step
            for step in transform["transformations"]
        ]
    elif kind == "identity" and ndim >= 0:
        steps = [{"type": "scale", "scale": [1.0] * ndim}]
    else:
        raise ValueError(
            f"{where}: a level's transformation must be a scale, an identity or a sequence of "
            f"a scale and a translation, not {kind!r}"
        )
    return {**dataset, "coordinateTransformations": steps, "_output": target["name"]}


def _to_v06_datasets(datasets: Sequence[Mapping[str, Any]], system: str) -> list[dict[str, Any]]:
    """Each dataset with its one transformation from its array to ``system`` (0.6)."""
    converted = []
    for dataset in datasets:
        path = dataset["path"]
        steps = [dict(step) for step in dataset["coordinateTransformations"]]
        ends = {"input": {"path": path}, "output": {"name": system}}
        if len(steps) == 1:
            transform = {**steps[0], **ends}
        else:
            transform = {"type": "sequence", **ends, "transformations": steps}
        rest = {
            k: v for k, v in dataset.items() if k not in ("coordinateTransformations", "_output")
        }
        converted.append({**rest, "coordinateTransformations": [transform]})
    return converted


def binning_offsets(transformations: list[list[dict[str, Any]]]) -> None:
    """Give each level a translation of half its pixel size less level 0's, in place: the
    offset of a pyramid whose output pixels are centred on the input pixels they summarise
    (the spec's "(pixel-size-at-N - pixel-size-at-0) / 2"). Levels without one keep a scale."""
    first = transformations[0][0]["scale"]
    for level in transformations[1:]:
        offset = [(s - s0) / 2 for s, s0 in zip(level[0]["scale"], first, strict=True)]
        if any(offset) and len(level) == 1:
            level.append({"type": "translation", "translation": offset})


def _scale_length(transformations: Sequence[Sequence[Mapping[str, Any]]]) -> int:
    first = transformations[0][0] if transformations and transformations[0] else {}
    values = first.get("scale") if isinstance(first, Mapping) else None
    return len(values) if isinstance(values, Sequence) else -1


def validate_omero(omero: Any, n_channels: int | None = None) -> JSONDict:
    """Check an ``omero`` rendering dict: channels with 6-hex-digit colours and numeric windows."""
    if not isinstance(omero, Mapping):
        raise TypeError(f"omero: expected a dict with 'channels', not {type(omero).__name__}")
    channels = omero.get("channels")
    if channels is None:
        raise ValueError("omero: a 'channels' list is required")
    channels = _require_list(channels, "omero['channels']")
    if n_channels is not None and len(channels) != n_channels:
        raise ValueError(
            f"omero: {len(channels)} channels given, the image has {n_channels} channels"
        )
    for i, channel in enumerate(channels):
        where = f"omero['channels'][{i}]"
        if not isinstance(channel, Mapping):
            raise TypeError(f"{where}: expected a dict, not {type(channel).__name__}")
        if "color" in channel and not (
            isinstance(channel["color"], str) and _HEX_COLOR.match(channel["color"])
        ):
            raise TypeError(
                f"{where}: 'color' must be a hex code string of 6 digits, e.g. 'FF0000', not {channel['color']!r}"
            )
        if "window" in channel:
            window = channel["window"]
            if not isinstance(window, Mapping):
                raise TypeError(f"{where}: 'window' must be a dict with min, max, start and end")
            for key in ("min", "max", "start", "end"):
                if key not in window:
                    raise MissingKeyError(f"{where}: '{key}' not found in 'window'")
                if not is_finite_number(window[key]):
                    raise TypeError(
                        f"{where}: window '{key}' must be an int or float, not {window[key]!r}"
                    )
            if window["min"] > window["max"]:
                raise ValueError(
                    f"{where}: window min {window['min']} is greater than max {window['max']}"
                )
    return copy.deepcopy(dict(omero))


def build_multiscale(
    datasets: Sequence[Mapping[str, Any]],
    fmt: Format,
    axes: list[str] | list[dict[str, Any]] | None,
    name: str | None,
    extra: Mapping[str, Any] | None = None,
) -> JSONDict:
    """One ``multiscales`` entry. ``extra`` (type, metadata, …) is kept, never dropped."""
    ndim = len(axes) if axes is not None else -1
    entry: JSONDict = {}
    for key, value in (extra or {}).items():
        if key in ("datasets", "axes", "version"):
            raise ValueError(
                f"metadata: {key!r} is set by the writer and cannot be given as metadata"
            )
        entry[key] = copy.deepcopy(value)
    checked = validate_datasets(datasets, ndim, fmt)
    if fmt.has_coordinate_systems:
        return _v06_multiscale(entry, checked, axes, name)
    entry["datasets"] = checked
    if name is not None:
        entry["name"] = str(name)
    if axes is not None:
        entry["axes"] = axes
    if not fmt.metadata_is_nested:
        entry["version"] = fmt.version
    return entry


def _v06_multiscale(
    entry: JSONDict,
    datasets: list[dict[str, Any]],
    axes: list[str] | list[dict[str, Any]] | None,
    name: str | None,
) -> JSONDict:
    """The 0.6 form: the intrinsic coordinate system (named as given, else "intrinsic")
    listed first, before any the caller adds, and each level's one transformation into it."""
    if axes is None:
        raise ValueError("axes: OME-NGFF 0.6 images need axes (their coordinate system's)")
    outputs = {d["_output"] for d in datasets if "_output" in d}
    if len(outputs) > 1:
        raise ValueError(
            f"datasets: every level must map to the same coordinate system, not {sorted(outputs)}"
        )
    system = outputs.pop() if outputs else INTRINSIC_SYSTEM
    extra_systems = _require_list(entry.pop("coordinateSystems", None) or [], "coordinateSystems")
    for other in extra_systems:
        if not isinstance(other, Mapping) or not isinstance(other.get("name"), str):
            raise ValueError(f"coordinateSystems: each needs a 'name' and 'axes', not {other!r}")
        if other["name"] == system and other.get("axes") != axes:
            raise ValueError(
                f"coordinateSystems: {system!r} is the image's intrinsic system, written from "
                "its axes; give it no other axes"
            )
    systems = [{"name": system, "axes": axes}]
    systems += [dict(o) for o in extra_systems if o["name"] != system]
    _check_additional_transformations(entry.get("coordinateTransformations"), systems)
    result: JSONDict = {}
    if name is not None:
        result["name"] = str(name)
    result["coordinateSystems"] = systems
    result["datasets"] = _to_v06_datasets(datasets, system)
    result.update(entry)
    return result


def _check_additional_transformations(
    transforms: Any, systems: Sequence[Mapping[str, Any]]
) -> None:
    """Check a 0.6 multiscale's own ``coordinateTransformations`` (to other systems): each
    joins two of its systems (or one and a label image's, by ``path``), parses, and holds a
    true rotation where it has one."""
    if transforms is None:
        return
    from .transforms import parse_transformation, rotation_problem

    dims = {str(s["name"]): len(s.get("axes") or []) for s in systems}
    for index, transform in enumerate(_require_list(transforms, "coordinateTransformations")):
        where = f"coordinateTransformations[{index}]"
        if not isinstance(transform, Mapping):
            raise ValueError(f"{where}: expected a transformation dict, not {transform!r}")
        ends = []
        for key in ("input", "output"):
            end = transform.get(key)
            if not isinstance(end, Mapping) or not isinstance(end.get("name"), str):
                raise ValueError(f"{where}.{key}: expected {{'name': system}}, not {end!r}")
            if end.get("path") is None and end["name"] not in dims:
                raise ValueError(
                    f"{where}.{key}: no coordinate system {end['name']!r} in this image "
                    f"(it has {sorted(dims)})"
                )
            ends.append(end)
        if all(end.get("path") is not None for end in ends):
            raise ValueError(f"{where}: one end must be a coordinate system of this image")
        linked = next((end["path"] for end in ends if end.get("path") is not None), None)
        if linked is not None:
            # The spec's rule for links to a label image's system (the validator's too).
            if not (is_child_path(linked) and str(linked).startswith("labels/")):
                raise ValueError(
                    f"{where}: a multiscales transformation may name a group only in its "
                    f"labels ('labels/<name>'), not {linked!r}"
                )
            if not is_one_of_or_scaled_shift(transform, LABEL_LINK_TYPES):
                raise ValueError(
                    f"{where}: a transformation to a label image is identity, scale, translation "
                    f"or a sequence of scale and translation, not {transform.get('type')!r}"
                )
        if transform.get("type") in ("displacements", "coordinates"):
            _check_field_reference(transform, ends, dims, where)
            continue
        try:
            parsed = parse_transformation(transform, ndim=dims.get(ends[0]["name"]))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        for end, size in zip(ends, (parsed.input_ndim, parsed.output_ndim), strict=True):
            if end.get("path") is None and dims[end["name"]] != size:
                raise ValueError(
                    f"{where}: a {transform.get('type')} of {parsed.input_ndim} -> "
                    f"{parsed.output_ndim} dimensions does not fit {end['name']!r} "
                    f"({dims[end['name']]} axes)"
                )
        if problem := rotation_problem(transform):
            raise ValueError(f"{where}: {problem}")


LABEL_LINK_TYPES = frozenset({"identity", "scale", "translation"})
"""What a multiscales transformation to a label image's system may be (or a scaled shift)."""


def is_one_of_or_scaled_shift(transform: Mapping[str, Any], single: frozenset[str]) -> bool:
    """Whether ``transform`` is one of the ``single`` types, or a sequence of one scale and
    one translation (what datasets and label links may be)."""
    kind = transform.get("type")
    if kind in single:
        return True
    steps = transform.get("transformations")
    if kind == "sequence" and isinstance(steps, list):
        return [s.get("type") if isinstance(s, Mapping) else None for s in steps] == [
            "scale",
            "translation",
        ]
    return False


def is_child_path(path: Any) -> bool:
    """Whether ``path`` names a node below a group: a non-empty relative path whose segments
    are neither empty, ``.`` nor ``..`` and hold no backslash."""
    return (
        isinstance(path, str)
        and bool(path)
        and all(s not in ("", ".", "..") and "\\" not in s for s in path.split("/"))
    )


def _check_field_reference(
    transform: Mapping[str, Any],
    ends: Sequence[Mapping[str, Any]],
    dims: Mapping[str, int],
    where: str,
) -> None:
    """A ``displacements`` or ``coordinates`` transformation names its field, a multiscale
    image of N + 1 axes at a child ``path`` of the image (written there by the caller; the
    validator checks its axes and vector length); a displacement keeps the dimensions."""
    kind = transform["type"]
    if not is_child_path(transform.get("path")):
        raise ValueError(f"{where}: a {kind} needs a 'path' to its field inside the image")
    interpolation = transform.get("interpolation")
    if interpolation is not None and not isinstance(interpolation, str):
        raise ValueError(f"{where}: 'interpolation' must be a string such as 'linear'")
    sizes = [dims.get(end["name"]) if end.get("path") is None else None for end in ends]
    if kind == "displacements" and None not in sizes and sizes[0] != sizes[1]:
        raise ValueError(
            f"{where}: a displacement field maps a system to one of as many axes, not "
            f"{sizes[0]} to {sizes[1]}"
        )


def _require_entries(value: Any, name: str) -> list[Any]:
    """A non-empty list: the schemas require at least one colour or property when given."""
    entries = _require_list(value, name)
    if not entries:
        raise ValueError(f"{name}: give at least one entry, or None to leave it out")
    return entries


def _validate_colors(colors: Any) -> list[JSONDict]:
    colors = _require_entries(colors, "colors")
    seen = set()
    for i, color in enumerate(colors):
        where = f"colors[{i}]"
        if not isinstance(color, Mapping):
            raise TypeError(f"{where}: expected a dict with 'label-value' and 'rgba'")
        if "label-value" not in color or not is_finite_number(color["label-value"]):
            raise ValueError(f"{where}: a numeric 'label-value' is required")
        if color["label-value"] in seen:
            raise ValueError(f"{where}: label-value {color['label-value']} appears twice")
        seen.add(color["label-value"])
        rgba = color.get("rgba")
        if "rgba" in color and not (
            isinstance(rgba, Sequence)
            and len(rgba) == 4
            and all(is_json_int(v) and 0 <= v <= 255 for v in rgba)
        ):
            raise ValueError(f"{where}: 'rgba' must be 4 integers from 0 to 255, not {rgba!r}")
    return [dict(c) for c in colors]


def _validate_properties(properties: Any) -> list[JSONDict]:
    properties = _require_entries(properties, "properties")
    seen = set()
    for i, prop in enumerate(properties):
        if not isinstance(prop, Mapping):
            raise TypeError(f"properties[{i}]: expected a dict with 'label-value'")
        # Unlike a colour's, a property's label-value must be an integer in the schemas.
        if "label-value" not in prop or not is_json_int(prop["label-value"]):
            raise ValueError(f"properties[{i}]: an integer 'label-value' is required")
        if prop["label-value"] in seen:
            raise ValueError(f"properties[{i}]: label-value {prop['label-value']} appears twice")
        seen.add(prop["label-value"])
    return [dict(p) for p in properties]


def build_image_label(
    fmt: Format,
    colors: Any = None,
    properties: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONDict:
    """The ``image-label`` dict; ``extra`` (source, …) is kept."""
    label: JSONDict = {k: copy.deepcopy(v) for k, v in (extra or {}).items()}
    source = label.get("source")
    if "source" in label and not (
        isinstance(source, Mapping) and isinstance(source.get("image", ""), str)
    ):
        raise TypeError("source: expected a dict such as {'image': '../../'}")
    if colors is not None:
        label["colors"] = _validate_colors(colors)
    if properties is not None:
        label["properties"] = _validate_properties(properties)
    if not fmt.metadata_is_nested:
        label["version"] = fmt.version
    return label


def validate_rows_columns(values: Any, name: str) -> list[JSONDict]:
    """Plate rows or columns: unique alphanumeric names, as ``[{"name": ...}]``."""
    values = _require_list(values, name)
    if not values:
        raise ValueError(f"{name}: at least one name is required")
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"{name}: names must be strings, not {value!r}")
        if not _ALNUM.match(value):
            raise ValueError(f"{name}: {value!r} must contain only alphanumeric characters")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}: {values} must contain unique elements")
    return [{"name": v} for v in values]


def validate_wells(
    wells: Any, rows: Sequence[str], columns: Sequence[str], fmt: Format
) -> list[JSONDict]:
    """Plate wells from "A/1" strings or dicts, each checked against rows and columns."""
    wells = _require_list(wells, "wells")
    if not wells:
        raise ValueError("wells: Empty wells list")
    result = []
    for well in wells:
        if isinstance(well, str):
            entry = fmt.generate_well_dict(well, rows, columns)
        elif isinstance(well, Mapping):
            entry = dict(well)
        else:
            raise ValueError(f"wells: Unrecognized type for {well!r} (expected 'A/1' or a dict)")
        fmt.validate_well_dict(entry, rows, columns)
        result.append(entry)
    paths = [w["path"] for w in result]
    if len(set(paths)) != len(paths):
        raise ValueError(f"wells: paths must be unique, found {paths}")
    return result


_ACQUISITION_KEYS = {"id", "name", "maximumfieldcount", "description", "starttime", "endtime"}


def validate_acquisitions(acquisitions: Any) -> list[JSONDict]:
    """Plate acquisitions: dicts with an integer ``id`` and typed optional fields."""
    acquisitions = _require_list(acquisitions, "acquisitions")
    ids = []
    for i, acquisition in enumerate(acquisitions):
        where = f"acquisitions[{i}]"
        if not isinstance(acquisition, Mapping):
            raise ValueError(f"{where}: {acquisition!r} must be a dictionary")
        if "id" not in acquisition:
            raise ValueError(f"{where}: {dict(acquisition)!r} must contain an id key")
        if not is_json_int(acquisition["id"]) or acquisition["id"] < 0:
            raise ValueError(f"{where}: id must be a non-negative int, not {acquisition['id']!r}")
        ids.append(acquisition["id"])
        for key in ("maximumfieldcount", "starttime", "endtime"):
            if key in acquisition and (not is_json_int(acquisition[key]) or acquisition[key] < 0):
                raise ValueError(
                    f"{where}: {key} must be a non-negative int, not {acquisition[key]!r}"
                )
        if "maximumfieldcount" in acquisition and acquisition["maximumfieldcount"] == 0:
            raise ValueError(f"{where}: maximumfieldcount must be positive")
        for key in ("name", "description"):
            if key in acquisition and not isinstance(acquisition[key], str):
                raise ValueError(f"{where}: {key} must be a string, not {acquisition[key]!r}")
        extra = set(acquisition) - _ACQUISITION_KEYS
        if extra:
            LOGGER.debug("%s contains unspecified keys %s", acquisition, sorted(extra))
    if len(set(ids)) != len(ids):
        raise ValueError(f"acquisitions: ids must be unique, found {ids}")
    return [dict(a) for a in acquisitions]


def build_plate(
    rows: Any,
    columns: Any,
    wells: Any,
    fmt: Format,
    acquisitions: Any = None,
    field_count: Any = None,
    name: Any = None,
) -> JSONDict:
    """The ``plate`` dict."""
    plate: JSONDict = {
        "columns": validate_rows_columns(columns, "columns"),
        "rows": validate_rows_columns(rows, "rows"),
    }
    plate["wells"] = validate_wells(wells, list(rows), list(columns), fmt)
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"name: expected a string, not {type(name).__name__}")
        plate["name"] = name
    if field_count is not None:
        if not is_json_int(field_count) or field_count < 1:
            raise ValueError(f"field_count: expected a positive int, not {field_count!r}")
        plate["field_count"] = field_count
    if acquisitions is not None:
        plate["acquisitions"] = validate_acquisitions(acquisitions)
    # 0.5 keeps the version inside the plate too: ome-zarr-models and the reference expect it.
    # 0.6 has it only at ``ome``.
    if not fmt.has_coordinate_systems:
        plate["version"] = fmt.version
    return plate


def validate_well_images(images: Any) -> list[JSONDict]:
    """Well fields from paths or dicts with ``path`` and an integer ``acquisition``."""
    images = _require_list(images, "images")
    if not images:
        raise ValueError("images: a well needs at least one field")
    result = []
    for i, image in enumerate(images):
        where = f"images[{i}]"
        if isinstance(image, str):
            entry: JSONDict = {"path": image}
        elif isinstance(image, Mapping):
            if "path" not in image:
                raise ValueError(f"{where}: {dict(image)!r} must contain a path key")
            if not isinstance(image["path"], str):
                raise ValueError(f"{where}: {dict(image)!r} path must be of string type")
            if "acquisition" in image and not is_json_int(image["acquisition"]):
                raise ValueError(f"{where}: {dict(image)!r} acquisition must be of int type")
            entry = dict(image)
        else:
            raise ValueError(
                f"{where}: Unrecognized type for {image!r} (expected a path or a dict)"
            )
        if not _ALNUM.match(entry["path"]):
            raise ValueError(f"{where}: path {entry['path']!r} must be alphanumeric")
        result.append(entry)
    paths = [e["path"] for e in result]
    if len(set(paths)) != len(paths):
        raise ValueError(f"images: paths must be unique, found {paths}")
    return result


def build_well(images: Any, fmt: Format) -> JSONDict:
    """The ``well`` dict."""
    well: JSONDict = {"images": validate_well_images(images)}
    if not fmt.metadata_is_nested:
        well["version"] = fmt.version
    return well
