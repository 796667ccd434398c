"""Opening zarr groups from paths, URLs, stores or groups, and reading/writing NGFF attributes.

The one place that knows where NGFF attributes live (top level for zarr v2, under ``ome``
for zarr v3) and how a user's target becomes a :class:`zarr.Group`: local paths, ``file://``
URLs, remote URLs (``s3://``, ``http(s)://`` and anything else fsspec knows), zarr stores and
open groups. Remote URLs are checked once for reachability, so that a wrong endpoint fails at
once with a message naming the URL instead of deep inside a concurrent read; URLs over HTTP are
read-only and refused for writing before anything happens.

Credentials and endpoints for ``s3://`` come from the environment that botocore reads
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_ENDPOINT_URL``
or ``AWS_ENDPOINT_URL_S3``, ``AWS_DEFAULT_REGION``/``AWS_REGION``, ``AWS_MAX_ATTEMPTS``, or
``AWS_PROFILE`` with ``~/.aws``) or from ``storage_options`` (passed to fsspec, e.g.
``{"endpoint_url": ..., "key": ..., "secret": ...}`` for s3fs).
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import re
import stat
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import zarr
import zarr.errors
from zarr.abc.store import Store
from zarr.storage import FsspecStore, LocalStore, StorePath

from .._budget import MEMORY_BUDGET_ENV, memory_budget_from
from ..types import JSONDict
from .archive_read import ArchiveReader, local_reader, remote_reader
from .zarr_internals import contain_failed_calls, list_keys, read_key, run_sync

__all__ = [
    "READ_ONLY_PROTOCOLS",
    "GroupLike",
    "RefusedFileError",
    "UnreadableMetadataError",
    "archive_destination",
    "archive_member",
    "check_array_grid",
    "existing_group",
    "file_url_path",
    "group_zarr_format",
    "is_partial_file",
    "is_read_only_url",
    "is_url",
    "local_path",
    "open_group",
    "open_member",
    "open_node",
    "read_ngff_attrs",
    "remote_archive",
    "remote_url",
    "remove_member",
    "remove_partial_files",
    "url_protocols",
    "write_ngff_attrs",
]

GroupLike = zarr.Group | str | os.PathLike[str] | Store
"""What users may pass where a group is expected."""

READ_ONLY_PROTOCOLS = frozenset({"http", "https"})
"""URL protocols that can be read but never written."""

_READ_MODE: Final = "r"

_PARTIAL_FILE = re.compile(r"\.[0-9a-f]{32}\.partial$")
"""The name zarr's local store gives a file while writing it (``<name>.<uuid4 hex>.partial``)."""


class RefusedFileError(OSError, ValueError):
    """A local file the guarded store will not read: not a regular file (a FIFO, a device, a
    socket), a symlink loop, or a metadata document larger than the budget allows.

    Bad data, so a ValueError as the readers raise for bad metadata (and validators report it
    rather than raise); also an OSError, as the file system's answer (like
    ``io.UnsupportedOperation``)."""


class UnreadableMetadataError(ValueError):
    """The stored zarr metadata of a node cannot be read.

    Its JSON is invalid or too deeply nested, or zarr cannot parse the document (e.g. its
    ``attributes`` are not an object): bad data, which validators report rather than raise.
    """


def is_url(target: object) -> bool:
    """Whether ``target`` is a URL string (``scheme://…``), ``file://`` included."""
    return isinstance(target, str) and "://" in target


def url_protocols(url: str) -> frozenset[str]:
    """The fsspec protocols of a URL, lower-case (``simplecache::s3://…`` has two).

    Examples
    --------
    >>> sorted(url_protocols("simplecache::S3://bucket/image.zarr"))
    ['s3', 'simplecache']
    """
    return frozenset(part.lower() for part in url.split("://", 1)[0].split("::"))


def is_read_only_url(url: str) -> bool:
    """Whether ``url`` goes through a protocol that cannot write (:data:`READ_ONLY_PROTOCOLS`).

    Examples
    --------
    >>> is_read_only_url("https://example.org/image.zarr"), is_read_only_url("s3://b/i.zarr")
    (True, False)
    """
    return bool(url_protocols(url) & READ_ONLY_PROTOCOLS)


