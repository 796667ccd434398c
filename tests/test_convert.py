"""omezarr.convert and omezarr.tools.sample: inputs opened lazily, metadata carried, outputs staged."""

from __future__ import annotations

import json
import os
import pickle
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image as PILImage

from omezarr.convert import (
    ConversionError,
    InvalidParameterError,
    auto_scale_factors,
    check_output,
    convert,
    normalize_unit,
    open_input,
    parse_axis_values,
    parse_compressor,
    parse_scale_factors,
    parse_shape_option,
    parse_units,
    staged_output,
    write_demo,
)
from omezarr.reader import open_image
from omezarr.tools.sample import sample_image
from omezarr.validate import validate
from omezarr.writer import write_image, write_multiscale


def ome_attrs(path: Path) -> dict[str, Any]:
    attrs = zarr.open_group(path, mode="r").attrs.asdict()
    return dict(attrs.get("ome", attrs))


def write_ome_tiff(path: Path, data: np.ndarray, **metadata: Any) -> None:
    tifffile.imwrite(path, data, ome=True, metadata=metadata)


# --------------------------------------------------------------------------- sample


def test_sample_image_is_deterministic_and_shaped() -> None:
    image, labels, names, colors = sample_image((2, 8, 64, 64), seed=3)
    again, labels_again, _, _ = sample_image((2, 8, 64, 64), seed=3)
    other, _, _, _ = sample_image((2, 8, 64, 64), seed=4)
    assert image.shape == (2, 8, 64, 64) and image.dtype == np.uint16
    assert labels.shape == (8, 64, 64) and labels.dtype.kind == "u"
    np.testing.assert_array_equal(image, again)
    np.testing.assert_array_equal(labels, labels_again)
    assert not np.array_equal(image, other)
    assert names == ["DAPI", "Membrane"] and len(colors) == 2
    assert all(len(c) == 6 and int(c, 16) >= 0 for c in colors)


def test_sample_nuclei_are_labelled_and_brighter_than_background() -> None:
    image, labels, _, _ = sample_image()
    values = np.unique(labels)
    assert values[0] == 0 and len(values) > 5
    np.testing.assert_array_equal(values, np.arange(len(values)))  # 1..N, no gaps
    nuclei, background = image[0][labels > 0], image[0][labels == 0]
    assert nuclei.mean() > 3 * background.mean()
    # The camera offset and noise: no pixel is exactly zero, the background is not flat.
    assert image.min() > 0 and background.std() > 1


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_sample_fits_other_dtypes(dtype: type) -> None:
    image, labels, names, _ = sample_image((4, 32, 32), dtype=dtype)
    assert image.shape == (4, 32, 32) and labels.shape == (32, 32)
    assert image.dtype == np.dtype(dtype)
    assert names == ["DAPI", "Membrane", "Cytoplasm", "Spots"]
    if np.dtype(dtype).kind == "f":
        assert 0 < image.max() <= 1.5
    else:
        assert image.max() < np.iinfo(dtype).max


@pytest.mark.parametrize(
    ("shape", "dtype", "error"),
    [
        ((64, 64), np.uint16, ValueError),
        ((1, 2, 8, 8), np.uint16, ValueError),
        ((1, 32, 32), np.complex64, TypeError),
        ((1, 32.0, 32), np.uint16, TypeError),
    ],
)
def test_sample_rejects_bad_arguments(shape: Any, dtype: Any, error: type) -> None:
    with pytest.raises(error, match=r"^(shape|dtype): "):
        sample_image(shape, dtype=dtype)


# --------------------------------------------------------------------------- option parsing


def test_option_parsers() -> None:
    assert parse_axis_values("z=0.5, y=0.1,x=0.1") == {"z": 0.5, "y": 0.1, "x": 0.1}
    assert parse_units("µm") == "micrometer"
    assert parse_units("x=nm,y=nm,t=ms") == {"x": "nanometer", "y": "nanometer", "t": "millisecond"}
    assert parse_scale_factors("auto") == "auto"
    assert parse_scale_factors("none") == []
    assert parse_scale_factors("2,4,8") == [2, 4, 8]
    assert parse_scale_factors("z=1,y=2,x=2;z=2,y=4,x=4") == [
        {"z": 1, "y": 2, "x": 2},
        {"z": 2, "y": 4, "x": 4},
    ]
    assert parse_shape_option("1,64,256,256", "--chunks") == (1, 64, 256, 256)
    assert parse_shape_option("y=512,x=512", "--chunks") == {"y": 512, "x": 512}
    assert parse_shape_option("AUTO", "--shards") == "auto"


