"""Opening OME-Zarr images, labels, plates and wells lazily, with their metadata.

Every OME-NGFF version from 0.1 to 0.5 is read: 0.5 is stored as zarr v3 with the NGFF
attributes under ``"ome"``; 0.1 to 0.4 as zarr v2 with the attributes at the top level.
Pixels are never loaded here: each resolution level becomes a :class:`dask.array.Array`
whose chunks follow the zarr chunks (the shards, for sharded arrays), so only the blocks
that a computation touches are read.

Metadata that cannot be understood raises :class:`ValueError` naming the store location and
the offending key, never a ``KeyError`` from deep inside.

Examples
--------
>>> image = open_image("image.ome.zarr")  # doctest: +SKIP
>>> image.dims, image.levels[0].shape  # doctest: +SKIP
(('c', 'y', 'x'), (2, 512, 512))
>>> image.levels[1].mean().compute()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import zarr
from zarr.abc.store import Store

from omezarr.format import Format, format_from_version
from omezarr.storage import (
    GroupLike,
    group_zarr_format,
    open_group,
    open_member,
    read_ngff_attrs,
)
from omezarr.types import JSONDict

__all__ = [
    "Bioformats2Raw",
    "Image",
    "LabelImage",
    "Labels",
    "Plate",
    "PlateWell",
    "Well",
    "WellImage",
    "open_bioformats2raw",
    "open_image",
    "open_label",
    "open_labels",
    "open_ome_zarr",
    "open_plate",
    "open_well",
]

LOGGER = logging.getLogger("omezarr.reader")

_IMPLIED_AXES = ("t", "c", "z", "y", "x")
"""Axis names of 0.1 and 0.2 images, which carry no ``axes`` of their own."""

_MAX_LEVEL_CHUNKS = 10**8
"""The most chunks (shards) a level may have: dask holds a task per chunk, so a level beyond
this cannot be sliced or computed in useful time (a corrupted ``shape`` can claim 10^24)."""

_BF2RAW_KEY = "bioformats2raw.layout"
_NGFF_KEYS = frozenset({"multiscales", "plate", "well", "labels", "image-label", _BF2RAW_KEY})


# --------------------------------------------------------------------------------------------
# Value objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Image:
    """One multiscale image: lazy levels plus the metadata that describes them.

    Attributes
    ----------
    levels : list of dask.array.Array
        The resolution levels, full resolution first; nothing is read until computed.
    paths : list of str
        The array path of each level inside :attr:`group`.
    axes : list of dict
        One dict per dimension with ``"name"`` and, where the document gives them,
        ``"type"`` and ``"unit"``. 0.1 and 0.2 documents get the implied ``t, c, z, y, x``
        names (the trailing ones when an array has fewer than 5 dimensions); 0.3 documents
        have names only.
    scales : list of tuple of float
        The physical size of one pixel per dimension for each level, with the
        multiscale-wide ``coordinateTransformations`` already applied (1.0 where absent).
    translations : list of tuple of float
        The physical offset of each level's first pixel, likewise combined (0.0 where absent).
    version : str
        The OME-NGFF version of the document, e.g. ``"0.4"``.
    name : str or None
        The multiscale's ``name``.
    omero : dict or None
        The ``omero`` rendering metadata, when present.
    metadata : dict
        The whole ``multiscales`` entry as stored.
    group : zarr.Group
        The group holding the image.
    label_names : list of str
        The names listed by the image's ``labels`` sub-group (empty when there is none).
    """

    levels: list[da.Array]
    paths: list[str]
    axes: list[JSONDict]
    scales: list[tuple[float, ...]]
    translations: list[tuple[float, ...]]
    version: str
    name: str | None
    omero: JSONDict | None
    metadata: JSONDict
    group: zarr.Group
    label_names: list[str]

    @property
    def dims(self) -> tuple[str, ...]:
        """The axis names in array order, e.g. ``("c", "y", "x")``."""
        return tuple(str(axis["name"]) for axis in self.axes)

    @property
    def units(self) -> dict[str, str]:
        """The unit of each axis that declares one, keyed by axis name."""
        return {str(axis["name"]): str(axis["unit"]) for axis in self.axes if "unit" in axis}

    @property
    def data(self) -> da.Array:
        """The full-resolution level, ``levels[0]``."""
        return self.levels[0]

    def labels(self) -> dict[str, LabelImage]:
        """Open every label image listed in the image's ``labels`` group.

        Returns
        -------
        dict of str to LabelImage
            Label images keyed by name, in the listed order.

        Raises
        ------
        ValueError
            If a listed label is missing or malformed.
        """
        if not self.label_names:
            return {}
        return open_labels(_child_group(self.group, "labels")).labels()

    def label(self, name: str) -> LabelImage:
        """Open the label image called ``name``.

        Raises
        ------
        ValueError
            If the image has no label of that name.

        Examples
        --------
        >>> cells = open_image("image.ome.zarr").label("cells")  # doctest: +SKIP
        """
        if name not in self.label_names:
            raise ValueError(
                f"name: {name!r} is not a label of {_location(self.group)} "
                f"(labels: {self.label_names})"
            )
        return open_labels(_child_group(self.group, "labels")).label(name)

    def __repr__(self) -> str:
        shapes = [tuple(level.shape) for level in self.levels]
        return (
            f"{type(self).__name__}({_location(self.group)!r}, version={self.version!r}, "
            f"dims={self.dims}, shapes={shapes}, dtype={self.levels[0].dtype})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class LabelImage(Image):
    """A label image: an :class:`Image` with ``image-label`` metadata.

    Attributes
    ----------
    image_label : dict
        The ``image-label`` document as stored (colors, properties, source, ...).
    colors : dict of int to tuple of int
        RGBA (0–255) for each label value that has a color.
    properties : dict of int to dict
        The extra properties of each label value, without the ``"label-value"`` key.
    """

    image_label: JSONDict
    colors: dict[int, tuple[int, int, int, int]]
    properties: dict[int, JSONDict]

    @property
    def source(self) -> str | None:
        """The relative path to the image this label annotates (``source.image``)."""
        source = self.image_label.get("source")
        image = source.get("image") if isinstance(source, Mapping) else None
        return image if isinstance(image, str) else None

    def source_image(self, *, multiscale: int = 0) -> Image:
        """Open the image named by ``source.image``, relative to this label's group.

        Raises
        ------
        ValueError
            If the label declares no source, or it points outside the store.
        """
        if self.source is None:
            raise ValueError(f"{_location(self.group)}: image-label has no source.image path")
        resolved = posixpath.normpath(posixpath.join(self.group.path, self.source))
        if resolved == ".." or resolved.startswith("../"):
            raise ValueError(
                f"{_location(self.group)}: source.image {self.source!r} points outside the store"
            )
        group = _open_group_at(self.group, "" if resolved == "." else resolved)
        return _read_image(group, multiscale)


@dataclass(frozen=True, eq=False, repr=False)
class Labels:
    """A ``labels`` group: the names of the label images it holds.

    Attributes
    ----------
    names : list of str
        The label names, as listed by the ``labels`` attribute.
    version : str or None
        The OME-NGFF version where the group declares one (always for 0.5).
    group : zarr.Group
        The ``labels`` group.
    """

    names: list[str]
    version: str | None
    group: zarr.Group

    def label(self, name: str, *, multiscale: int = 0) -> LabelImage:
        """Open the label image ``name``.

        Raises
        ------
        ValueError
            If ``name`` is not listed, or its group is missing or malformed.
        """
        if name not in self.names:
            raise ValueError(
                f"name: {name!r} is not a label of {_location(self.group)} (labels: {self.names})"
            )
        return open_label(_child_group(self.group, name), multiscale=multiscale)

    def labels(self) -> dict[str, LabelImage]:
        """Open every listed label image, keyed by name."""
        return {name: self.label(name) for name in self.names}

    def __repr__(self) -> str:
        return f"Labels({_location(self.group)!r}, names={self.names})"


@dataclass(frozen=True)
class WellImage:
    """One field of view listed by a well.

    Attributes
    ----------
    path : str
        The image group's path inside the well.
    acquisition : int or None
        The acquisition id the field belongs to, when given.
    """

    path: str
    acquisition: int | None


@dataclass(frozen=True, eq=False, repr=False)
class Well:
    """A well group: the fields of view it holds.

    Attributes
    ----------
    images : list of WellImage
        The fields of view, in the listed order.
    version : str
        The OME-NGFF version of the document.
    metadata : dict
        The ``well`` document as stored.
    group : zarr.Group
        The well group.
    """

    images: list[WellImage]
    version: str
    metadata: JSONDict
    group: zarr.Group

    @property
    def paths(self) -> list[str]:
        """The path of each field of view."""
        return [image.path for image in self.images]

    def image(self, field: int | str = 0, *, multiscale: int = 0) -> Image:
        """Open a field of view, by position in :attr:`images` or by path.

        Raises
        ------
        ValueError
            If ``field`` names no field of this well, or the image is malformed.

        Examples
        --------
        >>> open_well("plate.ome.zarr/A/1").image(0).dims  # doctest: +SKIP
        ('c', 'y', 'x')
        """
        path = _pick(field, self.paths, "field", _location(self.group))
        return _read_image(_child_group(self.group, path), multiscale)

    def __repr__(self) -> str:
        return f"Well({_location(self.group)!r}, version={self.version!r}, images={self.paths})"


@dataclass(frozen=True)
class PlateWell:
    """A well entry of a plate, with its position.

    Attributes
    ----------
    path : str
        The well group's path inside the plate, ``"row/column"``.
    row, column : str
        The row and column names.
    row_index, column_index : int
        The positions of the row and column in the plate's ``rows`` and ``columns``.
    """

    path: str
    row: str
    column: str
    row_index: int
    column_index: int


@dataclass(frozen=True, eq=False, repr=False)
class Plate:
    """A plate group: its layout, wells and acquisitions.

    Attributes
    ----------
    rows, columns : list of str
        The row and column names, in order.
    wells : list of PlateWell
        The wells present, with their row and column.
    acquisitions : list of dict
        The ``acquisitions`` entries as stored (empty when absent).
    field_count : int or None
        The most fields of view any well has, when declared.
    name : str or None
        The plate's name.
    version : str
        The OME-NGFF version of the document.
    metadata : dict
        The ``plate`` document as stored.
    group : zarr.Group
        The plate group.
    """

    rows: list[str]
    columns: list[str]
    wells: list[PlateWell]
    acquisitions: list[JSONDict]
    field_count: int | None
    name: str | None
    version: str
    metadata: JSONDict
    group: zarr.Group

    def well(self, key: str | tuple[int | str, int | str]) -> Well:
        """Open a well by path (``"A/1"``) or by ``(row, column)``, as names or indices.

        Raises
        ------
        ValueError
            If the plate lists no such well, or its group is missing or malformed.

        Examples
        --------
        >>> plate = open_plate("plate.ome.zarr")  # doctest: +SKIP
        >>> plate.well("B/3").paths == plate.well((1, 2)).paths  # doctest: +SKIP
        True
        """
        return open_well(_child_group(self.group, self._find_well(key).path))

    def _find_well(self, key: str | tuple[int | str, int | str]) -> PlateWell:
        if isinstance(key, str):
            for well in self.wells:
                if well.path == key:
                    return well
        elif isinstance(key, tuple) and len(key) == 2:
            row, column = key
            for well in self.wells:
                if _matches(row, well.row, well.row_index) and _matches(
                    column, well.column, well.column_index
                ):
                    return well
        else:
            raise TypeError(
                f"key: expected a 'row/column' path or a (row, column) tuple, not {key!r}"
            )
        raise ValueError(
            f"key: {key!r} is not a well of {_location(self.group)} "
            f"(wells: {[well.path for well in self.wells]})"
        )

    def __repr__(self) -> str:
        return (
            f"Plate({_location(self.group)!r}, version={self.version!r}, "
            f"rows={len(self.rows)}, columns={len(self.columns)}, wells={len(self.wells)})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class Bioformats2Raw:
    """A bioformats2raw collection: a group of numbered image series.

    Attributes
    ----------
    layout : int
        The ``bioformats2raw.layout`` version (3).
    series : list of str
        The path of each image series, from ``OME/`` ``series`` when present,
        otherwise the consecutive groups ``"0"``, ``"1"``, ...
    version : str or None
        The OME-NGFF version where the group declares one.
    group : zarr.Group
        The collection's group.
    """

    layout: int
    series: list[str]
    version: str | None
    group: zarr.Group

    def image(self, series: int | str = 0, *, multiscale: int = 0) -> Image:
        """Open one series, by position in :attr:`series` or by path.

        Raises
        ------
        ValueError
            If ``series`` names no series of the collection.
        """
        path = _pick(series, self.series, "series", _location(self.group))
        return _read_image(_child_group(self.group, path), multiscale)

    def __repr__(self) -> str:
        return f"Bioformats2Raw({_location(self.group)!r}, series={self.series})"


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def open_image(
    target: GroupLike, *, multiscale: int = 0, storage_options: Mapping[str, Any] | None = None
) -> Image:
    """Open a multiscale image lazily.

    Parameters
    ----------
    target : str, os.PathLike, zarr.Group or zarr store
        The image group: a local path, a URL zarr can open, or an opened group.
    multiscale : int, default 0
        Which entry of ``multiscales`` to read, when there are several.
    storage_options : dict, optional
        Passed to fsspec when ``target`` is a remote URL (credentials, ``endpoint_url``, ...).
        Every ``open_*`` function takes it.

    Returns
    -------
    Image
        A :class:`LabelImage` when the group also carries ``image-label`` metadata.

    Raises
    ------
    FileNotFoundError
        If a local ``target`` does not exist.
    ValueError
        If the group holds no multiscale image or its metadata is malformed.

    Examples
    --------
    >>> image = open_image("image.ome.zarr")  # doctest: +SKIP
    >>> [level.shape for level in image.levels]  # doctest: +SKIP
    [(2, 512, 512), (2, 256, 256)]
    >>> image.scales[0], image.units  # doctest: +SKIP
    ((1.0, 0.5, 0.5), {'y': 'micrometer', 'x': 'micrometer'})
    """
    return _read_image(_open_group(target, storage_options), multiscale)


def open_label(
    target: GroupLike, *, multiscale: int = 0, storage_options: Mapping[str, Any] | None = None
) -> LabelImage:
    """Open a label image (a multiscale image with ``image-label`` metadata) lazily.

    Raises
    ------
    FileNotFoundError
        If a local ``target`` does not exist.
    ValueError
        If the group holds no label image or its metadata is malformed.

    Examples
    --------
    >>> label = open_label("image.ome.zarr/labels/cells")  # doctest: +SKIP
    >>> label.colors[1]  # doctest: +SKIP
    (255, 0, 0, 255)
    """
    group, _ = _ngff_node(target, "image-label", "label image", storage_options)
    image = _read_image(group, multiscale)
    assert isinstance(image, LabelImage)
    return image


def open_labels(target: GroupLike, *, storage_options: Mapping[str, Any] | None = None) -> Labels:
    """Open a ``labels`` group: the list of label images beside an image.

    Raises
    ------
    FileNotFoundError
        If a local ``target`` does not exist.
    ValueError
        If the group has no ``labels`` list, or it is not a list of names.

    Examples
    --------
    >>> open_labels("image.ome.zarr/labels").names  # doctest: +SKIP
    ['cells', 'nuclei']
    """
    group, attributes = _ngff_node(target, "labels", "labels group", storage_options)
    names = attributes["labels"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{_location(group)}: 'labels' must be a list of names, got {names!r}")
    version = attributes.get("version")
    return Labels(names=list(names), version=str(version) if version else None, group=group)


def open_plate(target: GroupLike, *, storage_options: Mapping[str, Any] | None = None) -> Plate:
    """Open a high-content-screening plate.

    Raises
    ------
    FileNotFoundError
        If a local ``target`` does not exist.
    ValueError
        If the group has no ``plate`` metadata or it is malformed.

    Examples
    --------
    >>> plate = open_plate("plate.ome.zarr")  # doctest: +SKIP
    >>> plate.rows, plate.columns  # doctest: +SKIP
    (['A', 'B'], ['1', '2', '3'])
    >>> plate.well("A/1").image(0).levels[0]  # doctest: +SKIP
    """
    group, plate, fmt, where = _versioned_document(target, "plate", "plate", storage_options)
    rows = _names(plate.get("rows"), f"{where}.rows")
    columns = _names(plate.get("columns"), f"{where}.columns")
    entries = _require(plate.get("wells"), list, f"{where}.wells")
    wells = [
        _plate_well(entry, rows, columns, fmt, f"{where}.wells[{i}]")
        for i, entry in enumerate(entries)
    ]
    acquisitions = _require(plate.get("acquisitions", []), list, f"{where}.acquisitions")
    for i, acquisition in enumerate(acquisitions):
        _require(acquisition, dict, f"{where}.acquisitions[{i}]")
    field_count = plate.get("field_count")
    if field_count is not None and not _is_int(field_count):
        raise ValueError(f"{where}.field_count must be an integer, got {field_count!r}")
    name = plate.get("name")
    return Plate(
        rows=rows,
        columns=columns,
        wells=wells,
        acquisitions=list(acquisitions),
        field_count=field_count,
        name=None if name is None else str(name),
        version=fmt.version,
        metadata=plate,
        group=group,
    )


def open_well(target: GroupLike, *, storage_options: Mapping[str, Any] | None = None) -> Well:
    """Open a well of a plate: the list of its fields of view.

    Raises
    ------
    FileNotFoundError
        If a local ``target`` does not exist.
    ValueError
        If the group has no ``well`` metadata or it is malformed.

    Examples
    --------
    >>> well = open_well("plate.ome.zarr/A/1")  # doctest: +SKIP
    >>> [(image.path, image.acquisition) for image in well.images]  # doctest: +SKIP
    [('0', 0), ('1', 0)]
    """
    group, well, fmt, where = _versioned_document(target, "well", "well", storage_options)
    entries = _require(well.get("images"), list, f"{where}.images")
    images = []
    for i, entry in enumerate(entries):
        entry_where = f"{where}.images[{i}]"
        entry = _require(entry, dict, entry_where)
        path = _require(entry.get("path"), str, f"{entry_where}.path")
        acquisition = entry.get("acquisition")
        if acquisition is not None and not _is_int(acquisition):
            raise ValueError(f"{entry_where}.acquisition must be an integer, got {acquisition!r}")
        images.append(WellImage(path=path, acquisition=acquisition))
    return Well(images=images, version=fmt.version, metadata=well, group=group)


def open_bioformats2raw(
    target: GroupLike, *, storage_options: Mapping[str, Any] | None = None
) -> Bioformats2Raw:
    """Open a bioformats2raw collection of image series.

    Raises
    ------
    FileNotFoundError
        If a local ``target`` does not exist.
    ValueError
        If the group has no ``bioformats2raw.layout`` or its series list is malformed.

    Examples
    --------
    >>> collection = open_bioformats2raw("converted.ome.zarr")  # doctest: +SKIP
    >>> collection.image(1).dims  # doctest: +SKIP
    ('t', 'c', 'z', 'y', 'x')
    """
    group, attributes = _ngff_node(
        target, _BF2RAW_KEY, "bioformats2raw collection", storage_options
    )
    layout = attributes[_BF2RAW_KEY]
    if not _is_int(layout):
        raise ValueError(f"{_location(group)}: {_BF2RAW_KEY!r} must be an integer, got {layout!r}")
    version = attributes.get("version")
    return Bioformats2Raw(
        layout=layout,
        series=_bioformats2raw_series(group),
        version=str(version) if version else None,
        group=group,
    )


def open_ome_zarr(
    target: GroupLike, *, storage_options: Mapping[str, Any] | None = None
) -> Image | Labels | Plate | Well | Bioformats2Raw:
    """Open whatever OME-Zarr node ``target`` is, detected from its metadata.

    Plates come first (a bioformats2raw plate is a :class:`Plate`), then wells, images
    (a :class:`LabelImage` when they carry ``image-label``), ``labels`` groups and
    bioformats2raw collections.

    Raises
    ------
    FileNotFoundError
        If a local ``target`` does not exist.
    ValueError
        If the group carries no OME-NGFF metadata, or it is malformed.

    Examples
    --------
    >>> node = open_ome_zarr("data.ome.zarr")  # doctest: +SKIP
    >>> type(node).__name__  # doctest: +SKIP
    'Plate'
    """
    group = _open_group(target, storage_options)
    attributes = read_ngff_attrs(group)
    if "plate" in attributes:
        return open_plate(group)
    if "well" in attributes:
        return open_well(group)
    if "multiscales" in attributes:
        return _read_image(group, 0)
    if "labels" in attributes:
        return open_labels(group)
    if _BF2RAW_KEY in attributes:
        return open_bioformats2raw(group)
    raise _not_ome(group, "image/plate/well", "no OME-NGFF metadata")


# --------------------------------------------------------------------------------------------
# Opening groups and reading attributes
# --------------------------------------------------------------------------------------------


def _open_group(target: GroupLike, storage_options: Mapping[str, Any] | None) -> zarr.Group:
    """Open ``target`` read-only as a zarr group (v2 or v3, detected)."""
    if isinstance(target, zarr.Group):
        return target
    if isinstance(target, zarr.Array):
        raise ValueError(f"target: {target.store_path} is a zarr array, not an OME-Zarr group")
    if not isinstance(target, str | os.PathLike | Store):
        raise TypeError(
            f"target: expected a path, URL, zarr.Group or zarr store, not {type(target).__name__}"
        )
    if isinstance(target, os.PathLike) or (isinstance(target, str) and "://" not in target):
        path = os.fspath(target)
        if not os.path.exists(path):
            raise FileNotFoundError(f"target: {path!r} does not exist")
    try:
        return open_group(target, mode="r", storage_options=storage_options)
    except zarr.errors.ContainsArrayError:
        raise ValueError(f"target: {target} is a zarr array, not an OME-Zarr group") from None
    except zarr.errors.GroupNotFoundError:
        if _holds_array(target):
            raise ValueError(f"target: {target} is a zarr array, not an OME-Zarr group") from None
        raise ValueError(
            f"{target} is not an OME-Zarr image/plate/well: it is not a zarr group"
        ) from None


def _holds_array(target: str | os.PathLike[str] | Store) -> bool:
    """Whether ``target`` is a zarr array (only asked once opening it as a group failed)."""
    try:
        zarr.open_array(target, mode="r")
    except (FileNotFoundError, ValueError):
        return False
    return True


def _open_group_at(anchor: zarr.Group, path: str) -> zarr.Group:
    """Open the group at ``path`` from the root of ``anchor``'s store."""
    try:
        return zarr.open_group(store=anchor.store, path=path, mode="r")
    except (FileNotFoundError, ValueError):
        raise ValueError(f"{_location(anchor)}: no zarr group at {path!r} in the store") from None


