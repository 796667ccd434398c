"""Opening a single-file OME-Zarr (``.ozx``) for writing: a new archive, one that replaces or
adds to the archive at its path (held with a lock until committed), a killed write's partial
archive to resume, or an archive on object storage (streamed to S3, or written locally and
uploaded); and :func:`open_ozx`, the context manager users write several calls into.

The writers themselves are :class:`omezarr.io.archive.ArchiveWriter` (a local file) and
:class:`omezarr.io.archive_stream.StreamedArchiveWriter` (an S3 multipart upload).
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zarr

try:
    import fcntl
except ImportError:  # Windows: archives are then not held while added to
    fcntl = None  # type: ignore[assignment]

from .archive import (
    Archive,
    ArchiveStore,
    ArchiveWriter,
    _Entry,
    is_archive_metadata,
    recover_entries,
)
from .archive_read import local_reader
from .archive_stream import StreamedArchiveWriter
from .staging import clean_stale, is_held, is_staging_name, new_token, staging_path
from .storage import OZX_SUFFIX, _refuse_large_metadata, archive_destination, remote_archive

__all__ = ["open_archive", "open_ozx", "open_remote_archive", "remote_object"]


# ----------------------------------------------------------------------------- opening


def open_archive(destination: Path, *, replace: bool, resume: bool = False) -> ArchiveWriter:
    """An :class:`ArchiveWriter` for ``destination``, under a new temporary name.

    Parameters
    ----------
    destination : Path
        The ``.ozx`` to write.
    replace : bool
        True: start empty (an archive already there is replaced when the new one is
        committed); False: start with the entries of the archive already there, if any.
    resume : bool
        Continue the partial archive of a killed write of ``destination`` if one is beside it
        (its whole entries are kept; see :func:`~omezarr.io.archive.recover_entries`); else start as without.

    Raises
    ------
    ValueError
        If the archive to add to has ZIP-compressed entries (RFC-9 archives store them), or
        cannot be read as a ZIP archive.
    """
    destination = destination.absolute()
    # Additions take turns: each reads the archive only once the one before has replaced it,
    # so that none is lost (a lock on the archive itself, held until the commit's rename).
    held = None if replace else _hold_archive(destination)
    try:
        writer = _opened(destination, replace, resume)
    except BaseException:
        if held is not None:
            os.close(held)
        raise
    writer.held_archive = held
    return writer


def _opened(destination: Path, replace: bool, resume: bool) -> ArchiveWriter:
    partial = _resumable_partial(destination) if resume else None
    clean_stale(destination, keep=partial)
    if partial is not None:
        entries, end, region, documents = recover_entries(partial)
        if entries or region is not None:
            writer = ArchiveWriter(
                destination, partial, entries=entries, documents=documents, end=end, region=region
            )
            if not replace and destination.is_file():
                writer.abandon()  # an addition to an archive is not resumed: started over
            else:
                return writer
        else:
            partial.unlink(missing_ok=True)
    temporary = staging_path(destination, new_token())
    if replace or not destination.is_file():
        return ArchiveWriter(destination, temporary)
    entries, documents = _read_old(destination)
    return ArchiveWriter(
        destination, temporary, old=destination, entries=entries, documents=documents
    )


def _hold_archive(path: Path) -> int | None:
    """An exclusive ``flock`` on the archive at ``path`` as it is now (waiting for a writer
    that holds it, then checking that it was not replaced meanwhile); None if there is none."""
    if fcntl is None:
        return None
    while True:
        try:
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            current = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            current = False
        except BaseException:
            os.close(descriptor)
            raise
        if current:
            return descriptor
        os.close(descriptor)  # replaced by the writer we waited for: lock the new one


def remote_object(url: str, what: str) -> tuple[Any, str, bool]:
    """The fsspec filesystem and path of ``url``, and whether something is there.

    Raises
    ------
    ConnectionError, PermissionError
        If the store cannot be reached or refuses access (the message names ``what``).
    """
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url)
        return fs, path, bool(fs.exists(path))
    except PermissionError as error:
        raise PermissionError(f"{what}: access to {url} was refused ({error})") from None
    except Exception as error:
        raise ConnectionError(
            f"{what}: cannot reach {url} ({type(error).__name__}: {error}); check the URL and "
            "the endpoint (AWS_ENDPOINT_URL)"
        ) from None


def open_remote_archive(
    url: str, *, overwrite: bool, what: str = "group", expected_bytes: int = 0
) -> Archive:
    """An archive writer for the ``.ozx`` at the object-store ``url`` (``s3://…``).

    On S3 the archive is streamed: a multipart upload fed as the entries are encoded, no local
    file (:class:`~omezarr.io.archive_stream.StreamedArchiveWriter`). Other object stores get
    a temporary local file written in one pass, as a local archive is, and uploaded when
    committed (``put_file``), the local file removed then. Either way the object appears only
    once it is complete, so a failed or killed write leaves what was at ``url``. An archive on
    object storage is written whole: never added to, never resumed.

    ``expected_bytes`` (0: unknown) plans the parts of an S3 upload (see
    :func:`~omezarr.io.archive_stream.part_size_for`).

    Raises
    ------
    ValueError
        If something is at ``url`` and ``overwrite`` is False.
    ConnectionError, PermissionError
        If the store cannot be reached or refuses access.
    """
    import tempfile

    fs, path, exists = remote_object(url, what)
    if exists and not overwrite:
        raise ValueError(
            f"{what}: {url} exists; pass overwrite=True to replace it (an archive on object "
            "storage is written whole, never added to)"
        )
    if callable(getattr(fs, "call_s3", None)):
        return StreamedArchiveWriter(fs, path, expected_bytes=expected_bytes)
    handle, name = tempfile.mkstemp(prefix=".omezarr-upload-", suffix=OZX_SUFFIX)
    os.close(handle)
    temporary = Path(name)

    def upload(local: Path) -> None:
        fs.put_file(os.fspath(local), path)

    return ArchiveWriter(Path(path), temporary, upload=upload)


def _resumable_partial(destination: Path) -> Path | None:
    """The newest partial archive of a killed write of ``destination``, if any."""
    candidates = [
        p
        for p in destination.parent.glob(f".{destination.name}.partial-*")
        if is_staging_name(p.name) and p.is_file() and not is_held(p)
    ]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def _read_old(path: Path) -> tuple[dict[str, _Entry], dict[str, bytes]]:
    """The entries (as references into ``path``) and the documents of the archive at ``path``."""
    entries: dict[str, _Entry] = {}
    documents: dict[str, bytes] = {}
    try:
        reader = local_reader(path, _refuse_large_metadata)
    except (zipfile.BadZipFile, NotImplementedError) as error:
        raise ValueError(f"{path}: not a whole, single-part ZIP archive ({error})") from None
    try:
        for name, entry in reader.index.items():
            if entry.compressed:
                raise ValueError(
                    f"{path}: its entries are compressed by ZIP ({name!r}); omezarr adds only "
                    "to archives that store them (as RFC-9 recommends): convert it to a new "
                    ".ozx first"
                )
            if is_archive_metadata(name):
                _refuse_large_metadata(f"{path}/{name}", entry.size)
                documents[name] = reader.read(name) or b""
            else:
                data = reader.data_offset(name)
                entries[name] = _Entry(entry.header, data, entry.size, entry.crc, old=True)
    finally:
        reader.close()
    return entries, documents


@contextlib.contextmanager
def open_ozx(
    path: str | os.PathLike[str], mode: str = "a", *, resume: bool = False, expected_bytes: int = 0
) -> Iterator[Any]:
    """Write a single-file OME-Zarr (``.ozx``) with any of omezarr's writers, in one archive.

    The block gets the archive's root group; the archive is committed (its directory written,
    then renamed into place) when the block ends without an error, and abandoned otherwise,
    leaving what was at ``path`` as it was. Use it where several writer calls make one
    hierarchy (a plate, an image then its labels); a writer given a ``.ozx`` path makes its
    own archive.

    Parameters
    ----------
    path : str or os.PathLike
        The archive, a local path ending in ``.ozx``.
    mode : {"a", "w"}, default "a"
        "a": start with what the archive at ``path`` holds (if anything); "w": start empty.
    resume : bool, default False
        Continue the partial archive a killed write of ``path`` left (see
        :func:`open_archive`).
    expected_bytes : int, default 0
        For an archive on S3: about how many bytes it will hold (0: unknown), so that its
        upload's parts are planned large enough from the start (an archive of unknown size
        gets 8 MiB parts, which grow only past 70 GiB).

    Yields
    ------
    zarr.Group
        The root group of the archive being written.

    Examples
    --------
    >>> with open_ozx("plate.ozx", mode="w") as root:  # doctest: +SKIP
    ...     write_plate_metadata(root, ["A"], ["1"], ["A/1"])
    ...     write_image(image, root.require_group("A/1/0"))
    """
    if mode not in ("a", "w"):
        raise ValueError(f"mode: 'a' (add to the archive) or 'w' (start empty), not {mode!r}")
    url = remote_archive(path)
    destination = archive_destination(path)
    if url is not None:
        if mode != "w" or resume:
            raise ValueError(
                f"path: {url}: an archive on object storage is written whole: mode='w', "
                "without resume"
            )
        writer = open_remote_archive(
            url, overwrite=True, what="path", expected_bytes=expected_bytes
        )
    elif destination is None:
        raise ValueError(
            f"path: {os.fspath(path)!r} is no local path or object-store URL ending in {OZX_SUFFIX}"
        )
    elif not destination.absolute().parent.is_dir():
        raise FileNotFoundError(
            f"path: the directory {destination.absolute().parent} does not exist"
        )
    else:
        writer = open_archive(destination, replace=mode == "w", resume=resume)
    try:
        yield zarr.open_group(ArchiveStore(writer), mode="a", zarr_format=3)
    except BaseException:
        writer.abandon()
        raise
    writer.commit()