def test_compressor_parser() -> None:
    import numcodecs

    blosc = parse_compressor("blosc-zstd:1")
    assert isinstance(blosc, numcodecs.Blosc)
    assert (blosc.cname, blosc.clevel, blosc.shuffle) == ("zstd", 1, numcodecs.Blosc.SHUFFLE)
    assert blosc.blocksize == 512 * 1024  # the same as omezarr's default codec
    assert parse_compressor("blosc-lz4:5:bitshuffle").shuffle == numcodecs.Blosc.BITSHUFFLE
    assert parse_compressor("zstd:3") == numcodecs.Zstd(level=3)
    assert parse_compressor("gzip") == numcodecs.GZip(level=6)
    assert isinstance(parse_compressor("lz4"), numcodecs.LZ4)
    assert parse_compressor("none") is None
    assert parse_compressor("default") == "default"


@pytest.mark.parametrize(
    ("parse", "text", "option"),
    [
        (parse_axis_values, "z=0", "--scale"),
        (parse_axis_values, "z=abc", "--scale"),
        (parse_axis_values, "z0.5", "--scale"),
        (parse_axis_values, "z=1,z=2", "--scale"),
        (parse_units, "furlong", "--units"),
        (parse_units, "t=meter", "--units"),
        (parse_scale_factors, "2,0", "--scale-factors"),
        (parse_scale_factors, "2,x", "--scale-factors"),
        (lambda t: parse_shape_option(t, "--chunks"), "1,-2", "--chunks"),
        (parse_compressor, "brotli", "--compressor"),
        (parse_compressor, "zstd:99", "--compressor"),
        (parse_compressor, "blosc-nope", "--compressor"),
        (parse_compressor, "blosc-lz4:5:sideways", "--compressor"),
    ],
)
def test_option_parsers_name_the_option(parse: Any, text: str, option: str) -> None:
    with pytest.raises(ValueError, match=f"^{option}: "):
        parse(text)


def test_units_and_auto_factors() -> None:
    assert normalize_unit("um") == normalize_unit("micron") == "micrometer"
    assert normalize_unit("Å") == "angstrom"
    assert normalize_unit("s", "time") == "second"
    with pytest.raises(ValueError, match="not an NGFF time unit"):
        normalize_unit("m", "time")
    assert auto_scale_factors((3, 2048, 1000), "cyx") == [2, 4, 8]
    assert auto_scale_factors((5, 256, 256), "zyx") == []
    assert auto_scale_factors((5, 257, 20), "zyx") == [2]


# --------------------------------------------------------------------------- inputs


def test_ome_tiff_metadata_becomes_ngff(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 4000, (3, 2, 6, 40, 48), dtype=np.uint16)
    source = tmp_path / "cells.ome.tif"
    write_ome_tiff(
        source,
        data,
        axes="TCZYX",
        PhysicalSizeX=0.25,
        PhysicalSizeY=0.25,
        PhysicalSizeZ=2.0,
        PhysicalSizeZUnit="nm",
        TimeIncrement=30.0,
        TimeIncrementUnit="s",
        Channel={"Name": ["DAPI", "GFP"], "Color": [65535, -16776961]},
        Name="cells",
    )
    result = convert(source, tmp_path / "cells.ome.zarr", scale_factors=[2])
    attrs = ome_attrs(tmp_path / "cells.ome.zarr")
    multiscale = attrs["multiscales"][0]
    assert [a["name"] for a in multiscale["axes"]] == list("tczyx")
    units = {a["name"]: a.get("unit") for a in multiscale["axes"]}
    assert units == {
        "t": "second",
        "c": None,
        "z": "nanometer",
        "y": "micrometer",
        "x": "micrometer",
    }
    scales = [d["coordinateTransformations"][0]["scale"] for d in multiscale["datasets"]]
    assert scales == [[30.0, 1.0, 2.0, 0.25, 0.25], [30.0, 1.0, 2.0, 0.5, 0.5]]
    assert multiscale["name"] == "cells"
    channels = attrs["omero"]["channels"]
    assert [c["label"] for c in channels] == ["DAPI", "GFP"]
    # OME colours are signed RGBA integers: 65535 is 0x0000FFFF (blue), -16776961 0xFF0000FF.
    assert [c["color"] for c in channels] == ["0000FF", "FF0000"]
    windows = [c["window"] for c in channels]
    level = np.asarray(open_image(tmp_path / "cells.ome.zarr").levels[-1])
    assert windows[0]["min"] == level[:, 0].min() and windows[1]["max"] == level[:, 1].max()
    np.testing.assert_array_equal(np.asarray(zarr.open_array(tmp_path / "cells.ome.zarr/s0")), data)
    assert result.source is not None and result.source.kind == "OME-TIFF"
    assert validate(tmp_path / "cells.ome.zarr", strict=True).valid


