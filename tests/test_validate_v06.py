"""OME-NGFF 0.6: the upstream attribute cases, the 0.6 rules, and whole hierarchies on disk."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zarr

from _cli import run_cli
from omezarr.validate import check_document, validate, validate_document

CASES = Path(__file__).parent / "data" / "ngff-0.6" / "0.6rc0" / "tests" / "attributes"

# Cases upstream calls valid that break a MUST of the 0.6 text; our rule layer refuses them.
RULES_REFUSE: dict[str, tuple[str, str]] = {
    "spec/valid/image/mismatch_axes_units.json": (
        "transform-dimensions",
        "upstream: a scale of 2 values for a 3-axis coordinate system; the scale's length "
        "MUST equal the dimensionality",
    ),
    "spec/valid/image/multiscales_transform_additional_transforms.json": (
        "by-dimension",
        "upstream: the byDimension's outputAxes leave output axis 2 out; every output axis "
        "MUST appear in exactly one outputAxes",
    ),
    "spec/valid/transforms/byDimension.json": (
        "axes",
        "upstream: the multiscales coordinate system 'array_coordinates' has no space axes; "
        "every coordinate system of a multiscales MUST have 2 or 3",
    ),
    "strict/valid/image/image_omero.json": (
        "transformation-reference",
        "upstream: the multiscales transformation names a coordinate system 'intrinsic' "
        "that the document does not define",
    ),
    "strict/valid/image/multiscales_example.json": (
        "dataset-input",
        "upstream: dataset '1' takes its input from path 's1'; the input path MUST match "
        "the dataset's path",
    ),
    **{
        path: (
            "plate-well",
            "upstream: well 'A/1' names row 'A' but the only row is '1' (rows and columns "
            "swapped); a well path MUST be a row name, '/', a column name",
        )
        for path in (
            "spec/valid/plate/minimal_acquisitions.json",
            "spec/valid/plate/minimal_no_acquisitions.json",
            "strict/valid/plate/strict_acquisitions.json",
            "strict/valid/plate/strict_no_acquisitions.json",
        )
    },
    "spec/valid/plate/non_alphanumeric_row.json": (
        "plate-well",
        "upstream: well 'A/A1' names row 'A' but the only row is 'A1'; a well path MUST be "
        "a row name, '/', a column name",
    ),
}


def _case(path: Path) -> tuple[dict[str, Any], str, bool, bool]:
    """The document (without ``_conformance``), its kind, strictness and expected verdict."""
    document = json.loads(path.read_text())
    conformance = document.pop("_conformance", None)
    strictness, verdict, kind = path.relative_to(CASES).parts[:3]
    if conformance is not None:  # the schema it names decides the kind
        stem = conformance["schema"]["id"].rsplit("/", 1)[-1].removesuffix(".schema")
        kind = stem.removeprefix("strict_")
    return document, kind, strictness == "strict", verdict == "valid"


def _cases(mark_refused: bool) -> list[Any]:
    params = []
    for path in sorted(CASES.rglob("*.json")):
        key = path.relative_to(CASES).as_posix()
        marks = []
        if mark_refused and key in RULES_REFUSE:
            marks.append(pytest.mark.xfail(strict=True, reason=RULES_REFUSE[key][1]))
        params.append(pytest.param(path, id=key, marks=marks))
    return params


def test_every_case_is_found() -> None:
    paths = list(CASES.rglob("*.json"))
    assert len(paths) == 143
    assert sum("/valid/" in p.as_posix() for p in paths) == 37
    assert set(RULES_REFUSE) <= {p.relative_to(CASES).as_posix() for p in paths}


@pytest.mark.parametrize("path", _cases(mark_refused=False))
def test_schema_layer_gives_every_case_its_verdict(path: Path) -> None:
    document, kind, strict, valid = _case(path)
    violations = validate_document(document, kind, "0.6", strict=strict)
    assert (violations == []) is valid, [str(v) for v in violations]


@pytest.mark.parametrize("path", _cases(mark_refused=True))
def test_case_gets_its_verdict_from_schemas_and_rules(path: Path) -> None:
    document, kind, strict, valid = _case(path)
    violations = validate_document(document, kind, "0.6", strict=strict, rules=True)
    errors = [str(v) for v in violations if v.severity == "error"]
    assert (errors == []) is valid, errors


@pytest.mark.parametrize("key", sorted(RULES_REFUSE))
def test_rules_refuse_the_upstream_valid_cases_that_break_the_text(key: str) -> None:
    document, kind, strict, valid = _case(CASES / key)
    assert valid
    assert validate_document(document, kind, "0.6", strict=strict) == []
    rules = {v.rule for v in check_document(document, kind, "0.6")}
    assert RULES_REFUSE[key][0] in rules


def _with_object_references(document: dict[str, Any]) -> dict[str, Any]:
    """The document with 0.6.dev-style string ``input``/``output`` turned into objects."""
    repaired = copy.deepcopy(document)
    for multiscale in repaired["ome"]["multiscales"]:
        for dataset in multiscale["datasets"]:
            for transform in dataset["coordinateTransformations"]:
                transform["input"] = {"path": dataset["path"]}
                transform["output"] = {"name": multiscale["coordinateSystems"][0]["name"]}
        for transform in multiscale.get("coordinateTransformations", []):
            for key in ("input", "output"):
                if isinstance(transform.get(key), str):
                    transform[key] = {"name": transform[key]}
    return repaired


# Upstream invalid cases whose only schema error is a string input/output: their real defect
# is one the rule layer names once the references are objects.
REPAIRED_DEFECTS = {
    "bad_mapaxis.json": "transform-dimensions",  # six entries for two axes
    "bad_mapaxis3.json": "map-axis",
    "bad_mapaxis4.json": "map-axis",
    "bad_rotation3.json": "rotation",
}


@pytest.mark.parametrize(("name", "rule"), sorted(REPAIRED_DEFECTS.items()))
def test_rules_name_the_real_defect_of_a_repaired_invalid_case(name: str, rule: str) -> None:
    document, kind, _, valid = _case(CASES / "spec" / "invalid" / "transforms" / name)
    assert not valid
    rules = {v.rule for v in check_document(_with_object_references(document), kind, "0.6")}
    assert rule in rules


# --------------------------------------------------------------------------- the rules alone


def _image_document(**multiscale_edits: Any) -> dict[str, Any]:
    axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in "yx"]
    multiscale: dict[str, Any] = {
        "name": "image",
        "type": "mean",
        "metadata": {"method": "hand-written"},
        "coordinateSystems": [{"name": "physical", "axes": axes}],
        "datasets": [_dataset(i) for i in range(2)],
    }
    multiscale.update(multiscale_edits)
    return {"ome": {"version": "0.6", "multiscales": [multiscale]}}


def _dataset(level: int, output: str = "physical", source: str | None = None) -> dict[str, Any]:
    return {
        "path": f"s{level}",
        "coordinateTransformations": [
            {
                "type": "scale",
                "scale": [2.0**level, 2.0**level],
                "input": {"path": source if source is not None else f"s{level}"},
                "output": {"name": output},
            }
        ],
    }


def _rotated(rotation: Any) -> dict[str, Any]:
    rotated = {"name": "rotated", "axes": [{"name": n, "type": "space"} for n in "yx"]}
    document = _image_document()
    multiscale = document["ome"]["multiscales"][0]
    multiscale["coordinateSystems"].append(rotated)
    multiscale["coordinateTransformations"] = [
        {
            "type": "rotation",
            "rotation": rotation,
            "input": {"name": "physical"},
            "output": {"name": "rotated"},
        }
    ]
    return document


@pytest.mark.parametrize(
    ("rotation", "valid"),
    [
        ([[0, -1], [1, 0]], True),
        ([[0.6, -0.8], [0.8, 0.6]], True),
        ([[1, 0.5], [0, 1]], False),  # not orthonormal
        ([[0, 1], [1, 0]], False),  # a reflection: determinant -1
        ([[2, 0], [0, 2]], False),
    ],
)
def test_a_rotation_is_orthonormal_with_determinant_one(rotation: Any, valid: bool) -> None:
    rules = [v.rule for v in check_document(_rotated(rotation), "image", "0.6")]
    assert rules == ([] if valid else ["rotation"])


def test_the_scales_of_levels_never_shrink() -> None:
    document = _image_document(datasets=[_dataset(1), _dataset(0)])
    violations = check_document(document, "image", "0.6")
    assert [(v.rule, v.location) for v in violations] == [
        ("level-order", "#/ome/multiscales/0/datasets/1")
    ]


@pytest.mark.parametrize(
    ("transform", "rule"),
    [
        ({"type": "affine", "affine": [[1, 0, 0], [0, 1, 0]]}, None),
        ({"type": "affine", "affine": [[1, 0], [0, 1]]}, "transform-dimensions"),
        ({"type": "affine", "affine": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}, "transform-dimensions"),
        ({"type": "mapAxis", "mapAxis": [1, 0]}, None),
        ({"type": "mapAxis", "mapAxis": [1, 1]}, "map-axis"),
        ({"type": "scale", "scale": [1, 2, 3]}, "transform-dimensions"),
        ({"type": "projectAxis", "droppedInputs": [0], "createdOutputs": [0]}, None),
        ({"type": "projectAxis", "droppedInputs": [2]}, "project-axis"),
        (
            {
                "type": "byDimension",
                "transformations": [
                    {
                        "transformation": {"type": "scale", "scale": [2]},
                        "inputAxes": [0],
                        "outputAxes": [0],
                    },
                    {
                        "transformation": {"type": "scale", "scale": [2]},
                        "inputAxes": [1],
                        "outputAxes": [0],
                    },
                ],
            },
            "by-dimension",
        ),
        (
            {
                "type": "sequence",
                "transformations": [
                    {"type": "translation", "translation": [1, 2]},
                    {"type": "affine", "affine": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]},
                ],
            },
            "transform-dimensions",
        ),
    ],
)
def test_parameters_fit_the_dimensions_of_input_and_output(
    transform: dict[str, Any], rule: str | None
) -> None:
    other = {"name": "other", "axes": [{"name": n, "type": "space"} for n in "yx"]}
    document = _image_document()
    multiscale = document["ome"]["multiscales"][0]
    multiscale["coordinateSystems"].append(other)
    multiscale["coordinateTransformations"] = [
        {**transform, "input": {"name": "physical"}, "output": {"name": "other"}}
    ]
    rules = {v.rule for v in check_document(document, "image", "0.6")}
    assert rules == (set() if rule is None else {rule})


def test_references_resolve_inside_the_document() -> None:
    document = _image_document(
        coordinateTransformations=[
            {"type": "identity", "input": {"name": "physical"}, "output": {"name": "nowhere"}},
            {
                "type": "identity",
                "input": {"name": "physical"},
                "output": {"name": "physical", "path": "../elsewhere"},
            },
        ]
    )
    violations = check_document(document, "image", "0.6")
    locations = {v.location for v in violations if v.rule == "transformation-reference"}
    base = "#/ome/multiscales/0/coordinateTransformations"
    assert locations == {f"{base}/0/output/name", f"{base}/1/output/path"}


# --------------------------------------------------------------------------- hierarchies


def _new_root(tmp_path: Path, name: str = "image.zarr") -> zarr.Group:
    return zarr.open_group(str(tmp_path / name), mode="w", zarr_format=3)


def _write_image(
    parent: zarr.Group,
    path: str | None = None,
    *,
    version: str = "0.6",
    dtype: str = "uint16",
    names: tuple[str, str] = ("y", "x"),
    edit: Callable[[dict[str, Any]], None] | None = None,
    label: bool = False,
) -> zarr.Group:
    """A two-level 16x16 image (or label image) whose ``ome`` attributes are written by hand."""
    group = parent.create_group(path) if path else parent
    for level in range(2):
        group.create_array(
            f"s{level}", shape=(16 >> level, 16 >> level), dtype=dtype, dimension_names=names
        )
    ome = copy.deepcopy(_image_document()["ome"])
    ome["version"] = version
    if label:
        ome["image-label"] = {"colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}
    if edit is not None:
        edit(ome)
    group.attrs["ome"] = ome
    return group


def _link_to_label(ome: dict[str, Any]) -> None:
    ome["multiscales"][0]["coordinateTransformations"] = [
        {
            "type": "identity",
            "input": {"name": "physical"},
            "output": {"name": "physical", "path": "labels/cells"},
        }
    ]


def _image_with_labels(tmp_path: Path, label_version: str = "0.6") -> tuple[zarr.Group, Path]:
    root = _new_root(tmp_path)
    _write_image(root, edit=_link_to_label)
    labels = root.create_group("labels")
    labels.attrs["ome"] = {"version": "0.6", "labels": ["cells"]}
    _write_image(labels, "cells", version=label_version, dtype="uint8", label=True)
    return root, tmp_path / "image.zarr"


def test_a_valid_image_with_labels_validates(tmp_path: Path) -> None:
    _, path = _image_with_labels(tmp_path)
    report = validate(str(path), strict=True)
    assert report.violations == [], report.format()
    assert (report.valid, report.kind, report.version) == (True, "image", "0.6")


def test_a_label_of_another_version_is_an_error(tmp_path: Path) -> None:
    _, path = _image_with_labels(tmp_path, label_version="0.5")
    report = validate(str(path))
    assert ("labels/cells", "version") in {(v.location, v.rule) for v in report.errors}


def test_a_link_to_a_missing_label_image_is_an_error(tmp_path: Path) -> None:
    root, path = _image_with_labels(tmp_path)
    del root["labels/cells"]
    root["labels"].attrs["ome"] = {"version": "0.6", "labels": []}
    report = validate(str(path))
    where = "#/ome/multiscales/0/coordinateTransformations/0/output/path"
    assert [(v.location, v.rule) for v in report.errors] == [(where, "transformation-reference")]


def test_a_dataset_whose_input_is_another_path_is_an_error(tmp_path: Path) -> None:
    def wrong_input(ome: dict[str, Any]) -> None:
        ome["multiscales"][0]["datasets"][1] = _dataset(1, source="s0")

    report = validate(str(_write_image(_new_root(tmp_path), edit=wrong_input).store_path))
    assert [(v.location, v.rule) for v in report.errors] == [
        ("#/ome/multiscales/0/datasets/1/coordinateTransformations/0/input", "dataset-input")
    ]


def test_a_dataset_output_that_names_no_system_is_an_error(tmp_path: Path) -> None:
    def missing_output(ome: dict[str, Any]) -> None:
        ome["multiscales"][0]["datasets"] = [_dataset(0, "world"), _dataset(1, "world")]

    report = validate(str(_write_image(_new_root(tmp_path), edit=missing_output).store_path))
    assert {v.rule for v in report.errors} == {"intrinsic-system"}
    assert report.errors[0].location.endswith("datasets/0/coordinateTransformations/0/output/name")


def test_datasets_with_different_outputs_are_an_error(tmp_path: Path) -> None:
    def two_outputs(ome: dict[str, Any]) -> None:
        multiscale = ome["multiscales"][0]
        multiscale["coordinateSystems"].append(
            {"name": "other", "axes": multiscale["coordinateSystems"][0]["axes"]}
        )
        multiscale["datasets"][1] = _dataset(1, "other")

    report = validate(str(_write_image(_new_root(tmp_path), edit=two_outputs).store_path))
    assert "intrinsic-system" in {v.rule for v in report.errors}


def test_a_non_orthonormal_rotation_is_an_error(tmp_path: Path) -> None:
    def rotate(ome: dict[str, Any]) -> None:
        ome["multiscales"] = _rotated([[1, 0.5], [0, 1]])["ome"]["multiscales"]

    report = validate(str(_write_image(_new_root(tmp_path), edit=rotate).store_path))
    assert [(v.location, v.rule) for v in report.errors] == [
        ("#/ome/multiscales/0/coordinateTransformations/0/rotation", "rotation")
    ]


def test_dimension_names_match_the_intrinsic_axes(tmp_path: Path) -> None:
    report = validate(str(_write_image(_new_root(tmp_path), names=("x", "y")).store_path))
    assert {(v.location, v.rule) for v in report.errors} == {
        ("#/ome/multiscales/0/datasets/0", "dimension-names"),
        ("#/ome/multiscales/0/datasets/1", "dimension-names"),
    }


def test_an_affine_stored_as_an_array_must_fit(tmp_path: Path) -> None:
    def stored_affine(ome: dict[str, Any]) -> None:
        multiscale = ome["multiscales"][0]
        multiscale["coordinateSystems"].append(
            {"name": "sheared", "axes": multiscale["coordinateSystems"][0]["axes"]}
        )
        multiscale["coordinateTransformations"] = [
            {
                "type": "affine",
                "path": "coordinateTransformations/affine",
                "input": {"name": "physical"},
                "output": {"name": "sheared"},
            }
        ]

    root = _write_image(_new_root(tmp_path), edit=stored_affine)
    root.create_array("coordinateTransformations/affine", shape=(3, 3), dtype="float64")
    report = validate(str(root.store_path))
    assert [v.rule for v in report.errors] == ["transform-dimensions"]
    assert "3 rows" in report.errors[0].message


def _scene(tmp_path: Path, second_output: str) -> Path:
    root = _new_root(tmp_path, "scene.zarr")
    _write_image(root, "tile_0")
    _write_image(root, "tile_1")
    world = {"name": "world", "axes": [{"name": n, "type": "space"} for n in "yx"]}
    other = {"name": "other", "axes": [{"name": n, "type": "space"} for n in "yx"]}
    root.attrs["ome"] = {
        "version": "0.6",
        "scene": {
            "coordinateSystems": [world, other],
            "coordinateTransformations": [
                {
                    "type": "translation",
                    "translation": [0, 16 * index],
                    "input": {"path": f"tile_{index}", "name": "physical"},
                    "output": {"name": output},
                }
                for index, output in enumerate(("world", second_output))
            ]
            + [{"type": "identity", "input": {"name": "other"}, "output": {"name": "world"}}]
            * (second_output == "world"),
        },
    }
    return tmp_path / "scene.zarr"


def test_a_connected_scene_validates_with_its_images(tmp_path: Path) -> None:
    report = validate(str(_scene(tmp_path, "world")))
    assert report.violations == [], report.format()
    assert (report.kind, report.version) == ("scene", "0.6")


def test_an_unreachable_image_in_a_scene_is_an_error(tmp_path: Path) -> None:
    report = validate(str(_scene(tmp_path, "other")))
    assert [(v.location, v.rule) for v in report.errors] == [
        ("#/ome/scene", "transformation-graph")
    ]
    assert "'physical' of 'tile_1'" in report.errors[0].message


def test_the_images_of_a_scene_are_visited(tmp_path: Path) -> None:
    path = _scene(tmp_path, "world")
    zarr.open_group(str(path / "tile_1"), mode="r+").attrs["ome"] = {"version": "0.5"}
    report = validate(str(path))
    assert ("tile_1", "scene-image") in {(v.location, v.rule) for v in report.errors}


def test_the_pre_release_version_string_is_read_as_0_6(tmp_path: Path) -> None:
    report = validate(str(_write_image(_new_root(tmp_path), version="0.6rc0").store_path))
    assert report.valid and report.version == "0.6"
    assert [(v.rule, v.severity) for v in report.violations] == [("version", "warning")]


@pytest.mark.parametrize(("version", "code"), [("0.6", 0), ("0.7", 2)])
def test_validate_command_exit_codes(tmp_path: Path, version: str, code: int) -> None:
    _write_image(_new_root(tmp_path), version=version)
    result = run_cli("validate", str(tmp_path / "image.zarr"))
    assert result.returncode == code, result.stdout + result.stderr


def test_validate_command_exits_1_for_an_invalid_0_6_image(tmp_path: Path) -> None:
    _image_with_labels(tmp_path, label_version="0.5")
    result = run_cli("validate", "--strict", str(tmp_path / "image.zarr"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "labels/cells" in result.stdout


# ---------------------------------------------------------------------------------------------
# Displacement and coordinate fields, on disk
# ---------------------------------------------------------------------------------------------


def _image_with_field(
    tmp_path: Path, vectors: int = 2, vector_type: str = "displacement", discrete: bool = True
) -> Path:
    """A 0.6 image mapped to "world" by a displacement field stored inside it, as the spec's
    array structure asks: one axis per input axis and one discrete vector axis."""
    import numpy as np

    from omezarr.format import FormatV06
    from omezarr.writer import write_image

    world = {"name": "world", "axes": [{"name": "y", "type": "space"},
                                       {"name": "x", "type": "space"}]}  # fmt: skip
    field = {"type": "displacements", "path": "coordinateTransformations/field",
             "interpolation": "linear", "input": {"name": "intrinsic"},
             "output": {"name": "world"}}  # fmt: skip
    root = tmp_path / "warped.zarr"
    write_image(np.zeros((8, 8), np.uint8), str(root), fmt=FormatV06(), axes="yx",
                scale_factors=[], coordinateSystems=[world],
                coordinateTransformations=[field])  # fmt: skip
    group = zarr.open_group(str(root), mode="a").require_group("coordinateTransformations")
    holder = group.require_group("field")
    axes = [{"name": "y", "type": "space"}, {"name": "x", "type": "space"},
            {"name": "d", "type": vector_type, "discrete": discrete}]  # fmt: skip
    holder.attrs["ome"] = {"version": "0.6", "multiscales": [{
        "coordinateSystems": [{"name": "intrinsic", "axes": axes}],
        "datasets": [{"path": "s0", "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 1.0, 1.0], "input": {"path": "s0"},
             "output": {"name": "intrinsic"}}]}]}]}  # fmt: skip
    holder.create_array("s0", data=np.zeros((8, 8, vectors), np.float32))
    return root


def test_a_displacement_field_of_the_right_shape_is_valid(tmp_path: Path) -> None:
    report = validate(str(_image_with_field(tmp_path)))
    assert report.valid, report.format()


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"vectors": 3}, "holds vectors of 3 components, not 2"),
        ({"vector_type": "space"}, "needs exactly one axis of type 'displacement'"),
        ({"discrete": False}, "needs exactly one axis of type 'displacement'"),
    ],
    ids=["length", "type", "discrete"],
)
def test_a_wrong_displacement_field_is_invalid(
    tmp_path: Path, field: dict[str, Any], message: str
) -> None:
    report = validate(str(_image_with_field(tmp_path, **field)))
    assert not report.valid
    assert any(v.rule == "vector-field" and message in v.message for v in report.violations), (
        report.format()
    )


def test_omero_channels_must_match_the_channel_axis_of_a_0_6_image(tmp_path: Path) -> None:
    """0.6 has no multiscales axes: the channel axis is the intrinsic system's."""
    import numpy as np

    from omezarr.format import FormatV06
    from omezarr.writer import write_image

    path = tmp_path / "channels.zarr"
    write_image(np.zeros((2, 8, 8), np.uint8), str(path), fmt=FormatV06(), axes="cyx",
                scale_factors=[])  # fmt: skip
    group = zarr.open_group(str(path), mode="a")
    channel = {"color": "FFFFFF", "window": {"start": 0, "end": 1, "min": 0, "max": 1}}
    for count, valid in ((2, True), (3, False)):
        group.attrs["ome"] = {**group.attrs["ome"], "omero": {"channels": [channel] * count}}
        report = validate(str(path))
        assert report.valid is valid, report.format()
    assert "3 channels given, the image has 2 channels" in report.format()
