"""Tests for omezarr.metadata: the pure builders and checks of multiscales, labels, plates, wells."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from omezarr.format import Format, FormatV01, FormatV03, FormatV04, FormatV05
from omezarr.ngff.documents import (
    axis_names,
    build_image_label,
    build_multiscale,
    build_plate,
    build_well,
    level_transformations,
    valid_axes,
    validate_acquisitions,
    validate_datasets,
    validate_omero,
    validate_rows_columns,
    validate_well_images,
    validate_wells,
)

MODERN = [FormatV04(), FormatV05()]
YX = [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]


def dataset(path: str, *values: float) -> dict[str, Any]:
    return {"path": path, "coordinateTransformations": [{"type": "scale", "scale": list(values)}]}


def refusal(error: type[Exception], message: str) -> Any:
    """pytest.raises for an error whose message contains ``message`` literally."""
    return pytest.raises(error, match=re.escape(message))


# ------------------------------------------------------------------ axes helpers


def test_valid_axes_guesses_checks_and_skips_old_versions() -> None:
    assert valid_axes(None, None, FormatV04(), 2) == YX
    assert valid_axes("yx", None, FormatV04()) == YX
    assert valid_axes("zyx", None, FormatV03(), 3) == ["z", "y", "x"]
    assert valid_axes("zyx", None, FormatV01(), 3) is None
    with refusal(ValueError, "axes length (2) must match number of dimensions (3)"):
        valid_axes("yx", None, FormatV04(), 3)


def test_axis_names_of_every_axes_form() -> None:
    assert axis_names(None) == ("t", "c", "z", "y", "x")
    assert axis_names(["c", "y", "x"]) == ("c", "y", "x")
    assert axis_names(YX) == ("y", "x")


# ------------------------------------------------------------------ transformations


def test_level_transformations_multiply_level_scale_by_pixel_size() -> None:
    shapes = [(2, 100, 80), (2, 50, 40), (2, 25, 20)]
    result = level_transformations(shapes, ("c", "y", "x"), {"y": 0.5, "x": 2}, FormatV04())
    assert result == [
        [{"type": "scale", "scale": [1.0, 0.5, 2.0]}],
        [{"type": "scale", "scale": [1.0, 1.0, 4.0]}],
        [{"type": "scale", "scale": [1.0, 2.0, 8.0]}],
    ]
    assert level_transformations(shapes, ("c", "y", "x"), None, FormatV05()) == (
        FormatV05().generate_coordinate_transformations(shapes)
    )
    assert level_transformations(shapes, ("c", "y", "x"), {"y": 2}, FormatV03()) is None


@pytest.mark.parametrize(
    ("scale", "problem"),
    [
        ({"z": 1.0}, "scale: axes ['z'] are not among the axes ['y', 'x']"),
        ({"x": 0}, "scale: the pixel size of axis 'x' must be a positive number, not 0"),
        ({"x": -1.5}, "must be a positive number"),
        ({"x": "1"}, "must be a positive number"),
        ({"x": True}, "must be a positive number"),
        ({"x": float("inf")}, "must be a positive number"),
    ],
)
def test_level_transformations_refuses_bad_pixel_sizes(scale: Any, problem: str) -> None:
    with refusal(ValueError, problem):
        level_transformations([(4, 4)], ("y", "x"), scale, FormatV04())


# ------------------------------------------------------------------ datasets


@pytest.mark.parametrize("fmt", MODERN)
def test_validate_datasets_accepts_and_copies(fmt: Format) -> None:
    datasets = [dataset("0", 1, 1), dataset("1", 2, 2)]
    checked = validate_datasets(datasets, 2, fmt)
    assert checked == datasets
    assert checked[0] is not datasets[0]


def test_validate_datasets_before_0_4_needs_no_transformations() -> None:
    assert validate_datasets([{"path": "0"}], 3, FormatV03()) == [{"path": "0"}]


@pytest.mark.parametrize("fmt", MODERN)
@pytest.mark.parametrize(
    ("datasets", "error", "problem"),
    [
        ("0", TypeError, "datasets: expected a list, not str"),
        ({"path": "0"}, TypeError, "datasets: expected a list, not dict"),
        ([], ValueError, "datasets: Empty datasets list"),
        (["0"], ValueError, "datasets[0]: expected a dict with 'path'"),
        ([{"coordinateTransformations": []}], ValueError, "datasets[0]: no 'path'"),
        ([dataset("", 1, 1)], ValueError, "datasets[0]: no 'path'"),
        ([dataset("0", 1, 1), {"path": 1}], ValueError, "datasets[1]: no 'path'"),
        ([dataset("0", 1, 1), dataset("0", 2, 2)], ValueError, "paths must be unique"),
        ([dataset("0", 1, 1), {"path": "1"}], ValueError, "every dataset needs"),
        ([dataset("0", 1, 1, 1)], ValueError, "'scale' has 3 values, the image has 2"),
        ([dataset("0", 1, "a")], ValueError, "values must all be finite numbers"),
        (
            [{"path": "0", "coordinateTransformations": [{"type": "translation"}]}],
            ValueError,
            "exactly one 'scale'",
        ),
    ],
)
def test_validate_datasets_refusals_name_datasets(
    fmt: Format, datasets: Any, error: type[Exception], problem: str
) -> None:
    with pytest.raises(error, match=r"^datasets") as info:
        validate_datasets(datasets, 2, fmt)
    assert problem in str(info.value)


def test_validate_datasets_without_ndim_checks_scales_agree() -> None:
    validate_datasets([dataset("0", 1, 1, 1), dataset("1", 1, 2, 2)], -1, FormatV04())
    with refusal(ValueError, "'scale' has 2 values, the image has 3"):
        validate_datasets([dataset("0", 1, 1, 1), dataset("1", 2, 2)], -1, FormatV04())


# ------------------------------------------------------------------ omero

CHANNEL = {
    "color": "FF00aa",
    "window": {"min": 0, "max": 255, "start": 10, "end": 200.5},
    "label": "DAPI",
    "active": True,
}


def test_validate_omero_returns_a_deep_copy() -> None:
    omero = {"channels": [CHANNEL], "rdefs": {"model": "color"}}
    checked = validate_omero(omero, n_channels=1)
    assert checked == omero
    checked["channels"][0]["window"]["min"] = -1
    assert CHANNEL["window"]["min"] == 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("omero", "error", "problem"),
    [
        (["channels"], TypeError, "omero: expected a dict with 'channels'"),
        ({}, ValueError, "omero: a 'channels' list is required"),
        ({"channels": "DAPI"}, TypeError, "omero['channels']: expected a list"),
        ({"channels": [CHANNEL, CHANNEL]}, ValueError, "omero: 2 channels given, the image has 1"),
        ({"channels": ["DAPI"]}, TypeError, "omero['channels'][0]: expected a dict"),
        ({"channels": [{"color": "red"}]}, TypeError, "'color' must be a hex code string"),
        ({"channels": [{"color": "FF000"}]}, TypeError, "'color' must be a hex code string"),
        ({"channels": [{"color": "GG0000"}]}, TypeError, "'color' must be a hex code string"),
        ({"channels": [{"color": 0xFF0000}]}, TypeError, "'color' must be a hex code string"),
        ({"channels": [{"window": [0, 1]}]}, TypeError, "'window' must be a dict"),
        (
            {"channels": [{"window": {"min": 0, "max": 1, "start": 0}}]},
            KeyError,
            "omero['channels'][0]: 'end' not found in 'window'",
        ),
        (
            {"channels": [{"window": {"min": 0, "max": "1", "start": 0, "end": 1}}]},
            TypeError,
            "window 'max' must be an int or float",
        ),
        (
            {"channels": [{"window": {"min": 2, "max": 1, "start": 0, "end": 1}}]},
            ValueError,
            "window min 2 is greater than max 1",
        ),
    ],
)
def test_validate_omero_refuses_each_problem(
    omero: Any, error: type[Exception], problem: str
) -> None:
    with pytest.raises(error, match=r"omero") as info:
        validate_omero(omero, n_channels=1)
    assert problem in str(info.value)


# ------------------------------------------------------------------ multiscales


def test_build_multiscale_0_4_carries_version_and_keeps_extras() -> None:
    extra = {"type": "gaussian", "metadata": {"method": "skimage", "args": [1]}}
    entry = build_multiscale([dataset("0", 1, 1)], FormatV04(), YX, "image", extra)
    assert entry == {
        "type": "gaussian",
        "metadata": {"method": "skimage", "args": [1]},
        "datasets": [dataset("0", 1, 1)],
        "name": "image",
        "axes": YX,
        "version": "0.4",
    }
    entry["metadata"]["args"].append(2)
    assert extra["metadata"]["args"] == [1]  # type: ignore[index]


def test_build_multiscale_0_5_has_no_version_and_0_1_no_axes() -> None:
    entry = build_multiscale([dataset("0", 1, 1)], FormatV05(), YX, None)
    assert "version" not in entry
    assert "name" not in entry
    assert entry["axes"] == YX
    old = build_multiscale([{"path": "0"}], FormatV01(), None, "old")
    assert old == {"datasets": [{"path": "0"}], "name": "old", "version": "0.1"}


@pytest.mark.parametrize("key", ["datasets", "axes", "version"])
def test_build_multiscale_refuses_writer_keys_as_metadata(key: str) -> None:
    with refusal(ValueError, f"metadata: {key!r} is set by the writer"):
        build_multiscale([dataset("0", 1, 1)], FormatV04(), YX, "x", {key: "0.4"})


def test_build_multiscale_checks_scale_length_against_axes() -> None:
    with refusal(ValueError, "'scale' has 3 values, the image has 2"):
        build_multiscale([dataset("0", 1, 1, 1)], FormatV05(), YX, "x")


# ------------------------------------------------------------------ image-label


def test_build_image_label_keeps_colors_properties_and_source() -> None:
    colors = [{"label-value": 1, "rgba": [255, 0, 0, 255]}, {"label-value": 2.5}]
    properties = [{"label-value": 1, "class": "cell"}]
    label = build_image_label(FormatV04(), colors, properties, {"source": {"image": "../../"}})
    assert label == {
        "source": {"image": "../../"},
        "colors": colors,
        "properties": properties,
        "version": "0.4",
    }
    assert build_image_label(FormatV05()) == {}


@pytest.mark.parametrize(
    ("kwargs", "error", "problem"),
    [
        ({"colors": {"label-value": 1}}, TypeError, "colors: expected a list"),
        ({"colors": []}, ValueError, "colors: give at least one entry"),
        ({"colors": ["red"]}, TypeError, "colors[0]: expected a dict"),
        ({"colors": [{"rgba": [0, 0, 0, 0]}]}, ValueError, "colors[0]: a numeric 'label-value'"),
        ({"colors": [{"label-value": "1"}]}, ValueError, "colors[0]: a numeric 'label-value'"),
        (
            {"colors": [{"label-value": 1}, {"label-value": 1}]},
            ValueError,
            "colors[1]: label-value 1 appears twice",
        ),
        ({"colors": [{"label-value": 1, "rgba": [0, 0, 0]}]}, ValueError, "'rgba' must be 4"),
        ({"colors": [{"label-value": 1, "rgba": [0, 0, 0, 256]}]}, ValueError, "'rgba' must be"),
        ({"colors": [{"label-value": 1, "rgba": [0, 0, 0.5, 1]}]}, ValueError, "'rgba' must be"),
        ({"colors": [{"label-value": 1, "rgba": None}]}, ValueError, "'rgba' must be"),
        ({"properties": "cell"}, TypeError, "properties: expected a list"),
        ({"properties": []}, ValueError, "properties: give at least one entry"),
        ({"properties": [3]}, TypeError, "properties[0]: expected a dict"),
        ({"properties": [{"area": 3}]}, ValueError, "properties[0]: an integer 'label-value'"),
        ({"properties": [{"label-value": 1.5}]}, ValueError, "an integer 'label-value'"),
        (
            {"properties": [{"label-value": 1}, {"label-value": 1}]},
            ValueError,
            "properties[1]: label-value 1 appears twice",
        ),
        ({"extra": {"source": "../../"}}, TypeError, "source: expected a dict"),
        ({"extra": {"source": {"image": 1}}}, TypeError, "source: expected a dict"),
    ],
)
def test_build_image_label_refuses_each_problem(
    kwargs: dict[str, Any], error: type[Exception], problem: str
) -> None:
    with refusal(error, problem):
        build_image_label(FormatV04(), **kwargs)


# ------------------------------------------------------------------ plates


@pytest.mark.parametrize(
    ("values", "error", "problem"),
    [
        ("AB", TypeError, "rows: expected a list, not str"),
        (None, TypeError, "rows: expected a list, not NoneType"),
        ([], ValueError, "rows: at least one name is required"),
        (["A", 1], TypeError, "rows: names must be strings, not 1"),
        (["A", "B-2"], ValueError, "rows: 'B-2' must contain only alphanumeric characters"),
        (["A", ""], ValueError, "rows: '' must contain only alphanumeric"),
        (["A", "é"], ValueError, "rows: 'é' must contain only alphanumeric"),
        (["A", "A"], ValueError, "rows: ['A', 'A'] must contain unique elements"),
    ],
)
def test_validate_rows_columns_refusals(values: Any, error: type[Exception], problem: str) -> None:
    with refusal(error, problem):
        validate_rows_columns(values, "rows")
    assert validate_rows_columns(["A", "b2"], "columns") == [{"name": "A"}, {"name": "b2"}]


@pytest.mark.parametrize("fmt", MODERN)
def test_validate_wells_from_strings_and_dicts(fmt: Format) -> None:
    wells = validate_wells(
        ["B/1", {"path": "A/2", "rowIndex": 0, "columnIndex": 1}], "AB", "12", fmt
    )
    assert wells == [
        {"path": "B/1", "rowIndex": 1, "columnIndex": 0},
        {"path": "A/2", "rowIndex": 0, "columnIndex": 1},
    ]


@pytest.mark.parametrize(
    ("wells", "problem"),
    [
        ([], "wells: Empty wells list"),
        ([3], "wells: Unrecognized type for 3"),
        (["A/1", "A/1"], "wells: paths must be unique"),
        (["A/1", {"path": "A/1", "rowIndex": 0, "columnIndex": 0}], "paths must be unique"),
        (["C/1"], "wells: row 'C' of 'C/1' is not one of rows"),
        ([{"path": "A/1", "rowIndex": 1, "columnIndex": 0}], "wells: rowIndex 1 of 'A/1'"),
    ],
)
def test_validate_wells_refusals(wells: Any, problem: str) -> None:
    with refusal(ValueError, problem):
        validate_wells(wells, ["A", "B"], ["1", "2"], FormatV04())


def test_validate_wells_before_0_4_are_plain_paths() -> None:
    assert validate_wells(["A/1"], ["A"], ["1"], FormatV03()) == [{"path": "A/1"}]


@pytest.mark.parametrize(
    ("acquisitions", "error", "problem"),
    [
        ({"id": 0}, TypeError, "acquisitions: expected a list"),
        ([0], ValueError, "acquisitions[0]: 0 must be a dictionary"),
        ([{"name": "a"}], ValueError, "acquisitions[0]: {'name': 'a'} must contain an id key"),
        ([{"id": "0"}], ValueError, "acquisitions[0]: id must be a non-negative int"),
        ([{"id": -1}], ValueError, "id must be a non-negative int, not -1"),
        ([{"id": True}], ValueError, "id must be a non-negative int"),
        ([{"id": 0}, {"id": 0}], ValueError, "acquisitions: ids must be unique, found [0, 0]"),
        ([{"id": 0, "maximumfieldcount": 0}], ValueError, "maximumfieldcount must be positive"),
        ([{"id": 0, "maximumfieldcount": 1.5}], ValueError, "maximumfieldcount must be a non-neg"),
        ([{"id": 0, "starttime": -5}], ValueError, "starttime must be a non-negative int"),
        ([{"id": 0, "endtime": "noon"}], ValueError, "endtime must be a non-negative int"),
        ([{"id": 0, "name": 3}], ValueError, "name must be a string, not 3"),
        ([{"id": 0, "description": None}], ValueError, "description must be a string"),
    ],
)
def test_validate_acquisitions_refusals(
    acquisitions: Any, error: type[Exception], problem: str
) -> None:
    with refusal(error, problem):
        validate_acquisitions(acquisitions)


def test_validate_acquisitions_keeps_every_field() -> None:
    acquisitions = [
        {"id": 0, "name": "a", "maximumfieldcount": 2, "starttime": 1, "endtime": 2},
        {"id": 3, "description": "second", "custom": [1]},
    ]
    assert validate_acquisitions(acquisitions) == acquisitions


@pytest.mark.parametrize("fmt", MODERN)
def test_build_plate_keeps_version_inside_the_plate(fmt: Format) -> None:
    plate = build_plate(["A", "B"], ["1"], ["B/1"], fmt, [{"id": 0}], field_count=2, name="screen")
    assert plate == {
        "columns": [{"name": "1"}],
        "rows": [{"name": "A"}, {"name": "B"}],
        "wells": [{"path": "B/1", "rowIndex": 1, "columnIndex": 0}],
        "name": "screen",
        "field_count": 2,
        "acquisitions": [{"id": 0}],
        "version": fmt.version,
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "problem"),
    [
        ({"name": 3}, TypeError, "name: expected a string, not int"),
        ({"field_count": 0}, ValueError, "field_count: expected a positive int, not 0"),
        ({"field_count": 1.0}, ValueError, "field_count: expected a positive int"),
        ({"field_count": True}, ValueError, "field_count: expected a positive int"),
        ({"acquisitions": [{}]}, ValueError, "acquisitions[0]"),
    ],
)
def test_build_plate_refusals(kwargs: dict[str, Any], error: type[Exception], problem: str) -> None:
    with refusal(error, problem):
        build_plate(["A"], ["1"], ["A/1"], FormatV04(), **kwargs)


# ------------------------------------------------------------------ wells


def test_build_well_from_paths_and_dicts() -> None:
    images = ["0", {"path": "1", "acquisition": 3}]
    assert build_well(images, FormatV04()) == {
        "images": [{"path": "0"}, {"path": "1", "acquisition": 3}],
        "version": "0.4",
    }
    assert build_well(copy.deepcopy(images), FormatV05()) == {
        "images": [{"path": "0"}, {"path": "1", "acquisition": 3}]
    }


@pytest.mark.parametrize(
    ("images", "error", "problem"),
    [
        ("0", TypeError, "images: expected a list, not str"),
        ([], ValueError, "images: a well needs at least one field"),
        ([0], ValueError, "images[0]: Unrecognized type for 0"),
        ([{"acquisition": 0}], ValueError, "images[0]: {'acquisition': 0} must contain a path"),
        ([{"path": 0}], ValueError, "images[0]: {'path': 0} path must be of string type"),
        ([{"path": "0", "acquisition": "0"}], ValueError, "acquisition must be of int type"),
        ([{"path": "0", "acquisition": 1.0}], ValueError, "acquisition must be of int type"),
        ([{"path": "0", "acquisition": False}], ValueError, "acquisition must be of int type"),
        (["0", "a/b"], ValueError, "images[1]: path 'a/b' must be alphanumeric"),
        (["0", ""], ValueError, "images[1]: path '' must be alphanumeric"),
        (["0", {"path": "0"}], ValueError, "images: paths must be unique"),
    ],
)
def test_validate_well_images_refusals(images: Any, error: type[Exception], problem: str) -> None:
    with refusal(error, problem):
        validate_well_images(images)
