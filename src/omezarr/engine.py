"""The pyramid write engine: one pass over the input, every level written, memory bounded.

The engine knows arrays, regions and bytes, not NGFF. Given a source (anything with
``shape``, ``dtype`` and ``__getitem__``), the zarr arrays of every level (already created)
and one resampler per level, it

* splits level 0 into *tasks*: boxes aligned so that every chunk or shard of every level is
  owned by exactly one task (tasks never share a chunk or shard, so they may run in any
  order, in threads, or on ``dask.distributed`` workers);
* walks each task in *regions* aligned with level 0's chunk/shard grid, in Z order (so a
  coarse chunk assembled from several regions is completed before the walk moves on), reading
  each region
  (plus the halo a method needs) once and computing from it every level's pixels that the
  region owns, each level from the previous level's pixels (over what the region owns plus
  what the next levels' halos need, so the result does not depend on the regions); with a
  halo, an output belongs to the region holding the last input it depends on, so regions
  read only behind them and only thin strips of earlier input chunks are kept, and a read
  that spans several input chunks is handed to the resampler as its pieces (a
  :class:`~omezarr.scale.Mosaic`), copied only tile by tile where a tile crosses them;
* writes level 0 straight from the region and gathers coarser levels in per-chunk (or
  per-shard) buffers that are written, whole, the moment they are complete.

Memory is bounded by the region size, the partly filled buffers a task holds at once (the
planner simulates the walk to know them) and the number of tasks running at once, all chosen
from ``memory_budget``.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ._files import WriteBehind, release_buffers
from .scale import Mosaic

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "MEMORY_BUDGET_ENV",
    "LevelTarget",
    "Progress",
    "PyramidPlan",
    "Resampler",
    "memory_budget_from",
    "plan_pyramid",
    "prime_malloc",
    "run_plan",
    "task_write_units",
]

Box = tuple[tuple[int, ...], tuple[int, ...]]
"""A box as (start, stop) index tuples."""

DEFAULT_MEMORY_BUDGET = 256 * 2**20
MEMORY_BUDGET_ENV = "OMEZARR_MEMORY_BUDGET"


class Resampler(Protocol):
    """How one pyramid level is computed (:class:`omezarr.scale.PyramidStep`, or a
    :class:`omezarr.scale.LevelResampler` for a level computed straight from level 0)."""

    @property
    def source(self) -> int:
        """Index of the level whose pixels :attr:`step` is applied to (0: level 0)."""
        ...

    @property
    def step(self) -> Step:
        """The operator from the source level to this level."""
        ...

    def owned_outputs(self, region: Sequence[slice]) -> tuple[slice, ...]:
        """The level's outputs owned by the level-0 ``region``."""
        ...


class Step(Protocol):
    """One downsampling operator (:class:`omezarr.scale.LevelResampler`)."""

    def input_region(self, out_region: Sequence[slice]) -> tuple[slice, ...]:
        """The source-level region (halo included) needed to compute ``out_region``."""
        ...

    def resample(
        self, block: np.ndarray | Mosaic, block_start: Sequence[int], out_region: Sequence[slice]
    ) -> np.ndarray:
        """The outputs ``out_region`` from ``block`` (of the source level) at ``block_start``."""
        ...


def _slices(box: Box) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in zip(box[0], box[1], strict=True))


def _box(region: Sequence[slice]) -> Box:
    return tuple(int(s.start) for s in region), tuple(int(s.stop) for s in region)


def _size(box: Box) -> int:
    """Elements in ``box``."""
    return math.prod(b - a for a, b in zip(box[0], box[1], strict=True))


