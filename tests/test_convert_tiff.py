"""TIFF-family inputs converted faithfully: ImageJ units and LUTs, OME-XML values, compression,
pixel sizes from wherever the file keeps them, RGB samples, pyramids and the original metadata.

Every file is written here by tifffile (with imagecodecs for the compressions), never fetched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from _cli import run_python
from omezarr.convert import ConversionError, convert, normalize_unit, open_input
from omezarr.convert import tiff as tiff_input
from omezarr.convert.tiff import _SamplesAsChannels


def ome_attrs(path: Path) -> dict[str, Any]:
    attrs = zarr.open_group(path, mode="r").attrs.asdict()
    return dict(attrs.get("ome", attrs))


def read_all(image: Any) -> np.ndarray:
    """Every pixel of an opened input, in its NGFF axis order."""
    return np.asarray(image.data[tuple(slice(None) for _ in image.data.shape)])


def smooth_rgb(height: int, width: int) -> np.ndarray:
    """Gradients: a lossy codec keeps them close, so a wrong decode cannot hide."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack(
        [x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], axis=-1
    ).astype(np.uint8)


def ramp_lut(red: int, green: int, blue: int) -> np.ndarray:
    """An ImageJ LUT from black to (red, green, blue), as its (3, 256) uint8 array."""
    ramp = np.arange(256) / 255
    return np.stack([ramp * red, ramp * green, ramp * blue]).round().astype(np.uint8)


# --------------------------------------------------------------------------- 1. ImageJ units


def test_imagej_frame_interval_keeps_its_time_unit(tmp_path: Path) -> None:
    source = tmp_path / "movie.tif"
    tifffile.imwrite(
        source,
        np.zeros((3, 16, 16), np.uint8),
        imagej=True,
        metadata={"axes": "TYX", "finterval": 50, "tunit": "ms"},
    )
    convert(source, tmp_path / "movie.zarr", scale_factors=[])
    multiscale = ome_attrs(tmp_path / "movie.zarr")["multiscales"][0]
    assert multiscale["axes"][0] == {"name": "t", "type": "time", "unit": "millisecond"}
    assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"][0] == 50.0


@pytest.mark.parametrize(
    ("spelling", "kind", "name"),
    [
        ("micron", "space", "micrometer"),
        ("microns", "space", "micrometer"),
        ("Micron", "space", "micrometer"),
        ("um", "space", "micrometer"),
        ("\u00b5m", "space", "micrometer"),  # micro sign
        ("\u03bcm", "space", "micrometer"),  # Greek mu
        ("\\u00B5m", "space", "micrometer"),  # ImageJ's escape, written literally
        ("nm", "space", "nanometer"),
        ("mm", "space", "millimeter"),
        ("Nanometers", "space", "nanometer"),
        ("inches", "space", "inch"),
        ("ms", "time", "millisecond"),
        ("msec", "time", "millisecond"),
        ("usec", "time", "microsecond"),
        ("\\u00B5s", "time", "microsecond"),
        ("sec", "time", "second"),
        ("Sec", "time", "second"),
        ("seconds", "time", "second"),
        ("min", "time", "minute"),
        ("minutes", "time", "minute"),
        ("hr", "time", "hour"),
        ("hours", "time", "hour"),
    ],
)
def test_imagej_unit_spellings_map_to_ngff_names(spelling: str, kind: str, name: str) -> None:
    assert normalize_unit(spelling, kind) == name


def test_symbols_stay_case_sensitive() -> None:
    # "Mm" is a megameter and "Ms" a megasecond: only words are read without regard to case.
    assert normalize_unit("Mm") == "megameter" and normalize_unit("mm") == "millimeter"
    assert normalize_unit("Ms", "time") == "megasecond"
    with pytest.raises(ValueError, match="'pixel' is not an NGFF space unit"):
        normalize_unit("pixel")


