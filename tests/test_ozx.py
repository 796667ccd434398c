"""Single-file OME-Zarr (RFC-9, ``.ozx``): read by every command and the reader, validated
against RFC-9's archive rules; broken archives refused in one line. Writing: test_ozx_write.py.
A path ending in ``.ozx`` is never written as a directory (which other tools fail to open)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ngff_zarr as nz
import numpy as np
import pytest

from _cli import run_cli
from omezarr.cli import main
from omezarr.reader import open_image
from omezarr.validate import validate
from omezarr.writer import write_image


def _zip_hierarchy(
    directory: Path,
    archive: Path,
    *,
    compression: int = zipfile.ZIP_STORED,
    json_first: bool = True,
    comment: dict[str, Any] | None = None,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Zip a zarr hierarchy with its root at the archive's root, as RFC-9 asks; by default
    zarr.json entries first, breadth-first, stored, with the recommended JSON comment."""
    names = [p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()]
    if json_first:
        entries = sorted(names, key=lambda n: (not n.endswith("zarr.json"), n.count("/"), n))
    else:  # by name: chunks before their array's zarr.json, the root's last
        entries = sorted(names)
    with zipfile.ZipFile(archive, "w", compression) as handle:
        for name in entries:
            handle.write(directory / name, name)
        for name, data in (extra or {}).items():
            handle.writestr(name, data)
        document = comment if comment is not None else {"ome": {"version": "0.5"}}
        handle.comment = json.dumps(document).encode()
    return archive


@pytest.fixture
def image(tmp_path: Path, cells_image: Callable[..., np.ndarray]) -> tuple[Path, np.ndarray]:
    pixels = cells_image((2, 64, 64), "uint16", 3)
    directory = tmp_path / "cells.ome.zarr"
    write_image(pixels, str(directory), axes="cyx", scale_factors=[2])
    return directory, pixels


def _rules(path: Path | str) -> dict[str, str]:
    return {v.rule: v.severity for v in validate(str(path)).violations}


def test_an_ozx_is_read_by_every_command(tmp_path: Path, image: tuple[Path, np.ndarray]) -> None:
    directory, pixels = image
    archive = _zip_hierarchy(directory, tmp_path / "cells.ozx")
    opened = open_image(str(archive))
    np.testing.assert_array_equal(np.asarray(opened.levels[0]), pixels)
    report = validate(str(archive))
    assert report.valid and report.kind == "image", report.format()
    assert {v.rule for v in report.violations} <= {"ozx-zip64"}  # Python's zipfile omits it
    for command in (["info"], ["verify"], ["thumbnail", str(archive), str(tmp_path / "t.png")]):
        arguments = command if len(command) > 1 else [*command, str(archive)]
        result = run_cli(*arguments)
        assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")
    back = tmp_path / "back.ome.zarr"
    converted = run_cli("convert", str(archive), str(back))
    assert converted.returncode == 0, converted.stderr
    np.testing.assert_array_equal(np.asarray(open_image(str(back)).levels[0]), pixels)


@pytest.mark.parametrize("version", ["0.5", "0.6"])
def test_ngff_zarrs_ozx_is_read_validated_and_converted(tmp_path: Path, version: str) -> None:
    pixels = np.random.default_rng(4).integers(0, 4000, (64, 96), dtype=np.uint16)
    archive = tmp_path / f"theirs-{version}.ozx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        multiscales = nz.to_multiscales(nz.to_ngff_image(pixels, dims=["y", "x"]), [2])
        nz.to_ngff_zarr(str(archive), multiscales, version=version)
    report = validate(str(archive))
    assert report.valid and report.version == version, report.format()
    np.testing.assert_array_equal(np.asarray(open_image(str(archive)).levels[0]), pixels)
    back = tmp_path / "ours.ome.zarr"
    assert main(["convert", str(archive), str(back)]) == 0
    np.testing.assert_array_equal(np.asarray(open_image(str(back)).levels[0]), pixels)


