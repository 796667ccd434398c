"""The metadata writers: multiscales, plate, well and label documents, checked before they are stored."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast

import numpy as np
import zarr
from zarr.storage import MemoryStore

from .._errors import MistypedParameterError
from ..io.archive_open import open_ozx
from ..io.locking import fresh_group, locked_group, metadata_lock
from ..io.storage import (
    GroupLike,
    archive_destination,
    existing_group,
    group_zarr_format,
    open_group,
    read_ngff_attrs,
    remote_archive,
    write_ngff_attrs,
)
from ..ngff.documents import (
    MissingKeyError,
    build_image_label,
    build_multiscale,
    build_plate,
    build_well,
    valid_axes,
    validate_omero,
)
from ..ngff.format import CurrentFormat, Format, FormatV04, format_from_version
from ..types import AxesType, JSONDict
from .parameters import split_parameter_arrays, write_arrays

__all__ = [
    "add_metadata",
    "check_format",
    "check_group_fmt",
    "get_metadata",
    "write_label_metadata",
    "write_multiscales_metadata",
    "write_plate_metadata",
    "write_well_metadata",
]

LOGGER = logging.getLogger("omezarr.writer")

SPATIAL_DIMS = ("x", "y", "z")


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


_Writer = TypeVar("_Writer", bound=Callable[..., Any])


def archive_aware(writer: _Writer) -> _Writer:
    """``writer`` (a metadata writer whose first parameter is ``group``) accepting a path
    ending in ``.ozx``: it then writes into that archive, which is committed when it returns
    (see :func:`omezarr.io.archive_open.open_ozx`)."""

    @functools.wraps(writer)
    def write(*args: Any, **kwargs: Any) -> Any:
        group = args[0] if args else kwargs.get("group")
        if not isinstance(group, str | os.PathLike) or (
            archive_destination(group) is None and remote_archive(group) is None
        ):
            return writer(*args, **kwargs)
        with open_ozx(group, mode="a") as root:
            if args:
                return writer(root, *args[1:], **kwargs)
            return writer(**{**kwargs, "group": root})

    return cast(_Writer, write)


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


@contextlib.contextmanager
def _wrong_types_are_value_errors() -> Iterator[None]:
    """Raise the document builders' TypeError (an argument of the wrong type: ``wells=None``,
    ``datasets="s0"``, ``images=5``) as a :class:`MistypedParameterError`, also a ValueError:
    the reference API raises ValueError for these, so ``except ValueError`` must catch them,
    and ``except TypeError`` still does."""
    try:
        yield
    except TypeError as error:
        if isinstance(error, ValueError):
            raise
        raise MistypedParameterError(str(error)) from None


def _names(value: Any) -> Any:
    """Plate rows or columns, or well fields: a string is the names of its characters, as in
    the reference (``rows="ABCD"``, like ``axes="zyx"``)."""
    return list(value) if isinstance(value, str) else value


def _check_storable(attrs: JSONDict, fmt: Format, parameters: str) -> None:
    """Refuse attributes zarr cannot store (not JSON), before anything is written.

    Tried on a group in memory, so that the rule is zarr's own (NumPy scalars pass); the
    message locates the first value that cannot be stored.
    """

    def storable(value: Any) -> bool:
        # A fresh group each time: one that failed to store a value keeps it in its attributes
        # and then fails on any value (which blamed the wrong one).
        scratch = open_group(MemoryStore(), mode="w", zarr_format=fmt.zarr_format)
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
    target: GroupLike,
    existing: zarr.Group | None,
    fmt: Format,
    attrs: JSONDict,
    arrays: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write checked ``attrs`` to the existing group, or create the group with ``fmt``'s zarr
    format; parameter ``arrays`` (by path) first, so that no document references a missing one."""
    if existing is None:
        existing = open_group(target, mode="a", zarr_format=fmt.zarr_format)
    write_arrays(existing, arrays or {})
    write_ngff_attrs(existing, attrs)


def get_metadata(group: GroupLike) -> JSONDict:
    """The NGFF attributes of ``group`` (the ``ome`` dict for zarr v3), as a copy."""
    if not isinstance(group, zarr.Group):
        group = open_group(group, mode="r")
    return read_ngff_attrs(group)


