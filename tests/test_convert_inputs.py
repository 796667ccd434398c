"""omezarr.convert: what PNG/JPEG pictures and OME-Zarr inputs keep (bit depth, channels,
axes named in upper case, labels) and what they say they leave out (plates, other images)."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from PIL import Image as PILImage

from omezarr.convert import ConversionError, ConversionWarning, convert, open_input
from omezarr.io.archive_open import open_ozx
from omezarr.reader import open_image
from omezarr.tools.describe import describe
from omezarr.tools.render import choose_level, render_plane
from omezarr.tools.viewer import image_metadata
from omezarr.validate import validate

# --------------------------------------------------------------------------- helpers


def _ome(path: Path) -> dict[str, Any]:
    """The NGFF attributes of the zarr v3 group at ``path`` (under ``"ome"``)."""
    return dict(zarr.open_group(path, mode="r").attrs["ome"])


def _write_ngff_image(
    group: zarr.Group,
    version: str,
    levels: Sequence[np.ndarray],
    axes: Sequence[Mapping[str, str]],
    scale: Sequence[float],
    **attributes: Any,
) -> None:
    """An NGFF ``version`` image in ``group``, its documents written by hand: levels halve the
    last two axes; ``attributes`` (``omero``, ``image-label``) go beside ``multiscales``."""
    datasets = []
    names = [axis["name"] for axis in axes]
    for i, level in enumerate(levels):
        group.create_array(
            f"L{i}",
            data=level,
            chunks=level.shape,
            **({"dimension_names": names} if version == "0.5" else {}),
        )
        factor = [1.0] * (len(axes) - 2) + [2.0**i, 2.0**i]
        level_scale = [s * f for s, f in zip(scale, factor, strict=True)]
        datasets.append(
            {
                "path": f"L{i}",
                "coordinateTransformations": [{"type": "scale", "scale": level_scale}],
            }
        )
    multiscale: dict[str, Any] = {
        "name": "written by hand",
        "axes": list(axes),
        "datasets": datasets,
    }
    if version == "0.5":
        group.attrs["ome"] = {"version": "0.5", "multiscales": [multiscale], **attributes}
    else:
        multiscale["version"] = version
        group.attrs.update({"multiscales": [multiscale], **attributes})


def _write_labels_group(image: zarr.Group, version: str, names: Sequence[str]) -> zarr.Group:
    labels = image.create_group("labels")
    if version == "0.5":
        labels.attrs["ome"] = {"version": "0.5", "labels": list(names)}
    else:
        labels.attrs["labels"] = list(names)
    return labels


_UPPER_AXES = [
    {"name": "T", "type": "time", "unit": "second"},
    {"name": "C", "type": "channel"},
    {"name": "Z", "type": "space", "unit": "micrometer"},
    {"name": "Y", "type": "space", "unit": "micrometer"},
    {"name": "X", "type": "space", "unit": "micrometer"},
]
"""Axes as some libraries name them: valid NGFF (names are free strings)."""

_OMERO = {
    "channels": [
        {
            "label": "DAPI",
            "color": "0000FF",
            "window": {"min": 0, "max": 999, "start": 0, "end": 999},
        },
        {
            "label": "GFP",
            "color": "00FF00",
            "window": {"min": 0, "max": 999, "start": 0, "end": 999},
        },
    ]
}


def _upper_case_image(path: Path, version: str) -> np.ndarray:
    """A T C Z Y X image (2 levels) with a label image whose axes are upper case too."""
    data = np.arange(2 * 2 * 3 * 32 * 48, dtype=np.uint16).reshape(2, 2, 3, 32, 48)
    root = zarr.open_group(path, mode="w", zarr_format=3 if version == "0.5" else 2)
    _write_ngff_image(
        root, version, [data, data[..., ::2, ::2]], _UPPER_AXES, [2.0, 1.0, 3.0, 0.5, 0.25],
        omero=_OMERO,
    )  # fmt: skip
    labels = _write_labels_group(root, version, ["cells"])
    mask = np.zeros((2, 1, 3, 32, 48), dtype=np.uint8)
    mask[..., 4:12, 8:20] = 1
    _write_ngff_image(
        labels.create_group("cells"), version, [mask, mask[..., ::2, ::2]], _UPPER_AXES,
        [2.0, 1.0, 3.0, 0.5, 0.25], **{"image-label": {"source": {"image": "../../"}}},
    )  # fmt: skip
    return data


# --------------------------------------------------------------------------- pictures


@pytest.fixture
def imagecodecs() -> Any:
    """imagecodecs, which writes the 16-bit PNGs (Pillow cannot) and reads them."""
    import imagecodecs as module  # in the convert extra

    return module


_PICTURE_LAYOUTS = {
    "grey": ((24, 32), None),
    "grey+alpha": ((24, 32, 2), [("grey", "FFFFFF"), ("alpha", "FFFFFF")]),
    "RGB": ((24, 32, 3), [("red", "FF0000"), ("green", "00FF00"), ("blue", "0000FF")]),
    "RGBA": (
        (24, 32, 4),
        [("red", "FF0000"), ("green", "00FF00"), ("blue", "0000FF"), ("alpha", "FFFFFF")],
    ),
}


def _samples_16_bit(shape: tuple[int, ...]) -> np.ndarray:
    # Every sample differs from its neighbours in the low byte: 8 bits would not keep them.
    return np.random.default_rng(7).integers(0, 2**16, shape, dtype=np.uint16)


@pytest.mark.parametrize("layout", list(_PICTURE_LAYOUTS))
def test_a_16_bit_png_keeps_every_bit_with_its_samples_as_channels(
    tmp_path: Path, layout: str, imagecodecs: Any
) -> None:
    shape, channels = _PICTURE_LAYOUTS[layout]
    pixels = _samples_16_bit(shape)
    picture = tmp_path / "deep.png"
    picture.write_bytes(imagecodecs.png_encode(pixels))
    with open_input(picture) as image:
        assert image.kind == "PNG"
        assert image.data.dtype == np.uint16
        assert image.axes == ("yx" if len(shape) == 2 else "cyx")
        read = image.data[tuple(slice(None, n) for n in image.data.shape)]
        expected = pixels if len(shape) == 2 else pixels.transpose(2, 0, 1)
        np.testing.assert_array_equal(read, expected)
        named = (
            None
            if image.channel_names is None
            else list(zip(image.channel_names, image.channel_colors or [], strict=True))
        )
        assert named == channels


def test_a_48_bit_rgb_png_converts_to_16_bit_channels(tmp_path: Path, imagecodecs: Any) -> None:
    pixels = _samples_16_bit((24, 32, 3))
    (tmp_path / "rgb48.png").write_bytes(imagecodecs.png_encode(pixels))
    convert(tmp_path / "rgb48.png", tmp_path / "out.zarr", scale_factors=[])
    written = zarr.open_array(tmp_path / "out.zarr/s0", mode="r")
    assert written.dtype == np.uint16
    np.testing.assert_array_equal(written[:], pixels.transpose(2, 0, 1))
    assert [c["label"] for c in _ome(tmp_path / "out.zarr")["omero"]["channels"]] == [
        "red",
        "green",
        "blue",
    ]


def test_without_imagecodecs_a_16_bit_colour_png_is_refused_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imagecodecs: Any
) -> None:
    (tmp_path / "rgb48.png").write_bytes(imagecodecs.png_encode(_samples_16_bit((8, 8, 3))))
    grey = _samples_16_bit((8, 8))
    PILImage.fromarray(grey).save(tmp_path / "grey16.png")  # Pillow reads this one whole
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # as if it were not installed
    with (
        pytest.raises(ConversionError, match=r"16-bit.*imagecodecs.*omezarr\[convert\]") as refused,
        open_input(tmp_path / "rgb48.png"),
    ):
        pass
    assert len(str(refused.value).splitlines()) == 1
    with open_input(tmp_path / "grey16.png") as image:
        assert image.data.dtype == np.uint16
        np.testing.assert_array_equal(image.data[:, :], grey)


def test_a_png_with_a_transparent_colour_keeps_its_transparency_as_alpha(tmp_path: Path) -> None:
    grey = np.arange(24 * 32, dtype=np.uint8).reshape(24, 32) % 7
    PILImage.fromarray(grey).save(tmp_path / "keyed.png", transparency=3)
    with open_input(tmp_path / "keyed.png") as image:
        assert image.axes == "cyx" and image.channel_names == ["grey", "alpha"]
        read = image.data[:, :, :]
    np.testing.assert_array_equal(read[0], grey)
    np.testing.assert_array_equal(read[1], np.where(grey == 3, 0, 255))


def test_a_cmyk_jpeg_names_its_channels_cyan_magenta_yellow_black(tmp_path: Path) -> None:
    PILImage.new("CMYK", (16, 8), (10, 20, 30, 40)).save(tmp_path / "print.jpg")
    with open_input(tmp_path / "print.jpg") as image:
        assert image.axes == "cyx"
        assert image.channel_names == ["cyan", "magenta", "yellow", "black"]


def test_an_animated_png_keeps_every_frame_along_t(tmp_path: Path) -> None:
    frames = [np.full((8, 12, 3), 40 * i, dtype=np.uint8) for i in range(3)]
    first, *others = (PILImage.fromarray(frame) for frame in frames)
    first.save(tmp_path / "movie.png", save_all=True, append_images=others)
    with open_input(tmp_path / "movie.png") as image:
        assert image.axes == "tcyx"
        assert image.data.shape == (3, 3, 8, 12)
        np.testing.assert_array_equal(
            image.data[:, :, :, :], np.stack(frames).transpose(0, 3, 1, 2)
        )


# --------------------------------------------------------------------------- upper-case axes


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_an_image_with_upper_case_axes_converts_with_scales_units_channels_and_labels(
    tmp_path: Path, version: str
) -> None:
    data = _upper_case_image(tmp_path / "upper.zarr", version)
    assert validate(tmp_path / "upper.zarr").valid  # the input is valid NGFF
    convert(tmp_path / "upper.zarr", tmp_path / "out.zarr", scale_factors=[2])
    image = open_image(str(tmp_path / "out.zarr"))
    assert image.dims == ("t", "c", "z", "y", "x")
    assert image.scales[0] == (2.0, 1.0, 3.0, 0.5, 0.25)
    assert image.units == {"t": "second", "z": "micrometer", "y": "micrometer", "x": "micrometer"}
    assert [(c["label"], c["color"]) for c in image.omero["channels"]] == [  # type: ignore[index]
        ("DAPI", "0000FF"),
        ("GFP", "00FF00"),
    ]
    np.testing.assert_array_equal(image.data.compute(), data)
    label = image.label("cells")
    assert label.dims == ("t", "c", "z", "y", "x")
    assert label.scales[0] == (2.0, 1.0, 3.0, 0.5, 0.25)


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_an_image_with_upper_case_axes_renders_a_thumbnail(tmp_path: Path, version: str) -> None:
    _upper_case_image(tmp_path / "upper.zarr", version)
    image = open_image(str(tmp_path / "upper.zarr"))
    assert choose_level(image, 16) == 1
    rgb = render_plane(image, size=24, t=1, z=2, label="cells")
    assert rgb.shape == (16, 24, 3)
    assert rgb.std() > 0  # the image's gradient and its label, not a blank picture
    mip = render_plane(image, size=24, projection="mip")
    assert mip.shape == (16, 24, 3)
    assert image_metadata(image)["dims"] == ["t", "c", "z", "y", "x"]  # the viewer's sliders
    info = describe(str(tmp_path / "upper.zarr"), stats=True)
    assert [c["label"] for c in info["statistics"]["channels"]] == ["DAPI", "GFP"]


# --------------------------------------------------------------------------- labels


def _image_with_labels(path: Path, version: str = "0.5") -> tuple[np.ndarray, dict[str, Any]]:
    """A c y x image whose labels are a y x ``nuclei`` (colours, properties) and a c y x
    ``cells``; returns the image's pixels and each label's pixels."""
    data = (np.arange(2 * 64 * 80, dtype=np.uint16) % 1000).reshape(2, 64, 80)
    axes = [
        {"name": "c", "type": "channel"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    root = zarr.open_group(path, mode="w", zarr_format=3 if version == "0.5" else 2)
    _write_ngff_image(root, version, [data, data[:, ::2, ::2]], axes, [1.0, 0.5, 0.5])
    labels = _write_labels_group(root, version, ["nuclei", "cells"])
    nuclei = np.zeros((64, 80), dtype=np.uint16)
    nuclei[10:20, 10:30] = 1
    nuclei[40:60, 50:70] = 7
    cells = np.zeros((1, 64, 80), dtype=np.uint32)
    cells[0, 5:50, 5:60] = 3
    nuclei_label = {
        "colors": [
            {"label-value": 1, "rgba": [255, 0, 0, 255]},
            {"label-value": 7, "rgba": [0, 0, 255, 128]},
        ],
        "properties": [{"label-value": 1, "area": 200}, {"label-value": 7, "class": "big"}],
        "source": {"image": "../../"},
    }
    if version != "0.5":
        nuclei_label["version"] = version
    _write_ngff_image(
        labels.create_group("nuclei"), version, [nuclei, nuclei[::2, ::2]], axes[1:],
        [0.5, 0.5], **{"image-label": nuclei_label},
    )  # fmt: skip
    cells_label = {"colors": [{"label-value": 3, "rgba": [0, 255, 0, 255]}]}
    if version != "0.5":
        cells_label["version"] = version
    _write_ngff_image(
        labels.create_group("cells"), version, [cells, cells[:, ::2, ::2]], axes,
        [1.0, 0.5, 0.5], **{"image-label": cells_label},
    )  # fmt: skip
    return data, {"nuclei": nuclei, "cells": cells}


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_converting_an_image_carries_its_labels_with_metadata_and_pixels(
    tmp_path: Path, version: str
) -> None:
    _, pixels = _image_with_labels(tmp_path / "in.zarr", version)
    assert validate(tmp_path / "in.zarr").valid  # valid NGFF (strict asks for more)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConversionWarning)  # nothing is left out
        convert(tmp_path / "in.zarr", tmp_path / "out.zarr", scale_factors=[2, 4])
    assert validate(tmp_path / "out.zarr", strict=True).valid
    image = open_image(str(tmp_path / "out.zarr"))
    assert image.label_names == ["nuclei", "cells"]
    nuclei, cells = image.label("nuclei"), image.label("cells")
    assert nuclei.colors == {1: (255, 0, 0, 255), 7: (0, 0, 255, 128)}
    assert nuclei.properties == {1: {"area": 200}, 7: {"class": "big"}}
    assert nuclei.source == "../../"
    assert nuclei.dims == ("y", "x") and cells.dims == ("c", "y", "x")
    assert nuclei.units == {"y": "micrometer", "x": "micrometer"}
    for label in (nuclei, cells):
        assert len(label.levels) == len(image.levels) == 3  # follows the output's pyramid
        assert label.scales[0][-2:] == (0.5, 0.5)
        assert label.scales[2][-2:] == (2.0, 2.0)
    np.testing.assert_array_equal(nuclei.data.compute(), pixels["nuclei"])
    np.testing.assert_array_equal(cells.data.compute(), pixels["cells"])
    assert cells.data.dtype == np.uint32


def test_labels_are_carried_into_a_single_file_archive(tmp_path: Path) -> None:
    _, pixels = _image_with_labels(tmp_path / "in.zarr")
    convert(tmp_path / "in.zarr", tmp_path / "out.ozx")
    with open_ozx(tmp_path / "out.ozx") as root:
        image = open_image(root)
        assert image.label_names == ["nuclei", "cells"]
        np.testing.assert_array_equal(image.label("nuclei").data.compute(), pixels["nuclei"])
        assert image.label("nuclei").colors[7] == (0, 0, 255, 128)
    convert(tmp_path / "out.ozx", tmp_path / "back.zarr")  # and out of one
    back = open_image(str(tmp_path / "back.zarr"))
    np.testing.assert_array_equal(back.label("cells").data.compute(), pixels["cells"])


def test_a_label_that_cannot_be_read_is_named_in_a_warning(tmp_path: Path) -> None:
    _image_with_labels(tmp_path / "in.zarr")
    labels = zarr.open_group(tmp_path / "in.zarr/labels", mode="a")
    labels.attrs["ome"] = {"version": "0.5", "labels": ["nuclei", "cells", "lost"]}
    with pytest.warns(ConversionWarning, match=r"labels/lost.*not carried") as caught:
        convert(tmp_path / "in.zarr", tmp_path / "out.zarr")
    assert len([w for w in caught if issubclass(w.category, ConversionWarning)]) == 1
    assert open_image(str(tmp_path / "out.zarr")).label_names == ["nuclei", "cells"]


@pytest.mark.parametrize("source_name", ["plate.zarr", "plate.ozx"])
def test_a_plate_is_converted_well_by_well_with_its_labels(
    tmp_path: Path, source_name: str
) -> None:
    from omezarr.read import open_plate
    from omezarr.writer import (
        write_image,
        write_labels,
        write_plate_metadata,
        write_well_metadata,
    )

    rng = np.random.default_rng(4)
    fields = {
        (well, field): rng.integers(0, 4000, (2, 40, 48)).astype(np.uint16)
        for well in ("A/1", "B/2")
        for field in ("0", "1")
    }
    source = tmp_path / source_name
    with contextlib.ExitStack() as stack:
        if source_name.endswith(".ozx"):
            root = stack.enter_context(open_ozx(source, mode="w"))
        else:
            root = zarr.open_group(source, mode="w")
        acquisitions = [{"id": 0, "name": "first"}, {"id": 1, "name": "second"}]
        for (well, field), pixels in fields.items():
            write_image(pixels, root.require_group(f"{well}/{field}"), axes="cyx", scale_factors=[])
        write_labels(
            (fields["B/2", "1"][:1] > 2000).astype(np.uint8),
            root["B/2/1"],
            "mask",
            axes="cyx",
            scale_factors=[],
        )
        for well in ("A/1", "B/2"):
            write_well_metadata(
                root[well], [{"path": "0", "acquisition": 0}, {"path": "1", "acquisition": 1}]
            )
        write_plate_metadata(
            root,
            ["A", "B"],
            ["1", "2"],
            ["A/1", "B/2"],
            acquisitions=acquisitions,
            field_count=2,
            name="screen",
        )
    output = tmp_path / "converted.ome.zarr"
    result = convert(source, output)
    assert result.info["kind"] == "plate" and len(result.info["images"]) == 4
    plate = open_plate(str(output))
    assert (plate.rows, plate.columns, plate.name) == (["A", "B"], ["1", "2"], "screen")
    assert [w.path for w in plate.wells] == ["A/1", "B/2"] and plate.field_count == 2
    assert [a["name"] for a in plate.acquisitions] == ["first", "second"]
    assert [i.acquisition for i in plate.well("B/2").images] == [0, 1]
    for (well, field), pixels in fields.items():
        image = plate.well(well).image(field)
        np.testing.assert_array_equal(image.data.compute(), pixels)
    labelled = plate.well("B/2").image("1")
    assert labelled.label_names == ["mask"]
    assert validate(output).valid
    # One field of the plate converts alone, from a directory or from inside the archive.
    single = tmp_path / "field.ome.zarr"
    convert(f"{source}/A/1/0", single)
    np.testing.assert_array_equal(open_image(str(single)).data.compute(), fields["A/1", "0"])


@pytest.mark.parametrize("name", ["labelled.zarr", "labelled.ozx"])
def test_labels_are_carried_to_object_storage(s3_bucket: str, tmp_path: Path, name: str) -> None:
    _, pixels = _image_with_labels(tmp_path / "in.zarr")
    url = f"{s3_bucket}/{name}"
    convert(tmp_path / "in.zarr", url)
    image = open_image(url)
    assert image.label_names == ["nuclei", "cells"]
    np.testing.assert_array_equal(image.label("cells").data.compute(), pixels["cells"])
    assert image.label("nuclei").properties[7] == {"class": "big"}


def test_labels_follow_the_scale_and_units_given_for_the_image(tmp_path: Path) -> None:
    _image_with_labels(tmp_path / "in.zarr")
    convert(tmp_path / "in.zarr", tmp_path / "out.zarr", scale={"y": 0.25, "x": 0.25}, units="nm")
    image = open_image(str(tmp_path / "out.zarr"))
    nuclei = image.label("nuclei")
    assert image.scales[0] == (1.0, 0.25, 0.25) and nuclei.scales[0] == (0.25, 0.25)
    assert nuclei.units == image.units == {"y": "nanometer", "x": "nanometer"}


def test_a_translation_that_is_not_carried_is_named(tmp_path: Path) -> None:
    _image_with_labels(tmp_path / "in.zarr")
    root = zarr.open_group(tmp_path / "in.zarr", mode="a")
    ome = dict(root.attrs["ome"])
    ome["multiscales"][0]["coordinateTransformations"] = [
        {"type": "scale", "scale": [1.0, 1.0, 1.0]},
        {"type": "translation", "translation": [0.0, 10.0, 20.0]},
    ]
    root.attrs["ome"] = ome
    with pytest.warns(ConversionWarning) as caught:
        convert(tmp_path / "in.zarr", tmp_path / "out.zarr")
    lines = [str(w.message) for w in caught if issubclass(w.category, ConversionWarning)]
    assert any("translation [0.0, 10.0, 20.0] is not carried" in line for line in lines)
    # The labels sat at the origin against an image that did not: both are named.
    assert any("labels/nuclei: its translation [0.0, 0.0]" in line for line in lines)


def test_a_16_bit_png_is_measured_at_two_bytes_a_sample_against_the_budget(
    tmp_path: Path, imagecodecs: Any
) -> None:
    # 1200 x 1200 x 3 samples: 8.2 MiB at 16 bits, above half of a 16 MiB budget (4.1 at 8).
    pixels = np.zeros((1200, 1200, 3), dtype=np.uint16)
    (tmp_path / "big48.png").write_bytes(imagecodecs.png_encode(pixels, level=1))
    with (
        pytest.raises(ConversionError, match="memory budget") as refused,
        open_input(tmp_path / "big48.png", memory_budget=16 * 2**20),
    ):
        pass
    assert refused.value.parameter == "memory_budget"


def test_the_thumbnail_command_renders_an_image_with_upper_case_axes(tmp_path: Path) -> None:
    from _cli import run_cli

    _upper_case_image(tmp_path / "upper.zarr", "0.5")
    result = run_cli("thumbnail", str(tmp_path / "upper.zarr"), str(tmp_path / "t.png"))
    assert result.returncode == 0, result.stderr
    with PILImage.open(tmp_path / "t.png") as picture:
        assert picture.size == (48, 32)
