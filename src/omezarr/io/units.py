"""One stored write unit (a chunk, or a shard): its shape, its region, and whether it is intact.

The single check behind ``omezarr verify`` (which lists the stored keys, then decodes each)
and resumed writes (which skip a task only when every unit it writes is stored and decodes).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import zarr

from .._budget import memory_budget_from
from .zarr_internals import key_exists

__all__ = [
    "UndecodableDataError",
    "UnitTooLargeError",
    "check_unit_fits",
    "decode_problem",
    "decoding",
    "unit_intact",
    "unit_region",
    "unit_shape",
]


class UndecodableDataError(ValueError):
    """Stored pixels that their codecs cannot decode (corrupt or truncated chunk files)."""


@contextlib.contextmanager
def decoding(where: object) -> Iterator[None]:
    """Turn any failure while stored pixels are read and decoded into one
    :class:`UndecodableDataError` naming ``where``.

    Codecs fail with whatever their C library says (blosc: ``RuntimeError: error during blosc
    decompression: -1``); bad bytes are bad data, not a bug, and deserve one line that says
    where to look.
    """
    try:
        yield
    except (MemoryError, KeyboardInterrupt, UnitTooLargeError, OSError):
        raise
    except Exception as error:
        raise UndecodableDataError(
            f"{where}: stored pixels cannot be decoded ({type(error).__name__}: {error}); "
            "`omezarr verify` lists the broken chunks"
        ) from None


class UnitTooLargeError(ValueError):
    """One chunk (or shard) of an array would take more memory than the budget to decode."""


def unit_shape(array: zarr.Array) -> tuple[int, ...]:
    """The shape of ``array``'s write unit: its shards if it is sharded, else its chunks."""
    shards = array.shards
    return tuple(shards if shards is not None else array.chunks)


def check_unit_fits(array: zarr.Array, where: object, budget: int | None = None) -> None:
    """Refuse ``array`` before any of it is decoded when one of its write units (the unit a
    reader decodes at once) is larger than the memory budget.

    A chunk of a few kilobytes may declare gigabytes of pixels (a decompression bomb); the
    declared size is checked, not the stored one.

    Parameters
    ----------
    array : zarr.Array
    where : object
        How the error names the array (a path or URL).
    budget : int, optional
        Bytes; default :func:`omezarr._budget.memory_budget_from` (``$OMEZARR_MEMORY_BUDGET``
        or 256 MiB).

    Raises
    ------
    UnitTooLargeError
        A ValueError naming the array, the unit's size and the budget.
    """
    limit = memory_budget_from(None) if budget is None else budget
    unit = unit_shape(array)
    nbytes = math.prod(unit) * np.dtype(array.dtype).itemsize
    if nbytes > limit:
        kind = "shard" if array.shards is not None else "chunk"
        raise UnitTooLargeError(
            f"{where}: one {kind} of {list(unit)} {array.dtype} is {nbytes / 2**20:,.0f} MiB "
            f"decoded, more than the memory budget of {limit / 2**20:,.0f} MiB; raise "
            "$OMEZARR_MEMORY_BUDGET if this file is trusted"
        )


def unit_region(
    array: zarr.Array, coords: tuple[int, ...], unit: tuple[int, ...]
) -> tuple[slice, ...]:
    """The index of the unit at grid ``coords``, clipped at the array's end."""
    return tuple(
        slice(c * u, min((c + 1) * u, n)) for c, u, n in zip(coords, unit, array.shape, strict=True)
    )


def decode_problem(
    array: zarr.Array, coords: tuple[int, ...], unit: tuple[int, ...] | None = None
) -> str | None:
    """Read the unit at ``coords``; the error's text when its bytes do not decode, else None.

    A unit that is not stored reads as the fill value (no problem here): presence is the
    caller's question (:func:`unit_intact`, or verify's listing of the stored keys).
    """
    region = unit_region(array, coords, unit or unit_shape(array))
    try:
        np.asarray(array[region])
    except Exception as error:  # any codec failure means the stored bytes are bad
        return f"{type(error).__name__}: {error}"
    return None


def unit_intact(
    array: zarr.Array, coords: tuple[int, ...], unit: tuple[int, ...] | None = None
) -> bool:
    """Whether the unit at ``coords`` is stored and decodes."""
    key = array.metadata.encode_chunk_key(coords)
    if not key_exists(array.store, f"{array.path}/{key}" if array.path else key):
        return False
    return decode_problem(array, coords, unit) is None
