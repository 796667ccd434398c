"""A block given as the pieces it was read in, sliced tile by tile without joining them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .taps import Array

__all__ = [
    "Mosaic",
]


def _crop(region: Sequence[slice], origin: Sequence[int]) -> tuple[slice, ...]:
    """``region`` (global slices) relative to ``origin``."""
    return tuple(
        slice(piece.start - offset, piece.stop - offset)
        for piece, offset in zip(region, origin, strict=True)
    )


def _tile_exactly(
    start: Sequence[int], shape: Sequence[int], pieces: Sequence[tuple[Sequence[int], Array]]
) -> bool:
    """Whether ``pieces`` (global start, values), each inside the box, cover it once.

    Every piece edge cuts the box into a grid of cells; each cell must be covered by exactly
    one piece. Pieces read from a chunk grid make one cell each, so this costs a few
    microseconds per piece.
    """
    edges = [
        np.unique(
            [a, a + n]
            + [lo[axis] + v.shape[axis] for lo, v in pieces]
            + [lo[axis] for lo, _ in pieces]
        )
        for axis, (a, n) in enumerate(zip(start, shape, strict=True))
    ]
    cover = np.zeros([len(e) - 1 for e in edges], dtype=np.int32)
    for lo, values in pieces:
        cells = tuple(
            slice(int(np.searchsorted(e, a)), int(np.searchsorted(e, a + n)))
            for e, a, n in zip(edges, lo, values.shape, strict=True)
        )
        cover[cells] += 1
    return bool(np.all(cover == 1))


class Mosaic:
    """A block of level 0 given as the arrays it is made of, sliced without joining them.

    A region whose halo reaches into neighbouring chunks is read as several pieces: its own
    chunk and strips of the chunks before it. Copying them into one array would hold the
    region twice while the copy is made. :meth:`LevelResampler.resample` works through the
    region in tiles, and slices the block once per tile: a slice inside one piece is a view of
    it, and only a slice crossing pieces is copied, into an array from ``buffer``.

    Parameters
    ----------
    start : sequence of int
        Global index of the block's first element.
    shape : sequence of int
        The block's shape.
    pieces : sequence of (sequence of int, numpy.ndarray)
        The global start and the values of each piece; together they tile the block, without
        overlap.
    buffer : callable, optional
        ``buffer(shape, dtype)`` gives the array a crossing slice is copied into; by default a
        new array. A buffer reused per thread (as the engine's is) makes every crossing slice
        valid only until the next one is taken in the same thread.

    Examples
    --------
    >>> left, right = np.arange(6).reshape(2, 3), np.arange(6, 10).reshape(2, 2)
    >>> block = Mosaic((0, 10), (2, 5), [((0, 10), left), ((0, 13), right)])
    >>> np.shares_memory(block[:, 1:3], left)  # inside one piece: a view
    True
    >>> block[:, 2:4]  # across two: copied
    array([[2, 6],
           [5, 8]])
    """

    def __init__(
        self,
        start: Sequence[int],
        shape: Sequence[int],
        pieces: Sequence[tuple[Sequence[int], Array]],
        buffer: Callable[[tuple[int, ...], np.dtype[Any]], Array] | None = None,
    ) -> None:
        self.start = tuple(int(a) for a in start)
        self.shape = tuple(int(n) for n in shape)
        if not self.shape:
            raise ValueError("a Mosaic has at least one axis")
        if not pieces:
            raise ValueError("`pieces` must hold at least one array")
        self.pieces = [(tuple(int(a) for a in lo), values) for lo, values in pieces]
        self.dtype = self.pieces[0][1].dtype
        self.ndim = len(self.shape)
        stop = [a + n for a, n in zip(self.start, self.shape, strict=True)]
        for lo, values in self.pieces:
            if values.dtype != self.dtype or values.ndim != self.ndim:
                raise ValueError("every piece must have the block's dtype and number of axes")
            if any(
                a < s or a + n > e
                for a, n, s, e in zip(lo, values.shape, self.start, stop, strict=True)
            ):
                raise ValueError(f"a piece at {lo} of shape {values.shape} lies outside the block")
        if not _tile_exactly(self.start, self.shape, self.pieces):
            raise ValueError("the pieces must tile the block exactly, without overlap")
        self._buffer = buffer or (lambda shape, dtype: np.empty(shape, dtype=dtype))

    def __getitem__(self, index: tuple[slice, ...]) -> Array:
        if not isinstance(index, tuple) or len(index) != self.ndim:
            raise TypeError(f"a Mosaic is sliced with {self.ndim} slices, got {index!r}")
        lo, hi = [], []
        for piece, start, n in zip(index, self.start, self.shape, strict=True):
            if not isinstance(piece, slice):
                raise TypeError(f"a Mosaic is sliced with slices only, got {piece!r}")
            first, last, step = piece.indices(n)
            if step != 1:
                raise ValueError(f"a Mosaic is sliced without steps, got {piece!r}")
            lo.append(start + first)
            hi.append(start + max(first, last))
        shape = tuple(y - x for x, y in zip(lo, hi, strict=True))
        if 0 in shape:
            return np.empty(shape, dtype=self.dtype)
        parts = []
        for origin, values in self.pieces:
            a = [max(p, q) for p, q in zip(lo, origin, strict=True)]
            b = [min(p, q + n) for p, q, n in zip(hi, origin, values.shape, strict=True)]
            if any(y <= x for x, y in zip(a, b, strict=True)):
                continue
            inside = tuple(slice(x - q, y - q) for x, y, q in zip(a, b, origin, strict=True))
            if a == lo and b == hi:
                return values[inside]
            parts.append((a, b, values[inside]))
        out = self._buffer(shape, self.dtype)
        for a, b, values in parts:
            out[tuple(slice(x - p, y - p) for x, y, p in zip(a, b, lo, strict=True))] = values
        return out
