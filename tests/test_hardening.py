"""Broken hierarchies get one clear line and the documented exit code, never a traceback.

Exit codes: 0 valid, 1 invalid, 2 unreadable (or a usage error). Each case was a traceback, a
hang, gigabytes of memory or a wrong verdict before (the hardening issue's probe). Commands on
hostile input run in a subprocess under an address-space cap and a time limit
(:func:`_cli.run_capped`), so that a regression fails the test instead of taking the machine.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import numpy as np
import pytest

from _cli import run_capped
from omezarr.cli import main
from omezarr.validate import validate
from omezarr.writer import write_image


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("valid") / "image.zarr"
    write_image(np.zeros((64, 64), "uint16"), str(path), axes="yx", scale_factors=[])
    return path


def _edited(image: Path, tmp_path: Path, name: str, member: str, edit: object) -> Path:
    copy = tmp_path / name
    shutil.copytree(image, copy)
    document = copy / member / "zarr.json"
    if callable(edit):
        metadata = json.loads(document.read_text())
        edit(metadata)
        document.write_text(json.dumps(metadata))
    else:
        document.write_text(str(edit))
    return copy


def _zero_chunk(metadata: dict) -> None:
    metadata["chunk_grid"]["configuration"]["chunk_shape"] = [0, 64]


def _version_07(metadata: dict) -> None:
    metadata["attributes"]["ome"]["version"] = "0.7"


def test_a_chunk_shape_with_a_zero_is_invalid_not_valid(image: Path, tmp_path: Path) -> None:
    broken = _edited(image, tmp_path, "zero.zarr", "s0", _zero_chunk)
    report = validate(str(broken))
    assert not report.valid and report.readable
    assert any(v.rule == "unreadable" and "extent under 1" in v.message for v in report.errors)


@pytest.mark.parametrize("command", [["info"], ["info", "--stats"], ["verify"]])
def test_a_chunk_shape_with_a_zero_is_refused_in_one_line(
    image: Path, tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _edited(image, tmp_path, "zero.zarr", "s0", _zero_chunk)
    result = run_capped(*command, str(broken))
    assert result.returncode == 2, result.stderr
    error = result.stderr.strip()
    assert len(error.splitlines()) == 1 and "chunk shape [0, 64]" in error


def test_a_chunk_shape_with_a_zero_is_refused_by_thumbnail(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _edited(image, tmp_path, "zero.zarr", "s0", _zero_chunk)
    result = run_capped("thumbnail", str(broken), str(tmp_path / "t.png"))
    assert result.returncode == 2 and "chunk shape [0, 64]" in result.stderr


def test_a_zarr_json_that_is_a_json_array_is_unreadable(image: Path, tmp_path: Path) -> None:
    broken = _edited(image, tmp_path, "array.zarr", ".", "[1, 2, 3]")
    report = validate(str(broken))
    assert not report.readable and report.errors[0].rule == "unreadable"
    result = run_capped("validate", str(broken))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "malformed" in result.stdout


def test_a_well_formed_image_of_an_unknown_version_is_unreadable_not_invalid(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = _edited(image, tmp_path, "newer.zarr", ".", _version_07)
    report = validate(str(newer))
    assert not report.readable
    result = run_capped("validate", str(newer))
    assert result.returncode == 2 and "is not supported here" in result.stdout


def test_an_invalid_image_still_exits_1(image: Path, tmp_path: Path) -> None:
    def no_axes(metadata: dict) -> None:
        del metadata["attributes"]["ome"]["multiscales"][0]["axes"]

    broken = _edited(image, tmp_path, "noaxes.zarr", ".", no_axes)
    assert validate(str(broken)).readable
    assert main(["validate", str(broken)]) == 1


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """Everything heavy is imported inside the commands, where Ctrl-C is one line."""
    from _cli import run_python

    probe = (
        "import sys, omezarr, omezarr.cli\n"
        "print(sorted(n for n in ('zarr', 'dask', 'numba', 'scipy', 'numpy') if n in sys.modules))"
    )
    result = run_python("-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_ctrl_c_while_a_command_loads_is_one_line(
    image: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import omezarr.convert  # noqa: F401 - imports `describe` by name: bound before the patch
    from omezarr.tools import describe

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(describe, "describe", interrupted)
    assert main(["info", str(image)]) == 130
    assert capsys.readouterr().err.strip() == "omezarr info: interrupted"


def test_the_package_still_offers_its_names_and_submodules() -> None:
    import omezarr

    assert omezarr.write_image is omezarr.writer.write_image
    assert set(omezarr.__all__) <= set(dir(omezarr))
    with pytest.raises(AttributeError):
        _ = omezarr.no_such_name  # type: ignore[attr-defined]


def test_info_prints_escape_sequences_from_metadata_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evil.zarr"
    evil = "cells\x1b]0;owned\x07\x1b[2J"
    write_image(
        np.zeros((32, 32), "uint16"),
        str(path),
        axes="yx",
        scale_factors=[],
        name=evil,
        omero={"channels": [{"label": "ch\x1b[31m", "color": "FF0000", "window": {
            "start": 0, "end": 1, "min": 0, "max": 1}}]},
    )  # fmt: skip
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "cells\\x1b]0;owned\\x07\\x1b[2J" in out


def _bomb(metadata: dict) -> None:
    """A chunk that declares 32768 x 32768 uint32 (4 GiB decoded) in a file of bytes."""
    metadata["shape"] = [32768, 32768]
    metadata["chunk_grid"]["configuration"]["chunk_shape"] = [32768, 32768]
    metadata["data_type"] = "uint32"


@pytest.mark.parametrize(
    "command", [["info", "--stats"], ["verify"], ["thumbnail"], ["convert"]], ids=" ".join
)
def test_a_decompression_bomb_is_refused_within_the_memory_budget(
    image: Path, tmp_path: Path, command: list[str]
) -> None:
    """Under a 3 GiB address-space cap (the bomb is 4 GiB), so a regression fails instead of taking the machine."""
    from _cli import run_python

    bomb = _edited(image, tmp_path, "bomb.zarr", "s0", _bomb)
    (bomb / "s0" / "c" / "0" / "0").write_bytes(b"\x00" * 64)  # a chunk to decode
    arguments = [*command, str(bomb)]
    if command[0] in ("thumbnail", "convert"):
        arguments.append(str(tmp_path / ("out.png" if command[0] == "thumbnail" else "out.zarr")))
    probe = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))\n"
        "from omezarr.cli import main\n"
        f"sys.exit(main({arguments!r}))\n"
    )
    result = run_python("-c", probe)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "more than the memory budget" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _refused_in_one_line(command: str, result: Any, reason: str) -> None:
    """Exit 2 with ``reason``: one error line, or for validate an "unreadable" report."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    if command == "validate":
        assert reason in result.stdout and "[unreadable]" in result.stdout
    else:
        assert reason in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["validate", "info", "verify"])
