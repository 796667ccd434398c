"""omezarr.validate: hierarchies built with zarr directly, one test per rule, the CLI."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zarr
import zarr.storage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _cli import run_cli
from omezarr.cli import main
from omezarr.validate import (
    ArrayFacts,
    ValidationReport,
    Violation,
    check_document,
    validate,
    validate_document,
)

AXIS_TYPES = {
    "t": "time",
    "u": "time",
    "c": "channel",
    "a": "angle",
    "z": "space",
    "y": "space",
    "x": "space",
}
ZARR_FORMAT = {"0.4": 2, "0.5": 3}

# --------------------------------------------------------------------------- builders


def level_shapes(shape: tuple[int, ...], axes: str, levels: int) -> list[tuple[int, ...]]:
    """Halve x and y at every level."""
    return [
        tuple(max(1, s // 2**k) if a in "yx" else s for s, a in zip(shape, axes, strict=True))
        for k in range(levels)
    ]


def multiscales(axes: str, levels: int, name: str = "image") -> list[dict[str, Any]]:
    datasets = [
        {
            "path": str(k),
            "coordinateTransformations": [
                {"type": "scale", "scale": [2.0**k if a in "yx" else 1.0 for a in axes]}
            ],
        }
        for k in range(levels)
    ]
    return [
        {
            "name": name,
            "type": "local_mean",
            "metadata": {"method": "test builder"},
            "axes": [{"name": a, "type": AXIS_TYPES[a]} for a in axes],
            "datasets": datasets,
        }
    ]


def put_metadata(group: zarr.Group, version: str, metadata: dict[str, Any]) -> None:
    """Store NGFF metadata where ``version`` keeps it, with the version where it belongs."""
    metadata = copy.deepcopy(metadata)
    if version == "0.5":
        group.attrs.put({"ome": {"version": "0.5", **metadata}})
        return
    for key in ("plate", "well", "image-label"):
        if key in metadata:
            metadata[key]["version"] = "0.4"
    for multiscale in metadata.get("multiscales", []):
        multiscale["version"] = "0.4"
    group.attrs.put(metadata)


def get_metadata(group: zarr.Group) -> dict[str, Any]:
    attrs = group.attrs.asdict()
    return copy.deepcopy(attrs.get("ome", attrs))


def add_arrays(
    group: zarr.Group,
    version: str,
    shapes: list[tuple[int, ...]],
    axes: str,
    dtype: str,
    dimension_names: list[str] | None = None,
) -> None:
    for k, shape in enumerate(shapes):
        options: dict[str, Any] = {}
        if version == "0.5":
            options["dimension_names"] = dimension_names or list(axes)
        group.create_array(str(k), shape=shape, dtype=dtype, chunks=shape, **options)


def make_image(
    group: zarr.Group,
    version: str,
    shape: tuple[int, ...] = (2, 4, 16, 16),
    axes: str = "czyx",
    levels: int = 2,
    dtype: str = "uint16",
    label: bool = False,
) -> zarr.Group:
    metadata: dict[str, Any] = {"multiscales": multiscales(axes, levels)}
    if label:
        metadata["image-label"] = {"colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}
    elif "c" in axes:
        channels = shape[axes.index("c")]
        metadata["omero"] = {
            "channels": [
                {
                    "color": "00FF00",
                    "window": {"min": 0, "max": 65535, "start": 0, "end": 1000},
                    "label": f"ch{i}",
                    "active": True,
                }
                for i in range(channels)
            ]
        }
    put_metadata(group, version, metadata)
    add_arrays(group, version, level_shapes(shape, axes, levels), axes, dtype)
    return group


def make_image_with_labels(root: zarr.Group, version: str) -> zarr.Group:
    make_image(root, version)
    labels = root.create_group("labels")
    put_metadata(labels, version, {"labels": ["cells"]})
    make_image(
        labels.create_group("cells"),
        version,
        shape=(4, 16, 16),
        axes="zyx",
        dtype="uint32",
        label=True,
    )
    return root


def make_plate(root: zarr.Group, version: str) -> zarr.Group:
    wells = [
        {"path": "A/1", "rowIndex": 0, "columnIndex": 0},
        {"path": "B/2", "rowIndex": 1, "columnIndex": 1},
    ]
    plate = {
        "name": "plate",
        "rows": [{"name": "A"}, {"name": "B"}],
        "columns": [{"name": "1"}, {"name": "2"}],
        "wells": wells,
        "field_count": 1,
    }
    put_metadata(root, version, {"plate": plate})
    for well in wells:
        well_group = root.create_group(well["path"])
        put_metadata(well_group, version, {"well": {"images": [{"path": "0"}]}})
        make_image(well_group.create_group("0"), version, shape=(1, 8, 8), axes="cyx")
    return root


def new_group(tmp_path: Path, version: str, name: str = "data.zarr") -> zarr.Group:
    return zarr.open_group(tmp_path / name, mode="w", zarr_format=ZARR_FORMAT[version])


def rules_of(report: ValidationReport) -> set[str]:
    return {v.rule for v in report.violations}


def only(report: ValidationReport, rule: str) -> Violation:
    """The single violation of ``rule``, after checking that nothing else fired."""
    assert rules_of(report) == {rule}, report.format()
    (violation,) = report.violations
    return violation


VERSIONS = pytest.mark.parametrize("version", ["0.4", "0.5"])


# --------------------------------------------------------------------------- valid hierarchies


@VERSIONS
def test_image_with_labels_is_valid(tmp_path: Path, version: str) -> None:
    make_image_with_labels(new_group(tmp_path, version), version)
    report = validate(tmp_path / "data.zarr")
    assert report.violations == [], report.format()
    assert report.valid
    assert (report.kind, report.version) == ("image", version)


@VERSIONS
def test_plate_with_wells_is_valid(tmp_path: Path, version: str) -> None:
    make_plate(new_group(tmp_path, version), version)
    report = validate(str(tmp_path / "data.zarr"), strict=True)
    assert report.violations == [], report.format()
    assert (report.kind, report.version) == ("plate", version)


@VERSIONS
def test_bf2raw_container_with_series_is_valid(tmp_path: Path, version: str) -> None:
    root = new_group(tmp_path, version)
    put_metadata(root, version, {"bioformats2raw.layout": 3})
    for index in ("0", "1"):
        make_image(root.create_group(index), version)
    put_metadata(root.create_group("OME"), version, {"series": ["0", "1"]})
    report = validate(root)
    assert report.violations == [], report.format()
    assert (report.kind, report.version) == ("bf2raw", version)


def test_bf2raw_series_are_checked(tmp_path: Path) -> None:
    root = new_group(tmp_path, "0.5")
    put_metadata(root, "0.5", {"bioformats2raw.layout": 3})
    make_image(root.create_group("0"), "0.5")
    put_metadata(root.create_group("OME"), "0.5", {"series": ["0", "1"]})
    violation = only(validate(root), "bf2raw-series")
    assert violation.location == "1"
    assert violation.message == "a series image is listed but does not exist"


def test_bf2raw_without_series_list_visits_numbered_images(tmp_path: Path) -> None:
    root = new_group(tmp_path, "0.4")
    put_metadata(root, "0.4", {"bioformats2raw.layout": 3})
    make_image(root.create_group("0"), "0.4")
    image = make_image(root.create_group("1"), "0.4")
    image.attrs.put({})  # series 1 has lost its metadata
    violation = only(validate(root), "bf2raw-series")
    assert violation.location == "1"
    assert violation.message == "expected a series image, found no NGFF metadata"


def test_validate_accepts_a_group_and_a_store() -> None:
    store = zarr.storage.MemoryStore()
    group = zarr.open_group(store, mode="w", zarr_format=3)
    make_image_with_labels(group, "0.5")
    assert validate(group).valid
    assert validate(store).valid


# --------------------------------------------------------------------------- not an OME-Zarr


def test_plain_directory_is_not_an_ome_zarr(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    report = validate(tmp_path / "plain")
    violation = only(report, "not-ome-zarr")
    assert violation.location == "."
    assert "not an OME-Zarr" in violation.message
    assert report.kind is None and not report.valid


def test_group_without_ngff_metadata_is_not_an_ome_zarr(tmp_path: Path) -> None:
    new_group(tmp_path, "0.5").attrs.put({"something": "else"})
    assert "not an OME-Zarr" in only(validate(tmp_path / "data.zarr"), "not-ome-zarr").message


def test_array_is_not_an_ome_zarr(tmp_path: Path) -> None:
    zarr.create_array(tmp_path / "a.zarr", shape=(2, 2), dtype="uint8")
    assert "array" in only(validate(tmp_path / "a.zarr"), "not-ome-zarr").message


def test_missing_path_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="target"):
        validate(tmp_path / "missing.zarr")


def test_bad_target_type_raises_type_error() -> None:
    with pytest.raises(TypeError, match="target"):
        validate(42)  # type: ignore[arg-type]


def test_bad_max_violations_raises_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_violations"):
        validate(tmp_path, max_violations=0)


def test_unsupported_version_is_reported(tmp_path: Path) -> None:
    group = make_image(new_group(tmp_path, "0.4"), "0.4")
    metadata = get_metadata(group)
    metadata["multiscales"][0]["version"] = "0.3"
    group.attrs.put(metadata)
    violation = only(validate(group), "version")
    assert "'0.3'" in violation.message


def test_unreadable_level_metadata_is_reported(tmp_path: Path) -> None:
    make_image(new_group(tmp_path, "0.5"), "0.5")
    (tmp_path / "data.zarr" / "1" / "zarr.json").write_text("{ not json")
    report = validate(tmp_path / "data.zarr")
    assert "unreadable" in rules_of(report)
    unreadable = [v for v in report.violations if v.rule == "unreadable"]
    assert unreadable[0].location == "1"


@VERSIONS
@pytest.mark.parametrize(
    ("attributes", "problem"),
    [("[]", "malformed"), ('{"deep": ' + "[" * 10_000 + "]" * 10_000 + "}", "nested too deeply")],
    ids=["attributes-not-an-object", "nested-10000-deep"],
)
def test_unreadable_root_metadata_is_an_unreadable_violation(
    tmp_path: Path, version: str, attributes: str, problem: str
) -> None:
    make_image(new_group(tmp_path, version), version)
    root = tmp_path / "data.zarr"
    if version == "0.5":
        text = (root / "zarr.json").read_text()
        document = json.loads(text)
        document["attributes"] = "ATTRIBUTES"
        (root / "zarr.json").write_text(json.dumps(document).replace('"ATTRIBUTES"', attributes))
    else:
        (root / ".zattrs").write_text(attributes)
    violation = only(validate(root), "unreadable")
    assert violation.location == "."
    assert problem in violation.message and str(root) in violation.message


# --------------------------------------------------------------------------- the rules


def test_zarr_format_must_match_the_version(tmp_path: Path) -> None:
    group = new_group(tmp_path, "0.4")  # zarr v2 holding 0.5 metadata
    put_metadata(group, "0.5", {"multiscales": multiscales("yx", 1)})
    add_arrays(group, "0.4", [(8, 8)], "yx", "uint8")
    report = validate(group)
    assert rules_of(report) == {"zarr-format", "dimension-names"}
    (violation,) = [v for v in report.violations if v.location == "."]
    assert violation.rule == "zarr-format"
    assert violation.message == "OME-NGFF 0.5 is stored in zarr v3, this group is zarr v2"


def test_metadata_layout_of_05_is_under_ome(tmp_path: Path) -> None:
    group = new_group(tmp_path, "0.5")
    make_image(group, "0.5")
    group.attrs.put(get_metadata(group))  # 0.5 metadata lifted to the top level
    report = validate(group)
    assert "metadata-layout" in rules_of(report)
    assert any("under the 'ome' attribute" in v.message for v in report.violations)


def test_missing_level_array_is_reported_though_schema_accepts(tmp_path: Path) -> None:
    group = make_image(new_group(tmp_path, "0.5"), "0.5")
    assert validate_document(group.attrs.asdict(), "image", "0.5") == []
    del group["1"]
    violation = only(validate(group), "dataset-array")
    assert violation.location == "#/ome/multiscales/0/datasets/1"
    assert violation.message == "the level array '1' does not exist"


def test_level_that_is_a_group_is_reported(tmp_path: Path) -> None:
    group = make_image(new_group(tmp_path, "0.4"), "0.4")
    del group["1"]
    group.create_group("1")
    assert "is a group" in only(validate(group), "dataset-array").message


def test_array_dimensions_must_match_the_axes(tmp_path: Path) -> None:
    group = make_image(new_group(tmp_path, "0.4"), "0.4")
    del group["1"]
    group.create_array("1", shape=(2, 4, 8), dtype="uint16")
    violation = only(validate(group), "dataset-ndim")
    assert violation.location == "#/multiscales/0/datasets/1"
    assert "3 dimensions" in violation.message and "4 axes" in violation.message


def test_dimension_names_must_equal_axis_names(tmp_path: Path) -> None:
    group = new_group(tmp_path, "0.5")
    put_metadata(group, "0.5", {"multiscales": multiscales("zyx", 1)})
    add_arrays(group, "0.5", [(4, 8, 8)], "zyx", "uint8", dimension_names=["z", "x", "y"])
    assert validate_document(group.attrs.asdict(), "image", "0.5") == []  # schema accepts
    violation = only(validate(group), "dimension-names")
    assert violation.location == "#/ome/multiscales/0/datasets/0"
    assert "['z', 'x', 'y']" in violation.message and "['z', 'y', 'x']" in violation.message


def test_dimension_names_are_required_in_05(tmp_path: Path) -> None:
    group = new_group(tmp_path, "0.5")
    put_metadata(group, "0.5", {"multiscales": multiscales("yx", 1)})
    group.create_array("0", shape=(8, 8), dtype="uint8")
    assert "no dimension_names" in only(validate(group), "dimension-names").message


def test_scale_length_must_equal_ndim() -> None:
    document = {"ome": {"version": "0.5", "multiscales": multiscales("zyx", 1)}}
    document["ome"]["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"] = [
        1.0,
        1.0,
    ]
    assert validate_document(document, "image", "0.5") == []  # the schema accepts it
    (violation,) = validate_document(document, "image", "0.5", rules=True)
    assert violation.rule == "transformations"
    assert violation.location == "#/ome/multiscales/0/datasets"
    assert "'scale' has 2 values" in violation.message and "3 dimensions" in violation.message


def test_translation_must_follow_the_scale() -> None:
    document = {"multiscales": multiscales("yx", 1)}
    transforms = document["multiscales"][0]["datasets"][0]["coordinateTransformations"]
    transforms.insert(0, {"type": "translation", "translation": [0.5, 0.5]})
    assert validate_document(document, "image", "0.4") == []  # the schema accepts it
    (violation,) = check_document(document, "image", "0.4")
    assert violation.rule == "transformations"
    assert "'scale' must come first" in violation.message


def test_multiscale_level_transformations_are_checked() -> None:
    document = {"multiscales": multiscales("yx", 1)}
    document["multiscales"][0]["coordinateTransformations"] = [
        {"type": "scale", "scale": [1.0, 1.0, 1.0]}
    ]
    (violation,) = check_document(document, "image", "0.4")
    assert violation.rule == "transformations"
    assert violation.location == "#/multiscales/0/coordinateTransformations"


def test_levels_must_shrink(tmp_path: Path) -> None:
    group = new_group(tmp_path, "0.5")
    put_metadata(group, "0.5", {"multiscales": multiscales("yx", 2)})
    add_arrays(group, "0.5", [(8, 8), (16, 8)], "yx", "uint8")
    violation = only(validate(group), "level-order")
    assert violation.location == "#/ome/multiscales/0/datasets/1"
    assert "[16, 8]" in violation.message and "larger" in violation.message


def test_level_scales_must_grow() -> None:
    document = {"multiscales": multiscales("yx", 2)}
    document["multiscales"][0]["datasets"][1]["coordinateTransformations"][0]["scale"] = [
        0.5,
        2.0,
    ]
    (violation,) = check_document(document, "image", "0.4")
    assert violation.rule == "level-order"
    assert "smaller" in violation.message


@pytest.mark.parametrize(
    ("axes", "expected"),
    [
        ("xyt", "must come before"),  # the schemas accept any order
        ("tuyx", "at most one time axis"),
        ("yxc", "must come before"),
        ("cayx", "at most one channel or custom axis"),
    ],
)
def test_axes_rules(axes: str, expected: str) -> None:
    document = {"multiscales": multiscales(axes, 1)}
    assert validate_document(document, "image", "0.4") == []  # the schema accepts all of these
    violations = check_document(document, "image", "0.4")
    assert {v.rule for v in violations} == {"axes"}
    assert violations[0].location == "#/multiscales/0/axes"
    assert any(expected in v.message for v in violations), violations


def test_axis_names_must_be_unique() -> None:
    document = {"multiscales": multiscales("zyx", 1)}
    document["multiscales"][0]["axes"][0] = {"name": "y", "type": "space", "unit": "micrometer"}
    assert validate_document(document, "image", "0.4") == []  # the dicts differ, names do not
    (violation,) = check_document(document, "image", "0.4")
    assert violation.rule == "axes" and "unique" in violation.message


def test_label_arrays_must_be_integers_in_05(tmp_path: Path) -> None:
    root = make_image_with_labels(new_group(tmp_path, "0.5"), "0.5")
    labels = root["labels/cells"]
    del labels["0"]
    labels.create_array("0", shape=(4, 16, 16), dtype="float32", dimension_names=list("zyx"))
    violation = only(validate(root), "label-dtype")
    assert violation.location == "labels/cells#/ome/multiscales/0/datasets/0"
    assert violation.severity == "error"
    assert "float32" in violation.message


def test_label_arrays_of_floats_only_warn_in_04(tmp_path: Path) -> None:
    root = make_image_with_labels(new_group(tmp_path, "0.4"), "0.4")
    labels = root["labels/cells"]
    del labels["1"]
    labels.create_array("1", shape=(4, 8, 8), dtype="float64")
    report = validate(root)
    violation = only(report, "label-dtype")
    assert violation.severity == "warning"
    assert report.valid and report.warnings == [violation]


def test_label_image_needs_as_many_levels_as_its_source(tmp_path: Path) -> None:
    root = make_image_with_labels(new_group(tmp_path, "0.5"), "0.5")
    labels = root["labels/cells"]
    metadata = get_metadata(labels)
    metadata["multiscales"][0]["datasets"].pop()
    put_metadata(labels, "0.5", metadata)
    violation = only(validate(root), "label-levels")
    assert violation.location == "labels/cells#/ome/multiscales/0/datasets"
    assert "1 levels" in violation.message and "has 2" in violation.message


def test_listed_label_must_exist(tmp_path: Path) -> None:
    root = make_image_with_labels(new_group(tmp_path, "0.4"), "0.4")
    put_metadata(root["labels"], "0.4", {"labels": ["cells", "nuclei"]})
    violation = only(validate(root), "labels-exist")
    assert violation.location == "labels/nuclei"
    assert "does not exist" in violation.message


def test_listed_label_must_be_a_label_image(tmp_path: Path) -> None:
    root = make_image_with_labels(new_group(tmp_path, "0.5"), "0.5")
    make_image(root["labels"].create_group("raw"), "0.5", shape=(4, 16, 16), axes="zyx")
    put_metadata(root["labels"], "0.5", {"labels": ["cells", "raw"]})
    violation = only(validate(root), "labels-exist")
    assert violation.location == "labels/raw"
    assert violation.message == "expected a label image, found image"


def test_labels_list_must_hold_relative_names() -> None:
    violations = check_document({"labels": ["ok", "../escape", 3, "ok"]}, "labels", "0.4")
    assert [v.location for v in violations] == ["#/labels/1", "#/labels/2", "#/labels"]
    assert {v.rule for v in violations} == {"labels"}


def test_level_path_must_stay_inside_the_group() -> None:
    document = {"multiscales": multiscales("yx", 1)}
    document["multiscales"][0]["datasets"][0]["path"] = "../elsewhere"
    facts = {"0": ArrayFacts(shape=(8, 8), dtype="uint8", zarr_format=2)}
    (violation,) = check_document(document, "image", "0.4", arrays=facts)
    assert violation.rule == "dataset-array"
    assert "not a relative path inside the group" in violation.message


def test_labels_subgroup_needs_labels_metadata(tmp_path: Path) -> None:
    root = make_image_with_labels(new_group(tmp_path, "0.4"), "0.4")
    root["labels"].attrs.put({})
    violation = only(validate(root), "labels-group")
    assert violation.location == "labels"


def test_child_version_must_match_the_parent(tmp_path: Path) -> None:
    root = make_plate(new_group(tmp_path, "0.4"), "0.4")
    root["A/1"].attrs.put({"ome": {"version": "0.5", "well": {"images": [{"path": "0"}]}}})
    report = validate(root)
    assert rules_of(report) == {"version", "zarr-format"}
    messages = {v.message for v in report.violations if v.location == "A/1"}
    assert "OME-NGFF 0.5 inside an OME-NGFF 0.4 hierarchy" in messages


def test_well_fields_must_be_unique() -> None:
    document = {"well": {"images": [{"path": "0"}, {"path": "0", "acquisition": 1}]}}
    assert validate_document(document, "well", "0.4") == []  # the items differ
    (violation,) = check_document(document, "well", "0.4")
    assert (violation.rule, violation.location) == ("well-unique", "#/well/images")


def test_plate_rows_must_be_unique() -> None:
    plate = {
        "rows": [{"name": "A"}, {"name": "A", "note": "again"}],
        "columns": [{"name": "1"}],
        "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}],
    }
    assert validate_document({"plate": plate}, "plate", "0.4") == []  # items differ
    (violation,) = check_document({"plate": plate}, "plate", "0.4")
    assert violation.rule == "plate-unique"
    assert violation.location == "#/plate/rows"


def test_well_indices_must_agree_with_rows_and_columns(tmp_path: Path) -> None:
    root = make_plate(new_group(tmp_path, "0.5"), "0.5")
    metadata = get_metadata(root)
    metadata["plate"]["wells"][1]["rowIndex"] = 0
    put_metadata(root, "0.5", metadata)
    violation = only(validate(root), "plate-well")
    assert violation.location == "#/ome/plate/wells/1"
    assert "rowIndex 0" in violation.message


def test_well_group_must_exist(tmp_path: Path) -> None:
    root = make_plate(new_group(tmp_path, "0.4"), "0.4")
    del root["B/2"]
    violation = only(validate(root), "plate-well-exists")
    assert violation.location == "B/2"


def test_well_group_needs_well_metadata(tmp_path: Path) -> None:
    root = make_plate(new_group(tmp_path, "0.5"), "0.5")
    root["A/1"].attrs.put({})
    violation = only(validate(root), "plate-well-exists")
    assert violation.location == "A/1"
    assert violation.message == "expected a well group, found no NGFF metadata"


def test_well_field_image_must_exist(tmp_path: Path) -> None:
    root = make_plate(new_group(tmp_path, "0.5"), "0.5")
    put_metadata(root["A/1"], "0.5", {"well": {"images": [{"path": "0"}, {"path": "1"}]}})
    violation = only(validate(root), "well-image")
    assert violation.location == "A/1/1"


def test_well_field_image_is_validated(tmp_path: Path) -> None:
    root = make_plate(new_group(tmp_path, "0.4"), "0.4")
    del root["B/2/0/1"]
    violation = only(validate(root), "dataset-array")
    assert violation.location == "B/2/0#/multiscales/0/datasets/1"


def test_omero_channels_must_match_the_channel_axis(tmp_path: Path) -> None:
    group = make_image(new_group(tmp_path, "0.5"), "0.5")
    metadata = get_metadata(group)
    metadata["omero"]["channels"].pop()
    put_metadata(group, "0.5", metadata)
    violation = only(validate(group), "omero")
    assert violation.location == "#/ome/omero"
    assert "1 channels given, the image has 2 channels" in violation.message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"color": "red"}, "hex code"),  # any string passes the schema
        ({"window": {"min": 10, "max": 0, "start": 0, "end": 5}}, "greater than max"),
        ({"window": {"min": 0, "max": 10, "start": 0}}, "'end' not found"),
    ],
)
def test_omero_windows_and_colours(change: dict[str, Any], expected: str) -> None:
    document = {"multiscales": multiscales("cyx", 1), "omero": {"channels": [change]}}
    violations = check_document(document, "image", "0.4")
    assert [v.rule for v in violations] == ["omero"]
    assert expected in violations[0].message


def test_strict_schemas_require_more(tmp_path: Path) -> None:
    group = make_image(new_group(tmp_path, "0.5"), "0.5")
    metadata = get_metadata(group)
    del metadata["multiscales"][0]["name"]
    put_metadata(group, "0.5", metadata)
    assert validate(group).valid
    violation = only(validate(group, strict=True), "schema")
    assert "'name' is a required property" in violation.message


def test_violations_are_capped(tmp_path: Path) -> None:
    root = make_plate(new_group(tmp_path, "0.5"), "0.5")
    for well in ("A/1", "B/2"):
        del root[well]
    report = validate(root, max_violations=1)
    assert [v.rule for v in report.violations] == ["plate-well-exists", "budget"]
    assert not report.valid


def test_check_document_uses_array_facts() -> None:
    document = {"ome": {"version": "0.5", "multiscales": multiscales("yx", 1)}}
    facts = ArrayFacts(shape=(8, 8), dtype="uint8", zarr_format=2, dimension_names=None)
    violations = check_document(document, "image", "0.5", arrays={"0": facts})
    assert {v.rule for v in violations} == {"zarr-format", "dimension-names"}


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda: validate_document({}, "imgae", "0.4"), "kind"),
        (lambda: validate_document({}, "image", "0.7"), "version"),
        (lambda: check_document({}, "image", 0.4), "version"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_name_the_parameter(call: Callable[[], Any], parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        call()


# --------------------------------------------------------------------------- the report


def test_report_formats_for_humans_and_json(tmp_path: Path) -> None:
    root = make_plate(new_group(tmp_path, "0.4"), "0.4")
    del root["B/2"]
    report = validate(root)
    assert report.format() == "B/2: a well group is listed but does not exist [plate-well-exists]"
    assert report.summary().endswith("invalid OME-Zarr 0.4 plate (1 error, 0 warnings)")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["valid"] is False and data["error_count"] == 1
    assert data["violations"][0]["rule"] == "plate-well-exists"
    assert str(report.violations[0]) == "B/2: a well group is listed but does not exist"


def test_report_has_no_truth_value() -> None:
    with pytest.raises(TypeError, match=r"report\.valid"):
        bool(ValidationReport("x"))


# --------------------------------------------------------------------------- property-based


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-3, 70000) | st.floats() | st.text(max_size=4)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=6,
    )


def _containers(value: Any) -> list[Any]:
    """Every dict and list inside ``value``, ``value`` included."""
    found = []
    if isinstance(value, dict | list):
        found.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            found.extend(_containers(child))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid image or plate document with a few random deletions, replacements, insertions."""
    version = draw(st.sampled_from(["0.4", "0.5"]))
    metadata: dict[str, Any] = draw(
        st.sampled_from(
            [
                {
                    "multiscales": multiscales("tczyx", 3),
                    "omero": {"channels": [{"color": "FF0000"}]},
                },
                {"multiscales": multiscales("yx", 2), "image-label": {"colors": []}},
                {
                    "plate": {
                        "rows": [{"name": "A"}],
                        "columns": [{"name": "1"}],
                        "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}],
                    },
                    "well": {"images": [{"path": "0"}]},
                    "labels": ["a"],
                },
            ]
        )
    )
    document = copy.deepcopy(
        {"ome": {"version": "0.5", **metadata}} if version == "0.5" else metadata
    )
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(_containers(document)))
        action = draw(st.sampled_from(["replace", "delete", "insert"]))
        if isinstance(target, dict):
            keys = list(target)
            if action == "insert" or not keys:
                target[draw(st.sampled_from([*keys, "path", "scale", "axes", "x"]))] = draw(
                    _json_values()
                )
            elif action == "delete":
                del target[draw(st.sampled_from(keys))]
            else:
                target[draw(st.sampled_from(keys))] = draw(_json_values())
        elif action == "insert" or not target:
            target.insert(draw(st.integers(0, len(target))), draw(_json_values()))
        elif action == "delete":
            del target[draw(st.integers(0, len(target) - 1))]
        else:
            target[draw(st.integers(0, len(target) - 1))] = draw(_json_values())
    return version, document


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_documents())
def test_mutated_documents_give_reports_never_exceptions(case: tuple[str, dict[str, Any]]) -> None:
    version, document = case
    for kind in ("image", "label", "plate", "well"):
        violations = validate_document(document, kind, version, rules=True)
        assert all(isinstance(v, Violation) and v.message for v in violations)
    facts = ArrayFacts(shape=(1, 2, 3, 8, 8), dtype="float32", zarr_format=2)
    for kind in ("image", "label", "labels"):
        check_document(document, kind, version, arrays={"0": facts, "1": None}, source_levels=2)
    store = zarr.storage.MemoryStore()
    group = zarr.open_group(store, mode="w", zarr_format=ZARR_FORMAT[version])
    group.create_array("0", shape=(1, 2, 3, 8, 8), dtype="uint8")
    group.create_group("A/1")
    group.attrs.put(document)
    report = validate(group)
    assert isinstance(report, ValidationReport)
    assert all(v.location and v.message and v.rule for v in report.violations)
    # "unreadable" is for broken zarr metadata; here it would hide a crash of the rules.
    assert "unreadable" not in rules_of(report), report.format()


