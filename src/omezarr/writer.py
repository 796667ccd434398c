"""The established OME-Zarr writer API: metadata writers and pixel writers.

Thin by design: arguments are validated, pixels go through :mod:`omezarr.engine`, and the
metadata that advertises an image is written last.
"""

from __future__ import annotations

import logging
import math
import sys
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import dask
import numpy as np
import zarr
from zarr.core.sync import sync
from zarr.storage import MemoryStore

from .chunkio import direct_writer
from .engine import (
    LevelTarget,
    Progress,
    delayed_tasks,
    memory_budget_from,
    plan_pyramid,
    run_plan,
    task_write_units,
)
from .format import CurrentFormat, Format, FormatV04, format_from_version
from .layout import LevelLayout, default_chunks, input_chunks, resolve_layouts
from .locking import fresh_group, locked_group, metadata_lock
from .metadata import (
    MissingKeyError,
    axis_names,
    build_image_label,
    build_multiscale,
    build_plate,
    build_well,
    level_transformations,
    valid_axes,
    validate_omero,
)
from .scale import Methods, PyramidStep, Scaler, level_factors, pyramid_steps, resolve_method
from .storage import (
    GroupLike,
    existing_group,
    group_zarr_format,
    open_group,
    read_ngff_attrs,
    remove_member,
    write_ngff_attrs,
)
from .types import AxesType, JSONDict, StorageOptions

__all__ = [
    "ArrayLike",
    "add_metadata",
    "check_format",
    "check_group_fmt",
    "get_metadata",
    "write_image",
    "write_label_metadata",
    "write_labels",
    "write_multiscale",
    "write_multiscale_labels",
    "write_multiscales_metadata",
    "write_plate_metadata",
    "write_well_metadata",
]

ArrayLike: TypeAlias = Any
"""NumPy, dask or zarr arrays, or any object with shape, dtype and ``__getitem__``."""

LOGGER = logging.getLogger("omezarr.writer")

SPATIAL_DIMS = ("x", "y", "z")


def _get_valid_axes(
    ndim: int | None = None,
    axes: AxesType = None,
    axes_units: dict[str, str] | None = None,
    fmt: Format | None = None,
) -> list[str] | list[dict[str, Any]] | None:
    """Axes valid for ``fmt``: guessed as yx (2-D) or tczyx (5-D); None for 0.1/0.2.

    Raises
    ------
    ValueError
        For 3-D/4-D data without axes, a count that differs from ``ndim``, or invalid axes.
    """
    return valid_axes(axes, axes_units, fmt if fmt is not None else CurrentFormat(), ndim)


def _extract_dims_from_axes(
    axes: Sequence[str] | Sequence[Mapping[str, Any]] | None,
) -> tuple[str, ...]:
    """Axis names of axes from :func:`_get_valid_axes` (tczyx for 0.1/0.2)."""
    return axis_names(axes)


def _coerce_format(fmt: Any) -> Format | None:
    if fmt is None or isinstance(fmt, Format):
        return fmt
    if isinstance(fmt, str | float) and not isinstance(fmt, bool):
        try:
            return format_from_version(fmt)
        except ValueError as error:
            raise ValueError(f"fmt: {error}") from None
    raise TypeError(
        f"fmt: expected an omezarr.format.Format (e.g. FormatV04()), not {type(fmt).__name__}"
    )


def check_format(group: zarr.Group, fmt: Format | None = None) -> Format:
    """The format to use for ``group``: ``fmt`` if compatible, else guessed from the zarr format.

    Raises
    ------
    ValueError
        If ``fmt`` needs another zarr format than the group's.
    """
    fmt = _coerce_format(fmt)
    zarr_format = group_zarr_format(group)
    if fmt is not None:
        if fmt.zarr_format != zarr_format:
            raise ValueError(
                f"fmt: Group is zarr_format: {zarr_format} but OME-Zarr {fmt.version} is "
                f"{fmt.zarr_format}"
            )
        return fmt
    return FormatV04() if zarr_format == 2 else CurrentFormat()


def check_group_fmt(
    group: GroupLike,
    fmt: Format | None = None,
    mode: str = "a",
) -> tuple[zarr.Group, Format]:
    """Open ``group`` (a path is created with the zarr format of ``fmt``) and check ``fmt``.

    Examples
    --------
    >>> group, fmt = check_group_fmt(str(tmp_path / "img.zarr"))  # doctest: +SKIP
    """
    fmt = _coerce_format(fmt)
    if not isinstance(group, zarr.Group):
        group = open_group(group, mode=mode, zarr_format=fmt.zarr_format if fmt else None)
    return group, check_format(group, fmt)


def _resolve_target(group: GroupLike, fmt: Any) -> tuple[zarr.Group | None, Format]:
    """The group already at ``group`` (None if there is none yet) and the format to write.

    Creates nothing, so that a writer can check every argument before the group exists.
    """
    if isinstance(group, str) and not group:
        # Path("") is the working directory: an empty string is a mistake, not a target.
        raise ValueError("group: expected a path, URL, store or zarr.Group, not ''")
    fmt = _coerce_format(fmt)
    existing = existing_group(group)
    if existing is None:
        return None, fmt if fmt is not None else CurrentFormat()
    return existing, check_format(existing, fmt)


def _check_storable(attrs: JSONDict, fmt: Format, parameters: str) -> None:
    """Refuse attributes zarr cannot store (not JSON), before anything is written.

    Tried on a group in memory, so that the rule is zarr's own (NumPy scalars pass); the
    message locates the first value that cannot be stored.
    """
    scratch = open_group(MemoryStore(), mode="w", zarr_format=fmt.zarr_format)

    def storable(value: Any) -> bool:
        try:
            write_ngff_attrs(scratch, {"value": value})
        except (TypeError, ValueError, RecursionError):
            return False
        return True

    if storable(attrs):
        return
    location, value = "", attrs
    while isinstance(value, Mapping | list | tuple):
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        bad = next(((key, item) for key, item in items if not storable(item)), None)
        if bad is None:  # the container itself, e.g. a key that is no string
            break
        location += f"[{bad[0]!r}]"
        value = bad[1]
    raise TypeError(
        f"{parameters}: {location or 'the metadata'} holds a {type(value).__name__}, which "
        "cannot be stored as JSON; use dicts, lists, strings, numbers, booleans and None"
    )