def test_a_zarr_json_that_is_a_fifo_is_refused_instead_of_hanging(
    image: Path, tmp_path: Path, command: str
) -> None:
    import os

    trap = tmp_path / "fifo.zarr"
    shutil.copytree(image, trap)
    (trap / "zarr.json").unlink()
    os.mkfifo(trap / "zarr.json")
    result = run_capped(command, str(trap))  # a hang fails the test
    _refused_in_one_line(command, result, "not a regular file")


def test_a_chunk_symlinked_to_dev_zero_is_refused_instead_of_read_without_end(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trap = tmp_path / "zero.zarr"
    shutil.copytree(image, trap)
    chunk = trap / "s0" / "c" / "0" / "0"
    chunk.unlink()
    chunk.symlink_to("/dev/zero")
    result = run_capped("info", "--stats", str(trap))
    assert result.returncode == 2 and "not a regular file" in result.stderr


def _junk(values: int):
    def edit(metadata: dict) -> None:
        metadata["attributes"]["ome"]["junk"] = [[i, {"a": i}] for i in range(values)]

    return edit


@pytest.fixture(scope="module")
def huge_metadata(
    image: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Future[CompletedProcess[str]]]]:
    """The image with 750,000 small JSON values in its zarr.json, and ``omezarr info`` on it
    under a 2 GiB budget.

    Built once for the three commands' tests, which only read it: the document takes a second
    to write, and reading it under the larger budget (the same command on the same file for
    each of them) takes seconds, so it runs once, beside the tests' own commands.
    """
    huge = _edited(image, tmp_path_factory.mktemp("huge"), "huge.zarr", ".", _junk(750_000))
    with ThreadPoolExecutor(max_workers=1) as background:
        yield (
            huge,
            background.submit(run_capped, "info", str(huge), env={"OMEZARR_MEMORY_BUDGET": "2G"}),
        )