def test_imagej_hyperstack_pixel_sizes(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 2 * 16 * 16, dtype=np.uint16).reshape(2, 3, 2, 16, 16)
    source = tmp_path / "stack.tif"
    tifffile.imwrite(
        source,
        data,
        imagej=True,
        resolution=(1 / 0.4, 1 / 0.4),
        metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "um", "finterval": 5.0},
    )
    convert(source, tmp_path / "out.zarr", scale_factors=[])
    multiscale = ome_attrs(tmp_path / "out.zarr")["multiscales"][0]
    assert [a["name"] for a in multiscale["axes"]] == list("tczyx")
    assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"] == pytest.approx(
        [5.0, 1.0, 1.5, 0.4, 0.4]
    )
    # ImageJ orders z before c: the pixels are transposed to NGFF's t, c, z.
    np.testing.assert_array_equal(
        np.asarray(zarr.open_array(tmp_path / "out.zarr/s0")), data.transpose(0, 2, 1, 3, 4)
    )


def test_rgb_tiff_becomes_channels(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    with open_input(tmp_path / "rgb.tif") as image:
        assert (image.source_axes, image.axes, image.data.shape) == ("YXS", "cyx", (3, 30, 40))
        np.testing.assert_array_equal(
            image.data[(slice(1, 3), slice(5, 9), slice(0, 40))],
            rgb[5:9, :, 1:3].transpose(2, 0, 1),
        )


def test_plain_multipage_tiff_axes_are_guessed_with_a_note(tmp_path: Path) -> None:
    with tifffile.TiffWriter(tmp_path / "pages.tif") as writer:
        for z in range(4):
            writer.write(np.full((16, 16), z, np.uint8), metadata=None)
    with open_input(tmp_path / "pages.tif") as image:
        assert image.axes == "zyx" and image.data.shape == (4, 16, 16)
        assert any("taken as 'z'" in note for note in image.notes)
        assert image.data[(slice(2, 4), slice(0, 1), slice(0, 1))].ravel().tolist() == [2, 3]
    with open_input(tmp_path / "pages.tif", axes="tyx") as image:
        assert image.axes == "tyx" and not image.notes


def test_npy_is_memory_mapped_and_user_axes_reorder(tmp_path: Path) -> None:
    data = np.arange(20 * 30 * 4, dtype=np.float32).reshape(20, 30, 4)
    np.save(tmp_path / "a.npy", data)
    with open_input(tmp_path / "a.npy", axes="yxc") as image:
        assert isinstance(image.data.inner, np.memmap)
        assert image.axes == "cyx" and image.data.shape == (4, 20, 30)
    convert(tmp_path / "a.npy", tmp_path / "a.zarr", axes="yxc", scale={"x": 0.5}, units="nm")
    np.testing.assert_array_equal(
        np.asarray(zarr.open_array(tmp_path / "a.zarr/s0")), data.transpose(2, 0, 1)
    )
    axes = ome_attrs(tmp_path / "a.zarr")["multiscales"][0]["axes"]
    assert axes[2] == {"name": "x", "type": "space", "unit": "nanometer"}


def test_pictures(tmp_path: Path) -> None:
    y, x = np.mgrid[0:24, 0:32]
    rgb = np.stack([8 * x, 10 * y, 4 * (x + y)], axis=-1).astype(np.uint8)  # smooth: JPEG-friendly
    PILImage.fromarray(rgb).save(tmp_path / "a.png")
    PILImage.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    convert(tmp_path / "a.png", tmp_path / "png.zarr")
    np.testing.assert_array_equal(
        np.asarray(zarr.open_array(tmp_path / "png.zarr/s0")), rgb.transpose(2, 0, 1)
    )
    channels = ome_attrs(tmp_path / "png.zarr")["omero"]["channels"]
    assert [(c["label"], c["color"]) for c in channels] == [
        ("red", "FF0000"),
        ("green", "00FF00"),
        ("blue", "0000FF"),
    ]
    with open_input(tmp_path / "a.jpg") as image:
        assert image.kind == "JPEG" and image.axes == "cyx"
        decoded = image.data[(slice(0, 3), slice(0, 24), slice(0, 32))]
        assert np.abs(decoded.astype(int) - rgb.transpose(2, 0, 1)).mean() < 4  # lossy
    gray = (np.arange(24 * 32) * 50).astype(np.uint16).reshape(24, 32)
    PILImage.fromarray(gray).save(tmp_path / "gray.png")
    with open_input(tmp_path / "gray.png") as image:
        assert image.axes == "yx" and image.data.dtype == np.uint16


def test_zarr_array_and_ome_zarr_inputs(tmp_path: Path) -> None:
    array = zarr.create_array(
        tmp_path / "raw.zarr", shape=(6, 20, 20), chunks=(1, 20, 20), dtype="i2"
    )
    array[:] = np.arange(6 * 400, dtype="i2").reshape(6, 20, 20)
    convert(
        tmp_path / "raw.zarr",
        tmp_path / "v5.zarr",
        scale={"z": 2.0},
        units="micrometer",
        scale_factors=[],
    )
    # An OME-Zarr image converts too, keeping its scale and units: here 0.5 to 0.4.
    result = convert(tmp_path / "v5.zarr", tmp_path / "v4.zarr", fmt="0.4", scale_factors=[])
    assert result.source is not None and result.source.kind == "OME-Zarr"
    multiscale = ome_attrs(tmp_path / "v4.zarr")["multiscales"][0]
    assert multiscale["version"] == "0.4"
    assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"] == [2.0, 1.0, 1.0]
    assert zarr.open_group(tmp_path / "v4.zarr", mode="r").metadata.zarr_format == 2
    np.testing.assert_array_equal(np.asarray(zarr.open_array(tmp_path / "v4.zarr/s0")), array[:])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, world", "unsupported format"),
        (b"II*\x00garbage-garbage", "not a readable TIFF"),
        (b"\x89PNG\r\n\x1a\nbroken", "not a readable PNG"),
        (b"\x93NUMPYbroken", "not a readable .npy"),
    ],
)
def test_unreadable_inputs_raise_conversion_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "input").write_bytes(content)
    with pytest.raises(ConversionError, match=message), open_input(tmp_path / "input"):
        pass