def _child_group(group: zarr.Group, path: str) -> zarr.Group:
    """The sub-group ``path`` of ``group``, or a ValueError naming both."""
    child = open_member(group, path)
    if child is None:
        raise ValueError(f"{_location(group)}: no group {path!r} (it is listed but missing)")
    if not isinstance(child, zarr.Group):
        raise ValueError(f"{_location(group)}: {path!r} is an array, a group was expected")
    return child


def _location(group: zarr.Group) -> str:
    """A printable location for error messages: the store URL plus the group path."""
    return str(group.store_path)


def _not_ome(group: zarr.Group, kind: str, why: str) -> ValueError:
    """The error for a group that holds no ``kind``, listing what it holds instead."""
    found = sorted(read_ngff_attrs(group))
    hint = f" (its metadata keys: {found})" if found else ""
    if group_zarr_format(group) == 3 and _NGFF_KEYS & set(group.attrs):
        # A 0.4-style document written into zarr v3: say where 0.5 expects it.
        hint = " (its NGFF keys are top-level attributes; OME-NGFF 0.5 keeps them under 'ome')"
    return ValueError(f"{_location(group)} is not an OME-Zarr {kind}: {why}{hint}")


def _ngff_node(
    target: GroupLike, key: str, kind: str, storage_options: Mapping[str, Any] | None
) -> tuple[zarr.Group, JSONDict]:
    """Open ``target`` and its NGFF attributes, which must hold ``key`` to be a ``kind``."""
    group = _open_group(target, storage_options)
    attributes = read_ngff_attrs(group)
    if key not in attributes:
        raise _not_ome(group, kind, f"no {key!r} metadata")
    return group, attributes


