"""The command line on remote stores, run as a user runs it (``python -m omezarr``): s3:// on a
moto server, http:// (read-only), file:// URLs, and endpoints that do not answer.

Every server runs on 127.0.0.1 (see conftest.py). ``s3_env`` puts the S3 credentials and
endpoint in the environment (and removes proxies), which ``run_cli`` passes to the command,
as a user's shell would.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from conftest import close_remote_filesystems
from omezarr import convert as conversion
from omezarr.convert import staging
from omezarr.format import FormatV04
from omezarr.io.storage import open_group, read_ngff_attrs
from omezarr.reader import open_image
from omezarr.validate import validate
from omezarr.writer import write_image
from test_cli import one_error_line, run_cli

IMAGE = (np.arange(2 * 96 * 80, dtype=np.uint16).reshape(2, 96, 80) * 13) % 3001
PIXELS = (np.arange(300 * 200, dtype=np.uint32).reshape(300, 200) * 7919 % 65521).astype(np.uint16)
"""What the .npy file holds: 300 × 200, so that the automatic pyramid has two levels."""


@pytest.fixture(autouse=True, scope="module")
def _no_filesystem_left_open() -> Iterator[None]:
    yield
    for protocol in ("http", "s3"):
        close_remote_filesystems(protocol)


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    """stdout of a command that must have worked."""
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def npy_file(tmp_path: Path) -> Path:
    path = tmp_path / "pixels.npy"
    np.save(path, PIXELS)
    return path


def s3_objects(bucket: str, prefix: str) -> dict[str, bytes]:
    """Every object below ``prefix`` of ``s3://bucket`` with its bytes (boto3: synchronous)."""
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    name = bucket.removeprefix("s3://")
    listing = client.list_objects_v2(Bucket=name, Prefix=prefix).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=name, Key=item["Key"])["Body"].read()
        for item in listing
    }


# --------------------------------------------------------------------------------------------
# Reading: info, validate, verify and thumbnail on s3:// and http://
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["s3", "http"])
def test_info_validate_verify_and_thumbnail_read_a_remote_image(
    where: str, request: pytest.FixtureRequest, s3_env: str, tmp_path: Path
) -> None:
    if where == "s3":
        url = f"{request.getfixturevalue('s3_bucket')}/image.zarr"
        write_image(
            IMAGE, url, scale_factors=(2,), axes="cyx", storage_options={"chunks": (1, 48, 40)}
        )
    else:
        directory, base = request.getfixturevalue("http_root")
        write_image(
            IMAGE,
            directory / "cli-image.zarr",
            scale_factors=(2,),
            fmt=FormatV04(),
            axes="cyx",
            storage_options={"chunks": (1, 48, 40)},
        )
        url = f"{base}/cli-image.zarr"

    info = json.loads(succeeded(run_cli("info", url, "--json")))
    assert info["kind"] == "image"
    assert info["version"] == ("0.5" if where == "s3" else "0.4")
    assert [level["shape"] for level in info["levels"]] == [[2, 96, 80], [2, 48, 40]]

    verdict = succeeded(run_cli("validate", url))
    assert verdict.startswith(f"✓ {url}: valid OME-Zarr"), verdict

    report = json.loads(succeeded(run_cli("verify", url, "--json")))
    assert report["ok"] is True
    assert (report["arrays"], report["chunks_read"]) == (2, 2 * 4 + 2 * 1)
    assert report["problems"] == []

    png = tmp_path / "thumb.png"
    assert "PNG of level 0" in succeeded(run_cli("thumbnail", url, str(png)))
    with PILImage.open(png) as picture:
        assert picture.size == (80, 96)


# --------------------------------------------------------------------------------------------
# convert: to s3:// and back, existing outputs, read-only and failed outputs, --resume
# --------------------------------------------------------------------------------------------


