"""Running a planned pixel write: level arrays created, pixels written, then the metadata."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, replace
from typing import Any

import zarr

from ..engine.backends import EngineRun, Executor, execute, level_sink, pick_executor
from ..engine.memory import memory_budget_from
from ..engine.targets import LevelTarget
from ..io.archive import Archive, ArchiveStore
from ..io.archive_open import open_archive, open_remote_archive
from ..io.archive_stream import StreamedArchiveWriter, part_size_for, upload_buffers
from ..io.layout import archive_storage_options
from ..io.locking import metadata_lock
from ..io.staging import held
from ..io.storage import (
    GroupLike,
    archive_destination,
    open_group,
    read_ngff_attrs,
    remote_archive,
    remove_member,
    write_ngff_attrs,
)
from ..ngff.documents import build_image_label
from ..ngff.format import CurrentFormat, Format
from .levels import (
    StagedOverwrite,
    _check_label_levels,
    _clear_image,
    _create_level_arrays,
    _follow_image_levels,
    _old_image,
    _planned_arrays,
    _resume_arrays,
    _staged_overwrite,
    _StoredTask,
)
from .metadata import _check_storable, _coerce_format, _resolve_target
from .parameters import write_arrays
from .request import PixelRequest, WritePlan, _FinalWrite, plan_write


def _engine_runs(plan: WritePlan, arrays: list[Any], resume: bool) -> list[EngineRun]:
    """The engine runs of ``plan``: one for a pyramid, one per given level."""
    if len(plan.sources) == 1:
        resamplers: list[Any] = [None, *plan.steps]
        targets = [
            LevelTarget(array, layout.write_unit, resampler, level_sink(array))
            for array, layout, resampler in zip(arrays, plan.layouts, resamplers, strict=True)
        ]
        runs = [(plan.sources[0], targets, list(plan.factors))]
    else:
        runs = [
            (
                source,
                [LevelTarget(array, layout.write_unit, None, level_sink(array))],
                [plan.factors[0]],
            )
            for source, array, layout in zip(plan.sources, arrays, plan.layouts, strict=True)
        ]
    return [
        EngineRun(
            source,
            targets,
            engine_plan,
            # With resume, tasks whose write units are all stored and intact are skipped.
            _StoredTask(tuple(targets)) if resume else None,
        )
        for (source, targets, _), engine_plan in zip(runs, plan.engine_plans, strict=True)
    ]


def plan_pixels(request: PixelRequest, fmt: Any) -> zarr.Group:
    """The image ``request`` would write, in a memory store: metadata and level arrays, no
    pixels. Checks and plans as :func:`write_pixels` does; reads no pixel, builds no tasks."""
    resolved_fmt = _coerce_format(fmt) or CurrentFormat()
    plan = plan_write(request, resolved_fmt)
    _check_storable(plan.attrs, resolved_fmt, "metadata")
    group = zarr.open_group(_planned_arrays(plan)[0].store, mode="r+")
    write_ngff_attrs(group, plan.attrs)
    return group


def write_pixels(group: GroupLike, request: PixelRequest, fmt: Any) -> list:
    """Plan, then create the arrays, write the pixels and finally the metadata.

    With ``request.resume``, the arrays of an interrupted write are kept and only missing or
    broken write units are written again. Returns ``[]``, or one ``dask.delayed`` object for
    ``compute=False``.
    """
    destination = archive_destination(group)
    remote = remote_archive(group)
    if remote is not None:  # written whole, replacing what is there (see open_remote_archive)
        _check_remote_archive_request(remote, request)
        existing, resolved_fmt = None, _coerce_format(fmt) or CurrentFormat()
    else:
        existing, resolved_fmt = _resolve_target(group, fmt)
    if destination is not None or remote is not None or _in_archive(group):
        request = _archive_request(request, resolved_fmt)
    expected = _expected_bytes(request)
    streamed = upload_buffers(part_size_for(expected)) if remote is not None else _streamed(group)
    if streamed:  # an S3 upload's buffers come out of the budget, not on top of it
        request = replace(request, memory_budget=_budget_less(request.memory_budget, streamed))
    image_levels = None
    if request.label is not None and existing is not None:
        request, image_levels = _follow_image_levels(existing, request)
    plan = plan_write(request, resolved_fmt)
    _check_label_levels(request, plan, image_levels)
    attrs = plan.attrs
    label = request.label
    if label is not None:
        label_metadata = dict(label.metadata or {})
        label_metadata.setdefault("source", {"image": "../../"})
        colors = label_metadata.pop("colors", None)
        properties = label_metadata.pop("properties", None)
        attrs = dict(plan.attrs)
        attrs["image-label"] = build_image_label(resolved_fmt, colors, properties, label_metadata)
    _check_storable(attrs, resolved_fmt, "metadata" if label is None else "label_metadata")
    planned = _planned_arrays(plan)
    # Every argument is checked: from here on, things are written.
    archive = None
    if destination is not None or remote is not None:
        if pick_executor(request.compute) is Executor.DISTRIBUTED:
            raise ValueError(
                f"group: {destination or remote}: an .ozx archive is written by one process, "
                "not by dask.distributed workers; write a directory, or close the client"
            )
        if remote is not None:
            archive = open_remote_archive(
                remote, overwrite=request.overwrite, expected_bytes=expected
            )
        else:
            assert destination is not None
            archive = open_archive(destination, replace=False, resume=request.resume)
        group = zarr.open_group(ArchiveStore(archive), mode="a", zarr_format=3)
        existing = group if existing is not None else None
    try:
        return _write_into(group, existing, request, plan, attrs, planned, archive)
    except BaseException:
        if archive is not None:
            archive.abandon()
        raise


def _write_into(
    group: GroupLike,
    existing: zarr.Group | None,
    request: PixelRequest,
    plan: WritePlan,
    attrs: dict,
    planned: list,
    archive: Archive | None,
) -> list:
    """The writing half of :func:`write_pixels`; ``archive`` is committed once the metadata
    is written."""
    resolved_fmt = plan.fmt
    label = request.label
    root = (
        existing
        if existing is not None
        else open_group(group, mode="a", zarr_format=resolved_fmt.zarr_format)
    )
    listing: tuple[zarr.Group, str, Format] | None = None
    created_labels_group = False
    if label is None:
        target = root
        what = "an image"
    else:
        # Under the lock: label writers racing to create the labels group must not
        # overwrite a labels list another one has already written.
        with metadata_lock(root, "labels"):
            created_labels_group = "labels" not in root
            labels_group = root.require_group("labels")
        target = labels_group.require_group(label.name)
        what = f"a label image named {label.name!r}"
        listing = (labels_group, label.name, resolved_fmt)
    swap: StagedOverwrite | None = None
    try:
        if request.resume:
            arrays = _resume_arrays(target, plan, attrs, planned)
        else:
            old = _old_image(target, request.overwrite, what)
            staged = _staged_overwrite(old, plan) if old is not None else None
            if staged is not None:  # the old image stays whole until the new one is
                target, swap = staged
            elif old is not None:
                _clear_image(old, plan)
            arrays = _create_level_arrays(target, plan)
        write_arrays(target, plan.parameter_arrays)  # before the metadata that names them
        final: Any = _FinalWrite(((target, attrs),), listing, swap, resumed=request.resume)
        if archive is not None:
            final = _Committing(final, archive)
        runs = _engine_runs(plan, arrays, request.resume)
        if swap is not None and pick_executor(request.compute) is Executor.THREADS:
            # Held while written, so that a later write can tell it from a killed one's.
            with held(swap.staging):
                return execute(runs, final, request.compute, request.progress)
        return execute(runs, final, request.compute, request.progress)
    except BaseException:
        if swap is not None:  # the old image is untouched; the half-written new one goes
            shutil.rmtree(swap.staging, ignore_errors=True)
        if created_labels_group:
            _remove_unlisted_labels_group(root)
        raise


@dataclass(frozen=True)
class _Committing:
    """The final step of a write into an archive: the metadata, then the archive's commit."""

    final: Any
    archive: Archive

    def __call__(self, *done: Any) -> None:
        try:
            self.final(*done)
        except BaseException:
            self.archive.abandon()
            raise
        self.archive.commit()