def _write_checked(
    target: GroupLike, existing: zarr.Group | None, fmt: Format, attrs: JSONDict
) -> None:
    """Write checked ``attrs`` to the existing group, or create the group with ``fmt``'s zarr format."""
    if existing is None:
        existing = open_group(target, mode="a", zarr_format=fmt.zarr_format)
    write_ngff_attrs(existing, attrs)


def get_metadata(group: GroupLike) -> JSONDict:
    """The NGFF attributes of ``group`` (the ``ome`` dict for zarr v3), as a copy."""
    if not isinstance(group, zarr.Group):
        group = open_group(group, mode="r")
    return read_ngff_attrs(group)


def add_metadata(group: GroupLike, metadata: JSONDict, fmt: Format | None = None) -> None:
    """Add ``metadata`` to the group's NGFF attributes, merging dicts into existing dicts."""
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata: expected a dict, not {type(metadata).__name__}")
    existing, fmt = _resolve_target(group, fmt)
    _check_storable(dict(metadata), fmt, "metadata")
    group, fmt = check_group_fmt(existing if existing is not None else group, fmt)
    write_ngff_attrs(group, metadata, merge_dicts=True)


def _split_metadata(
    metadata: dict[str, Any], n_channels: int | None
) -> tuple[JSONDict | None, JSONDict]:
    """Separate the group-level ``omero`` dict from the multiscales extras, checking it."""
    extras = dict(metadata)
    omero = extras.pop("omero", None)
    nested = extras.get("metadata")
    if isinstance(nested, Mapping) and "omero" in nested:
        nested = dict(nested)
        nested_omero = nested.pop("omero")
        if nested_omero is None:
            raise MissingKeyError("omero: If `'omero'` is present, value cannot be `None`.")
        if omero is not None:
            raise ValueError(
                "metadata: give 'omero' once, not both as omero= and in metadata['omero']"
            )
        omero = nested_omero
        extras["metadata"] = nested
        if not nested:
            del extras["metadata"]
    elif "metadata" in extras and not extras["metadata"]:
        del extras["metadata"]
    if omero is not None:
        omero = validate_omero(omero, n_channels)
    return omero, extras


def _scale_length_of(datasets: Any) -> int | None:
    try:
        return len(datasets[0]["coordinateTransformations"][0]["scale"])
    except (LookupError, TypeError):
        return None


def _multiscales_attrs(
    datasets: list[dict],
    fmt: Format,
    axes: list[str] | list[dict[str, Any]] | None,
    name: str | None,
    metadata: dict[str, Any],
    n_channels: int | None = None,
) -> JSONDict:
    """The attributes that make a group an image, checked; nothing written."""
    omero, extras = _split_metadata(metadata, n_channels)
    attrs: JSONDict = {"multiscales": [build_multiscale(datasets, fmt, axes, name, extras)]}
    if omero is not None:
        attrs["omero"] = omero
    if fmt.metadata_is_nested:
        attrs["version"] = fmt.version
    return attrs


def write_multiscales_metadata(
    group: GroupLike,
    datasets: list[dict],
    fmt: Format | None = None,
    axes: AxesType = None,
    axes_units: dict[str, str] | None = None,
    name: str | None = None,
    **metadata: str | JSONDict | list[JSONDict],
) -> None:
    """Write the ``multiscales`` metadata (and ``omero`` if given) of an image group.

    Parameters
    ----------
    group : zarr.Group or str
        The group, or a path to open or create.
    datasets : list of dict
        One dict per level with ``path`` and, for 0.4 and later, ``coordinateTransformations``
        beginning with a ``scale``.
    fmt : Format, optional
        The NGFF version; defaults to the group's (0.4 for zarr v2, 0.5 for zarr v3).
    axes : str, list of str or list of dict, optional
        Axes; ignored for 0.1/0.2, required from 0.3.
    axes_units : dict of str to str, optional
        Units by axis name.
    name : str, optional
        The image name; defaults to the group's name.
    **metadata
        ``omero`` (rendering settings, written beside ``multiscales``), ``metadata`` (may
        hold ``omero`` too, as in the reference), ``type`` and any other key, written into the
        multiscales entry — never dropped.

    Raises
    ------
    ValueError, TypeError
        For invalid datasets, axes, transformations or omero; nothing is written then.

    Examples
    --------
    >>> write_multiscales_metadata(path, [{"path": "s0", "coordinateTransformations":
    ...     [{"type": "scale", "scale": [1.0, 1.0]}]}], axes="yx")  # doctest: +SKIP
    """
    existing, fmt = _resolve_target(group, fmt)
    parsed_axes = None
    if fmt.version not in ("0.1", "0.2"):
        # Without axes, guess them as for pixels (yx or tczyx) from the length of the scale.
        ndim = None if axes is not None else _scale_length_of(datasets)
        parsed_axes = valid_axes(axes, axes_units, fmt, ndim)
    default_name = existing.name if existing is not None else "/"
    attrs = _multiscales_attrs(datasets, fmt, parsed_axes, name or default_name, dict(metadata))
    _check_storable(attrs, fmt, "metadata")
    _write_checked(group, existing, fmt, attrs)


