"""Writing a directory beside its destination and swapping it into place once it is complete.

Used wherever a finished result must replace what is there only when it is whole: the
converter's local outputs and the writers' ``overwrite=True`` on local disks. The new content
is written into a hidden sibling (``.NAME.partial-TOKEN``); the swap renames the old directory
away (``.NAME.old-TOKEN``), renames the new one into place and removes the old one. A kill at
any moment leaves the old directory, or the new one, or (between the two renames, a matter of
microseconds) both under their hidden names.

While it is written, a staging directory is :func:`held` (an ``flock`` on the directory
itself, released by the kernel when its process dies), so :func:`clean_stale` can tell a
leftover of a killed writer from a directory being written, and removes only the former.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; staging directories are then never held or cleaned
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "clean_stale",
    "held",
    "is_held",
    "is_staging_name",
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


@contextlib.contextmanager
def held(directory: Path) -> Iterator[None]:
    """Hold ``directory`` (an exclusive ``flock`` on it) while it is written."""
    if fcntl is None:
        yield
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def is_held(directory: Path) -> bool:
    """Whether a live process holds ``directory`` (or a partial archive file): it is being
    written. Where that cannot be told (no ``flock``, unreadable), True: it is left alone."""
    if fcntl is None:
        return True  # cannot tell: leave it
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return True  # cannot tell: leave it
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)
    return False


def clean_stale(target: Path, keep: Path | None = None) -> list[str]:
    """Remove the provably stale leftovers of killed writes of ``target``; say what was done.

    * ``.NAME.partial-TOKEN`` that no live process holds (its writer was killed) is removed,
      except ``keep`` (a staging directory about to be resumed); a file of that name is the
      partial archive of a killed single-file (``.ozx``) write;
    * ``.NAME.old-TOKEN`` beside an existing ``target`` (the swap had finished) is removed;
    * without ``target``, a swap was killed between its two renames: it is finished (the new
      directory of the same token was complete) or, lacking it, the old one is put back.

    Returns
    -------
    list of str
        One line per leftover removed or recovered.
    """
    target = target.absolute()
    done: list[str] = []
    if not target.parent.is_dir():
        return done
    leftovers = sorted(
        p for p in target.parent.glob(f".{target.name}.*") if is_staging_name(p.name)
    )
    for old in (p for p in leftovers if ".old-" in p.name):
        token = old.name.rsplit("-", 1)[-1]
        new = staging_path(target, token)
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            done.append(f"removed {old.name} (left by a finished replacement)")
        elif new.is_dir() and not is_held(new):
            os.rename(new, target)
            shutil.rmtree(old, ignore_errors=True)
            done.append(f"finished the interrupted replacement of {target.name}")
        else:
            os.rename(old, target)
            done.append(f"put back {target.name} from {old.name}")
    for partial in (p for p in leftovers if ".partial-" in p.name):
        if partial == keep or is_held(partial):
            continue
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        elif partial.is_file():  # a single-file archive's (see omezarr.io.archive)
            partial.unlink(missing_ok=True)
        else:
            continue
        done.append(f"removed {partial.name} (left by a killed write)")
    return done