def test_imagej_units_of_every_axis_are_read(tmp_path: Path) -> None:
    source = tmp_path / "stack.tif"
    tifffile.imwrite(
        source,
        np.zeros((2, 3, 16, 16), np.uint16),
        imagej=True,
        resolution=(1 / 0.5, 1 / 0.25),
        metadata={
            "axes": "TZYX",
            "unit": "micron",
            "yunit": "nm",
            "zunit": "\\u00B5m",
            "spacing": 2.0,
            "finterval": 1.5,
            "tunit": "min",
        },
    )
    with open_input(source) as image:
        assert image.units == {
            "x": "micrometer",
            "y": "nanometer",
            "z": "micrometer",
            "t": "minute",
        }
        assert image.scale == {"x": 0.5, "y": 0.25, "z": 2.0, "t": 1.5}


# --------------------------------------------------------------------------- 2. ImageJ LUTs


def test_imagej_luts_become_channel_colours(tmp_path: Path) -> None:
    source = tmp_path / "luts.tif"
    data = np.arange(3 * 2 * 16 * 16, dtype=np.uint16).reshape(2, 3, 16, 16)
    luts = [ramp_lut(255, 0, 0), ramp_lut(0, 255, 0), ramp_lut(255, 0, 255)]
    tifffile.imwrite(
        source, data, imagej=True, metadata={"axes": "ZCYX", "mode": "composite", "LUTs": luts}
    )
    convert(source, tmp_path / "luts.zarr", scale_factors=[])
    channels = ome_attrs(tmp_path / "luts.zarr")["omero"]["channels"]
    assert [c["color"] for c in channels] == ["FF0000", "00FF00", "FF00FF"]
    np.testing.assert_array_equal(
        np.asarray(zarr.open_array(tmp_path / "luts.zarr/s0")), data.transpose(1, 0, 2, 3)
    )


# --------------------------------------------------------------------------- 3. OME-XML values


@pytest.mark.parametrize("value", ["abc", "inf", "nan"])
def test_ome_pixel_size_that_is_no_number_names_file_and_attribute(
    tmp_path: Path, value: str
) -> None:
    source = tmp_path / "bad.ome.tif"
    tifffile.imwrite(
        source,
        np.zeros((2, 16, 16), np.uint8),
        ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeX": value, "PhysicalSizeZ": 1.0},
    )
    with pytest.raises(ConversionError) as caught:
        convert(source, tmp_path / "out.zarr")
    message = str(caught.value)
    assert message == (
        f"{source}: OME-XML attribute Pixels PhysicalSizeX of image 0 is {value!r}, "
        "not a positive number"
    )
    assert not (tmp_path / "out.zarr").exists()


def test_ome_time_increment_that_is_no_number_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "bad.ome.tif"
    tifffile.imwrite(
        source,
        np.zeros((2, 16, 16), np.uint8),
        ome=True,
        metadata={"axes": "TYX", "TimeIncrement": "soon"},
    )
    refused = pytest.raises(ConversionError, match="Pixels TimeIncrement of image 0 is 'soon'")
    with refused, open_input(source):
        pass


def test_imagej_value_that_is_no_number_names_file_and_key(tmp_path: Path) -> None:
    source = tmp_path / "stack.tif"
    tifffile.imwrite(
        source,
        np.zeros((2, 16, 16), np.uint8),
        imagej=True,
        metadata={"axes": "ZYX", "unit": "um", "spacing": "wide"},
    )
    with pytest.raises(ConversionError) as caught:
        convert(source, tmp_path / "out.zarr")
    assert str(caught.value) == f"{source}: ImageJ metadata spacing='wide' is not a positive number"
    assert not (tmp_path / "out.zarr").exists()


# --------------------------------------------------------------------------- 4. compression


@pytest.mark.parametrize("compression", ["lzw", "jpeg", "jpeg2000", "zstd", "deflate"])
def test_compressed_tiff_converts(tmp_path: Path, compression: str) -> None:
    data = np.stack([smooth_rgb(48, 64)[..., 0]] * 3) + np.arange(3, dtype=np.uint8)[:, None, None]
    source = tmp_path / f"{compression}.tif"
    tifffile.imwrite(
        source, data, photometric="minisblack", compression=compression, metadata={"axes": "ZYX"}
    )
    with open_input(source) as image:
        assert image.axes == "zyx"
        pixels = read_all(image)
    # What the codec decodes (JPEG is lossy), and close to what was written.
    np.testing.assert_array_equal(pixels, tifffile.imread(source))
    if compression == "jpeg":
        assert np.abs(pixels.astype(int) - data).mean() < 4
    else:
        np.testing.assert_array_equal(pixels, data)