def write_plate_metadata(
    group: GroupLike,
    rows: list[str],
    columns: list[str],
    wells: list[str | dict],
    fmt: Format | None = None,
    acquisitions: list[dict] | None = None,
    field_count: int | None = None,
    name: str | None = None,
    *,
    merge: bool = False,
) -> None:
    """Write the ``plate`` metadata of a high-content-screening plate group.

    Parameters
    ----------
    group : zarr.Group or str
        The plate group, or a path to open or create.
    rows, columns : list of str
        Unique alphanumeric row and column names, e.g. ``["A", "B"]`` and ``["1", "2"]``.
    wells : list of str or dict
        Wells as ``"A/1"`` paths or dicts with ``path``, ``rowIndex`` and ``columnIndex``.
    fmt : Format, optional
        The NGFF version; defaults to the group's.
    acquisitions : list of dict, optional
        Acquisitions with an integer ``id`` (and maximumfieldcount, name, description,
        starttime, endtime).
    field_count : int, optional
        The maximum number of fields per well.
    name : str, optional
        The plate name.
    merge : bool, default False
        Add to the plate already stored instead of replacing it (an omezarr extension): rows,
        columns, wells and acquisitions (by id) not yet listed are appended, the larger
        ``field_count`` and the given ``name`` win. On local file systems the update holds
        the plate's lock (:mod:`omezarr.locking`), so processes writing different wells at
        once may each add theirs and none is lost. Object stores have no lock: there, write
        the plate metadata once after every well.

    Raises
    ------
    ValueError, TypeError
        For invalid rows, columns, wells or acquisitions; nothing is written then.

    Examples
    --------
    >>> write_plate_metadata(path, ["A"], ["1", "2"], ["A/1", "A/2"])  # doctest: +SKIP
    >>> write_plate_metadata(path, ["B"], ["1"], ["B/1"], merge=True)  # doctest: +SKIP
    """
    if not isinstance(merge, bool):
        raise TypeError(f"merge: expected True or False, not {merge!r}")
    existing, fmt = _resolve_target(group, fmt)
    plate = build_plate(rows, columns, wells, fmt, acquisitions, field_count, name)
    _check_storable(_plate_attrs(plate, fmt), fmt, "acquisitions, wells")
    if not merge:
        _write_checked(group, existing, fmt, _plate_attrs(plate, fmt))
        return
    with metadata_lock(group):
        # Read under the lock: another process may have added wells since `existing` was read.
        current = existing_group(group) if existing is None else fresh_group(existing)
        if current is not None:
            fmt = check_format(current, fmt)
            plate = _merged_plate(read_ngff_attrs(current).get("plate"), plate, fmt)
        _write_checked(group, current, fmt, _plate_attrs(plate, fmt))


def _plate_attrs(plate: JSONDict, fmt: Format) -> JSONDict:
    attrs: JSONDict = {"plate": plate}
    if fmt.metadata_is_nested:
        attrs["version"] = fmt.version
    return attrs


def _names_in(entries: Any, key: str) -> list[Any]:
    """The ``key`` of every dict in ``entries`` (stored metadata: anything may be there)."""
    if not isinstance(entries, list):
        return []
    return [e[key] for e in entries if isinstance(e, Mapping) and key in e]


def _merged_plate(stored: Any, plate: JSONDict, fmt: Format) -> JSONDict:
    """``plate`` added to the ``stored`` plate: names, wells and acquisitions united, in order."""
    if not isinstance(stored, Mapping):
        return plate

    def united(key: str, field: str) -> list[Any]:
        old = _names_in(stored.get(key), field)
        return old + [v for v in _names_in(plate.get(key), field) if v not in old]

    acquisitions = list(stored.get("acquisitions") or [])
    known = _names_in(acquisitions, "id")
    acquisitions += [a for a in plate.get("acquisitions", []) if a["id"] not in known]
    counts = [c for c in (stored.get("field_count"), plate.get("field_count")) if c is not None]
    try:
        return build_plate(
            united("rows", "name"),
            united("columns", "name"),
            united("wells", "path"),
            fmt,
            acquisitions or None,
            max(counts) if counts else None,
            plate.get("name", stored.get("name")),
        )
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"merge: the plate metadata already stored cannot be merged with this one ({error}); "
            "write it with merge=False to replace it"
        ) from error


def write_well_metadata(
    group: GroupLike,
    images: list[str | dict],
    fmt: Format | None = None,
) -> None:
    """Write the ``well`` metadata listing the fields of view of a well group.

    Parameters
    ----------
    group : zarr.Group or str
        The well group, or a path to open or create.
    images : list of str or dict
        Field paths (``"0"``) or dicts with ``path`` and an integer ``acquisition``.
    fmt : Format, optional
        The NGFF version; defaults to the group's.

    Examples
    --------
    >>> write_well_metadata(path, ["0", {"path": "1", "acquisition": 0}])  # doctest: +SKIP
    """
    existing, fmt = _resolve_target(group, fmt)
    attrs: JSONDict = {"well": build_well(images, fmt)}
    if fmt.metadata_is_nested:
        attrs["version"] = fmt.version
    _check_storable(attrs, fmt, "images")
    _write_checked(group, existing, fmt, attrs)


def _labels_list_attrs(labels_group: zarr.Group, name: str, fmt: Format) -> JSONDict:
    existing = read_ngff_attrs(labels_group).get("labels", [])
    names = [str(n) for n in existing] if isinstance(existing, list) else []
    if name not in names:
        names.append(name)
    attrs: JSONDict = {"labels": names}
    if fmt.metadata_is_nested:
        attrs["version"] = fmt.version
    return attrs


def _add_label_name(labels_group: zarr.Group, name: str, fmt: Format) -> None:
    """List ``name`` in the ``labels`` group; under its lock, so no concurrent name is lost."""
    with locked_group(labels_group) as current:
        write_ngff_attrs(current, _labels_list_attrs(current, name, fmt))


