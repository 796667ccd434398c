"""Tests for omezarr.tools.viewer and ``omezarr view``: HTTP (ranges, CORS, refusals, metadata,
rendering), zarr reading a sharded dataset through the server, and the viewer page end to end
in headless Chromium (installed with apt-get on first use)."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zarr
from PIL import Image as PillowImage
from zarr.storage import FsspecStore

import omezarr
from omezarr.cli import main
from omezarr.reader import open_image
from omezarr.tools.viewer import (
    RangeNotSatisfiable,
    ViewerServer,
    _ViewerHandler,
    byte_range,
    create_server,
)
from omezarr.writer import write_image, write_labels

CHROMIUM = Path("/usr/bin/chromium")
HEADER_COLOR = (29, 53, 87)  # #1d3557 in viewer.css
YELLOW = (255, 255, 0)

# The test image: c, z, y, x = 2, 3, 256, 256, sharded. Channel 0 (red) has a square on every
# plane at rows/columns 32–96; channel 1 (green) a square at rows/columns 160–224 on z 0 only;
# the label image "blobs" has value 5 (yellow) at rows 160–224, columns 32–96.
SIZE = 256


def _write_dataset(path: Path) -> np.ndarray:
    data = np.zeros((2, 3, SIZE, SIZE), dtype=np.uint16)
    data[0, :, 32:96, 32:96] = 1000
    data[1, 0, 160:224, 160:224] = 800
    omero = {
        "channels": [
            {
                "label": "membrane",
                "color": "FF0000",
                "window": {"start": 0, "end": 1000, "min": 0, "max": 65535},
            },
            {
                "label": "spots",
                "color": "00FF00",
                "window": {"start": 0, "end": 800, "min": 0, "max": 65535},
            },
        ]
    }
    sharding = {"chunks": (1, 1, 32, 32), "shards": (1, 1, 128, 128)}
    write_image(
        data,
        str(path),
        axes="czyx",
        scale_factors=[2, 4],
        storage_options=sharding,
        omero=omero,
        name="squares",
    )
    labels = np.zeros((3, SIZE, SIZE), dtype=np.uint8)
    labels[:, 160:224, 32:96] = 5
    write_labels(
        labels,
        str(path),
        "blobs",
        axes="zyx",
        scale_factors=[2, 4],
        storage_options={"chunks": (1, 32, 32), "shards": (1, 128, 128)},
        label_metadata={"colors": [{"label-value": 5, "rgba": [255, 255, 0, 255]}]},
    )
    return data


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("viewer") / "squares.ome.zarr"
    data = _write_dataset(path)
    (path.parent / "secret.txt").write_text("TOP SECRET")
    return path, data


class _RecordingHandler(_ViewerHandler):
    """The viewer's handler, remembering (method, path, Range header, status) of requests."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.server.seen.append(  # type: ignore[attr-defined]
            (self.command, self.path, self.headers.get("Range"), int(code))
        )
        super().send_response(code, message)


