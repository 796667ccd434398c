"""The level arrays of an image: creating them, clearing an old image, and resuming a write."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import zarr
from zarr.storage import MemoryStore

from ..engine.targets import LevelTarget
from ..engine.walk import task_write_units
from ..io.storage import (
    group_zarr_format,
    open_group,
    read_ngff_attrs,
    remove_member,
)
from ..io.units import unit_intact
from ..types import JSONDict
from .request import WritePlan


def _clear_image(group: zarr.Group, overwrite: bool, what: str) -> None:
    """Refuse to write over an image unless ``overwrite``; then remove it completely.

    The multiscales metadata goes first, so a crash while replacing never leaves old
    metadata describing half-written new arrays.
    """
    attrs = read_ngff_attrs(group)
    old = attrs.get("multiscales")
    level_names = {m for m in group.array_keys() if m.startswith("s") and m[1:].isdigit()}
    if isinstance(old, list):
        for multiscale in old:
            for dataset in (
                multiscale.get("datasets", []) if isinstance(multiscale, Mapping) else []
            ):
                if isinstance(dataset, Mapping) and isinstance(dataset.get("path"), str):
                    level_names.add(dataset["path"])
    if old is None and not level_names:
        return
    if not overwrite:
        raise ValueError(
            f"group: {group.store_path} already holds {what}; pass overwrite=True to replace it"
        )
    stale = {k: v for k, v in attrs.items() if k not in ("multiscales", "omero", "image-label")}
    if group_zarr_format(group) == 3:
        group.attrs.update({"ome": stale})
    else:
        for key in ("multiscales", "omero", "image-label"):
            if key in group.attrs:
                del group.attrs[key]
    for level in sorted(level_names):
        remove_member(group, level)


def _create_level_arrays(group: zarr.Group, plan: WritePlan) -> list[Any]:
    return [_create_level_array(group, plan, level) for level in range(len(plan.shapes))]


def _create_level_array(group: zarr.Group, plan: WritePlan, level: int) -> Any:
    layout = plan.layouts[level]
    kwargs: dict[str, Any] = dict(layout.extra)
    kwargs.setdefault("fill_value", False if plan.dtype.kind == "b" else 0)
    # Every chunk is stored, even one equal to the fill value, so that `verify` can tell a
    # lost chunk from an empty one (an empty chunk compresses to a few bytes).
    kwargs["config"] = {"write_empty_chunks": True, **dict(kwargs.get("config") or {})}
    if plan.fmt.zarr_format == 3:
        kwargs["dimension_names"] = list(plan.dims)
        if layout.shards is not None:
            kwargs["shards"] = layout.shards
    else:
        kwargs["chunk_key_encoding"] = plan.fmt.chunk_key_encoding
    return group.create_array(
        name=f"s{level}",
        shape=plan.shapes[level],
        dtype=plan.dtype,
        chunks=layout.chunks,
        compressors=layout.compressors,
        overwrite=True,
        **kwargs,
    )


def _array_layout(array: zarr.Array) -> JSONDict:
    """Everything an array's metadata says but its attributes: shape, dtype, chunks, codecs."""
    return {k: v for k, v in array.metadata.to_dict().items() if k != "attributes"}


def _planned_arrays(plan: WritePlan) -> list[Any]:
    """The level arrays, created in memory: zarr refuses bad options here, before any write."""
    scratch = open_group(MemoryStore(), mode="w", zarr_format=plan.fmt.zarr_format)
    try:
        return _create_level_arrays(scratch, plan)
    except Exception as error:  # shape and dtype are checked: only the options can be at fault
        raise ValueError(
            f"storage_options: zarr refuses these array options ({type(error).__name__}: {error})"
        ) from None


def _resume_arrays(
    target: zarr.Group, plan: WritePlan, attrs: JSONDict, planned: list[Any]
) -> list[Any]:
    """The level arrays of an interrupted write of the same image; missing ones are created.

    Raises
    ------
    ValueError
        If ``target`` holds metadata or level arrays that this write would not produce.
    """
    replace = "pass overwrite=True to replace it"
    stored = read_ngff_attrs(target)
    if "multiscales" in stored and any(stored.get(k) != v for k, v in attrs.items()):
        raise ValueError(
            f"resume: {target.store_path} holds an image with other metadata than this "
            f"write's; {replace}"
        )
    names = [f"s{level}" for level in range(len(planned))]
    extra = sorted(
        m for m in target.array_keys() if m.startswith("s") and m[1:].isdigit() and m not in names
    )
    if extra:
        raise ValueError(
            f"resume: {target.store_path} holds levels {extra} that this write does not plan; "
            f"{replace}"
        )
    arrays = []
    for level, (name, planned_array) in enumerate(zip(names, planned, strict=True)):
        if name not in target:
            arrays.append(_create_level_array(target, plan, level))
            continue
        member = target[name]
        if not isinstance(member, zarr.Array) or _array_layout(member) != _array_layout(
            planned_array
        ):
            raise ValueError(
                f"resume: level {name!r} of {target.store_path} differs from the planned one "
                f"(shape, dtype, chunks, shards or codecs); {replace}"
            )
        # The runtime config (write_empty_chunks above all) is not stored: take the plan's.
        arrays.append(member.with_config(planned_array.config))
    return arrays


@dataclass(frozen=True)
class _StoredTask:
    """The skip test of a resumed write: every write unit of the task is stored and decodes."""

    targets: tuple[LevelTarget, ...]

    def __call__(self, task: Any) -> bool:
        units = task_write_units(self.targets, task)
        return all(
            unit_intact(cast(zarr.Array, target.array), coords, target.write_unit)
            for target, level_units in zip(self.targets, units, strict=True)
            for coords in level_units
        )
