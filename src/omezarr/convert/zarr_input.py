"""OME-Zarr and plain zarr inputs, opened lazily, and the labels an OME-Zarr image carries."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import zarr
import zarr.errors
import zarr.storage

from ..engine.targets import Progress
from ..io.layout import default_chunks
from ..io.storage import (
    open_node,
    read_ngff_attrs,
)
from ..io.units import check_unit_fits
from ..io.zarr_internals import read_key
from ..ngff.format import Format
from ..pyramid.methods import Methods
from ..read import (
    Image,
    LabelImage,
    Plate,
    open_bioformats2raw,
    open_image,
    open_plate,
    open_well,
)
from ..write import write_labels, write_plate_metadata, write_well_metadata
from .errors import ConversionError, ConversionWarning, InvalidParameterError, Parameter
from .source import NGFF_AXIS_ORDER, InputImage, _arrange, _check_user_axes, _default_axes

__all__ = [
    "carry_labels",
    "input_collection",
    "input_plate",
    "write_plate_like",
]


def _open_zarr(path: Path | str, axes: str | None) -> InputImage:
    """A zarr array or OME-Zarr image at a local ``Path`` or a remote URL (``str``)."""
    try:
        node = open_node(str(path))
    except Exception as error:
        if isinstance(path, str):  # a remote URL
            if isinstance(error, ConnectionError | PermissionError):
                raise  # storage's message names the URL and what to check
            if isinstance(error, FileNotFoundError):
                raise ConversionError(
                    f"{path}: no zarr array or OME-Zarr image found; from URLs only zarr "
                    "arrays and OME-Zarr images are read (copy TIFF, .npy, PNG and JPEG files "
                    "to a local disk)"
                ) from None
        raise ConversionError(
            f"{path}: not a readable zarr array: {type(error).__name__}: {error}"
        ) from None
    if isinstance(node, zarr.Array):
        notes: list[str] = []
        check_unit_fits(node, path)
        letters = _check_user_axes(axes, node.ndim) if axes else _default_axes(node.ndim, notes)
        return _arrange(path, "zarr array", node, letters, notes)
    attributes = read_ngff_attrs(node)
    if "multiscales" not in attributes:
        raise ConversionError(_no_image(path, node, attributes))
    source = open_image(node)
    source.check_decodable(0)  # the level converted; its chunks are decoded whole
    if axes:
        letters = _check_user_axes(axes, source.data.ndim)
    else:
        # NGFF allows any axis name; OME-Zarr output needs t, c, z, y and x (in either case:
        # "T C Z Y X" is valid NGFF, written by real libraries).
        unnamed = [
            name
            for name, letter in zip(source.dims, source.axis_letters, strict=True)
            if letter not in NGFF_AXIS_ORDER
        ]
        if unnamed:
            raise InvalidParameterError(
                Parameter("axes"),
                f": {path} has axes {list(source.dims)}; {unnamed[0]!r} is none of t, c, z, y, "
                "x: give the input's axes as letters of tczyx, one per axis",
            )
        letters = "".join(source.axis_letters)
    image = _arrange(path, "OME-Zarr", source.data, letters)
    # By position: each file axis's scale and unit go to the letter it became (``axes`` may
    # have renamed it).
    for letter, name, size in zip(letters, source.dims, source.scales[0], strict=True):
        if letter in image.axes and letter in "tzyx":
            image.scale[letter] = float(size)
            unit = source.units.get(name)
            if unit is not None:
                image.units[letter] = unit
    channels = (source.omero or {}).get("channels")
    if isinstance(channels, list) and "c" in image.axes:
        if all(isinstance(c, Mapping) and isinstance(c.get("label"), str) for c in channels):
            image.channel_names = [c["label"] for c in channels]
        if all(isinstance(c, Mapping) and isinstance(c.get("color"), str) for c in channels):
            image.channel_colors = [c["color"] for c in channels]
    image.name = source.name
    _warn_of_what_is_left(path, source, attributes)
    return image


def _warn_of_what_is_left(path: Path | str, source: Image, attributes: Mapping[str, Any]) -> None:
    """Say what of the input the output will not have (its labels are carried)."""
    multiscales = attributes.get("multiscales")
    if isinstance(multiscales, list) and len(multiscales) > 1:
        names = [m.get("name") if isinstance(m, Mapping) else None for m in multiscales[1:]]
        _left_out(
            f"{path}: multiscales[1:] ({len(names)} more image(s): {names}) not carried; "
            "only the first multiscale image is converted"
        )
    if any(offset != 0 for offset in source.translations[0]):
        _left_out(
            f"{path}: its translation {list(source.translations[0])} is not carried (the "
            "output starts at the origin)"
        )


def _left_out(message: str) -> None:
    warnings.warn(ConversionWarning(message), stacklevel=3)


def _no_image(path: Path | str, node: zarr.Group, attributes: Mapping[str, Any]) -> str:
    """Why a zarr group without an image is refused, and what in it to convert instead."""
    try:
        if "plate" in attributes:
            plate = open_plate(node)
            if plate.wells:
                first = plate.wells[0].path
                field = plate.well(first).paths[0]
                return (
                    f"{path}: an OME-Zarr plate of {len(plate.wells)} wells; plates are not "
                    f"converted: convert one field of a well, e.g. {path}/{first}/{field}"
                )
        if "well" in attributes:
            fields = open_well(node).paths
            return (
                f"{path}: an OME-Zarr well of {len(fields)} fields; wells are not converted: "
                f"convert one field, e.g. {path}/{fields[0]}"
            )
        if isinstance(attributes.get("labels"), list) and attributes["labels"]:
            return (
                f"{path}: the labels group of an image ({len(attributes['labels'])} label "
                f"images); convert the image, whose labels go with it, or one label image, "
                f"e.g. {path}/{attributes['labels'][0]}"
            )
        if "bioformats2raw.layout" in attributes:
            series = open_bioformats2raw(node).series
            return (
                f"{path}: a bioformats2raw collection of {len(series)} image series; convert "
                f"one series, e.g. {path}/{series[0]}"
            )
    except (ValueError, IndexError, KeyError):
        pass  # malformed, or empty: the general refusal below
    return f"{path}: a zarr group without an OME-Zarr image (convert one of its arrays)"


# --------------------------------------------------------------------------- plates


def _group_holding(path: str | os.PathLike[str], key: str) -> zarr.Group | None:
    """The zarr group at ``path`` if its NGFF attributes have ``key``; None for anything else
    (other inputs, and anything unreadable, are left to :func:`open_input` to name)."""
    try:
        node = open_node(os.fspath(path))
    except Exception:
        return None
    if isinstance(node, zarr.Group) and key in read_ngff_attrs(node):
        return node
    return None


def input_plate(path: str | os.PathLike[str]) -> Plate | None:
    """The OME-Zarr plate at ``path`` (a directory, an ``.ozx`` or a URL), or None."""
    node = _group_holding(path, "plate")
    if node is None:
        return None
    try:
        return open_plate(node)
    except ValueError as error:
        raise ConversionError(
            f"{path}: an OME-Zarr plate whose metadata is invalid: {error}"
        ) from None


def input_collection(path: str | os.PathLike[str]) -> tuple[list[str], str | None] | None:
    """The series paths and OME-XML (``OME/METADATA.ome.xml``) of the bioformats2raw
    collection at ``path``, or None if none is there."""
    node = _group_holding(path, "bioformats2raw.layout")
    if node is None:
        return None
    try:
        series = open_bioformats2raw(node).series
    except ValueError as error:
        raise ConversionError(
            f"{path}: a bioformats2raw collection that is invalid: {error}"
        ) from None
    xml = read_key(node.store, f"{node.path}/OME/METADATA.ome.xml".lstrip("/"))
    return series, None if xml is None else xml.decode("utf-8", "replace")


def write_plate_like(root: zarr.Group, plate: Plate, fmt: Format) -> None:
    """Write the metadata of ``plate`` (its rows, columns, wells, acquisitions, field count
    and name, and each well's fields with their acquisitions) into the converted ``root``,
    once its field images are written: a reader that finds the plate finds them whole."""
    for well in plate.wells:
        fields = plate.well(well.path).images
        write_well_metadata(
            root.require_group(well.path),
            [
                {"path": f.path, "acquisition": f.acquisition}
                if f.acquisition is not None
                else {"path": f.path}
                for f in fields
            ],
            fmt=fmt,
        )
    write_plate_metadata(
        root,
        plate.rows,
        plate.columns,
        [well.path for well in plate.wells],
        fmt=fmt,
        acquisitions=plate.acquisitions or None,
        field_count=plate.field_count,
        name=plate.name,
    )


# --------------------------------------------------------------------------- labels


def carry_labels(
    image: InputImage,
    target: str | zarr.Group,
    arguments: Mapping[str, Any],
    *,
    resume: bool = False,
    progress: Callable[[str, Progress], None] | None = None,
) -> list[str]:
    """Write the label images of the OME-Zarr input ``image`` into the converted ``target``.

    Each label image keeps its ``image-label`` metadata (colours, properties, source …), its
    pixels, and the scales and units of its file, changed as ``scale`` and ``units`` changed
    the image's; its levels follow the image's. Call it once the image is written. A label
    that cannot be carried (unreadable, or axes that are not the image's) is named in a
    :class:`ConversionWarning` and left out. Inputs other than OME-Zarr images have no labels.

    Parameters
    ----------
    image : InputImage
        The input as opened, with the scales and units the image was written with.
    target : str or zarr.Group
        The converted image: a path, a URL or an opened group (of an ``.ozx`` archive).
    arguments : mapping
        The image's ``write_image`` arguments; ``fmt``, ``memory_budget`` and the
        compressor and sharding of ``storage_options`` are the labels' too.
    resume : bool, default False
        Finish labels that a killed conversion had begun (see ``write_labels(resume=True)``).
    progress : callable, optional
        Called with ``("labels/<name>", Progress)`` after every region written.

    Returns
    -------
    list of str
        The names of the label images written.

    Examples
    --------
    >>> carry_labels(image, "out.ome.zarr", arguments)  # doctest: +SKIP
    ['nuclei']
    """
    node = open_node(image.path) if image.kind == "OME-Zarr" else None
    if not isinstance(node, zarr.Group):
        return []
    source = open_image(node)
    if not source.label_names:
        return []
    carried = []
    for name in source.label_names:
        where = f"{image.path}: labels/{name}"
        try:
            label = source.label(name)
            label.check_decodable(0, arguments.get("memory_budget"))
            letters = _label_letters(label, source, image)
            arranged = _arrange(where, "OME-Zarr label", label.data, letters)
        except (ValueError, ConversionError) as error:
            _left_out(f"{where} not carried: {error}")
            continue
        scale, units = _label_sizes(label, letters, source, image)
        metadata = {key: value for key, value in label.image_label.items() if key != "version"}
        layout = dict(arguments.get("storage_options") or {})
        shape = tuple(int(n) for n in arranged.data.shape)
        storage = {
            "compressor": layout.get("compressor", "default"),
            "chunks": default_chunks(shape, arranged.axes, arranged.data.dtype.itemsize),
        }
        if layout.get("shards") is not None:
            storage["shards"] = "auto"  # the image's shards are shaped for its own axes
        try:
            write_labels(
                arranged.data,
                target,
                name,
                fmt=arguments.get("fmt"),
                axes=arranged.axes,
                scale=scale or None,
                axes_units=units or None,
                label_metadata=metadata,
                storage_options=storage,
                memory_budget=arguments.get("memory_budget"),
                resume=resume,
                progress=None if progress is None else _named(progress, f"labels/{name}"),
                **_provenance(arguments, name),
            )
        except ConversionError:
            raise  # its pixels could not be read: the conversion fails, naming the file
        except (ValueError, TypeError) as error:
            if resume:  # what a killed conversion left of it may be there: not to be kept
                raise
            _left_out(f"{where} not carried: {error}")  # refused before anything was written
            continue
        if _translation_differs(label, letters, source, image):
            _left_out(
                f"{where}: its translation {list(label.translations[0])} is not carried (the "
                f"image's is {list(source.translations[0])})"
            )
        carried.append(name)
    return carried


def _provenance(arguments: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The image's ``metadata`` entry (how it was made, by what), for a label of it: made by
    write_labels' nearest-value downsampling."""
    provenance = arguments.get("metadata")
    if not isinstance(provenance, Mapping):
        return {}
    description = f"labels/{name} of the image {provenance.get('description', '')}".rstrip()
    method = f"omezarr.scale.{Methods.NEAREST.value}"
    return {"metadata": {**provenance, "description": description, "method": method}}


def _named(progress: Callable[[str, Progress], None], what: str) -> Callable[[Progress], None]:
    return lambda done: progress(what, done)


def _label_letters(label: LabelImage, source: Image, image: InputImage) -> str:
    """The tczyx letters of a label's axes: those of the image's axes of the same names (as
    converted, so ``axes`` renames them too), else the label's own t, c, z, y, x names."""
    converted = dict(zip(source.dims, image.source_axes, strict=True))
    letters = [
        converted.get(name, letter)
        for name, letter in zip(label.dims, label.axis_letters, strict=True)
    ]
    if any(letter not in NGFF_AXIS_ORDER for letter in letters) or len(set(letters)) != len(
        letters
    ):
        raise ValueError(
            f"its axes {list(label.dims)} are neither the image's {list(source.dims)} nor "
            "distinct letters of t, c, z, y, x"
        )
    return "".join(letters)


def _label_sizes(
    label: LabelImage, letters: str, source: Image, image: InputImage
) -> tuple[dict[str, float], dict[str, str]]:
    """The label's level-0 pixel sizes and units per letter: its file's, scaled as the image's
    were (``scale``), with the image's unit where ``units`` replaced the file's."""
    file_scale = dict(zip(image.source_axes, source.scales[0], strict=True))
    file_units = {
        letter: source.units.get(name)
        for letter, name in zip(image.source_axes, source.dims, strict=True)
    }
    scale: dict[str, float] = {}
    units: dict[str, str] = {}
    for letter, name, size in zip(letters, label.dims, label.scales[0], strict=True):
        if letter not in "tzyx":
            continue
        before = file_scale.get(letter)
        after = image.scale.get(letter, before)
        scale[letter] = size * (after / before) if before and after else size
        unit = label.units.get(name)
        if letter in image.units and image.units[letter] != file_units.get(letter):
            unit = image.units[letter]
        if unit is not None:
            units[letter] = unit
    return scale, units


def _translation_differs(label: LabelImage, letters: str, source: Image, image: InputImage) -> bool:
    """Whether dropping translations moves the label against its image (neither has one in
    the output: the image's is named when it is opened)."""
    offsets = dict(zip(image.source_axes, source.translations[0], strict=True))
    return any(
        abs(offset - offsets.get(letter, 0.0)) > 1e-9 * max(1.0, abs(offset))
        for letter, offset in zip(letters, label.translations[0], strict=True)
    )


# --------------------------------------------------------------------------- output staging


_ZARR_METADATA_KEYS = ("zarr.json", ".zgroup", ".zarray", ".zattrs")
"""The files whose presence makes a directory (or a URL prefix) a zarr hierarchy."""


def _is_zarr_hierarchy(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in _ZARR_METADATA_KEYS)