def write_label_metadata(
    group: GroupLike,
    name: str,
    colors: list[JSONDict] | None = None,
    properties: list[JSONDict] | None = None,
    fmt: Format | None = None,
    **metadata: list[JSONDict] | JSONDict | str,
) -> None:
    """Write ``image-label`` metadata of ``group[name]`` and list it in ``group``'s labels.

    Parameters
    ----------
    group : zarr.Group or str
        The ``labels`` group (its sub-group ``name`` must already hold the label image).
    name : str
        The name of the label image.
    colors : list of dict, optional
        ``{"label-value": int, "rgba": [r, g, b, a]}`` per label value.
    properties : list of dict, optional
        ``{"label-value": int, ...}`` per label value.
    fmt : Format, optional
        The NGFF version; defaults to the group's.
    **metadata
        Further ``image-label`` keys such as ``source`` (``{"image": "../../"}``).

    Raises
    ------
    ValueError, TypeError
        For invalid colours or properties. If ``group[name]`` does not exist:
        :class:`omezarr.metadata.MissingKeyError`, both a ValueError and (as in the
        reference API) a KeyError.

    Notes
    -----
    The name is added to the ``labels`` list under the group's lock on local file systems
    (:mod:`omezarr.locking`), so concurrent writers of different labels lose no name.

    Examples
    --------
    >>> write_label_metadata(labels_group, "cells", colors=[{"label-value": 1,
    ...     "rgba": [255, 0, 0, 255]}])  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty string, not {name!r}")
    existing, fmt = _resolve_target(group, fmt)
    image_label = build_image_label(fmt, colors, properties, dict(metadata))
    _check_storable({"image-label": image_label}, fmt, "colors, properties, metadata")
    if existing is None:
        raise MissingKeyError(
            f"name: there is no group at {group!r} holding a label image {name!r}"
        )
    group = existing
    try:
        label_group = group[name]
    except (KeyError, ValueError):  # ValueError: zarr refuses the path ('..' and the like)
        raise MissingKeyError(
            f"name: there is no label image {name!r} in {group.store_path}"
        ) from None
    if not isinstance(label_group, zarr.Group):
        raise ValueError(f"name: {name!r} in {group.path!r} is an array, not a label image group")
    label_attrs: JSONDict = {"image-label": image_label}
    if fmt.metadata_is_nested:
        label_attrs["version"] = fmt.version
    write_ngff_attrs(label_group, label_attrs, merge_dicts=True)
    _add_label_name(group, name, fmt)


# --------------------------------------------------------------------------------------------
# Pixel writers
# --------------------------------------------------------------------------------------------

_SUPPORTED_KINDS = "biuf"
_DEPRECATED_COORDINATE_TRANSFORMATIONS = (
    "The 'coordinate_transformations' argument is deprecated and will be removed in a future "
    "version. Please use the `scale` argument to specify the physical pixel size for each "
    "dimension instead. When `coordinate_transformations` is provided, it takes precedence over "
    "`scale`, so `scale` is not applied."
)
_DEPRECATED_SCALER = (
    "The 'scaler' argument is deprecated and will be removed in a future version. Please use the "
    "'scale_factors' and 'method' arguments instead."
)


def _check_source(image: Any, name: str) -> Any:
    """Refuse inputs without shape, dtype and indexing, or of unsupported dtypes."""
    if isinstance(image, list | tuple):
        raise TypeError(
            f"{name}: expected an array (numpy, dask, zarr or array-like), not a {type(image).__name__}"
        )
    shape = getattr(image, "shape", None)
    dtype = getattr(image, "dtype", None)
    if shape is None or dtype is None or not hasattr(image, "__getitem__"):
        raise TypeError(
            f"{name}: expected an array with shape, dtype and indexing (numpy, dask, zarr), "
            f"not {type(image).__name__}"
        )
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: dtype {dtype!r} is not a NumPy dtype") from None
    if dtype.kind not in _SUPPORTED_KINDS or dtype.itemsize > 8:
        raise TypeError(
            f"{name}: dtype {dtype} is not supported; use bool, (u)int8–64 or float16/32/64"
        )
    if not 2 <= len(shape) <= 5:
        raise ValueError(
            f"{name}: OME-Zarr images have 2 to 5 dimensions, got shape {tuple(shape)}"
        )
    if any(int(n) < 1 for n in shape):
        raise ValueError(f"{name}: every dimension must be at least 1, got shape {tuple(shape)}")
    return image


class _RemovedFormatError(DeprecationWarning, ValueError):
    """Writing a removed NGFF version: a DeprecationWarning raised as in the reference API, and
    a ValueError as every refused argument."""


def _check_writable_format(fmt: Format) -> None:
    if fmt.version in ("0.1", "0.2", "0.3"):
        raise _RemovedFormatError(
            f"fmt: Writing ome-zarr v{fmt.version} is deprecated and has been removed in "
            "version 0.15.0."
        )


def _check_scale(scale: Any, dims: Sequence[str]) -> dict[str, float]:
    if scale is None:
        return {}
    if not isinstance(scale, Mapping):
        raise TypeError(
            f"scale: expected a dict of axis name to pixel size, not {type(scale).__name__}"
        )
    unknown = [d for d in scale if d not in dims]
    if unknown:
        raise ValueError(f"scale: axes {unknown} are not among the axes {list(dims)}")
    for d, value in scale.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ValueError(
                f"scale: the pixel size of axis {d!r} must be a positive number, not {value!r}"
            )
    return {d: float(v) for d, v in scale.items()}


@dataclass(frozen=True)
class _FinalWrite:
    """NGFF attributes to write, in order, once every pixel is written.

    ``label`` (the labels group, a label name and the format) lists the label image last,
    read afresh under the group's lock, since other writers may be adding theirs.
    """

    writes: tuple[tuple[zarr.Group, JSONDict], ...]
    label: tuple[zarr.Group, str, Format] | None = None

    def __call__(self, *done: Any) -> None:
        for group, attrs in self.writes:
            write_ngff_attrs(group, attrs)
        if self.label is not None:
            _add_label_name(*self.label)


@dataclass
class _PixelJob:
    """Everything checked and planned for one multiscale image, before anything is written."""

    sources: list[Any]  # one per level for write_multiscale, else [level 0]
    fmt: Format
    dims: tuple[str, ...]
    shapes: list[tuple[int, ...]]
    factors: list[tuple[int, ...]]
    method: Methods
    layouts: list[LevelLayout]
    attrs: JSONDict
    memory_budget: int
    dtype: np.dtype
    steps: list[PyramidStep] = field(default_factory=list)  # how levels 1… are computed


def _plan_job(
    sources: list[Any],
    computed_levels: bool,
    fmt: Format,
    scale_factors: Any,
    method: Methods,
    axes: AxesType,
    axes_units: dict[str, str] | None,
    scale: Any,
    coordinate_transformations: Any,
    storage_options: Any,
    name: str | None,
    metadata: dict[str, Any],
    memory_budget: Any,
    labels: bool,
) -> _PixelJob:
    """Check every argument and plan levels, layouts and metadata; writes nothing."""
    _check_writable_format(fmt)
    what = "labels" if labels else "image"
    for i, source in enumerate(sources):
        _check_source(source, what if not computed_levels else f"pyramid[{i}]")
    dtype = np.dtype(sources[0].dtype)
    if labels and fmt.metadata_is_nested and dtype.kind not in "iu":
        raise TypeError(
            f"labels: OME-NGFF {fmt.version} label images must have an integer dtype, not {dtype}"
        )
    shape0 = tuple(int(n) for n in sources[0].shape)
    parsed_axes = valid_axes(axes, axes_units, fmt, len(shape0))
    dims = axis_names(parsed_axes)
    pixel_sizes = _check_scale(scale, dims)
    budget = memory_budget_from(memory_budget)
    if computed_levels:
        shapes = [tuple(int(n) for n in s.shape) for s in sources]
        for i, (s, previous) in enumerate(zip(shapes[1:], shapes, strict=False), start=1):
            if len(s) != len(shape0):
                raise ValueError(
                    f"pyramid[{i}]: has {len(s)} dimensions, level 0 has {len(shape0)}"
                )
            if any(a > b for a, b in zip(s, previous, strict=True)):
                raise ValueError(
                    f"pyramid[{i}]: shape {s} is larger than the previous level's {previous}"
                )
            if np.dtype(sources[i].dtype) != dtype:
                raise TypeError(
                    f"pyramid[{i}]: dtype {sources[i].dtype} differs from level 0's {dtype}"
                )
        factors = [tuple(1 for _ in shape0)] * len(shapes)
        steps: list[PyramidStep] = []
    else:
        level_factor_list = level_factors(scale_factors, dims)
        steps = pyramid_steps(shape0, level_factor_list, method, dims)
        shapes = [tuple(shape0), *(step.out_shape for step in steps)]
        factors = [tuple(1 for _ in shape0), *level_factor_list]
    chunks0 = input_chunks(sources[0]) or default_chunks(shape0, dims, dtype.itemsize)
    layouts = resolve_layouts(
        storage_options, shapes, dims, dtype.itemsize, fmt.zarr_format, chunks0, budget
    )
    if coordinate_transformations is not None:
        warnings.warn(_DEPRECATED_COORDINATE_TRANSFORMATIONS, DeprecationWarning, stacklevel=4)
        transformations = coordinate_transformations
        fmt.validate_coordinate_transformations(len(shape0), len(shapes), transformations)
    else:
        transformations = level_transformations(shapes, dims, pixel_sizes, fmt)
    datasets: list[dict] = [{"path": f"s{i}"} for i in range(len(shapes))]
    if transformations is not None:
        for dataset, transform in zip(datasets, transformations, strict=True):
            dataset["coordinateTransformations"] = transform
    extras = dict(metadata)
    if not computed_levels:
        extras.setdefault("type", method.value)
    n_channels = next((shape0[i] for i, d in enumerate(dims) if d == "c"), None)
    attrs = _multiscales_attrs(datasets, fmt, parsed_axes, name, extras, n_channels)
    return _PixelJob(
        sources=sources,
        fmt=fmt,
        dims=dims,
        shapes=shapes,
        factors=factors,
        method=method,
        steps=steps,
        layouts=layouts,
        attrs=attrs,
        memory_budget=budget,
        dtype=dtype.newbyteorder("=") if not dtype.isnative else dtype,
    )


def _clear_image(group: zarr.Group, overwrite: bool, what: str) -> None:
    """Refuse to write over an image unless ``overwrite``; then remove it completely.

    The multiscales metadata goes first, so a crash while replacing never leaves old
    metadata describing half-written new arrays.
    """
    attrs = read_ngff_attrs(group)
    old = attrs.get("multiscales")
    level_names = {m for m in group.array_keys() if m.startswith("s") and m[1:].isdigit()}
    if isinstance(old, list):
        for multiscale in old:
            for dataset in (
                multiscale.get("datasets", []) if isinstance(multiscale, Mapping) else []
            ):
                if isinstance(dataset, Mapping) and isinstance(dataset.get("path"), str):
                    level_names.add(dataset["path"])
    if old is None and not level_names:
        return
    if not overwrite:
        raise ValueError(
            f"group: {group.store_path} already holds {what}; pass overwrite=True to replace it"
        )
    stale = {k: v for k, v in attrs.items() if k not in ("multiscales", "omero", "image-label")}
    if group_zarr_format(group) == 3:
        group.attrs.update({"ome": stale})
    else:
        for key in ("multiscales", "omero", "image-label"):
            if key in group.attrs:
                del group.attrs[key]
    for level in sorted(level_names):
        remove_member(group, level)


def _create_level_arrays(group: zarr.Group, job: _PixelJob) -> list[Any]:
    return [_create_level_array(group, job, level) for level in range(len(job.shapes))]


def _create_level_array(group: zarr.Group, job: _PixelJob, level: int) -> Any:
    layout = job.layouts[level]
    kwargs: dict[str, Any] = dict(layout.extra)
    kwargs.setdefault("fill_value", False if job.dtype.kind == "b" else 0)
    # Every chunk is stored, even one equal to the fill value, so that `verify` can tell a
    # lost chunk from an empty one (an empty chunk compresses to a few bytes).
    kwargs["config"] = {"write_empty_chunks": True, **dict(kwargs.get("config") or {})}
    if job.fmt.zarr_format == 3:
        kwargs["dimension_names"] = list(job.dims)
        if layout.shards is not None:
            kwargs["shards"] = layout.shards
    else:
        kwargs["chunk_key_encoding"] = job.fmt.chunk_key_encoding
    return group.create_array(
        name=f"s{level}",
        shape=job.shapes[level],
        dtype=job.dtype,
        chunks=layout.chunks,
        compressors=layout.compressors,
        overwrite=True,
        **kwargs,
    )


def _array_layout(array: zarr.Array) -> JSONDict:
    """Everything an array's metadata says but its attributes: shape, dtype, chunks, codecs."""
    return {k: v for k, v in array.metadata.to_dict().items() if k != "attributes"}