def test_missing_input_and_bad_axes(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), open_input(tmp_path / "nothing.tif"):
        pass
    np.save(tmp_path / "a.npy", np.zeros((4, 4, 4)))
    for axes in ("yx", "zzx", "zyq"):
        with (
            pytest.raises(ValueError, match=r"^axes: ") as refused,
            open_input(tmp_path / "a.npy", axes=axes),
        ):
            pass
        assert isinstance(refused.value, InvalidParameterError)
        assert refused.value.parameter == "axes"
    np.save(tmp_path / "b.npy", np.zeros((2,) * 6))
    with pytest.raises(ConversionError, match="2 to 5 dimensions"), open_input(tmp_path / "b.npy"):
        pass


# --------------------------------------------------------------------------- outputs


def test_staged_output_leaves_nothing_after_a_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.zarr"
    with pytest.raises(RuntimeError), staged_output(target) as staging:
        zarr.open_group(staging, mode="w")
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_staged_output_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.zarr"
    zarr.open_group(target, mode="w").attrs["generation"] = 1
    with pytest.raises(RuntimeError), staged_output(target, overwrite=True) as staging:
        zarr.open_group(staging, mode="w").attrs["generation"] = 2
        raise RuntimeError("boom")
    assert zarr.open_group(target, mode="r").attrs["generation"] == 1
    with staged_output(target, overwrite=True) as staging:
        zarr.open_group(staging, mode="w").attrs["generation"] = 2
    assert zarr.open_group(target, mode="r").attrs["generation"] == 2
    assert sorted(os.listdir(tmp_path)) == ["out.zarr"]


