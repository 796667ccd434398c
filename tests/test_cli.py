"""The demo, convert and info commands, run as a user runs them (``python -m omezarr``)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr

from _cli import run_cli, run_python
from omezarr.cli import main
from omezarr.convert import write_demo
from omezarr.writer import write_image, write_plate_metadata, write_well_metadata


def one_error_line(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The single stderr line of a failed command, checked to be the only output."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"omezarr {command}: error: ")
    return lines[0].removeprefix(f"omezarr {command}: error: ")


def ome_attrs(path: Path) -> dict[str, Any]:
    attrs = zarr.open_group(path, mode="r").attrs.asdict()
    return dict(attrs.get("ome", attrs))


@pytest.fixture(scope="module")
def cells_tiff(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """An OME-TIFF with channels, colours and physical sizes."""
    data = np.random.default_rng(0).integers(0, 4000, (2, 5, 64, 80), dtype=np.uint16)
    path = tmp_path_factory.mktemp("tiff") / "cells.ome.tif"
    tifffile.imwrite(
        path,
        data,
        ome=True,
        metadata={
            "axes": "CZYX",
            "PhysicalSizeX": 0.2,
            "PhysicalSizeY": 0.2,
            "PhysicalSizeZ": 1.5,
            "Channel": {"Name": ["DAPI", "GFP"], "Color": [65535, 16711935]},
        },
    )
    return path, data


# --------------------------------------------------------------------------- demo


def test_demo_writes_validates_and_refuses_to_overwrite(tmp_path: Path) -> None:
    result = run_cli("demo", "demo.ome.zarr", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "✓ demo.ome.zarr: valid OME-Zarr 0.5 image (0 errors, 0 warnings)" in out
    assert "channels: DAPI #0000FF · Membrane #00FF00" in out
    assert "axes: c (channel) · z 0.5 micrometer · y 0.2 micrometer · x 0.2 micrometer" in out
    for row in ("s0     2×32×256×256", "s1     2×32×128×128", "s2     2×32×64×64"):
        assert row in out
    assert "labels/nuclei levels" in out and "32×256×256  uint32" in out
    assert "wrote " in out and " s (" in out  # bytes, time and throughput
    attrs = ome_attrs(tmp_path / "demo.ome.zarr")
    assert attrs["version"] == "0.5" and attrs["multiscales"][0]["name"] == "demo"
    assert ome_attrs(tmp_path / "demo.ome.zarr/labels")["labels"] == ["nuclei"]
    assert sorted(os.listdir(tmp_path)) == ["demo.ome.zarr"]

    again = run_cli("demo", "demo.ome.zarr", cwd=tmp_path)
    assert (
        one_error_line(again, "demo")
        == "demo.ome.zarr: already exists; pass --overwrite to replace it"
    )

    replaced = run_cli("demo", "demo.ome.zarr", "--format", "0.4", "--overwrite", cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert "valid OME-Zarr 0.4 image" in replaced.stdout
    assert (tmp_path / "demo.ome.zarr/.zattrs").exists()
    assert not (tmp_path / "demo.ome.zarr/zarr.json").exists()
    assert sorted(os.listdir(tmp_path)) == ["demo.ome.zarr"]


def test_demo_needs_none_of_the_convert_extras(tmp_path: Path) -> None:
    # `pip install .` without [convert]: tifffile, Pillow and rich are absent.
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((32, 32), np.uint8))
    blocked = "import sys\nfor name in ('tifffile', 'PIL', 'rich'): sys.modules[name] = None\n"
    script = blocked + (
        "from omezarr.cli import main\n"
        "print('demo', main(['demo', 'd.zarr']))\n"
        "print('convert', main(['convert', 'a.tif', 'a.zarr']))\n"
    )
    result = run_python("-c", script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "✓ d.zarr: valid OME-Zarr 0.5 image" in result.stdout
    assert result.stdout.splitlines()[-2:] == ["demo 0", "convert 2"]
    assert result.stderr.strip() == (
        "omezarr convert: error: reading TIFF files needs tifffile: pip install 'omezarr[convert]'"
    )


# --------------------------------------------------------------------------- convert


def test_convert_ome_tiff_carries_metadata_and_pixels(
    tmp_path: Path, cells_tiff: tuple[Path, np.ndarray]
) -> None:
    source, data = cells_tiff
    result = run_cli(
        "convert",
        str(source),
        str(tmp_path / "cells.ome.zarr"),
        "--scale-factors",
        "2",
        "--chunks",
        "y=32,x=32",
        "--compressor",
        "zstd:3",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"{source} (OME-TIFF, CZYX 2×5×64×80 uint16) → ")
    assert "channels: DAPI #0000FF · GFP #00FF00" in out
    assert "s0     2×5×64×80  uint16  1×5×32×32" in out and "zstd:3" in out
    assert "✓ " in out and "valid OME-Zarr 0.5 image" in out
    attrs = ome_attrs(tmp_path / "cells.ome.zarr")
    multiscale = attrs["multiscales"][0]
    assert [(a["name"], a.get("unit")) for a in multiscale["axes"]] == [
        ("c", None),
        ("z", "micrometer"),
        ("y", "micrometer"),
        ("x", "micrometer"),
    ]
    scales = [d["coordinateTransformations"][0]["scale"] for d in multiscale["datasets"]]
    assert scales == [[1.0, 1.5, 0.2, 0.2], [1.0, 1.5, 0.4, 0.4]]
    channels = attrs["omero"]["channels"]
    assert [(c["label"], c["color"]) for c in channels] == [("DAPI", "0000FF"), ("GFP", "00FF00")]
    level0 = zarr.open_array(tmp_path / "cells.ome.zarr/s0", mode="r")
    assert level0.chunks == (1, 5, 32, 32)
    np.testing.assert_array_equal(level0[:], data)


def test_convert_overrides_and_overwrite(
    tmp_path: Path, cells_tiff: tuple[Path, np.ndarray]
) -> None:
    source, _ = cells_tiff
    output = tmp_path / "out.zarr"
    assert run_cli("convert", str(source), str(output), "-q").returncode == 0
    result = run_cli(
        "convert",
        str(source),
        str(output),
        "--overwrite",
        "--scale",
        "z=0.5",
        "--units",
        "nm",
        "--scale-factors",
        "none",
        "--shards",
        "auto",
        "--format",
        "0.5",
    )
    assert result.returncode == 0, result.stderr
    multiscale = ome_attrs(output)["multiscales"][0]
    assert len(multiscale["datasets"]) == 1
    assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"] == [
        1.0,
        0.5,
        0.2,
        0.2,
    ]
    assert {a.get("unit") for a in multiscale["axes"][1:]} == {"nanometer"}
    assert zarr.open_array(output / "s0", mode="r").shards is not None
    assert sorted(os.listdir(tmp_path)) == ["out.zarr"]


def test_convert_dry_run_prints_the_plan_and_writes_nothing(
    tmp_path: Path, cells_tiff: tuple[Path, np.ndarray]
) -> None:
    source, _ = cells_tiff
    result = run_cli(
        "convert", str(source), str(tmp_path / "out.zarr"), "--dry-run", "--shards", "1,5,64,80"
    )
    assert result.returncode == 0, result.stderr
    assert "dry run: nothing was written" in result.stdout
    assert "s0     2×5×64×80  uint16  1×5×64×80  1×5×64×80" in result.stdout
    assert "blosc-zstd:1" in result.stdout
    assert os.listdir(tmp_path) == []


def test_convert_tiff_larger_than_the_memory_budget(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    planes = [rng.integers(0, 3000, (512, 512), dtype=np.uint16) for _ in range(48)]  # 24 MiB
    with tifffile.TiffWriter(tmp_path / "stack.tif") as writer:
        for plane in planes:
            writer.write(plane, contiguous=True)
    result = run_cli(
        "convert",
        str(tmp_path / "stack.tif"),
        str(tmp_path / "stack.zarr"),
        "--memory",
        "16M",
        "--axes",
        "zyx",
    )
    assert result.returncode == 0, result.stderr
    stored = zarr.open_array(tmp_path / "stack.zarr/s0", mode="r")
    assert stored.shape == (48, 512, 512)
    for z in (0, 23, 47):
        np.testing.assert_array_equal(stored[z], planes[z])
    assert len(ome_attrs(tmp_path / "stack.zarr")["multiscales"][0]["datasets"]) == 2


def _write_truncated_tiff(path: Path) -> None:
    data = np.random.default_rng(2).integers(0, 1000, (6, 128, 128), dtype=np.uint16)
    tifffile.imwrite(path, data)
    path.write_bytes(path.read_bytes()[: data.nbytes // 2])


@pytest.mark.parametrize(
    ("setup", "options", "expected"),
    [
        (None, ["missing.tif"], "missing.tif: no such file or directory"),
        ("text", ["notes.txt"], "notes.txt: unsupported format"),
        ("truncated", ["broken.tif"], "broken.tif: damaged or truncated TIFF"),
        ("existing", ["good.tif"], "out.zarr: already exists; pass --overwrite"),
        ("good", ["good.tif", "--scale", "z=abc"], "--scale: 'abc' for axis 'z' is not a number"),
        ("good", ["good.tif", "--compressor", "brotli"], "--compressor: unknown compressor"),
        ("good", ["good.tif", "--memory", "1M"], "--memory: at least 16 MiB is needed"),
        ("good", ["good.tif", "--axes", "cyx"], "--scale: axes ['t'] are not among"),
    ],
)
def test_convert_errors_are_one_line_and_leave_nothing(
    tmp_path: Path, setup: str | None, options: list[str], expected: str
) -> None:
    if setup == "text":
        (tmp_path / "notes.txt").write_text("not an image")
    if setup == "truncated":
        _write_truncated_tiff(tmp_path / "broken.tif")
    if setup in ("good", "existing"):
        tifffile.imwrite(
            tmp_path / "good.tif", np.zeros((3, 32, 32), np.uint8), photometric="minisblack"
        )
    if setup == "existing":
        (tmp_path / "out.zarr").mkdir()
        (tmp_path / "out.zarr" / "keep.txt").write_text("mine")
    if options[-2:] == ["--axes", "cyx"]:
        options = [*options, "--scale", "t=2"]
    before = sorted(os.listdir(tmp_path))
    result = run_cli("convert", *options[:1], "out.zarr", *options[1:], cwd=tmp_path)
    assert expected in one_error_line(result, "convert")
    assert sorted(os.listdir(tmp_path)) == before
    if setup == "existing":
        assert (tmp_path / "out.zarr" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--units", "q=nm"], "--units: axes ['q'] are not among the axes 'yx'"),
        (
            ["--axes", "zyx"],
            "--axes: expected 2 distinct letters of 'tczyx' for 2-D input, not 'zyx'",
        ),
        (["--series", "3"], "--series: {input} has series 0 to 0, not 3"),
        (
            ["--format", "0.4", "--shards", "auto"],
            "--shards: shards need OME-NGFF 0.5 (zarr v3); add --format 0.5",
        ),
    ],
)
def test_convert_spells_the_parameters_of_library_errors_as_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: str
) -> None:
    source = tmp_path / "a.tif"
    tifffile.imwrite(source, np.zeros((32, 32), np.uint8))
    code = main(["convert", str(source), str(tmp_path / "out.zarr"), "-q", *options])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == f"omezarr convert: error: {expected.format(input=source)}\n"


def test_every_mapped_parameter_is_an_option_of_convert() -> None:
    import argparse
    import inspect

    from omezarr.cli.flags import FLAGS
    from omezarr.cli.main import _parser
    from omezarr.convert import convert

    commands = next(
        action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)
    )
    options = {
        option
        for action in commands.choices["convert"]._actions
        for option in action.option_strings
    }
    assert set(FLAGS.values()) <= options
    assert set(FLAGS) <= set(inspect.signature(convert).parameters)


def test_warnings_of_the_library_name_options_on_the_command_line() -> None:
    from omezarr.cli.flags import user_message
    from omezarr.convert import ConversionWarning, Parameter

    warning = ConversionWarning("out.zarr: finish it with ", Parameter("resume", True))
    assert str(warning) == "out.zarr: finish it with resume=True"
    assert user_message(warning) == "out.zarr: finish it with --resume"
    assert isinstance(warning, RuntimeWarning) and warning.parameter == "resume"


# --------------------------------------------------------------------------- info


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("info") / "demo.zarr"
    write_demo(path, shape=(2, 4, 64, 64))
    return path


def test_info_prints_the_tree(small_demo: Path) -> None:
    result = run_cli("info", str(small_demo))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f'{small_demo}: OME-Zarr 0.5 image "demo" (zarr v3)'
    assert (
        lines[1] == "├─ axes: c (channel) · z 0.5 micrometer · y 0.2 micrometer · x 0.2 micrometer"
    )
    assert lines[2] == "├─ channels: DAPI #0000FF · Membrane #00FF00"
    assert lines[3].startswith("├─ size: ") and "blosc-zstd:1" in lines[3]
    assert "│    level  shape      dtype   chunks     shards" in result.stdout
    assert "│    s1     2×4×32×32  uint16  1×4×32×32  —" in result.stdout
    assert '   └─ nuclei: OME-Zarr 0.5 label image "nuclei" (zarr v3)' in result.stdout
    assert "statistics" not in result.stdout


def test_info_json_and_stats(small_demo: Path) -> None:
    result = run_cli("info", str(small_demo), "--json", "--stats")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["kind"], info["version"], info["zarr_format"]) == ("image", "0.5", 3)
    assert [level["shape"] for level in info["levels"]] == [
        [2, 4, 64, 64],
        [2, 4, 32, 32],
        [2, 4, 16, 16],
    ]
    level = info["levels"][0]
    assert level["chunks"] == [1, 4, 64, 64] and level["shards"] is None
    assert level["bytes"] == 2 * 4 * 64 * 64 * 2 and 0 < level["stored_bytes"] < level["bytes"]
    assert level["compression_ratio"] == pytest.approx(
        level["bytes"] / level["stored_bytes"], rel=0.01
    )
    coarsest = zarr.open_array(small_demo / "s2", mode="r")[:]
    statistics = info["statistics"]
    assert statistics["level"] == "s2"
    assert [c["label"] for c in statistics["channels"]] == ["DAPI", "Membrane"]
    assert statistics["channels"][1]["max"] == int(coarsest[1].max())
    assert statistics["min"] == int(coarsest.min())
    assert statistics["mean"] == pytest.approx(coarsest.mean(axis=(1, 2, 3)).mean(), rel=1e-3)
    label = info["labels"][0]
    assert label["kind"] == "label" and label["path"] == "labels/nuclei"
    assert label["statistics"]["min"] == 0 and label["statistics"]["max"] >= 1

    text = run_cli("info", str(small_demo), "--stats")
    assert "├─ statistics of s2" in text.stdout
    assert f"DAPI      {int(coarsest[0].min())}" in text.stdout


def test_info_plate(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "plate.zarr", mode="w", zarr_format=2)
    write_plate_metadata(
        root, ["A", "B"], ["1", "2", "3"], ["A/1", "B/3"], field_count=2, name="screen"
    )
    for well in ("A/1", "B/3"):
        group = root.require_group(well)
        write_well_metadata(group, ["0", "1"])
        for field in "01":
            write_image(
                np.zeros((2, 32, 32), np.uint8),
                group.require_group(field),
                axes="cyx",
                scale_factors=[],
            )
    result = run_cli("info", str(tmp_path / "plate.zarr"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f'{tmp_path / "plate.zarr"}: OME-Zarr 0.4 plate "screen" (zarr v2)'
    assert lines[1] == "├─ layout: 2 rows × 3 columns (A-B × 1-3)"
    assert lines[2] == "├─ wells: 2 (A/1, B/3), 2 fields each"
    assert lines[4] == "└─ first field A/1/0: OME-Zarr 0.4 image (zarr v2)"
    info = json.loads(run_cli("info", str(tmp_path / "plate.zarr"), "--json").stdout)
    assert [(w["path"], w["fields"]) for w in info["wells"]] == [("A/1", 2), ("B/3", 2)]
    assert info["first_image"]["levels"][0]["shape"] == [2, 32, 32]


def test_info_errors_are_one_line(tmp_path: Path) -> None:
    missing = run_cli("info", str(tmp_path / "missing.zarr"))
    assert (
        one_error_line(missing, "info") == f"{tmp_path / 'missing.zarr'}: no such file or directory"
    )
    zarr.open_group(tmp_path / "plain.zarr", mode="w")
    assert "no OME-NGFF metadata" in one_error_line(
        run_cli("info", str(tmp_path / "plain.zarr")), "info"
    )


# --------------------------------------------------------------------------- terminals, with and without rich


class _Terminal(io.StringIO):
    """A captured stream that says it is a terminal, as rich and the plain display check."""

    def isatty(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


@pytest.mark.parametrize("rich_installed", [True, False])
def test_terminal_output_with_and_without_rich(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rich_installed: bool
) -> None:
    if not rich_installed:
        monkeypatch.setitem(sys.modules, "rich", None)  # `import rich...` raises ImportError
        for name in [m for m in sys.modules if m.startswith("rich.")]:
            monkeypatch.setitem(sys.modules, name, None)
    stdout, stderr = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setenv("COLUMNS", "120")
    code = main(["demo", str(tmp_path / "demo.zarr")])
    out, err = stdout.getvalue(), stderr.getvalue()
    assert code == 0, err
    assert "✓ " in out and "valid OME-Zarr 0.5 image" in out
    if rich_installed:
        # rich's table (box-drawn header rule) and progress bar (bytes done of total).
        assert "━" in err and "10.5/10.5 MiB" in err
        assert "─────" in out and "2×32×256×256" in out and "\x1b[" in out
    else:
        assert "image: 100%  10.5 MiB of 10.5 MiB" in err
        assert "labels/nuclei: 100%" in err
        assert "  s0     2×32×256×256  uint16" in out
        assert "\x1b[" not in out + err


def test_info_of_wells_labels_groups_and_collections(tmp_path: Path, small_demo: Path) -> None:
    from omezarr.io.storage import write_ngff_attrs
    from omezarr.tools.describe import describe, format_description

    well = zarr.open_group(tmp_path / "well.zarr", mode="w")
    write_well_metadata(well, ["0"])
    write_image(np.ones((16, 16), np.uint8), well.require_group("0"), scale_factors=[])
    info = describe(tmp_path / "well.zarr")
    assert (info["kind"], info["fields"], info["first_image"]["path"]) == ("well", ["0"], "0")
    assert format_description(info).splitlines()[1:3] == [
        "├─ fields: 0",
        "└─ 0: OME-Zarr 0.5 image (zarr v3)",
    ]

    labels = describe(small_demo / "labels")
    assert labels["kind"] == "labels" and [i["path"] for i in labels["labels"]] == ["nuclei"]
    assert format_description(labels, ascii_only=True).splitlines()[1].startswith("`- nuclei: ")

    collection = zarr.open_group(tmp_path / "bf2raw.zarr", mode="w")
    write_ngff_attrs(collection, {"bioformats2raw.layout": 3, "version": "0.5"})
    write_image(np.ones((16, 16), np.uint8), collection.require_group("0"), scale_factors=[])
    info = describe(tmp_path / "bf2raw.zarr")
    assert (info["kind"], info["series"]) == ("bioformats2raw", ["0"])
    assert info["first_image"]["levels"][0]["shape"] == [16, 16]
