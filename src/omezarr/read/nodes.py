"""Finding NGFF nodes: opening groups and children, and the version a document declares."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import zarr
from zarr.abc.store import Store

from omezarr.io.storage import (
    GroupLike,
    archive_member,
    group_zarr_format,
    open_group,
    open_member,
    read_ngff_attrs,
)
from omezarr.ngff.format import Format, format_from_version
from omezarr.types import JSONDict

from ..ngff.parse import _require

LOGGER = logging.getLogger("omezarr.reader")

_MAX_LEVEL_CHUNKS = 10**8
"""The most chunks (shards) a level may have: dask holds a task per chunk, so a level beyond
this cannot be sliced or computed in useful time (a corrupted ``shape`` can claim 10^24)."""

_BF2RAW_KEY = "bioformats2raw.layout"
_NGFF_KEYS = frozenset({"multiscales", "plate", "well", "labels", "image-label", _BF2RAW_KEY})


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
        if not os.path.exists(path) and archive_member(Path(path)) is None:
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
