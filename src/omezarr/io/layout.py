"""Array layout of each pyramid level: chunks, shards, compressors and other zarr options.

Pure planning from ``storage_options`` and the input; nothing is created here. Every refusal is
a ValueError or TypeError naming ``storage_options`` and the level, raised before any write.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import zarr

from .._numbers import ceil_div
from ..types import StorageOptions
from .codecs import compressors_for

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "EVERY_CHUNK_STORED",
    "LevelLayout",
    "archive_storage_options",
    "auto_shard_limit",
    "default_chunks",
    "every_chunk_stored",
    "input_chunks",
    "level_storage_options",
    "resolve_layouts",
]

EVERY_CHUNK_STORED: dict[str, Any] = {"omezarr": {"every_chunk_stored": True}}
"""The attribute omezarr's pixel writers give each level array: every chunk (or shard) is
stored, also those equal to the fill value. zarr lets a writer leave such chunks out (the
fill value is read in their place), so only an array that says this may treat an absent chunk
as lost data (``omezarr verify``)."""


def every_chunk_stored(array: zarr.Array) -> bool:
    """Whether ``array`` declares :data:`EVERY_CHUNK_STORED`."""
    marker = array.attrs.get("omezarr")
    return isinstance(marker, Mapping) and marker.get("every_chunk_stored") is True


DEFAULT_CHUNK_BYTES = 2 * 2**20
"""Target size of a default chunk: 1024 × 1024 uint16 planes, good for viewers and codecs."""

AUTO_SHARD_MAX_BYTES = 128 * 2**20
"""Upper bound of a shard chosen by ``shards="auto"`` (further capped by the memory budget)."""

_SET_BY_WRITER = {
    "shape",
    "dtype",
    "name",
    "chunk_key_encoding",
    "dimension_names",
    "overwrite",
    "zarr_format",
}
_CREATE_ARRAY_OPTIONS = (
    set(inspect.signature(zarr.create_array).parameters) - {"store", "data"} - _SET_BY_WRITER
)


@dataclass(frozen=True)
class LevelLayout:
    """How one level is stored."""

    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    compressors: list[Any] | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def write_unit(self) -> tuple[int, ...]:
        """What is written at once: a shard if sharded, else a chunk."""
        return self.shards if self.shards is not None else self.chunks


def input_chunks(image: Any) -> tuple[int, ...] | None:
    """The chunk shape of a chunked input (dask or zarr array), else None."""
    chunksize = getattr(image, "chunksize", None)
    if isinstance(chunksize, tuple) and all(isinstance(c, int) for c in chunksize):
        return tuple(int(c) for c in chunksize)
    chunks = getattr(image, "chunks", None)
    if isinstance(chunks, tuple) and chunks and all(isinstance(c, int) for c in chunks):
        return tuple(int(c) for c in chunks)
    return None


def default_chunks(shape: Sequence[int], dims: Sequence[str], itemsize: int) -> tuple[int, ...]:
    """omezarr's default chunks: y/x up to 1024, z grown to ~2 MiB, other axes 1.

    Examples
    --------
    >>> default_chunks((2, 40, 2048, 2048), "czyx", 2)
    (1, 1, 1024, 1024)
    >>> default_chunks((100, 256, 256), "zyx", 2)
    (16, 256, 256)
    """
    chunks = [1] * len(shape)
    for axis, name in enumerate(dims):
        if name in ("y", "x"):
            chunks[axis] = max(1, min(int(shape[axis]), 1024))
    plane = math.prod(chunks) * itemsize
    for axis, name in enumerate(dims):
        if name == "z":
            chunks[axis] = max(1, min(int(shape[axis]), DEFAULT_CHUNK_BYTES // max(1, plane)))
    return tuple(chunks)


def archive_storage_options(storage_options: Any) -> Any:
    """``storage_options`` for a single-file archive: ``shards="auto"`` on every level that
    gives no shards, so that a large image is hundreds of archive entries, not millions
    (RFC-9 recommends sharding).

    Examples
    --------
    >>> archive_storage_options(None), archive_storage_options([{"shards": None}])
    ({'shards': 'auto'}, [{'shards': None}])
    """
    if storage_options is None or (
        isinstance(storage_options, list | tuple) and not storage_options
    ):
        return {"shards": "auto"}  # [] is no options (see level_storage_options)
    if isinstance(storage_options, Mapping):
        return {"shards": "auto", **storage_options}
    if isinstance(storage_options, list | tuple):
        return [
            {"shards": "auto", **options} if isinstance(options, Mapping) else options
            for options in storage_options
        ]
    return storage_options  # refused by resolve_layouts, naming what it is


def _retuple(chunks: int | Sequence[Any], shape: Sequence[Any]) -> tuple[Any, ...]:
    """Expand ``chunks`` to the rank of ``shape``: an int for every axis; a shorter sequence
    right-aligned after ``shape``'s leading sizes.

    The reference's helper, with its results: a sequence longer than ``shape`` follows the
    sizes of all but as many trailing axes as it has too many entries (callers check the
    length first), and anything without a length raises TypeError.

    Examples
    --------
    >>> _retuple((64, 64), (3, 4, 5, 1028, 1028))
    (3, 4, 5, 64, 64)
    >>> _retuple(16, (2, 32, 32))
    (16, 16, 16)
    """
    if isinstance(chunks, int):
        return tuple(chunks for _ in shape)
    leading = tuple(shape)[: len(shape) - len(chunks)]
    return (*leading, *chunks)


def _shape_option(value: Any, shape: Sequence[int], key: str, where: str) -> tuple[int, ...]:
    if isinstance(value, bool) or not (isinstance(value, (int, Sequence))):
        raise TypeError(f"{where}: {key} must be an int or a tuple of ints, not {value!r}")
    if isinstance(value, Sequence) and not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise TypeError(f"{where}: {key} must be an int or a tuple of ints, not {value!r}")
    if isinstance(value, Sequence) and len(value) > len(shape):
        raise ValueError(
            f"{where}: {key} {tuple(value)} has more entries than the {len(shape)} dimensions"
        )
    result = _retuple(value, shape)
    if any(v < 1 for v in result):
        raise ValueError(f"{where}: {key} must be positive, got {result}")
    return tuple(
        min(v, max(1, n)) if key == "chunks" else v for v, n in zip(result, shape, strict=True)
    )


def _auto_shards(
    chunks: tuple[int, ...],
    shape: Sequence[int],
    itemsize: int,
    limit: int,
    most: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """Several chunks per shard, at most ``limit`` bytes, never beyond the array (rounded up)
    nor beyond ``most`` per axis (at least one chunk)."""
    shards = list(chunks)
    grew = True
    while grew:
        grew = False
        for axis in reversed(range(len(shards))):
            bigger = shards[axis] * 2
            if shards[axis] >= shape[axis] or math.prod(shards) * 2 * itemsize > limit:
                continue
            if most is not None and bigger > max(most[axis], chunks[axis]):
                continue
            shards[axis] = bigger
            grew = True
    return _trim_shards(shards, chunks, shape)


def auto_shard_limit(memory_budget: int) -> int:
    """The most bytes a shard chosen by ``shards="auto"`` holds at first: 128 MiB, at most a
    quarter of the budget.

    Examples
    --------
    >>> auto_shard_limit(256 * 2**20) // 2**20
    64
    """
    return min(AUTO_SHARD_MAX_BYTES, memory_budget // 4)


def _trim_shards(
    shards: Sequence[int], chunks: Sequence[int], shape: Sequence[int]
) -> tuple[int, ...]:
    """Shards no larger than the smallest multiple of chunks that covers each axis."""
    return tuple(min(s, ceil_div(n, c) * c) for s, c, n in zip(shards, chunks, shape, strict=True))


def level_storage_options(storage_options: StorageOptions, n_levels: int) -> StorageOptions:
    """``storage_options`` for a pyramid of ``n_levels``, taken as the reference takes them: a
    list gives level ``i`` its ``i``-th entry, so entries after the last level are left out
    (never looked at), and an empty list is no options.

    Raises
    ------
    ValueError
        For a list with fewer entries than levels.
    TypeError
        For anything but None, a dict, or a list or tuple.

    Examples
    --------
    >>> level_storage_options([{"chunks": 8}, {"chunks": 4}, {"chunks": 2}], 2)
    [{'chunks': 8}, {'chunks': 4}]
    >>> level_storage_options([], 3) is None
    True
    """
    if storage_options is None or isinstance(storage_options, Mapping):
        return storage_options
    if not isinstance(storage_options, list | tuple):
        raise TypeError(
            "storage_options: expected a dict or a list of dicts, not "
            f"{type(storage_options).__name__}"
        )
    if not storage_options:
        return None
    if len(storage_options) < n_levels:
        raise ValueError(
            f"storage_options: a list needs one dict per level ({n_levels} levels), got "
            f"{len(storage_options)}"
        )
    return list(storage_options[:n_levels])


def _check_dimension_names(names: Any, dims: Sequence[str], zarr_format: int, where: str) -> None:
    """``dimension_names`` given in ``storage_options``: the writer sets the axes' names, so
    only those (or None) are accepted, and none on zarr v2, which has no dimension names."""
    if names is None:
        return
    if zarr_format == 2:
        raise ValueError(
            f"{where}: dimension_names: zarr v2 (OME-NGFF 0.4) arrays have no dimension names; "
            "leave it out"
        )
    if not isinstance(names, list | tuple) or list(names) != list(dims):
        raise ValueError(
            f"{where}: dimension_names {names!r} differ from the axes {list(dims)}; leave it "
            "out (each level's dimension_names are the axes' names)"
        )


def resolve_layouts(
    storage_options: StorageOptions,
    shapes: Sequence[Sequence[int]],
    dims: Sequence[str],
    itemsize: int,
    zarr_format: int,
    level0_chunks: Sequence[int],
    memory_budget: int,
    shard_limit: int | None = None,
) -> list[LevelLayout]:
    """One :class:`LevelLayout` per level from the user's ``storage_options``.

    Parameters
    ----------
    storage_options : dict, list of dict or None
        ``chunks`` (int or tuple, right-aligned; ``"auto"`` warns and uses ``level0_chunks``),
        ``shards`` (zarr v3 only; tuple, int or ``"auto"``), ``compressor``/``compressors``
        (None for no compression), ``dimension_names`` (None or the axes' names; not on
        zarr v2) and any other :func:`zarr.create_array` option. A list gives one dict per
        level (see :func:`level_storage_options`).
    shapes : sequence of tuple
        Level shapes, level 0 first.
    dims : sequence of str
        Axis names.
    itemsize : int
        Bytes per pixel.
    zarr_format : int
        2 or 3.
    level0_chunks : sequence of int
        Chunks to use where none are given (the input's chunking or omezarr's default),
        clipped to each level's shape.
    memory_budget : int
        Bytes; ``shards="auto"`` stays within a quarter of it.
    shard_limit : int, optional
        Bytes a shard chosen by ``shards="auto"`` may hold instead (the planner lowers it
        until the write fits the budget).
    """
    n_levels = len(shapes)
    storage_options = level_storage_options(storage_options, n_levels)
    if storage_options is None:
        per_level: list[Mapping[str, Any]] = [{}] * n_levels
    elif isinstance(storage_options, Mapping):
        per_level = [storage_options] * n_levels
    else:
        per_level = list(storage_options)
    layouts = []
    first: tuple[int, ...] | None = None  # level 0's automatic shards
    for level, (options, shape) in enumerate(zip(per_level, shapes, strict=True)):
        where = f"storage_options (level {level})"
        if not isinstance(options, Mapping):
            raise TypeError(f"{where}: expected a dict, not {type(options).__name__}")
        options = dict(options)
        _check_dimension_names(options.pop("dimension_names", None), dims, zarr_format, where)
        unknown = sorted(set(options) - _CREATE_ARRAY_OPTIONS - {"compressor", "chunks", "shards"})
        if unknown:
            raise ValueError(f"{where}: unknown zarr array options {unknown}")
        chunks_opt = options.pop("chunks", None)
        if chunks_opt == "auto":
            warnings.warn(
                "Setting `chunks` to `auto` is not allowed. Defaulting to the chunksize of the input: "
                f"{tuple(level0_chunks)}.",
                UserWarning,
                stacklevel=4,
            )
            chunks_opt = None
        if chunks_opt is None:
            chunks = tuple(
                max(1, min(int(c), max(1, n))) for c, n in zip(level0_chunks, shape, strict=True)
            )
        else:
            chunks = _shape_option(chunks_opt, shape, "chunks", where)
        shards_opt = options.pop("shards", None)
        shards = None
        if shards_opt is not None:
            if zarr_format != 3:
                raise ValueError(
                    f"{where}: shards need zarr v3 (OME-NGFF 0.5); this is zarr v{zarr_format}"
                )
            if shards_opt == "auto":
                limit = shard_limit or auto_shard_limit(memory_budget)
                # A coarser level's shards cover no more of the image than level 0's: a shard
                # is written by one task, and one spanning every plane of a coarse level would
                # make the whole image one task (one core).
                most = (
                    [
                        s0 * n // max(1, n0)
                        for s0, n, n0 in zip(first, shape, shapes[0], strict=True)
                    ]
                    if level and first is not None
                    else None
                )
                shards = _auto_shards(chunks, shape, itemsize, limit, most)
                if level == 0:
                    first = shards
            else:
                # Trimmed like chunks: a level smaller than a chunk has its chunks clipped.
                shards = _trim_shards(
                    _shape_option(shards_opt, shape, "shards", where), chunks, shape
                )
            bad = [(s, c) for s, c in zip(shards, chunks, strict=True) if s % c]
            if bad:
                raise ValueError(f"{where}: shards {shards} must be divisible by chunks {chunks}")
        if "compressor" in options and "compressors" in options:
            raise ValueError(f"{where}: give compressor or compressors, not both")
        compressor_value = options.pop("compressor", options.pop("compressors", "default"))
        try:
            compressors = compressors_for(compressor_value, zarr_format)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{where}: {error}") from None
        layouts.append(
            LevelLayout(chunks=chunks, shards=shards, compressors=compressors, extra=options)
        )
    return layouts
