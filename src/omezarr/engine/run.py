"""Running a plan: tasks in threads or as dask delayed objects, regions written as they are computed."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from ..io.files import WriteBehind, release_buffers
from ..pyramid.mosaic import Mosaic
from .box import Box
from .memory import prime_malloc
from .plan import PyramidPlan, _task_bytes, _task_read_box
from .sources import (
    _ASSEMBLY,
    _DASK_GRAPHS,
    _chunk_bounds,
    _ChunkCache,
    _is_zarr_array,
    _OffsetBlock,
    _read,
)
from .targets import LevelTarget, Progress
from .walk import _Lag, _level_regions, _UnitBuffers

__all__ = [
    "run_plan",
]


def _write_region(
    source: Any,
    targets: Sequence[LevelTarget],
    buffers: Sequence[_UnitBuffers],
    cache: _ChunkCache | None,
    region: Box,
    levels: tuple[list[Box], list[Box]],
    later_reads: Sequence[Box] = (),
    behind: WriteBehind | None = None,
) -> int:
    """Read one region (plus halo), write level 0 and hand every level's owned pixels to the
    buffers; return the bytes written. Its pixels are freed on return, before the next read.

    ``levels`` is the region's :func:`_level_regions`; ``later_reads``, what the task's later
    regions read, is all the cache keeps."""
    owned, needed = levels
    read_box = needed[0]
    if cache is not None:
        block = cache.read(read_box)
        # The region's chunks now live on in ``block``; keep of them only what later
        # regions read (strips behind them), not whole chunks beside ``block``.
        cache.retain(later_reads)
    else:
        block = _read(source, read_box)
    level0 = block[region.relative_to(read_box.start)]
    targets[0].store(region.start, level0, behind)
    written = level0.nbytes
    computed: list[tuple[np.ndarray | Mosaic, tuple[int, ...]] | None] = [(block, read_box.start)]
    for level, target in enumerate(targets[1:], start=1):
        if needed[level].is_empty:
            computed.append(None)
            continue
        assert target.resampler is not None
        origin = computed[target.resampler.source]
        assert origin is not None
        pixels = target.resampler.step.resample(origin[0], origin[1], needed[level].slices())
        computed.append((pixels, needed[level].start))
        out = owned[level]
        if not out.is_empty:
            mine = pixels[out.relative_to(needed[level].start)]
            written += buffers[level - 1].add(out.start, mine)
    return written


def run_task(
    source: Any,
    targets: Sequence[LevelTarget],
    plan: PyramidPlan,
    task: Box,
    on_region: Callable[[int], None] | None = None,
) -> int:
    """Compute and write everything ``task`` owns; return the bytes written.

    ``on_region`` is called with the bytes written after each region.
    """
    prime_malloc()
    dtype = np.dtype(
        getattr(source, "dtype", None) or np.asarray(source[(slice(0, 1),) * len(plan.shape)]).dtype
    )
    dtype = dtype.newbyteorder("=") if not dtype.isnative else dtype
    # Leaving the block waits for the files in flight: the task's files are all stored when
    # it returns (and before an error goes up).
    with WriteBehind(plan.write_behind_bytes) as behind:
        buffers = [_UnitBuffers(t, dtype, behind) for t in targets[1:]]
        bounds = _chunk_bounds(source) if plan.halo else None
        cache = _ChunkCache(source, bounds, plan.cache_bytes) if bounds is not None else None
        lag = _Lag(targets, task) if plan.halo else None
        regions = list(plan.regions(task))
        levels = [_level_regions(targets, region, lag) for region in regions]
        reads = [needed[0] for _, needed in levels]  # level 0's read box of each region
        total = 0
        for position, region in enumerate(regions):
            written = _write_region(
                source,
                targets,
                buffers,
                cache,
                region,
                levels[position],
                reads[position + 1 :],
                behind,
            )
            total += written
            if on_region is not None:
                on_region(written)
        leftover = [b for b in buffers if b.units]
        if leftover:  # pragma: no cover - a planning bug, never user input
            raise RuntimeError(
                f"internal error: task {task} left {sum(len(b.units) for b in leftover)} units unwritten"
            )
        return total


def run_plan(
    source: Any,
    targets: Sequence[LevelTarget],
    plan: PyramidPlan,
    progress: Callable[[Progress], None] | None = None,
    skip: Callable[[Box], bool] | None = None,
) -> int:
    """Run every task of ``plan`` in threads, at most ``plan.concurrency`` at once.

    Parameters
    ----------
    source : array-like
        Level 0's pixels: NumPy, dask, zarr, or anything with shape, dtype and indexing.
    targets : sequence of LevelTarget
        Every level, level 0 first.
    plan : PyramidPlan
        From :func:`plan_pyramid` for these targets.
    progress : callable, optional
        Called with a :class:`Progress` after every region.
    skip : callable, optional
        ``skip(task)`` True (asked in the worker threads): the task is not run; its regions
        count as done and skipped (a resumed write).

    Returns
    -------
    int
        The bytes written (uncompressed).

    Raises
    ------
    Exception
        The first failure of a task, once the running tasks have finished; no new task starts
        after it.
    """
    bytes_total = sum(math.prod(t.shape) for t in targets) * plan.itemsize
    regions_total = plan.n_regions
    lock = threading.Lock()
    state = {"regions": 0, "bytes": 0, "skipped": 0}

    def report(regions: int, written: int, skipped: int) -> None:
        with lock:
            state["regions"] += regions
            state["bytes"] += written
            state["skipped"] += skipped
            snapshot = Progress(
                state["regions"],
                regions_total,
                state["bytes"],
                bytes_total,
                len(targets),
                state["skipped"],
            )
        if progress is not None:
            progress(snapshot)

    def on_region(written: int) -> None:
        report(1, written, 0)

    def run(task: Box) -> int:
        if skip is not None and skip(task):
            regions = sum(1 for _ in plan.regions(task))
            report(regions, _task_bytes(targets, task, plan.itemsize), regions)
            return 0
        return run_task(source, targets, plan, task, on_region)

    tasks = iter(plan.tasks())
    written = 0
    try:
        with ThreadPoolExecutor(max_workers=plan.concurrency, thread_name_prefix="omezarr") as pool:
            running: set[Future[int]] = set()
            failure: BaseException | None = None
            while True:
                while failure is None and len(running) < plan.concurrency:
                    task = next(tasks, None)
                    if task is None:
                        break
                    running.add(pool.submit(run, task))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    error = future.exception()
                    if error is not None and failure is None:
                        failure = error
                    elif error is None:
                        written += future.result()
            if failure is not None:
                raise failure
    finally:
        _DASK_GRAPHS.forget()
        release_buffers()
    return written


def _run_task_releasing(
    source: Any, targets: Sequence[LevelTarget], plan: PyramidPlan, task: Box
) -> int:
    """:func:`run_task` in a thread that outlives the write (a dask worker's): the thread's
    assembly and direct I/O buffers are released afterwards. (run_plan's threads end with the
    write, and keep the buffers from task to task: a fresh one per task fragments the heap.)"""
    try:
        return run_task(source, targets, plan, task)
    finally:
        _ASSEMBLY.release()
        release_buffers()


def _run_task_on_block(
    block: Any, offset: Sequence[int], targets: Sequence[LevelTarget], plan: PyramidPlan, task: Box
) -> int:
    source = _OffsetBlock(np.asarray(block), offset, plan.shape)
    return _run_task_releasing(source, targets, plan, task)


def delayed_tasks(
    source: Any,
    targets: Sequence[LevelTarget],
    plan: PyramidPlan,
    skip: Callable[[Box], bool] | None = None,
) -> list[Any]:
    """One ``dask.delayed`` per task, for ``compute=False`` and ``dask.distributed``.

    Each task receives its part of the source (plus halo) as a dask dependency, so the
    source is read where the task runs; zarr sources are passed as they are and read lazily.

    Parameters
    ----------
    source, targets, plan
        As for :func:`run_plan`.
    skip : callable, optional
        Tasks for which ``skip(task)`` is True are left out (asked here, when the graph is
        built).

    Returns
    -------
    list of dask.delayed.Delayed
        One per task that is not skipped; each returns the bytes it wrote.
    """
    import dask
    import dask.array as da

    task_list = [task for task in plan.tasks() if skip is None or not skip(task)]
    if _is_zarr_array(source):
        run = dask.delayed(_run_task_releasing, pure=False)
        return [run(source, targets, plan, task) for task in task_list]
    if isinstance(source, da.Array):
        lazy = source
    else:
        # An explicit meta: plain array-likes (shape, dtype, __getitem__) have no ``ndim``.
        meta = np.empty((0,) * len(plan.shape), dtype=source.dtype)
        lazy = da.from_array(source, chunks=plan.task_shape, meta=meta)
    run_block = dask.delayed(_run_task_on_block, pure=False)
    tasks = []
    for task in task_list:
        read_box = _task_read_box(targets, task)
        tasks.append(run_block(lazy[read_box.slices()], read_box.start, targets, plan, task))
    return tasks
