"""Running a planned pixel write on threads, dask or a distributed cluster, then its metadata."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import dask
import zarr

from ..engine.plan import plan_pyramid
from ..engine.run import delayed_tasks, run_plan
from ..engine.targets import LevelTarget, Progress
from ..io.chunkio import direct_writer
from ..io.layout import input_chunks
from ..io.locking import metadata_lock
from ..io.storage import (
    GroupLike,
    open_group,
)
from ..ngff.documents import build_image_label
from ..ngff.format import Format
from ..types import JSONDict
from .levels import _clear_image, _create_level_arrays, _planned_arrays, _resume_arrays, _StoredTask
from .metadata import _check_storable, _resolve_target
from .request import _FinalWrite, _PixelJob, _plan_job


def _engine_runs(
    job: _PixelJob, arrays: list[Any], threads: int | None
) -> list[tuple[Any, list[LevelTarget], Any]]:
    """(source, targets, plan) for each engine run: one for a pyramid, one per given level."""
    if len(job.sources) == 1:
        resamplers: list[Any] = [None, *job.steps]
        targets = [
            LevelTarget(array, layout.write_unit, resampler, direct_writer(array))
            for array, layout, resampler in zip(arrays, job.layouts, resamplers, strict=True)
        ]
        runs = [(job.sources[0], targets, job.factors)]
    else:
        runs = [
            (
                source,
                [LevelTarget(array, layout.write_unit, None, direct_writer(array))],
                [job.factors[0]],
            )
            for source, array, layout in zip(job.sources, arrays, job.layouts, strict=True)
        ]
    return [
        (
            source,
            targets,
            plan_pyramid(
                targets,
                factors,
                job.dtype.itemsize,
                job.memory_budget,
                input_chunks(source),
                threads,
            ),
        )
        for source, targets, factors in runs
    ]


def _active_client() -> Any:
    """The active dask.distributed client, if distributed is in use."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_client

    try:
        return get_client()
    except ValueError:
        return None


def _run_job(
    job: _PixelJob,
    arrays: list[Any],
    final: _FinalWrite,
    compute: bool | None,
    progress: Callable[[Progress], None] | None,
    resume: bool = False,
) -> list:
    """Write every pixel, then the metadata; or return dask.delayed tasks that do so.

    With ``resume``, tasks whose write units are all stored and intact are skipped.
    """
    client = _active_client()
    runs = _engine_runs(job, arrays, None)

    def skip(targets: list[LevelTarget]) -> _StoredTask | None:
        return _StoredTask(tuple(targets)) if resume else None

    if compute and client is None:
        for source, targets, plan in runs:
            run_plan(source, targets, plan, progress, skip(targets))
        final()
        return []
    tasks = [
        task
        for source, targets, plan in runs
        for task in delayed_tasks(source, targets, plan, skip(targets))
    ]
    finish = dask.delayed(final, pure=False)(
        *tasks, dask_key_name=f"omezarr-metadata-{uuid.uuid4().hex}"
    )
    if compute:
        client.compute(finish).result()
        return []
    return [finish]


def _write_pixels(
    group: GroupLike,
    job_args: dict[str, Any],
    overwrite: bool,
    compute: bool | None,
    progress: Callable[[Progress], None] | None,
    fmt: Any,
    label: tuple[str, JSONDict | None] | None = None,
    resume: bool = False,
) -> list:
    """Plan, then create the arrays, write the pixels and finally the metadata.

    With ``resume``, the arrays of an interrupted write are kept and only missing or broken
    write units are written again.
    """
    if progress is not None and not callable(progress):
        raise TypeError(
            f"progress: expected a callable taking a Progress, not {type(progress).__name__}"
        )
    for flag, value in (("overwrite", overwrite), ("resume", resume)):
        if not isinstance(value, bool):
            raise TypeError(f"{flag}: expected True or False, not {value!r}")
    if compute is not None and not isinstance(compute, bool):
        raise TypeError(f"compute: expected True, False or None, not {compute!r}")
    if resume and overwrite:
        raise ValueError(
            "resume, overwrite: pass either resume=True (finish an interrupted write of the "
            "same image) or overwrite=True (replace what is there), not both"
        )
    existing, resolved_fmt = _resolve_target(group, fmt)
    job = _plan_job(fmt=resolved_fmt, **job_args)
    attrs = job.attrs
    if label is not None:
        if label[1] is not None and not isinstance(label[1], Mapping):
            raise TypeError(f"label_metadata: expected a dict, not {type(label[1]).__name__}")
        label_metadata = dict(label[1] or {})
        label_metadata.setdefault("source", {"image": "../../"})
        colors = label_metadata.pop("colors", None)
        properties = label_metadata.pop("properties", None)
        attrs = dict(job.attrs)
        attrs["image-label"] = build_image_label(resolved_fmt, colors, properties, label_metadata)
    _check_storable(attrs, resolved_fmt, "metadata" if label is None else "label_metadata")
    planned = _planned_arrays(job)
    # Every argument is checked: from here on, things are written.
    root = (
        existing
        if existing is not None
        else open_group(group, mode="a", zarr_format=resolved_fmt.zarr_format)
    )
    listing: tuple[zarr.Group, str, Format] | None = None
    if label is None:
        target = root
        what = "an image"
    else:
        # Under the lock: label writers racing to create the labels group must not
        # overwrite a labels list another one has already written.
        with metadata_lock(root, "labels"):
            labels_group = root.require_group("labels")
        target = labels_group.require_group(label[0])
        what = f"a label image named {label[0]!r}"
        listing = (labels_group, label[0], resolved_fmt)
    if resume:
        arrays = _resume_arrays(target, job, attrs, planned)
    else:
        _clear_image(target, overwrite, what)
        arrays = _create_level_arrays(target, job)
    final = _FinalWrite(((target, attrs),), listing)
    return _run_job(job, arrays, final, compute, progress, resume)
