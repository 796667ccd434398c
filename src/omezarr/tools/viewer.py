"""A local web viewer for an OME-Zarr dataset (``omezarr view``), on 127.0.0.1 only.

The server answers four kinds of request:

``/`` and ``/static/…``
    omezarr's own viewer page (``viewer_static/``: hand-written HTML, CSS and JavaScript that
    loads nothing from elsewhere), which shows planes rendered by the server.
``/render?level=&t=&z=&projection=&c=&labels=&opacity=&size=``
    One view as PNG, from :func:`omezarr.tools.render.render_plane`. ``z`` and ``t`` count
    full-resolution planes, whatever the level shown, so a slider keeps its place when the
    level changes.
``/api/metadata``
    The image's version, axes, levels, channels and labels as JSON.
``/data/…``
    The dataset's files, with CORS headers and single HTTP byte ranges, so that browser
    viewers loaded from elsewhere (vizarr, neuroglancer, …) and zarr over fsspec can read it,
    sharded arrays included.

Only ``GET``, ``HEAD`` and ``OPTIONS`` are served; requests for files outside the dataset
and requests naming another host than ``127.0.0.1`` or ``localhost`` (DNS rebinding) are
refused.

Examples
--------
>>> server = create_server("image.ome.zarr", port=0)  # doctest: +SKIP
>>> print(server.url)  # doctest: +SKIP
http://127.0.0.1:50123/
>>> server.serve_forever()  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import math
import os
import posixpath
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, Final
from urllib.parse import parse_qs, unquote, urlsplit

import zarr

from .._budget import memory_budget_from
from ..io.archive_read import ArchiveReader
from ..io.storage import is_zip_target, open_zip_store
from ..read import Image, LabelImage, open_image
from ..types import JSONDict
from .render import channel_displays, choose_level, encode_png, render_plane

__all__ = [
    "LOOPBACK",
    "RangeNotSatisfiable",
    "ViewerServer",
    "byte_range",
    "create_server",
    "image_metadata",
    "serve",
]

LOOPBACK: Final = "127.0.0.1"
"""The only address the viewer listens on."""

_ALLOWED_HOSTS: Final = frozenset({LOOPBACK, "localhost"})
_STATIC_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_PAGE_POLICY: Final = (
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'"
)
_DATA_POLICY: Final = "sandbox; default-src 'none'"
"""Dataset files are data: whatever they hold, a browser runs nothing of them."""
_METADATA_NAMES: Final = frozenset({"zarr.json", ".zgroup", ".zattrs", ".zarray", ".zmetadata"})
_RENDERS_AT_ONCE: Final = 2
"""Renders computed at once; more wait (up to :data:`_RENDER_WAIT` seconds), then get 503."""
_RENDER_WAIT: Final = 10.0
_CONNECTIONS_AT_ONCE: Final = 64
"""Connections served at once; more are closed at once (each costs a thread)."""
_IDLE_SECONDS: Final = 30
"""A connection silent this long is closed."""
_COPY_BLOCK: Final = 1 << 20
_DEFAULT_RENDER_SIZE: Final = 1024
_MAX_RENDER_SIZE: Final = 4096


class RangeNotSatisfiable(ValueError):
    """A ``Range`` header that selects no byte of the file (HTTP 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The bytes ``(start, stop)`` (stop exclusive) a ``Range`` header asks of a file.

    Parameters
    ----------
    header : str or None
        The header's value: ``bytes=first-last``, ``bytes=first-`` or ``bytes=-suffix``.
    size : int
        The file's length in bytes.

    Returns
    -------
    tuple of int or None
        None for the whole file: no header, or one the server may ignore (another unit,
        several ranges, malformed), as HTTP allows.

    Raises
    ------
    RangeNotSatisfiable
        If the range starts past the end of the file or asks for zero bytes.

    Examples
    --------
    >>> byte_range("bytes=0-99", 1000), byte_range("bytes=-10", 1000)
    ((0, 100), (990, 1000))
    """
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec or "-" not in spec:
        return None
    first, _, last = (part.strip() for part in spec.partition("-"))

    def digits(text: str) -> bool:  # str.isdigit also takes '²' and other non-ASCII digits
        return text.isascii() and text.isdigit()

    if not (digits(first) or not first) or not (digits(last) or not last):
        return None
    if not first:
        if not last:
            return None
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(f"bytes=-{length} of a {size}-byte file")
        return max(0, size - length), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(f"bytes={start}- of a {size}-byte file")
    stop = min(int(last) + 1, size) if last else size
    return start, stop


def image_metadata(image: Image) -> JSONDict:
    """What the viewer page needs to know about ``image``, as JSON-ready data.

    Returns
    -------
    dict
        ``name``, ``version``, ``dims`` (the axes as :attr:`Image.axis_letters`), ``axes``
        (as stored), ``dtype``, ``levels`` (path, shape, chunks, shards, scale), ``channels``
        (index, name, color ``RRGGBB``, window, active), ``labels`` (name, dims, shape,
        colors) and ``default_level``.
    """
    levels = []
    for path, level, scale in zip(image.paths, image.levels, image.scales, strict=True):
        array = image.group[path]
        assert isinstance(array, zarr.Array)
        levels.append(
            {
                "path": path,
                "shape": list(level.shape),
                "chunks": list(array.chunks),
                "shards": None if array.shards is None else list(array.shards),
                "scale": list(scale),
            }
        )
    labels = []
    for name, label in image.labels().items():
        labels.append(
            {
                "name": name,
                "dims": list(label.axis_letters),
                "shape": list(label.levels[0].shape),
                "colors": {str(value): list(rgba) for value, rgba in label.colors.items()},
            }
        )
    return {
        "name": image.name,
        "version": image.version,
        "dims": list(image.axis_letters),  # the page finds z, t and c by these letters
        "axes": [dict(axis) for axis in image.axes],
        "dtype": str(image.levels[0].dtype),
        "levels": levels,
        "channels": [
            {
                "index": display.index,
                "name": display.name,
                "color": display.hex_color,
                "window": None if display.window is None else list(display.window),
                "active": display.active,
            }
            for display in channel_displays(image)
        ],
        "labels": labels,
        "default_level": choose_level(image, _DEFAULT_RENDER_SIZE),
    }


class _Busy(RuntimeError):
    """Too many renders at once (HTTP 503)."""


class _BadRequest(ValueError):
    """A query parameter that cannot be understood (HTTP 400)."""


def _query_int(query: Mapping[str, list[str]], name: str) -> int | None:
    text = query.get(name, [""])[-1].strip()
    if text in ("", "auto"):
        return None
    try:
        return int(text)
    except ValueError:
        raise _BadRequest(f"{name}: expected an integer, not {text!r}") from None


def _scaled_index(index: int | None, full: int, level: int, name: str) -> int | None:
    """A full-resolution plane index as an index into a level with ``level`` planes."""
    if index is None:
        return None
    if not 0 <= index < full:
        raise _BadRequest(f"{name}: {index} is out of range, expected 0 to {full - 1}")
    return index * level // full


class ViewerServer(ThreadingHTTPServer):
    """The viewer's HTTP server for one dataset directory, listening on 127.0.0.1.

    Attributes
    ----------
    root : pathlib.Path
        The dataset directory served under ``/data/``.
    image : Image or None
        The image the viewer page shows; None when ``root`` holds no multiscale image.
    image_error : str or None
        Why ``root`` could not be opened as an image, when it could not.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.image: Image | None = None
        self.image_error: str | None = None
        try:
            self.image = open_image(root)
        except (ValueError, TypeError, OSError) as exc:
            self.image_error = str(exc)
        self.archive: ArchiveReader | None = None
        if root.is_file():  # a single-file archive: its entries are served by name
            self.archive = open_zip_store(root, "r", "path")
        self._labels: dict[str, LabelImage] = {}
        self._labels_lock = threading.Lock()
        self._renders = threading.BoundedSemaphore(_RENDERS_AT_ONCE)
        self._connections = threading.BoundedSemaphore(_CONNECTIONS_AT_ONCE)
        self.render_budget = memory_budget_from(None)
        super().__init__((LOOPBACK, port), _ViewerHandler)

    def server_close(self) -> None:
        super().server_close()
        if self.archive is not None:
            self.archive.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._connections.acquire(blocking=False):  # too many at once: no thread
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def public(self, text: str) -> str:
        """``text`` without the absolute path of the dataset (the page only knows its name)."""
        for prefix in (f"file://{self.root}", str(self.root)):
            text = text.replace(prefix, self.root.name)
        return text

    @property
    def port(self) -> int:
        """The port the server listens on (the one picked by the OS for port 0)."""
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """The viewer page's URL, e.g. ``http://127.0.0.1:8000/``."""
        return f"http://{LOOPBACK}:{self.port}/"

    def label(self, name: str) -> LabelImage:
        """The image's label image ``name``, opened once."""
        assert self.image is not None
        with self._labels_lock:
            if name not in self._labels:
                self._labels[name] = self.image.label(name)
            return self._labels[name]

    def render_png(self, query: Mapping[str, list[str]]) -> tuple[int, bytes]:
        """The level shown and the PNG for a ``/render`` query."""
        image = self.image
        if image is None:
            raise _BadRequest(f"no image to render: {self.image_error}")
        size = _query_int(query, "size")
        size = _DEFAULT_RENDER_SIZE if size is None else size
        if not 1 <= size <= _MAX_RENDER_SIZE:
            raise _BadRequest(f"size: expected 1 to {_MAX_RENDER_SIZE} pixels, not {size}")
        level = _query_int(query, "level")
        if level is None:
            level = choose_level(image, size)
        elif not 0 <= level < len(image.levels):
            raise _BadRequest(f"level: {level} is out of range, the image has {len(image.levels)}")
        full = dict(zip(image.axis_letters, image.levels[0].shape, strict=True))
        shown = dict(zip(image.axis_letters, image.levels[level].shape, strict=True))
        projection = query.get("projection", ["plane"])[-1] or "plane"
        z = _query_int(query, "z")
        if "z" in full:
            z = None if projection == "mip" else _scaled_index(z, full["z"], shown["z"], "z")
        t = _scaled_index(_query_int(query, "t"), full.get("t", 1), shown.get("t", 1), "t")
        channels: list[int] | None = None
        if "c" in query:
            text = query["c"][-1].strip()
            try:
                channels = [int(part) for part in text.split(",") if part.strip()]
            except ValueError:
                raise _BadRequest(f"c: expected channel indices like 0,2, not {text!r}") from None
            if len(set(channels)) != len(channels):
                raise _BadRequest(f"c: each channel at most once, not {text[:40]!r}")
        label_name = query.get("labels", [""])[-1]
        try:
            opacity = float(query.get("opacity", ["0.5"])[-1])
        except ValueError:
            raise _BadRequest("opacity: expected a number from 0 to 1") from None
        plane = math.prod(int(shown[d]) for d in ("y", "x") if d in shown)
        planes = len(channels) if channels is not None else int(shown.get("c", 1))
        depth = int(shown.get("z", 1)) if projection == "mip" else 1
        itemsize = image.levels[level].dtype.itemsize
        if plane * max(1, planes) * depth * (itemsize + 4) > self.render_budget // 2:
            raise _BadRequest(
                f"level: level {level} is too large to render within the memory budget; "
                "choose a coarser level (or none: the viewer picks one for the size)"
            )
        if not self._renders.acquire(timeout=_RENDER_WAIT):
            raise _Busy("the viewer is rendering other views; try again")
        try:
            return level, encode_png(
                self._render(image, level, t, z, channels, projection, size, label_name, opacity)
            )
        finally:
            self._renders.release()

    def _render(
        self,
        image: Image,
        level: int,
        t: int | None,
        z: int | None,
        channels: list[int] | None,
        projection: str,
        size: int,
        label_name: str,
        opacity: float,
    ) -> Any:
        return render_plane(
            image,
            level=level,
            t=t or 0,
            z=z,
            channels=channels,
            projection=projection,  # type: ignore[arg-type]  # checked by render_plane
            size=size,
            label=self.label(label_name) if label_name else None,
            label_opacity=opacity,
        )


class _ViewerHandler(BaseHTTPRequestHandler):
    server: ViewerServer
    protocol_version = "HTTP/1.1"  # keep-alive: viewers read many small chunks
    server_version = "omezarr-view"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # every chunk read would be a line; errors are answered, not logged

    timeout = _IDLE_SECONDS  # a silent connection is closed (socket timeout)

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        if urlsplit(self.path).path.startswith("/data"):
            # Other viewers read the dataset's files from their own origin: those (inert, see
            # _send_data_file) may be read cross-origin; the rest of the server's answers not.
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header(
                "Access-Control-Expose-Headers",
                "Content-Range, Content-Length, Content-Type, Accept-Ranges",
            )
        super().end_headers()

    # ------------------------------------------------------------------ methods

    def do_OPTIONS(self) -> None:
        if not self._host_allowed():
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header(
            "Access-Control-Allow-Headers",
            self.headers.get("Access-Control-Request-Headers") or "Range, Content-Type",
        )
        if self.headers.get("Access-Control-Request-Private-Network") == "true":
            # Chrome asks before a public page may read from 127.0.0.1.
            self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    # ------------------------------------------------------------------ routing

    def _host_allowed(self) -> bool:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:
            self._send_text(HTTPStatus.BAD_REQUEST, "one Host header, not several", True)
            return False
        host = hosts[0] if hosts else None
        if host is None:
            return True
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() in _ALLOWED_HOSTS:
            return True
        self._send_text(HTTPStatus.FORBIDDEN, f"host {host!r} is not served", True)
        return False

    def _answer(self, with_body: bool) -> None:
        if not self._host_allowed():
            return
        parts = urlsplit(self.path)
        path = parts.path
        try:
            if path in ("/", "/index.html"):
                self._send_static("index.html", with_body)
            elif path.startswith("/static/"):
                self._send_static(path.removeprefix("/static/"), with_body)
            elif path == "/api/metadata":
                self._send_metadata(with_body)
            elif path == "/render":
                if self.headers.get("Sec-Fetch-Site", "same-origin") not in (
                    "same-origin",
                    "none",
                ):  # an <img> on another site must not make this machine render
                    self._send_text(HTTPStatus.FORBIDDEN, "renders are for this page", with_body)
                    return
                level, png = self.server.render_png(parse_qs(parts.query, keep_blank_values=True))
                self._send_bytes(
                    HTTPStatus.OK,
                    png,
                    "image/png",
                    with_body,
                    no_store=True,
                    headers={"X-Omezarr-Level": str(level)},
                )
            elif path == "/data" or path.startswith("/data/"):
                self._send_data_file(unquote(path.removeprefix("/data")), with_body)
            else:
                self._send_text(HTTPStatus.NOT_FOUND, f"{path}: not found", with_body)
        except _Busy as exc:
            self._send_text(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), with_body)
        except (_BadRequest, ValueError, TypeError) as exc:
            self._send_text(HTTPStatus.BAD_REQUEST, self.server.public(str(exc)), with_body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the browser moved on (a newer slider position, a closed tab)
        except Exception as exc:  # a failing read must not stop the server
            self._send_text(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                self.server.public(f"{type(exc).__name__}: {exc}"),
                with_body,
            )

    # ------------------------------------------------------------------ responses

    def _send_bytes(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        with_body: bool,
        *,
        no_store: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if no_store:
            self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _send_text(self, status: HTTPStatus, text: str, with_body: bool) -> None:
        self._send_bytes(status, text.encode() + b"\n", "text/plain; charset=utf-8", with_body)

    def _send_static(self, name: str, with_body: bool) -> None:
        folder = resources.files("omezarr").joinpath("viewer_static")
        # Only the files the package ships, by exact name: no path ever reaches the disk.
        known = {entry.name: entry for entry in folder.iterdir() if entry.is_file()}
        suffix = os.path.splitext(name)[1]
        if name not in known or suffix not in _STATIC_TYPES:
            self._send_text(HTTPStatus.NOT_FOUND, f"/static/{name}: not found", with_body)
            return
        headers = {"Content-Security-Policy": _PAGE_POLICY} if suffix == ".html" else None
        self._send_bytes(
            HTTPStatus.OK,
            known[name].read_bytes(),
            _STATIC_TYPES[suffix],
            with_body,
            no_store=True,
            headers=headers,
        )

    def _send_metadata(self, with_body: bool) -> None:
        server = self.server
        document: JSONDict = {"path": server.root.name, "data_url": "/data/"}
        if server.image is None:
            document["error"] = (
                f"{server.root.name} is not a multiscale image: {server.image_error}"
            )
            status = HTTPStatus.UNPROCESSABLE_ENTITY
        else:
            document.update(image_metadata(server.image))
            status = HTTPStatus.OK
        body = json.dumps(document).encode()
        self._send_bytes(status, body, "application/json", with_body, no_store=True)

    def _data_path(self, relative: str) -> Path | None:
        """The file under the dataset for a ``/data`` path; None when it would be outside."""
        parts = [part for part in relative.split("/") if part not in ("", ".")]
        if ".." in parts or "\x00" in relative:
            return None
        root = self.server.root
        target = root.joinpath(*parts).resolve()
        # Also refuses symbolic links that point out of the dataset.
        return target if target.is_relative_to(root) else None

    def _send_data_file(self, relative: str, with_body: bool) -> None:
        archive = self.server.archive
        if archive is not None:  # a single-file archive: its entries, by name
            name = "/".join(p for p in relative.split("/") if p not in ("", "."))
            entry = archive.index.get(name)
            if entry is None:
                self._send_text(HTTPStatus.NOT_FOUND, f"/data{relative}: no such entry", with_body)
                return
            if entry.compressed:  # inflated whole (RFC-9 archives store their entries)
                source: BinaryIO = io.BytesIO(archive.read(name) or b"")
                offset = 0
            else:
                source, offset = self.server.root.open("rb"), archive.data_offset(name)
            with source:
                self._send_span(source, offset, entry.size, posixpath.basename(name), with_body)
            return
        target = self._data_path(relative)
        if target is None:
            message = "paths outside the dataset are not served"
            self._send_text(HTTPStatus.FORBIDDEN, message, with_body)
            return
        if not target.is_file():
            self._send_text(HTTPStatus.NOT_FOUND, f"/data{relative}: no such file", with_body)
            return
        with target.open("rb") as source:
            size = os.fstat(source.fileno()).st_size
            self._send_span(source, 0, size, target.name, with_body)

    def _send_span(
        self, source: BinaryIO, offset: int, size: int, name: str, with_body: bool
    ) -> None:
        """Send the ``size`` bytes of ``source`` from ``offset`` (a file, or an archive entry),
        or the byte range of them that the request asks for."""
        try:
            span = byte_range(self.headers.get("Range"), size)
        except RangeNotSatisfiable as exc:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            body = f"range not satisfiable: {exc}\n".encode()
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)
            return
        start, stop = span if span is not None else (0, size)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
        # Never what the name suggests (an .html or .svg in a dataset would run at this
        # origin): zarr metadata as JSON, everything else as bytes, in a sandbox.
        inert = "application/json" if name in _METADATA_NAMES else None
        self.send_header("Content-Type", inert or "application/octet-stream")
        self.send_header("Content-Security-Policy", _DATA_POLICY)
        self.send_header("Content-Length", str(stop - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-cache")
        if span is not None:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.end_headers()
        if with_body:
            source.seek(offset + start)
            _copy(source, self.wfile, stop - start)


def _copy(source: BinaryIO, target: Any, length: int) -> None:
    """Copy ``length`` bytes in blocks, so a large shard is never held whole."""
    while length > 0:
        block = source.read(min(_COPY_BLOCK, length))
        if not block:
            break
        target.write(block)
        length -= len(block)


def create_server(path: str | os.PathLike[str], *, port: int = 0) -> ViewerServer:
    """A viewer server for the dataset directory ``path``, listening on 127.0.0.1.

    Call ``serve_forever()`` on the result to serve (``shutdown()`` from another thread
    stops it) and ``server_close()`` to release the port.

    Parameters
    ----------
    path : str or os.PathLike
        A local OME-Zarr directory or single-file archive (``.ozx``; its stored entries are
        served under ``/data/`` by name, with byte ranges). The viewer page shows it when it
        is a multiscale image; any other hierarchy (a plate, a collection) is still served
        under ``/data/``.
    port : int, default 0
        The TCP port; 0 lets the operating system pick a free one.

    Returns
    -------
    ViewerServer

    Raises
    ------
    FileNotFoundError
        If ``path`` is not an existing directory.
    ValueError
        If ``port`` is not 0 to 65535.
    OSError
        If the port is in use.

    Examples
    --------
    >>> server = create_server("image.ome.zarr", port=0)  # doctest: +SKIP
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()  # doctest: +SKIP
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"port: expected an integer from 0 to 65535, not {port!r}")
    root = Path(path).expanduser().resolve()
    if root.is_file() and is_zip_target(root):
        open_zip_store(root, "r", "path").close()  # one clear line for one that is no OME-Zarr
    elif not root.is_dir():
        raise FileNotFoundError(f"path: {os.fspath(path)!r} is not a directory or .ozx archive")
    return ViewerServer(root, port)


def serve(
    path: str | os.PathLike[str],
    *,
    port: int = 0,
    open_browser: bool = False,
    announce: Callable[[ViewerServer], None] | None = None,
) -> None:
    """Serve ``path`` until interrupted (Ctrl-C), optionally opening the page in a browser.

    ``announce`` is called with the listening server before serving starts (the command line
    prints its URL).

    Examples
    --------
    >>> serve("image.ome.zarr", port=8000, open_browser=True)  # doctest: +SKIP
    """
    server = create_server(path, port=port)
    try:
        if announce is not None:
            announce(server)
        if open_browser:
            import webbrowser

            # Some browsers block the caller until they exit; the server must not wait.
            threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