# --------------------------------------------------------------------------- command line


def test_cli_valid_image_exits_0(tmp_path: Path) -> None:
    make_image_with_labels(new_group(tmp_path, "0.5"), "0.5")
    result = run_cli("validate", str(tmp_path / "data.zarr"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("✓ ")
    assert "valid OME-Zarr 0.5 image" in result.stdout


def test_cli_invalid_plate_exits_1_with_violations(tmp_path: Path) -> None:
    root = make_plate(new_group(tmp_path, "0.4"), "0.4")
    del root["A/1"]
    result = run_cli("validate", str(tmp_path / "data.zarr"))
    assert result.returncode == 1
    first, second = result.stdout.splitlines()
    assert first.startswith("✗ ") and "invalid OME-Zarr 0.4 plate" in first
    assert second == "A/1: a well group is listed but does not exist [plate-well-exists]"


def test_cli_missing_path_exits_2_without_traceback(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "missing.zarr"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"omezarr validate: error: {tmp_path / 'missing.zarr'}: no such file or directory"
    ]


def test_cli_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_plate(new_group(tmp_path, "0.5"), "0.5")
    assert main(["validate", str(tmp_path / "data.zarr"), "--json", "--strict"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["valid"], data["kind"], data["version"]) == (True, "plate", "0.5")


def test_cli_not_an_ome_zarr_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 1
    assert "not an OME-Zarr" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["validate"], ["frobnicate"], ["validate", "x", "--nope"]])
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage" in capsys.readouterr().err


def test_cli_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out
