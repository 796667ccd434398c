"""Shared type aliases used across omezarr."""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["AxesType", "JSONDict", "StorageOptions"]

JSONDict: TypeAlias = dict[str, Any]
"""A JSON object as decoded by :mod:`json`."""

AxesType: TypeAlias = str | list[str] | list[dict[str, str]] | None
"""Axes as users give them: ``"tczyx"``, ``["t", "c", ...]`` or a list of axis dicts."""

StorageOptions: TypeAlias = JSONDict | list[JSONDict] | None
"""Zarr array options, for every level or one dict per level."""