@pytest.mark.parametrize("command", ["info", "validate", "thumbnail"])
def test_metadata_beyond_the_budgets_share_is_refused_unread(
    huge_metadata: tuple[Path, Future[CompletedProcess[str]]],
    tmp_path: Path,
    command: str,
) -> None:
    """7 MB of small JSON values took 420 MiB to read (zarr's parse and a copy of it), 87 MB
    over 2 GiB: beyond 16 MiB (or 1/16 of the budget) a document is not read."""
    huge, read_under_a_larger_budget = huge_metadata
    assert (huge / "zarr.json").stat().st_size > 16 * 2**20
    extra = [str(tmp_path / "t.png")] if command == "thumbnail" else []
    result = run_capped(command, str(huge), *extra)
    _refused_in_one_line(command, result, "bytes of metadata, more than the memory budget allows")
    assert not validate(str(huge)).readable  # a report, not an exception
    # A larger budget reads it: the limit is the budget's, not a file format's.
    assert read_under_a_larger_budget.result().returncode == 0


def test_a_sparse_metadata_document_of_gigabytes_is_refused_unread(
    image: Path, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.zarr"
    shutil.copytree(image, huge)
    with (huge / "zarr.json").open("ab") as file:
        file.truncate(8 * 2**30)  # sparse: no disk used
    result = run_capped("info", str(huge))
    assert result.returncode == 2 and "8,589,934,592 bytes of metadata" in result.stderr


def test_metadata_holding_too_many_values_is_invalid_and_checked_quickly(
    image: Path, tmp_path: Path
) -> None:
    """20,000 omero channels (180,000 values) took seconds at ~10 µs per value, and were
    rated by the schema; beyond 100,000 values the group is reported, not checked."""
    channel = {"color": "FFFFFF", "window": {"min": 0, "max": 1, "start": 0, "end": 1}}

    def many(metadata: dict) -> None:
        metadata["attributes"]["ome"]["omero"] = {"channels": [channel] * 20_000}

    broken = _edited(image, tmp_path, "values.zarr", ".", many)
    result = run_capped("validate", str(broken), timeout=20)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "holds more than 100,000 JSON values" in result.stdout
    report = validate(str(broken))
    assert [v.rule for v in report.errors] == ["budget"]


def test_a_pyramid_of_absurdly_many_levels_is_invalid_without_opening_them(
    image: Path, tmp_path: Path
) -> None:
    """300,000 listed levels took minutes (a quadratic check, then one open per level)."""

    def levels(metadata: dict) -> None:
        datasets = metadata["attributes"]["ome"]["multiscales"][0]["datasets"]
        transforms = datasets[0]["coordinateTransformations"]
        datasets += [
            {"path": f"s{i}", "coordinateTransformations": transforms} for i in range(1, 150)
        ]

    broken = _edited(image, tmp_path, "levels.zarr", ".", levels)
    result = run_capped("validate", str(broken), timeout=20)
    assert result.returncode == 1
    assert "lists 150 levels, more than any pyramid has" in result.stdout


def test_a_walk_stopped_by_its_budget_is_never_called_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was "valid" with a warning: what was not checked may hold any error."""
    from omezarr.validate import hierarchy

    path = tmp_path / "labelled.zarr"
    write_image(np.zeros((16, 16), "uint8"), str(path), axes="yx", scale_factors=[2])
    assert validate(str(path)).valid
    monkeypatch.setattr(hierarchy, "_MAX_READS", 1)
    report = validate(str(path))
    assert not report.valid
    assert any(v.rule == "budget" and v.severity == "error" for v in report.violations)


def test_an_undecodable_chunk_is_one_line_in_info_stats_and_thumbnail(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "garbage.zarr"
    shutil.copytree(image, broken)
    (broken / "s0" / "c" / "0" / "0").write_bytes(b"garbage, not blosc")
    for command in (["info", "--stats"], ["thumbnail"]):
        extra = [str(tmp_path / "t.png")] if command == ["thumbnail"] else []
        result = run_capped(*command, str(broken), *extra)
        assert result.returncode == 2
        error = result.stderr.strip()
        assert len(error.splitlines()) == 1
        assert "stored pixels cannot be decoded" in error and "verify" in error


def test_a_scale_beyond_any_float_is_invalid_not_a_crash(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def huge(metadata: dict) -> None:
        dataset = metadata["attributes"]["ome"]["multiscales"][0]["datasets"][0]
        dataset["coordinateTransformations"][0]["scale"] = [1, 10**400]

    broken = _edited(image, tmp_path, "huge.zarr", ".", huge)
    report = validate(str(broken))
    assert not report.valid and report.readable
    assert any("finite" in v.message for v in report.errors)
    result = run_capped("info", str(broken))
    assert result.returncode == 2 and "finite numbers" in result.stderr


@pytest.mark.parametrize("kind", ["ome", "imagej"])
def test_a_truncated_tiff_is_refused_not_converted_into_a_different_image(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cut at 90 %, tifffile still finds one plane of 32 and logs what it could not read."""
    import tifffile

    data = np.random.default_rng(0).integers(0, 4000, (4, 8, 64, 64), dtype="uint16")
    whole = tmp_path / "whole.tif"
    if kind == "ome":
        tifffile.imwrite(whole, data, ome=True, metadata={"axes": "CZYX"})
    else:
        tifffile.imwrite(whole, data.transpose(1, 0, 2, 3), imagej=True, metadata={"axes": "ZCYX"})
    cut = tmp_path / "cut.tif"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.9)])
    result = run_capped("convert", str(cut), str(tmp_path / "out.zarr"))
    assert result.returncode == 2
    error = result.stderr.strip()
    assert "damaged or truncated TIFF" in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out.zarr").exists()
    assert main(["convert", str(whole), str(tmp_path / "whole.zarr")]) == 0  # the file itself