def _tile_counts(step: Sequence[int], box: Box) -> list[int]:
    """Boxes of size ``step`` (the last clipped) needed to tile ``box``, per axis."""
    return [max(0, -(-(b - a) // s)) for a, b, s in zip(box[0], box[1], step, strict=True)]


@dataclass(frozen=True)
class LevelTarget:
    """Where one level goes: its zarr array, the unit written at once, and how it is computed.

    ``write_unit`` is the shard shape for sharded arrays, else the chunk shape. ``resampler``
    is None for level 0 (a copy of the input).
    """

    array: Any
    write_unit: tuple[int, ...]
    resampler: Resampler | None
    direct: Any = None  # an omezarr.chunkio.DirectChunkWriter, when the array's layout allows

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.array.shape)

    def store(
        self, start: Sequence[int], data: np.ndarray, behind: WriteBehind | None = None
    ) -> None:
        """Write ``data`` (whole write units, clipped at the array's end) at ``start``; files
        written with direct I/O may be left to ``behind``."""
        if self.direct is not None:
            self.direct.write(start, data, behind)  # encodes (or copies) before it returns
            return
        if data.base is not None:
            # zarr-python may keep the very array it is given (a MemoryStore without codecs
            # does), so it gets none that something else holds: a view of the caller's input,
            # or of a buffer the engine reuses, would change after the write.
            data = data.copy()
        self.array[tuple(slice(a, a + n) for a, n in zip(start, data.shape, strict=True))] = data


@dataclass(frozen=True)
class Progress:
    """What has been written so far, passed to the progress callback after each region.

    ``regions_skipped`` counts the regions of ``regions_done`` that were not written because
    their task's write units were already stored (a resumed write); they are reported once
    per skipped task.
    """

    regions_done: int
    regions_total: int
    bytes_done: int
    bytes_total: int
    levels: int
    regions_skipped: int = 0


@dataclass(frozen=True)
class PyramidPlan:
    """The partition of level 0 into tasks and regions."""

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

    def tasks(self) -> Iterator[Box]:
        """Every task box, in C order."""
        yield from _grid(self.task_shape, (0,) * len(self.shape), self.shape)

    def regions(self, task: Box) -> Iterator[Box]:
        """Every region box of ``task``, in Z order (see :func:`_z_order`)."""
        yield from _z_order(self.region_shape, task[0], task[1])

    @property
    def n_tasks(self) -> int:
        return math.prod(-(-n // t) for n, t in zip(self.shape, self.task_shape, strict=True))

    @property
    def n_regions(self) -> int:
        # Regions tile each task; tasks are multiples of regions except at the array's end.
        return sum(math.prod(_tile_counts(self.region_shape, task)) for task in self.tasks())


def memory_budget_from(value: int | str | None) -> int:
    """The memory budget in bytes from an argument, the environment, or the default.

    Accepts ints (bytes) and strings such as ``"512M"``, ``"2G"`` or ``"1.5GiB"``.
    """
    if value is None:
        value = os.environ.get(MEMORY_BUDGET_ENV)
        if value is None:
            return DEFAULT_MEMORY_BUDGET
    if isinstance(value, bool):
        raise TypeError("memory_budget: expected bytes as an int or a string such as '512M'")
    if isinstance(value, int):
        budget = value
    elif isinstance(value, str):
        text = value.strip().upper().removesuffix("IB").removesuffix("B")
        units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
        scale = units.get(text[-1:], 1)
        number = text[:-1] if text[-1:] in units else text
        try:
            budget = int(float(number) * scale)
        except (ValueError, OverflowError):  # OverflowError: "inf"
            raise ValueError(
                f"memory_budget: cannot read {value!r}; use bytes or e.g. '512M', '2G'"
            ) from None
    else:
        raise TypeError(
            f"memory_budget: expected an int or a string such as '512M', not {type(value).__name__}"
        )
    if budget < 16 * 2**20:
        raise ValueError(f"memory_budget: at least 16 MiB is needed, got {budget} bytes")
    return budget


def _grid(step: Sequence[int], start: Sequence[int], stop: Sequence[int]) -> Iterator[Box]:
    """Boxes of size ``step`` tiling [start, stop), clipped at ``stop``; C order."""
    ranges = [range(a, b, s) for a, b, s in zip(start, stop, step, strict=True)]
    for corner in np.ndindex(*(len(r) for r in ranges)):
        lo = tuple(r[i] for r, i in zip(ranges, corner, strict=True))
        hi = tuple(min(a + s, b) for a, s, b in zip(lo, step, stop, strict=True))
        yield lo, hi


def _z_order(step: Sequence[int], start: Sequence[int], stop: Sequence[int]) -> list[Box]:
    """Boxes of size ``step`` tiling [start, stop), clipped at ``stop``, in Z (Morton) order.

    The grid indices' bits are interleaved, highest first (earlier axes first at each bit), and
    the boxes sorted by the result. Like C order, this visits a box after every box that is at
    or before it along every axis; unlike C order, it finishes each aligned block of 2, 4, 8…
    boxes per axis before starting the next, so a coarse write unit assembled from several
    regions is completed before the walk moves on, instead of a whole row of them waiting for
    the next row of regions (on a plane of 32768 x 32768 in 1024 x 1024 chunks, local_mean:
    22 MiB of unit buffers per task instead of 30, by :func:`_unit_buffer_peak`).

    Examples
    --------
    >>> [lo for lo, _ in _z_order((2, 2), (0, 0), (4, 4))]
    [(0, 0), (0, 2), (2, 0), (2, 2)]
    >>> [lo[1:] for lo, _ in _z_order((1, 1, 1), (0, 0, 0), (1, 4, 2))]
    [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]
    """
    counts = _tile_counts(step, (tuple(start), tuple(stop)))
    if 0 in counts:
        return []
    index = np.indices(counts).reshape(len(counts), -1).T.astype(np.int64)
    bits = max(count - 1 for count in counts).bit_length()
    axes = [axis for axis, count in enumerate(counts) if count > 1]  # the others add nothing
    # Keys of more than 62 bits are Python integers (an object array), else int64.
    key = np.zeros(len(index), dtype=np.int64 if bits * len(axes) <= 62 else object)
    for bit in reversed(range(bits)):
        for axis in axes:
            key = (key << 1) | ((index[:, axis] >> bit) & 1)
    boxes = []
    for corner in index[np.argsort(key, kind="stable")]:
        lo = tuple(int(a + i * s) for a, i, s in zip(start, corner, step, strict=True))
        hi = tuple(min(a + s, b) for a, s, b in zip(lo, step, stop, strict=True))
        boxes.append((lo, hi))
    return boxes


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
    cache_total = memory_budget // 4 if halo else 0
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
    )


_KERNEL_SCRATCH = 8 * 2**20
"""About how much scratch memory the downsampling kernels keep per thread (twice as much for
64-bit data; see :mod:`omezarr.scale`)."""


def _needs_halo(targets: Sequence[LevelTarget], region: tuple[int, ...]) -> bool:
    """Whether computing a region's levels reads beyond the region (resize's anti-aliasing)."""
    box: Box = ((0,) * len(region), region)
    _, needed = _level_regions(targets, box)
    return needed[0] != box


def _level_regions(
    targets: Sequence[LevelTarget], region: Box, lag: _Lag | None = None
) -> tuple[list[Box], list[Box]]:
    """What a level-0 ``region`` owns on every level, and what must be computed on every level
    (its own pixels and what the levels computed from it need; level 0: what must be read).

    With ``lag`` (the region's task, for methods with a halo), ownership inside the task
    follows :class:`_Lag`; otherwise every output belongs to the region holding input
    ``i * factor``."""
    owned = [region]
    for level, target in enumerate(targets[1:], start=1):
        assert target.resampler is not None
        if lag is not None:
            owned.append(lag.owned(level, region))
        else:
            owned.append(_box(target.resampler.owned_outputs(_slices(region))))
    needed = list(owned)
    for level in reversed(range(1, len(targets))):
        if _is_empty(needed[level]):
            continue
        resampler = targets[level].resampler
        assert resampler is not None
        source = resampler.source
        need = _box(resampler.step.input_region(_slices(needed[level])))
        needed[source] = need if _is_empty(needed[source]) else _union([needed[source], need])
    return owned, needed


class _Lag:
    """Region ownership inside one task for methods with a halo: each output belongs to the
    region holding the *last* level-0 input it depends on (through every level it is computed
    from), so a region reads input only behind it, never ahead.

    Regions are walked in Z order (:func:`_z_order`), which visits a region after every region
    at or before it along every axis, so what a region needs behind it was read by earlier
    regions, and :class:`_ChunkCache` keeps just those strips of their input chunks instead of
    whole neighbouring chunks (which a halo ahead would need). At the task's own borders
    ownership is the usual one (output ``i`` with the task holding input ``i * factor``), so
    tasks still own whole write units.
    """

    def __init__(self, targets: Sequence[LevelTarget], task: Box) -> None:
        self.targets = targets
        self.task = task
        self._ends: dict[tuple[int, int, int], int] = {}
        self._firsts: dict[tuple[int, int, int], int] = {}
        self._task_owned = [_owned_box(target, task) for target in targets]

    def cone_end(self, level: int, axis: int, output: int) -> int:
        """One past the last level-0 index along ``axis`` that ``output`` of ``level``
        depends on."""
        if level == 0:
            return output + 1
        key = (level, axis, output)
        end = self._ends.get(key)
        if end is None:
            resampler = self.targets[level].resampler
            assert resampler is not None
            ndim = len(self.task[0])
            probe = tuple(
                slice(output, output + 1) if a == axis else slice(0, 1) for a in range(ndim)
            )
            last = int(resampler.step.input_region(probe)[axis].stop) - 1
            end = self._ends[key] = self.cone_end(resampler.source, axis, last)
        return end

    def _first_after(self, level: int, axis: int, boundary: int) -> int:
        """The first output of ``level`` whose cone ends beyond the level-0 ``boundary``."""
        key = (level, axis, boundary)
        first = self._firsts.get(key)
        if first is None:
            low, high = 0, self.targets[level].shape[axis]
            while low < high:  # cone ends grow with the output index
                middle = (low + high) // 2
                if self.cone_end(level, axis, middle) > boundary:
                    high = middle
                else:
                    low = middle + 1
            first = self._firsts[key] = low
        return first

    def owned(self, level: int, region: Box) -> Box:
        """The outputs of ``level`` that ``region`` (a region of this task) owns."""
        task_lo, task_hi = self._task_owned[level]
        lo, hi = [], []
        for axis in range(len(region[0])):
            bounds = []
            for boundary, task_edge, edge_owned in (
                (region[0][axis], self.task[0][axis], task_lo[axis]),
                (region[1][axis], self.task[1][axis], task_hi[axis]),
            ):
                if boundary == task_edge:
                    bounds.append(edge_owned)
                else:
                    first = self._first_after(level, axis, boundary)
                    bounds.append(min(max(first, task_lo[axis]), task_hi[axis]))
            lo.append(bounds[0])
            hi.append(max(bounds))
        return tuple(lo), tuple(hi)


_SIMULATED_REGIONS = 8192
"""Tasks of at most this many regions have their unit buffers simulated by the planner."""


def _corner_tasks(shape: Sequence[int], task: Sequence[int]) -> list[Box]:
    """The first task of the grid and the last (clipped at the array's end), as boxes."""
    first = ((0,) * len(shape), tuple(min(t, n) for t, n in zip(task, shape, strict=True)))
    lo = tuple((n - 1) // t * t for t, n in zip(task, shape, strict=True))
    last = (lo, tuple(min(a + t, n) for a, t, n in zip(lo, task, shape, strict=True)))
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
    if math.prod(_tile_counts(region, task)) > _SIMULATED_REGIONS:
        return _task_bytes(targets[1:], task, itemsize)
    lag = _Lag(targets, task) if halo else None
    held: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    total = peak = 0
    for box in _z_order(region, task[0], task[1]):
        owned, _ = _level_regions(targets, box, lag)
        for level in range(1, len(targets)):
            if _is_empty(owned[level]):
                continue
            for key, unit_box, piece, full in _unit_pieces(targets[level], owned[level]):
                if full:
                    continue
                entry = held.get((level, key))
                if entry is None:
                    entry = held[(level, key)] = [_size(unit_box), 0]
                    total += entry[0] * itemsize
                    peak = max(peak, total)
                entry[1] += _size(piece)
                if entry[1] == entry[0]:
                    total -= entry[0] * itemsize
                    del held[(level, key)]
    return peak


def _unit_pieces(target: LevelTarget, out: Box) -> Iterator[tuple[tuple[int, ...], Box, Box, bool]]:
    """For each write unit of ``target`` that the box ``out`` overlaps: its grid key, its box
    (clipped at the array's end), the overlap, and whether the overlap is the whole unit."""
    shape = target.shape
    unit = target.write_unit
    first = tuple(s // u for s, u in zip(out[0], unit, strict=True))
    last = tuple((e - 1) // u for e, u in zip(out[1], unit, strict=True))
    for index in np.ndindex(*(b - a + 1 for a, b in zip(first, last, strict=True))):
        key = tuple(a + i for a, i in zip(first, index, strict=True))
        u_lo = tuple(k * u for k, u in zip(key, unit, strict=True))
        u_hi = tuple(min(lo + u, n) for lo, u, n in zip(u_lo, unit, shape, strict=True))
        lo = tuple(max(a, b) for a, b in zip(u_lo, out[0], strict=True))
        hi = tuple(min(a, b) for a, b in zip(u_hi, out[1], strict=True))
        yield key, (u_lo, u_hi), (lo, hi), lo == u_lo and hi == u_hi


class _UnitBuffers:
    """Partly computed write units of one level inside one task, written when complete."""

    def __init__(
        self, target: LevelTarget, dtype: np.dtype, behind: WriteBehind | None = None
    ) -> None:
        self.target = target
        self.dtype = dtype
        self.behind = behind
        self.units: dict[tuple[int, ...], tuple[np.ndarray, list[int]]] = {}

    def add(self, out_start: Sequence[int], data: np.ndarray) -> int:
        """Place ``data`` (at ``out_start``); write and free completed units; return bytes written."""
        stop = tuple(s + n for s, n in zip(out_start, data.shape, strict=True))
        written = 0
        for key, (u_lo, u_hi), (lo, hi), full in _unit_pieces(
            self.target, (tuple(out_start), stop)
        ):
            piece = data[
                tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, out_start, strict=True))
            ]
            if full:
                self.target.store(lo, piece, self.behind)
                written += piece.nbytes
                continue
            entry = self.units.get(key)
            if entry is None:
                buffer = np.empty(
                    tuple(b - a for a, b in zip(u_lo, u_hi, strict=True)), dtype=self.dtype
                )
                entry = (buffer, [0])
                self.units[key] = entry
            buffer, filled = entry
            buffer[tuple(slice(a - ul, b - ul) for a, b, ul in zip(lo, hi, u_lo, strict=True))] = (
                piece
            )
            filled[0] += piece.size
            if filled[0] == buffer.size:
                self.target.store(u_lo, buffer, self.behind)
                written += buffer.nbytes
                del self.units[key]
        return written


def _dask_block(source: Any, box: Box) -> tuple[int, ...] | None:
    """The index of the one dask block that ``box`` is exactly, else None."""
    if not type(source).__module__.startswith("dask."):
        return None
    chunks = source.chunks
    index = []
    for axis_chunks, start, stop in zip(chunks, box[0], box[1], strict=True):
        edges = np.concatenate([[0], np.cumsum(axis_chunks)])
        position = int(np.searchsorted(edges, start))
        if position >= len(axis_chunks) or edges[position] != start or edges[position + 1] != stop:
            return None
        index.append(position)
    return tuple(index)


_GRAPH_TASKS_LIMIT = 20_000
"""Dask graphs up to this many tasks (about 0.6 KiB each) are materialised once per write so
that each block is computed from its own few tasks; larger graphs go through ``.blocks``."""


class _DaskGraphs:
    """The materialised task graph of the dask array being written (at most one at a time).

    Taking ``source.blocks[i]`` and computing it builds, optimises and schedules a new
    collection each time: about 5 ms per block, as much as generating an 8 MiB block. Culling a
    materialised graph to one key and running it costs a few tenths of a millisecond.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._name: str | None = None
        self._graph: dict[Any, Any] | None = None

    def graph(self, source: Any) -> dict[Any, Any] | None:
        """The graph of ``source`` as a dict, or None when it is too large to materialise."""
        with self._lock:
            if self._name != source.name:
                graph = source.__dask_graph__()
                self._graph = dict(graph) if len(graph) <= _GRAPH_TASKS_LIMIT else None
                self._name = source.name
            return self._graph

    def forget(self) -> None:
        """Drop the graph held (at the end of a write)."""
        with self._lock:
            self._name = self._graph = None


_DASK_GRAPHS = _DaskGraphs()


def _compute_block(source: Any, index: tuple[int, ...]) -> Any:
    """Block ``index`` of the dask array ``source``, computed in the calling thread."""
    import dask

    graph = _DASK_GRAPHS.graph(source)
    if graph is not None:
        from dask.local import get_sync
        from dask.optimization import cull

        key = (source.name, *index)
        return get_sync(cull(graph, [key])[0], key)
    # Regions are already read in parallel by the engine's threads. A scheduler function (not
    # the name "synchronous") keeps dask from importing distributed to look it up.
    return source.blocks[index].compute(scheduler=dask.get)


def _read(source: Any, box: Box) -> np.ndarray:
    """Pixels of ``source`` in ``box`` as a native-endian NumPy array."""
    block_index = _dask_block(source, box)
    if block_index is not None:
        # One whole dask block is computed by itself: slicing a large dask array costs more
        # than computing a block of it.
        block = _compute_block(source, block_index)
    else:
        block = source[_slices(box)]
        if hasattr(block, "compute") and not isinstance(block, np.ndarray):
            import dask

            block = block.compute(scheduler=dask.get)
    block = np.asarray(block)
    if not block.dtype.isnative:
        block = block.astype(block.dtype.newbyteorder("="))
    return block


def _chunk_bounds(source: Any) -> list[np.ndarray] | None:
    """Chunk boundaries per axis of a lazily chunked source (dask or zarr), else None."""
    if isinstance(source, np.ndarray):
        return None
    chunks = getattr(source, "chunks", None)
    shape = getattr(source, "shape", None)
    if not isinstance(chunks, tuple) or shape is None or len(chunks) != len(shape):
        return None
    bounds = []
    for axis_chunks, n in zip(chunks, shape, strict=True):
        if isinstance(axis_chunks, tuple):  # dask: the sizes of every chunk
            edges = np.concatenate([[0], np.cumsum(axis_chunks)])
        elif isinstance(axis_chunks, int) and axis_chunks > 0:  # zarr: one regular size
            edges = np.append(np.arange(0, int(n), axis_chunks), int(n))
        else:
            return None
        bounds.append(edges.astype(np.int64))
    return bounds


_MALLOC_PRIME_BYTES = 16 * 2**20


@functools.cache
def prime_malloc() -> bool:
    """Let glibc's ``malloc`` serve blocks of up to 16 MiB from its heaps; True if done.

    glibc maps every block above its *mmap threshold* (128 KiB at start) as fresh pages and
    unmaps it when freed, and raises the threshold to the size of a freed mapped block (up to
    32 MiB) to stop doing so for blocks of that size. Every chunk a compressor encodes is a
    new buffer of about the chunk's size; when nothing larger has been freed before, each is
    mapped, filled page by page and unmapped again: about a million page faults per 4 GiB
    written with zarr's default Zstd codec, a quarter of the write's time. Freeing one 16 MiB
    block once does what glibc would do on its own once a large enough block is freed (and
    sets its trim threshold to 32 MiB). Nothing changes elsewhere than glibc, nor where the
    thresholds were set (``mallopt``, ``MALLOC_TRIM_THRESHOLD_``, which dask.distributed's
    workers set, or ``GLIBC_TUNABLES``): glibc then keeps the values it was given.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):  # type: ignore[union-attr]
            return False
        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free.argtypes = [ctypes.c_void_p]
    except (AttributeError, OSError, ValueError):
        return False
    block = libc.malloc(_MALLOC_PRIME_BYTES)
    if not block:
        return False
    libc.free(block)
    return True


class _AssemblyBuffer(threading.local):
    """Per thread, the array that slices of a :class:`~omezarr.scale.Mosaic` crossing its
    pieces are copied into, reused from slice to slice (each copy lives only until the thread
    takes the next: a tile of a level's computation, or a region's level 0 while it is stored):
    fresh arrays of a few MiB per tile fragment the allocator's per-thread heaps. Released
    after tasks that run in threads outliving the write (:func:`_run_task_releasing`)."""

    def __init__(self) -> None:
        self.buffer = np.empty(0, dtype=np.uint8)

    def array(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        size = math.prod(shape) * dtype.itemsize
        if self.buffer.size < size:
            self.buffer = np.empty(size, dtype=np.uint8)
        return self.buffer[:size].view(dtype).reshape(shape)

    def release(self) -> None:
        self.buffer = np.empty(0, dtype=np.uint8)


_ASSEMBLY = _AssemblyBuffer()


class _ChunkCache:
    """Reads boxes of a chunked lazy source chunk by chunk, keeping what later reads need.

    A region's halo overlaps its neighbours' chunks; without the cache those chunks would be
    computed (or decoded) once for the region and again for each neighbour's halo. After each
    region, :meth:`retain` keeps of every chunk only the parts that the task's remaining reads
    overlap (with :class:`_Lag` ownership, thin strips behind the regions still to come), so
    the cache holds strips, not whole neighbouring chunks. ``limit_bytes`` caps it anyway
    (least recently used first; what is dropped is computed again if needed).
    """

    def __init__(self, source: Any, bounds: list[np.ndarray], limit_bytes: int) -> None:
        self.source = source
        self.bounds = bounds
        self.limit = limit_bytes
        # per chunk: pieces (start, values) covering what may still be read of it
        self.chunks: OrderedDict[tuple[int, ...], list[tuple[tuple[int, ...], np.ndarray]]] = (
            OrderedDict()
        )
        self.size = 0

    def _keys(self, box: Box) -> list[tuple[int, ...]]:
        first = [
            int(np.searchsorted(e, a, side="right")) - 1
            for e, a in zip(self.bounds, box[0], strict=True)
        ]
        last = [
            int(np.searchsorted(e, b - 1, side="right")) - 1
            for e, b in zip(self.bounds, box[1], strict=True)
        ]
        return [
            tuple(f + i for f, i in zip(first, index, strict=True))
            for index in np.ndindex(*(b - a + 1 for a, b in zip(first, last, strict=True)))
        ]

    def _chunk_box(self, key: tuple[int, ...]) -> Box:
        lo = tuple(int(e[k]) for e, k in zip(self.bounds, key, strict=True))
        hi = tuple(int(e[k + 1]) for e, k in zip(self.bounds, key, strict=True))
        return lo, hi

    def read(self, box: Box) -> np.ndarray | Mosaic:
        """``box``: the piece of its one chunk, or a :class:`Mosaic` of its pieces (never
        joined into one array: that would hold the box twice, its chunk and the copy)."""
        keys = self._keys(box)
        parts = []
        for key in keys:
            want = _intersection(self._chunk_box(key), box)
            parts.append((want[0], self._piece(key, want)))
        if len(parts) == 1:
            return parts[0][1]
        self._evict(keep=len(keys))
        shape = tuple(b - a for a, b in zip(box[0], box[1], strict=True))
        return Mosaic(box[0], shape, parts, buffer=_ASSEMBLY.array)

    def _piece(self, key: tuple[int, ...], want: Box) -> np.ndarray:
        """``want`` (inside chunk ``key``) from a cached piece covering it, or from the whole
        chunk, computed and cached."""
        pieces = self.chunks.get(key)
        if pieces is not None:
            self.chunks.move_to_end(key)
            held = _covering(pieces, want)
            if held is not None:
                return held
            self.size -= sum(values.nbytes for _, values in pieces)
        lo, hi = self._chunk_box(key)
        chunk = _read(self.source, (lo, hi))
        self.chunks[key] = [(lo, chunk)]
        self.chunks.move_to_end(key)
        self.size += chunk.nbytes
        return chunk[tuple(slice(a - s, b - s) for a, b, s in zip(*want, lo, strict=True))]

    def retain(self, reads: Sequence[Box]) -> None:
        """Keep of every cached chunk only its overlaps with ``reads`` (the reads still to
        come), as copies when they are smaller than what is held."""
        for key in list(self.chunks):
            chunk = self._chunk_box(key)
            needs: list[Box] = []
            for box in reads:
                need = _intersection(chunk, box)
                if not _is_empty(need) and need not in needs:
                    needs.append(need)
            pieces = self.chunks[key]
            held = sum(values.nbytes for _, values in pieces)
            if not needs:
                del self.chunks[key]
                self.size -= held
                continue
            itemsize = pieces[0][1].itemsize
            wanted = sum(_size(need) for need in needs)
            if wanted * itemsize >= held:
                continue
            kept = []
            for need in needs:
                view = _covering(pieces, need)
                if view is not None:  # else not held: read again when needed
                    kept.append((need[0], view.copy()))
            self.chunks[key] = kept
            self.size += sum(values.nbytes for _, values in kept) - held

    def _evict(self, keep: int) -> None:
        while self.size > self.limit and len(self.chunks) > keep:
            _, pieces = self.chunks.popitem(last=False)
            self.size -= sum(values.nbytes for _, values in pieces)


def _union(boxes: Sequence[Box]) -> Box:
    lo = tuple(min(b[0][i] for b in boxes) for i in range(len(boxes[0][0])))
    hi = tuple(max(b[1][i] for b in boxes) for i in range(len(boxes[0][0])))
    return lo, hi


def _intersection(first: Box, second: Box) -> Box:
    """The overlap of two boxes (empty, see :func:`_is_empty`, when they do not meet)."""
    lo = tuple(max(a, b) for a, b in zip(first[0], second[0], strict=True))
    hi = tuple(min(a, b) for a, b in zip(first[1], second[1], strict=True))
    return lo, hi


def _covering(pieces: Sequence[tuple[tuple[int, ...], np.ndarray]], box: Box) -> np.ndarray | None:
    """``box`` as a view of the first of ``pieces`` (start, values) that covers it, else None."""
    for start, values in pieces:
        stop = [a + n for a, n in zip(start, values.shape, strict=True)]
        if all(s <= a and b <= e for s, a, b, e in zip(start, box[0], box[1], stop, strict=True)):
            return values[tuple(slice(a - s, b - s) for a, b, s in zip(*box, start, strict=True))]
    return None


def _is_empty(box: Box) -> bool:
    return any(b <= a for a, b in zip(box[0], box[1], strict=True))


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
    level0 = block[
        tuple(
            slice(a - o, b - o) for a, b, o in zip(region[0], region[1], read_box[0], strict=True)
        )
    ]
    targets[0].store(region[0], level0, behind)
    written = level0.nbytes
    computed: list[tuple[np.ndarray | Mosaic, tuple[int, ...]] | None] = [(block, read_box[0])]
    for level, target in enumerate(targets[1:], start=1):
        if _is_empty(needed[level]):
            computed.append(None)
            continue
        assert target.resampler is not None
        origin = computed[target.resampler.source]
        assert origin is not None
        pixels = target.resampler.step.resample(origin[0], origin[1], _slices(needed[level]))
        computed.append((pixels, needed[level][0]))
        out = owned[level]
        if not _is_empty(out):
            start = needed[level][0]
            mine = pixels[
                tuple(slice(a - o, b - o) for a, b, o in zip(out[0], out[1], start, strict=True))
            ]
            written += buffers[level - 1].add(out[0], mine)
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
        reads = [needed[0] for _, needed in levels]
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


def task_write_units(targets: Sequence[LevelTarget], task: Box) -> list[list[tuple[int, ...]]]:
    """The write units that ``task`` writes: their grid coordinates, one list per level.

    A write unit (chunk, or shard for sharded arrays) belongs to exactly one task of a plan,
    so a task whose units are all stored and intact need not run again (a resumed write).

    Examples
    --------
    >>> target = LevelTarget(np.zeros((8, 8)), (4, 4), None)
    >>> task_write_units([target], ((0, 0), (8, 4)))
    [[(0, 0), (1, 0)]]
    """
    units: list[list[tuple[int, ...]]] = []
    for target in targets:
        out = _owned_box(target, task)
        if _is_empty(out):
            units.append([])
            continue
        unit = target.write_unit
        first = [a // u for a, u in zip(out[0], unit, strict=True)]
        stop = [-(-b // u) for b, u in zip(out[1], unit, strict=True)]
        units.append(
            [
                tuple(f + i for f, i in zip(first, index, strict=True))
                for index in np.ndindex(*(b - a for a, b in zip(first, stop, strict=True)))
            ]
        )
    return units


def _owned_box(target: LevelTarget, task: Box) -> Box:
    """The box of ``target``'s level that the level-0 box ``task`` owns."""
    if target.resampler is None:
        return task
    return _box(target.resampler.owned_outputs(_slices(task)))


def _task_bytes(targets: Sequence[LevelTarget], task: Box, itemsize: int) -> int:
    """Bytes (uncompressed) of every level's pixels that ``task`` owns."""
    total = 0
    for target in targets:
        out = _owned_box(target, task)
        if not _is_empty(out):
            total += _size(out) * itemsize
    return total


def run_plan(
    source: Any,
    targets: Sequence[LevelTarget],
    plan: PyramidPlan,
    progress: Callable[[Progress], None] | None = None,
    skip: Callable[[Box], bool] | None = None,
) -> int:
    """Run every task of ``plan`` in threads, at most ``plan.concurrency`` at once.

    Returns the bytes written (uncompressed). The first failure stops scheduling new tasks
    and is raised once running tasks have finished. A task for which ``skip(task)`` is True
    (asked in the worker threads) is not run: its regions count as done and skipped.
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


class _OffsetBlock:
    """A block of the source standing in for the whole source inside one task."""

    def __init__(self, block: np.ndarray, offset: Sequence[int], shape: Sequence[int]) -> None:
        self.block = block
        self.offset = tuple(offset)
        self.shape = tuple(shape)
        self.dtype = block.dtype

    def __getitem__(self, index: tuple[slice, ...]) -> np.ndarray:
        shifted = tuple(
            slice(s.start - o, s.stop - o) for s, o in zip(index, self.offset, strict=True)
        )
        return self.block[shifted]


def _task_read_box(targets: Sequence[LevelTarget], task: Box) -> Box:
    return _level_regions(targets, task)[1][0]


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
    Tasks for which ``skip(task)`` is True are left out (asked here, when the graph is built).
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
        tasks.append(run_block(lazy[_slices(read_box)], read_box[0], targets, plan, task))
    return tasks


def _is_zarr_array(source: Any) -> bool:
    module = type(source).__module__
    return module.startswith("zarr.") and hasattr(source, "store")