def _is_file_url(url: str) -> bool:
    return url_protocols(url) == {"file"}


def remote_url(target: str | os.PathLike[str]) -> str | None:
    """``target`` as text if it is a remote URL, else None (paths and ``file://`` URLs are local).

    Examples
    --------
    >>> remote_url("s3://bucket/image.zarr"), remote_url("file:///data/image.zarr")
    ('s3://bucket/image.zarr', None)
    """
    text = os.fspath(target)
    return text if is_url(text) and not _is_file_url(text) else None


def local_path(target: str | os.PathLike[str], what: str) -> Path:
    """The local path of a path or ``file://`` URL.

    Parameters
    ----------
    target : str or os.PathLike
        A local path or a ``file://`` URL (remote URLs are told apart by :func:`remote_url`).
    what : str
        What ``target`` names, for the error message (e.g. the parameter name).

    Raises
    ------
    ValueError
        If a URL names another host (see :func:`file_url_path`).

    Examples
    --------
    >>> local_path("file:///data/a%20b.zarr", "output").as_posix()
    '/data/a b.zarr'
    """
    text = os.fspath(target)
    return Path(file_url_path(text, what) if is_url(text) else text)


def open_group(
    target: GroupLike,
    mode: str = "a",
    zarr_format: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> zarr.Group:
    """Open (or create, with mode "a"/"w") the group at ``target``.

    Parameters
    ----------
    target : zarr.Group, str, os.PathLike or zarr Store
        A group is returned as it is; a path, ``file://``/``s3://``/``http(s)://`` URL or
        store is opened with :func:`zarr.open_group`.
    mode : str
        As :func:`zarr.open_group`; every mode but "r" needs a writable target.
    zarr_format : int, optional
        2 or 3; None lets zarr detect an existing group (and create zarr v3).
    storage_options : dict, optional
        Passed to fsspec for remote URLs (credentials, ``endpoint_url``, ``config_kwargs``, …);
        only allowed with a remote URL.

    Returns
    -------
    zarr.Group

    Raises
    ------
    TypeError
        If ``target`` is none of the accepted types.
    ValueError
        If a writing mode is asked of a read-only target (an ``http(s)://`` URL, a read-only
        store or group), ``storage_options`` come with a target that is not a remote URL, or
        ``target`` is a string that is neither a path nor a URL (``"::"``).
    UnreadableMetadataError
        A ValueError: if the group's stored metadata cannot be read.
    ConnectionError
        If a remote URL or store cannot be reached.
    PermissionError
        If a remote URL refuses access.

    Examples
    --------
    >>> group = open_group("s3://bucket/image.zarr", mode="r",
    ...                    storage_options={"endpoint_url": "http://127.0.0.1:9000"})  # doctest: +SKIP
    """
    if isinstance(target, zarr.Group):
        if mode != _READ_MODE:
            _require_writable_group(target)
        return target
    location = _location(target, mode, storage_options, "group")
    return _open_location(location, mode, zarr_format)


def open_node(
    target: GroupLike, storage_options: Mapping[str, Any] | None = None
) -> zarr.Group | zarr.Array:
    """Open whatever zarr node is at ``target`` (group or array), read-only.

    Parameters
    ----------
    target : zarr.Group, str, os.PathLike or zarr Store
        As for :func:`open_group`.
    storage_options : dict, optional
        Passed to fsspec for remote URLs.

    Returns
    -------
    zarr.Group or zarr.Array

    Raises
    ------
    TypeError, ValueError, UnreadableMetadataError, ConnectionError, PermissionError
        As :func:`open_group`; zarr's own errors when nothing is there.

    Examples
    --------
    >>> node = open_node("https://example.org/image.zarr")  # doctest: +SKIP
    """
    if isinstance(target, zarr.Group):
        return target
    location = _location(target, _READ_MODE, storage_options, "target")
    with _readable_metadata("target", location):
        return zarr.open(store=location, mode=_READ_MODE)


def open_member(group: zarr.Group, path: str) -> zarr.Group | zarr.Array | None:
    """The array or group at ``path`` below ``group``, or None if there is none.

    Raises
    ------
    UnreadableMetadataError
        A ValueError naming the member: if its stored metadata cannot be read.

    Examples
    --------
    >>> labels = open_member(open_group("image.zarr", mode="r"), "labels")  # doctest: +SKIP
    """
    where = f"{group.store_path}/{path}"
    with _readable_metadata("path", where):
        try:
            member = group[path]
        except KeyError:
            return None
    if isinstance(member, zarr.Array):
        check_array_grid(member, where)
    return member


def check_array_grid(array: zarr.Array, where: object) -> None:
    """Refuse an array whose chunks (or shards) have an extent under 1: zarr accepts such
    metadata, but no chunk grid can be laid over it (every reader would divide by zero).

    Raises
    ------
    UnreadableMetadataError
        A ValueError naming ``where`` and the chunk shape.
    """
    for name, extents in (("chunk", array.chunks), ("shard", array.shards)):
        if extents is not None and any(int(n) < 1 for n in extents):
            raise UnreadableMetadataError(
                f"path: the metadata of {where} is malformed ({name} shape {list(extents)} has "
                "an extent under 1)"
            )


def group_zarr_format(group: zarr.Group) -> int:
    """The zarr format (2 or 3) of ``group``."""
    return int(group.metadata.zarr_format)


def read_ngff_attrs(group: zarr.Group) -> JSONDict:
    """A copy of the group's NGFF attributes (the ``ome`` dict for zarr v3)."""
    attrs = group.attrs.asdict()
    if group_zarr_format(group) == 3:
        ome = attrs.get("ome", {})
        return _json_copy(ome) if isinstance(ome, Mapping) else {}
    return _json_copy(attrs)


def _json_copy(document: Mapping[str, Any]) -> JSONDict:
    """A deep copy of a parsed JSON document; a round trip through the C parser, some twenty
    times faster than ``copy.deepcopy`` on metadata of millions of values."""
    copied: JSONDict = json.loads(json.dumps(document))
    return copied


def write_ngff_attrs(
    group: zarr.Group, updates: Mapping[str, Any], merge_dicts: bool = False
) -> None:
    """Set NGFF attributes in one metadata write (under ``ome`` for zarr v3).

    With ``merge_dicts``, a dict value is merged into an existing dict of the same key
    instead of replacing it.
    """
    current = read_ngff_attrs(group)
    for key, value in updates.items():
        if merge_dicts and isinstance(value, Mapping) and isinstance(current.get(key), dict):
            current[key].update(copy.deepcopy(dict(value)))
        else:
            current[key] = copy.deepcopy(value)
    if group_zarr_format(group) == 3:
        group.attrs.update({"ome": current})
    else:
        group.attrs.update(current)


def existing_group(
    target: GroupLike, storage_options: Mapping[str, Any] | None = None
) -> zarr.Group | None:
    """The group at ``target`` opened for writing if one exists there, else None; creates nothing.

    Raises
    ------
    ValueError
        If ``target`` cannot be written (an ``http(s)://`` URL, a read-only store or group):
        writers call this first, so they refuse before anything is planned or written.
    ConnectionError, PermissionError
        If a remote target cannot be reached or refuses access.
    """
    if isinstance(target, zarr.Group):
        _require_writable_group(target)
        return target
    destination = archive_destination(target)
    if destination is not None:
        _no_storage_options(storage_options, f"the local path {os.fspath(destination)!r}")
        # Read-only: the writers write a new archive (see omezarr.io.archive) and use this
        # one only to check their arguments against what is there.
        return open_group(target, mode="r") if destination.exists() else None
    location = _location(target, "a", storage_options, "group")
    try:
        _open_location(location, _READ_MODE, None)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, KeyError):
        return None
    return _open_location(location, "a", None)


