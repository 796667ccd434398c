"""Tests for omezarr.tools.render (planes → RGB pictures → PNG) and the ``omezarr thumbnail`` command."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PillowImage

from omezarr.cli import main
from omezarr.format import FormatV04
from omezarr.reader import Image, open_image
from omezarr.tools.render import (
    ChannelDisplay,
    _encode_png_zlib,
    channel_displays,
    choose_level,
    encode_png,
    label_palette,
    render_plane,
)
from omezarr.writer import write_image, write_labels

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def omero(*channels: tuple[str, float, float], **extra: Any) -> dict[str, Any]:
    """An omero document with (color, window start, window end) per channel."""
    return {
        "channels": [
            {
                "color": color,
                "window": {"start": start, "end": end, "min": 0, "max": 65535},
                **extra,
            }
            for color, start, end in channels
        ]
    }


def write(path: Path, data: np.ndarray, axes: str, **options: Any) -> Image:
    options.setdefault("scale_factors", [])
    write_image(data, str(path), axes=axes, **options)
    return open_image(path)


def decode(png: bytes) -> np.ndarray:
    with PillowImage.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG"
        return np.asarray(picture.convert("RGB"))


@pytest.fixture
def squares(tmp_path: Path) -> Image:
    """c, z, y, x = 2, 5, 64, 64: a red square in channel 0 on z 2, a green one in channel 1
    on z 4 only; a label image with value 3 (blue in its colors) and value 7 (no colour)."""
    data = np.zeros((2, 5, 64, 64), dtype=np.uint16)
    data[0, 2, 8:24, 8:24] = 1000
    data[1, 4, 40:56, 40:56] = 500
    path = tmp_path / "squares.zarr"
    write_image(
        data,
        str(path),
        axes="czyx",
        scale_factors=[2],
        omero=omero(("FF0000", 0, 1000), ("00FF00", 0, 500)),
    )
    labels = np.zeros((5, 64, 64), dtype=np.uint8)
    labels[:, 40:56, 8:24] = 3
    labels[:, 8:24, 40:56] = 7
    write_labels(
        labels,
        str(path),
        "blobs",
        axes="zyx",
        scale_factors=[2],
        label_metadata={"colors": [{"label-value": 3, "rgba": [0, 0, 255, 255]}]},
    )
    return open_image(path)


# --------------------------------------------------------------------------- colours


def test_channels_take_color_and_window_from_omero(squares: Image) -> None:
    rgb = render_plane(squares, level=0, z=2)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[16, 16]) == RED  # window end 1000 → full red
    assert tuple(rgb[48, 48]) == (0, 0, 0)  # the green square is on z 4 only
    assert tuple(rgb[0, 0]) == (0, 0, 0)
    assert tuple(render_plane(squares, level=0, z=4)[48, 48]) == GREEN


def test_window_scales_intensity_linearly(tmp_path: Path) -> None:
    data = np.zeros((32, 32), dtype=np.uint16)
    data[:, 16:] = 250
    image = write(tmp_path / "half.zarr", data, "yx", omero=omero(("FFFFFF", 0, 1000)))
    rgb = render_plane(image)
    assert tuple(rgb[0, 20]) == (64, 64, 64)  # 250 / 1000 of 255, rounded
    assert tuple(rgb[0, 0]) == (0, 0, 0)


def test_channels_are_blended_additively(tmp_path: Path) -> None:
    data = np.full((2, 16, 16), 100, dtype=np.uint8)
    image = write(
        tmp_path / "blend.zarr", data, "cyx", omero=omero(("FF0000", 0, 100), ("0000FF", 0, 100))
    )
    assert tuple(render_plane(image)[5, 5]) == (255, 0, 255)
    assert tuple(render_plane(image, channels=[1])[5, 5]) == BLUE
    assert tuple(render_plane(image, channels=1)[5, 5]) == BLUE
    assert tuple(render_plane(image, channels=[])[5, 5]) == (0, 0, 0)


def test_one_channel_without_omero_is_grey_with_percentile_window(tmp_path: Path) -> None:
    ramp = np.tile(np.arange(100, 1100, 10, dtype=np.uint16), (100, 1))
    image = write(tmp_path / "ramp.zarr", ramp, "yx")
    (display,) = channel_displays(image)
    assert display.color == (255, 255, 255) and display.window is None
    rgb = render_plane(image)
    assert np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2])
    assert rgb[0, 0, 0] == 0 and rgb[0, -1, 0] == 255  # 0.1 and 99.9 percentiles
    assert np.all(np.diff(rgb[0, :, 0].astype(int)) >= 0)
    assert 100 < rgb[0, 50, 0] < 155


def test_several_channels_without_omero_get_distinct_default_colors(tmp_path: Path) -> None:
    data = np.zeros((3, 16, 16), dtype=np.uint8)
    image = write(tmp_path / "three.zarr", data, "cyx")
    displays = channel_displays(image)
    assert [d.hex_color for d in displays] == ["00FF00", "FF00FF", "00FFFF"]
    assert [d.name for d in displays] == ["c0", "c1", "c2"]
    assert all(d.active for d in displays)


def test_channel_displays_read_labels_and_active_flags(tmp_path: Path) -> None:
    data = np.zeros((2, 16, 16), dtype=np.uint8)
    data[:, 4:8, 4:8] = 200
    document = omero(("FF0000", 0, 200), ("00FF00", 0, 200))
    document["channels"][0]["label"] = "DAPI"
    document["channels"][1]["active"] = False
    image = write(tmp_path / "active.zarr", data, "cyx", omero=document)
    displays = channel_displays(image)
    assert displays[0] == ChannelDisplay(0, "DAPI", RED, (0.0, 200.0), True)
    assert displays[1].active is False
    assert tuple(render_plane(image)[5, 5]) == RED  # only the active channel by default
    assert tuple(render_plane(image, channels=[0, 1])[5, 5]) == (255, 255, 0)


def test_float_data_with_nan_renders(tmp_path: Path) -> None:
    data = np.linspace(0.0, 1.0, 256, dtype=np.float32).reshape(16, 16)
    data[0, 0] = np.nan
    image = write(tmp_path / "float.zarr", data, "yx")
    rgb = render_plane(image)
    assert tuple(rgb[0, 0]) == (0, 0, 0)
    assert rgb[-1, -1, 0] == 255


# --------------------------------------------------------------------------- planes


def test_default_plane_is_the_middle_z(squares: Image) -> None:
    assert tuple(render_plane(squares, level=0)[16, 16]) == RED  # 5 planes: z 2


def test_mip_shows_objects_of_every_plane(squares: Image) -> None:
    rgb = render_plane(squares, level=0, projection="mip")
    assert tuple(rgb[16, 16]) == RED
    assert tuple(rgb[48, 48]) == GREEN
    plane = render_plane(squares, level=0, z=0)
    assert not plane.any()


def test_time_point_is_selected(tmp_path: Path) -> None:
    data = np.zeros((3, 1, 1, 16, 16), dtype=np.uint8)
    data[1, 0, 0, 2:6, 2:6] = 255
    image = write(tmp_path / "time.zarr", data, "tczyx", omero=omero(("FFFFFF", 0, 255)))
    assert not render_plane(image, t=0).any()
    assert tuple(render_plane(image, t=1)[3, 3]) == (255, 255, 255)


def test_only_the_needed_planes_are_read(tmp_path: Path) -> None:
    """Chunk files of the other planes are made undecodable: a plane still renders."""
    data = np.zeros((5, 32, 32), dtype=np.uint16)
    data[2, 4:8, 4:8] = 100
    path = tmp_path / "lazy.zarr"
    image = write(
        path, data, "zyx", omero=omero(("FFFFFF", 0, 100)), storage_options={"chunks": (1, 32, 32)}
    )
    for z in (0, 1, 3, 4):
        chunk = path / "s0" / "c" / str(z) / "0" / "0"
        assert chunk.is_file()
        chunk.write_bytes(b"not a chunk")
    assert tuple(render_plane(image, z=2)[5, 5]) == (255, 255, 255)
    with pytest.raises(Exception):  # noqa: B017  # the projection must read the broken planes
        render_plane(image, projection="mip")


# --------------------------------------------------------------------------- labels


def test_label_overlay_uses_image_label_colors(squares: Image) -> None:
    rgb = render_plane(squares, level=0, z=2, label="blobs", label_opacity=1.0)
    assert tuple(rgb[48, 16]) == BLUE  # value 3: rgba 0, 0, 255, 255
    assert tuple(rgb[16, 16]) == RED  # the image is untouched where there is no label


def test_label_without_color_gets_the_hashed_palette(squares: Image) -> None:
    rgb = render_plane(squares, level=0, z=0, label="blobs", label_opacity=1.0)
    assert tuple(rgb[16, 48]) == tuple(label_palette(np.array([7]))[0, :3])


def test_label_opacity_blends(squares: Image) -> None:
    half = render_plane(squares, level=0, z=2, label="blobs", label_opacity=0.5)
    assert tuple(half[48, 16]) == (0, 0, 128)
    assert tuple(half[16, 16]) == RED
    none = render_plane(squares, level=0, z=2, label="blobs", label_opacity=0.0)
    assert np.array_equal(none, render_plane(squares, level=0, z=2))


def test_label_overlay_follows_the_level(squares: Image) -> None:
    small = render_plane(squares, level=1, z=2, label=squares.label("blobs"), label_opacity=1.0)
    assert small.shape == (32, 32, 3)
    assert tuple(small[24, 8]) == BLUE
    assert tuple(small[8, 8]) == RED


def test_label_palette_is_stable_and_background_transparent() -> None:
    values = np.arange(0, 50)
    colors = label_palette(values)
    assert colors.shape == (50, 4) and colors.dtype == np.uint8
    assert colors[0, 3] == 0 and np.all(colors[1:, 3] == 255)
    assert np.array_equal(colors, label_palette(values))
    assert len({tuple(c) for c in colors[1:, :3]}) > 40  # neighbours differ


# --------------------------------------------------------------------------- levels and size


def test_choose_level_prefers_the_coarsest_level_that_is_large_enough(tmp_path: Path) -> None:
    image = write(
        tmp_path / "pyramid.zarr", np.zeros((600, 600), np.uint8), "yx", scale_factors=[2, 4]
    )
    assert [level.shape for level in image.levels] == [(600, 600), (300, 300), (150, 150)]
    assert choose_level(image) == 1  # the coarsest ≥ 256 pixels
    assert choose_level(image, 100) == 2
    assert choose_level(image, 300) == 1
    assert choose_level(image, 301) == 0
    assert choose_level(image, 5000) == 0
    assert render_plane(image).shape == (300, 300, 3)


def test_size_scales_down_keeping_the_aspect_ratio(tmp_path: Path) -> None:
    data = np.zeros((100, 200), dtype=np.uint8)
    data[:, 100:] = 255
    image = write(tmp_path / "wide.zarr", data, "yx", omero=omero(("FFFFFF", 0, 255)))
    rgb = render_plane(image, size=50)
    assert rgb.shape == (25, 50, 3)
    assert rgb[10, 5, 0] == 0 and rgb[10, 45, 0] == 255
    assert render_plane(image, size=1000).shape == (100, 200, 3)  # never enlarged


def test_size_picks_a_coarser_level_for_small_pictures(squares: Image) -> None:
    assert choose_level(squares, 32) == 1
    rgb = render_plane(squares, size=32, z=2)
    assert rgb.shape == (32, 32, 3)
    assert tuple(rgb[8, 8]) == RED


def test_render_opens_a_path(squares: Image, tmp_path: Path) -> None:
    assert render_plane(tmp_path / "squares.zarr", level=0, z=2)[16, 16].tolist() == list(RED)


def test_zarr_v2_images_render(tmp_path: Path) -> None:
    data = np.zeros((16, 16), dtype=np.uint8)
    data[:8] = 255
    image = write(
        tmp_path / "v2.zarr", data, "yx", fmt=FormatV04(), omero=omero(("00FF00", 0, 255))
    )
    assert image.version == "0.4"
    assert tuple(render_plane(image)[2, 2]) == GREEN


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"projection": "sum"}, ValueError, "projection"),
        ({"projection": "mip", "z": 1}, ValueError, "z:"),
        ({"level": 5}, ValueError, "level: 5 is out of range"),
        ({"level": 1.0}, TypeError, "level"),
        ({"z": 5}, ValueError, "z: 5"),
        ({"t": 1}, ValueError, "t:"),
        ({"channels": [2]}, ValueError, "channels: 2"),
        ({"channels": "0"}, TypeError, "channels"),
        ({"size": 0}, ValueError, "size"),
        ({"size": True}, TypeError, "size"),
        ({"label": "cells"}, ValueError, "name: 'cells'"),
        ({"label": 3}, TypeError, "label"),
        ({"label_opacity": 2}, ValueError, "label_opacity"),
    ],
)
def test_bad_arguments_are_refused(
    squares: Image, arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        render_plane(squares, **arguments)


# --------------------------------------------------------------------------- PNG


def test_png_decodes_to_the_same_pixels(squares: Image) -> None:
    rgb = render_plane(squares, level=0, z=2, label="blobs")
    assert np.array_equal(decode(encode_png(rgb)), rgb)


def test_zlib_png_writer_decodes_to_the_same_pixels() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (7, 13, 3), dtype=np.uint8)
    png = _encode_png_zlib(rgb)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert np.array_equal(decode(png), rgb)


def test_png_without_pillow_uses_the_zlib_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now raises ImportError
    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[1, 2] = RED
    png = encode_png(rgb)
    assert png == _encode_png_zlib(rgb)
    monkeypatch.undo()
    assert np.array_equal(decode(png), rgb)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint16), np.zeros((0, 4, 3), np.uint8)],
)
def test_encode_png_refuses_other_arrays(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="rgb"):
        encode_png(bad)


# --------------------------------------------------------------------------- command line


def test_thumbnail_command_writes_the_png(
    squares: Image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "thumb.png"
    code = main(["thumbnail", str(tmp_path / "squares.zarr"), str(out), "--size", "32", "--z", "2"])
    assert code == 0
    assert "32×32 PNG of level 1" in capsys.readouterr().out
    picture = decode(out.read_bytes())
    assert picture.shape == (32, 32, 3)
    assert tuple(picture[8, 8]) == RED


def test_thumbnail_command_options(squares: Image, tmp_path: Path) -> None:
    out = tmp_path / "thumb.png"
    arguments = ["--size", "64", "--mip", "--channels", "1", "--labels", "blobs", "--opacity", "1"]
    assert main(["thumbnail", str(tmp_path / "squares.zarr"), str(out), *arguments]) == 0
    picture = decode(out.read_bytes())
    assert tuple(picture[48, 48]) == GREEN  # channel 1 only, projected
    assert tuple(picture[16, 16]) == (0, 0, 0)
    assert tuple(picture[48, 16]) == BLUE


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--channels", "0,x"], "--channels"),
        (["--z", "9"], "z: 9"),
        (["--labels", "cells"], "cells"),
    ],
)
def test_thumbnail_command_reports_bad_options(
    squares: Image,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    out = tmp_path / "thumb.png"
    assert main(["thumbnail", str(tmp_path / "squares.zarr"), str(out), *arguments]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_thumbnail_command_reports_a_missing_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["thumbnail", str(tmp_path / "missing.zarr"), str(tmp_path / "t.png")]) == 2
    assert "missing.zarr" in capsys.readouterr().err