def test_omero_channels_beyond_the_image_are_invalid_and_refused_by_the_writer(
    image: Path, tmp_path: Path
) -> None:
    def many_channels(metadata: dict) -> None:
        metadata["attributes"]["ome"]["omero"] = many_channels_document()

    broken = _edited(image, tmp_path, "channels.zarr", ".", many_channels)
    report = validate(str(broken))
    assert any(v.rule == "omero" and "1000 channels" in v.message for v in report.errors)
    with pytest.raises(ValueError, match="1000 channels given, the image has 1"):
        write_image(
            np.zeros((8, 8), "uint8"),
            str(tmp_path / "w.zarr"),
            axes="yx",
            scale_factors=[],
            omero=many_channels_document(),
        )


def many_channels_document() -> dict:
    channel = {"color": "FFFFFF", "window": {"min": 0, "max": 1, "start": 0, "end": 1}}
    return {"channels": [channel] * 1000}


@pytest.mark.parametrize("budget", [None, "1G"])
def test_a_png_beyond_the_budget_is_refused_before_it_is_decoded(
    tmp_path: Path, budget: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image as Picture

    picture = tmp_path / "big.png"
    Picture.new("L", (12000, 12000)).save(picture, optimize=True)  # 137 MiB decoded, ~140 KB
    options = ["--dry-run"] + (["--memory", budget] if budget else [])
    result = run_capped("convert", str(picture), str(tmp_path / "out.zarr"), *options)
    if budget is None:
        assert result.returncode == 2
        assert "raise --memory to convert it" in result.stderr
    else:
        assert result.returncode == 0, result.stderr  # within a 1 GiB budget it converts


def test_planning_a_two_billion_pixel_axis_stays_small() -> None:
    """Under a 3 GiB address-space cap: planning this once took tens of gigabytes (every
    output's taps listed up front), then was refused; its taps are now computed window by
    window, so it plans. Only a kernel of millions of taps per output is refused."""
    import dask.array as da
    import zarr

    from _cli import run_python

    probe = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))\n"
        "import dask.array as da, zarr\n"
        "from omezarr.writer import write_image\n"
        "declared = da.zeros((2**31, 2), dtype='float64', chunks=(2**20, 2))\n"
        "print(len(write_image(declared, zarr.storage.MemoryStore(), axes='yx', "
        "compute=False)))\n"
        "try:\n"
        "    write_image(declared, zarr.storage.MemoryStore(), axes='yx', compute=False,\n"
        "                scale_factors=[2**20])\n"
        "except ValueError as error:\n"
        "    print(error)\n"
    )
    result = run_python("-c", probe)
    assert result.returncode == 0, result.stderr[-2000:]
    planned, refused = result.stdout.strip().splitlines()
    assert planned == "1"
    assert "downsampled by too large a factor along 'y'" in refused
    assert "raise memory_budget or use smaller scale factors" in refused
    slide = da.zeros((200_000, 150_000), dtype="uint8", chunks=(4096, 4096))  # a real slide
    assert len(write_image(slide, zarr.storage.MemoryStore(), axes="yx", compute=False)) == 1