def remove_member(group: zarr.Group, name: str) -> None:
    """Delete the array or group ``name`` of ``group`` with all its chunks, if it exists."""
    if name in group:
        del group[name]


def is_partial_file(key: str) -> bool:
    """Whether the store key ``key`` is a temporary file zarr left behind (``*.<hex>.partial``).

    zarr's local store writes each file under such a name and renames it when complete, so
    one that remains is the trace of a write that was killed; it holds no data.
    """
    return _PARTIAL_FILE.search(key) is not None


def remove_partial_files(group: zarr.Group) -> list[str]:
    """Delete the temporary files that killed writes left below ``group``.

    Parameters
    ----------
    group : zarr.Group
        A group open for writing; every key below it is listed once.

    Returns
    -------
    list of str
        The store keys removed, sorted.

    Raises
    ------
    ValueError
        If ``group`` is open read-only.

    Examples
    --------
    >>> remove_partial_files(open_group("image.zarr"))  # doctest: +SKIP
    ['s0/c/0/0.6f1c0d2e9b8a4c7d8e9f0a1b2c3d4e5f.partial']
    """
    _require_writable_group(group)
    prefix = f"{group.path}/" if group.path else ""

    keys = sorted(key for key in list_keys(group.store, prefix) if is_partial_file(key))

    async def remove() -> None:
        for key in keys:
            await group.store.delete(key)

    run_sync(remove())
    return keys


