"""Where a level's write units go: the sink protocol and the zarr-python sink."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..io.files import WriteBehind

__all__ = ["ArraySink", "ChunkSink", "WritableArray"]


class WritableArray(Protocol):
    """What a level is written into: a zarr array, or anything with a shape taking slices."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __setitem__(self, key: tuple[slice, ...], value: np.ndarray) -> None: ...


class ChunkSink(Protocol):
    """Writes whole write units (chunks or shards, clipped at the array's end) of one level."""

    def write(
        self, start: Sequence[int], data: np.ndarray, behind: WriteBehind | None = None
    ) -> None: ...


@dataclass(frozen=True)
class ArraySink:
    """Writes through the array's own ``__setitem__`` (zarr-python for zarr arrays)."""

    array: WritableArray

    def write(
        self, start: Sequence[int], data: np.ndarray, behind: WriteBehind | None = None
    ) -> None:
        """Store ``data`` at ``start``; ``behind`` is not used (zarr writes before returning)."""
        if data.base is not None:
            # zarr-python may keep the very array it is given (a MemoryStore without codecs
            # does), so it gets none that something else holds: a view of the caller's input,
            # or of a buffer the engine reuses, would change after the write.
            data = data.copy()
        self.array[tuple(slice(a, a + n) for a, n in zip(start, data.shape, strict=True))] = data
