"""The level arrays of an image: creating them, clearing an old image, and resuming a write."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import zarr
from zarr.storage import MemoryStore

from .._errors import InvalidParameterError, Parameter
from ..engine.targets import LevelTarget
from ..engine.walk import task_write_units
from ..io.layout import EVERY_CHUNK_STORED
from ..io.locking import local_directory
from ..io.staging import clean_stale, new_token, staging_path, swap_into_place
from ..io.storage import (
    group_zarr_format,
    is_partial_file,
    open_group,
    read_ngff_attrs,
    remove_member,
)
from ..io.units import unit_intact
from ..ngff.parse import _read_transformations, _read_v06_levels
from ..types import JSONDict
from .request import PixelRequest, WritePlan

_IMAGE_KEYS = ("multiscales", "omero", "image-label")
"""The attributes that describe an image: replaced by an overwrite; the others are kept."""


@dataclass(frozen=True)
class OldImage:
    """An image already in the target group, as an overwrite finds it."""

    group: zarr.Group
    level_names: frozenset[str]
    level_shapes: tuple[tuple[int, ...], ...]
    retained_attributes: JSONDict  # the group's raw attributes without the image keys

    def labels_fit(self, shapes: Sequence[Sequence[int]]) -> bool:
        """Whether label images written for this image fit an image of level ``shapes``."""
        return self.level_shapes == tuple(tuple(int(n) for n in shape) for shape in shapes)

    def label_names(self) -> list[str]:
        """The label images below this image's ``labels`` group (none when it has none)."""
        labels = self.group.get("labels")
        return sorted(labels.group_keys()) if isinstance(labels, zarr.Group) else []


def _old_image(group: zarr.Group, overwrite: bool, what: str) -> OldImage | None:
    """The image already in ``group``, if any; refused unless ``overwrite``."""
    attrs = read_ngff_attrs(group)
    old = attrs.get("multiscales")
    level_names = {m for m in group.array_keys() if m.startswith("s") and m[1:].isdigit()}
    ordered: list[str] = []
    if isinstance(old, list):
        for multiscale in old:
            for dataset in (
                multiscale.get("datasets", []) if isinstance(multiscale, Mapping) else []
            ):
                if isinstance(dataset, Mapping) and isinstance(dataset.get("path"), str):
                    level_names.add(dataset["path"])
                    ordered.append(dataset["path"])
    if old is None and not level_names:
        return None
    if not overwrite:
        raise ValueError(
            f"group: {group.store_path} already holds {what}; pass overwrite=True to replace it"
        )
    shapes = []
    for name in ordered or sorted(level_names, key=lambda n: (len(n), n)):
        member = group.get(name)
        shapes.append(tuple(int(n) for n in member.shape) if isinstance(member, zarr.Array) else ())
    raw = dict(group.attrs)
    if group_zarr_format(group) == 3:
        ome = raw.get("ome")
        if isinstance(ome, Mapping):
            raw["ome"] = {k: v for k, v in ome.items() if k not in _IMAGE_KEYS}
    else:
        raw = {k: v for k, v in raw.items() if k not in _IMAGE_KEYS}
    return OldImage(group, frozenset(level_names), tuple(shapes), raw)


def _drop_labels_that_no_longer_fit(old: OldImage, plan: WritePlan) -> None:
    """Remove the old image's labels when the new levels differ from theirs, and say so."""
    names = old.label_names()
    if not names or old.labels_fit(plan.shapes):
        return
    remove_member(old.group, "labels")
    warnings.warn(
        f"overwrite: removed the labels {names} of {old.group.store_path}: they were written "
        f"for the old image's levels {list(old.level_shapes)}, not the new ones "
        f"{[list(shape) for shape in plan.shapes]}; write them again",
        RuntimeWarning,
        stacklevel=5,
    )


def _clear_image(old: OldImage, plan: WritePlan) -> None:
    """Remove ``old`` in place (stores without a local directory to stage in).

    The image metadata goes first, so a crash while replacing never leaves old metadata
    describing half-written new arrays; labels that would not fit the new levels go too.
    """
    group = old.group
    if group_zarr_format(group) == 3:
        group.attrs.update({"ome": old.retained_attributes.get("ome", {})})
    else:
        for key in _IMAGE_KEYS:
            if key in group.attrs:
                del group.attrs[key]
    for level in sorted(old.level_names):
        remove_member(group, level)
    _drop_labels_that_no_longer_fit(old, plan)


@dataclass(frozen=True)
class StagedOverwrite:
    """The last step of an overwrite on a local disk: the new image, complete in a hidden
    sibling directory, takes the old one's place.

    The old image's other members (its labels, when they fit the new levels, and anything
    else it holds) are moved into the new directory first; then the directories are swapped
    (:func:`omezarr.io.staging.swap_into_place`). Until then the old image is untouched and
    readable; a kill leaves it as it was.
    """

    old: OldImage
    directory: Path
    staging: Path
    token: str
    plan: WritePlan

    def __call__(self) -> None:
        _drop_labels_that_no_longer_fit(self.old, self.plan)
        metadata = {"zarr.json", ".zgroup", ".zattrs", ".zarray", ".zmetadata"}
        for entry in sorted(self.directory.iterdir()):
            if entry.name in metadata or entry.name in self.old.level_names:
                continue
            if is_partial_file(entry.name) or (self.staging / entry.name).exists():
                continue
            os.rename(entry, self.staging / entry.name)
        swap_into_place(self.staging, self.directory, self.token)


