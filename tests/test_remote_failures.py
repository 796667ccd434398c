"""A chunk read that fails on a remote store while other reads are in flight: one error line.

zarr reads the chunks of a selection concurrently and hands back the first failure while
the other reads go on. Left running, they were torn down with the process and reported in
hundreds of lines ("Task was destroyed but it is pending!", "Task exception was never
retrieved", "Exception ignored in", tracebacks). Here one chunk of an image fails (an HTTP
500 or 403, a reset connection, a body cut short, bytes that do not decode) on an HTTP
server or on S3 (moto), and every command must say so in one line on stderr, exit with 2,
and print nothing else (verify lists the chunk in its report instead). Every server runs on
127.0.0.1 and stops with its test.

Whether reads left behind are reported at exit depends on where they are when the process
ends, so the command-line tests catch a regression most of the time, not every time; the
library tests check the cause directly: a failed call has nothing left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import select
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr.storage
from zarr.core.sync import sync

from _cli import run_cli
from conftest import LOOPBACK, close_remote_filesystems
from omezarr.io.storage import open_group
from omezarr.io.units import UndecodableDataError
from omezarr.io.zarr_internals import run_sync
from omezarr.reader import open_image
from omezarr.tools.render import render_plane
from omezarr.writer import write_image

PIXELS = (np.arange(256 * 256, dtype=np.uint32).reshape(256, 256) * 7919 % 65521).astype(np.uint16)
"""64 chunks of 32 × 32: a plane is read as 64 concurrent requests, ten at a time."""

CHUNKS = {"chunks": (32, 32)}
BAD_KEY = "s0/c/0/0"
"""The first chunk of the plane: requested first, so it fails while the others are queued."""

NOISE = ("Traceback", "Task exception", "Task was destroyed", "Unclosed", "Exception ignored")

FAILURES = ["500", "403", "reset", "truncated", "garbage"]


@pytest.fixture(autouse=True, scope="module")
def _no_filesystem_left_open() -> Iterator[None]:
    yield
    for protocol in ("http", "s3"):
        close_remote_filesystems(protocol)


def write_test_image(target: str | Path) -> None:
    write_image(PIXELS, target, scale_factors=(), axes="yx", storage_options=CHUNKS)


def one_quiet_error_line(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The single stderr line of a failed command, checked to be all it printed."""
    output = result.stdout + result.stderr
    assert not [word for word in NOISE if word in output], output
    assert result.returncode == 2, output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"omezarr {command}: error: "), lines[0]
    return lines[0].removeprefix(f"omezarr {command}: error: ")


# --------------------------------------------------------------------------------------------
# An HTTP server on which one chunk fails
# --------------------------------------------------------------------------------------------


class FailingServer(http.server.ThreadingHTTPServer):
    """Static files, but ``failure`` for the chunk ``bad_key``.

    With ``hold``, every other chunk is answered only once ``release`` is set (at the end of
    the test): those reads are in flight when the bad one fails. With ``stall`` n, the server
    stops accepting connections when the bad chunk is asked for the n-th time, and fills its
    (short) backlog: the reads that follow the failure hang in their connect, as on a server
    that went away, so that reads a failed call left running are still there at exit.
    """

    daemon_threads = True
    request_queue_size = 1

    def __init__(self, root: Path) -> None:
        def handler(*args: Any, **kwargs: Any) -> FailingHandler:
            return FailingHandler(*args, directory=str(root), **kwargs)

        super().__init__((LOOPBACK, 0), handler)
        self.url = f"http://{LOOPBACK}:{self.server_address[1]}/image.zarr"
        self.bad_key = BAD_KEY
        self.failure = "500"
        self.hold = False
        self.stall = 0
        self.bad_requests = 0
        self.release = threading.Event()
        self.stopped = threading.Event()
        self.accepting = True
        self.fillers: list[socket.socket] = []

    def serve(self) -> None:
        """Accept connections (each handled in a thread) while ``accepting``, until stopped."""
        while not self.stopped.is_set():
            readable, _, _ = select.select([self], [], [], 0.05)
            if not readable or not self.accepting:
                continue
            try:
                request, address = self.get_request()
            except OSError:
                continue
            self.process_request(request, address)

    def stop_accepting(self) -> None:
        self.accepting = False
        for _ in range(3):  # more than the backlog holds: a client's connect then hangs
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(self.server_address)
            self.fillers.append(filler)

    def close(self) -> None:
        self.release.set()
        self.stopped.set()
        for filler in self.fillers:
            filler.close()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away is no failure of the test