def test_check_output_refusals(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "folder").mkdir()
    zarr.open_group(tmp_path / "old.zarr", mode="w")
    with pytest.raises(ConversionError, match=r"already exists; pass overwrite=True to") as refused:
        check_output(tmp_path / "old.zarr")
    assert refused.value.parameter == "overwrite"
    assert check_output(tmp_path / "old.zarr", overwrite=True) == tmp_path / "old.zarr"
    for path in ("notes.txt", "folder"):
        with pytest.raises(ConversionError, match="no zarr hierarchy; refusing"):
            check_output(tmp_path / path, overwrite=True)
    with pytest.raises(ConversionError, match="does not exist"):
        check_output(tmp_path / "missing" / "out.zarr")
    with pytest.raises(ConversionError, match="URLs"):
        check_output("s3://bucket/out.zarr")


def test_corrupt_pixels_fail_cleanly_and_keep_the_old_output(tmp_path: Path) -> None:
    data = np.random.default_rng(3).integers(0, 1000, (8, 64, 64), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "good.tif", data)
    truncated = (tmp_path / "good.tif").read_bytes()[: data.nbytes // 2]
    (tmp_path / "bad.tif").write_bytes(truncated)
    convert(tmp_path / "good.tif", tmp_path / "out.zarr", scale_factors=[])
    before = sorted(os.listdir(tmp_path))
    # Refused when opened: tifffile finds the page table cut short.
    with pytest.raises(ConversionError, match=r"bad\.tif: damaged or truncated TIFF"):
        convert(tmp_path / "bad.tif", tmp_path / "out.zarr", overwrite=True)
    assert sorted(os.listdir(tmp_path)) == before
    np.testing.assert_array_equal(np.asarray(zarr.open_array(tmp_path / "out.zarr/s0")), data)


def test_dry_run_plans_without_writing(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((4, 600, 300), np.uint16))
    result = convert(
        tmp_path / "a.npy",
        tmp_path / "out.zarr",
        dry_run=True,
        chunks={"y": 128, "x": 128},
        shards="auto",
        compressor=parse_compressor("zstd:5"),
    )
    assert not (tmp_path / "out.zarr").exists()
    assert sorted(os.listdir(tmp_path)) == ["a.npy"]
    levels = result.info["levels"]
    assert [level["shape"] for level in levels] == [[4, 600, 300], [4, 300, 150], [4, 150, 75]]
    assert levels[0]["chunks"] == [4, 128, 128]
    assert levels[0]["shards"] is not None and levels[0]["compressor"] == "zstd:5"
    assert result.dry_run and result.info["stored_bytes"] is None


def test_shards_need_zarr_v3_and_chunk_counts_must_match(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((4, 64, 64), np.uint16))
    with pytest.raises(ValueError, match=r"^shards: .*; add fmt='0\.5'$"):
        convert(tmp_path / "a.npy", tmp_path / "out.zarr", fmt="0.4", shards="auto")
    with pytest.raises(ValueError, match=r"^chunks: 2 sizes for the 3 axes"):
        convert(tmp_path / "a.npy", tmp_path / "out.zarr", chunks=(32, 32))
    with pytest.raises(ValueError, match=r"^scale: axes"):
        convert(tmp_path / "a.npy", tmp_path / "out.zarr", scale={"t": 1.0})
    assert sorted(os.listdir(tmp_path)) == ["a.npy"]


@pytest.mark.parametrize(
    ("arguments", "parameter", "message"),
    [
        ({"units": {"q": "nm"}}, "units", r"units: axes ['q'] are not among the axes 'yx'"),
        ({"units": "furlong"}, "units", r"units: 'furlong' is not an NGFF space unit"),
        ({"axes": "zyx"}, "axes", "axes: expected 2 distinct letters of 'tczyx' for 2-D input"),
        ({"series": 3}, "series", "series: {input} has series 0 to 0, not 3"),
        ({"shards": "auto", "fmt": "0.4"}, "shards", "shards: shards need OME-NGFF 0.5 (zarr v3)"),
    ],
)
def test_library_errors_name_the_parameter_and_carry_it(
    tmp_path: Path, arguments: dict[str, Any], parameter: str, message: str
) -> None:
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError) as refused:
        convert(tmp_path / "a.tif", tmp_path / "out.zarr", **arguments)
    error = refused.value
    assert str(error).startswith(message.format(input=tmp_path / "a.tif"))
    assert "--" not in str(error)  # no option of the command line
    assert isinstance(error, InvalidParameterError) and error.parameter == parameter
    copied = pickle.loads(pickle.dumps(error))  # as the distributed backend sends errors back
    assert (type(copied), str(copied), copied.parameter) == (type(error), str(error), parameter)
    assert sorted(os.listdir(tmp_path)) == ["a.tif"]


