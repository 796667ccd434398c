"""Boxes of array indices: their slices, sizes, unions and intersections, grids and Z order."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

Box = tuple[tuple[int, ...], tuple[int, ...]]
"""A box as (start, stop) index tuples."""


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


def _union(boxes: Sequence[Box]) -> Box:
    lo = tuple(min(b[0][i] for b in boxes) for i in range(len(boxes[0][0])))
    hi = tuple(max(b[1][i] for b in boxes) for i in range(len(boxes[0][0])))
    return lo, hi


def _intersection(first: Box, second: Box) -> Box:
    """The overlap of two boxes (empty, see :func:`_is_empty`, when they do not meet)."""
    lo = tuple(max(a, b) for a, b in zip(first[0], second[0], strict=True))
    hi = tuple(min(a, b) for a, b in zip(first[1], second[1], strict=True))
    return lo, hi


def _is_empty(box: Box) -> bool:
    return any(b <= a for a, b in zip(box[0], box[1], strict=True))