def _check_remote_archive_request(url: str, request: PixelRequest) -> None:
    """Refuse what an archive on object storage cannot do: be added to, or resumed."""
    if request.label is not None:
        raise ValueError(
            f"group: {url}: labels cannot be added to an .ozx on object storage (it is written "
            "whole); write the image and its labels within "
            "`with omezarr.open_ozx(url, mode='w') as root:`"
        )
    if request.resume:
        raise ValueError(
            f"resume: {url}: an .ozx on object storage cannot be resumed (its upload starts "
            "only once it is complete); write it again without resume"
        )


def _expected_bytes(request: PixelRequest) -> int:
    """An upper bound of what the write stores: the uncompressed levels (level 0 and up to a
    third more for its pyramid), for planning the parts of an archive streamed to S3."""
    total = 0
    for source in request.sources:
        shape = getattr(source, "shape", ())
        dtype = getattr(source, "dtype", None)
        itemsize = int(getattr(dtype, "itemsize", 8) or 8)
        total += int(math.prod(int(n) for n in shape)) * itemsize
    return total if request.levels_given else total * 4 // 3


def _streamed(group: GroupLike) -> int:
    """The memory the S3 upload of the archive holding ``group`` takes (0: none)."""
    if _in_archive(group):
        assert isinstance(group, zarr.Group) and isinstance(group.store, ArchiveStore)
        archive = group.store.archive
        if isinstance(archive, StreamedArchiveWriter):
            return archive.buffers
    return 0


