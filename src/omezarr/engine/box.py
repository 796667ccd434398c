"""Boxes of array indices: corners, slices, sizes, intersections, grids and Z order."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from .._numbers import ceil_div

__all__ = ["Box"]


class Box(NamedTuple):
    """The half-open box ``[start, stop)`` of an n-d array's indices.

    A value: immutable, comparable, and still a ``(start, stop)`` pair where one is unpacked.

    Examples
    --------
    >>> box = Box((2, 0), (6, 3))
    >>> box.shape, box.size, box.slices()
    ((4, 3), 12, (slice(2, 6, None), slice(0, 3, None)))
    >>> box.relative_to((2, 0))
    (slice(0, 4, None), slice(0, 3, None))
    >>> box.intersect(Box((4, 1), (9, 9)))
    Box(start=(4, 1), stop=(6, 3))
    """

    start: tuple[int, ...]
    stop: tuple[int, ...]

    @classmethod
    def from_slices(cls, region: Sequence[slice]) -> Box:
        """The box of ``region`` (slices with start and stop, no step)."""
        return cls(tuple(int(s.start) for s in region), tuple(int(s.stop) for s in region))

    @classmethod
    def union_of(cls, boxes: Sequence[Box]) -> Box:
        """The smallest box holding every box of ``boxes`` (at least one)."""
        starts = zip(*(box.start for box in boxes), strict=True)
        stops = zip(*(box.stop for box in boxes), strict=True)
        return cls(tuple(map(min, starts)), tuple(map(max, stops)))

    @property
    def shape(self) -> tuple[int, ...]:
        """The extent along each axis (negative where the box is empty along it)."""
        return tuple(b - a for a, b in zip(self.start, self.stop, strict=True))

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self.shape)

    @property
    def is_empty(self) -> bool:
        """Whether the box holds no element."""
        return any(b <= a for a, b in zip(self.start, self.stop, strict=True))

    def slices(self) -> tuple[slice, ...]:
        """The box as a NumPy index."""
        return tuple(slice(a, b) for a, b in zip(self.start, self.stop, strict=True))

    def relative_to(self, origin: Sequence[int]) -> tuple[slice, ...]:
        """The box as an index into an array whose element 0 is at ``origin``."""
        return tuple(
            slice(a - o, b - o) for a, b, o in zip(self.start, self.stop, origin, strict=True)
        )

    def intersect(self, other: Box) -> Box:
        """The overlap of two boxes (empty, see :attr:`is_empty`, when they do not meet)."""
        return Box(tuple(map(max, self.start, other.start)), tuple(map(min, self.stop, other.stop)))

    def tile_counts(self, step: Sequence[int]) -> list[int]:
        """Boxes of size ``step`` (the last clipped) needed to tile this box, per axis."""
        return [max(0, ceil_div(n, s)) for n, s in zip(self.shape, step, strict=True)]

    def grid(self, step: Sequence[int]) -> Iterator[Box]:
        """Boxes of size ``step`` tiling this box, clipped at its stop, in C order."""
        ranges = [range(a, b, s) for a, b, s in zip(self.start, self.stop, step, strict=True)]
        for corner in np.ndindex(*(len(r) for r in ranges)):
            lo = tuple(r[i] for r, i in zip(ranges, corner, strict=True))
            yield self._tile_at(lo, step)

    def z_order(self, step: Sequence[int]) -> list[Box]:
        """Boxes of size ``step`` tiling this box, clipped at its stop, in Z (Morton) order.

        The grid indices' bits are interleaved, highest first (earlier axes first at each
        bit), and the boxes sorted by the result. Like C order, this visits a box after every
        box that is at or before it along every axis; unlike C order, it finishes each aligned
        block of 2, 4, 8… boxes per axis before starting the next, so a coarse write unit
        assembled from several regions is completed before the walk moves on, instead of a
        whole row of them waiting for the next row of regions.

        Examples
        --------
        >>> [box.start for box in Box((0, 0), (4, 4)).z_order((2, 2))]
        [(0, 0), (0, 2), (2, 0), (2, 2)]
        >>> [box.start[1:] for box in Box((0, 0, 0), (1, 4, 2)).z_order((1, 1, 1))]
        [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]
        """
        counts = self.tile_counts(step)
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
        return [
            self._tile_at(
                tuple(int(a + i * s) for a, i, s in zip(self.start, corner, step, strict=True)),
                step,
            )
            for corner in index[np.argsort(key, kind="stable")]
        ]

    def _tile_at(self, lo: tuple[int, ...], step: Sequence[int]) -> Box:
        return Box(lo, tuple(min(a + s, b) for a, s, b in zip(lo, step, self.stop, strict=True)))