# --------------------------------------------------------------------------------------------
# From a user's target to a local path or a zarr store
# --------------------------------------------------------------------------------------------


def _open_location(
    location: str | Store | StorePath, mode: str, zarr_format: int | None
) -> zarr.Group:
    kwargs: dict[str, Any] = {"mode": mode}
    if zarr_format is not None:
        kwargs["zarr_format"] = zarr_format
    with _readable_metadata("group", location):
        return zarr.open_group(location, **kwargs)


@contextmanager
def _readable_metadata(what: str, where: str | Store | StorePath) -> Iterator[None]:
    """Turn zarr's failures to parse the stored metadata of ``where`` into one clear error.

    zarr lets the JSON decoder's errors (a RecursionError for deep nesting) and its own
    TypeError or AttributeError for a document of the wrong shape (a list where an object is
    due) escape; they mean bad data, not a bug of the caller.
    """
    try:
        yield
    except RecursionError:
        raise UnreadableMetadataError(
            f"{what}: the metadata of {where} is nested too deeply to read"
        ) from None
    except json.JSONDecodeError as exc:
        raise UnreadableMetadataError(
            f"{what}: the metadata of {where} is not valid JSON ({exc})"
        ) from None
    except (TypeError, AttributeError) as exc:  # AttributeError: a JSON array, not an object
        raise UnreadableMetadataError(
            f"{what}: the metadata of {where} is malformed ({exc})"
        ) from None


_METADATA_FILES = frozenset({"zarr.json", ".zgroup", ".zattrs", ".zarray", ".zmetadata"})
_METADATA_SHARE = 16
"""A metadata document may take this share of the memory budget on disk (parsed, small JSON
values take some seventeen times their text in zarr and as much again in a copy)."""

_METADATA_FLOOR = 16 * 2**20
"""Metadata documents up to this size are always read: a zarr.json with consolidated metadata
holds about 1.2 KB per array, so a 384-well plate of six fields and five levels (11,520 arrays)
needs some 14 MB. Parsing that many small values may take a little over the default budget."""