def _planned_arrays(job: _PixelJob) -> list[Any]:
    """The level arrays, created in memory: zarr refuses bad options here, before any write."""
    scratch = open_group(MemoryStore(), mode="w", zarr_format=job.fmt.zarr_format)
    try:
        return _create_level_arrays(scratch, job)
    except Exception as error:  # shape and dtype are checked: only the options can be at fault
        raise ValueError(
            f"storage_options: zarr refuses these array options ({type(error).__name__}: {error})"
        ) from None


def _resume_arrays(
    target: zarr.Group, job: _PixelJob, attrs: JSONDict, planned: list[Any]
) -> list[Any]:
    """The level arrays of an interrupted write of the same image; missing ones are created.

    Raises
    ------
    ValueError
        If ``target`` holds metadata or level arrays that this write would not produce.
    """
    replace = "pass overwrite=True to replace it"
    stored = read_ngff_attrs(target)
    if "multiscales" in stored and any(stored.get(k) != v for k, v in attrs.items()):
        raise ValueError(
            f"resume: {target.store_path} holds an image with other metadata than this "
            f"write's; {replace}"
        )
    names = [f"s{level}" for level in range(len(planned))]
    extra = sorted(
        m for m in target.array_keys() if m.startswith("s") and m[1:].isdigit() and m not in names
    )
    if extra:
        raise ValueError(
            f"resume: {target.store_path} holds levels {extra} that this write does not plan; "
            f"{replace}"
        )
    arrays = []
    for level, (name, plan) in enumerate(zip(names, planned, strict=True)):
        if name not in target:
            arrays.append(_create_level_array(target, job, level))
            continue
        member = target[name]
        if not isinstance(member, zarr.Array) or _array_layout(member) != _array_layout(plan):
            raise ValueError(
                f"resume: level {name!r} of {target.store_path} differs from the planned one "
                f"(shape, dtype, chunks, shards or codecs); {replace}"
            )
        # The runtime config (write_empty_chunks above all) is not stored: take the plan's.
        arrays.append(member.with_config(plan.config))
    return arrays