def test_the_archive_rules_of_rfc_9_are_checked(
    tmp_path: Path, image: tuple[Path, np.ndarray]
) -> None:
    directory, _ = image
    deflated = _zip_hierarchy(directory, tmp_path / "a.ozx", compression=zipfile.ZIP_DEFLATED)
    assert _rules(deflated).get("ozx-compression") == "warning"
    unordered = _zip_hierarchy(directory, tmp_path / "b.ozx", json_first=False)
    assert _rules(unordered).get("ozx-order") == "warning"
    no_comment = _zip_hierarchy(directory, tmp_path / "c.ozx", comment={"note": "none"})
    assert _rules(no_comment).get("ozx-comment") == "warning"
    named = _zip_hierarchy(directory, tmp_path / "d.zip")
    assert _rules(named).get("ozx-name") == "warning" and validate(str(named)).valid
    # What misleads a reader is an error.
    other_version = _zip_hierarchy(
        directory, tmp_path / "e.ozx", comment={"ome": {"version": "0.4"}}
    )
    assert _rules(other_version).get("ozx-comment") == "error"
    false_claim = _zip_hierarchy(
        directory,
        tmp_path / "f.ozx",
        json_first=False,
        comment={"ome": {"version": "0.5", "zipFile": {"centralDirectory": {"jsonFirst": True}}}},
    )
    assert _rules(false_claim).get("ozx-comment") == "error"
    nested = _zip_hierarchy(directory, tmp_path / "g.ozx", extra={"inner.ozx": b"PK\x05\x06"})
    assert _rules(nested).get("ozx-nested") == "error"
    assert not validate(str(nested)).valid