def _staged_overwrite(old: OldImage, plan: WritePlan) -> tuple[zarr.Group, StagedOverwrite] | None:
    """A fresh group beside ``old`` on a local disk to write the new image into, and the step
    that swaps it into place; None for other stores (the image is then replaced in place)."""
    directory = local_directory(old.group)
    if directory is None:
        return None
    for line in clean_stale(directory):  # leftovers of killed overwrites of this image
        warnings.warn(f"overwrite: {line}", RuntimeWarning, stacklevel=5)
    token = new_token()
    staging = staging_path(directory, token)
    group = open_group(os.fspath(staging), mode="w", zarr_format=plan.fmt.zarr_format)
    group.attrs.put(old.retained_attributes)
    return group, StagedOverwrite(old, directory, staging, token, plan)


def _create_level_arrays(group: zarr.Group, plan: WritePlan) -> list[Any]:
    return [_create_level_array(group, plan, level) for level in range(len(plan.shapes))]


def _create_level_array(
    group: zarr.Group, plan: WritePlan, level: int, keep_chunks: bool = False
) -> Any:
    """Create level ``level``; chunks stored under its name are removed, unless ``keep_chunks``
    (a resumed write whose level metadata was lost, as in a killed ``.ozx`` write)."""
    layout = plan.layouts[level]
    kwargs: dict[str, Any] = dict(layout.extra)
    kwargs.setdefault("fill_value", False if plan.dtype.kind == "b" else 0)
    # Every chunk is stored, even one equal to the fill value, so that `verify` can tell a
    # lost chunk from an empty one (an empty chunk compresses to a few bytes).
    kwargs["config"] = {"write_empty_chunks": True, **dict(kwargs.get("config") or {})}
    if kwargs["config"]["write_empty_chunks"]:  # unless the caller's config says otherwise
        kwargs["attributes"] = {**dict(kwargs.get("attributes") or {}), **EVERY_CHUNK_STORED}
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
        overwrite=not keep_chunks,
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
            arrays.append(_create_level_array(target, plan, level, keep_chunks=True))
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


_DEFAULT_SCALE_FACTORS = (2, 4, 8, 16)
"""``write_labels``' default: a label image written with it follows its image's levels."""


def _image_levels(image: zarr.Group) -> tuple[list[str], list[tuple[float, ...]]] | None:
    """The axis names and each level's pixel size of the image in ``image`` (from its first
    multiscale), or None when it holds none that can be read."""
    try:
        multiscale = read_ngff_attrs(image)["multiscales"][0]
        if "coordinateSystems" in multiscale:
            axes, transforms, _ = _read_v06_levels(multiscale, "image")
        else:
            axes = multiscale["axes"]
            transforms = [d.get("coordinateTransformations") for d in multiscale["datasets"]]
        names = [str(a["name"]) if isinstance(a, Mapping) else str(a) for a in axes]
        scales = [_read_transformations(t, len(names), "image")[0] for t in transforms]
    except Exception:  # no image there (yet), or one too old or broken to follow
        return None
    return names, scales


def _follow_image_levels(
    image: zarr.Group, request: PixelRequest
) -> tuple[PixelRequest, int | None]:
    """A label request with its image's factors when the caller left ``scale_factors`` at its
    default, and the image's number of levels (None when ``image`` holds no image that can be
    read), which :func:`_check_label_levels` holds the plan to."""
    found = _image_levels(image)
    if found is None:
        return request, None
    dims, scales = found
    given = request.scale_factors
    if request.levels_given or not (
        isinstance(given, list | tuple) and tuple(given) == _DEFAULT_SCALE_FACTORS
    ):
        return request, len(scales)
    # The image's factors, on the space axes the labels share with it (not c, usually).
    followed = [
        {
            d: round(size / size0)
            for d, size, size0 in zip(dims, scale, scales[0], strict=True)
            if d in ("x", "y", "z") and round(size / size0) != 1
        }
        for scale in scales[1:]
    ]
    return dataclasses.replace(request, scale_factors=followed), len(scales)


def _check_label_levels(request: PixelRequest, plan: WritePlan, image_levels: int | None) -> None:
    """Refuse a label image whose levels are not its image's (the validator's rule)."""
    if image_levels is None or len(plan.shapes) == image_levels:
        return
    if request.levels_given:
        raise InvalidParameterError(
            Parameter("pyramid"),
            f": {len(plan.shapes)} levels given, the image has {image_levels}; a label image "
            "needs one level per image level",
        )
    raise InvalidParameterError(
        Parameter("scale_factors"),
        f": {len(plan.shapes)} levels, the image has {image_levels}; leave scale_factors at "
        "its default to follow the image's levels",
    )