def _versioned_document(
    target: GroupLike, key: str, kind: str, storage_options: Mapping[str, Any] | None
) -> tuple[zarr.Group, JSONDict, Format, str]:
    """Open a node whose ``key`` document declares a version (plate, well).

    Returns the group, the document, its format and the location prefix for messages.
    """
    group, attributes = _ngff_node(target, key, kind, storage_options)
    where = f"{_location(group)}: {key}"
    document = _require(attributes[key], dict, where)
    return group, document, _declared_format(group, attributes, document, where), where


def _declared_format(
    group: zarr.Group, attributes: Mapping[str, Any], document: Mapping[str, Any], where: str
) -> Format:
    """The format a plate, well or image document declares, checked against the zarr format.

    0.5 declares its version once, in ``ome.version``; older versions inside the document.
    A missing version is inferred: zarr v3 means 0.5; for zarr v2, axis dicts mean 0.4,
    axis names 0.3 and no axes at all 0.1 (as the reference reader does).
    """
    zarr_format = group_zarr_format(group)
    version = attributes.get("version") if zarr_format == 3 else document.get("version")
    if version is None:
        version = "0.5" if zarr_format == 3 else _implied_version(document.get("axes"))
    if not isinstance(version, str | int | float) or isinstance(version, bool):
        raise ValueError(f"{where}: 'version' must be a string, got {version!r}")
    try:
        fmt = format_from_version(str(version))
    except ValueError:
        raise ValueError(f"{where}: unsupported OME-NGFF version {version!r}") from None
    if fmt.zarr_format != zarr_format:
        raise ValueError(
            f"{where}: OME-NGFF {fmt.version} belongs in zarr v{fmt.zarr_format}, "
            f"but the group is zarr v{zarr_format}"
        )
    return fmt