def _budget_less(memory_budget: int | str | None, streamed: int) -> int:
    """The engine's share of ``memory_budget`` once an upload holds ``streamed`` bytes.

    Raises
    ------
    ValueError
        If too little is left (naming memory_budget and what would do).
    """
    budget = memory_budget_from(memory_budget)
    left = budget - streamed
    if left < _ENGINE_MINIMUM:
        raise ValueError(
            f"memory_budget: {budget / 2**20:,.0f} MiB leaves the writer {left / 2**20:,.0f} MiB "
            f"once the S3 upload holds its {streamed / 2**20:,.0f} MiB of parts; give at least "
            f"{(streamed + _ENGINE_MINIMUM) / 2**20:,.0f} MiB, or write a local .ozx"
        )
    return left


_ENGINE_MINIMUM = 16 * 2**20
"""The smallest budget the engine plans with (memory_budget_from refuses less)."""


def _in_archive(group: GroupLike) -> bool:
    return isinstance(group, zarr.Group) and isinstance(group.store, ArchiveStore)


def _archive_request(request: PixelRequest, fmt: Format) -> PixelRequest:
    """``request`` for a single-file archive: zarr v3 only, sharded unless shards are given."""
    if fmt.zarr_format != 3:
        raise ValueError(
            f"fmt: a single-file OME-Zarr (.ozx) holds zarr v3, so OME-NGFF 0.5 or later; "
            f"not {fmt.version}"
        )
    return replace(request, storage_options=archive_storage_options(request.storage_options))


def _remove_unlisted_labels_group(root: zarr.Group) -> None:
    """After a failed first label write: the ``labels`` group it created lists no label yet
    (another writer's may have been listed since: then it stays), so it goes, lest it make a
    valid image invalid."""
    with metadata_lock(root, "labels"):
        labels = root.get("labels")
        if isinstance(labels, zarr.Group) and not read_ngff_attrs(labels).get("labels"):
            remove_member(root, "labels")