def _start(server: ViewerServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def server(dataset: tuple[Path, np.ndarray]) -> Iterator[ViewerServer]:
    server = create_server(dataset[0], port=0)
    server.seen = []  # type: ignore[attr-defined]
    server.RequestHandlerClass = _RecordingHandler
    thread = _start(server)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def fetch(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def raw_get(server: ViewerServer, path: str, host: str | None = None) -> tuple[int, bytes]:
    """GET with ``path`` sent exactly as written (no client-side normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=host is not None)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def decode_png(body: bytes) -> np.ndarray:
    with PillowImage.open(io.BytesIO(body)) as picture:
        return np.asarray(picture.convert("RGB"))


# --------------------------------------------------------------------------- byte ranges


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 10)),
        ("bytes=10-", (10, 100)),
        ("bytes=90-500", (90, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-500", (0, 100)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file, as HTTP allows
        ("items=0-1", None),
        ("bytes=5-2", None),
        ("bytes=x-2", None),
    ],
)
def test_byte_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=-5", 0)]
)
def test_byte_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, size)


def test_data_files_are_served_whole_and_by_range(
    server: ViewerServer, dataset: tuple[Path, np.ndarray]
) -> None:
    content = (dataset[0] / "zarr.json").read_bytes()
    url = server.url + "data/zarr.json"
    status, headers, body = fetch(url)
    assert (status, body) == (200, content)
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Type"] == "application/json"

    status, headers, body = fetch(url, headers={"Range": "bytes=5-14"})
    assert (status, body) == (206, content[5:15])
    assert headers["Content-Range"] == f"bytes 5-14/{len(content)}"
    assert headers["Content-Length"] == "10"

    status, headers, body = fetch(url, headers={"Range": "bytes=-7"})
    assert (status, body) == (206, content[-7:])
    status, _, body = fetch(url, headers={"Range": "bytes=20-"})
    assert (status, body) == (206, content[20:])


def test_unsatisfiable_range_is_416(server: ViewerServer, dataset: tuple[Path, np.ndarray]) -> None:
    size = (dataset[0] / "zarr.json").stat().st_size
    status, headers, _ = fetch(server.url + "data/zarr.json", headers={"Range": f"bytes={size}-"})
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{size}"


def test_head_sends_headers_only(server: ViewerServer, dataset: tuple[Path, np.ndarray]) -> None:
    size = (dataset[0] / "zarr.json").stat().st_size
    status, headers, body = fetch(server.url + "data/zarr.json", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(size)


def test_missing_files_are_404(server: ViewerServer) -> None:
    assert fetch(server.url + "data/s0/c/9/9/9/9")[0] == 404
    assert fetch(server.url + "data/s0")[0] == 404  # directories are not listed
    assert fetch(server.url + "nothing-here")[0] == 404


# --------------------------------------------------------------------------- CORS and refusals


def test_cors_headers_on_data(server: ViewerServer) -> None:
    _, headers, _ = fetch(server.url + "data/zarr.json", headers={"Range": "bytes=0-1"})
    assert headers["Access-Control-Allow-Origin"] == "*"
    exposed = {name.strip() for name in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Content-Range", "Content-Length", "Accept-Ranges"} <= exposed


def test_cors_preflight(server: ViewerServer) -> None:
    status, headers, body = fetch(
        server.url + "data/zarr.json",
        method="OPTIONS",
        headers={
            "Origin": "https://viewer.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert (status, body) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in headers["Access-Control-Allow-Methods"]
    assert "range" in headers["Access-Control-Allow-Headers"].lower()
    assert headers["Access-Control-Allow-Private-Network"] == "true"


@pytest.mark.parametrize(
    "path",
    [
        "/data/../secret.txt",
        "/data/%2e%2e/secret.txt",
        "/data/s0/../../secret.txt",
        "/data/%2E%2E%2Fsecret.txt",
        "/data/..%2fsecret.txt",
    ],
)
def test_paths_outside_the_dataset_are_refused(server: ViewerServer, path: str) -> None:
    status, body = raw_get(server, path)
    assert status in (403, 404)
    assert b"TOP SECRET" not in body


def test_symbolic_links_out_of_the_dataset_are_refused(
    server: ViewerServer, dataset: tuple[Path, np.ndarray]
) -> None:
    link = dataset[0] / "escape.txt"
    link.symlink_to(dataset[0].parent / "secret.txt")
    try:
        status, body = raw_get(server, "/data/escape.txt")
    finally:
        link.unlink()
    assert status == 403
    assert b"TOP SECRET" not in body
    assert fetch(server.url + "data/zarr.json")[0] == 200


def test_other_host_names_are_refused(server: ViewerServer) -> None:
    """A page on another domain resolving to 127.0.0.1 (DNS rebinding) gets nothing."""
    assert raw_get(server, "/api/metadata", host=f"evil.example:{server.port}")[0] == 403
    assert raw_get(server, "/api/metadata", host=f"localhost:{server.port}")[0] == 200


def test_server_listens_on_loopback_only(server: ViewerServer) -> None:
    assert server.server_address[0] == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.port}/"


def test_create_server_refuses_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="path"):
        create_server(tmp_path / "missing.zarr")
    with pytest.raises(ValueError, match="port"):
        create_server(tmp_path, port=70000)


def test_only_read_methods_are_served(server: ViewerServer) -> None:
    assert fetch(server.url + "data/zarr.json", method="PUT")[0] == 501
    assert fetch(server.url + "data/zarr.json", method="DELETE")[0] == 501


# --------------------------------------------------------------------------- viewer endpoints


def test_metadata_endpoint(server: ViewerServer) -> None:
    status, headers, body = fetch(server.url + "api/metadata")
    assert status == 200 and headers["Content-Type"] == "application/json"
    document = json.loads(body)
    assert document["version"] == "0.5"
    assert document["name"] == "squares"
    assert document["dims"] == ["c", "z", "y", "x"]
    assert [axis["name"] for axis in document["axes"]] == ["c", "z", "y", "x"]
    assert [level["shape"] for level in document["levels"]] == [
        [2, 3, 256, 256],
        [2, 3, 128, 128],
        [2, 3, 64, 64],
    ]
    assert document["levels"][0]["shards"] == [1, 1, 128, 128]
    assert [(c["name"], c["color"]) for c in document["channels"]] == [
        ("membrane", "FF0000"),
        ("spots", "00FF00"),
    ]
    assert document["labels"][0]["name"] == "blobs"
    assert document["labels"][0]["colors"] == {"5": [255, 255, 0, 255]}
    assert document["data_url"] == "/data/"


def test_render_endpoint(server: ViewerServer) -> None:
    status, headers, body = fetch(server.url + "render?level=0&z=1&size=256")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert headers["X-Omezarr-Level"] == "0"
    picture = decode_png(body)
    assert picture.shape == (256, 256, 3)
    assert tuple(picture[64, 64]) == (255, 0, 0)
    assert tuple(picture[192, 192]) == (0, 0, 0)  # the green square is on z 0


def test_render_endpoint_counts_planes_at_full_resolution(server: ViewerServer) -> None:
    query = "render?z=0&c=1&labels=blobs&opacity=1&size=64"
    status, headers, body = fetch(server.url + query)
    assert status == 200 and headers["X-Omezarr-Level"] == "2"
    picture = decode_png(body)
    assert picture.shape == (64, 64, 3)
    assert tuple(picture[48, 48]) == (0, 255, 0)
    assert tuple(picture[16, 16]) == (0, 0, 0)  # channel 0 is off
    assert tuple(picture[48, 16]) == YELLOW
    mip = decode_png(fetch(server.url + "render?projection=mip&size=64")[2])
    assert tuple(mip[48, 48]) == (0, 255, 0) and tuple(mip[16, 16]) == (255, 0, 0)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("level=7", b"level: 7"),
        ("z=3", b"z: 3"),
        ("c=0,x", b"c:"),
        ("size=0", b"size"),
        ("labels=cells", b"cells"),
        ("projection=sum", b"projection"),
        ("opacity=high&labels=blobs", b"opacity"),
    ],
)
def test_render_endpoint_reports_bad_queries(
    server: ViewerServer, query: str, message: bytes
) -> None:
    status, _, body = fetch(server.url + "render?" + query)
    assert status == 400
    assert message in body


def test_viewer_page_and_static_files(server: ViewerServer) -> None:
    status, headers, body = fetch(server.url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    scripts = re.findall(rb'<script[^>]*src="([^"]+)"', body)
    assert scripts == [b"/static/viewer.js"]  # nothing from elsewhere
    status, headers, script = fetch(server.url + "static/viewer.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert b"/api/metadata" in script
    assert b"http://" not in script and b"https://" not in script
    assert fetch(server.url + "static/viewer.css")[0] == 200
    assert raw_get(server, "/static/../viewer.py")[0] == 404
    assert fetch(server.url + "static/missing.js")[0] == 404


def test_a_directory_without_an_image_is_still_served(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    server = create_server(tmp_path, port=0)
    thread = _start(server)
    try:
        status, _, body = fetch(server.url + "api/metadata")
        assert status == 422 and "not a multiscale image" in json.loads(body)["error"]
        assert fetch(server.url + "data/notes.txt")[2] == b"hello"
        assert fetch(server.url + "render")[0] == 400
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --------------------------------------------------------------------------- zarr over HTTP


def test_sharded_dataset_reads_through_the_server(
    server: ViewerServer, dataset: tuple[Path, np.ndarray]
) -> None:
    path, data = dataset
    del server.seen[:]  # type: ignore[attr-defined]
    store = FsspecStore.from_url(server.url + "data/", read_only=True)
    group = zarr.open_group(store, mode="r")
    local = zarr.open_group(str(path), mode="r")
    array = group["s0"]
    assert isinstance(array, zarr.Array) and array.shards == (1, 1, 128, 128)
    np.testing.assert_array_equal(array[:], data)
    for level in ("s1", "s2", "labels/blobs/s0", "labels/blobs/s2"):
        remote, source = group[level], local[level]
        assert isinstance(remote, zarr.Array) and isinstance(source, zarr.Array)
        np.testing.assert_array_equal(remote[:], source[:])
    # A region read takes single inner chunks out of the shard files.
    np.testing.assert_array_equal(array[0, 1, 40:50, 40:50], data[0, 1, 40:50, 40:50])
    ranged = [seen for seen in server.seen if seen[2] is not None]  # type: ignore[attr-defined]
    assert ranged and all(status == 206 for *_, status in ranged)


def test_reader_opens_the_served_image(
    server: ViewerServer, dataset: tuple[Path, np.ndarray]
) -> None:
    image = open_image(server.url + "data/")
    assert image.label_names == ["blobs"]
    np.testing.assert_array_equal(image.levels[0].compute(), dataset[1])


# --------------------------------------------------------------------------- command line


def _src_env() -> dict[str, str]:
    source = str(Path(omezarr.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "all_proxy")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def test_view_command_serves_until_interrupted(dataset: tuple[Path, np.ndarray]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "omezarr", "view", str(dataset[0]), "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_src_env(),
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", "".join(lines))
        assert match, f"no URL in {lines!r}"
        assert f"{match.group(0)}data/" in "".join(lines)
        status, _, body = fetch(match.group(0) + "api/metadata")
        assert status == 200 and json.loads(body)["name"] == "squares"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "stopped" in out


def test_view_command_reports_a_busy_port(
    dataset: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["view", str(dataset[0]), "--port", str(port), "--no-browser"])
    assert code == 2
    assert f"--port {port}" in capsys.readouterr().err


def test_view_command_reports_a_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["view", str(tmp_path / "missing.zarr"), "--port", "0", "--no-browser"]) == 2
    assert "missing.zarr" in capsys.readouterr().err


# --------------------------------------------------------------------------- headless Chromium


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Debian ``chromium`` browser, installed with apt-get on first use if it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        pytest.fail(
            f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get); "
            "install the Debian package 'chromium' to run the browser tests"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
    ):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
        if result.returncode != 0:
            pytest.fail(
                f"installing chromium failed: `{' '.join(command)}` exited with "
                f"{result.returncode}:\n{result.stderr[-3000:]}"
            )
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium, but {CHROMIUM} is still missing")
    return CHROMIUM


def _chromium(chromium: Path, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--no-proxy-server",
        f"--user-data-dir={profile}",
        "--window-size=1000,800",
        "--virtual-time-budget=5000",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def screenshot(chromium: Path, tmp_path: Path, url: str, name: str) -> np.ndarray:
    out = tmp_path / name
    result = _chromium(chromium, tmp_path / "profile", f"--screenshot={out}", url)
    assert out.is_file(), f"chromium wrote no screenshot: {result.stderr[-2000:]}"
    with PillowImage.open(out) as picture:
        return np.asarray(picture.convert("RGB"))


STAGE = (slice(40, 800), slice(320, 1000))  # the image area, right of the side bar


def pixels_of(shot: np.ndarray, color: tuple[int, int, int], tolerance: int = 8) -> np.ndarray:
    """(row, column) of every pixel within ``tolerance`` of ``color``."""
    distance = np.abs(shot.astype(int) - np.array(color)).max(axis=2)
    return np.argwhere(distance <= tolerance)


def stage_pixels_of(shot: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """(row, column) in the page of every pixel of the image area close to ``color``."""
    return pixels_of(shot[STAGE], color) + np.array([STAGE[0].start, STAGE[1].start])


def image_point(row: float, column: float) -> tuple[float, float]:
    """Where a pixel of the 256 × 256 image lands in the 1000 × 800 page (see viewer.css:
    a 40 px header, a 320 px side bar, the image contained in the rest)."""
    left, top, width, height = 320, 40, 1000 - 320, 800 - 40
    scale = min(width, height) / SIZE
    return top + (height - SIZE * scale) / 2 + row * scale, left + (
        width - SIZE * scale
    ) / 2 + column * scale


def assert_square_at(
    shot: np.ndarray,
    color: tuple[int, int, int],
    rows: tuple[int, int],
    columns: tuple[int, int],
    level: int = 0,
) -> None:
    """The ``color`` area of the image area is the square ``rows`` × ``columns`` of the image,
    give or take a screen pixel, or one pixel of the level shown (whose edges are smoothed)."""
    found = stage_pixels_of(shot, color)
    assert len(found) > 1000, f"no {color} area in the screenshot"
    top, left = image_point(rows[0], columns[0])
    bottom, right = image_point(rows[1], columns[1])
    slack = 2 + image_point(2**level, 0)[0] - image_point(0, 0)[0] if level else 2
    assert abs(found[:, 0].min() - top) <= slack, (found[:, 0].min(), top)
    assert abs(found[:, 0].max() + 1 - bottom) <= slack, (found[:, 0].max(), bottom)
    assert abs(found[:, 1].min() - left) <= slack, (found[:, 1].min(), left)
    assert abs(found[:, 1].max() + 1 - right) <= slack, (found[:, 1].max(), right)


def test_viewer_page_in_headless_chromium(
    chromium: Path, server: ViewerServer, tmp_path: Path
) -> None:
    shot = screenshot(chromium, tmp_path, server.url + "?labels=blobs&opacity=1", "view.png")
    assert shot.shape == (800, 1000, 3)
    # The page chrome: the header bar across the top, the side bar on the left.
    assert len(pixels_of(shot[:40], HEADER_COLOR, 2)) > 0.8 * 40 * 1000
    assert len(pixels_of(shot[40:, :320], (30, 34, 40), 2)) > 0.5 * 760 * 320
    # The image: the red square of channel 0 and the yellow label blob where they belong,
    # no green (channel 1's square is on another plane).
    assert_square_at(shot, (255, 0, 0), (32, 96), (32, 96))
    assert_square_at(shot, YELLOW, (160, 224), (32, 96))
    assert len(stage_pixels_of(shot, (0, 255, 0))) == 0


def test_viewer_page_controls_from_the_query(
    chromium: Path, server: ViewerServer, tmp_path: Path
) -> None:
    url = server.url + "?level=2&z=0&c=1"
    shot = screenshot(chromium, tmp_path, url, "query.png")
    assert_square_at(shot, (0, 255, 0), (160, 224), (160, 224), level=2)
    assert len(stage_pixels_of(shot, (255, 0, 0))) == 0  # channel 0 switched off
    assert len(stage_pixels_of(shot, YELLOW)) == 0  # no labels asked for

    result = _chromium(chromium, tmp_path / "profile", "--dump-dom", url)
    dom = result.stdout
    assert "level 2 · z 0 · t 0" in dom  # the status line after the render arrived
    assert '<option value="2">2: 2×3×64×64</option>' in dom
    assert re.search(r'data-channel="0"[^>]*>\s*<span[^>]*>\s*</span>\s*<span>membrane</span>', dom)
    assert "<td>2×3×256×256</td>" in dom and "<td>1×1×128×128</td>" in dom  # levels table
    assert "<dd>0.5</dd>" in dom and "<td>space</td>" in dom  # metadata panel
    assert f"http://127.0.0.1:{server.port}/data/" in dom
    assert '<option value="blobs">blobs</option>' in dom


# ------------------------------------------------------------------ hardening (the probe's)


def test_dataset_files_are_served_as_inert_data(server: ViewerServer) -> None:
    (server.root / "evil.html").write_text("<script>alert(1)</script>")
    try:
        status, headers, _ = fetch(server.url + "data/evil.html")
    finally:
        (server.root / "evil.html").unlink()
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("sandbox")
    _, headers, _ = fetch(server.url + "data/zarr.json")
    assert headers["Content-Type"] == "application/json"


def test_only_dataset_files_may_be_read_cross_origin(server: ViewerServer) -> None:
    _, headers, _ = fetch(server.url + "api/metadata")
    assert "Access-Control-Allow-Origin" not in headers
    status, headers, _ = fetch(server.url + "render?size=0")
    assert status == 400 and "Access-Control-Allow-Origin" not in headers


def test_error_bodies_do_not_disclose_absolute_paths(server: ViewerServer) -> None:
    status, _, body = fetch(server.url + "render?labels=nothing-of-that-name")
    assert status >= 400
    assert str(server.root.parent) not in body.decode()


def test_a_second_host_header_is_refused(server: ViewerServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            b"GET /api/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n"
            b"Connection: close\r\n\r\n"
        )
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")


def test_a_range_of_non_ascii_digits_is_ignored(server: ViewerServer) -> None:
    status, _, body = fetch(server.url + "data/zarr.json", headers={"Range": "bytes=²-"})
    assert status == 200 and body == (server.root / "zarr.json").read_bytes()


def test_another_site_cannot_make_the_viewer_render(server: ViewerServer) -> None:
    status, _, _ = fetch(server.url + "render?size=64", headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    assert fetch(server.url + "render?size=64", headers={"Sec-Fetch-Site": "same-origin"})[0] == 200


def test_a_channel_repeated_is_refused(server: ViewerServer) -> None:
    status, _, body = fetch(server.url + "render?size=64&c=" + ",".join(["0"] * 300))
    assert status == 400 and b"each channel at most once" in body


def test_a_level_too_large_for_the_budget_is_refused(
    server: ViewerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "render_budget", 1024)
    status, _, body = fetch(server.url + "render?level=0&size=64")
    assert status == 400 and b"coarser level" in body


def test_silent_connections_are_closed(
    server: ViewerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_RecordingHandler, "timeout", 1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        started = time.monotonic()
        assert connection.recv(1) == b""  # closed by the server, not by our timeout
        assert time.monotonic() - started < 9


def test_connections_beyond_the_limit_are_closed_at_once(
    server: ViewerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "_connections", threading.BoundedSemaphore(1))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        time.sleep(0.2)  # the first connection holds the only place
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as extra:
            assert extra.recv(1) == b""
        idle.sendall(b"GET /api/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert idle.recv(12).startswith(b"HTTP/1.")