def _implied_version(axes: Any) -> str:
    if isinstance(axes, list) and axes:
        return "0.4" if isinstance(axes[0], dict) else "0.3"
    return "0.1"


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def _read_image(group: zarr.Group, multiscale: int) -> Image:
    """Read the multiscale image in ``group``; a LabelImage when it has ``image-label``."""
    if not _is_int(multiscale):
        raise TypeError(f"multiscale: expected an int, not {type(multiscale).__name__}")
    attributes = read_ngff_attrs(group)
    if "multiscales" not in attributes:
        raise _not_ome(group, "image", "no 'multiscales' metadata")
    location = _location(group)
    multiscales = attributes["multiscales"]
    if not isinstance(multiscales, list) or not multiscales:
        raise ValueError(f"{location}: 'multiscales' must be a non-empty list, got {multiscales!r}")
    if not 0 <= multiscale < len(multiscales):
        raise ValueError(
            f"multiscale: {multiscale} is out of range, {location} has "
            f"{len(multiscales)} multiscales"
        )
    where = f"{location}: multiscales[{multiscale}]"
    entry = _require(multiscales[multiscale], dict, where)
    fmt = _declared_format(group, attributes, entry, where)

    datasets = _require(entry.get("datasets"), list, f"{where}.datasets")
    if not datasets:
        raise ValueError(f"{where}.datasets must list at least one level")
    paths: list[str] = []
    levels: list[da.Array] = []
    for i, dataset in enumerate(datasets):
        dataset_where = f"{where}.datasets[{i}]"
        dataset = _require(dataset, dict, dataset_where)
        path = _require(dataset.get("path"), str, f"{dataset_where}.path")
        paths.append(path)
        levels.append(_lazy_level(group, path, dataset_where))
    ndim = levels[0].ndim
    for i, level in enumerate(levels):
        if level.ndim != ndim:
            raise ValueError(
                f"{where}.datasets[{i}]: level {paths[i]!r} has {level.ndim} dimensions, "
                f"level {paths[0]!r} has {ndim}"
            )

    axes = _read_axes(entry.get("axes"), fmt, ndim, f"{where}.axes")
    outer_scale, outer_translation = _read_transformations(
        entry.get("coordinateTransformations"), ndim, f"{where}.coordinateTransformations"
    )
    scales: list[tuple[float, ...]] = []
    translations: list[tuple[float, ...]] = []
    for i, dataset in enumerate(datasets):
        scale, translation = _read_transformations(
            dataset.get("coordinateTransformations"),
            ndim,
            f"{where}.datasets[{i}].coordinateTransformations",
        )
        # The dataset's transformations apply first, then the multiscale-wide ones.
        scales.append(tuple(s * o for s, o in zip(scale, outer_scale, strict=True)))
        translations.append(
            tuple(
                t * o + ot
                for t, o, ot in zip(translation, outer_scale, outer_translation, strict=True)
            )
        )

    omero = attributes.get("omero")
    if omero is not None and not isinstance(omero, dict):
        raise ValueError(f"{location}: 'omero' must be an object, got {omero!r}")
    name = entry.get("name")
    fields: dict[str, Any] = {
        "levels": levels,
        "paths": paths,
        "axes": axes,
        "scales": scales,
        "translations": translations,
        "version": fmt.version,
        "name": None if name is None else str(name),
        "omero": omero,
        "metadata": entry,
        "group": group,
        "label_names": _label_names(group),
    }
    if "image-label" not in attributes:
        return Image(**fields)
    image_label = _require(attributes["image-label"], dict, f"{location}: image-label")
    return LabelImage(
        **fields,
        image_label=image_label,
        colors=_read_colors(image_label.get("colors"), f"{location}: image-label.colors"),
        properties=_read_properties(
            image_label.get("properties"), f"{location}: image-label.properties"
        ),
    )