class FailingHandler(http.server.SimpleHTTPRequestHandler):
    server: FailingServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def handle(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()  # the client may give up on a held chunk

    def do_GET(self) -> None:
        server = self.server
        path = self.path.split("?", 1)[0]
        if path.endswith("/" + server.bad_key):
            server.bad_requests += 1
            if server.bad_requests == server.stall:
                server.stop_accepting()
            self._fail(server.failure)
            return
        if server.hold and "/c/" in path:
            server.release.wait(timeout=60)
        super().do_GET()

    def _fail(self, failure: str) -> None:
        self.close_connection = True
        if failure in ("500", "403"):
            self.send_error(int(failure), "refused by the test server")
        elif failure == "garbage":
            body = b"\x00not a chunk\xff" * 8
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif failure == "truncated":
            self.send_response(200)
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b"\x00" * 100)
            self.wfile.flush()
            self._reset()
        else:
            self._reset()

    def _reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), as a dropped connection looks to the client."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


@pytest.fixture
def failing_server(tmp_path: Path) -> Iterator[FailingServer]:
    root = tmp_path / "served"
    root.mkdir()
    write_test_image(root / "image.zarr")
    server = FailingServer(root)
    thread = threading.Thread(target=server.serve, name="failing-http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopped.set()
        thread.join(timeout=10)
        close_remote_filesystems("http")
        server.close()


# --------------------------------------------------------------------------------------------
# The library: a failed call on zarr's loop leaves nothing running
# --------------------------------------------------------------------------------------------


def _omezarr_opened_a_store() -> None:
    """What every reader and writer does first (and what sets up zarr's loop for failures)."""
    open_group(zarr.storage.MemoryStore(), mode="w")


async def _unfinished_tasks() -> set[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return {task for task in asyncio.all_tasks() if task is not current}


def test_a_failed_call_cancels_and_awaits_the_tasks_it_started() -> None:
    _omezarr_opened_a_store()
    started: list[asyncio.Task[Any]] = []

    async def read_chunks() -> None:
        async def forever() -> None:
            await asyncio.Event().wait()

        async def fails() -> None:
            await asyncio.sleep(0)
            raise OSError("chunk 3: connection reset")

        started.extend(asyncio.ensure_future(forever()) for _ in range(5))
        await asyncio.gather(*started, fails())

    with pytest.raises(OSError, match="connection reset"):
        sync(read_chunks())  # as zarr calls its loop
    assert len(started) == 5
    assert all(task.cancelled() for task in started)

    started.clear()
    with pytest.raises(OSError, match="connection reset"):
        run_sync(read_chunks())
    assert all(task.cancelled() for task in started)


def test_a_failed_call_leaves_the_calls_of_other_threads_running() -> None:
    _omezarr_opened_a_store()
    gate: Future[asyncio.Future[str]] = Future()

    async def other_call() -> list[str]:
        waiting = asyncio.get_running_loop().create_future()
        gate.set_result(waiting)

        async def part() -> str:
            return await waiting

        return await asyncio.gather(part(), part())

    async def failing_call() -> None:
        async def forever() -> None:
            await asyncio.Event().wait()

        async def fails() -> None:
            raise ValueError("undecodable chunk")

        await asyncio.gather(forever(), fails())

    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(sync, other_call())
        waiting = gate.result(timeout=60)
        with pytest.raises(ValueError, match="undecodable chunk"):
            sync(failing_call())
        assert not other.done()
        waiting.get_loop().call_soon_threadsafe(waiting.set_result, "read")
        assert other.result(timeout=60) == ["read", "read"]


def test_a_failed_remote_read_leaves_no_request_in_flight(failing_server: FailingServer) -> None:
    failing_server.hold = True  # every other chunk is still being read when the first fails
    image = open_image(failing_server.url)
    before = run_sync(_unfinished_tasks())
    with pytest.raises(UndecodableDataError, match="500"):
        render_plane(image)
    assert run_sync(_unfinished_tasks()) - before == set()


# --------------------------------------------------------------------------------------------
# The command line on http://
# --------------------------------------------------------------------------------------------


def _expected(failure: str) -> tuple[str, ...]:
    """What the error line says, by failure (one of these words)."""
    return {
        "500": ("500",),
        "403": ("403",),
        "reset": ("reset", "disconnected", "Connection"),
        "truncated": ("payload", "Payload", "reset", "disconnected"),
        "garbage": ("cannot be decoded", "decompress"),
    }[failure]


@pytest.mark.parametrize("failure", FAILURES)
def test_thumbnail_of_an_http_image_with_a_failing_chunk_says_so_in_one_line(
    failing_server: FailingServer, failure: str, tmp_path: Path
) -> None:
    failing_server.failure = failure
    # After a transport failure, the next read hangs in its connect (aiohttp retries a GET
    # once on a reset connection, so that one stalls at the second). Undecodable bytes fail
    # once every chunk of the plane was fetched, while the others are being decoded.
    failing_server.stall = {"reset": 2, "garbage": 0}.get(failure, 1)
    png = tmp_path / "thumb.png"
    message = one_quiet_error_line(run_cli("thumbnail", failing_server.url, str(png)), "thumbnail")
    assert any(word in message for word in _expected(failure)), message
    assert not png.exists()


@pytest.mark.parametrize("failure", ["500", "reset", "garbage"])
@pytest.mark.parametrize("command", ["info", "convert"])
def test_info_and_convert_of_an_http_image_with_a_failing_chunk_say_so_in_one_line(
    failing_server: FailingServer, failure: str, command: str, tmp_path: Path
) -> None:
    failing_server.failure = failure
    out = tmp_path / "out.zarr"
    if command == "info":
        args = ["info", "--stats", failing_server.url]
    else:
        args = ["convert", failing_server.url, str(out), "-q"]
    message = one_quiet_error_line(run_cli(*args), command)
    assert any(word in message for word in _expected(failure)), message
    assert not out.exists()


@pytest.mark.parametrize("failure", ["500", "reset", "garbage"])
def test_verify_of_an_http_image_with_a_failing_chunk_names_it_quietly(
    failing_server: FailingServer, failure: str
) -> None:
    failing_server.failure = failure
    result = run_cli("verify", failing_server.url)
    output = result.stdout + result.stderr
    assert not [word for word in NOISE if word in output], output
    assert result.returncode != 0, output
    assert BAD_KEY in output


# --------------------------------------------------------------------------------------------
# The command line on s3:// (moto): an object that does not decode
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["thumbnail", "info", "convert", "verify"])
def test_commands_on_an_s3_image_with_an_undecodable_chunk_say_so_quietly(
    s3_bucket: str, command: str, tmp_path: Path
) -> None:
    import boto3

    url = f"{s3_bucket}/image.zarr"
    write_test_image(url)
    boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).put_object(
        Bucket=s3_bucket.removeprefix("s3://"),
        Key=f"image.zarr/{BAD_KEY}",
        Body=b"\x00not a chunk\xff" * 8,
    )
    out = tmp_path / "out"
    args = {
        "thumbnail": ["thumbnail", url, str(out)],
        "info": ["info", "--stats", url],
        "convert": ["convert", url, str(out), "-q"],
        "verify": ["verify", url],
    }[command]
    result = run_cli(*args)
    if command == "verify":  # a report of the broken chunk, not an error
        output = result.stdout + result.stderr
        assert not [word for word in NOISE if word in output], output
        assert result.returncode != 0 and BAD_KEY in output, output
    else:
        message = one_quiet_error_line(result, command)
        assert "decompress" in message or "cannot be decoded" in message, message
    assert not out.exists()
