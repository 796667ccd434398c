"""One stored write unit (a chunk, or a shard): its shape, its region, and whether it is intact.

The single check behind ``omezarr verify`` (which lists the stored keys, then decodes each)
and resumed writes (which skip a task only when every unit it writes is stored and decodes).
"""

from __future__ import annotations

import numpy as np
import zarr

from .zarr_internals import key_exists

__all__ = ["decode_problem", "unit_intact", "unit_region", "unit_shape"]


def unit_shape(array: zarr.Array) -> tuple[int, ...]:
    """The shape of ``array``'s write unit: its shards if it is sharded, else its chunks."""
    shards = array.shards
    return tuple(shards if shards is not None else array.chunks)


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
