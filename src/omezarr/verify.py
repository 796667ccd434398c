"""Reading every stored chunk of a hierarchy to find missing or undecodable ones.

``validate`` checks metadata; ``verify`` checks bytes: after a truncated copy or a crash on a
store without atomic writes, it names each chunk (or shard) that is absent or fails to decode.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import zarr
import zarr.core.sync

from .storage import GroupLike, open_group

__all__ = ["ChunkProblem", "VerifyReport", "verify"]


@dataclass(frozen=True)
class ChunkProblem:
    """One chunk (or shard) that is missing or cannot be decoded."""

    key: str
    problem: str  # "missing" or "undecodable"
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.key}: {self.problem}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` read and what it found."""

    target: str
    arrays: int
    chunks_read: int
    problems: list[ChunkProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no chunk is missing or undecodable."""
        return not self.problems

    def format(self) -> str:
        """A human summary followed by one line per problem."""
        missing = sum(p.problem == "missing" for p in self.problems)
        corrupt = sum(p.problem == "undecodable" for p in self.problems)
        lines = [
            f"{self.target}: {self.arrays} arrays, {self.chunks_read} chunks read, "
            f"{missing} missing, {corrupt} undecodable"
        ]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _arrays(group: zarr.Group) -> Iterator[zarr.Array]:
    for _, member in group.members(max_depth=None):
        if isinstance(member, zarr.Array):
            yield member


def _stored_keys(array: zarr.Array) -> set[str]:
    async def collect() -> set[str]:
        prefix = f"{array.path}/" if array.path else ""
        return {key async for key in array.store.list_prefix(prefix)}

    return zarr.core.sync.sync(collect())


def _unit_shape(array: zarr.Array) -> tuple[int, ...]:
    shards = array.shards
    return tuple(shards if shards is not None else array.chunks)


def _check_unit(array: zarr.Array, coords: tuple[int, ...], unit: tuple[int, ...]) -> str | None:
    """Decode one chunk or shard; return the error text, or None when it decodes."""
    region = tuple(
        slice(c * u, min((c + 1) * u, n)) for c, u, n in zip(coords, unit, array.shape, strict=True)
    )
    try:
        np.asarray(array[region])
    except Exception as error:  # any codec failure means the bytes are bad
        return f"{type(error).__name__}: {error}"
    return None


def verify(target: GroupLike, *, allow_missing: bool = False, threads: int = 2) -> VerifyReport:
    """Read every chunk of every array below ``target``.

    Parameters
    ----------
    target : zarr.Group, str or os.PathLike
        The hierarchy to check (a path, URL, store or group).
    allow_missing : bool, default False
        Do not report absent chunks. omezarr writes every chunk (also those equal to the fill
        value), so for its output a missing chunk means lost data; other writers skip such
        chunks on purpose.
    threads : int, default 2
        Chunks decoded at once.

    Returns
    -------
    VerifyReport
        ``report.ok`` is False when any chunk is missing or undecodable.

    Examples
    --------
    >>> verify("img.ome.zarr").ok  # doctest: +SKIP
    True
    """
    group = open_group(target, mode="r")
    problems: list[ChunkProblem] = []
    arrays = 0
    chunks_read = 0
    for array in _arrays(group):
        arrays += 1
        unit = _unit_shape(array)
        grid = tuple(math.ceil(n / u) for n, u in zip(array.shape, unit, strict=True))
        stored = _stored_keys(array)
        prefix = f"{array.path}/" if array.path else ""
        present = []
        for coords in np.ndindex(*grid):
            key = prefix + array.metadata.encode_chunk_key(coords)
            if key in stored:
                present.append(coords)
            elif not allow_missing:
                problems.append(ChunkProblem(key, "missing"))
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            errors = pool.map(_check_unit, [array] * len(present), present, [unit] * len(present))
            for coords, error in zip(present, errors, strict=True):
                chunks_read += 1
                if error is not None:
                    key = prefix + array.metadata.encode_chunk_key(coords)
                    problems.append(ChunkProblem(key, "undecodable", error))
    return VerifyReport(str(target), arrays, chunks_read, problems)
