"""Where a conversion writes: checking the output, staging it locally, or writing to a remote store."""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import zarr
import zarr.errors
import zarr.storage

from ..io.archive_open import open_ozx, remote_object
from ..io.staging import clean_stale, held, new_token, staging_path, swap_into_place
from ..io.storage import (
    OZX_SUFFIX,
    existing_group,
    is_read_only_url,
    local_path,
    remote_archive,
    remote_url,
)
from ..io.zarr_internals import delete_prefix, key_exists, prefix_is_empty
from ..ngff.format import Format
from .errors import ConversionError, ConversionWarning, InvalidParameterError, Parameter
from .zarr_input import _ZARR_METADATA_KEYS, _is_zarr_hierarchy

__all__ = [
    "check_archive_format",
    "check_output",
    "check_remote_archive_output",
    "check_remote_output",
    "local_output",
    "remote_output",
    "staged_output",
]


def _exists_error(output: object) -> ConversionError:
    """The refusal to replace an existing ``output`` that ``overwrite`` does not allow."""
    return ConversionError(
        f"{output}: already exists; pass ", Parameter("overwrite", True), " to replace it"
    )


def check_output(output: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """``output`` as a Path if an image may be staged there, else a ConversionError.

    ``output`` is a local path or a ``file://`` URL; remote URLs are checked by
    :func:`check_remote_output` instead.

    Raises
    ------
    ConversionError
        If ``output`` exists and ``overwrite`` is False, if it exists but is no zarr
        hierarchy (never replaced), if it is a remote URL, or if its parent directory is
        missing.
    """
    url = remote_url(output)
    if url is not None:
        raise ConversionError(
            f"{url}: this output must be a local path or a file:// URL (remote URLs are "
            "written in place by omezarr convert)"
        )
    try:
        target = local_path(output, "output")
    except ValueError as error:
        raise ConversionError(str(error)) from None
    if target.suffix.lower() == OZX_SUFFIX:
        return _check_archive_output(target, overwrite)
    if target.exists():
        if not overwrite:
            raise _exists_error(target)
        if not _is_zarr_hierarchy(target):
            raise ConversionError(
                f"{target}: exists and is no zarr hierarchy; refusing to replace it"
            )
    parent = target.absolute().parent
    if not parent.is_dir():
        raise ConversionError(f"{target}: the directory {parent} does not exist")
    return target


def check_archive_format(output: str | os.PathLike[str], fmt: Format) -> None:
    """Refuse an OME-NGFF version a single-file archive cannot hold (zarr v2: 0.4 and older).

    Raises
    ------
    InvalidParameterError
        Naming ``fmt``, if ``output`` is an ``.ozx`` and ``fmt`` is stored as zarr v2.
    """
    if fmt.zarr_format == 3:
        return
    url = remote_url(output)
    archive = (
        remote_archive(url) is not None
        if url is not None
        else local_path(output, "output").suffix.lower() == OZX_SUFFIX
    )
    if archive:
        raise InvalidParameterError(
            Parameter("fmt", "0.5"),
            f" or later: a single-file OME-Zarr ({OZX_SUFFIX}) holds zarr v3, which OME-NGFF "
            f"{fmt.version} does not use",
        )


def check_remote_archive_output(url: str, *, overwrite: bool, resume: bool) -> None:
    """Check that a single-file archive may be written at the object-store ``url``.

    Raises
    ------
    ConversionError
        If something is there and ``overwrite`` is False.
    ConnectionError, PermissionError
        If the store cannot be reached or refuses access.
    """
    if remote_object(url, "output")[2] and not overwrite:
        raise _exists_error(url)
    if resume:
        warnings.warn(
            ConversionWarning(
                f"{url}: an .ozx on object storage is uploaded only once complete, so a killed "
                "conversion left nothing to resume: converting it again"
            ),
            stacklevel=3,
        )


def _check_archive_output(target: Path, overwrite: bool) -> Path:
    """:func:`check_output` for a single-file OME-Zarr (``.ozx``)."""
    if target.is_dir():
        raise ConversionError(
            f"{target}: a directory named {OZX_SUFFIX}; a single-file OME-Zarr is a ZIP archive, "
            "never a directory: choose another name"
        )
    if target.exists():
        if not overwrite:
            raise _exists_error(target)
        if not zipfile.is_zipfile(target):
            raise ConversionError(f"{target}: exists and is no ZIP archive; refusing to replace it")
    parent = target.absolute().parent
    if not parent.is_dir():
        raise ConversionError(f"{target}: the directory {parent} does not exist")
    return target


@contextlib.contextmanager
def local_output(
    output: str | os.PathLike[str], *, overwrite: bool = False, resume: bool = False
) -> Iterator[tuple[str | zarr.Group, bool]]:
    """Where a conversion to the local ``output`` writes, and whether it resumes one.

    A directory is written through :func:`staged_output` (the block gets its staging
    directory's path); a name ending in ``.ozx`` is a single-file archive written under a
    temporary name and renamed into place when the block succeeds (the block gets its root
    group; see :func:`omezarr.io.archive_open.open_ozx`). Either way a failed or killed block
    leaves ``output`` as it was, and ``resume`` continues what a killed one wrote.

    Raises
    ------
    ConversionError
        As :func:`check_output`, before the block runs.
    """
    target = check_output(output, overwrite=overwrite)
    if target.suffix.lower() != OZX_SUFFIX:
        with staged_output(output, overwrite=overwrite, resume=resume) as staging:
            # staged_output creates the directory: only one with content is resumed.
            yield str(staging), resume and any(staging.iterdir())
        return
    for line in clean_stale(target, keep=_newest(interrupted_stagings(target)) if resume else None):
        warnings.warn(ConversionWarning(f"{target}: {line}"), stacklevel=3)
    with open_ozx(target, mode="w", resume=resume) as root:
        yield root, resume
        if target.exists() and not overwrite:  # created by someone else while we were writing
            raise ConversionError(f"{target}: appeared while writing; nothing replaced")


def _newest(paths: list[Path]) -> Path | None:
    return paths[-1] if paths else None


@contextlib.contextmanager
def staged_output(
    output: str | os.PathLike[str], *, overwrite: bool = False, resume: bool = False
) -> Iterator[Path]:
    """A staging directory that becomes ``output`` when the block succeeds.

    The block writes into a hidden sibling of ``output``. On success it is renamed into place
    (an existing ``output`` is replaced only then, and only with ``overwrite``); on any
    failure, interruption included, the staging directory is removed and an existing
    ``output`` is left untouched.

    Raises
    ------
    ConversionError
        If ``output`` exists and ``overwrite`` is False, if it exists but is no zarr
        hierarchy (never replaced), if it is a remote URL (see :func:`remote_output`), or if
        its parent directory is missing.

    With ``resume``, the staging directory left by an interrupted (killed) conversion to the
    same output is reused, so the writer can finish it instead of starting again.
    """
    target = check_output(output, overwrite=overwrite)
    token = new_token()
    staging = staging_path(target, token)
    if resume:
        leftovers = interrupted_stagings(target)
        if leftovers:
            staging = leftovers[-1]
            token = staging.name.rsplit("-", 1)[-1]
    for line in clean_stale(target, keep=staging):  # what killed conversions left
        warnings.warn(ConversionWarning(f"{target}: {line}"), stacklevel=3)
    staging.mkdir(exist_ok=True)
    try:
        with held(staging):
            yield staging
        if target.exists() and not overwrite:  # created by someone else while we were writing
            raise ConversionError(f"{target}: appeared while writing; nothing replaced")
        swap_into_place(staging, target, token)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def interrupted_stagings(output: str | os.PathLike[str]) -> list[Path]:
    """Staging directories of conversions to ``output`` that were killed, oldest first."""
    target = local_path(output, "output")
    parent = target.absolute().parent
    found = [  # directories; files for a single-file archive
        p for p in parent.glob(f".{target.name}.partial-*") if p.is_dir() or p.is_file()
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def _remote_contents(url: str) -> tuple[zarr.storage.FsspecStore, str]:
    """A writable store at ``url`` and what it holds: ``"nothing"``, ``"zarr"`` or ``"other"``.

    :func:`omezarr.io.storage.existing_group` checks that the endpoint answers (ConnectionError,
    PermissionError otherwise) and finds groups; the rest is asked of the store's listing.
    """
    try:
        holds_zarr = existing_group(url) is not None
    except zarr.errors.ContainsArrayError:
        holds_zarr = True
    store = zarr.storage.FsspecStore.from_url(url)
    store.fs.invalidate_cache()  # listings cached earlier in this process may be stale
    if not holds_zarr:
        holds_zarr = any(key_exists(store, key) for key in _ZARR_METADATA_KEYS)
    if holds_zarr:
        return store, "zarr"
    return store, "nothing" if prefix_is_empty(store) else "other"


def check_remote_output(url: str, *, overwrite: bool = False, resume: bool = False) -> bool:
    """Check that an image may be written in place at the remote ``url``; whether data is there.

    Parameters
    ----------
    url : str
        A writable fsspec URL (``s3://bucket/image.ome.zarr``, ``gs://…``, ``memory://…``).
    overwrite : bool, default False
        Allow an existing zarr hierarchy at ``url`` (:func:`remote_output` deletes it).
    resume : bool, default False
        Allow an existing zarr hierarchy at ``url``: the partial output of a conversion that
        was interrupted, to be finished.

    Returns
    -------
    bool
        True if a zarr hierarchy is at ``url`` (allowed by ``overwrite`` or ``resume``).

    Raises
    ------
    ConversionError
        If ``url`` is read-only (``http(s)://``), if something exists there and neither
        ``overwrite`` nor ``resume`` is given, or if what exists is no zarr hierarchy (never
        replaced).
    ConnectionError, PermissionError
        If the endpoint cannot be reached or refuses access.

    Examples
    --------
    >>> check_remote_output("s3://bucket/new.ome.zarr")  # doctest: +SKIP
    False
    """
    return _checked_remote_output(url, overwrite, resume)[1]


def _checked_remote_output(
    url: str, overwrite: bool, resume: bool
) -> tuple[zarr.storage.FsspecStore, bool]:
    """:func:`check_remote_output`, and the store it looked at."""
    if is_read_only_url(url):
        raise ConversionError(
            f"{url}: HTTP(S) URLs are read-only; convert to a local path or an s3:// URL"
        )
    store, contents = _remote_contents(url)
    if contents == "nothing":
        return store, False
    if not (overwrite or resume):
        raise _exists_error(url)
    if contents != "zarr":
        raise ConversionError(f"{url}: exists and is no zarr hierarchy; refusing to replace it")
    return store, True


@contextlib.contextmanager
def remote_output(url: str, *, overwrite: bool = False, resume: bool = False) -> Iterator[bool]:
    """Write an image in place at the remote ``url``, removing it again if the block fails.

    Object stores cannot rename a directory, so the staging of :func:`staged_output` does not
    exist for them; instead the writer puts the metadata last, so an interrupted write never
    looks like a complete image. What is at ``url`` is checked by
    :func:`check_remote_output`. With ``overwrite``, an existing zarr hierarchy there is
    deleted before the block runs (the old image is gone even if the new one then fails).
    If the block fails, interruption included, everything at ``url`` is deleted, since this
    run created it all, unless ``resume`` found a partial output there: that is kept, to be
    resumed again.

    Yields
    ------
    bool
        True if a partial output was found and is to be resumed (``write_image(resume=True)``).

    Raises
    ------
    ConversionError, ConnectionError, PermissionError
        As :func:`check_remote_output`, before the block runs.

    Examples
    --------
    >>> with remote_output("s3://bucket/new.ome.zarr") as resuming:  # doctest: +SKIP
    ...     write_image(pixels, "s3://bucket/new.ome.zarr", resume=resuming)
    """
    store, existed = _checked_remote_output(url, overwrite, resume)
    resuming = existed and resume
    if existed and not resume:
        delete_prefix(store)
    try:
        yield resuming
    except BaseException:
        if not resuming:
            _delete_partial_output(store, url)
        raise


def _delete_partial_output(store: zarr.storage.FsspecStore, url: str) -> None:
    """Remove a failed output; if that fails too, say so without hiding the first error."""
    try:
        store.fs.invalidate_cache()
        delete_prefix(store)
    except Exception as error:
        warnings.warn(
            ConversionWarning(
                f"{url}: the partial output could not be removed "
                f"({type(error).__name__}: {error}); delete it, or finish it with ",
                Parameter("resume", True),
            ),
            stacklevel=3,
        )
