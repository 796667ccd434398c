"""Conversion of every series of a file (a bioformats2raw collection) and the omero metadata
every converted image gets: channel names and colours (the file's, or defaults) and windows
from the data."""

from __future__ import annotations

import importlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from _cli import run_cli
from omezarr.convert import convert
from omezarr.read import open_bioformats2raw, open_image
from omezarr.validate import validate


def _two_series(path: Path, cells_image: Callable[..., np.ndarray]) -> list[np.ndarray]:
    """A multi-series OME-TIFF as instruments write them: two images of other shapes."""
    first = cells_image((2, 300, 400), "uint16", 1)
    second = cells_image((3, 128, 160), "uint16", 2)
    with tifffile.TiffWriter(path, ome=True) as tiff:
        tiff.write(
            first,
            metadata={
                "axes": "CYX",
                "Name": "overview",
                "PhysicalSizeX": 0.5,
                "PhysicalSizeY": 0.5,
                "Channel": {"Name": ["DNA", "GFP"]},
            },
        )
        tiff.write(second, metadata={"axes": "CYX", "Name": "detail", "PhysicalSizeX": 0.1})
    return [first, second]


def _attrs(path: Path) -> dict:
    document = json.loads(path.read_text())  # zarr.json (v3, under "ome") or .zattrs (v2)
    attributes = document.get("attributes", document)
    return attributes.get("ome", attributes)


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_every_series_becomes_a_bioformats2raw_collection(
    tmp_path: Path, cells_image: Callable[..., np.ndarray], version: str
) -> None:
    source = tmp_path / "two.ome.tif"
    pixels = _two_series(source, cells_image)
    output = tmp_path / "two.ome.zarr"
    result = convert(str(source), str(output), fmt=version)
    assert result.info["kind"] == "bioformats2raw"
    assert [image["name"] for image in result.info["images"]] == ["overview", "detail"]
    collection = open_bioformats2raw(str(output))
    assert collection.series == ["0", "1"]
    for index, expected in enumerate(pixels):
        np.testing.assert_array_equal(np.asarray(collection.image(index).levels[0]), expected)
    assert collection.image(0).scales[0][-1] == 0.5
    assert collection.image(1).scales[0][-1] == pytest.approx(0.1)
    with tifffile.TiffFile(source) as tiff:  # the file's OME-XML, kept as bioformats2raw does
        assert (output / "OME" / "METADATA.ome.xml").read_text() == tiff.ome_metadata
    assert validate(output, strict=True).valid
    # An independent reader of the layout finds both series as images.
    models = importlib.import_module(f"ome_zarr_models.v0{version[-1]}.bioformats2raw")
    model = models.BioFormats2Raw.from_zarr(zarr.open_group(output, mode="r"))
    assert sorted(model.images) == ["0", "1"]


