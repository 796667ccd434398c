"""Writing a directory beside its destination and swapping it into place once it is complete.

Used wherever a finished result must replace what is there only when it is whole: the
converter's local outputs and the writers' ``overwrite=True`` on local disks. The new content
is written into a hidden sibling (``.NAME.partial-TOKEN``); the swap renames the old directory
away (``.NAME.old-TOKEN``), renames the new one into place and removes the old one. A kill at
any moment leaves the old directory, or the new one, or (between the two renames, a matter of
microseconds) both under their hidden names.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import zarr
from zarr.storage import LocalStore

__all__ = [
    "is_staging_name",
    "local_directory",
    "new_token",
    "retired_path",
    "staging_path",
    "swap_into_place",
]

_STAGING_NAME = re.compile(r"^\..+\.(partial|old)-[0-9a-f]{8}$")


def new_token() -> str:
    """A short random token naming one staging directory and its retired counterpart."""
    return uuid.uuid4().hex[:8]


def staging_path(target: Path, token: str) -> Path:
    """The hidden sibling of ``target`` that is written before it replaces ``target``."""
    return target.absolute().parent / f".{target.name}.partial-{token}"


def retired_path(target: Path, token: str) -> Path:
    """Where ``target`` is moved while its replacement is renamed into place."""
    return target.absolute().parent / f".{target.name}.old-{token}"


def is_staging_name(name: str) -> bool:
    """Whether ``name`` is a staging or retired directory of :func:`swap_into_place`.

    Examples
    --------
    >>> is_staging_name(".image.zarr.partial-0a1b2c3d"), is_staging_name("image.zarr")
    (True, False)
    """
    return _STAGING_NAME.match(name) is not None


def swap_into_place(staging: Path, target: Path, token: str) -> None:
    """Replace ``target`` (if it exists) by ``staging``; ``target`` is restored if that fails."""
    if not target.exists():
        os.rename(staging, target)
        return
    retired = retired_path(target, token)
    os.rename(target, retired)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def local_directory(group: zarr.Group) -> Path | None:
    """The directory holding ``group`` on a writable local disk, else None (other stores)."""
    store = group.store
    if not isinstance(store, LocalStore) or store.read_only:
        return None
    return Path(store.root) / group.path if group.path else Path(store.root)
