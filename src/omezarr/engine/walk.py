"""Walking a task's regions: which region owns each output, and the coarse units it assembles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .._numbers import ceil_div
from ..io.files import WriteBehind
from .box import Box
from .targets import LevelTarget

__all__ = [
    "task_write_units",
]


def _needs_halo(targets: Sequence[LevelTarget], region: tuple[int, ...]) -> bool:
    """Whether computing a region's levels reads beyond the region (resize's anti-aliasing)."""
    box = Box((0,) * len(region), region)
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
            owned.append(Box.from_slices(target.resampler.owned_outputs(region.slices())))
    needed = list(owned)
    for level in reversed(range(1, len(targets))):
        if needed[level].is_empty:
            continue
        resampler = targets[level].resampler
        assert resampler is not None
        source = resampler.source
        need = Box.from_slices(resampler.step.input_region(needed[level].slices()))
        needed[source] = need if needed[source].is_empty else Box.union_of([needed[source], need])
    return owned, needed


class _Lag:
    """Region ownership inside one task for methods with a halo: each output belongs to the
    region holding the *last* level-0 input it depends on (through every level it is computed
    from), so a region reads input only behind it, never ahead.

    Regions are walked in Z order (:meth:`Box.z_order`), which visits a region after every region
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
            ndim = len(self.task.start)
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
            # Cone ends grow with the output index: bracket the answer around the output at the
            # boundary's relative position, widening by doubling steps, then bisect. Probes stay
            # near the boundary, where the resamplers keep their tap tables.
            size = self.targets[level].shape[axis]
            guess = boundary * size // max(1, self.targets[0].shape[axis])
            low = high = guess
            step = 1
            while high < size and self.cone_end(level, axis, high) <= boundary:
                high, step = min(size, high + step), step * 2
            step = 1
            while low > 0 and self.cone_end(level, axis, low - 1) > boundary:
                low, step = max(0, low - step), step * 2
            while low < high:
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
        for axis in range(len(region.start)):
            bounds = []
            for boundary, task_edge, edge_owned in (
                (region.start[axis], self.task.start[axis], task_lo[axis]),
                (region.stop[axis], self.task.stop[axis], task_hi[axis]),
            ):
                if boundary == task_edge:
                    bounds.append(edge_owned)
                else:
                    first = self._first_after(level, axis, boundary)
                    bounds.append(min(max(first, task_lo[axis]), task_hi[axis]))
            lo.append(bounds[0])
            hi.append(max(bounds))
        return Box(tuple(lo), tuple(hi))


def _unit_pieces(target: LevelTarget, out: Box) -> Iterator[tuple[tuple[int, ...], Box, Box, bool]]:
    """For each write unit of ``target`` that the box ``out`` overlaps: its grid key, its box
    (clipped at the array's end), the overlap, and whether the overlap is the whole unit."""
    shape = target.shape
    unit = target.write_unit
    first = tuple(s // u for s, u in zip(out.start, unit, strict=True))
    last = tuple((e - 1) // u for e, u in zip(out.stop, unit, strict=True))
    for index in np.ndindex(*(b - a + 1 for a, b in zip(first, last, strict=True))):
        key = tuple(a + i for a, i in zip(first, index, strict=True))
        u_lo = tuple(k * u for k, u in zip(key, unit, strict=True))
        unit_box = Box(
            u_lo, tuple(min(lo + u, n) for lo, u, n in zip(u_lo, unit, shape, strict=True))
        )
        piece = unit_box.intersect(out)
        yield key, unit_box, piece, piece == unit_box


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
        for key, unit_box, overlap, full in _unit_pieces(self.target, Box(tuple(out_start), stop)):
            piece = data[overlap.relative_to(out_start)]
            if full:
                self.target.store(overlap.start, piece, self.behind)
                written += piece.nbytes
                continue
            entry = self.units.get(key)
            if entry is None:
                buffer = np.empty(unit_box.shape, dtype=self.dtype)
                entry = (buffer, [0])
                self.units[key] = entry
            buffer, filled = entry
            buffer[overlap.relative_to(unit_box.start)] = piece
            filled[0] += piece.size
            if filled[0] == buffer.size:
                self.target.store(unit_box.start, buffer, self.behind)
                written += buffer.nbytes
                del self.units[key]
        return written


def task_write_units(
    targets: Sequence[LevelTarget], task: Box | tuple[Sequence[int], Sequence[int]]
) -> list[list[tuple[int, ...]]]:
    """The write units that ``task`` writes: their grid coordinates, one list per level.

    ``task`` is a :class:`Box` of level 0 (from :meth:`PyramidPlan.tasks`) or a
    ``(start, stop)`` pair. A write unit (chunk, or shard for sharded arrays) belongs to exactly one task of a plan,
    so a task whose units are all stored and intact need not run again (a resumed write).

    Examples
    --------
    >>> target = LevelTarget(np.zeros((8, 8)), (4, 4), None)
    >>> task_write_units([target], ((0, 0), (8, 4)))
    [[(0, 0), (1, 0)]]
    """
    task = Box(tuple(task[0]), tuple(task[1]))
    units: list[list[tuple[int, ...]]] = []
    for target in targets:
        out = _owned_box(target, task)
        if out.is_empty:
            units.append([])
            continue
        unit = target.write_unit
        first = [a // u for a, u in zip(out.start, unit, strict=True)]
        stop = [ceil_div(b, u) for b, u in zip(out.stop, unit, strict=True)]
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
    return Box.from_slices(target.resampler.owned_outputs(task.slices()))