def _max_metadata_bytes() -> int:
    """The size above which a metadata document is refused unread: 16 MiB, or 1/16 of the
    memory budget when that is more; NGFF documents without consolidated metadata come
    nowhere near it (a 1536-well plate's is ~200 KB)."""
    return max(_METADATA_FLOOR, memory_budget_from(None) // _METADATA_SHARE)


def _refuse_large_metadata(where: str, size: int) -> None:
    """Refuse, before it is read, a metadata document larger than the budget allows."""
    limit = _max_metadata_bytes()
    if size > limit:
        raise RefusedFileError(
            f"{where}: {size:,} bytes of metadata, more than the memory budget allows "
            f"({limit:,}: 16 MiB or 1/{_METADATA_SHARE} of ${MEMORY_BUDGET_ENV}); refused"
        )


class GuardedLocalStore(LocalStore):
    """zarr's local store, reading only regular files of sane size.

    A ``zarr.json`` that is a FIFO would block every reader forever, one symlinked to
    ``/dev/zero`` would be read without end, and a metadata document of gigabytes would be
    parsed whole: each is refused with an OSError naming the file before it is opened. Chunk
    files may be any size (shards of gigabytes are legitimate and read by byte ranges; what a
    chunk declares is checked against the budget where it is decoded, io.units). Writing is
    zarr's own.
    """

    def _guard(self, key: str, whole: bool) -> None:
        path = os.path.join(self.root, key)
        try:
            status = os.stat(path)  # follows symlinks: the file that would be read
        except (FileNotFoundError, NotADirectoryError):
            return  # zarr answers "absent"
        except OSError as error:  # a symlink loop, a file that cannot be examined
            raise RefusedFileError(f"{path}: cannot be read ({error.strerror or error})") from None
        if not stat.S_ISREG(status.st_mode):
            if stat.S_ISDIR(status.st_mode):
                return  # zarr answers "absent" for a directory
            raise RefusedFileError(
                f"{path}: not a regular file (a device, pipe or socket); refused"
            )
        if whole and posixpath.basename(key) in _METADATA_FILES:
            _refuse_large_metadata(path, status.st_size)

    async def get(
        self, key: str, prototype: Any = None, byte_range: Any = None
    ) -> Any:  # the signature of zarr's LocalStore.get
        self._guard(key, whole=byte_range is None)
        return await super().get(key, prototype, byte_range)

    async def get_partial_values(
        self, prototype: Any, key_ranges: Iterable[tuple[str, Any]]
    ) -> list[Any]:
        ranges = list(key_ranges)
        for key, byte_range in ranges:
            self._guard(key, whole=byte_range is None)
        return await super().get_partial_values(prototype, ranges)


# --------------------------------------------------------------------------------------------
# Single-file OME-Zarr (RFC-9): a ZIP archive whose root is the hierarchy's root
# --------------------------------------------------------------------------------------------

OZX_SUFFIX = ".ozx"


def archive_destination(target: object) -> Path | None:
    """The local path of ``target`` when it names a single-file OME-Zarr to write: a path or
    ``file://`` URL whose name ends in ``.ozx``; None for anything else.

    Raises
    ------
    ValueError
        If a directory has that name (an ``.ozx`` is never written as a directory).

    Examples
    --------
    >>> archive_destination("cells.ozx").name, archive_destination("cells.ome.zarr")
    ('cells.ozx', None)
    """
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str) or remote_url(target) is not None:
        return None
    path = local_path(target, "group")
    if path.suffix.lower() != OZX_SUFFIX:
        return None
    if path.is_dir():
        raise ValueError(
            f"{path}: a directory named {OZX_SUFFIX}; a single-file OME-Zarr is a ZIP archive, "
            "never a directory (rename the directory, or choose another name)"
        )
    return path


def remote_archive(target: object) -> str | None:
    """``target`` when it is a writable remote URL (``s3://…``) naming a ``.ozx`` archive.

    Examples
    --------
    >>> remote_archive("s3://bucket/cells.ozx"), remote_archive("https://host/cells.ozx")
    ('s3://bucket/cells.ozx', None)
    """
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str) or remote_url(target) is None or is_read_only_url(target):
        return None
    return target if urlsplit(target).path.lower().endswith(OZX_SUFFIX) else None


