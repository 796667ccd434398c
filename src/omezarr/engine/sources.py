"""Reading the input: NumPy, dask and zarr sources, region by region, through a chunk cache."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..pyramid.mosaic import Mosaic
from .box import Box


def _dask_block(source: Any, box: Box) -> tuple[int, ...] | None:
    """The index of the one dask block that ``box`` is exactly, else None."""
    if not type(source).__module__.startswith("dask."):
        return None
    chunks = source.chunks
    index = []
    for axis_chunks, start, stop in zip(chunks, box.start, box.stop, strict=True):
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
    collection each time, which costs as much as generating a block; culling a materialised
    graph to one key and running it costs a small fraction of that (figures in
    benchmarks/RESULTS.md, "Figures behind the code").
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
        block = source[box.slices()]
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


class _AssemblyBuffer(threading.local):
    """Per thread, the array that slices of a :class:`~omezarr.pyramid.Mosaic` crossing its
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
            for e, a in zip(self.bounds, box.start, strict=True)
        ]
        last = [
            int(np.searchsorted(e, b - 1, side="right")) - 1
            for e, b in zip(self.bounds, box.stop, strict=True)
        ]
        return [
            tuple(f + i for f, i in zip(first, index, strict=True))
            for index in np.ndindex(*(b - a + 1 for a, b in zip(first, last, strict=True)))
        ]

    def _chunk_box(self, key: tuple[int, ...]) -> Box:
        lo = tuple(int(e[k]) for e, k in zip(self.bounds, key, strict=True))
        hi = tuple(int(e[k + 1]) for e, k in zip(self.bounds, key, strict=True))
        return Box(lo, hi)

    def read(self, box: Box) -> np.ndarray | Mosaic:
        """``box``: the piece of its one chunk, or a :class:`Mosaic` of its pieces (never
        joined into one array: that would hold the box twice, its chunk and the copy)."""
        keys = self._keys(box)
        parts = []
        for key in keys:
            want = self._chunk_box(key).intersect(box)
            parts.append((want.start, self._piece(key, want)))
        if len(parts) == 1:
            return parts[0][1]
        self._evict(keep=len(keys))
        return Mosaic(box.start, box.shape, parts, buffer=_ASSEMBLY.array)

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
        chunk_box = self._chunk_box(key)
        chunk = _read(self.source, chunk_box)
        self.chunks[key] = [(chunk_box.start, chunk)]
        self.chunks.move_to_end(key)
        self.size += chunk.nbytes
        return chunk[want.relative_to(chunk_box.start)]

    def retain(self, reads: Sequence[Box]) -> None:
        """Keep of every cached chunk only its overlaps with ``reads`` (the reads still to
        come), as copies when they are smaller than what is held."""
        for key in list(self.chunks):
            chunk = self._chunk_box(key)
            needs: list[Box] = []
            for box in reads:
                need = chunk.intersect(box)
                if not need.is_empty and need not in needs:
                    needs.append(need)
            pieces = self.chunks[key]
            held = sum(values.nbytes for _, values in pieces)
            if not needs:
                del self.chunks[key]
                self.size -= held
                continue
            itemsize = pieces[0][1].itemsize
            wanted = sum(need.size for need in needs)
            if wanted * itemsize >= held:
                continue
            kept = []
            for need in needs:
                view = _covering(pieces, need)
                if view is not None:  # else not held: read again when needed
                    kept.append((need.start, view.copy()))
            self.chunks[key] = kept
            self.size += sum(values.nbytes for _, values in kept) - held

    def _evict(self, keep: int) -> None:
        while self.size > self.limit and len(self.chunks) > keep:
            _, pieces = self.chunks.popitem(last=False)
            self.size -= sum(values.nbytes for _, values in pieces)


def _covering(pieces: Sequence[tuple[tuple[int, ...], np.ndarray]], box: Box) -> np.ndarray | None:
    """``box`` as a view of the first of ``pieces`` (start, values) that covers it, else None."""
    for start, values in pieces:
        stop = tuple(a + n for a, n in zip(start, values.shape, strict=True))
        if box.intersect(Box(start, stop)) == box:
            return values[box.relative_to(start)]
    return None


class _OffsetBlock:
    """A block of the source standing in for the whole source inside one task."""

    def __init__(self, block: np.ndarray, offset: Sequence[int], shape: Sequence[int]) -> None:
        self.block = block
        self.offset = tuple(offset)
        self.shape = tuple(shape)
        self.dtype = block.dtype

    def __getitem__(self, index: tuple[slice, ...]) -> np.ndarray:
        return self.block[Box.from_slices(index).relative_to(self.offset)]


def _is_zarr_array(source: Any) -> bool:
    module = type(source).__module__
    return module.startswith("zarr.") and hasattr(source, "store")
