"""verify: every chunk read; missing and undecodable chunks reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from omezarr.format import FormatV04
from omezarr.verify import verify
from omezarr.writer import write_image, write_labels


def _write(path: Path, fmt: object = None, shards: bool = False) -> None:
    image = np.zeros((2, 64, 64), np.uint16)
    image[:, 10:30, 10:50] = 700  # some chunks hold only the fill value
    options: dict = {"chunks": (1, 16, 16)}
    if shards:
        options["shards"] = (1, 32, 32)
    write_image(image, str(path), scale_factors=[2], axes="cyx", fmt=fmt, storage_options=options)
    write_labels(
        (image > 0).astype(np.uint8), str(path), "mask", scale_factors=[2], axes="cyx", fmt=fmt
    )


@pytest.mark.parametrize("fmt", [None, FormatV04()], ids=["0.5", "0.4"])
def test_an_intact_image_verifies(tmp_path: Path, fmt: object) -> None:
    _write(tmp_path / "img.zarr", fmt)
    report = verify(tmp_path / "img.zarr")
    assert report.ok, report.format()
    assert report.arrays == 4
    # Image: 2*4*4 + 2*2*2 chunks of (1, 16, 16), empty ones included; labels: one per plane.
    assert report.chunks_read == (32 + 8) + (2 + 2)


def test_a_deleted_chunk_is_missing(tmp_path: Path) -> None:
    _write(tmp_path / "img.zarr")
    (tmp_path / "img.zarr" / "s0" / "c" / "1" / "3" / "3").unlink()
    report = verify(tmp_path / "img.zarr")
    assert not report.ok
    assert [str(p) for p in report.problems] == ["s0/c/1/3/3: missing"]
    assert verify(tmp_path / "img.zarr", allow_missing=True).ok


@pytest.mark.parametrize("shards", [False, True])
def test_a_truncated_chunk_is_undecodable(tmp_path: Path, shards: bool) -> None:
    _write(tmp_path / "img.zarr", shards=shards)
    chunk = tmp_path / "img.zarr" / "labels" / "mask" / "s0" / "c" / "0" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    report = verify(tmp_path / "img.zarr")
    assert [p.problem for p in report.problems] == ["undecodable"]
    assert report.problems[0].key == "labels/mask/s0/c/0/0/0"
    assert "undecodable" in report.format()


def _omezarr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omezarr", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_verify_command_exit_codes(tmp_path: Path) -> None:
    _write(tmp_path / "img.zarr")
    good = _omezarr("verify", str(tmp_path / "img.zarr"))
    assert good.returncode == 0, good.stderr
    assert "0 missing, 0 undecodable" in good.stdout
    (tmp_path / "img.zarr" / "s1" / "c" / "0" / "0" / "0").unlink()
    bad = _omezarr("verify", str(tmp_path / "img.zarr"), "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["problems"] == [
        {"key": "s1/c/0/0/0", "problem": "missing", "detail": ""}
    ]
    missing = _omezarr("verify", str(tmp_path / "nothing.zarr"))
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("omezarr verify: error:")
