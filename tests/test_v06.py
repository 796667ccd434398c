"""OME-NGFF 0.6: written by every pixel and metadata writer, read back by omezarr's reader and
by an independent one (ngff-zarr, which reads and validates 0.6 against its own schemas)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ngff_zarr as nz
import numpy as np
import pytest
import zarr

from _cli import run_cli
from omezarr.format import CurrentFormat, FormatV05, FormatV06, format_from_version
from omezarr.reader import open_image, open_plate
from omezarr.validate import validate
from omezarr.writer import (
    write_image,
    write_labels,
    write_multiscale,
    write_multiscales_metadata,
    write_plate_metadata,
    write_well_metadata,
)

UNITS = {"z": "micrometer", "y": "micrometer", "x": "micrometer"}


def _ome(path: Path) -> dict[str, Any]:
    return json.loads((path / "zarr.json").read_text())["attributes"]["ome"]


@pytest.fixture
def pixels(cells_image: Any) -> np.ndarray:
    """Two channels of 16 x 96 x 96 cells (uint16)."""
    return np.asarray(cells_image((2, 16, 96, 96), "uint16", 6))


@pytest.fixture
def image_06(tmp_path: Path, pixels: np.ndarray) -> Path:
    path = tmp_path / "cells.ome.zarr"
    write_image(
        pixels, str(path), fmt=FormatV06(), axes="czyx", scale={"z": 2.0, "y": 0.5, "x": 0.5},
        axes_units=UNITS, scale_factors=[2, 4], name="cells",
    )  # fmt: skip
    return path


def test_the_format_is_known_but_not_the_default() -> None:
    assert format_from_version("0.6") == FormatV06()
    assert FormatV06().zarr_format == 3 and FormatV06().metadata_is_nested
    assert CurrentFormat() == FormatV05()


def test_an_image_declares_its_intrinsic_system_and_one_transformation_per_level(
    image_06: Path,
) -> None:
    ome = _ome(image_06)
    assert ome["version"] == "0.6"
    (multiscale,) = ome["multiscales"]
    assert "axes" not in multiscale and "version" not in multiscale
    (system,) = multiscale["coordinateSystems"]
    assert system["name"] == "intrinsic"
    assert [a["name"] for a in system["axes"]] == ["c", "z", "y", "x"]
    assert system["axes"][3] == {"name": "x", "type": "space", "unit": "micrometer"}
    first, second, third = (d["coordinateTransformations"] for d in multiscale["datasets"])
    assert first == [
        {"type": "scale", "scale": [1.0, 2.0, 0.5, 0.5], "input": {"path": "s0"},
         "output": {"name": "intrinsic"}},
    ]  # fmt: skip
    # Coarser levels are centred on the pixels they summarise: (size_n - size_0) / 2.
    assert second[0]["type"] == "sequence" and second[0]["input"] == {"path": "s1"}
    assert second[0]["transformations"] == [
        {"type": "scale", "scale": [1.0, 2.0, 1.0, 1.0]},
        {"type": "translation", "translation": [0.0, 0.0, 0.25, 0.25]},
    ]
    assert third[0]["transformations"][1]["translation"] == [0.0, 0.0, 0.75, 0.75]
    # dimension_names stay on the arrays.
    assert zarr.open_array(str(image_06 / "s1")).metadata.dimension_names == ("c", "z", "y", "x")


def test_omezarr_reads_its_0_6_image_back(image_06: Path, pixels: np.ndarray) -> None:
    image = open_image(str(image_06))
    assert image.version == "0.6" and image.dims == ("c", "z", "y", "x")
    assert image.scales[0] == (1.0, 2.0, 0.5, 0.5) and image.scales[2] == (1.0, 2.0, 2.0, 2.0)
    assert image.translations[1] == (0.0, 0.0, 0.25, 0.25)
    assert image.units == UNITS
    np.testing.assert_array_equal(np.asarray(image.levels[0]), pixels)


def test_ngff_zarr_reads_and_validates_omezarr_0_6(image_06: Path) -> None:
    """An independent reader: ngff-zarr 0.50 validates 0.6 against its own copy of the schemas."""
    ours = open_image(str(image_06))
    theirs = nz.from_ngff_zarr(str(image_06), validate=True)
    assert len(theirs.images) == 3
    for level, image in enumerate(theirs.images):
        assert list(image.dims) == ["c", "z", "y", "x"]
        assert [image.scale[d] for d in image.dims] == list(ours.scales[level])
        assert [image.translation[d] for d in image.dims] == list(ours.translations[level])
        np.testing.assert_array_equal(np.asarray(image.data), np.asarray(ours.levels[level]))


def test_omezarr_reads_ngff_zarr_0_6(tmp_path: Path, pixels: np.ndarray) -> None:
    volume = pixels[0]
    image = nz.to_ngff_image(
        volume, dims=["z", "y", "x"], scale={"z": 2.0, "y": 0.5, "x": 0.5},
        axes_units=UNITS, name="theirs",
    )  # fmt: skip
    path = tmp_path / "theirs.ome.zarr"
    nz.to_ngff_zarr(str(path), nz.to_multiscales(image, scale_factors=[2]), version="0.6")
    ours = open_image(str(path))
    assert ours.version == "0.6" and ours.dims == ("z", "y", "x")
    assert ours.scales[0] == (2.0, 0.5, 0.5) and ours.units == UNITS
    np.testing.assert_array_equal(np.asarray(ours.levels[0]), volume)
    info = run_cli("info", str(path))
    assert info.returncode == 0 and "OME-Zarr 0.6 image" in info.stdout, info.stderr


def test_labels_of_a_0_6_image_are_0_6(image_06: Path, pixels: np.ndarray) -> None:
    mask = (pixels[:1] > pixels.mean()).astype(np.uint8)
    write_labels(mask, str(image_06), "mask", fmt=FormatV06(), axes="czyx", scale_factors=[2, 4])
    assert _ome(image_06 / "labels") == {"labels": ["mask"], "version": "0.6"}
    label = _ome(image_06 / "labels" / "mask")
    assert label["version"] == "0.6" and "version" not in label["image-label"]
    assert label["multiscales"][0]["coordinateSystems"][0]["name"] == "intrinsic"
    read = open_image(str(image_06)).labels()["mask"]
    np.testing.assert_array_equal(np.asarray(read.levels[0]), mask)


def test_a_given_pyramid_keeps_plain_scales(tmp_path: Path) -> None:
    """write_multiscale does not know how its levels were made: no offsets are invented."""
    pyramid = [np.zeros((64, 64), np.uint8), np.zeros((32, 32), np.uint8)]
    write_multiscale(pyramid, str(tmp_path / "given.zarr"), fmt=FormatV06(), axes="yx")
    datasets = _ome(tmp_path / "given.zarr")["multiscales"][0]["datasets"]
    assert [d["coordinateTransformations"][0]["type"] for d in datasets] == ["scale", "scale"]


def test_zoom_levels_keep_their_corners(tmp_path: Path) -> None:
    write_image(
        np.zeros((64, 64), np.uint8), str(tmp_path / "z.zarr"), fmt=FormatV06(), axes="yx",
        scale_factors=[2], method="zoom",
    )  # fmt: skip
    datasets = _ome(tmp_path / "z.zarr")["multiscales"][0]["datasets"]
    assert datasets[1]["coordinateTransformations"][0]["type"] == "scale"


def test_metadata_given_in_the_0_6_form_is_checked_and_kept(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "m.zarr", mode="w", zarr_format=3)
    group.create_array("0", shape=(8, 8), dtype="uint8", dimension_names=["y", "x"])
    to_physical = {"type": "scale", "scale": [0.5, 0.5], "input": {"path": "0"}}
    to_physical["output"] = {"name": "physical"}
    datasets = [{"path": "0", "coordinateTransformations": [to_physical]}]
    write_multiscales_metadata(group, datasets, fmt=FormatV06(), axes=["y", "x"])
    multiscale = _ome(tmp_path / "m.zarr")["multiscales"][0]
    assert multiscale["coordinateSystems"][0]["name"] == "physical"
    assert multiscale["datasets"] == datasets
    wrong = [{**datasets[0], "coordinateTransformations": [
        {**datasets[0]["coordinateTransformations"][0], "input": {"path": "1"}}]}]  # fmt: skip
    with pytest.raises(ValueError, match="input must be"):
        write_multiscales_metadata(group, wrong, fmt=FormatV06(), axes=["y", "x"])


def test_a_0_6_plate_has_its_version_only_at_ome(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "plate.zarr", mode="w", zarr_format=3)
    write_plate_metadata(root, ["A"], ["1", "2"], ["A/1", "A/2"], fmt=FormatV06())
    for well in ("A/1", "A/2"):
        group = root.require_group(well)
        write_well_metadata(group, [{"path": "0"}], fmt=FormatV06())
        write_image(
            np.full((16, 16), 7, np.uint8), group.require_group("0"), fmt=FormatV06(),
            axes="yx", scale_factors=[],
        )  # fmt: skip
    ome = _ome(tmp_path / "plate.zarr")
    assert ome["version"] == "0.6" and "version" not in ome["plate"]
    assert _ome(tmp_path / "plate.zarr" / "A" / "1") == {"well": {"images": [{"path": "0"}]},
                                                         "version": "0.6"}  # fmt: skip
    plate = open_plate(str(tmp_path / "plate.zarr"))
    assert int(np.asarray(plate.well("A/2").image(0).levels[0]).sum()) == 7 * 16 * 16


def test_convert_writes_0_6_on_request(tmp_path: Path, image_06: Path) -> None:
    result = run_cli("convert", str(image_06), str(tmp_path / "again.zarr"), "--format", "0.6")
    assert result.returncode == 0, result.stderr
    again = open_image(str(tmp_path / "again.zarr"))
    assert again.version == "0.6" and again.scales[0] == (1.0, 2.0, 0.5, 0.5)


def _oriented(values: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"name": n, "type": "space", "orientation": {"type": "anatomical", "value": v}}
        for n, v in values.items()
    ]


def test_an_anatomical_orientation_is_written_and_read_back(tmp_path: Path) -> None:
    """RFC-4: the direction of increasing coordinates on each space axis."""
    values = {"z": "superior-to-inferior", "y": "anterior-to-posterior", "x": "left-to-right"}
    path = tmp_path / "brain.zarr"
    write_image(np.zeros((8, 16, 16), np.uint8), str(path), fmt=FormatV06(),
                axes=_oriented(values), scale_factors=[2])  # fmt: skip
    axes = _ome(path)["multiscales"][0]["coordinateSystems"][0]["axes"]
    assert axes[0]["orientation"] == {"type": "anatomical", "value": "superior-to-inferior"}
    assert open_image(str(path)).orientation == values


@pytest.mark.parametrize(
    ("axes", "fmt", "message"),
    [
        (_oriented({"z": "superior-to-inferior", "y": "anterior-to-posterior",
                    "x": "left-to-right"}), FormatV05(), "needs OME-NGFF 0.6"),
        (_oriented({"z": "superior-to-inferior", "y": "inferior-to-superior",
                    "x": "left-to-right"}), FormatV06(), "both run along"),
        (_oriented({"z": "upwards", "y": "anterior-to-posterior", "x": "left-to-right"}),
         FormatV06(), "not one of RFC-4's"),
        ([{"name": "z", "type": "space"},
          *_oriented({"y": "anterior-to-posterior", "x": "left-to-right"})],
         FormatV06(), "have no orientation"),
    ],
    ids=["0.5", "same line", "unknown value", "partial"],
)  # fmt: skip
def test_a_wrong_orientation_is_refused_before_anything_is_written(
    tmp_path: Path, axes: list[dict[str, Any]], fmt: Any, message: str
) -> None:
    path = tmp_path / "refused.zarr"
    with pytest.raises(ValueError, match=message):
        write_image(np.zeros((8, 16, 16), np.uint8), str(path), fmt=fmt, axes=axes,
                    scale_factors=[])  # fmt: skip
    assert not path.exists()


WORLD = {"name": "world", "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]}


def test_further_systems_and_transformations_are_written_checked_and_followed(
    tmp_path: Path,
) -> None:
    to_world = {"type": "affine", "affine": [[0, 1, 10], [1, 0, 20]],
                "input": {"name": "intrinsic"}, "output": {"name": "world"}}  # fmt: skip
    path = tmp_path / "registered.zarr"
    write_image(np.zeros((32, 32), np.uint8), str(path), fmt=FormatV06(), axes="yx",
                scale={"y": 0.5, "x": 0.5}, scale_factors=[2], coordinateSystems=[WORLD],
                coordinateTransformations=[to_world])  # fmt: skip
    multiscale = _ome(path)["multiscales"][0]
    assert [s["name"] for s in multiscale["coordinateSystems"]] == ["intrinsic", "world"]
    assert multiscale["coordinateTransformations"] == [to_world]
    assert validate(str(path)).valid, validate(str(path)).format()
    image = open_image(str(path))
    assert image.coordinate_systems == ["intrinsic", "world"]
    # Pixel (2, 4) is (1, 2) micrometers, which the affine swaps and shifts.
    np.testing.assert_allclose(image.transform_points([[2, 4]], "world"), [[12, 21]])
    np.testing.assert_allclose(image.transform_points([[12, 21]], "path:s0", source="world"),
                               [[2, 4]])  # fmt: skip


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        ({"type": "rotation", "rotation": [[1, 1], [0, 1]]}, "orthonormal"),
        ({"type": "scale", "scale": [1, 1], "output": {"name": "nowhere"}}, "no coordinate system"),
        ({"type": "mapAxis", "mapAxis": [1, 1]}, "permutation"),
        ({"type": "scale", "scale": [1, 1, 1]}, "does not fit"),
    ],
    ids=["rotation", "system", "mapAxis", "length"],
)
def test_a_wrong_further_transformation_is_refused_before_writing(
    tmp_path: Path, transform: dict[str, Any], message: str
) -> None:
    full = {"input": {"name": "intrinsic"}, "output": {"name": "world"}, **transform}
    path = tmp_path / "refused.zarr"
    with pytest.raises(ValueError, match=message):
        write_image(np.zeros((8, 8), np.uint8), str(path), fmt=FormatV06(), axes="yx",
                    scale_factors=[], coordinateSystems=[WORLD],
                    coordinateTransformations=[full])  # fmt: skip
    assert not path.exists()


def test_array_valued_parameters_are_stored_as_arrays_and_followed(tmp_path: Path) -> None:
    """The spec stores large parameters (an affine, a rotation) as zarr arrays that the
    transformation names by ``path``; given as NumPy arrays, the writers do that."""
    affine = np.array([[0.0, 1.0, 10.0], [1.0, 0.0, 20.0]])
    to_world = {"type": "affine", "affine": affine, "name": "to-world",
                "input": {"name": "intrinsic"}, "output": {"name": "world"}}  # fmt: skip
    path = tmp_path / "stored.zarr"
    write_image(np.zeros((32, 32), np.uint8), str(path), fmt=FormatV06(), axes="yx",
                scale={"y": 0.5, "x": 0.5}, scale_factors=[2], coordinateSystems=[WORLD],
                coordinateTransformations=[to_world])  # fmt: skip
    written = _ome(path)["multiscales"][0]["coordinateTransformations"]
    assert written == [{"type": "affine", "name": "to-world", "path": "coordinateTransformations/to-world",
                        "input": {"name": "intrinsic"}, "output": {"name": "world"}}]  # fmt: skip
    stored = zarr.open_array(str(path / "coordinateTransformations" / "to-world"), mode="r")
    np.testing.assert_array_equal(stored[...], affine)
    report = validate(str(path))
    assert report.valid, report.format()
    image = open_image(str(path))
    np.testing.assert_allclose(image.transform_points([[2, 4]], "world"), [[12, 21]])
    # The metadata-only writer stores them too.
    other = tmp_path / "metadata-only.zarr"
    write_multiscales_metadata(str(other), [{"path": "s0", "coordinateTransformations": [
        {"type": "scale", "scale": [1.0, 1.0]}]}], fmt=FormatV06(), axes="yx",
        coordinateSystems=[WORLD], coordinateTransformations=[to_world])  # fmt: skip
    np.testing.assert_array_equal(
        zarr.open_array(str(other / "coordinateTransformations" / "to-world"))[...], affine
    )


def test_a_wrong_array_valued_parameter_is_refused_before_writing(tmp_path: Path) -> None:
    skewed = {"type": "rotation", "rotation": np.array([[1.0, 1.0], [0.0, 1.0]]),
              "input": {"name": "intrinsic"}, "output": {"name": "world"}}  # fmt: skip
    path = tmp_path / "refused.zarr"
    with pytest.raises(ValueError, match="orthonormal"):
        write_image(np.zeros((8, 8), np.uint8), str(path), fmt=FormatV06(), axes="yx",
                    scale_factors=[], coordinateSystems=[WORLD],
                    coordinateTransformations=[skewed])  # fmt: skip
    assert not path.exists()
    with pytest.raises(ValueError, match="cannot carry further transformations"):
        write_image(np.zeros((8, 8), np.uint8), str(path), fmt=FormatV05(), axes="yx",
                    scale_factors=[], coordinateTransformations=[skewed])  # fmt: skip
    assert not path.exists()


def test_arrays_inside_a_sequence_are_stored_or_written_as_lists(tmp_path: Path) -> None:
    """The released schemas allow a path for affine and rotation only: a scale or mapAxis
    given as an array is written inline; a rotation inside a sequence is stored."""
    quarter_turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    steps = [{"type": "scale", "scale": np.array([2.0, 3.0])},
             {"type": "mapAxis", "mapAxis": np.array([1, 0])},
             {"type": "rotation", "rotation": quarter_turn}]  # fmt: skip
    to_world = {"type": "sequence", "name": "seq", "transformations": steps,
                "input": {"name": "intrinsic"}, "output": {"name": "world"}}  # fmt: skip
    path = tmp_path / "sequence.zarr"
    write_image(np.zeros((8, 8), np.uint8), str(path), fmt=FormatV06(), axes="yx",
                scale_factors=[], coordinateSystems=[WORLD],
                coordinateTransformations=[to_world])  # fmt: skip
    written = _ome(path)["multiscales"][0]["coordinateTransformations"][0]["transformations"]
    assert written == [{"type": "scale", "scale": [2.0, 3.0]},
                       {"type": "mapAxis", "mapAxis": [1, 0]},
                       {"type": "rotation", "path": "coordinateTransformations/seq-2"}]  # fmt: skip
    report = validate(str(path))
    assert report.valid, report.format()
    # (1, 2) scaled to (2, 6), swapped to (6, 2), turned a quarter to (-2, 6)
    np.testing.assert_allclose(open_image(str(path)).transform_points([[1, 2]], "world"), [[-2, 6]])


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"path": "../elsewhere"}, "needs a 'path' to its field inside the image"),
        ({"interpolation": 3}, "'interpolation' must be a string"),
        ({"output": {"name": "plane"}}, "maps a system to one of as many axes, not 2 to 1"),
    ],
    ids=["path", "interpolation", "dimensions"],
)
def test_a_wrong_field_reference_is_refused_before_writing(
    tmp_path: Path, field: dict[str, Any], message: str
) -> None:
    plane = {"name": "plane", "axes": [{"name": "u", "type": "space"}]}
    transform = {"type": "displacements", "path": "coordinateTransformations/field",
                 "input": {"name": "intrinsic"}, "output": {"name": "world"}, **field}  # fmt: skip
    path = tmp_path / "refused.zarr"
    with pytest.raises(ValueError, match=message):
        write_image(np.zeros((8, 8), np.uint8), str(path), fmt=FormatV06(), axes="yx",
                    scale_factors=[], coordinateSystems=[WORLD, plane],
                    coordinateTransformations=[transform])  # fmt: skip
    assert not path.exists()


def test_points_are_not_mapped_through_a_field_and_say_so(tmp_path: Path) -> None:
    transform = {"type": "displacements", "path": "coordinateTransformations/field",
                 "input": {"name": "intrinsic"}, "output": {"name": "world"}}  # fmt: skip
    path = tmp_path / "warped.zarr"
    write_image(np.zeros((8, 8), np.uint8), str(path), fmt=FormatV06(), axes="yx",
                scale_factors=[], coordinateSystems=[WORLD],
                coordinateTransformations=[transform])  # fmt: skip
    with pytest.raises(ValueError, match="displacements field is not expressible as a matrix"):
        open_image(str(path)).transform_points([[1, 1]], "world")


# ---------------------------------------------------------------------------------------------
# ome-zarr-models (1.8's v06), an independent 0.6 model and validator
# ---------------------------------------------------------------------------------------------


def test_ome_zarr_models_validates_the_image_and_its_labels(
    image_06: Path, pixels: np.ndarray
) -> None:
    import warnings

    from ome_zarr_models.v06 import Image, ImageLabel

    write_labels((pixels[0] > pixels[0].mean()).astype(np.uint8), str(image_06), name="cells",
                 fmt=FormatV06(), axes="zyx")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its "0.6" -> "0.6.dev4" note
        group = zarr.open_group(str(image_06), mode="r")
        image = Image.from_zarr(group)
        label = ImageLabel.from_zarr(group["labels/cells"])
    multiscale = image.ome_attributes.multiscales[0]
    system = multiscale.coordinateSystems[0]
    assert system.name == "intrinsic" and [a.name for a in system.axes] == list("czyx")
    assert [d.path for d in multiscale.datasets] == ["s0", "s1", "s2"]
    level0 = multiscale.datasets[0].coordinateTransformations[0]
    assert tuple(level0.scale) == (1.0, 2.0, 0.5, 0.5)
    assert label.ome_attributes.image_label.source.image == "../../"
    np.testing.assert_array_equal(np.asarray(group["s0"]), pixels)


def _plate_06(tmp_path: Path) -> Path:
    root = zarr.open_group(tmp_path / "plate.zarr", mode="w", zarr_format=3)
    write_plate_metadata(root, ["A"], ["1"], ["A/1"], fmt=FormatV06())
    well = root.require_group("A/1")
    write_well_metadata(well, [{"path": "0"}], fmt=FormatV06())
    write_image(np.full((16, 16), 7, np.uint8), well.require_group("0"), fmt=FormatV06(),
                axes="yx", scale_factors=[])  # fmt: skip
    return tmp_path / "plate.zarr"


def test_ome_zarr_models_validates_a_well(tmp_path: Path) -> None:
    import warnings

    from ome_zarr_models.v06 import Well

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        well = Well.from_zarr(zarr.open_group(_plate_06(tmp_path) / "A" / "1", mode="r"))
    assert [image.path for image in well.ome_attributes.well.images] == ["0"]


@pytest.mark.xfail(
    strict=True,
    reason="upstream: ome-zarr-models 1.8.0rc0's v06 plate model requires plate.version, "
    "which 0.6 keeps only at ome (the released plate schema requires it there)",
)
def test_ome_zarr_models_validates_a_plate(tmp_path: Path) -> None:
    import warnings

    from ome_zarr_models.v06 import HCS

    path = _plate_06(tmp_path)
    assert validate(str(path)).valid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plate = HCS.from_zarr(zarr.open_group(path, mode="r"))
    assert [w.path for w in plate.ome_attributes.plate.wells] == ["A/1"]


def test_an_image_links_its_system_to_a_label_images_as_the_spec_allows(tmp_path: Path) -> None:
    link = {"type": "identity", "input": {"name": "intrinsic"},
            "output": {"name": "intrinsic", "path": "labels/cells"}}  # fmt: skip
    path = tmp_path / "linked.zarr"
    write_image(np.zeros((16, 16), np.uint8), str(path), fmt=FormatV06(), axes="yx",
                scale_factors=[], coordinateTransformations=[link])  # fmt: skip
    write_labels(np.ones((16, 16), np.uint8), str(path), name="cells", fmt=FormatV06(), axes="yx")
    report = validate(str(path))
    assert report.valid, report.format()
    for wrong, message in (
        ({**link, "type": "affine", "affine": [[1, 0, 0], [0, 1, 0]]}, "is identity, scale"),
        ({**link, "output": {"name": "intrinsic", "path": "other/cells"}}, "only in its labels"),
    ):
        refused = tmp_path / "refused.zarr"
        with pytest.raises(ValueError, match=message):
            write_image(np.zeros((16, 16), np.uint8), str(refused), fmt=FormatV06(), axes="yx",
                        scale_factors=[], coordinateTransformations=[wrong])  # fmt: skip
        assert not refused.exists()


# ---------------------------------------------------------------------------------------------
# The established library (ome-zarr >= 0.21 needs Python >= 3.12), in its own environment
# ---------------------------------------------------------------------------------------------

_READ_WITH_OME_ZARR = """
import json, sys
import numpy as np
import ome_zarr.format
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader
node = list(Reader(parse_url(sys.argv[1]))())[0]
print(json.dumps({
    "formats": [n for n in dir(ome_zarr.format) if n.startswith("FormatV")],
    "axes": [a["name"] for a in node.metadata["axes"]],
    "levels": [np.asarray(level).tolist() for level in node.data],
}))
"""


@pytest.fixture(scope="module")
def read_by_the_established_library(
    tmp_path_factory: pytest.TempPathFactory, established_library: Any
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """What ome-zarr 0.21 (in a Python >= 3.12 venv, tests/_established.py) reads of an
    omezarr 0.6 image."""
    import subprocess

    root = tmp_path_factory.mktemp("established")
    pixels = np.random.default_rng(8).integers(0, 4000, (2, 48, 40), dtype=np.uint16)
    image = root / "img.ome.zarr"
    write_image(pixels, str(image), fmt=FormatV06(), axes="cyx", scale_factors=[2])
    ours = [np.asarray(level) for level in open_image(str(image)).levels]
    read = subprocess.run(
        [established_library.python(), "-c", _READ_WITH_OME_ZARR, str(image)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert read.returncode == 0, read.stderr[-2000:]
    return json.loads(read.stdout.strip().splitlines()[-1]), ours


def test_the_established_library_reads_every_level_of_a_0_6_image(
    read_by_the_established_library: tuple[dict[str, Any], list[np.ndarray]],
) -> None:
    theirs, ours = read_by_the_established_library
    assert len(theirs["levels"]) == len(ours)
    for level, expected in zip(theirs["levels"], ours, strict=True):
        np.testing.assert_array_equal(np.asarray(level, dtype=expected.dtype), expected)


@pytest.mark.xfail(
    strict=True,
    reason="upstream: ome-zarr 0.21.0, the newest release, has no FormatV06; it reads 0.6 as "
    "0.5 and, finding no multiscales axes, assumes t, c, z, y, x",
)
def test_the_established_library_reads_the_axes_of_a_0_6_image(
    read_by_the_established_library: tuple[dict[str, Any], list[np.ndarray]],
) -> None:
    theirs, _ = read_by_the_established_library
    assert "FormatV06" in theirs["formats"]
    assert theirs["axes"] == ["c", "y", "x"]