def test_slide_scanner_jpeg_tiles_convert_to_rgb_channels(tmp_path: Path) -> None:
    rgb = smooth_rgb(300, 520)
    source = tmp_path / "slide.tif"
    tifffile.imwrite(source, rgb, photometric="rgb", compression="jpeg", tile=(256, 256))
    convert(source, tmp_path / "slide.zarr", scale_factors=[2])
    written = np.asarray(zarr.open_array(tmp_path / "slide.zarr/s0"))
    np.testing.assert_array_equal(written, tifffile.imread(source).transpose(2, 0, 1))
    assert np.abs(written.astype(int) - rgb.transpose(2, 0, 1)).mean() < 4
    channels = ome_attrs(tmp_path / "slide.zarr")["omero"]["channels"]
    assert [(c["label"], c["color"]) for c in channels] == [
        ("red", "FF0000"),
        ("green", "00FF00"),
        ("blue", "0000FF"),
    ]


def write_qupath_pyramid(path: Path, data: np.ndarray, compression: str) -> None:
    """A tiled pyramidal OME-TIFF as QuPath writes one: full resolution in the main IFDs, the
    sub-resolutions in SubIFDs of each plane."""
    options: dict[str, Any] = {"tile": (64, 64), "compression": compression}
    with tifffile.TiffWriter(path, bigtiff=True) as writer:
        writer.write(
            data,
            subifds=2,
            metadata={"axes": "CYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5},
            **options,
        )
        writer.write(data[:, ::2, ::2], subfiletype=1, **options)
        writer.write(data[:, ::4, ::4], subfiletype=1, **options)


def test_pyramidal_ome_tiff_with_subifds_converts_level_zero(tmp_path: Path) -> None:
    data = np.random.default_rng(5).integers(0, 4000, (2, 200, 260), dtype=np.uint16)
    source = tmp_path / "qupath.ome.tif"
    write_qupath_pyramid(source, data, "lzw")
    convert(source, tmp_path / "qupath.zarr", scale_factors=[2])
    np.testing.assert_array_equal(np.asarray(zarr.open_array(tmp_path / "qupath.zarr/s0")), data)
    multiscale = ome_attrs(tmp_path / "qupath.zarr")["multiscales"][0]
    assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 0.5, 0.5]


def test_tiff_levels_returns_the_stored_pyramid(tmp_path: Path) -> None:
    data = np.random.default_rng(6).integers(0, 255, (2, 200, 260), dtype=np.uint8)
    source = tmp_path / "qupath.ome.tif"
    write_qupath_pyramid(source, data, "jpeg")
    with tiff_input.tiff_levels(source) as levels:
        assert [level.shape for level in levels] == [(2, 200, 260), (2, 100, 130), (2, 50, 65)]
        coarsest = levels[2][(slice(None), slice(None), slice(None))]
    expected = tifffile.imread(source, series=0, level=2)
    np.testing.assert_array_equal(coarsest, expected)


