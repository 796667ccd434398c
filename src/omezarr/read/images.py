"""Reading images and their labels lazily: levels as dask arrays, axes, scales and colours."""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import zarr

from omezarr.io.storage import (
    GroupLike,
    open_member,
    read_ngff_attrs,
)
from omezarr.io.units import check_unit_fits
from omezarr.types import JSONDict

from .._numbers import ceil_div, is_json_int
from ..ngff.parse import (
    _read_axes,
    _read_colors,
    _read_properties,
    _read_transformations,
    _read_v06_levels,
    _require,
)
from .nodes import (
    _MAX_LEVEL_CHUNKS,
    _child_group,
    _declared_format,
    _location,
    _ngff_node,
    _not_ome,
    _open_group,
    _open_group_at,
)

__all__ = [
    "Image",
    "LabelImage",
    "Labels",
    "axis_letters",
    "open_image",
    "open_label",
    "open_labels",
]

_AXIS_LETTERS = frozenset("tczyx")


def axis_letters(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` with each of ``t c z y x`` in either case lower-cased (see
    :attr:`Image.axis_letters`); unchanged when that would make two names equal.

    Examples
    --------
    >>> axis_letters(("T", "C", "Y", "X"))
    ('t', 'c', 'y', 'x')
    >>> axis_letters(("angle", "Y", "X"))
    ('angle', 'y', 'x')
    """
    letters = tuple(name.lower() if name.lower() in _AXIS_LETTERS else name for name in names)
    return letters if len(set(letters)) == len(letters) else names


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

    def check_decodable(self, level: int, budget: int | None = None) -> None:
        """Refuse, before anything is read, a level whose chunks (or shards) would each take
        more than the memory budget to decode (a decompression bomb, or a file chunked for
        another machine); the readers stay lazy, the tools that compute pixels ask this.

        Raises
        ------
        omezarr.io.units.UnitTooLargeError
            A ValueError naming the level, the unit's size and the budget.
        """
        where = f"{self.group.store_path}/{self.paths[level]}"
        array = self.group[self.paths[level]]
        if not isinstance(array, zarr.Array):  # opened as an array; replaced since
            raise ValueError(f"{where}: is no longer an array")
        check_unit_fits(array, where, budget)

    @property
    def dims(self) -> tuple[str, ...]:
        """The axis names in array order, e.g. ``("c", "y", "x")``."""
        return tuple(str(axis["name"]) for axis in self.axes)

    @property
    def axis_letters(self) -> tuple[str, ...]:
        """The axis names with ``t``, ``c``, ``z``, ``y`` and ``x`` in either case as those
        lower-case letters, e.g. ``("t", "c", "z", "y", "x")`` for ``T C Z Y X``.

        NGFF axis names are free strings and some libraries write them in upper case; the
        tools that look for the time, channel and space axes look here. Other names stay as
        they are, and so do all of them when two differ in case only (``x`` and ``X``).

        Examples
        --------
        >>> open_image("upper.ome.zarr").axis_letters  # doctest: +SKIP
        ('c', 'y', 'x')
        """
        return axis_letters(self.dims)

    @property
    def units(self) -> dict[str, str]:
        """The unit of each axis that declares one, keyed by axis name."""
        return {str(axis["name"]): str(axis["unit"]) for axis in self.axes if "unit" in axis}

    @property
    def orientation(self) -> dict[str, str]:
        """The RFC-4 anatomical orientation of each space axis that declares one (0.6), e.g.
        ``{"x": "left-to-right"}``: the direction of increasing coordinates."""
        return {
            str(axis["name"]): str(axis["orientation"]["value"])
            for axis in self.axes
            if isinstance(axis.get("orientation"), dict) and "value" in axis["orientation"]
        }

    @property
    def coordinate_systems(self) -> list[str]:
        """The names of the image's coordinate systems (0.6), the intrinsic one first."""
        systems = self.metadata.get("coordinateSystems") if self.version == "0.6" else None
        if not isinstance(systems, list):
            return []
        return [str(s["name"]) for s in systems if isinstance(s, dict) and "name" in s]

    def transform_points(
        self, points: Any, target: str, *, level: int = 0, source: str | None = None
    ) -> np.ndarray:
        """Map points (one per row) into the coordinate system ``target`` (0.6).

        By default the points are indices into level ``level``'s array; ``source`` names
        another system (or ``"path:<array>"``). Chains of scale, translation, affine,
        rotation, mapAxis, projectAxis, sequence, byDimension and bijection transformations
        are followed, backwards where invertible (:mod:`omezarr.ngff.transforms`).

        Raises
        ------
        ValueError
            For an image older than 0.6, an unknown system, or no chain leading there.
        """
        from ..ngff.transforms import transform_points

        if self.version != "0.6":
            raise ValueError(f"coordinate systems are OME-NGFF 0.6; this image is {self.version}")
        start = source if source is not None else f"path:{self.paths[level]}"

        def load(path: str) -> np.ndarray:
            stored = self.group[path]
            if not isinstance(stored, zarr.Array):
                raise ValueError(f"{path!r}: transformation parameters must be an array")
            return np.asarray(stored[...])

        return transform_points({"multiscales": [self.metadata]}, start, target, points, load)

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


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def _read_image(group: zarr.Group, multiscale: int) -> Image:
    """Read the multiscale image in ``group``; a LabelImage when it has ``image-label``."""
    if not is_json_int(multiscale):
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

    if fmt.has_coordinate_systems:
        # Axes and levels are those of the intrinsic system; the multiscale-wide
        # transformations lead to other systems and leave the levels' own as they are.
        system_axes, level_transforms, _ = _read_v06_levels(entry, where)
        axes = _read_axes(system_axes, fmt, ndim, f"{where}.coordinateSystems[].axes")
        outer_scale, outer_translation = _read_transformations(None, ndim, where)
    else:
        axes = _read_axes(entry.get("axes"), fmt, ndim, f"{where}.axes")
        level_transforms = [dataset.get("coordinateTransformations") for dataset in datasets]
        outer_scale, outer_translation = _read_transformations(
            entry.get("coordinateTransformations"), ndim, f"{where}.coordinateTransformations"
        )
    scales: list[tuple[float, ...]] = []
    translations: list[tuple[float, ...]] = []
    for i, transforms in enumerate(level_transforms):
        scale, translation = _read_transformations(
            transforms,
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
    count = math.prod(
        ceil_div(size, chunk) for size, chunk in zip(array.shape, chunks, strict=True)
    )
    if count > _MAX_LEVEL_CHUNKS:
        raise ValueError(
            f"{where}: the chunk grid of {path!r} is too large: shape {list(array.shape)} in "
            f"chunks of {list(chunks)} makes {count:.3g} chunks (at most {_MAX_LEVEL_CHUNKS:.0e})"
        )
    return da.from_zarr(array, chunks=chunks)


def _label_names(group: zarr.Group) -> list[str]:
    """The names listed by ``group``'s ``labels`` sub-group; [] if it has none."""
    labels = open_member(group, "labels")
    if not isinstance(labels, zarr.Group):
        return []
    names = read_ngff_attrs(labels).get("labels", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{_location(labels)}: 'labels' must be a list of names, got {names!r}")
    return list(names)