@archive_aware
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
) -> tuple[JSONDict, dict[str, np.ndarray]]:
    """The attributes that make a group an image, checked, and the parameter arrays of its
    further 0.6 transformations (given as NumPy arrays) by path; nothing written."""
    omero, extras = _split_metadata(metadata, n_channels)
    split = split_parameter_arrays(extras.get("coordinateTransformations"))
    if split is not None and not fmt.has_coordinate_systems:
        raise ValueError(
            f"coordinateTransformations: OME-NGFF {fmt.version} images cannot carry further "
            "transformations; write 0.6 (fmt=FormatV06())"
        )
    if split is not None:
        extras = {**extras, "coordinateTransformations": split[1]}  # checked inline
    multiscale = build_multiscale(datasets, fmt, axes, name, extras)
    arrays: dict[str, np.ndarray] = {}
    if split is not None:
        multiscale["coordinateTransformations"], _, arrays = split
    attrs: JSONDict = {"multiscales": [multiscale]}
    if omero is not None:
        attrs["omero"] = omero
    if fmt.metadata_is_nested:
        attrs["version"] = fmt.version
    return attrs, arrays


@archive_aware
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
        For invalid datasets, axes, transformations or omero; nothing is written then. An
        argument of the wrong type (``datasets="s0"``) raises a
        :class:`~omezarr._errors.MistypedParameterError`, both a ValueError (as in the
        reference) and a TypeError.

    Examples
    --------
    >>> write_multiscales_metadata(path, [{"path": "s0", "coordinateTransformations":
    ...     [{"type": "scale", "scale": [1.0, 1.0]}]}], axes="yx")  # doctest: +SKIP
    """
    existing, fmt = _resolve_target(group, fmt)
    parsed_axes = None
    with _wrong_types_are_value_errors():
        if fmt.version not in ("0.1", "0.2"):
            # Without axes, guess them as for pixels (yx or tczyx) from the length of the scale.
            ndim = None if axes is not None else _scale_length_of(datasets)
            parsed_axes = valid_axes(axes, axes_units, fmt, ndim)
        default_name = existing.name if existing is not None else "/"
        attrs, arrays = _multiscales_attrs(
            datasets, fmt, parsed_axes, name or default_name, dict(metadata)
        )
    _check_storable(attrs, fmt, "metadata")
    _write_checked(group, existing, fmt, attrs, arrays)


@archive_aware
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
        Unique alphanumeric row and column names, e.g. ``["A", "B"]`` and ``["1", "2"]``; a
        string names one row or column per character (``"AB"``), as in the reference.
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
        the plate's lock (:mod:`omezarr.io.locking`), so processes writing different wells at
        once may each add theirs and none is lost. Object stores have no lock: there, write
        the plate metadata once after every well.

    Raises
    ------
    ValueError, TypeError
        For invalid rows, columns, wells or acquisitions; nothing is written then. An
        argument of the wrong type (``wells=None``) raises a
        :class:`~omezarr._errors.MistypedParameterError`, both a ValueError (as in the
        reference) and a TypeError.

    Examples
    --------
    >>> write_plate_metadata(path, ["A"], ["1", "2"], ["A/1", "A/2"])  # doctest: +SKIP
    >>> write_plate_metadata(path, ["B"], ["1"], ["B/1"], merge=True)  # doctest: +SKIP
    """
    if not isinstance(merge, bool):
        raise TypeError(f"merge: expected True or False, not {merge!r}")
    existing, fmt = _resolve_target(group, fmt)
    rows, columns = _names(rows), _names(columns)
    with _wrong_types_are_value_errors():
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


@archive_aware
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
        Field paths (``"0"``) or dicts with ``path`` and an integer ``acquisition``; a string
        names one field per character, as in the reference.
    fmt : Format, optional
        The NGFF version; defaults to the group's.

    Raises
    ------
    ValueError, TypeError
        For invalid images; nothing is written then. An ``images`` of the wrong type raises a
        :class:`~omezarr._errors.MistypedParameterError`, both a ValueError (as in the
        reference) and a TypeError.

    Examples
    --------
    >>> write_well_metadata(path, ["0", {"path": "1", "acquisition": 0}])  # doctest: +SKIP
    """
    existing, fmt = _resolve_target(group, fmt)
    with _wrong_types_are_value_errors():
        attrs: JSONDict = {"well": build_well(_names(images), fmt)}
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


@archive_aware
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
    (:mod:`omezarr.io.locking`), so concurrent writers of different labels lose no name.

    Examples
    --------
    >>> write_label_metadata(labels_group, "cells", colors=[{"label-value": 1,
    ...     "rgba": [255, 0, 0, 255]}])  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty string, not {name!r}")
    existing, fmt = _resolve_target(group, fmt)
    with _wrong_types_are_value_errors():
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
