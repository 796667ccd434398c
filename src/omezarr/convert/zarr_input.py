"""OME-Zarr and plain zarr inputs, opened lazily."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import zarr
import zarr.errors
import zarr.storage

from ..io.storage import (
    open_node,
    read_ngff_attrs,
)
from ..io.units import check_unit_fits
from ..read import open_image
from .errors import ConversionError, InvalidParameterError, Parameter
from .source import InputImage, _arrange, _check_user_axes, _default_axes


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
    if "multiscales" not in read_ngff_attrs(node):
        raise ConversionError(
            f"{path}: a zarr group without an OME-Zarr image (convert one of its arrays)"
        )
    source = open_image(node)
    source.check_decodable(0)  # the level converted; its chunks are decoded whole
    if axes:
        letters = _check_user_axes(axes, source.data.ndim)
    else:
        unnamed = [name for name in source.dims if len(name) != 1 or name.lower() not in "tczyx"]
        if unnamed:
            # NGFF allows any axis name; OME-Zarr output needs t, c, z, y and x.
            raise InvalidParameterError(
                Parameter("axes"),
                f": {path} has axes {list(source.dims)}; {unnamed[0]!r} is none of t, c, z, y, "
                "x: give the input's axes as letters of tczyx, one per axis",
            )
        letters = "".join(name.lower() for name in source.dims)
    image = _arrange(path, "OME-Zarr", source.data, letters)
    # By position: the file's axis names may be upper case ("T C Z Y X", valid NGFF) or
    # renamed by ``axes``; each one's scale and unit go to the letter it became.
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
    return image


# --------------------------------------------------------------------------- output staging


_ZARR_METADATA_KEYS = ("zarr.json", ".zgroup", ".zarray", ".zattrs")
"""The files whose presence makes a directory (or a URL prefix) a zarr hierarchy."""


def _is_zarr_hierarchy(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in _ZARR_METADATA_KEYS)
