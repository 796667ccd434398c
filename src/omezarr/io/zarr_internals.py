"""Every call into zarr-python's internals (``zarr.core``), behind small named helpers.

zarr's public API has no synchronous store calls and no chunk-key parser, so these reach into
``zarr.core``; keeping them here means a zarr upgrade that moves them is fixed in one module.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import zarr
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.chunk_key_encodings import DefaultChunkKeyEncoding
from zarr.core.sync import sync

__all__ = [
    "chunk_key_coords",
    "delete_prefix",
    "key_exists",
    "list_dir",
    "list_keys",
    "prefix_is_empty",
    "read_key",
    "run_sync",
]

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on zarr's event loop and return its result.

    zarr's stores are asynchronous; every synchronous caller goes through this loop (not a
    loop of its own), since the stores' sessions are bound to it.

    Examples
    --------
    >>> from zarr.storage import MemoryStore
    >>> run_sync(MemoryStore().is_empty(""))
    True
    """
    return sync(coroutine)


def list_keys(store: Store, prefix: str) -> list[str]:
    """Every key of ``store`` below ``prefix`` (full keys, in the store's order).

    Examples
    --------
    >>> import zarr
    >>> group = zarr.open_group(zarr.storage.MemoryStore(), mode="w")
    >>> sorted(list_keys(group.store, ""))
    ['zarr.json']
    """

    async def collect() -> list[str]:
        return [key async for key in store.list_prefix(prefix)]

    return run_sync(collect())


def list_dir(store: Store, prefix: str) -> list[str]:
    """The names one level below ``prefix`` (keys and "folders"), relative to it.

    Examples
    --------
    >>> import zarr
    >>> group = zarr.open_group(zarr.storage.MemoryStore(), mode="w")
    >>> _ = group.create_group("labels")
    >>> sorted(list_dir(group.store, ""))
    ['labels', 'zarr.json']
    """

    async def collect() -> list[str]:
        return [key async for key in store.list_dir(prefix)]

    return run_sync(collect())


def key_exists(store: Store, key: str) -> bool:
    """Whether ``store`` holds ``key`` (a full key, e.g. ``"s0/c/0/0"``).

    Examples
    --------
    >>> from zarr.storage import MemoryStore
    >>> key_exists(MemoryStore(), "zarr.json")
    False
    """
    return run_sync(store.exists(key))


def prefix_is_empty(store: Store, prefix: str = "") -> bool:
    """Whether ``store`` holds no key below ``prefix`` (``""``: the whole store).

    Examples
    --------
    >>> from zarr.storage import MemoryStore
    >>> prefix_is_empty(MemoryStore())
    True
    """
    return run_sync(store.is_empty(prefix))


def delete_prefix(store: Store, prefix: str = "") -> None:
    """Delete every key of ``store`` below ``prefix`` (``""``: everything in the store)."""
    run_sync(store.delete_dir(prefix))


def read_key(store: Store, key: str) -> bytes | None:
    """The bytes stored at ``key``, or None if there is none.

    Raises
    ------
    Exception
        Whatever the store raises when it cannot be reached (e.g. a PermissionError).
    """
    buffer = run_sync(store.get(key, default_buffer_prototype()))
    return None if buffer is None else buffer.to_bytes()


def chunk_key_coords(array: zarr.Array, key: str) -> tuple[int, ...] | None:
    """The grid coordinates that the chunk key ``key`` (relative to the array) encodes.

    None for any other key: metadata documents, temporary files, stray objects.

    Examples
    --------
    >>> import zarr
    >>> array = zarr.create_array(zarr.storage.MemoryStore(), shape=(4, 4), chunks=(2, 2),
    ...                           dtype="u1")
    >>> chunk_key_coords(array, "c/1/0"), chunk_key_coords(array, "zarr.json")
    ((1, 0), None)
    """
    metadata = array.metadata
    if metadata.zarr_format == 2:
        separator, body = metadata.dimension_separator, key
    else:
        # zarr's own decode_chunk_key fails on default keys ("c/0/0"), so keys are parsed here;
        # an encoding of a plugin is assumed to join the coordinates with its separator.
        encoding = metadata.chunk_key_encoding
        separator = getattr(encoding, "separator", "/")
        is_default = isinstance(encoding, DefaultChunkKeyEncoding)
        body = key.removeprefix("c" + separator) if is_default else key
    parts = body.split(separator) if array.ndim else []
    if len(parts) != array.ndim or not all(part.isdecimal() for part in parts):
        return None
    coords = tuple(int(part) for part in parts)
    # Encoding back rejects near misses such as "c.0.0" for "c/0/0" or "007" for "7".
    return coords if metadata.encode_chunk_key(coords) == key else None
