"""verify: every chunk read; missing and undecodable chunks reported."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.errors import ZarrUserWarning

from _cli import run_cli
from omezarr.format import FormatV04
from omezarr.io.storage import is_partial_file, open_group, remove_partial_files
from omezarr.tools.verify import verify
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


def test_verify_command_exit_codes(tmp_path: Path) -> None:
    _write(tmp_path / "img.zarr")
    good = run_cli("verify", str(tmp_path / "img.zarr"))
    assert good.returncode == 0, good.stderr
    assert "0 missing, 0 undecodable" in good.stdout
    (tmp_path / "img.zarr" / "s1" / "c" / "0" / "0" / "0").unlink()
    bad = run_cli("verify", str(tmp_path / "img.zarr"), "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["problems"] == [
        {"key": "s1/c/0/0/0", "problem": "missing", "detail": ""}
    ]
    missing = run_cli("verify", str(tmp_path / "nothing.zarr"))
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("omezarr verify: error:")


@pytest.mark.parametrize("fmt", [None, FormatV04()], ids=["0.5", "0.4"])
def test_omezarr_marks_its_level_arrays_complete(tmp_path: Path, fmt: object) -> None:
    _write(tmp_path / "img.zarr", fmt)
    group = open_group(str(tmp_path / "img.zarr"), mode="r")
    for path in ("s0", "s1", "labels/mask/s0", "labels/mask/s1"):
        assert group[path].attrs["omezarr"] == {"every_chunk_stored": True}, path
    # A caller who lets zarr leave out empty chunks gets no such promise.
    write_image(
        np.zeros((64, 64), np.uint8), str(tmp_path / "sparse.zarr"), scale_factors=[],
        axes="yx", storage_options={"config": {"write_empty_chunks": False}},
    )  # fmt: skip
    assert "omezarr" not in open_group(str(tmp_path / "sparse.zarr"), mode="r")["s0"].attrs


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_absent_chunks_of_the_reference_writer_are_legal_not_missing(
    tmp_path: Path, version: str
) -> None:
    """ome-zarr-py leaves out chunks equal to the fill value; verify said "4 missing"."""
    from ome_zarr.format import FormatV04 as TheirV04
    from ome_zarr.format import FormatV05 as TheirV05
    from ome_zarr.writer import write_image as their_write_image

    image = np.zeros((128, 128), np.uint16)
    image[:40, :40] = 900  # one chunk of sixteen holds pixels
    path = tmp_path / "theirs.zarr"
    fmt = TheirV04() if version == "0.4" else TheirV05()
    group = zarr.open_group(path, mode="w", zarr_format=2 if version == "0.4" else 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their_write_image(
            image, group, axes="yx", fmt=fmt, scale_factors=[],
            storage_options={"chunks": (32, 32)},
        )  # fmt: skip
    report = verify(path)
    assert report.ok, report.format()
    assert report.absent > 0 and f"{report.absent} absent (legal" in report.format()
    assert report.chunks_read + report.absent == 16
    assert run_cli("verify", str(path)).returncode == 0
    strict = run_cli("verify", str(path), "--require-all")
    assert strict.returncode == 1 and f"{report.absent} missing" in strict.stdout
    assert run_cli("verify", str(path), "--require-all", "--allow-missing").returncode == 2


# ------------------------------------------------------------------ malformed hierarchies


def test_an_absurd_chunk_grid_is_answered_with_a_count_of_missing_chunks(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "big.zarr", mode="w")
    array = group.create_array("a", shape=(10**12, 10**12), chunks=(1, 1), dtype="uint8")
    array[0, 0] = 1
    array[5, 7] = 2
    report = verify(tmp_path / "big.zarr", require_all=True)
    assert report.chunks_read == 2
    (problem,) = report.problems
    assert (problem.key, problem.problem, problem.count) == ("a", "missing", 10**24 - 2)
    assert f"{10**24 - 2} missing" in report.format()
    assert verify(tmp_path / "big.zarr", allow_missing=True).ok
    # Not marked complete: the absent chunks are legal, counted (10**24 is no problem).
    legal = verify(tmp_path / "big.zarr")
    assert legal.ok and legal.absent == 10**24 - 2


@pytest.mark.parametrize(
    ("zarr_format", "encoding", "deleted"),
    [
        (3, {"name": "default", "separator": "/"}, "c/1/0"),
        (3, {"name": "default", "separator": "."}, "c.1.0"),
        (3, {"name": "v2", "separator": "."}, "1.0"),
        (2, {"name": "v2", "separator": "."}, "1.0"),
        (2, {"name": "v2", "separator": "/"}, "1/0"),
    ],
)
def test_chunks_are_found_in_every_key_encoding(
    tmp_path: Path, zarr_format: int, encoding: dict[str, str], deleted: str
) -> None:
    group = zarr.open_group(tmp_path / "g.zarr", mode="w", zarr_format=zarr_format)
    array = group.create_array(
        "a", shape=(4, 4), chunks=(2, 2), dtype="uint8", chunk_key_encoding=encoding
    )
    array[...] = 1
    (tmp_path / "g.zarr" / "a" / deleted).unlink()
    report = verify(tmp_path / "g.zarr", require_all=True)
    assert report.chunks_read == 3
    assert [str(p) for p in report.problems] == [f"a/{deleted}: missing"]


def test_unreadable_member_metadata_is_a_value_error_naming_it(tmp_path: Path) -> None:
    _write(tmp_path / "img.zarr")
    labels = tmp_path / "img.zarr" / "labels" / "zarr.json"
    document = json.loads(labels.read_text())
    document["attributes"] = [document["attributes"]]  # zarr requires an object
    labels.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"img\.zarr/labels is malformed"):
        verify(tmp_path / "img.zarr")


def test_a_target_that_is_neither_path_nor_url_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="group: '::' is not a valid path or URL"):
        verify("::")


# ------------------------------------------------------- temporary files of killed writes

PARTIAL = "0123456789abcdef0123456789abcdef.partial"
LEFTOVERS = [f"labels/zarr.{PARTIAL}", f"s0/c/0/0/0.{PARTIAL}", f"zarr.{PARTIAL}"]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _leave_partial_files(image: Path) -> None:
    for key in LEFTOVERS:
        (image / key).write_bytes(b"half a chunk")


def test_leftover_temporary_files_are_noted_not_errors(tmp_path: Path) -> None:
    _write(tmp_path / "img.zarr")
    _leave_partial_files(tmp_path / "img.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZarrUserWarning)  # noted by verify, not warned by zarr
        report = verify(tmp_path / "img.zarr")
    assert report.ok, report.format()
    assert report.leftovers == LEFTOVERS
    assert report.chunks_read == (32 + 8) + (2 + 2)
    assert f"  zarr.{PARTIAL}: leftover temporary file (note)" in report.format().splitlines()


def test_remove_partial_files_deletes_only_them(tmp_path: Path) -> None:
    _write(tmp_path / "img.zarr")
    intact = _files(tmp_path / "img.zarr")
    _leave_partial_files(tmp_path / "img.zarr")
    (tmp_path / "img.zarr" / "notes.partial").write_text("not zarr's")  # not a zarr name
    assert is_partial_file(LEFTOVERS[0]) and not is_partial_file("notes.partial")
    with pytest.raises(ValueError, match=r"group: .* is open read-only"):
        remove_partial_files(open_group(tmp_path / "img.zarr", mode="r"))
    assert remove_partial_files(open_group(tmp_path / "img.zarr")) == LEFTOVERS
    (tmp_path / "img.zarr" / "notes.partial").unlink()
    assert _files(tmp_path / "img.zarr") == intact
    labels = open_group(tmp_path / "img.zarr")["labels"]
    assert isinstance(labels, zarr.Group)
    assert remove_partial_files(labels) == []
