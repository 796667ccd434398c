"""Vendor files without Java: Zeiss CZI written by pylibCZIrw (Zeiss's own library), a Leica
LIF built here from the format's published layout, the Nikon ND2 that the pims_nd2 package
ships (when installed), and the one-line refusals of broken files and missing extras."""

from __future__ import annotations

import importlib
import importlib.metadata
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pylibCZIrw import czi as pyczi  # the test extra installs omezarr[vendor]

from omezarr.convert import ConversionError, InvalidParameterError, convert, open_input
from omezarr.convert.inputs import series_of
from omezarr.convert.vendor import vendor_kind
from omezarr.read import open_bioformats2raw, open_image
from omezarr.validate import validate

# --------------------------------------------------------------------------- CZI files


def _tint(red: int, green: int, blue: int) -> Any:
    color = pyczi.Rgb8Color(np.uint8(red), np.uint8(green), np.uint8(blue))
    return pyczi.ChannelDisplaySettingsDataClass(True, pyczi.TintingMode.Color, color, 0.0, 1.0)


def _write_czi(
    path: Path,
    scenes: dict[int, tuple[tuple[int, int], np.ndarray]],
    *,
    names: dict[int, str] | None = None,
    tints: dict[int, tuple[int, int, int]] | None = None,
    scale_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> None:
    """A CZI of ``scenes`` (scene index: (x, y) of its top-left corner, TCZYX pixels), as
    pylibCZIrw writes it: one subblock per plane; names, colours and sizes in its metadata."""
    with pyczi.create_czi(str(path), exist_ok=True) as writer:
        for scene, (location, pixels) in scenes.items():
            for t, z, c in np.ndindex(pixels.shape[0], pixels.shape[2], pixels.shape[1]):
                plane = {"T": t, "Z": z, "C": c}
                writer.write(
                    pixels[t, c, z][..., None], plane=plane, scene=scene, location=location
                )
        writer.write_metadata(
            document_name="vendor test",
            channel_names=names,
            scale_x=scale_m[0],
            scale_y=scale_m[1],
            scale_z=scale_m[2],
            display_settings={c: _tint(*rgb) for c, rgb in (tints or {}).items()},
        )


@pytest.fixture
def two_scenes(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    """A CZI of two scenes of 2 time points, 2 named and coloured channels, 3 z planes."""
    rng = np.random.default_rng(7)
    first = rng.integers(0, 60_000, size=(2, 2, 3, 40, 56), dtype=np.uint16)
    second = rng.integers(0, 60_000, size=(2, 2, 3, 24, 32), dtype=np.uint16)
    path = tmp_path / "two scenes.czi"
    _write_czi(
        path,
        {0: ((0, 0), first), 1: ((300, 120), second)},
        names={0: "DAPI", 1: "GFP"},
        tints={0: (0, 0, 255), 1: (0, 255, 0)},
        scale_m=(0.2e-6, 0.3e-6, 1.5e-6),
    )
    return path, [first, second]


def test_czi_scenes_convert_with_equal_pixels_sizes_names_and_colours(
    tmp_path: Path, two_scenes: tuple[Path, list[np.ndarray]]
) -> None:
    source, pixels = two_scenes
    assert series_of(source) == (2, None)
    output = tmp_path / "scenes.ome.zarr"
    result = convert(str(source), str(output))
    assert result.info["kind"] == "bioformats2raw"
    collection = open_bioformats2raw(str(output))
    assert collection.series == ["0", "1"]
    for index, expected in enumerate(pixels):
        image = collection.image(index)
        assert image.dims == ("t", "c", "z", "y", "x")
        np.testing.assert_array_equal(np.asarray(image.levels[0]), expected)
        assert image.scales[0][2:] == pytest.approx((1.5, 0.3, 0.2))
        assert [axis.get("unit") for axis in image.axes[2:]] == ["micrometer"] * 3
        assert image.omero is not None
        channels = image.omero["channels"]
        assert [(c["label"], c["color"]) for c in channels] == [
            ("DAPI", "0000FF"),
            ("GFP", "00FF00"),
        ]
    assert validate(output, strict=True).valid


def test_czi_series_picks_one_scene_and_refuses_one_it_lacks(
    tmp_path: Path, two_scenes: tuple[Path, list[np.ndarray]]
) -> None:
    source, pixels = two_scenes
    output = tmp_path / "second.ome.zarr"
    convert(str(source), str(output), series=1)
    np.testing.assert_array_equal(np.asarray(open_image(output).levels[0]), pixels[1])
    with pytest.raises(InvalidParameterError, match="series 0 to 1, not 2"):
        convert(str(source), str(tmp_path / "none.ome.zarr"), series=2)


def test_czi_regions_are_read_lazily_as_rois_of_the_scene(
    two_scenes: tuple[Path, list[np.ndarray]], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, pixels = two_scenes
    reads: list[tuple[Any, dict[str, int]]] = []
    original = pyczi.CziReader.read

    def counting(self: Any, **kwargs: Any) -> np.ndarray:
        reads.append((tuple(kwargs["roi"]), dict(kwargs["plane"])))
        return original(self, **kwargs)

    with open_input(source, series=1) as image:
        monkeypatch.setattr(pyczi.CziReader, "read", counting)
        block = image.data[slice(1, 2), slice(0, 1), slice(2, 3), slice(5, 15), slice(4, 20)]
    np.testing.assert_array_equal(block, pixels[1][1:2, 0:1, 2:3, 5:15, 4:20])
    # One plane, and only its part: x, y, width, height in the plate's coordinates.
    assert reads == [((304, 125, 16, 10), {"T": 1, "C": 0, "Z": 2})]
    with open_input(source, series=1) as image:  # strided regions too
        strided = image.data[
            slice(0, 2), slice(None), slice(0, 3, 2), slice(1, 20, 3), slice(0, 30, 4)
        ]
    np.testing.assert_array_equal(strided, pixels[1][:, :, 0:3:2, 1:20:3, 0:30:4])


def test_czi_mosaic_tiles_are_composed_into_one_plane(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    left = rng.integers(0, 255, size=(30, 20), dtype=np.uint8)
    right = rng.integers(0, 255, size=(30, 25), dtype=np.uint8)
    source = tmp_path / "mosaic.czi"
    with pyczi.create_czi(str(source), exist_ok=True) as writer:
        writer.write(left[..., None], plane={"C": 0}, location=(100, 40))
        writer.write(right[..., None], plane={"C": 0}, location=(120, 40))
        writer.write_metadata(scale_x=1e-6, scale_y=1e-6)
    with open_input(source) as image:
        assert image.axes == "yx"
        assert image.scale == {"x": 1.0, "y": 1.0}
        np.testing.assert_array_equal(
            image.data[slice(None), slice(None)], np.hstack([left, right])
        )


def test_czi_rgb_samples_become_red_green_blue_channels(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    bgr = rng.integers(0, 255, size=(16, 24, 3), dtype=np.uint8)  # Bgr24: B, G, R in memory
    source = tmp_path / "slide.czi"
    with pyczi.create_czi(str(source), exist_ok=True) as writer:
        writer.write(bgr, plane={"C": 0})
        writer.write_metadata()
    with open_input(source) as image:
        assert (image.source_axes, image.axes) == ("YXS", "cyx")
        assert image.channel_names == ["red", "green", "blue"]
        assert image.channel_colors == ["FF0000", "00FF00", "0000FF"]
        rgb = image.data[slice(None), slice(None), slice(None)]
    np.testing.assert_array_equal(rgb, np.moveaxis(bgr[..., ::-1], -1, 0))


def test_truncated_czi_is_refused_in_one_line_before_anything_is_written(
    tmp_path: Path, two_scenes: tuple[Path, list[np.ndarray]]
) -> None:
    source, _ = two_scenes
    cut = tmp_path / "cut.czi"
    cut.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    assert series_of(cut) == (1, None)  # refused with its reason when opened
    output = tmp_path / "cut.ome.zarr"
    with pytest.raises(ConversionError) as caught:
        convert(str(cut), str(output))
    message = str(caught.value)
    assert message.startswith(f"{cut}: not a readable CZI file")
    assert "\n" not in message
    assert not output.exists()


# --------------------------------------------------------------------------- detection, extras


@pytest.mark.parametrize(
    ("head", "name", "kind"),
    [
        (b"ZISRAWFILE" + bytes(6), "a.czi", "CZI"),
        (b"\xda\xce\xbe\x0a" + bytes(12), "a.nd2", "ND2"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(4), "old.ND2", "ND2"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(4), "picture.jp2", None),
        (b"\x70\x00\x00\x00\x10\x00\x00\x00\x2a\x03\x00\x00\x00<\x00", "a.lif", "LIF"),
        (b"\x70\x00\x00\x00\x10\x00\x00\x00\x00\x03\x00\x00\x00<\x00", "a.lif", None),
        (b"II*\x00" + bytes(12), "a.czi", None),
    ],
)
def test_vendor_files_are_recognised_by_their_first_bytes(
    head: bytes, name: str, kind: str | None
) -> None:
    assert vendor_kind(head, Path(name)) == kind


_BROKEN = {
    "CZI": ("pylibCZIrw", b"ZISRAWFILE" + bytes(22)),
    "ND2": ("nd2", b"\xda\xce\xbe\x0a" + b"junk" * 8),
    "LIF": ("liffile", b"\x70\x00\x00\x00\x10\x00\x00\x00\x2a\x40\x00\x00\x00<\x00"),
}


@pytest.mark.parametrize("kind", sorted(_BROKEN))
def test_a_missing_extra_is_named_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    package, head = _BROKEN[kind]
    source = tmp_path / f"file.{kind.lower()}"
    source.write_bytes(head)
    for module in [name for name in sys.modules if name.split(".")[0] == package]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, package, None)  # "not installed"
    assert series_of(source) == (1, None)
    with pytest.raises(ConversionError) as caught, open_input(source):
        pass
    assert str(caught.value) == (
        f"{source}: reading {kind} files needs {package}: pip install 'omezarr[{kind.lower()}]'"
    )


@pytest.mark.parametrize("kind", sorted(_BROKEN))
def test_a_broken_vendor_file_is_refused_in_one_line(tmp_path: Path, kind: str) -> None:
    package, head = _BROKEN[kind]
    importlib.import_module(package)  # installed by the test extra: its reader is what fails
    source = tmp_path / f"broken.{kind.lower()}"
    source.write_bytes(head)
    with pytest.raises(ConversionError) as caught, open_input(source):
        pass
    message = str(caught.value)
    assert message.startswith(f"{source}: not a readable {kind} file")
    assert "\n" not in message


# --------------------------------------------------------------------------- LIF files


def _lif_channels(lut_names: list[str], bits: int, plane_bytes: int) -> str:
    return "".join(
        f'<ChannelDescription DataType="0" ChannelTag="0" Resolution="{bits}" '
        f'NameOfMeasuredQuantity="" Min="0" Max="{2**bits - 1}" Unit="" LUTName="{lut}" '
        f'IsLUTInverted="0" BytesInc="{i * plane_bytes}" BitInc="0"/>'
        for i, lut in enumerate(lut_names)
    )


def _lif_dimension(dim_id: int, count: int, step: float, unit: str, bytes_inc: int) -> str:
    return (
        f'<DimensionDescription DimID="{dim_id}" NumberOfElements="{count}" Origin="0" '
        f'Length="{step * (count - 1)!r}" Unit="{unit}" BitInc="0" BytesInc="{bytes_inc}"/>'
    )


def _lif_element(name: str, block: str, nbytes: int, channels: str, dimensions: str) -> str:
    return (
        f'<Element Name="{name}"><Data><Image><ImageDescription>'
        f"<Channels>{channels}</Channels><Dimensions>{dimensions}</Dimensions>"
        f'</ImageDescription></Image></Data><Memory Size="{nbytes}" MemoryBlockID="{block}"/>'
        "<Children/></Element>"
    )


def _write_lif(path: Path, stack: np.ndarray, tiles: np.ndarray) -> None:
    """A LIF (version 2) as the Leica format description lays it out: an XML header, then one
    memory block per image. ``stack`` is TZCYX uint16 (channels with the Green and Red LUTs,
    0.25 µm pixels, 2 µm z steps, 1.5 s time steps), ``tiles`` a tile scan MYX of uint8.

    Written here, not by Leica software (no library on PyPI writes LIF): it pins how omezarr
    maps what liffile reads, not every layout LAS X writes."""
    t, z, c, y, x = stack.shape
    plane = y * x * 2
    stack_xml = _lif_element(
        "cells",
        "MemBlock_1",
        stack.nbytes,
        _lif_channels(["Green", "Red"][:c], 16, plane),
        _lif_dimension(1, x, 0.25e-6, "m", 2)
        + _lif_dimension(2, y, 0.25e-6, "m", 2 * x)
        + _lif_dimension(3, z, 2e-6, "m", plane * c)
        + _lif_dimension(4, t, 1.5, "s", plane * c * z),
    )
    m, ty, tx = tiles.shape
    tiles_xml = _lif_element(
        "scan",
        "MemBlock_2",
        tiles.nbytes,
        _lif_channels(["Gray"], 8, ty * tx),
        _lif_dimension(1, tx, 1e-6, "m", 1)
        + _lif_dimension(2, ty, 1e-6, "m", tx)
        + _lif_dimension(10, m, 1.0, "", tx * ty),
    )
    xml = (
        '<LMSDataContainerHeader Version="2"><Element Name="project"><Data><Experiment/></Data>'
        '<Memory Size="0" MemoryBlockID="MemBlock_0"/>'
        f"<Children>{stack_xml}{tiles_xml}</Children></Element></LMSDataContainerHeader>"
    )
    with path.open("wb") as lif:
        lif.write(struct.pack("<IIBI", 0x70, 2 * len(xml) + 5, 0x2A, len(xml)))
        lif.write(xml.encode("utf-16-le"))
        for block, data in (("MemBlock_0", b""), ("MemBlock_1", stack), ("MemBlock_2", tiles)):
            payload = data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes()
            lif.write(struct.pack("<IIBQBI", 0x70, 0, 0x2A, len(payload), 0x2A, len(block)))
            lif.write(block.encode("utf-16-le"))
            lif.write(payload)


@pytest.fixture
def lif_file(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    import liffile  # noqa: F401

    rng = np.random.default_rng(11)
    stack = rng.integers(0, 4000, size=(2, 3, 2, 20, 28), dtype=np.uint16)
    tiles = rng.integers(0, 255, size=(2, 12, 16), dtype=np.uint8)
    path = tmp_path / "experiment.lif"
    _write_lif(path, stack, tiles)
    return path, stack, tiles


def test_lif_images_and_tiles_become_series_with_sizes_names_and_colours(
    tmp_path: Path, lif_file: tuple[Path, np.ndarray, np.ndarray]
) -> None:
    source, stack, tiles = lif_file
    assert series_of(source) == (3, None)
    output = tmp_path / "experiment.ome.zarr"
    result = convert(str(source), str(output))
    assert [image["name"] for image in result.info["images"]] == [
        "cells",
        "scan tile 0",
        "scan tile 1",
    ]
    collection = open_bioformats2raw(str(output))
    cells = collection.image(0)
    assert cells.dims == ("t", "c", "z", "y", "x")
    np.testing.assert_array_equal(np.asarray(cells.levels[0]), stack.transpose(0, 2, 1, 3, 4))
    assert cells.scales[0] == pytest.approx((1.5, 1.0, 2.0, 0.25, 0.25))
    assert [axis.get("unit") for axis in cells.axes] == [
        "second",
        None,
        "micrometer",
        "micrometer",
        "micrometer",
    ]
    assert cells.omero is not None
    assert [(c["label"], c["color"]) for c in cells.omero["channels"]] == [
        ("Green", "00FF00"),
        ("Red", "FF0000"),
    ]
    for tile in range(2):
        image = collection.image(1 + tile)
        assert image.dims == ("y", "x")
        np.testing.assert_array_equal(np.asarray(image.levels[0]), tiles[tile])
        assert image.scales[0] == pytest.approx((1.0, 1.0))
    assert validate(output, strict=True).valid


def test_lif_regions_read_only_the_frames_they_cover(
    lif_file: tuple[Path, np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    import liffile

    source, stack, _ = lif_file
    frames: list[dict[str, int]] = []
    original = liffile.LifImage.frame

    def counting(self: Any, **indices: int) -> np.ndarray:
        frames.append(indices)
        return original(self, **indices)

    with open_input(source) as image:
        monkeypatch.setattr(liffile.LifImage, "frame", counting)
        block = image.data[slice(1, 2), slice(0, 2), slice(2, 3), slice(3, 9), slice(0, 28)]
    np.testing.assert_array_equal(block, stack.transpose(0, 2, 1, 3, 4)[1:2, 0:2, 2:3, 3:9])
    # Two frames (one per channel) of time point 1, z plane 2: each read once, nothing else.
    assert sorted(sorted(f.items()) for f in frames) == [
        [("C", c), ("T", 1), ("Z", 2)] for c in range(2)
    ]


# --------------------------------------------------------------------------- ND2 files


def _shipped_nd2() -> Path:
    """cluster.nd2, a NIS-Elements file (2 channels, 10 z planes, 3 time points) that the
    pims_nd2 package ships in its source distribution; the test extra installs it, so its
    absence is a failure (no wheel on PyPI holds an ND2 file, and nothing writes one)."""
    try:
        distribution = importlib.metadata.distribution("pims_nd2")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("pims_nd2 (which ships cluster.nd2) is not installed: pip install -e '.[test]'")
    path = Path(str(distribution.locate_file("pims_nd2/cluster.nd2")))
    assert path.is_file(), f"pims_nd2 is installed without cluster.nd2 ({path})"
    return path


def test_nd2_converts_with_equal_pixels_sizes_names_and_colours(tmp_path: Path) -> None:
    import nd2

    source = _shipped_nd2()
    expected = nd2.imread(str(source))  # TZCYX
    output = tmp_path / "cluster.ome.zarr"
    result = convert(str(source), str(output))
    assert result.source is not None and result.source.ome_xml is not None
    image = open_image(output)
    assert image.dims == ("t", "c", "z", "y", "x")
    np.testing.assert_array_equal(np.asarray(image.levels[0]), expected.transpose(0, 2, 1, 3, 4))
    with nd2.ND2File(str(source)) as file:
        voxel = file.voxel_size()
        channels = [(c.channel.name, c.channel.color) for c in file.metadata.channels or []]
    assert image.scales[0][2:] == pytest.approx((voxel.z, voxel.y, voxel.x))
    assert image.omero is not None
    assert [(c["label"], c["color"]) for c in image.omero["channels"]] == [
        (name, f"{color.r:02X}{color.g:02X}{color.b:02X}") for name, color in channels
    ]
    assert validate(output, strict=True).valid


def test_truncated_nd2_is_refused_in_one_line(tmp_path: Path) -> None:
    source = _shipped_nd2()
    cut = tmp_path / "cut.nd2"
    cut.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(ConversionError) as caught:
        convert(str(cut), str(tmp_path / "cut.ome.zarr"))
    assert str(caught.value).startswith(f"{cut}: not a readable ND2 file")
    assert not (tmp_path / "cut.ome.zarr").exists()