def _cut(archive: Path, target: Path) -> Path:
    target.write_bytes(archive.read_bytes()[: archive.stat().st_size * 3 // 4])
    return target


def test_a_broken_archive_gets_one_clear_line(
    tmp_path: Path, image: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, _ = image
    whole = _zip_hierarchy(directory, tmp_path / "whole.ozx")
    cut = _cut(whole, tmp_path / "cut.ozx")
    nested_folder = tmp_path / "folder.ozx"
    with zipfile.ZipFile(nested_folder, "w") as handle:  # the hierarchy inside a folder
        for path in directory.rglob("*"):
            if path.is_file():
                handle.write(path, "cells.ome.zarr/" + path.relative_to(directory).as_posix())
    text_zip = tmp_path / "notes.zip"
    with zipfile.ZipFile(text_zip, "w") as handle:
        handle.writestr("readme.txt", "no image here")
    for command in ("info", "verify", "validate", "thumbnail", "convert"):
        for broken, expected in (
            (cut, "one cut short"),
            (nested_folder, "the hierarchy is in the folder 'cells.ome.zarr'"),
            (text_zip, "no zarr.json at the root of the archive"),
        ):
            arguments = [command, str(broken)]
            if command == "thumbnail":
                arguments.append(str(tmp_path / "out.png"))
            if command == "convert":
                arguments.append(str(tmp_path / "out.ome.zarr"))
            code = main(arguments)
            captured = capsys.readouterr()
            output = (captured.out + captured.err).strip()
            assert code != 0 and expected in output, (command, output)
            assert "Traceback" not in output
            if command != "validate":
                assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert main(["validate", str(cut)]) == 2  # nothing could be checked
    result = run_cli("info", str(cut))  # and as a process, exit status and one line
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_a_directory_named_ozx_is_never_written_nor_read_as_an_archive(
    tmp_path: Path, image: tuple[Path, np.ndarray]
) -> None:
    directory, pixels = image
    target = tmp_path / "out.ozx"
    os.mkdir(target)  # what older versions left behind
    with pytest.raises(ValueError, match=r"a directory named \.ozx"):
        write_image(pixels, str(target), axes="cyx")
    for arguments in (
        ["convert", str(directory), str(target), "--overwrite"],
        ["demo", str(target), "--overwrite"],
        ["info", str(target)],
    ):
        result = run_cli(*arguments)
        assert result.returncode == 2 and "a directory named .ozx" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert list(target.iterdir()) == []  # nothing written into it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.ome.zarr", "out.ozx"]


def test_archives_that_cannot_be_added_to_are_left_as_they_are(
    tmp_path: Path, image: tuple[Path, np.ndarray]
) -> None:
    from omezarr import upgrade

    deflated = _zip_hierarchy(image[0], tmp_path / "d.ozx", compression=zipfile.ZIP_DEFLATED)
    before = deflated.read_bytes()
    with pytest.raises(ValueError, match="compressed by ZIP"):
        upgrade(str(deflated), "0.6")
    with pytest.raises(ValueError, match="compressed by ZIP"):
        write_image(image[1], str(deflated), axes="cyx", overwrite=True)
    assert deflated.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.ome.zarr", "d.ozx"]


def test_a_remote_archive_is_read_by_range_over_http(
    tmp_path: Path,
    http_root: tuple[Path, str],
    cells_image: Callable[..., np.ndarray],
    image: tuple[Path, np.ndarray],
) -> None:
    from conftest import RangeRequestHandler

    pixels = cells_image((1, 1024, 1536), "uint16", 6)
    served_dir, base = http_root
    archive = served_dir / "remote-cells.ozx"
    write_image(
        pixels,
        str(archive),
        axes="cyx",
        scale_factors=[2],
        storage_options={"chunks": (1, 64, 64), "shards": (1, 128, 256)},
    )
    url = f"{base}/remote-cells.ozx"
    del RangeRequestHandler.served[:]
    opened = open_image(url)
    region = np.asarray(opened.levels[0][0, 300:340, 700:760])
    np.testing.assert_array_equal(region, pixels[0, 300:340, 700:760])
    # The directory, the documents and the few shards of the region: not the whole archive.
    read = sum(size for path, size in RangeRequestHandler.served if "remote-cells" in path)
    assert 0 < read < archive.stat().st_size // 8, (read, archive.stat().st_size)
    np.testing.assert_array_equal(np.asarray(open_image(url).levels[0]), pixels)
    report = validate(url)
    assert report.valid and report.kind == "image", report.format()
    assert not report.violations, report.format()  # RFC-9's archive rules, read by range
    theirs = _zip_hierarchy(image[0], served_dir / "zipped-by-python.ozx")
    assert _rules(f"{base}/{theirs.name}") == {"ozx-zip64": "warning"}
    result = run_cli("info", url)
    assert result.returncode == 0 and "1024" in result.stdout, result.stderr
    back = tmp_path / "back.ome.zarr"
    assert main(["convert", url, str(back)]) == 0
    np.testing.assert_array_equal(np.asarray(open_image(str(back)).levels[0]), pixels)
    with pytest.raises(ValueError, match="written at local paths only for now"):
        write_image(pixels, f"{base}/new.ozx")
    with pytest.raises(
        (FileNotFoundError, ConnectionError), match=r"cannot be reached|cannot read"
    ):
        open_image("http://127.0.0.1:9/cells.ozx")


def test_a_remote_archive_is_read_from_s3(
    tmp_path: Path, s3_bucket: str, cells_image: Callable[..., np.ndarray]
) -> None:
    import fsspec

    pixels = cells_image((2, 96, 128), "uint16", 2)
    local = tmp_path / "cells.ozx"
    write_image(pixels, str(local), axes="cyx", scale_factors=[2])
    url = f"{s3_bucket}/cells.ozx"
    fsspec.filesystem("s3").put_file(str(local), url)
    np.testing.assert_array_equal(np.asarray(open_image(url).levels[0]), pixels)
    assert validate(url).valid
    assert main(["verify", url]) == 0


def test_a_multi_part_archive_is_refused_in_one_line(tmp_path: Path) -> None:
    # As the RFC-9 test kit (ozx-tck) makes one: Info-ZIP's `zip -s` splits an archive into
    # parts (64 KiB at the least); the last part (.zip) holds the directory.
    noise = np.random.default_rng(2).integers(0, 2**16, (512, 512), dtype=np.uint16)
    directory = tmp_path / "noise.ome.zarr"
    write_image(noise, str(directory), scale_factors=[], storage_options={"chunks": (128, 128)})
    whole = _zip_hierarchy(directory, tmp_path / "whole.ozx")
    part = tmp_path / "split" / "cells.zip"
    part.parent.mkdir()
    subprocess.run(
        [_zip_tool(), str(whole), "--out", str(part), "-s", "64k"],
        check=True,
        capture_output=True,
    )
    assert len(list(part.parent.iterdir())) > 1  # really split
    target = tmp_path / "split.ozx"
    target.write_bytes(part.read_bytes())
    checked = run_cli("validate", str(target))  # its report says it; nothing could be checked
    assert checked.returncode == 2 and "multi-part (split) ZIP archive" in checked.stdout
    for command in ("info", "verify", "thumbnail"):
        result = run_cli(
            command, str(target), *([str(tmp_path / "t.png")] * (command == "thumbnail"))
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "multi-part (split) ZIP archive" in result.stderr, result.stderr
        assert "give a single-part archive" in result.stderr


def _zip_tool() -> str:
    """Info-ZIP's ``zip`` (Debian's ``zip``), installed with apt-get on first use if missing."""
    found = shutil.which("zip")
    if found is not None:
        return found
    if os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        pytest.fail("Info-ZIP's zip is missing and cannot be installed here (needs root, apt-get)")
    subprocess.run(["apt-get", "install", "-y", "-q", "zip"], check=True, capture_output=True)
    return shutil.which("zip") or pytest.fail("apt-get installed no zip")


def test_reading_archives_releases_their_files(
    tmp_path: Path, image: tuple[Path, np.ndarray]
) -> None:
    import gc

    from omezarr.tools.viewer import create_server

    archive = _zip_hierarchy(image[0], tmp_path / "cells.ozx")

    def open_files() -> int:
        gc.collect()
        return len(os.listdir("/proc/self/fd"))

    before = open_files()
    for _ in range(20):
        np.asarray(open_image(str(archive)).levels[1])
        create_server(archive, port=0).server_close()
    assert open_files() - before < 5  # not one or more per archive opened
