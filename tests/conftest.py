"""Shared fixtures: local servers for remote-store tests (an S3 server and a Range-capable HTTP server).

Both listen on 127.0.0.1 only, on ports the OS picks, and stop at the end of the session.
"""

from __future__ import annotations

import http.server
import inspect
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
import pytest

LOOPBACK = "127.0.0.1"

_S3_FIXTURES = {"moto_endpoint", "s3_env", "s3_bucket"}
_SUBPROCESS_CALLS = ("subprocess.", "run_cli(", "run_python(", "kill_after(", "Popen(")
_SLOW_MODULES = {"test_crash", "test_distributed", "test_interop", "test_convert_resume"}
"""Modules whose every test takes seconds (kill harnesses, a cluster, other libraries)."""


def _calls_another_process(item: pytest.Item) -> bool:
    function = getattr(item, "function", None)
    try:
        source = inspect.getsource(function) if function is not None else ""
    except (OSError, TypeError):
        return False
    return any(call in source for call in _SUBPROCESS_CALLS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by what it uses, so that ``-m "not slow"`` (and the others) select."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        module = item.path.stem
        marks = set()
        if fixtures & _S3_FIXTURES:
            marks |= {"s3", "slow"}
        if "chromium" in fixtures:
            marks |= {"browser", "slow"}
        if _calls_another_process(item) or module in {"test_crash", "test_convert_resume"}:
            marks |= {"subprocess", "slow"}
        if module in _SLOW_MODULES:
            marks.add("slow")
        if "established_library" in fixtures:  # a venv built from the package registry
            marks |= {"subprocess", "slow"}
        for mark in sorted(marks):
            item.add_marker(mark)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the established library's venv if a selected test needs it, so that it
    is built while the other tests run."""
    if any("established_library" in getattr(i, "fixturenames", ()) for i in session.items):
        from _established import EstablishedLibrary

        session.config.stash[_ESTABLISHED] = EstablishedLibrary()


_ESTABLISHED = pytest.StashKey[Any]()


def pytest_unconfigure(config: pytest.Config) -> None:
    library = config.stash.get(_ESTABLISHED, None)
    if library is not None:
        library.stop()


@pytest.fixture(scope="session")
def established_library(request: pytest.FixtureRequest) -> Any:
    """The established library's venv (see tests/_established.py); skipped where no Python
    >= 3.12 is on the machine, which its releases that read 0.6 need."""
    library = request.config.stash.get(_ESTABLISHED, None)
    if library is None or library.interpreter is None:
        pytest.skip("no Python >= 3.12 on this machine, which ome-zarr >= 0.21 needs")
    return library


@pytest.fixture
def cells_image() -> Callable[..., np.ndarray]:
    """A builder of small microscopy-like images (smooth blobs plus noise), by shape, dtype
    and seed; the same arguments give the same pixels (tests/_arrays.cells)."""
    from _arrays import cells

    return cells


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    # No proxy: the request must go to 127.0.0.1 itself, whatever the environment says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1) as response:
            return bool(response.status < 500)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connections to it are refused at once."""
    return free_port()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint URL of an S3-protocol server (moto) running on 127.0.0.1 for the session."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(endpoint + "/"):
            if process.poll() is not None:
                pytest.fail(f"moto_server exited with {process.returncode} before answering")
            if time.monotonic() > deadline:
                pytest.fail("moto_server did not answer within 30 s")
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def close_remote_filesystems(protocol: str) -> None:
    """Close and forget the cached fsspec filesystems of ``protocol`` that zarr opened.

    fsspec reuses one filesystem per set of arguments, and the endpoint taken from the
    environment is not one of them: tests that change it must not get another test's
    filesystem. Asynchronous filesystems (zarr's) never close their sessions themselves,
    so they are closed here, on zarr's event loop, rather than complained about at exit.
    """
    import fsspec
    from zarr.core.sync import sync

    cls = fsspec.get_filesystem_class(protocol)
    for fs in list(cls._cache.values()):
        if not getattr(fs, "asynchronous", False):
            continue
        client = getattr(fs, "_s3", None) or getattr(fs, "_session", None)
        if client is not None:
            sync(client.close())
    cls.clear_instance_cache()


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Dummy credentials and the moto endpoint in the environment botocore reads; the endpoint."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    # Never ask an instance-metadata service or read the user's AWS files.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    close_remote_filesystems("s3")
    yield moto_endpoint
    close_remote_filesystems("s3")


@pytest.fixture
def s3_bucket(s3_env: str) -> str:
    """A new, empty bucket on the moto server, as ``s3://name``."""
    import boto3  # synchronous: leaves no event-loop session behind

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_env).create_bucket(Bucket=name)
    return f"s3://{name}"


class RangeRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single byte ranges (``a-b``, ``a-`` and suffix ``-n``), as zarr reads shards."""

    _span: tuple[int, int] | None = None
    served: ClassVar[list[tuple[str, int]]] = []
    """(path, bytes) of every answer with a body, for tests that count what was read."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def send_head(self) -> Any:
        self._span = None
        path = self.translate_path(self.path)
        header = self.headers.get("Range")
        if header is None or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        span = parse_byte_range(header, size)
        if span is None:
            self.send_error(416, "Requested Range Not Satisfiable")
            return None
        start, stop = span
        source = open(path, "rb")  # noqa: SIM115  # closed by the base class after copyfile
        source.seek(start)
        self._span = span
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.send_header("Content-Length", str(stop - start))
        self.end_headers()
        return source

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:  # type: ignore[override]
        if self._span is None:
            try:
                size = os.fstat(source.fileno()).st_size
            except (AttributeError, OSError, ValueError):  # a listing: not a file
                size = -1
            self.served.append((self.path, size))
            super().copyfile(source, outputfile)
            return
        self.served.append((self.path, self._span[1] - self._span[0]))
        outputfile.write(source.read(self._span[1] - self._span[0]))


def parse_byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, stop)`` (stop exclusive) of a single-range ``Range`` header, None if unsatisfiable."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip() != "bytes" or "," in spec or "-" not in spec:
        return None
    first, _, last = (part.strip() for part in spec.partition("-"))
    try:
        if not first:  # suffix: the last n bytes
            length = int(last)
            return (max(0, size - length), size) if length > 0 and size else None
        start = int(first)
        stop = min(int(last) + 1, size) if last else size
    except ValueError:
        return None
    return (start, stop) if 0 <= start < stop else None


@pytest.fixture(scope="session")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A directory served read-only over HTTP on 127.0.0.1, and its base URL (no trailing slash)."""
    directory = tmp_path_factory.mktemp("http-root")

    def handler(*args: Any, **kwargs: Any) -> RangeRequestHandler:
        return RangeRequestHandler(*args, directory=str(directory), **kwargs)

    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="http-root", daemon=True)
    thread.start()
    try:
        yield directory, f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        close_remote_filesystems("http")
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