def _unit_intact(array: zarr.Array, coords: tuple[int, ...], unit: tuple[int, ...]) -> bool:
    """Whether the chunk (or shard) at ``coords`` is stored and decodes."""
    key = array.metadata.encode_chunk_key(coords)
    if not sync(array.store.exists(f"{array.path}/{key}" if array.path else key)):
        return False
    region = tuple(
        slice(c * u, min((c + 1) * u, n)) for c, u, n in zip(coords, unit, array.shape, strict=True)
    )
    try:
        array[region]
    except Exception:  # any codec failure means the stored bytes are bad
        return False
    return True


@dataclass(frozen=True)
class _StoredTask:
    """The skip test of a resumed write: every write unit of the task is stored and decodes."""

    targets: tuple[LevelTarget, ...]

    def __call__(self, task: Any) -> bool:
        units = task_write_units(self.targets, task)
        return all(
            _unit_intact(target.array, coords, target.write_unit)
            for target, level_units in zip(self.targets, units, strict=True)
            for coords in level_units
        )


def _engine_runs(
    job: _PixelJob, arrays: list[Any], threads: int | None
) -> list[tuple[Any, list[LevelTarget], Any]]:
    """(source, targets, plan) for each engine run: one for a pyramid, one per given level."""
    if len(job.sources) == 1:
        resamplers: list[Any] = [None, *job.steps]
        targets = [
            LevelTarget(array, layout.write_unit, resampler, direct_writer(array))
            for array, layout, resampler in zip(arrays, job.layouts, resamplers, strict=True)
        ]
        runs = [(job.sources[0], targets, job.factors)]
    else:
        runs = [
            (
                source,
                [LevelTarget(array, layout.write_unit, None, direct_writer(array))],
                [job.factors[0]],
            )
            for source, array, layout in zip(job.sources, arrays, job.layouts, strict=True)
        ]
    return [
        (
            source,
            targets,
            plan_pyramid(
                targets,
                factors,
                job.dtype.itemsize,
                job.memory_budget,
                input_chunks(source),
                threads,
            ),
        )
        for source, targets, factors in runs
    ]