def is_zip_target(target: str | os.PathLike[str]) -> bool:
    """Whether a local path names a single-file OME-Zarr: a name ending in ``.ozx``, or an
    existing regular file (a directory is a zarr hierarchy; a ``.zip`` is read as one too)."""
    path = Path(os.fspath(target))
    if path.suffix.lower() == OZX_SUFFIX:
        return True
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def open_zip_store(
    target: Path | str,
    mode: str,
    what: str,
    storage_options: Mapping[str, Any] | None = None,
) -> ArchiveReader:
    """A read-only store over the single-file OME-Zarr at ``target`` (a local path, or a
    remote URL read by byte ranges), after checking that it is one: a whole, single-part ZIP
    archive with ``zarr.json`` at its root (RFC-9).

    Raises
    ------
    ValueError
        For a writing mode (archives are written by the writers, see
        :mod:`omezarr.io.archive`), a directory named ``.ozx``, a file that is no ZIP archive
        (or is cut short), a multi-part archive, or an archive with no ``zarr.json`` at its
        root.
    FileNotFoundError
        If there is nothing at ``target``.
    """
    remote = isinstance(target, str) and is_url(target)
    path = target if remote else Path(target)
    if mode != _READ_MODE:
        if str(path).lower().endswith(OZX_SUFFIX):
            raise ValueError(
                f"{what}: {path}: a single-file OME-Zarr is written by omezarr's writers (given "
                "its path) or within `with omezarr.open_ozx(path) as root:`, not through a "
                "store opened for writing"
            )
        raise ValueError(
            f"{what}: {path}: a file, not a zarr hierarchy; OME-Zarr is written to a directory "
            f"or to a single-file archive named *{OZX_SUFFIX}"
        )
    if isinstance(path, Path):
        if not path.exists():
            raise FileNotFoundError(f"{what}: {path}: no such file")
        if path.is_dir():
            raise ValueError(
                f"{what}: {path}: a directory named {OZX_SUFFIX}; a single-file OME-Zarr is a "
                "ZIP archive (rename the directory to read it as a zarr hierarchy)"
            )
    try:
        if isinstance(path, Path):
            reader = local_reader(path, _refuse_large_metadata)
        else:
            reader = remote_reader(path, storage_options or {}, _refuse_large_metadata)
    except zipfile.BadZipFile as error:
        raise UnreadableMetadataError(
            f"{what}: {path}: not a ZIP archive, or one cut short (no central directory: "
            f"{error}); a single-file OME-Zarr must be whole"
        ) from None
    except NotImplementedError as error:  # e.g. "multi-disk zip files are not supported"
        raise UnreadableMetadataError(
            f"{what}: {path}: {error}; give a single-part archive"
        ) from None
    except FileNotFoundError:
        if remote:  # fsspec says so for a server that does not answer too
            raise FileNotFoundError(
                f"{what}: {path}: no such file, or the server cannot be reached"
            ) from None
        raise FileNotFoundError(f"{what}: {path}: no such file") from None
    except PermissionError as error:
        raise PermissionError(
            f"{what}: access to {path} was refused ({error}); check the credentials"
        ) from None
    except OSError as error:
        raise RefusedFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    except Exception as error:  # a remote store's own errors (aiohttp, botocore, …)
        if not remote:
            raise
        raise ConnectionError(
            f"{what}: cannot read {path} ({type(error).__name__}: {error}); check the URL "
            "and the endpoint"
        ) from None
    names = reader.index
    if "zarr.json" not in names and ".zgroup" not in names:
        reader.close()
        nested = sorted(n for n in names if n.endswith("/zarr.json") and n.count("/") == 1)
        hint = (
            f" (the hierarchy is in the folder {nested[0].split('/')[0]!r}; RFC-9 puts it at the "
            "archive's root)"
            if nested
            else ""
        )
        raise ValueError(
            f"{what}: {path}: not a single-file OME-Zarr: no zarr.json at the root of the "
            f"archive{hint}"
        )
    return reader


