"""Every call into zarr-python's internals (``zarr.core``), behind small named helpers.

zarr's public API has no synchronous store calls and no chunk-key parser, so these reach into
``zarr.core``; keeping them here means a zarr upgrade that moves them is fixed in one module.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import zarr
from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.chunk_key_encodings import DefaultChunkKeyEncoding
from zarr.core.sync import _get_loop, sync

__all__ = [
    "chunk_key_coords",
    "contain_failed_calls",
    "delete_prefix",
    "key_exists",
    "list_dir",
    "list_keys",
    "prefix_is_empty",
    "read_key",
    "run_sync",
    "write_key",
]

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# A failed call leaves nothing running behind it
# --------------------------------------------------------------------------------------------

_CALL_TASKS: contextvars.ContextVar[set[asyncio.Task[Any]] | None] = contextvars.ContextVar(
    "omezarr_call_tasks", default=None
)
"""The unfinished tasks that one call into zarr's loop started (directly or not): every task
inherits its creator's context, so the one set is shared by the whole call."""

_DRAIN_SECONDS = 30.0
"""How long a failed call waits for its cancelled tasks to finish (they end at their next
``await``; one that ignores cancellation is left behind rather than waited for forever)."""

_install_lock = threading.Lock()


class _ContainedTaskFactory:
    """The task factory of zarr's event loop: a failed call cancels what it left running.

    zarr reads the chunks of a selection with :func:`asyncio.gather`, which hands back the
    first failure (a 500, a reset connection, an undecodable chunk) and leaves the other reads
    running. The caller's exception then travels on while they are still in flight: they keep
    downloading after it was handled, and when the process exits, zarr's clean-up stops and
    closes the loop under them, which reports every one of them (``Task was destroyed but it
    is pending!``, ``Task exception was never retrieved``, ``Exception ignored in``, …)
    in hundreds of lines of tracebacks. Here each call submitted to the loop (by zarr's
    ``sync``, from another thread) records the tasks it starts, and if it fails, cancels those
    still running and awaits them, retrieving their exceptions, before its failure is handed
    back to the caller.
    """

    def __init__(self, previous: Callable[..., asyncio.Future[Any]] | None) -> None:
        self.previous = previous

    def __call__(
        self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Future[Any]:
        context: contextvars.Context | None = kwargs.get("context")
        if asyncio.current_task(loop) is None:
            # Submitted from outside the loop's tasks (zarr's sync): a call of its own.
            family: set[asyncio.Task[Any]] = set()
            own = context.copy() if context is not None else contextvars.copy_context()
            own.run(_CALL_TASKS.set, family)
            kwargs["context"] = own
            return self._create(loop, _cancel_leftovers_on_failure(coro, family), kwargs)
        # A task started by a task: it belongs to the call its context names, if any.
        family_of_caller = context.get(_CALL_TASKS) if context is not None else _CALL_TASKS.get()
        task = self._create(loop, coro, kwargs)
        if family_of_caller is not None and isinstance(task, asyncio.Task):
            family_of_caller.add(task)
            task.add_done_callback(family_of_caller.discard)
        return task

    def _create(
        self, loop: asyncio.AbstractEventLoop, coro: Any, kwargs: dict[str, Any]
    ) -> asyncio.Future[Any]:
        if self.previous is not None:
            return self.previous(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)


async def _cancel_leftovers_on_failure(
    coro: Coroutine[Any, Any, T], family: set[asyncio.Task[Any]]
) -> T:
    try:
        result = await coro
    except BaseException:
        await _cancel_and_await(family)
        raise
    if isinstance(result, BaseException):  # zarr's sync hands a failure back as a value
        await _cancel_and_await(family)
    return result


async def _cancel_and_await(family: set[asyncio.Task[Any]]) -> None:
    """Cancel the unfinished tasks of ``family`` (and those they start meanwhile) and wait for
    them, retrieving what they raised so that nothing is reported later."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _DRAIN_SECONDS
    while pending := [task for task in family if not task.done()]:
        for task in pending:
            task.cancel()
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        done, _ = await asyncio.wait(pending, timeout=remaining)
        for task in done:
            if not task.cancelled():
                task.exception()  # retrieved: the call's own failure is the one that counts


def contain_failed_calls() -> None:
    """Make every later call on zarr's event loop clean up after itself when it fails.

    Idempotent and cheap; called wherever omezarr opens a store or calls the loop, since
    zarr creates its loop lazily (and again in a forked child). See
    :class:`_ContainedTaskFactory`.

    Examples
    --------
    >>> contain_failed_calls()
    >>> isinstance(_get_loop().get_task_factory(), _ContainedTaskFactory)
    True
    """
    loop = _get_loop()
    if isinstance(loop.get_task_factory(), _ContainedTaskFactory):
        return
    with _install_lock:
        previous = loop.get_task_factory()
        if not isinstance(previous, _ContainedTaskFactory):
            loop.set_task_factory(_ContainedTaskFactory(previous))


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on zarr's event loop and return its result.

    zarr's stores are asynchronous; every synchronous caller goes through this loop (not a
    loop of its own), since the stores' sessions are bound to it. If the coroutine fails, the
    tasks it started are cancelled and awaited before its exception is raised here.

    Examples
    --------
    >>> from zarr.storage import MemoryStore
    >>> run_sync(MemoryStore().is_empty(""))
    True
    """
    contain_failed_calls()
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


def write_key(store: Store, key: str, data: bytes) -> None:
    """Store ``data`` at ``key`` (a file that is no zarr document, e.g. OME/METADATA.ome.xml)."""
    run_sync(store.set(key, default_buffer_prototype().buffer.from_bytes(data)))


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
