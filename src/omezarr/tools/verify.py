"""Reading every stored chunk of a hierarchy to find missing or undecodable ones.

``validate`` checks metadata; ``verify`` checks bytes: after a truncated copy or a crash on a
store without atomic writes, it names each chunk (or shard) that is absent or fails to decode.
The chunks present are found by listing the store, never by walking the chunk grid, so an
array whose metadata claims an absurd shape is answered with a count of missing chunks.

An absent chunk is legal zarr (it reads as the fill value, and most writers leave out chunks
equal to it), so it is lost data only in an array known to be complete: one whose attributes
declare that every chunk is stored (:data:`omezarr.io.layout.EVERY_CHUNK_STORED`, given by
omezarr's pixel writers), or any array when the caller says so (``require_all``). Elsewhere
absent chunks are counted, not reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import zarr

from .._numbers import ceil_div
from ..io.layout import every_chunk_stored
from ..io.staging import is_staging_name
from ..io.storage import GroupLike, is_partial_file, open_group, open_member
from ..io.units import check_unit_fits, decode_problem, unit_shape
from ..io.zarr_internals import chunk_key_coords, list_dir, list_keys

__all__ = ["ChunkProblem", "VerifyReport", "verify"]

_NAMED_GRID_LIMIT = 10**6
"""Chunk grids up to this size have each missing chunk named; larger ones get a count."""

_METADATA_KEYS = frozenset({"zarr.json", ".zgroup", ".zarray", ".zattrs", ".zmetadata"})
"""The documents of a zarr node (v3 and v2), which sit beside its members."""


@dataclass(frozen=True)
class ChunkProblem:
    """One chunk (or shard) that is missing or cannot be decoded, or ``count`` missing ones.

    A chunk grid too large to list chunk by chunk reports its missing chunks as one problem
    whose ``key`` is the array's prefix and whose ``count`` says how many are missing.
    """

    key: str
    problem: str  # "missing" or "undecodable"
    detail: str = ""
    count: int = 1

    def __str__(self) -> str:
        return f"{self.key}: {self.problem}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` read and what it found.

    ``leftovers`` are the store keys of temporary files that killed writes left behind
    (``*.partial``): noted, but no error, since they hold no data of the hierarchy.
    """

    target: str
    arrays: int
    chunks_read: int
    problems: list[ChunkProblem] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    absent: int = 0
    """Chunks absent from arrays not known to be complete: legal, read as the fill value."""

    @property
    def ok(self) -> bool:
        """True when no chunk is missing or undecodable."""
        return not self.problems

    def format(self) -> str:
        """A human summary followed by one line per problem and per leftover file."""
        missing = sum(p.count for p in self.problems if p.problem == "missing")
        corrupt = sum(p.count for p in self.problems if p.problem == "undecodable")
        lines = [
            f"{self.target}: {self.arrays} arrays, {self.chunks_read} chunks read, "
            f"{missing} missing, {corrupt} undecodable"
            + (
                f", {self.absent} absent (legal: read as the fill value; --require-all "
                "to count them as missing)"
                if self.absent
                else ""
            )
        ]
        lines += [f"  {p}" for p in self.problems]
        lines += [f"  {key}: leftover temporary file (note)" for key in self.leftovers]
        return "\n".join(lines)


def _arrays(group: zarr.Group, leftovers: list[str]) -> Iterator[zarr.Array]:
    """Every array below ``group``; temporary files beside its members go to ``leftovers``.

    The group's directory is listed and each entry opened by name (rather than with
    ``group.members()``), so that a leftover file is noted instead of making zarr warn, and a
    member whose metadata cannot be read raises a ValueError naming it.
    """
    prefix = f"{group.path}/" if group.path else ""
    for name in sorted(list_dir(group.store, group.path)):
        if is_partial_file(name) or is_staging_name(name):
            # A killed write's temporary file, or the hidden directory of a killed overwrite.
            leftovers.append(prefix + name)
            continue
        if name in _METADATA_KEYS:
            continue
        member = open_member(group, name)
        if isinstance(member, zarr.Array):
            yield member
        elif isinstance(member, zarr.Group):
            yield from _arrays(member, leftovers)