def _location(
    target: object, mode: str, storage_options: Mapping[str, Any] | None, what: str
) -> str | Store | StorePath:
    """A local path or a store for ``target``, checked for ``mode`` (and reachable if remote)."""
    contain_failed_calls()  # before zarr reads anything through the store
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if isinstance(target, Store):
        _no_storage_options(storage_options, "a zarr store")
        if mode != _READ_MODE and _store_is_read_only(target):
            raise ValueError(
                f"{what}: the store {target} is read-only; open a writable store to write"
            )
        if isinstance(target, FsspecStore):
            _check_reachable(target, str(target), what)
        return target
    if not isinstance(target, str):
        raise TypeError(
            f"{what}: expected a zarr.Group, a path, a URL or a zarr store, not {type(target).__name__}"
        )
    if not is_url(target):
        if "::" in target:
            # zarr would read it as a chain of fsspec protocols missing its "protocol://".
            raise ValueError(
                f"{what}: {target!r} is not a valid path or URL ('::' chains URL protocols, "
                "as in 'simplecache::s3://bucket/image.zarr')"
            )
        _no_storage_options(storage_options, f"the local path {target!r}")
        if is_zip_target(target):
            return open_zip_store(Path(target), mode, what)
        member = archive_member(Path(target)) if mode == _READ_MODE else None
        if member is not None:  # "plate.ozx/A/1/0": a node inside a single-file archive
            archive, inner = member
            return StorePath(open_zip_store(archive, mode, what), inner)
        return GuardedLocalStore(str(Path(target)), read_only=mode == _READ_MODE)
    if _is_file_url(target):
        _no_storage_options(storage_options, f"the file URL {target!r}")
        return GuardedLocalStore(file_url_path(target, what), read_only=mode == _READ_MODE)
    if urlsplit(target).path.lower().rstrip("/").endswith(OZX_SUFFIX):
        if mode != _READ_MODE:
            raise ValueError(
                f"{what}: {target}: single-file OME-Zarr ({OZX_SUFFIX}) is written at local "
                "paths only for now; write it locally and upload it, or write a directory"
            )
        return open_zip_store(target, mode, what, storage_options)
    if mode != _READ_MODE and is_read_only_url(target):
        raise ValueError(
            f"{what}: {target} cannot be written: HTTP(S) URLs are read-only; "
            "write to a local path, an s3:// URL or a writable zarr store"
        )
    if storage_options is not None and not isinstance(storage_options, Mapping):
        raise TypeError(
            f"storage_options: expected a dict of fsspec options, not {type(storage_options).__name__}"
        )
    store = FsspecStore.from_url(
        target, storage_options=dict(storage_options or {}), read_only=mode == _READ_MODE
    )
    _check_reachable(store, target, what)
    return store


def archive_member(path: Path) -> tuple[Path, str] | None:
    """``(archive, inner path)`` when ``path`` names no file but lies inside an existing
    single-file archive (``plate.ozx/A/1/0``); None otherwise."""
    if path.exists():
        return None
    for parent in path.parents:
        if parent.suffix.lower() == OZX_SUFFIX and parent.is_file():
            return parent, path.relative_to(parent).as_posix()
    return None


def file_url_path(url: str, what: str) -> str:
    """The local path of a ``file://`` URL (``file:///abs/path`` or ``file://localhost/…``).

    Parameters
    ----------
    url : str
        A ``file://`` URL.
    what : str
        What the URL names, for the error message (e.g. the parameter name).

    Raises
    ------
    ValueError
        If the URL names another host.

    Examples
    --------
    >>> file_url_path("file:///data/a%20b.zarr", "output")
    '/data/a b.zarr'
    """
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{what}: {url} names another host ({parts.netloc!r}); use a local path")
    return str(Path(unquote(parts.path)))


def _no_storage_options(storage_options: Mapping[str, Any] | None, what: str) -> None:
    if storage_options:
        raise ValueError(
            f"storage_options: only used with remote URLs (s3://, http(s)://, …), not with {what}"
        )


def _store_is_read_only(store: Store) -> bool:
    if store.read_only:
        return True
    if isinstance(store, FsspecStore):
        protocol = store.fs.protocol
        protocols = {protocol} if isinstance(protocol, str) else set(protocol)
        return bool(protocols & READ_ONLY_PROTOCOLS)
    return False


def _require_writable_group(group: zarr.Group) -> None:
    if group.read_only or _store_is_read_only(group.store):
        raise ValueError(
            f"group: {group.store_path} is open read-only; open it with a writable mode "
            "on a writable store to write"
        )


def _check_reachable(store: FsspecStore, description: str, what: str) -> None:
    """Read one small key so that an unreachable endpoint fails here, once and clearly.

    A missing key is fine (the group may not exist yet); anything else means the storage
    cannot be used at all.
    """
    try:
        read_key(store, "zarr.json")
    except PermissionError as exc:
        raise PermissionError(
            f"{what}: access to {description} was refused ({exc}); check the credentials "
            "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or storage_options)"
        ) from exc
    except Exception as exc:
        raise ConnectionError(
            f"{what}: cannot reach {description} ({type(exc).__name__}: {exc}); check the URL "
            "and the endpoint (AWS_ENDPOINT_URL or storage_options['endpoint_url'] for s3://)"
        ) from exc