def _active_client() -> Any:
    """The active dask.distributed client, if distributed is in use."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_client

    try:
        return get_client()
    except ValueError:
        return None


def _run_job(
    job: _PixelJob,
    arrays: list[Any],
    final: _FinalWrite,
    compute: bool | None,
    progress: Callable[[Progress], None] | None,
    resume: bool = False,
) -> list:
    """Write every pixel, then the metadata; or return dask.delayed tasks that do so.

    With ``resume``, tasks whose write units are all stored and intact are skipped.
    """
    client = _active_client()
    runs = _engine_runs(job, arrays, None)

    def skip(targets: list[LevelTarget]) -> _StoredTask | None:
        return _StoredTask(tuple(targets)) if resume else None

    if compute and client is None:
        for source, targets, plan in runs:
            run_plan(source, targets, plan, progress, skip(targets))
        final()
        return []
    tasks = [
        task
        for source, targets, plan in runs
        for task in delayed_tasks(source, targets, plan, skip(targets))
    ]
    finish = dask.delayed(final, pure=False)(
        *tasks, dask_key_name=f"omezarr-metadata-{uuid.uuid4().hex}"
    )
    if compute:
        client.compute(finish).result()
        return []
    return [finish]


def _write_pixels(
    group: GroupLike,
    job_args: dict[str, Any],
    overwrite: bool,
    compute: bool | None,
    progress: Callable[[Progress], None] | None,
    fmt: Any,
    label: tuple[str, JSONDict | None] | None = None,
    resume: bool = False,
) -> list:
    """Plan, then create the arrays, write the pixels and finally the metadata.

    With ``resume``, the arrays of an interrupted write are kept and only missing or broken
    write units are written again.
    """
    if progress is not None and not callable(progress):
        raise TypeError(
            f"progress: expected a callable taking a Progress, not {type(progress).__name__}"
        )
    for flag, value in (("overwrite", overwrite), ("resume", resume)):
        if not isinstance(value, bool):
            raise TypeError(f"{flag}: expected True or False, not {value!r}")
    if compute is not None and not isinstance(compute, bool):
        raise TypeError(f"compute: expected True, False or None, not {compute!r}")
    if resume and overwrite:
        raise ValueError(
            "resume, overwrite: pass either resume=True (finish an interrupted write of the "
            "same image) or overwrite=True (replace what is there), not both"
        )
    existing, resolved_fmt = _resolve_target(group, fmt)
    job = _plan_job(fmt=resolved_fmt, **job_args)
    attrs = job.attrs
    if label is not None:
        if label[1] is not None and not isinstance(label[1], Mapping):
            raise TypeError(f"label_metadata: expected a dict, not {type(label[1]).__name__}")
        label_metadata = dict(label[1] or {})
        label_metadata.setdefault("source", {"image": "../../"})
        colors = label_metadata.pop("colors", None)
        properties = label_metadata.pop("properties", None)
        attrs = dict(job.attrs)
        attrs["image-label"] = build_image_label(resolved_fmt, colors, properties, label_metadata)
    _check_storable(attrs, resolved_fmt, "metadata" if label is None else "label_metadata")
    planned = _planned_arrays(job)
    # Every argument is checked: from here on, things are written.
    root = (
        existing
        if existing is not None
        else open_group(group, mode="a", zarr_format=resolved_fmt.zarr_format)
    )
    listing: tuple[zarr.Group, str, Format] | None = None
    if label is None:
        target = root
        what = "an image"
    else:
        # Under the lock: label writers racing to create the labels group must not
        # overwrite a labels list another one has already written.
        with metadata_lock(root, "labels"):
            labels_group = root.require_group("labels")
        target = labels_group.require_group(label[0])
        what = f"a label image named {label[0]!r}"
        listing = (labels_group, label[0], resolved_fmt)
    if resume:
        arrays = _resume_arrays(target, job, attrs, planned)
    else:
        _clear_image(target, overwrite, what)
        arrays = _create_level_arrays(target, job)
    final = _FinalWrite(((target, attrs),), listing)
    return _run_job(job, arrays, final, compute, progress, resume)


def _scaler_arguments(scaler: Any, dims_for: Callable[[], tuple[str, ...]]) -> tuple[Any, Methods]:
    warnings.warn(_DEPRECATED_SCALER, DeprecationWarning, stacklevel=3)
    if not isinstance(scaler, Scaler):
        raise TypeError(f"scaler: expected an omezarr.scale.Scaler, not {type(scaler).__name__}")
    return scaler.to_pyramid_arguments(dims_for())


def _options(
    axes: Any,
    axes_units: Any,
    scale: Any,
    coordinate_transformations: Any,
    storage_options: Any,
    memory_budget: Any,
) -> dict[str, Any]:
    """The options every pixel writer passes through unchanged."""
    return {
        "axes": axes,
        "axes_units": axes_units,
        "scale": scale,
        "coordinate_transformations": coordinate_transformations,
        "storage_options": storage_options,
        "memory_budget": memory_budget,
    }


def _job_args(
    sources: list[Any],
    computed_levels: bool,
    labels: bool,
    name: str | None,
    metadata: Mapping[str, Any],
    scale_factors: Any = None,
    method: Methods = Methods.NEAREST,
    **options: Any,
) -> dict[str, Any]:
    """The arguments of :func:`_plan_job` common to the four pixel writers."""
    if computed_levels:
        pyramid = sources[0]
        if isinstance(pyramid, str) or not isinstance(pyramid, Sequence) or not pyramid:
            raise TypeError("pyramid: expected a non-empty list of arrays, largest level first")
        sources = list(pyramid)
    return {
        "sources": sources,
        "computed_levels": computed_levels,
        "labels": labels,
        "name": name,
        "metadata": dict(metadata),
        "scale_factors": scale_factors,
        "method": method,
        **options,
    }


def write_image(
    image: ArrayLike,
    group: GroupLike,
    scale_factors: Sequence[int] | Sequence[dict[str, int]] = (2, 4, 8, 16),
    method: Methods | str | None = Methods.RESIZE,
    scaler: Scaler | None = None,
    fmt: Format | None = None,
    axes: AxesType = None,
    coordinate_transformations: list[list[dict[str, Any]]] | None = None,
    storage_options: StorageOptions = None,
    compute: bool | None = True,
    scale: dict[str, float] | None = None,
    axes_units: dict[str, str] | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    memory_budget: int | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    **metadata: str | JSONDict | list[JSONDict],
) -> list:
    """Write an image and its multiscale pyramid as OME-Zarr, in one bounded-memory pass.

    Parameters
    ----------
    image : numpy.ndarray, dask.array.Array, zarr.Array or array-like
        2-D to 5-D pixels (shape, dtype and ``__getitem__``); read region by region, never
        loaded whole unless it already is.
    group : zarr.Group, str or os.PathLike
        The image group, or a path or URL to create it at.
    scale_factors : list of int or list of dict, default (2, 4, 8, 16)
        Ints downsample y and x (not z) by each factor relative to level 0; dicts give per-axis
        factors (missing axes 1). Time and channel axes are never downsampled. ``[]`` writes
        a single level.
    method : Methods or str, default Methods.RESIZE
        ``resize`` (anti-aliased linear), ``nearest``, ``local_mean`` or ``zoom``.
    scaler : Scaler, optional
        Deprecated: mapped to ``scale_factors`` and ``method``.
    fmt : Format, optional
        The NGFF version; 0.5 (zarr v3) by default, 0.4 (zarr v2) on request.
    axes : str, list of str or list of dict, optional
        Axis names or dicts; guessed for 2-D (yx) and 5-D (tczyx) only.
    coordinate_transformations : list of list of dict, optional
        Deprecated: explicit transformations per level; takes precedence over ``scale``.
    storage_options : dict or list of dict, optional
        ``chunks``, ``shards`` (zarr v3; ``"auto"`` for shards of several chunks up to
        128 MiB), ``compressor``/``compressors`` and other :func:`zarr.create_array` options,
        for every level or per level. Default compressor: Blosc zstd level 1 with shuffle
        and 512 KiB blocks;
        pass ``compressors=zarr.codecs.ZstdCodec(level=0)`` for zarr's default.
    compute : bool, default True
        False returns ``[dask.delayed]``: computing it writes every pixel and then the
        metadata. Under an active ``dask.distributed`` client the work runs on its workers.
    scale : dict of str to float, optional
        Physical pixel size per axis at level 0 (missing axes 1.0).
    axes_units : dict of str to str, optional
        Units per axis, e.g. ``{"x": "micrometer"}``.
    overwrite : bool, default False
        Replace an image already in ``group`` (its levels are removed, no chunk left over);
        without it, writing over an image raises ValueError.
    resume : bool, default False
        Finish an interrupted write of the same image with the same arguments: the level
        arrays in ``group`` are kept (they must have the planned shape, dtype, chunks,
        shards and codecs, else ValueError), every task whose chunks (or shards) on every
        level are stored and decode is skipped (counted in ``Progress.regions_skipped``),
        the others are written again, then the metadata. A complete image is checked and
        left as it is. Assumes the input is the same as before; excludes ``overwrite``.
    memory_budget : int or str, optional
        Bytes the write may hold, e.g. ``"512M"``; default ``$OMEZARR_MEMORY_BUDGET`` or
        256 MiB.
    progress : callable, optional
        Called with a :class:`omezarr.engine.Progress` after every region.
    **metadata
        ``name``, ``omero``, ``metadata`` and any other multiscales key.

    Returns
    -------
    list
        ``[]`` when computed, else one ``dask.delayed`` object.

    Raises
    ------
    ValueError, TypeError
        For any invalid argument, before anything is written.

    Examples
    --------
    >>> import numpy as np
    >>> write_image(np.zeros((64, 64), np.uint16), "img.ome.zarr", scale_factors=[2])  # doctest: +SKIP
    []
    """
    if scaler is not None:
        scale_factors, method = _scaler_arguments(
            scaler, lambda: axis_names(valid_axes(axes, axes_units, FormatV04(), len(image.shape)))
        )
    resolved_method = resolve_method(method, Methods.RESIZE)
    name = metadata.pop("name", None)
    job_args = _job_args(
        [image],
        False,
        False,
        str(name) if name is not None else None,
        metadata,
        scale_factors,
        resolved_method,
        **_options(
            axes, axes_units, scale, coordinate_transformations, storage_options, memory_budget
        ),
    )
    return _write_pixels(group, job_args, overwrite, compute, progress, fmt, resume=resume)


def write_multiscale(
    pyramid: Sequence[ArrayLike],
    group: GroupLike,
    fmt: Format | None = None,
    axes: AxesType = None,
    coordinate_transformations: list[list[dict[str, Any]]] | None = None,
    storage_options: StorageOptions = None,
    name: str | None = None,
    compute: bool | None = True,
    scale: dict[str, float] | None = None,
    axes_units: dict[str, str] | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    memory_budget: int | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    **metadata: str | JSONDict | list[JSONDict],
) -> list:
    """Write a pyramid already computed (largest level first) with its multiscales metadata.

    Parameters are those of :func:`write_image` without downsampling; each level's
    ``coordinateTransformations`` come from ``scale`` and the level shapes.

    Examples
    --------
    >>> write_multiscale([level0, level1], "img.ome.zarr", axes="yx")  # doctest: +SKIP
    []
    """
    job_args = _job_args(
        [pyramid],
        True,
        False,
        name,
        metadata,
        **_options(
            axes, axes_units, scale, coordinate_transformations, storage_options, memory_budget
        ),
    )
    return _write_pixels(group, job_args, overwrite, compute, progress, fmt, resume=resume)


def write_labels(
    labels: ArrayLike,
    group: GroupLike,
    name: str,
    scaler: Scaler | None = None,
    scale_factors: Sequence[int] | Sequence[dict[str, int]] = (2, 4, 8, 16),
    method: Methods | str | None = Methods.NEAREST,
    fmt: Format | None = None,
    axes: AxesType = None,
    coordinate_transformations: list[list[dict[str, Any]]] | None = None,
    storage_options: StorageOptions = None,
    label_metadata: JSONDict | None = None,
    scale: dict[str, float] | None = None,
    axes_units: dict[str, str] | None = None,
    compute: bool | None = True,
    *,
    overwrite: bool = False,
    resume: bool = False,
    memory_budget: int | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    **metadata: JSONDict,
) -> list:
    """Write a label image into ``labels/{name}`` with multiscales and image-label metadata.

    Parameters are those of :func:`write_image`, plus ``name`` (the label image's name) and
    ``label_metadata`` (``colors``, ``properties``, ``source`` …; ``source`` defaults to
    ``{"image": "../../"}``). The default method is nearest, which never invents label values.
    The ``labels`` group lists every label image once; other labels are kept.

    Examples
    --------
    >>> write_labels(mask, "img.ome.zarr", name="cells", axes="zyx")  # doctest: +SKIP
    []
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name: expected a label name without '/', not {name!r}")
    if scaler is not None:
        scale_factors, method = _scaler_arguments(
            scaler, lambda: axis_names(valid_axes(axes, axes_units, FormatV04(), len(labels.shape)))
        )
    job_args = _job_args(
        [labels],
        False,
        True,
        name,
        metadata,
        scale_factors,
        resolve_method(method, Methods.NEAREST),
        **_options(
            axes, axes_units, scale, coordinate_transformations, storage_options, memory_budget
        ),
    )
    return _write_pixels(
        group, job_args, overwrite, compute, progress, fmt, (name, label_metadata), resume
    )


def write_multiscale_labels(
    pyramid: Sequence[ArrayLike],
    group: GroupLike,
    name: str,
    fmt: Format | None = None,
    axes: AxesType = None,
    coordinate_transformations: list[list[dict[str, Any]]] | None = None,
    storage_options: StorageOptions = None,
    label_metadata: JSONDict | None = None,
    scale: dict[str, float] | None = None,
    axes_units: dict[str, str] | None = None,
    compute: bool | None = True,
    *,
    overwrite: bool = False,
    resume: bool = False,
    memory_budget: int | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    **metadata: JSONDict,
) -> list:
    """Write a computed label pyramid into ``labels/{name}`` with its metadata.

    Examples
    --------
    >>> write_multiscale_labels([mask, mask[::2, ::2]], "img.ome.zarr", "cells", axes="yx")  # doctest: +SKIP
    []
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name: expected a label name without '/', not {name!r}")
    job_args = _job_args(
        [pyramid],
        True,
        True,
        name,
        metadata,
        **_options(
            axes, axes_units, scale, coordinate_transformations, storage_options, memory_budget
        ),
    )
    return _write_pixels(
        group, job_args, overwrite, compute, progress, fmt, (name, label_metadata), resume
    )
