"""omezarr upgrade: whole 0.5 hierarchies (images with labels, plates) become valid 0.6 in
place, pixels untouched, unknown attributes kept; an interrupted upgrade never leaves an
unreadable hierarchy and a re-run finishes it."""

from __future__ import annotations

import importlib
import json
import os
import random
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ngff_zarr as nz
import numpy as np
import pytest
import zarr

import _crash_worker as worker
from _cli import run_cli
from _reliability import kill_after
from omezarr import upgrade
from omezarr.format import FormatV04
from omezarr.reader import open_image, open_plate
from omezarr.validate import validate
from omezarr.writer import write_image, write_labels, write_plate_metadata, write_well_metadata


def _documents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("zarr.json"))}


def _versions(root: Path) -> set[str]:
    found = set()
    for document in root.rglob("zarr.json"):
        ome = json.loads(document.read_text())["attributes"].get("ome")
        if ome is not None:
            found.add(ome["version"])
    return found


@pytest.fixture
def image_05(tmp_path: Path, cells_image: Any) -> Path:
    path = tmp_path / "image.ome.zarr"
    pixels = cells_image((2, 8, 64, 64), "uint16", 3)
    write_image(pixels, str(path), axes="czyx", scale={"z": 2.0, "y": 0.5, "x": 0.5},
                scale_factors=[2], name="cells")  # fmt: skip
    write_labels((pixels[:1] > pixels.mean()).astype(np.uint8), str(path), "mask",
                 axes="czyx", scale_factors=[2])  # fmt: skip
    group = zarr.open_group(str(path), mode="r+")
    group.attrs.update({"ome": {**group.attrs["ome"], "lab": {"keep": 1}}, "other": [1, 2]})
    return path


def test_an_image_with_labels_becomes_valid_0_6(image_05: Path) -> None:
    before = open_image(str(image_05))
    report = upgrade(str(image_05), "0.6")
    assert sorted(report.changed) == [".", "labels", "labels/mask"]
    assert _versions(image_05) == {"0.6"}
    result = validate(str(image_05))
    assert result.valid and result.version == "0.6", result.format()
    after = open_image(str(image_05))
    assert after.scales == before.scales and after.dims == before.dims
    np.testing.assert_array_equal(np.asarray(after.levels[1]), np.asarray(before.levels[1]))
    attributes = json.loads((image_05 / "zarr.json").read_text())["attributes"]
    assert attributes["other"] == [1, 2] and attributes["ome"]["lab"] == {"keep": 1}
    # Upgrading again changes nothing.
    documents = _documents(image_05)
    assert upgrade(str(image_05), "0.6").changed == []
    assert _documents(image_05) == documents