def test_one_series_is_still_chosen_and_a_single_series_file_is_one_image(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    source = tmp_path / "two.ome.tif"
    pixels = _two_series(source, cells_image)
    chosen = tmp_path / "detail.ome.zarr"
    convert(str(source), str(chosen), series=1)
    np.testing.assert_array_equal(np.asarray(open_image(chosen).levels[0]), pixels[1])
    assert not (chosen / "OME").exists()  # the file's OME-XML describes another series first
    single = tmp_path / "single.tif"
    tifffile.imwrite(single, pixels[0])
    assert convert(str(single), str(tmp_path / "single.ome.zarr")).info["kind"] == "image"


def test_a_collection_is_written_into_one_archive_and_by_the_cli(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    source = tmp_path / "two.ome.tif"
    pixels = _two_series(source, cells_image)
    archive = tmp_path / "two.ozx"
    done = run_cli("convert", str(source), str(archive))
    assert done.returncode == 0, done.stderr
    assert "2 series" in done.stdout and "series 1: detail" in done.stdout
    assert validate(archive).valid
    collection = open_bioformats2raw(str(archive))
    np.testing.assert_array_equal(np.asarray(collection.image(1).levels[0]), pixels[1])
    with zarr.storage.ZipStore(archive, mode="r") as store:
        assert zarr.open_group(store, mode="r").attrs["ome"]["bioformats2raw.layout"] == 3


def test_channels_get_default_colours_and_windows_from_the_data(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    pixels = cells_image((2, 256, 256), "uint16", 3)
    pixels[:, 10, 10] = 65535  # a hot pixel: the window must not stretch to it
    source = tmp_path / "named.ome.tif"
    tifffile.imwrite(
        source, pixels, ome=True, metadata={"axes": "CYX", "Channel": {"Name": ["a", "b"]}}
    )
    output = tmp_path / "named.ome.zarr"
    convert(str(source), str(output), fmt="0.4")  # 0.4 requires colours and windows
    assert validate(output, strict=True).valid
    channels = _attrs(output / ".zattrs")["omero"]["channels"]
    assert [c["color"] for c in channels] == ["FF0000", "00FF00"]
    coarsest = np.asarray(open_image(output).levels[-1])
    for index, channel in enumerate(channels):
        window = channel["window"]
        assert window["min"] == coarsest[index].min() and window["max"] == coarsest[index].max()
        low, high = np.percentile(coarsest[index], [0.1, 99.9])
        assert window["start"] == pytest.approx(low) and window["end"] == pytest.approx(high)
        assert window["end"] < window["max"]
    plain = tmp_path / "plain.npy"
    np.save(plain, pixels[0])
    convert(str(plain), str(tmp_path / "plain.ome.zarr"))
    (channel,) = _attrs(tmp_path / "plain.ome.zarr" / "zarr.json")["omero"]["channels"]
    assert channel["label"] == "Channel 0" and channel["color"] == "FFFFFF"
    assert channel["window"]["start"] < channel["window"]["end"]


def test_a_collection_converts_to_a_collection_or_one_of_its_series(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    source = tmp_path / "two.ome.tif"
    pixels = _two_series(source, cells_image)
    collection = tmp_path / "two.ome.zarr"
    convert(str(source), str(collection))
    again = tmp_path / "again.ozx"  # an OME-Zarr collection in, a collection out (archived)
    result = convert(str(collection), str(again))
    assert result.info["kind"] == "bioformats2raw" and len(result.info["images"]) == 2
    converted = open_bioformats2raw(str(again))
    np.testing.assert_array_equal(np.asarray(converted.image(1).levels[0]), pixels[1])
    with zipfile.ZipFile(again) as archive:  # the OME-XML came along
        kept = archive.read("OME/METADATA.ome.xml").decode()
    assert kept == (collection / "OME" / "METADATA.ome.xml").read_text()
    one = tmp_path / "one.ome.zarr"
    assert convert(str(collection), str(one), series=1).info["kind"] == "image"
    np.testing.assert_array_equal(np.asarray(open_image(one).levels[0]), pixels[1])


def test_the_files_own_metadata_is_kept(tmp_path: Path) -> None:
    pixels = np.arange(3 * 32 * 32, dtype=np.uint16).reshape(3, 32, 32)
    imagej = tmp_path / "stack.tif"
    info = "acquired on scope 7"
    tifffile.imwrite(imagej, pixels, imagej=True, metadata={"axes": "ZYX", "Info": info})
    convert(str(imagej), str(tmp_path / "stack.ome.zarr"))
    metadata = _attrs(tmp_path / "stack.ome.zarr" / "zarr.json")["multiscales"][0]["metadata"]
    assert metadata["original_metadata"]["imagej"]["Info"] == info
    ome = tmp_path / "one.ome.tif"
    tifffile.imwrite(ome, pixels, ome=True, metadata={"axes": "ZYX", "Name": "stack"})
    for output in (tmp_path / "one.ome.zarr", tmp_path / "one.ozx"):
        convert(str(ome), str(output))
        assert validate(output).valid
    with tifffile.TiffFile(ome) as tiff:
        xml = tiff.ome_metadata
    assert (tmp_path / "one.ome.zarr" / "OME" / "METADATA.ome.xml").read_text() == xml
    with zipfile.ZipFile(tmp_path / "one.ozx") as archive:
        assert archive.read("OME/METADATA.ome.xml").decode() == xml


def test_original_metadata_too_large_for_the_document_goes_to_a_file(tmp_path: Path) -> None:
    pixels = np.zeros((32, 32), np.uint16)
    source = tmp_path / "wordy.tif"
    tifffile.imwrite(source, pixels, description="x" * 100_000)  # a long ImageDescription
    output = tmp_path / "wordy.ome.zarr"
    convert(str(source), str(output))
    metadata = _attrs(output / "zarr.json")["multiscales"][0]["metadata"]
    assert metadata["original_metadata"] == "OME/original_metadata.json"
    kept = json.loads((output / "OME" / "original_metadata.json").read_text())
    assert kept["ImageDescription"] == "x" * 100_000


def test_a_dry_run_of_several_series_says_so(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    source = tmp_path / "two.ome.tif"
    _two_series(source, cells_image)
    planned = run_cli("convert", str(source), str(tmp_path / "plan.ome.zarr"), "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "2 series, as a bioformats2raw collection" in planned.stdout
    assert not (tmp_path / "plan.ome.zarr").exists()
