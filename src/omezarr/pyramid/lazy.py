"""The lazy dask pyramid: each output chunk computed from only the input chunks it needs."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import dask.array as da
from .methods import Methods, level_factors, resolve_method
from .resample import LevelResampler
from .steps import pyramid_steps
from .taps import Array, Region

# ---------------------------------------------------------------------------------------------
# Dask layers
# ---------------------------------------------------------------------------------------------


def _resample_chunks(
    level: LevelResampler,
    in_region: Region,
    out_region: Region,
    chunk_starts: Array,
    chunks: list[Array],
) -> Array:
    """Dask task: assemble level-0 ``chunks`` into ``in_region``, then resample it."""
    origin = [piece.start for piece in in_region]
    block = np.empty([piece.stop - piece.start for piece in in_region], dtype=chunks[0].dtype)
    for start, chunk in zip(chunk_starts, chunks, strict=True):
        source, destination = [], []
        for piece, offset, extent in zip(in_region, start, chunk.shape, strict=True):
            low, high = max(piece.start, offset), min(piece.stop, offset + extent)
            source.append(slice(low - offset, high - offset))
            destination.append(slice(low - piece.start, high - piece.start))
        block[tuple(destination)] = chunk[tuple(source)]
    return level.resample(block, origin, out_region)


def _resample_dask(source: da.Array, level: LevelResampler, chunks: Sequence[Any]) -> da.Array:
    """A lazy level: each output chunk is computed from only the level-0 chunks it needs."""
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    dtype = source.dtype.newbyteorder("=")
    if 0 in level.out_shape:
        return da.empty(level.out_shape, dtype=dtype)
    out_chunks = da.core.normalize_chunks(
        tuple(max(1, min(c, n)) for c, n in zip(chunks, level.out_shape, strict=True)),
        level.out_shape,
    )
    name = "omezarr-downsample-" + tokenize(source.name, level, out_chunks)
    in_edges = [np.cumsum((0, *sizes)) for sizes in source.chunks]
    out_edges = [np.cumsum((0, *sizes)) for sizes in out_chunks]
    graph: dict[Any, Any] = {}
    for block_index in itertools.product(*(range(len(sizes)) for sizes in out_chunks)):
        out_region = tuple(
            slice(int(edges[i]), int(edges[i + 1]))
            for edges, i in zip(out_edges, block_index, strict=True)
        )
        in_region = level.input_region(out_region)
        overlapping = [
            range(
                int(np.searchsorted(edges, piece.start, side="right")) - 1,
                int(np.searchsorted(edges, piece.stop, side="left")),
            )
            for edges, piece in zip(in_edges, in_region, strict=True)
        ]
        chunk_indices = list(itertools.product(*overlapping))
        chunk_starts = np.array(
            [[in_edges[axis][i] for axis, i in enumerate(index)] for index in chunk_indices],
            dtype=np.int64,
        )
        keys = [(source.name, *index) for index in chunk_indices]
        graph[(name, *block_index)] = (
            _resample_chunks,
            level,
            in_region,
            out_region,
            chunk_starts,
            keys,
        )
    layers = HighLevelGraph.from_collections(name, graph, dependencies=[source])  # type: ignore[list-item]
    return da.Array(layers, name, chunks=out_chunks, dtype=dtype)


def _build_pyramid(
    image: Any,
    scale_factors: Sequence[int] | Sequence[dict[str, int]],
    dims: Sequence[str],
    method: Methods | str = "nearest",
    chunks: tuple[int, ...] | str | None = None,
) -> list[da.Array]:
    """Build a lazy pyramid: level 0 as dask, then one dask array per level.

    Like the reference's ``_build_pyramid`` (each level from the one before it, see
    :func:`pyramid_steps`), but computed by this module's kernels, with integer
    ``scale_factors`` honoured (not replaced by powers of two); each output chunk reads only
    the source level's chunks under its input region.

    Parameters
    ----------
    image : numpy.ndarray, dask.array.Array or array-like
        Level 0.
    scale_factors : list or tuple of int, or list of dict
        See :func:`level_factors`.
    dims : sequence of str
        Axis names of ``image``.
    method : Methods or str, default "nearest"
        See :func:`resolve_method`.
    chunks : tuple of int, str or None
        Chunking of level 0 (dask syntax); None keeps a dask array's chunks or lets dask
        choose. Every level uses level 0's chunk size, clipped to its shape.

    Returns
    -------
    list of dask.array.Array
    """
    import dask.array as da

    resolved = resolve_method(method, Methods.NEAREST)
    if isinstance(image, da.Array):
        level0 = image if chunks is None else image.rechunk(chunks)
    else:
        level0 = da.from_array(image, chunks="auto" if chunks is None else chunks)
    dims = tuple(dims)
    if len(dims) != level0.ndim:
        raise ValueError(f"`dims` must name each of the {level0.ndim} axes; got {dims}")
    factors = level_factors(scale_factors, dims)
    pyramid = [level0]
    for step in pyramid_steps(level0.shape, factors, resolved, dims):
        pyramid.append(_resample_dask(pyramid[step.source], step.step, level0.chunksize))
    return pyramid
