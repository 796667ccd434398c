"""The established OME-Zarr writer API: metadata writers and pixel writers.

Thin by design: arguments are validated, pixels go through :mod:`omezarr.engine`, and the
metadata that advertises an image is written last.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import zarr

from .format import CurrentFormat, Format, FormatV04, format_from_version
from .metadata import (
    axis_names,
    build_image_label,
    build_multiscale,
    build_plate,
    build_well,
    valid_axes,
    validate_omero,
)
from .storage import GroupLike, group_zarr_format, open_group, read_ngff_attrs, write_ngff_attrs
from .types import AxesType, JSONDict

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
    if isinstance(fmt, str | float):
        return format_from_version(fmt)
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
                f"Group is zarr_format: {zarr_format} but OME-Zarr {fmt.version} is {fmt.zarr_format}"
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


def get_metadata(group: GroupLike) -> JSONDict:
    """The NGFF attributes of ``group`` (the ``ome`` dict for zarr v3), as a copy."""
    if not isinstance(group, zarr.Group):
        group = open_group(group, mode="r")
    return read_ngff_attrs(group)


def add_metadata(group: GroupLike, metadata: JSONDict, fmt: Format | None = None) -> None:
    """Add ``metadata`` to the group's NGFF attributes, merging dicts into existing dicts."""
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata: expected a dict, not {type(metadata).__name__}")
    group, fmt = check_group_fmt(group, fmt)
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
            raise KeyError("If `'omero'` is present, value cannot be `None`.")
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
    group, fmt = check_group_fmt(group, fmt)
    parsed_axes = None
    if fmt.version not in ("0.1", "0.2"):
        # Without axes, guess them as for pixels (yx or tczyx) from the length of the scale.
        ndim = None if axes is not None else _scale_length_of(datasets)
        parsed_axes = valid_axes(axes, axes_units, fmt, ndim)
    attrs = _multiscales_attrs(datasets, fmt, parsed_axes, name or group.name, dict(metadata))
    write_ngff_attrs(group, attrs)


def write_plate_metadata(
    group: GroupLike,
    rows: list[str],
    columns: list[str],
    wells: list[str | dict],
    fmt: Format | None = None,
    acquisitions: list[dict] | None = None,
    field_count: int | None = None,
    name: str | None = None,
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

    Raises
    ------
    ValueError, TypeError
        For invalid rows, columns, wells or acquisitions; nothing is written then.

    Examples
    --------
    >>> write_plate_metadata(path, ["A"], ["1", "2"], ["A/1", "A/2"])  # doctest: +SKIP
    """
    group, fmt = check_group_fmt(group, fmt)
    plate = build_plate(rows, columns, wells, fmt, acquisitions, field_count, name)
    attrs: JSONDict = {"plate": plate}
    if fmt.metadata_is_nested:
        attrs["version"] = fmt.version
    write_ngff_attrs(group, attrs)


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
    group, fmt = check_group_fmt(group, fmt)
    attrs: JSONDict = {"well": build_well(images, fmt)}
    if fmt.metadata_is_nested:
        attrs["version"] = fmt.version
    write_ngff_attrs(group, attrs)


def _labels_list_attrs(labels_group: zarr.Group, name: str, fmt: Format) -> JSONDict:
    existing = read_ngff_attrs(labels_group).get("labels", [])
    names = [str(n) for n in existing] if isinstance(existing, list) else []
    if name not in names:
        names.append(name)
    attrs: JSONDict = {"labels": names}
    if fmt.metadata_is_nested:
        attrs["version"] = fmt.version
    return attrs


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
        For invalid colours or properties; KeyError if ``group[name]`` does not exist.

    Examples
    --------
    >>> write_label_metadata(labels_group, "cells", colors=[{"label-value": 1,
    ...     "rgba": [255, 0, 0, 255]}])  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty string, not {name!r}")
    group, fmt = check_group_fmt(group, fmt)
    image_label = build_image_label(fmt, colors, properties, dict(metadata))
    label_group = group[name]
    if not isinstance(label_group, zarr.Group):
        raise ValueError(f"name: {name!r} in {group.path!r} is an array, not a label image group")
    label_attrs: JSONDict = {"image-label": image_label}
    if fmt.metadata_is_nested:
        label_attrs["version"] = fmt.version
    write_ngff_attrs(label_group, label_attrs, merge_dicts=True)
    write_ngff_attrs(group, _labels_list_attrs(group, name, fmt))