def test_a_dry_run_lists_and_writes_nothing(image_05: Path) -> None:
    documents = _documents(image_05)
    result = run_cli("upgrade", str(image_05), "--to", "0.6", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would upgrade 3 groups" in result.stdout and "labels/mask" in result.stdout
    assert _documents(image_05) == documents
    done = run_cli("upgrade", str(image_05), "--to", "0.6")
    assert done.returncode == 0 and "upgraded 3 groups" in done.stdout
    assert run_cli("validate", str(image_05)).returncode == 0


def test_the_reference_writers_0_5_image_upgrades_and_ngff_zarr_reads_it(
    tmp_path: Path, cells_image: Any
) -> None:
    from ome_zarr.format import FormatV05 as TheirV05
    from ome_zarr.writer import write_image as their_write_image
    from ome_zarr.writer import write_labels as their_write_labels

    pixels = cells_image((4, 96, 96), "uint8", 5)
    path = tmp_path / "theirs.ome.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Their defaults: four downsamplings for the image and its labels alike.
        their_write_image(pixels, group, axes="zyx", fmt=TheirV05())
        their_write_labels(
            (pixels > 100).astype(np.uint8), group, "cells", axes="zyx", fmt=TheirV05()
        )
    assert validate(str(path)).valid  # valid 0.5 before
    upgrade(str(path), "0.6")
    assert validate(str(path)).valid, validate(str(path)).format()
    theirs = nz.from_ngff_zarr(str(path), validate=True)
    np.testing.assert_array_equal(np.asarray(theirs.images[0].data), pixels)


def test_ngff_zarrs_0_5_image_upgrades(tmp_path: Path, cells_image: Any) -> None:
    pixels = cells_image((8, 64, 64), "uint16", 9)
    image = nz.to_ngff_image(pixels, dims=["z", "y", "x"], scale={"z": 3.0, "y": 1.0, "x": 1.0})
    path = tmp_path / "nz.ome.zarr"
    nz.to_ngff_zarr(str(path), nz.to_multiscales(image, scale_factors=[2]), version="0.5")
    upgrade(str(path), "0.6")
    assert validate(str(path)).valid, validate(str(path)).format()
    read = open_image(str(path))
    assert read.version == "0.6" and read.scales[0] == (3.0, 1.0, 1.0)
    np.testing.assert_array_equal(np.asarray(read.levels[0]), pixels)


def _plate(path: Path, wells: list[str]) -> None:
    root = zarr.open_group(path, mode="w", zarr_format=3)
    rows = sorted({w.split("/")[0] for w in wells})
    columns = sorted({w.split("/")[1] for w in wells}, key=int)
    write_plate_metadata(root, rows, columns, wells)
    for index, well in enumerate(wells):
        group = root.require_group(well)
        write_well_metadata(group, [{"path": "0"}])
        write_image(np.full((16, 16), index, np.uint8), group.require_group("0"), axes="yx",
                    scale_factors=[2])  # fmt: skip


def test_a_plate_with_its_wells_and_fields_becomes_valid_0_6(tmp_path: Path) -> None:
    path = tmp_path / "plate.ome.zarr"
    _plate(path, ["A/1", "A/2", "B/1"])
    report = upgrade(str(path), "0.6")
    assert len(report.changed) == 1 + 3 + 3  # the plate, the wells, their fields
    assert (
        "version" not in json.loads((path / "zarr.json").read_text())["attributes"]["ome"]["plate"]
    )
    assert validate(str(path)).valid, validate(str(path)).format()
    plate = open_plate(str(path))
    assert int(np.asarray(plate.well("B/1").image(0).levels[0]).max()) == 2


def test_a_multiscale_wide_transformation_is_folded_into_each_level(image_05: Path) -> None:
    group = zarr.open_group(str(image_05), mode="r+")
    ome = dict(group.attrs["ome"])
    multiscale = dict(ome["multiscales"][0])
    multiscale["coordinateTransformations"] = [{"type": "scale", "scale": [1, 1, 10, 10]}]
    ome["multiscales"] = [multiscale]
    group.attrs["ome"] = ome
    before = open_image(str(image_05)).scales
    upgrade(str(image_05), "0.6")
    assert open_image(str(image_05)).scales == before  # the same geometry, now per level
    assert before[0] == (1.0, 2.0, 5.0, 5.0)
    assert validate(str(image_05)).valid


@pytest.fixture
def image_04(tmp_path: Path, cells_image: Any) -> Path:
    path = tmp_path / "old.ome.zarr"
    pixels = cells_image((3, 64, 64), "uint16", 4)
    write_image(pixels, str(path), axes="zyx", fmt=FormatV04(), scale={"y": 0.25, "x": 0.25},
                scale_factors=[2], storage_options={"chunks": (1, 32, 32)})  # fmt: skip
    write_labels((pixels > pixels.mean()).astype(np.uint8), str(path), "mask", axes="zyx",
                 fmt=FormatV04(), scale_factors=[2])  # fmt: skip
    return path


def _chunks(root: Path) -> dict[str, bytes]:
    """Every chunk file (not a metadata document) and its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs", ".zgroup")
    }


@pytest.mark.parametrize("to", ["0.5", "0.6"])
def test_a_0_4_image_becomes_zarr_v3_without_rewriting_a_chunk(image_04: Path, to: str) -> None:
    before = open_image(str(image_04))
    chunks = _chunks(image_04)
    report = upgrade(str(image_04), to)
    assert report.arrays == 4 and sorted(report.changed) == [".", "labels", "labels/mask"]
    assert _chunks(image_04) == chunks  # the chunks stay, byte for byte
    assert not list(image_04.rglob(".z*"))  # no zarr v2 document left
    assert _versions(image_04) == {to}
    assert validate(str(image_04)).valid, validate(str(image_04)).format()
    after = open_image(str(image_04))
    assert after.version == to and after.scales == before.scales
    np.testing.assert_array_equal(np.asarray(after.levels[1]), np.asarray(before.levels[1]))
    level = zarr.open_array(str(image_04 / "s0"), mode="r")
    assert level.metadata.dimension_names == ("z", "y", "x")
    assert level.attrs["omezarr"] == {"every_chunk_stored": True}  # array attributes kept


def test_the_reference_writers_0_4_plate_upgrades_to_0_6(tmp_path: Path) -> None:
    from ome_zarr.format import FormatV04 as TheirV04
    from ome_zarr.writer import write_image as their_write_image
    from ome_zarr.writer import write_plate_metadata as their_plate
    from ome_zarr.writer import write_well_metadata as their_well

    path = tmp_path / "plate.ome.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their_plate(root, ["A"], ["1", "2"], ["A/1", "A/2"], fmt=TheirV04())
        for index, well in enumerate(["A/1", "A/2"]):
            group = root.require_group(well)
            their_well(group, [{"path": "0"}], fmt=TheirV04())
            their_write_image(np.full((32, 32), index + 5, np.uint8), group.require_group("0"),
                              axes="yx", fmt=TheirV04())  # fmt: skip
    assert validate(str(path)).valid
    upgrade(str(path), "0.6")
    assert validate(str(path)).valid, validate(str(path)).format()
    field_image = nz.from_ngff_zarr(str(path / "A" / "2" / "0"), validate=True)
    assert int(np.asarray(field_image.images[0].data).max()) == 6


def test_an_upgrade_from_0_4_stopped_at_any_rename_keeps_one_readable_hierarchy(
    image_04: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the top group's rename a zarr v2 reader sees the old hierarchy unchanged; a
    re-run finishes."""
    module = importlib.import_module("omezarr.write.upgrade")
    old = json.loads((image_04 / "labels" / "mask" / ".zattrs").read_text())
    nodes = 7  # three groups, four arrays
    for limit in range(nodes):
        copy = tmp_path / f"stopped-{limit}.zarr"
        shutil.copytree(image_04, copy)
        monkeypatch.setattr(module.os, "replace", _interrupted_renames(limit))
        with pytest.raises(KeyboardInterrupt):
            upgrade(str(copy), "0.6")
        monkeypatch.undo()
        assert not (copy / "zarr.json").exists()  # the top group is renamed last
        label = zarr.open_group(str(copy / "labels" / "mask"), mode="r", zarr_format=2)
        assert label.attrs.asdict() == old
        np.asarray(open_image(str(copy)).levels[0])
        upgrade(str(copy), "0.6")
        assert _versions(copy) == {"0.6"} and validate(str(copy)).valid
        assert not list(copy.rglob(".z*")) and not list(copy.rglob("*.partial"))


def test_an_unknown_target_version_is_refused(image_05: Path) -> None:
    with pytest.raises(ValueError, match="to: expected one of"):
        upgrade(str(image_05), "0.7")


# --------------------------------------------------------------------------- interruption


def _interrupted_renames(limit: int) -> Iterator[None]:
    """os.replace that stops (as a kill would) after ``limit`` renames."""
    real = os.replace
    done = [0]

    def replace(source: Any, target: Any) -> None:
        if done[0] >= limit:
            raise KeyboardInterrupt
        done[0] += 1
        real(source, target)

    return replace  # type: ignore[return-value]


def _assert_readable_and_finishable(path: Path) -> None:
    """Every node whole and of one version or the other; a re-run finishes the upgrade."""
    for document in path.rglob("zarr.json"):
        json.loads(document.read_text())  # never truncated
    assert _versions(path) <= {"0.5", "0.6"}
    image = open_image(str(path))
    np.asarray(image.labels()["mask"].levels[0])
    upgrade(str(path), "0.6")
    assert _versions(path) == {"0.6"}
    assert validate(str(path)).valid
    assert not list(path.rglob("*.partial"))


def test_an_upgrade_stopped_at_any_rename_is_readable_and_finished_by_a_rerun(
    image_05: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("omezarr.write.upgrade")  # the package binds the function

    for limit in range(4):  # three groups: before, between and after their renames
        copy = tmp_path / f"stopped-{limit}.zarr"
        shutil.copytree(image_05, copy)
        monkeypatch.setattr(module.os, "replace", _interrupted_renames(limit))
        if limit < 3:
            with pytest.raises(KeyboardInterrupt):
                upgrade(str(copy), "0.6")
            assert (_versions(copy) == {"0.5"}) == (limit == 0)
            # The top group declares 0.6 only when every group does.
            top = json.loads((copy / "zarr.json").read_text())["attributes"]["ome"]
            assert top["version"] == "0.5"
        else:
            upgrade(str(copy), "0.6")
        monkeypatch.undo()
        _assert_readable_and_finishable(copy)


def _upgrade_in_child(path: str) -> None:
    upgrade(path, "0.6")


@pytest.mark.slow
def test_an_upgrade_killed_at_random_moments_is_readable_and_finished_by_a_rerun(
    tmp_path: Path,
) -> None:
    """SIGKILL, seeded random delays over the duration of a 96-well plate's upgrade."""
    context = worker.forkserver_context()
    base = tmp_path / "plate.ome.zarr"
    wells = [f"{r}/{c}" for r in "ABCDEFGH" for c in range(1, 13)]
    _plate(base, wells)
    rng = random.Random(20261207)
    states = []
    for trial in range(12):
        copy = tmp_path / f"killed-{trial}.zarr"
        shutil.copytree(base, copy)
        process = context.Process(target=upgrade, args=(str(copy), "0.6"))
        process.start()
        kill_after(process, rng.uniform(0.0, 0.6))
        versions = _versions(copy)
        states.append("/".join(sorted(versions)))
        for document in copy.rglob("zarr.json"):
            json.loads(document.read_text())
        plate = open_plate(str(copy))
        assert int(np.asarray(plate.well("H/12").image(0).levels[0]).max()) == 95
        upgrade(str(copy), "0.6")
        assert _versions(copy) == {"0.6"} and validate(str(copy)).valid
    print(f"killed upgrades, versions found: {states}")


# ------------------------------------------------------------- chunks that must change


@pytest.fixture
def image_04_lz4(tmp_path: Path, cells_image: Any) -> Path:
    """A 0.4 image whose chunks are LZ4 and Delta encoded: zarr migrates them to
    numcodecs.lz4 / numcodecs.delta codecs, which the zarr v3 specification does not define."""
    import numcodecs

    path = tmp_path / "lz4.ome.zarr"
    pixels = cells_image((3, 64, 64), "uint16", 4)
    write_image(pixels, str(path), axes="zyx", fmt=FormatV04(), scale_factors=[2],
                storage_options={"chunks": (1, 32, 32), "compressor": numcodecs.LZ4()})  # fmt: skip
    write_labels((pixels > pixels.mean()).astype(np.uint8), str(path), "mask", axes="zyx",
                 fmt=FormatV04(), scale_factors=[2],
                 storage_options={"compressor": numcodecs.Zstd()})  # fmt: skip
    return path


def _codec_names(array: Path) -> list[str]:
    return [c["name"] for c in json.loads((array / "zarr.json").read_text())["codecs"]]


@pytest.mark.parametrize("to", ["0.5", "0.6"])
def test_chunks_whose_codecs_zarr_v3_does_not_specify_are_re_encoded(
    image_04_lz4: Path, to: str
) -> None:
    before = open_image(str(image_04_lz4))
    pixels = [np.asarray(level) for level in before.levels]
    label_chunks = _chunks(image_04_lz4 / "labels")
    assert upgrade(str(image_04_lz4), to, dry_run=True).recoded == ["s0", "s1"]
    report = upgrade(str(image_04_lz4), to)
    assert report.recoded == ["s0", "s1"] and "re-encoded the chunks of 2 arrays" in report.format()
    for level in ("s0", "s1"):
        assert _codec_names(image_04_lz4 / level) == ["bytes", "blosc"]
        assert sorted(p.name for p in (image_04_lz4 / level).iterdir()) == ["c", "zarr.json"]
    assert _codec_names(image_04_lz4 / "labels" / "mask" / "s0") == ["bytes", "zstd"]
    assert _chunks(image_04_lz4 / "labels") == label_chunks  # Zstd is specified: untouched
    after = open_image(str(image_04_lz4))
    for level, expected in zip(after.levels, pixels, strict=True):
        np.testing.assert_array_equal(np.asarray(level), expected)
    assert validate(str(image_04_lz4)).valid
    verified = run_cli("verify", str(image_04_lz4))  # every chunk still stored, all decode
    assert verified.returncode == 0, verified.stdout + verified.stderr
    read = nz.from_ngff_zarr(str(image_04_lz4), validate=True)
    np.testing.assert_array_equal(np.asarray(read.images[0].data), pixels[0])


def test_a_re_encoding_upgrade_stopped_anywhere_is_readable_and_finished_by_a_rerun(
    image_04_lz4: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while chunks are copied (hidden staging directories left) or at any rename:
    until the top group's rename a zarr v2 reader reads the old pixels; a re-run finishes,
    leaving no staging directory and no old chunk."""
    module = importlib.import_module("omezarr.write.upgrade")
    pixels = np.asarray(open_image(str(image_04_lz4)).levels[0])
    real_recode = module._recode_chunks

    def recode_then_stop(directory: Path, document: Any) -> Path:
        real_recode(directory, document)
        raise KeyboardInterrupt

    renames = 2 + 7  # two chunk directories moved, then three groups and four arrays
    for limit in range(-1, renames):
        copy = tmp_path / f"stopped-{limit}.zarr"
        shutil.copytree(image_04_lz4, copy)
        if limit < 0:
            monkeypatch.setattr(module, "_recode_chunks", recode_then_stop)
        else:
            monkeypatch.setattr(module.os, "replace", _interrupted_upgrade_renames(limit))
        with pytest.raises(KeyboardInterrupt):
            upgrade(str(copy), "0.6")
        monkeypatch.undo()
        assert not (copy / "zarr.json").exists()
        old = zarr.open_array(str(copy / "s0"), mode="r", zarr_format=2)
        np.testing.assert_array_equal(old[...], pixels)
        upgrade(str(copy), "0.6")
        assert _versions(copy) == {"0.6"} and validate(str(copy)).valid
        np.testing.assert_array_equal(np.asarray(open_image(str(copy)).levels[0]), pixels)
        assert not list(copy.rglob(".upgrade-*")) and not list(copy.rglob(".z*"))
        assert sorted(p.name for p in (copy / "s0").iterdir()) == ["c", "zarr.json"]


def _interrupted_upgrade_renames(limit: int) -> Any:
    """os.replace that stops after ``limit`` of the upgrade's own renames (documents and chunk
    directories); zarr's renames of the chunk files it writes go through."""
    real = os.replace
    done = [0]

    def replace(source: Any, target: Any) -> None:
        if Path(target).name in ("zarr.json", "c"):
            if done[0] >= limit:
                raise KeyboardInterrupt
            done[0] += 1
        real(source, target)

    return replace
