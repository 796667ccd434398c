"""Exclusive locks that make read-modify-write updates of shared NGFF metadata atomic.

Some metadata is extended by several writers: each label image adds its name to the
``labels`` group's list, each well adds itself to its plate. Such an update reads the
attributes, changes them and writes them back; two processes doing that at once would each
write back their own version, and one addition would be lost.

On local file systems (and ``file://`` URLs) the update runs under an exclusive
:func:`fcntl.flock` on the directory of the group whose metadata changes, and the attributes
are read afresh under the lock. Locking the directory itself leaves no file behind (zarr
warns about any foreign file in a group) and is unaffected by zarr replacing ``zarr.json``
with a new file. Where a directory cannot be locked (NFS, which emulates ``flock`` with
byte-range locks that need a file open for writing), an empty lock file, :data:`LOCK_NAME`,
in that directory is locked instead; it stays there.

The lock is advisory: it coordinates omezarr writers (and anything that takes the same
lock), not arbitrary programs. Object stores (S3, GCS, HTTP) offer no such lock and none is
taken there: write every well (or label image) first and the shared metadata once, from one
process, at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import zarr
from zarr.storage import LocalStore

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock is taken
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "fresh_group", "local_directory", "locked_group", "metadata_lock"]

LOCK_NAME = ".omezarr.lock"
"""The lock file in a group's directory, used only where a directory cannot be locked."""


def local_directory(target: object, member: str = "") -> Path | None:
    """The local directory of the group at ``target`` (its ``member`` if given), else None.

    Parameters
    ----------
    target : zarr.Group, zarr.storage.LocalStore, str or os.PathLike
        A group or store on the local file system, a local path or a ``file://`` URL. Any
        other target (remote URLs, other stores) has no local directory.
    member : str, optional
        A path below ``target``, e.g. ``"labels"``.

    Examples
    --------
    >>> local_directory("image.zarr", "labels")
    PosixPath('image.zarr/labels')
    """
    directory: Path | None = None
    if isinstance(target, zarr.Group):
        if isinstance(target.store, LocalStore):
            directory = Path(target.store.root) / target.path
    elif isinstance(target, LocalStore):
        directory = Path(target.root)
    elif isinstance(target, str | os.PathLike):
        text = os.fspath(target)
        if isinstance(text, str) and "://" not in text:
            directory = Path(text)
        elif isinstance(text, str) and text.lower().startswith("file://"):
            parts = urlsplit(text)
            if parts.netloc in ("", "localhost"):
                directory = Path(unquote(parts.path))
    if directory is None:
        return None
    return directory / member if member else directory


@contextmanager
def metadata_lock(target: object, member: str = "") -> Iterator[bool]:
    """Hold the exclusive metadata lock of the group at ``target`` while the block runs.

    Blocks until every other holder (thread or process) has left its block. The group's
    directory is created if needed, so that writers racing to create a group serialise too.

    Parameters
    ----------
    target : zarr.Group, zarr.storage.LocalStore, str or os.PathLike
        The group (or its location) whose metadata is about to be read, changed and written.
    member : str, optional
        Lock the group at this path below ``target`` instead.

    Yields
    ------
    bool
        True if a lock is held; False for targets without a local directory (object stores),
        where nothing is locked.

    Examples
    --------
    >>> with metadata_lock("plate.zarr"):  # doctest: +SKIP
    ...     pass  # read, change and write plate.zarr's attributes
    """
    directory = local_directory(target, member)
    if directory is None or fcntl is None:
        yield False
        return
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = _locked_descriptor(directory)
    try:
        yield True
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


def _locked_descriptor(directory: Path) -> int:
    """A descriptor of ``directory`` (or of its lock file) holding an exclusive flock."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return descriptor
    except OSError:  # this file system cannot lock a directory: use a lock file
        os.close(descriptor)
    descriptor = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def fresh_group(group: zarr.Group) -> zarr.Group:
    """``group`` opened again from its store, so that its attributes are the stored ones.

    A :class:`zarr.Group` keeps the attributes it read when it was opened; another process
    may have changed them since.
    """
    return zarr.open_group(store=group.store, path=group.path, mode="r+")


@contextmanager
def locked_group(group: zarr.Group) -> Iterator[zarr.Group]:
    """``group`` re-read from its store, under its exclusive metadata lock.

    Examples
    --------
    >>> with locked_group(labels_group) as current:  # doctest: +SKIP
    ...     names = current.attrs["ome"]["labels"]
    """
    with metadata_lock(group):
        yield fresh_group(group)