def _lazy_level(group: zarr.Group, path: str, where: str) -> da.Array:
    """Wrap the array at ``path`` as dask, one task per zarr chunk (per shard if sharded)."""
    array = open_member(group, path)
    if array is None:
        raise ValueError(f"{where}: no array at path {path!r}")
    if not isinstance(array, zarr.Array):
        raise ValueError(f"{where}: {path!r} is a group, an array was expected")
    # A shard is the smallest unit that can be read without re-reading its index, so a
    # sharded array is cut into shards rather than into its inner chunks.
    chunks = array.shards if array.shards is not None else array.chunks
    count = math.prod(-(-size // chunk) for size, chunk in zip(array.shape, chunks, strict=True))
    if count > _MAX_LEVEL_CHUNKS:
        raise ValueError(
            f"{where}: the chunk grid of {path!r} is too large: shape {list(array.shape)} in "
            f"chunks of {list(chunks)} makes {count:.3g} chunks (at most {_MAX_LEVEL_CHUNKS:.0e})"
        )
    return da.from_zarr(array, chunks=chunks)


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
        if len(values) != ndim or not all(_is_finite(v) for v in values):
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


def _label_names(group: zarr.Group) -> list[str]:
    """The names listed by ``group``'s ``labels`` sub-group; [] if it has none."""
    labels = open_member(group, "labels")
    if not isinstance(labels, zarr.Group):
        return []
    names = read_ngff_attrs(labels).get("labels", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{_location(labels)}: 'labels' must be a list of names, got {names!r}")
    return list(names)


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
            or not all(_is_int(c) and 0 <= c <= 255 for c in rgba)
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


def _plate_well(
    entry: Any, rows: Sequence[str], columns: Sequence[str], fmt: Format, where: str
) -> PlateWell:
    """A plate's well entry with its row and column resolved.

    0.4 and later carry ``rowIndex``/``columnIndex`` (checked against the path by the
    format); earlier versions only the ``"row/column"`` path, from which both are found.
    """
    entry = _require(entry, dict, where)
    try:
        fmt.validate_well_dict(entry, rows, columns)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    path = entry["path"]
    parts = path.split("/")
    if len(parts) != 2 or parts[0] not in rows or parts[1] not in columns:
        raise ValueError(
            f"{where}: path {path!r} must be 'row/column' with a row of {list(rows)} "
            f"and a column of {list(columns)}"
        )
    row, column = parts
    return PlateWell(
        path=path,
        row=row,
        column=column,
        row_index=list(rows).index(row),
        column_index=list(columns).index(column),
    )


def _bioformats2raw_series(group: zarr.Group) -> list[str]:
    """Series paths from ``OME/`` ``series``, else the consecutive numbered groups."""
    ome_group = open_member(group, "OME")
    if isinstance(ome_group, zarr.Group):
        series = read_ngff_attrs(ome_group).get("series")
        if series is not None:
            if not isinstance(series, list) or not all(isinstance(s, str) for s in series):
                raise ValueError(
                    f"{_location(ome_group)}: 'series' must be a list of paths, got {series!r}"
                )
            return list(series)
    found: list[str] = []
    while open_member(group, str(len(found))) is not None:
        found.append(str(len(found)))
    return found


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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _matches(wanted: int | str, name: str, index: int) -> bool:
    """Whether a row/column given as a name or an index is ``name`` at ``index``."""
    return wanted == index if _is_int(wanted) else wanted == name


def _pick(key: int | str, paths: Sequence[str], parameter: str, location: str) -> str:
    """The path chosen by position or by name, or a ValueError naming ``parameter``."""
    if _is_int(key):
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