def test_missing_codec_is_one_line_naming_compression_and_extra(tmp_path: Path) -> None:
    data = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32)
    tifffile.imwrite(tmp_path / "lzw.tif", data, compression="lzw")
    tifffile.imwrite(tmp_path / "zstd.tif", data, compression="zstd")
    # As without imagecodecs: tifffile falls back to its pure-Python codecs (zlib only).
    script = (
        "import sys\nsys.modules['imagecodecs'] = None\n"
        "from omezarr.cli import main\n"
        "print(main(['convert', 'lzw.tif', 'lzw.zarr']))\n"
        "print(main(['convert', 'zstd.tif', 'zstd.zarr']))\n"
    )
    result = run_python("-c", script, cwd=tmp_path)
    assert result.stdout.split() == ["2", "2"], result.stderr
    assert result.stderr.splitlines() == [
        f"omezarr convert: error: lzw.tif: TIFF compression {name} needs imagecodecs: "
        "pip install 'omezarr[convert]'".replace("lzw.tif", file)
        for file, name in (("lzw.tif", "LZW"), ("zstd.tif", "ZSTD"))
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lzw.tif", "zstd.tif"]


# --------------------------------------------------------------------------- 5. pixel sizes


@pytest.mark.parametrize(
    ("resolution", "unit", "expected"),
    [
        ((10000, 5000), "CENTIMETER", {"x": 1.0, "y": 2.0}),
        ((12700, 12700), "INCH", {"x": 2.0, "y": 2.0}),
        ((4000, 4000), "NONE", {}),  # no unit: a ratio of pixels, no size
    ],
)
def test_resolution_tags_give_pixel_sizes(
    tmp_path: Path, resolution: tuple[int, int], unit: str, expected: dict[str, float]
) -> None:
    source = tmp_path / "plain.tif"
    tifffile.imwrite(
        source, np.zeros((16, 16), np.uint8), resolution=resolution, resolutionunit=unit
    )
    with open_input(source) as image:
        assert image.scale == pytest.approx(expected)
        assert image.units == dict.fromkeys(expected, "micrometer")


def test_ome_pixel_sizes_win_over_resolution_tags(tmp_path: Path) -> None:
    source = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        source,
        np.zeros((16, 16), np.uint8),
        resolution=(100, 100),
        resolutionunit="CENTIMETER",
        metadata={"PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25, "PhysicalSizeXUnit": "nm"},
    )
    with open_input(source) as image:
        assert image.scale == {"x": 0.25, "y": 0.25}
        assert image.units == {"x": "nanometer", "y": "micrometer"}


def write_svs(path: Path, rgb: np.ndarray, mpp: float) -> None:
    """An Aperio SVS as scanners write one: tiled baseline, thumbnail, a tiled lower
    resolution, then label and macro images."""
    description = (
        f"Aperio Image Library v12.0.15\r\n{rgb.shape[1]}x{rgb.shape[0]} [0,0 "
        f"{rgb.shape[1]}x{rgb.shape[0]}] (256x256) JPEG/RGB Q=70|AppMag = 20|"
        f"MPP = {mpp}|Filename = slide"
    )
    options: dict[str, Any] = {"photometric": "rgb", "compression": "jpeg"}
    with tifffile.TiffWriter(path) as writer:
        writer.write(rgb, tile=(256, 256), description=description, metadata=None, **options)
        writer.write(rgb[::8, ::8], description="thumbnail", metadata=None, **options)
        writer.write(rgb[::4, ::4], tile=(256, 256), description=description, metadata=None)
        writer.write(rgb[:32, :32], subfiletype=1, description="label", metadata=None)
        writer.write(rgb[:40, :40], subfiletype=9, description="macro", metadata=None)


def test_svs_microns_per_pixel_give_pixel_sizes_and_level_zero(tmp_path: Path) -> None:
    rgb = smooth_rgb(600, 1100)
    source = tmp_path / "slide.svs"
    write_svs(source, rgb, 0.499)
    with open_input(source) as image:
        assert tifffile.TiffFile(source).is_svs
        assert image.kind == "Aperio SVS"
        assert image.scale == {"x": 0.499, "y": 0.499}
        assert image.units == {"x": "micrometer", "y": "micrometer"}
        assert image.axes == "cyx" and image.data.shape == (3, 600, 1100)
        assert image.channel_colors == ["FF0000", "00FF00", "0000FF"]
        assert image.original_metadata["svs"]["MPP"] == 0.499
        pixels = read_all(image)
    np.testing.assert_array_equal(pixels, tifffile.imread(source).transpose(2, 0, 1))
    with tiff_input.tiff_levels(source) as levels:
        assert [level.shape for level in levels] == [(3, 600, 1100), (3, 150, 275)]


def test_ome_plane_delta_t_gives_time_scale(tmp_path: Path) -> None:
    source = tmp_path / "movie.ome.tif"
    times = [0.0, 0.1, 2.5, 2.6, 5.0, 5.1, 7.5, 7.6]  # TheC 0 and 1 of each time point
    tifffile.imwrite(
        source,
        np.zeros((4, 2, 16, 16), np.uint8),
        metadata={
            "axes": "TCYX",
            "Plane": {
                "TheT": [0, 0, 1, 1, 2, 2, 3, 3],
                "TheC": [0, 1] * 4,
                "DeltaT": times,
                "DeltaTUnit": ["ms"] * 8,
            },
        },
    )
    with open_input(source) as image:
        assert image.scale["t"] == pytest.approx(2.5)
        assert image.units["t"] == "millisecond"


def test_ome_time_increment_wins_over_delta_t(tmp_path: Path) -> None:
    source = tmp_path / "movie.ome.tif"
    tifffile.imwrite(
        source,
        np.zeros((2, 16, 16), np.uint8),
        metadata={
            "axes": "TYX",
            "TimeIncrement": 3.0,
            "Plane": {"TheT": [0, 1], "DeltaT": [0.0, 10.0]},
        },
    )
    with open_input(source) as image:
        assert image.scale["t"] == 3.0 and image.units["t"] == "second"


# --------------------------------------------------------------------------- 6. RGB samples


def write_rgb(path: Path, kind: str) -> np.ndarray:
    """An RGB(A) file of ``kind``; returns the expected pixels in czyx/tcyx/cyx order."""
    rgb = smooth_rgb(24, 40)
    if kind == "plain":
        tifffile.imwrite(path, rgb, photometric="rgb")
        return rgb.transpose(2, 0, 1)
    if kind == "rgba":
        rgba = np.concatenate([rgb, np.full((24, 40, 1), 200, np.uint8)], axis=-1)
        tifffile.imwrite(path, rgba, photometric="rgb", extrasamples=["unassalpha"])
        return rgba.transpose(2, 0, 1)
    if kind == "planar":
        tifffile.imwrite(path, rgb.transpose(2, 0, 1), photometric="rgb", planarconfig="separate")
        return rgb.transpose(2, 0, 1)
    if kind == "ome":
        tifffile.imwrite(path, rgb, photometric="rgb", ome=True, metadata={"axes": "YXS"})
        return rgb.transpose(2, 0, 1)
    if kind == "ome-z":
        stack = np.stack([rgb, rgb // 2])
        tifffile.imwrite(path, stack, photometric="rgb", ome=True, metadata={"axes": "ZYXS"})
        return stack.transpose(3, 0, 1, 2)
    assert kind == "imagej"
    movie = np.stack([rgb, rgb // 2, rgb // 3])
    tifffile.imwrite(path, movie, photometric="rgb", imagej=True, metadata={"axes": "TYXS"})
    return movie.transpose(0, 3, 1, 2)


@pytest.mark.parametrize("kind", ["plain", "rgba", "planar", "ome", "ome-z", "imagej"])
def test_rgb_samples_become_coloured_channels(tmp_path: Path, kind: str) -> None:
    source = tmp_path / "rgb.tif"
    expected = write_rgb(source, kind)
    with open_input(source) as image:
        assert "c" in image.axes and image.data.shape == expected.shape
        assert image.axes == {"ome-z": "czyx", "imagej": "tcyx"}.get(kind, "cyx")
        np.testing.assert_array_equal(read_all(image), expected)
        colors = ["FF0000", "00FF00", "0000FF"] + (["FFFFFF"] if kind == "rgba" else [])
        assert image.channel_colors == colors
        assert image.channel_names == ["red", "green", "blue", "alpha"][: len(colors)]


def test_ome_rgb_channels_are_merged_with_their_samples(tmp_path: Path) -> None:
    # Two OME channels of three samples each: six NGFF channels, never a sample axis taken as z.
    rgb = smooth_rgb(24, 40)
    data = np.stack([rgb, 255 - rgb])
    source = tmp_path / "two.ome.tif"
    tifffile.imwrite(
        source,
        data,
        photometric="rgb",
        metadata={"axes": "CYXS", "Channel": {"Name": ["HE", "IHC"]}},
    )
    convert(source, tmp_path / "two.zarr", scale_factors=[])
    attrs = ome_attrs(tmp_path / "two.zarr")
    assert [a["name"] for a in attrs["multiscales"][0]["axes"]] == ["c", "y", "x"]
    channels = attrs["omero"]["channels"]
    assert [c["label"] for c in channels] == [
        "HE red",
        "HE green",
        "HE blue",
        "IHC red",
        "IHC green",
        "IHC blue",
    ]
    assert [c["color"] for c in channels] == ["FF0000", "00FF00", "0000FF"] * 2
    expected = data.transpose(0, 3, 1, 2).reshape(6, 24, 40)
    np.testing.assert_array_equal(np.asarray(zarr.open_array(tmp_path / "two.zarr/s0")), expected)
    with open_input(source) as image:
        assert image.source_axes == "CYXS" and image.axes == "cyx"
        block = image.data[(slice(2, 5), slice(3, 9), slice(0, 40))]
    np.testing.assert_array_equal(block, expected[2:5, 3:9])


@settings(max_examples=60, deadline=None)
@given(
    layout=st.sampled_from(
        [
            ("CYXS", (2, 5, 4, 3)),
            ("CSYX", (3, 4, 5, 6)),
            ("SCYX", (4, 3, 5, 2)),
            ("TCYXS", (2, 3, 4, 5, 2)),
        ]
    ),
    data=st.data(),
)
def test_samples_as_channels_reads_any_region(
    layout: tuple[str, tuple[int, ...]], data: st.DataObject
) -> None:
    axes, shape = layout
    inner = np.arange(np.prod(shape)).reshape(shape)
    channel, sample = axes.index("C"), axes.index("S")
    view = _SamplesAsChannels(inner, channel, sample)
    out_channel = channel - (sample < channel)
    expected = np.moveaxis(inner, sample, out_channel + 1).reshape(view.shape)
    key = []
    for size in view.shape:
        start = data.draw(st.integers(0, size - 1))
        key.append(slice(start, data.draw(st.integers(start + 1, size))))
    np.testing.assert_array_equal(view[tuple(key)], expected[tuple(key)])


# --------------------------------------------------------------------------- 7. pyramids


def test_plain_pyramidal_tiff_converts_its_full_resolution(tmp_path: Path) -> None:
    data = np.random.default_rng(7).integers(0, 255, (128, 96), dtype=np.uint8)
    source = tmp_path / "pyramid.tif"
    with tifffile.TiffWriter(source) as writer:
        writer.write(data, tile=(32, 32))
        writer.write(data[::2, ::2], tile=(32, 32), subfiletype=1)
        writer.write(data[::4, ::4], tile=(32, 32), subfiletype=1)
    with open_input(source) as image:
        np.testing.assert_array_equal(read_all(image), data)
    with tiff_input.tiff_levels(source) as levels:
        assert [level.shape for level in levels] == [(128, 96), (64, 48), (32, 24)]


# --------------------------------------------------------------------------- 8. metadata kept


def test_ome_xml_is_kept_on_the_input(tmp_path: Path) -> None:
    source = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        source, np.zeros((2, 16, 16), np.uint8), metadata={"axes": "CYX", "Creator": "me"}
    )
    with open_input(source) as image:
        assert image.ome_xml == tifffile.TiffFile(source).ome_metadata
        assert image.ome_xml is not None and "<OME" in image.ome_xml


def test_imagej_metadata_is_kept_as_json(tmp_path: Path) -> None:
    source = tmp_path / "stack.tif"
    luts = [ramp_lut(255, 0, 0), ramp_lut(0, 0, 255)]
    tifffile.imwrite(
        source,
        np.zeros((2, 16, 16), np.uint8),
        imagej=True,
        metadata={"axes": "CYX", "LUTs": luts, "Info": "stage x=1", "Ranges": (0, 200, 5, 90)},
    )
    with open_input(source) as image:
        assert image.ome_xml is None
        imagej = image.original_metadata["imagej"]
        assert imagej["Info"] == "stage x=1" and imagej["Ranges"] == [0, 200, 5, 90]
        assert np.array_equal(imagej["LUTs"], np.asarray(luts))
        assert image.original_metadata["ImageDescription"].startswith("ImageJ=")
        json.dumps(image.original_metadata)  # storable as it is


def test_plain_image_description_is_kept(tmp_path: Path) -> None:
    source = tmp_path / "plain.tif"
    tifffile.imwrite(
        source,
        np.zeros((16, 16), np.uint8),
        description="acquired on scope 3",
        metadata=None,
        software="acquirer 1.0",
    )
    with open_input(source) as image:
        assert image.original_metadata["ImageDescription"] == "acquired on scope 3"
        assert image.original_metadata["Software"] == "acquirer 1.0"
        assert image.ome_xml is None