def test_a_shard_file_larger_than_the_budget_is_read_by_the_guarded_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only metadata documents have a size limit: shards of gigabytes are legitimate."""
    from omezarr.io.storage import open_group

    monkeypatch.setenv("OMEZARR_MEMORY_BUDGET", "16M")
    group = open_group(str(tmp_path / "big.zarr"), mode="w", zarr_format=3)
    array = group.create_array(
        "a", shape=(4096, 4096), chunks=(512, 512), shards=(4096, 4096), dtype="uint16",
        compressors=None,
    )  # fmt: skip
    array[...] = 7
    assert (tmp_path / "big.zarr" / "a" / "c" / "0" / "0").stat().st_size > 2 * 16 * 2**20
    reopened = open_group(str(tmp_path / "big.zarr"), mode="r")["a"]
    assert int(np.asarray(reopened[...]).sum()) == 7 * 4096 * 4096


@pytest.mark.parametrize("layout", ["samples", "pages"])
def test_a_dry_run_plans_without_building_a_task_graph(tmp_path: Path, layout: str) -> None:
    """65,535 samples per pixel took over two minutes: the dry run built every task's dask
    graph (a write with compute=False into memory) to print the levels."""
    import tifffile

    source = tmp_path / "wide.tif"
    if layout == "samples":
        tifffile.imwrite(
            source, np.zeros((4, 4, 65535), "uint8"), photometric="minisblack",
            planarconfig="contig",
        )  # fmt: skip
        channels = "65535×4×4"
    else:
        tifffile.imwrite(source, np.zeros((10_000, 4, 4), "uint8"), photometric="minisblack")
        channels = "10000×4×4"
    result = run_capped("convert", str(source), str(tmp_path / "out.zarr"), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert channels in result.stdout and "dry run: nothing was written" in result.stdout
    assert not (tmp_path / "out.zarr").exists()


# ---------------------------------------------------------------------------------------------
# A write keeps to its budget or says why it cannot, before anything is written
# ---------------------------------------------------------------------------------------------


def test_the_inputs_chunks_that_do_not_fit_the_budget_give_way_with_a_warning() -> None:
    """A whole-slide plane in 4096 x 4096 chunks: five levels of 16 MiB write units, most of
    them half-filled at once, need ~460 MiB; at the default 256 MiB the write once ran at that
    size anyway (peak RSS about 600 MB)."""
    import warnings

    import dask.array as da

    from omezarr.write.pixels import planned_image

    plane = da.zeros((100_000, 100_000), dtype="uint8", chunks=(4096, 4096))
    with pytest.warns(UserWarning, match=r"the input's chunks \(4096, 4096\) on 5 levels need"):
        group = planned_image(plane, axes="yx")
    assert group["s0"].chunks == (1024, 1024) and group["s4"].chunks == (1024, 1024)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a budget that holds them keeps them, silently
        assert planned_image(plane, axes="yx", memory_budget="1G")["s0"].chunks == (4096, 4096)


def test_chunks_asked_for_that_do_not_fit_the_budget_are_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dask.array as da
    import zarr

    plane = da.zeros((100_000, 100_000), dtype="uint8", chunks=(4096, 4096))
    target = tmp_path / "plane.zarr"
    with pytest.raises(ValueError, match=r"need about [\d,]+ MiB at once, more than the memory"):
        write_image(plane, str(target), axes="yx", storage_options={"chunks": (4096, 4096)})
    assert not target.exists()
    source = tmp_path / "source.zarr"
    zarr.create_array(str(source), shape=(40_000, 40_000), chunks=(4096, 4096), dtype="uint8")
    code = main(["convert", str(source), str(target), "--chunks", "4096,4096"])
    error = capsys.readouterr().err
    assert code == 2 and len(error.strip().splitlines()) == 1, error
    assert "raise --memory or write smaller --chunks" in error
    assert not target.exists()


def test_an_input_whose_chunks_alone_exceed_the_budget_is_refused(tmp_path: Path) -> None:
    """zarr decodes, and dask computes, whole chunks for any slice of them: a 137 MiB chunk
    read by two threads at once took a 256 MiB write past 1.9 GB."""
    import dask.array as da

    one_chunk = da.zeros((12_000, 12_000), dtype="uint8", chunks=(12_000, 12_000))
    target = tmp_path / "x.zarr"
    with pytest.raises(ValueError, match=r"the input's chunks \[12000, 12000\] hold 137 MiB"):
        write_image(one_chunk, str(target), axes="yx")
    assert not target.exists()
    write_image(one_chunk, str(target), axes="yx", memory_budget="1G", compute=False)


# ---------------------------------------------------------------------------------------------
# A label image has its image's levels
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.4", "0.5", "0.6"])
@pytest.mark.parametrize("image_factors", [[], [2, 4], [{"z": 2, "y": 2, "x": 2}]])
def test_labels_written_with_defaults_follow_their_images_levels(
    tmp_path: Path, version: str, image_factors: list[Any]
) -> None:
    """With write_labels' default scale_factors a label image once got 5 levels whatever its
    image had, and the image no longer validated."""
    import zarr

    from omezarr.format import format_from_version
    from omezarr.writer import write_labels

    fmt = format_from_version(version)
    path = tmp_path / "image.zarr"
    write_image(np.zeros((2, 8, 96, 96), np.uint16), str(path), fmt=fmt, axes="czyx",
                scale_factors=image_factors)  # fmt: skip
    write_labels(np.ones((8, 96, 96), np.uint8), str(path), name="cells", fmt=fmt, axes="zyx")
    image = zarr.open_group(str(path), mode="r")
    label = zarr.open_group(str(path / "labels" / "cells"), mode="r")
    assert len(list(label.array_keys())) == len(image_factors) + 1
    image_shapes = [image[k].shape[1:] for k in sorted(image.array_keys())]
    assert [label[k].shape for k in sorted(label.array_keys())] == image_shapes
    report = validate(str(path))
    assert report.valid, report.format()


def test_labels_with_other_levels_than_their_image_are_refused_before_writing(
    tmp_path: Path,
) -> None:
    from omezarr.writer import write_labels, write_multiscale_labels

    path = tmp_path / "image.zarr"
    write_image(np.zeros((96, 96), np.uint16), str(path), axes="yx", scale_factors=[2, 4])
    with pytest.raises(ValueError, match="scale_factors: 2 levels, the image has 3"):
        write_labels(np.ones((96, 96), np.uint8), str(path), name="a", axes="yx",
                     scale_factors=[2])  # fmt: skip
    with pytest.raises(ValueError, match="pyramid: 2 levels given, the image has 3"):
        write_multiscale_labels([np.ones((96, 96), np.uint8), np.ones((48, 48), np.uint8)],
                                str(path), name="b", axes="yx")  # fmt: skip
    assert not (path / "labels").exists()
    assert validate(str(path)).valid
