"""Reading plates, wells and bioformats2raw collections, and opening whatever a path holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import zarr

from omezarr.io.storage import (
    GroupLike,
    open_member,
    read_ngff_attrs,
)
from omezarr.ngff.format import Format
from omezarr.types import JSONDict

from .._numbers import is_json_int
from ..ngff.parse import _matches, _names, _pick, _require
from .images import Image, Labels, _read_image, open_labels
from .nodes import (
    _BF2RAW_KEY,
    _child_group,
    _location,
    _ngff_node,
    _not_ome,
    _open_group,
    _versioned_document,
)

__all__ = [
    "Bioformats2Raw",
    "Plate",
    "PlateWell",
    "Scene",
    "Well",
    "WellImage",
    "open_bioformats2raw",
    "open_ome_zarr",
    "open_plate",
    "open_scene",
    "open_well",
]


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
    if field_count is not None and not is_json_int(field_count):
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
        if acquisition is not None and not is_json_int(acquisition):
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
    if not is_json_int(layout):
        raise ValueError(f"{_location(group)}: {_BF2RAW_KEY!r} must be an integer, got {layout!r}")
    version = attributes.get("version")
    return Bioformats2Raw(
        layout=layout,
        series=_bioformats2raw_series(group),
        version=str(version) if version else None,
        group=group,
    )


@dataclass(frozen=True)
class Scene:
    """An OME-NGFF 0.6 scene: images of one group and the transformations relating them.

    Attributes
    ----------
    coordinate_systems : list of str
        The scene's own systems (e.g. ``"world"``).
    image_paths : list of str
        The child paths of the images its transformations name, in order of appearance.
    metadata : dict
        The ``scene`` document.
    group : zarr.Group
    """

    coordinate_systems: list[str]
    image_paths: list[str]
    metadata: JSONDict
    group: zarr.Group

    def image(self, path: str) -> Image:
        """The image at ``path`` (one of :attr:`image_paths`)."""
        if path not in self.image_paths:
            raise ValueError(f"path: {path!r} is not an image of this scene ({self.image_paths})")
        return _read_image(_child_group(self.group, path), 0)

    def transform_points(self, points: Any, source: str, target: str) -> Any:
        """Map points between systems: a scene system (``"world"``) or an image's
        (``"tile_1#intrinsic"``), following the scene's transformations."""
        from ..ngff.transforms import transform_points

        def load(path: str) -> Any:
            stored = self.group[path]
            if not isinstance(stored, zarr.Array):
                raise ValueError(f"{path!r}: transformation parameters must be an array")
            return stored[...]

        return transform_points({"scene": self.metadata}, source, target, points, load)


def open_scene(target: GroupLike, *, storage_options: Mapping[str, Any] | None = None) -> Scene:
    """Open an OME-NGFF 0.6 scene group.

    Raises
    ------
    ValueError
        If the group has no ``scene`` metadata or it is malformed.

    Examples
    --------
    >>> scene = open_scene("mosaic.ome.zarr")  # doctest: +SKIP
    >>> scene.transform_points([[0, 0]], "tile_1#intrinsic", "world")  # doctest: +SKIP
    array([[  0., 348.]])
    """
    group, attributes = _ngff_node(target, "scene", "scene", storage_options)
    scene = _require(attributes["scene"], dict, f"{_location(group)}: scene")
    systems = scene.get("coordinateSystems") or []
    transformations = _require(
        scene.get("coordinateTransformations"),
        list,
        f"{_location(group)}: scene.coordinateTransformations",
    )
    paths: list[str] = []
    for transform in transformations:
        for end in ("input", "output"):
            reference = transform.get(end) if isinstance(transform, Mapping) else None
            path = reference.get("path") if isinstance(reference, Mapping) else None
            if isinstance(path, str) and path not in paths:
                paths.append(path)
    names = [str(s["name"]) for s in systems if isinstance(s, Mapping) and "name" in s]
    return Scene(coordinate_systems=names, image_paths=paths, metadata=scene, group=group)


def open_ome_zarr(
    target: GroupLike, *, storage_options: Mapping[str, Any] | None = None
) -> Image | Labels | Plate | Well | Bioformats2Raw | Scene:
    """Open whatever OME-Zarr node ``target`` is, detected from its metadata.

    Plates come first (a bioformats2raw plate is a :class:`Plate`), then wells, images
    (a :class:`LabelImage` when they carry ``image-label``), ``labels`` groups and
    bioformats2raw collections, and 0.6 scenes.

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
    if "scene" in attributes:
        return open_scene(group)
    raise _not_ome(group, "image/plate/well", "no OME-NGFF metadata")


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