def _absent_count(grid: tuple[int, ...], present: list[tuple[int, ...]]) -> int:
    return math.prod(grid) - len(present)


def _missing(
    array: zarr.Array, grid: tuple[int, ...], present: list[tuple[int, ...]], prefix: str
) -> list[ChunkProblem]:
    """The chunks of ``grid`` absent from ``present``: named, or counted when the grid is huge."""
    size = math.prod(grid)
    if size <= _NAMED_GRID_LIMIT:
        stored = set(present)
        return [
            ChunkProblem(prefix + array.metadata.encode_chunk_key(coords), "missing")
            for coords in np.ndindex(*grid)
            if coords not in stored
        ]
    absent = _absent_count(grid, present)
    if not absent:
        return []
    detail = f"{absent} of {size} chunks missing (grid {list(grid)})"
    return [ChunkProblem(prefix.rstrip("/") or ".", "missing", detail, absent)]


def verify(
    target: GroupLike, *, allow_missing: bool = False, require_all: bool = False, threads: int = 2
) -> VerifyReport:
    """Read every chunk of every array below ``target``.

    Parameters
    ----------
    target : zarr.Group, str or os.PathLike
        The hierarchy to check (a path, URL, store or group).
    allow_missing : bool, default False
        Report no absent chunk as missing, even in arrays known to be complete.
    require_all : bool, default False
        Report absent chunks as missing in every array. By default only arrays that declare
        every chunk stored (omezarr's pixel writers do) have theirs reported; in others an
        absent chunk is legal (other writers leave out chunks equal to the fill value) and
        counted in ``report.absent``.
    threads : int, default 2
        Chunks decoded at once.

    Returns
    -------
    VerifyReport
        ``report.ok`` is False when any chunk is missing or undecodable; temporary files
        left by killed writes are listed in ``report.leftovers``.

    Raises
    ------
    ValueError
        If the zarr metadata of a group or array cannot be read.

    Examples
    --------
    >>> verify("img.ome.zarr").ok  # doctest: +SKIP
    True
    """
    if allow_missing and require_all:
        raise ValueError("allow_missing and require_all: give at most one of them")
    group = open_group(target, mode="r")
    absent = 0
    problems: list[ChunkProblem] = []
    leftovers: list[str] = []
    arrays = 0
    chunks_read = 0
    for array in _arrays(group, leftovers):
        arrays += 1
        prefix = f"{array.path}/" if array.path else ""
        check_unit_fits(array, f"{group.store_path}/{array.path}")
        unit = unit_shape(array)
        grid = tuple(ceil_div(n, u) for n, u in zip(array.shape, unit, strict=True))
        present = []
        for stored_key in list_keys(array.store, prefix):
            key = stored_key[len(prefix) :]
            coords = chunk_key_coords(array, key)
            if coords is not None and all(c < g for c, g in zip(coords, grid, strict=True)):
                present.append(coords)
            elif is_partial_file(key):
                leftovers.append(prefix + key)
        present.sort()
        if require_all or (not allow_missing and every_chunk_stored(array)):
            problems += _missing(array, grid, present, prefix)
        elif not allow_missing:
            absent += _absent_count(grid, present)
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            errors = pool.map(
                decode_problem, [array] * len(present), present, [unit] * len(present)
            )
            for coords, error in zip(present, errors, strict=True):
                chunks_read += 1
                if error is not None:
                    key = prefix + array.metadata.encode_chunk_key(coords)
                    problems.append(ChunkProblem(key, "undecodable", error))
    return VerifyReport(str(target), arrays, chunks_read, problems, sorted(leftovers), absent)
