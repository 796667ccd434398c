"""Opening zarr groups from paths, URLs, stores or groups, and reading/writing NGFF attributes.

The one place that knows where NGFF attributes live (top level for zarr v2, under ``ome``
for zarr v3) and how a user's target becomes a :class:`zarr.Group`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import zarr
import zarr.errors
from zarr.abc.store import Store

from .types import JSONDict

__all__ = [
    "GroupLike",
    "existing_group",
    "group_zarr_format",
    "open_group",
    "read_ngff_attrs",
    "remove_member",
    "write_ngff_attrs",
]

GroupLike = zarr.Group | str | os.PathLike[str] | Store
"""What users may pass where a group is expected."""


def open_group(
    target: GroupLike,
    mode: str = "a",
    zarr_format: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> zarr.Group:
    """Open (or create, with mode "a"/"w") the group at ``target``.

    Parameters
    ----------
    target : zarr.Group, str, os.PathLike or zarr Store
        A group is returned as it is; a path, ``file://``/``s3://``/``http(s)://`` URL or
        store is opened with :func:`zarr.open_group`.
    mode : str
        As :func:`zarr.open_group`.
    zarr_format : int, optional
        2 or 3; None lets zarr detect an existing group (and create zarr v3).
    storage_options : dict, optional
        Passed to fsspec for URLs (credentials, ``endpoint_url``, …).

    Raises
    ------
    TypeError
        If ``target`` is none of the accepted types.
    """
    if isinstance(target, zarr.Group):
        return target
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str | Store):
        raise TypeError(
            f"group: expected a zarr.Group, a path, a URL or a zarr store, not {type(target).__name__}"
        )
    kwargs: dict[str, Any] = {"mode": mode}
    if zarr_format is not None:
        kwargs["zarr_format"] = zarr_format
    if isinstance(target, str) and "://" in target and not target.startswith("file://"):
        kwargs["storage_options"] = dict(storage_options or {})
    elif isinstance(target, str) and target.startswith("file://"):
        target = target[len("file://") :]
    if isinstance(target, str) and "://" not in target:
        target = str(Path(target))
    return zarr.open_group(target, **kwargs)


def group_zarr_format(group: zarr.Group) -> int:
    """The zarr format (2 or 3) of ``group``."""
    return int(group.metadata.zarr_format)


def read_ngff_attrs(group: zarr.Group) -> JSONDict:
    """A copy of the group's NGFF attributes (the ``ome`` dict for zarr v3)."""
    attrs = group.attrs.asdict()
    if group_zarr_format(group) == 3:
        ome = attrs.get("ome", {})
        return copy.deepcopy(dict(ome)) if isinstance(ome, Mapping) else {}
    return copy.deepcopy(dict(attrs))


def write_ngff_attrs(
    group: zarr.Group, updates: Mapping[str, Any], merge_dicts: bool = False
) -> None:
    """Set NGFF attributes in one metadata write (under ``ome`` for zarr v3).

    With ``merge_dicts``, a dict value is merged into an existing dict of the same key
    instead of replacing it.
    """
    current = read_ngff_attrs(group)
    for key, value in updates.items():
        if merge_dicts and isinstance(value, Mapping) and isinstance(current.get(key), dict):
            current[key].update(copy.deepcopy(dict(value)))
        else:
            current[key] = copy.deepcopy(value)
    if group_zarr_format(group) == 3:
        group.attrs.update({"ome": current})
    else:
        group.attrs.update(current)


def existing_group(
    target: GroupLike, storage_options: Mapping[str, Any] | None = None
) -> zarr.Group | None:
    """The group at ``target`` opened for writing if one exists there, else None; creates nothing."""
    if isinstance(target, zarr.Group):
        return target
    try:
        open_group(target, mode="r", storage_options=storage_options)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, KeyError):
        return None
    return open_group(target, mode="a", storage_options=storage_options)


def remove_member(group: zarr.Group, name: str) -> None:
    """Delete the array or group ``name`` of ``group`` with all its chunks, if it exists."""
    if name in group:
        del group[name]