def test_convert_npy_to_s3_and_back_to_a_file_url(
    s3_bucket: str, npy_file: Path, tmp_path: Path
) -> None:
    url = f"{s3_bucket}/converted.zarr"
    out = succeeded(run_cli("convert", str(npy_file), url, "--format", "0.4", "-q"))
    assert f"→ {url} (OME-Zarr 0.4, yx)" in out
    assert f"✓ {url}: valid OME-Zarr 0.4 image" in out
    remote = open_image(url)
    np.testing.assert_array_equal(np.asarray(remote.data), PIXELS)
    assert [level.shape for level in remote.levels] == [(300, 200), (150, 100)]

    local = tmp_path / "back again.zarr"
    back = succeeded(run_cli("convert", url, local.as_uri(), "-q"))
    assert f"{url} (OME-Zarr, yx 300×200 uint16)" in back
    assert f"✓ {local.as_uri()}: valid OME-Zarr 0.5 image" in back
    image = open_image(local)
    assert image.version == "0.5"
    np.testing.assert_array_equal(np.asarray(image.data), PIXELS)
    for got, expected in zip(image.levels, remote.levels, strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    report = validate(local)
    assert report.valid, report.format()
    assert sorted(os.listdir(tmp_path)) == ["back again.zarr", "pixels.npy"]  # no staging left


def test_convert_to_an_existing_s3_output_needs_overwrite(s3_bucket: str, npy_file: Path) -> None:
    url = f"{s3_bucket}/existing.zarr"
    write_image(IMAGE, url, scale_factors=(2, 4), axes="cyx")
    before = s3_objects(s3_bucket, "existing.zarr/")
    assert "existing.zarr/s2/zarr.json" in before

    message = one_error_line(run_cli("convert", str(npy_file), url), "convert")
    assert message == f"{url}: already exists; pass --overwrite to replace it"
    assert s3_objects(s3_bucket, "existing.zarr/") == before

    succeeded(run_cli("convert", str(npy_file), url, "--overwrite", "-q"))
    after = s3_objects(s3_bucket, "existing.zarr/")
    assert not any(key.startswith("existing.zarr/s2/") for key in after)  # old level gone
    np.testing.assert_array_equal(np.asarray(open_image(url).data), PIXELS)


def test_convert_refuses_what_it_must_not_replace_or_cannot_write(
    s3_bucket: str, npy_file: Path, http_root: tuple[Path, str]
) -> None:
    import boto3

    # Not a zarr hierarchy: never replaced, even with overwrite.
    name = s3_bucket.removeprefix("s3://")
    boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).put_object(
        Bucket=name, Key="notes/readme.txt", Body=b"mine"
    )
    with pytest.raises(conversion.ConversionError, match="no zarr hierarchy; refusing"):
        conversion.convert(npy_file, f"{s3_bucket}/notes", overwrite=True)
    assert s3_objects(s3_bucket, "notes/") == {"notes/readme.txt": b"mine"}

    # http(s):// is read-only: refused before anything is read or contacted.
    directory, base = http_root
    with pytest.raises(conversion.ConversionError, match=r"HTTP\(S\) URLs are read-only"):
        conversion.convert(npy_file, f"{base}/refused.zarr")
    assert not (directory / "refused.zarr").exists()

    # From URLs only zarr is read; a TIFF there gets a clear word, not a traceback.
    (directory / "picture.tif").write_bytes(b"II*\x00" + bytes(64))
    with pytest.raises(conversion.ConversionError, match="only zarr arrays and OME-Zarr"):
        conversion.convert(f"{base}/picture.tif", npy_file.parent / "out.zarr")
    assert not (npy_file.parent / "out.zarr").exists()


class Interrupted(Exception):
    """Raised from the progress callback, part-way through a write."""


def interrupt_after(regions: int) -> Any:
    def progress(what: str, state: Any) -> None:
        if state.regions_done >= regions:
            raise Interrupted(f"stopped after {state.regions_done} regions")

    return progress


CHUNKED: dict[str, Any] = {"chunks": (50, 50), "scale_factors": [2], "memory_budget": "16M"}


def test_failed_conversion_to_s3_deletes_what_it_wrote(s3_bucket: str, npy_file: Path) -> None:
    url = f"{s3_bucket}/failed.zarr"
    with pytest.raises(Interrupted):
        conversion.convert(npy_file, url, progress=interrupt_after(2), **CHUNKED)
    assert s3_objects(s3_bucket, "failed.zarr") == {}
    # A neighbour whose name starts alike is not touched by the clean-up.
    write_image(IMAGE, f"{s3_bucket}/failed.zarr2", scale_factors=(), axes="cyx")
    with pytest.raises(Interrupted):
        conversion.convert(npy_file, url, progress=interrupt_after(2), **CHUNKED)
    assert s3_objects(s3_bucket, "failed.zarr/") == {}
    assert "failed.zarr2/zarr.json" in s3_objects(s3_bucket, "failed.zarr2/")


def test_convert_resume_finishes_a_killed_conversion_to_s3(
    s3_bucket: str, npy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{s3_bucket}/resumed.zarr"
    # A kill leaves what was written: no clean-up runs.
    with monkeypatch.context() as patch:
        patch.setattr(staging, "_delete_partial_output", lambda store, url: None)
        with pytest.raises(Interrupted):
            conversion.convert(npy_file, url, progress=interrupt_after(3), **CHUNKED)
    partial = s3_objects(s3_bucket, "resumed.zarr/")
    assert "resumed.zarr/s0/zarr.json" in partial
    # Metadata comes last: the partial output does not look like an image.
    assert "multiscales" not in read_ngff_attrs(open_group(url, mode="r"))

    args = ["convert", str(npy_file), url, "--chunks", "50,50", "--scale-factors", "2"]
    refused = one_error_line(run_cli(*args, "--memory", "16M"), "convert")
    assert "already exists" in refused
    out = succeeded(run_cli(*args, "--memory", "16M", "--resume", "-q"))
    assert f"✓ {url}: valid OME-Zarr 0.5 image" in out
    np.testing.assert_array_equal(np.asarray(open_image(url).data), PIXELS)
    # The chunks the killed run had written were kept, not written again.
    resumed = s3_objects(s3_bucket, "resumed.zarr/")
    kept = [key for key in partial if "/c/" in key]
    assert kept and all(resumed[key] == partial[key] for key in kept)


# --------------------------------------------------------------------------------------------
# Unreachable endpoints: one line, exit code 2
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["info", "validate", "verify", "convert"])
@pytest.mark.parametrize("where", ["http", "s3"])
def test_unreachable_url_gives_one_error_line(
    where: str,
    command: str,
    s3_env: str,
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
    npy_file: Path,
) -> None:
    if where == "http":
        url = f"http://127.0.0.1:{closed_port}/x.zarr"
        # A remote input, since an http:// output is refused without contacting anything.
        args = [url, str(npy_file.parent / "out.zarr")] if command == "convert" else [url]
    else:
        url = "s3://bucket/x.zarr"
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's retries: fail at once
        args = [str(npy_file), url] if command == "convert" else [url]
    message = one_error_line(run_cli(command, *args), command)
    assert f"cannot reach {url}" in message
    assert not (npy_file.parent / "out.zarr").exists()
