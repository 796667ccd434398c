"""What the engine writes to and reports: level targets, resampler protocols, progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..io.files import WriteBehind
from ..pyramid.mosaic import Mosaic
from .sinks import ArraySink, ChunkSink, WritableArray

__all__ = [
    "LevelTarget",
    "Progress",
    "Resampler",
]


class Resampler(Protocol):
    """How one pyramid level is computed (:class:`omezarr.pyramid.PyramidStep`, or a
    :class:`omezarr.pyramid.LevelResampler` for a level computed straight from level 0)."""

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
    """One downsampling operator (:class:`omezarr.pyramid.LevelResampler`)."""

    def input_region(self, out_region: Sequence[slice]) -> tuple[slice, ...]:
        """The source-level region (halo included) needed to compute ``out_region``."""
        ...

    def resample(
        self, block: np.ndarray | Mosaic, block_start: Sequence[int], out_region: Sequence[slice]
    ) -> np.ndarray:
        """The outputs ``out_region`` from ``block`` (of the source level) at ``block_start``."""
        ...


@dataclass(frozen=True)
class LevelTarget:
    """Where one level goes: its array, the unit written at once, how it is computed, and the
    sink its units are written through.

    ``write_unit`` is the shard shape for sharded arrays, else the chunk shape. ``resampler``
    is None for level 0 (a copy of the input).
    """

    array: WritableArray
    write_unit: tuple[int, ...]
    resampler: Resampler | None
    sink: ChunkSink | None = None  # chosen by engine.backends.level_sink; None: ArraySink(array)

    def __post_init__(self) -> None:
        if self.sink is None:
            object.__setattr__(self, "sink", ArraySink(self.array))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.array.shape)

    def store(
        self, start: Sequence[int], data: np.ndarray, behind: WriteBehind | None = None
    ) -> None:
        """Write ``data`` (whole write units, clipped at the array's end) at ``start``; files
        written with direct I/O may be left to ``behind``. Sinks encode (or copy) ``data``
        before they return, so the caller may reuse its buffer.

        Parameters
        ----------
        start : sequence of int
            Where ``data`` starts in the level (a write unit's corner).
        data : numpy.ndarray
            Whole write units, clipped at the array's end.
        behind : WriteBehind, optional
            Threads that may do the file writing while the caller goes on.
        """
        assert self.sink is not None  # set in __post_init__
        self.sink.write(start, data, behind)


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
