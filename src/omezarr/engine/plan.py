"""Planning a pyramid write: tasks, regions and how many run at once within the budget."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .._numbers import ceil_div
from .box import Box
from .targets import LevelTarget
from .walk import _Lag, _level_regions, _needs_halo, _owned_box, _unit_pieces

__all__ = [
    "PyramidPlan",
    "plan_pyramid",
]


@dataclass(frozen=True)
class PyramidPlan:
    """The partition of level 0 into tasks and regions, and how many tasks run at once.

    Tasks own every write unit of every level they overlap, so they may run in any order and
    in parallel; regions are the steps a task reads its input in. Made by
    :func:`plan_pyramid`; a frozen value.

    Attributes
    ----------
    shape, task_shape, region_shape : tuple of int
        Level 0's shape, and the shapes of a task and of a region (clipped at the end).
    concurrency : int
        Tasks run at once within the budget.
    factors : tuple of tuple of int
        Each level's downsampling factors relative to level 0.
    itemsize : int
        Bytes per pixel.
    levels, halo, cache_bytes, write_behind_bytes
        Number of levels; whether regions read beyond themselves (resize); bytes of input
        chunks the cache keeps; encoded bytes a task may have waiting for the disk.
    task_bytes : int
        Bytes one running task holds at once (its region and a float copy, its partly filled
        write units, kernel scratch, files waiting for the disk): when it exceeds the
        budget, the write cannot keep to it (see :attr:`fits`).
    """

    shape: tuple[int, ...]
    task_shape: tuple[int, ...]
    region_shape: tuple[int, ...]
    concurrency: int
    factors: tuple[tuple[int, ...], ...]
    itemsize: int
    levels: int = field(default=1)
    halo: bool = False
    cache_bytes: int = 0
    write_behind_bytes: int = 16 * 2**20
    """Encoded bytes each task may have waiting for the disk (:class:`WriteBehind`)."""
    task_bytes: int = 0
    memory_budget: int = 0

    @property
    def fits(self) -> bool:
        """Whether one task fits in the memory budget it was planned for."""
        return self.task_bytes <= self.memory_budget

    def tasks(self) -> Iterator[Box]:
        """Every task box, in C order."""
        yield from Box((0,) * len(self.shape), self.shape).grid(self.task_shape)

    def regions(self, task: Box) -> Iterator[Box]:
        """Every region box of ``task``, in Z order (see :meth:`Box.z_order`)."""
        yield from task.z_order(self.region_shape)

    @property
    def n_tasks(self) -> int:
        return math.prod(ceil_div(n, t) for n, t in zip(self.shape, self.task_shape, strict=True))

    @property
    def n_regions(self) -> int:
        # Regions tile each task; tasks are multiples of regions except at the array's end.
        return sum(math.prod(task.tile_counts(self.region_shape)) for task in self.tasks())


def plan_pyramid(
    targets: Sequence[LevelTarget],
    factors: Sequence[Sequence[int]],
    itemsize: int,
    memory_budget: int,
    source_chunks: Sequence[int] | None = None,
    threads: int | None = None,
) -> PyramidPlan:
    """Choose task and region shapes for writing ``targets`` within ``memory_budget``.

    Parameters
    ----------
    targets : sequence of LevelTarget
        Level 0 first.
    factors : sequence of sequence of int
        Each level's integer downsampling factors relative to level 0 (level 0: all 1).
    itemsize : int
        Bytes per pixel.
    memory_budget : int
        Bytes the write may hold at once (approximately; buffers and encodings included).
    source_chunks : sequence of int, optional
        The input's chunk shape, if it is chunked, so regions read whole input chunks.
    threads : int, optional
        Upper bound on concurrent tasks; defaults to the number of CPUs.

    Returns
    -------
    PyramidPlan
        Tasks aligned so that no two share a write unit of any level, regions aligned with the
        input's chunks where it has them, and the number of tasks run at once.

    Raises
    ------
    ValueError
        When even one region of one task does not fit in ``memory_budget``.
    """
    shape = targets[0].shape
    ndim = len(shape)
    # A task must own whole write units on every level: lcm of each unit's level-0 footprint.
    task = list(targets[0].write_unit)
    for target, level_factors in zip(targets, factors, strict=True):
        for axis in range(ndim):
            task[axis] = math.lcm(task[axis], target.write_unit[axis] * level_factors[axis])
    task = [min(t, n) if t < n else n for t, n in zip(task, shape, strict=True)]
    task = [max(1, t) for t in task]

    # Regions: whole level-0 write units, grown (inside a task) to amortise per-call costs.
    region = [max(1, u) for u in targets[0].write_unit]
    if source_chunks is not None:
        # Prefer regions that are whole input chunks too, when the chunk nests in the task.
        for axis in range(ndim):
            candidate = math.lcm(region[axis], max(1, int(source_chunks[axis])))
            if candidate <= task[axis]:
                region[axis] = candidate
    region = [min(r, t) for r, t in zip(region, task, strict=True)]
    workers = max(1, threads if threads is not None else (os.cpu_count() or 1))
    # Regions of a few MiB amortise per-region costs; bigger ones only raise the peak (with
    # planes larger than the input chunks, it would grow with the plane).
    region_target = max(4 * 2**20, min(8 * 2**20, memory_budget // (6 * workers)))
    for axis in reversed(range(ndim)):
        while True:
            grown = region[axis] * 2
            if grown > task[axis] or math.prod(region) * itemsize * 2 > region_target:
                break
            if task[axis] % grown:
                break
            region[axis] = grown
    halo = _needs_halo(targets, tuple(region))
    # Every running task holds a region (plus halo and a float copy), its level buffers and
    # its thread's kernel scratch; with a halo, a quarter of the budget caches input chunks
    # that neighbouring regions read again.
    buffers = max(
        _unit_buffer_peak(targets, box, region, halo, itemsize)
        for box in _corner_tasks(shape, task)
    )
    per_task = 4 * math.prod(region) * itemsize + buffers
    per_task += _KERNEL_SCRATCH * (2 if itemsize >= 8 else 1)
    # Encoded files waiting for the disk, and the staging buffers of the threads writing them.
    write_behind = max(2 * 2**20, min(16 * 2**20, memory_budget // 16))
    per_task += 2 * write_behind
    # The cache saves reads only: it gets what a task leaves of the budget, at most a quarter.
    cache_total = max(0, min(memory_budget // 4, memory_budget - per_task)) if halo else 0
    concurrency = max(1, min(workers, (memory_budget - cache_total) // max(1, per_task)))
    return PyramidPlan(
        halo=halo,
        cache_bytes=cache_total // concurrency,
        shape=shape,
        task_shape=tuple(task),
        region_shape=tuple(region),
        concurrency=concurrency,
        factors=tuple(tuple(f) for f in factors),
        itemsize=itemsize,
        levels=len(targets),
        write_behind_bytes=write_behind,
        task_bytes=per_task,
        memory_budget=memory_budget,
    )


_KERNEL_SCRATCH = 8 * 2**20
"""About how much scratch memory the downsampling kernels keep per thread (twice as much for
64-bit data; see :mod:`omezarr.pyramid`)."""


_SIMULATED_REGIONS = 8192
"""Tasks of at most this many regions have their unit buffers simulated by the planner."""


def _corner_tasks(shape: Sequence[int], task: Sequence[int]) -> list[Box]:
    """The first task of the grid and the last (clipped at the array's end), as boxes."""
    first = Box((0,) * len(shape), tuple(min(t, n) for t, n in zip(task, shape, strict=True)))
    lo = tuple((n - 1) // t * t for t, n in zip(task, shape, strict=True))
    last = Box(lo, tuple(min(a + t, n) for a, t, n in zip(lo, task, shape, strict=True)))
    return [first] if last == first else [first, last]


def _unit_buffer_peak(
    targets: Sequence[LevelTarget],
    task: Box,
    region: Sequence[int],
    halo: bool,
    itemsize: int,
) -> int:
    """The most bytes of partly filled write units that :func:`run_task` holds at once for
    ``task`` walked in regions of shape ``region`` (the same walk and ownership, without
    pixels). Larger tasks get the bound of every unit they own on levels above 0."""
    if math.prod(task.tile_counts(region)) > _SIMULATED_REGIONS:
        return _task_bytes(targets[1:], task, itemsize)
    lag = _Lag(targets, task) if halo else None
    held: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    total = peak = 0
    for box in task.z_order(region):
        owned, _ = _level_regions(targets, box, lag)
        for level in range(1, len(targets)):
            if owned[level].is_empty:
                continue
            for key, unit_box, piece, full in _unit_pieces(targets[level], owned[level]):
                if full:
                    continue
                entry = held.get((level, key))
                if entry is None:
                    entry = held[(level, key)] = [unit_box.size, 0]
                    total += entry[0] * itemsize
                    peak = max(peak, total)
                entry[1] += piece.size
                if entry[1] == entry[0]:
                    total -= entry[0] * itemsize
                    del held[(level, key)]
    return peak


def _task_bytes(targets: Sequence[LevelTarget], task: Box, itemsize: int) -> int:
    """Bytes (uncompressed) of every level's pixels that ``task`` owns."""
    total = 0
    for target in targets:
        out = _owned_box(target, task)
        if not out.is_empty:
            total += out.size * itemsize
    return total


def _task_read_box(targets: Sequence[LevelTarget], task: Box) -> Box:
    return _level_regions(targets, task)[1][0]