def test_a_suggested_value_is_spelled_as_a_keyword_argument(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((4, 64, 64), np.uint16))
    with pytest.raises(InvalidParameterError) as refused:
        convert(tmp_path / "a.npy", tmp_path / "out.zarr", fmt="0.4", shards="auto")
    assert str(refused.value).endswith("; add fmt='0.5'")
    assert refused.value.parameter == "shards"  # the parameter to blame comes first


def test_tiff_larger_than_the_memory_budget_converts_in_bounded_memory(tmp_path: Path) -> None:
    # 40 MiB of pixels, a 16 MiB budget: the write must never hold the image.
    rng = np.random.default_rng(4)
    planes = [rng.integers(0, 2000, (512, 512), dtype=np.uint16) for _ in range(80)]
    with tifffile.TiffWriter(tmp_path / "big.tif") as writer:
        for plane in planes:
            writer.write(plane, contiguous=True)
    tracemalloc.start()
    try:
        convert(tmp_path / "big.tif", tmp_path / "big.zarr", memory_budget="16M")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    stored = zarr.open_array(tmp_path / "big.zarr/s0")
    assert stored.shape == (80, 512, 512)
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    for z in (0, 41, 79):
        np.testing.assert_array_equal(stored[z], planes[z])


def test_write_demo(tmp_path: Path) -> None:
    result = write_demo(tmp_path / "demo.zarr", fmt="0.4", shape=(2, 4, 64, 64))
    assert result.info["version"] == "0.4"
    assert [level["shape"] for level in result.info["levels"]] == [
        [2, 4, 64, 64],
        [2, 4, 32, 32],
        [2, 4, 16, 16],
    ]
    assert [label["path"] for label in result.info["labels"]] == ["labels/nuclei"]
    assert validate(tmp_path / "demo.zarr", strict=True).valid
    image, labels, _, _ = sample_image((2, 4, 64, 64))
    np.testing.assert_array_equal(np.asarray(zarr.open_array(tmp_path / "demo.zarr/s0")), image)
    np.testing.assert_array_equal(
        np.asarray(zarr.open_array(tmp_path / "demo.zarr/labels/nuclei/s0")), labels
    )


def test_an_ome_zarr_input_with_upper_case_axis_names_keeps_its_scales_and_units(
    tmp_path: Path,
) -> None:
    source = tmp_path / "upper.zarr"
    write_image(
        np.zeros((2, 4, 32, 32), "uint16"),
        str(source),
        axes="czyx",
        scale={"z": 2.0, "y": 0.5, "x": 0.5},
        axes_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"},
        scale_factors=[],
    )
    document = json.loads((source / "zarr.json").read_text())
    for axis in document["attributes"]["ome"]["multiscales"][0]["axes"]:
        axis["name"] = axis["name"].upper()  # "C Z Y X": valid NGFF, written by real libraries
    (source / "zarr.json").write_text(json.dumps(document))
    convert(source, tmp_path / "out.zarr")
    image = open_image(str(tmp_path / "out.zarr"))
    assert image.dims == ("c", "z", "y", "x")
    assert image.scales[0] == (1.0, 2.0, 0.5, 0.5)
    assert image.units == {"z": "micrometer", "y": "micrometer", "x": "micrometer"}


def test_an_ome_zarr_input_with_axes_beyond_tczyx_asks_for_axes(tmp_path: Path) -> None:
    source = tmp_path / "angle.zarr"
    axes = [{"name": "angle", "type": "space"}, {"name": "y", "type": "space"},
            {"name": "x", "type": "space"}]  # fmt: skip
    write_multiscale([np.zeros((3, 32, 32), "uint16")], str(source), axes=axes)
    with pytest.raises(ValueError, match="'angle' is none of t, c, z, y, x") as refused:
        convert(source, tmp_path / "out.zarr")
    assert getattr(refused.value, "parameter", None) == "axes"
    convert(source, tmp_path / "out.zarr", axes="zyx")
    assert open_image(str(tmp_path / "out.zarr")).dims == ("z", "y", "x")
