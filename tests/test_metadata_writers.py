"""Tests for the metadata writers of omezarr.writer on zarr v2 (NGFF 0.4) and v3 (NGFF 0.5) groups.

Every document written is checked against the official JSON schemas bundled in
src/omezarr/schemas, loaded here directly so that the writers are judged independently of
omezarr's own validator.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import zarr
import zarr.storage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from omezarr.format import Format, FormatV03, FormatV04, FormatV05
from omezarr.writer import (
    add_metadata,
    check_format,
    check_group_fmt,
    get_metadata,
    write_label_metadata,
    write_multiscales_metadata,
    write_plate_metadata,
    write_well_metadata,
)

SCHEMAS = Path(__file__).parents[1] / "src" / "omezarr" / "schemas"
FORMATS = [FormatV04(), FormatV05()]
METADATA_FILES = {".zattrs", ".zgroup", ".zarray", "zarr.json"}


# ------------------------------------------------------------------ schema helper


@functools.cache
def _validator(version: str, kind: str) -> jsonschema.Draft202012Validator:
    """A validator for ``<version>/<kind>.schema`` whose references resolve to bundled files."""
    resources = []
    for path in SCHEMAS.glob("*/*.schema"):
        contents = json.loads(path.read_text("utf-8"))
        resources.append((contents["$id"], DRAFT202012.create_resource(contents)))
    registry: Registry = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / version / f"{kind}.schema").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema, registry=registry)


def assert_valid(document: dict[str, Any], kind: str, version: str) -> None:
    """Fail with every schema error of ``document`` (kind: image, plate, well, label...)."""
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in _validator(version, kind).iter_errors(document)
    ]
    assert errors == [], f"{version} {kind} schema errors: {errors}"


# ------------------------------------------------------------------ helpers


def new_group(root: Path, fmt: Format, name: str = "group.zarr") -> zarr.Group:
    return zarr.open_group(str(root / name), mode="w", zarr_format=fmt.zarr_format)


def stored_attrs(group: zarr.Group) -> dict[str, Any]:
    """The attributes exactly as stored, re-read from the store."""
    return zarr.open_group(group.store, path=group.path, mode="r").attrs.asdict()


def metadata_files(root: Path) -> dict[str, bytes]:
    """Every zarr metadata file below ``root``, by relative path: a snapshot of what is stored."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.name in METADATA_FILES
    }


def ngff_attrs(attrs: dict[str, Any], fmt: Format) -> dict[str, Any]:
    """The NGFF part of stored attributes: top level for 0.4, under ``ome`` for 0.5."""
    if fmt.metadata_is_nested:
        assert set(attrs) == {"ome"}, attrs
        assert attrs["ome"]["version"] == fmt.version
        return dict(attrs["ome"])
    return attrs


def dataset(path: str, *values: float) -> dict[str, Any]:
    return {"path": path, "coordinateTransformations": [{"type": "scale", "scale": list(values)}]}


CZYX_DATASETS = [dataset("0", 1.0, 0.5, 0.25, 0.25), dataset("1", 1.0, 0.5, 0.5, 0.5)]
OMERO = {
    "channels": [
        {
            "color": "00FF00",
            "label": "GFP",
            "window": {"min": 0, "max": 255, "start": 0, "end": 99},
        },
        {
            "color": "FF0000",
            "label": "RFP",
            "active": False,
            "window": {"min": -1.5, "max": 1.5, "start": -1, "end": 1},
        },
    ],
    "rdefs": {"defaultZ": 0, "model": "color"},
}


# ------------------------------------------------------------------ multiscales


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_multiscales_metadata_writes_every_piece(tmp_path: Path, fmt: Format) -> None:
    group = new_group(tmp_path, fmt)
    write_multiscales_metadata(
        group,
        CZYX_DATASETS,
        fmt=fmt,
        axes="czyx",
        axes_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"},
        name="cells",
        omero=OMERO,
        type="gaussian",
        metadata={"method": "skimage.transform.pyramid_gaussian", "version": "0.19"},
    )
    attrs = stored_attrs(group)
    ngff = ngff_attrs(attrs, fmt)
    multiscale: dict[str, Any] = {
        "type": "gaussian",
        "metadata": {"method": "skimage.transform.pyramid_gaussian", "version": "0.19"},
        "datasets": CZYX_DATASETS,
        "name": "cells",
        "axes": [
            {"name": "c", "type": "channel"},
            {"name": "z", "type": "space", "unit": "micrometer"},
            {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"},
        ],
    }
    if not fmt.metadata_is_nested:
        multiscale["version"] = "0.4"
    assert ngff["multiscales"] == [multiscale]
    assert ngff["omero"] == OMERO
    assert set(ngff) == {"multiscales", "omero"} | (
        {"version"} if fmt.metadata_is_nested else set()
    )
    assert_valid(attrs, "image", fmt.version)
    assert_valid(attrs, "strict_image", fmt.version)


@pytest.mark.parametrize("fmt", FORMATS)
def test_zarr_v2_and_v3_files_hold_the_attributes(tmp_path: Path, fmt: Format) -> None:
    group = new_group(tmp_path, fmt)
    write_multiscales_metadata(group, [dataset("0", 1, 1)], fmt=fmt, axes="yx")
    root = tmp_path / "group.zarr"
    if fmt.zarr_format == 2:
        assert not (root / "zarr.json").exists()
        stored = json.loads((root / ".zattrs").read_text())
        assert stored["multiscales"][0]["version"] == "0.4"
    else:
        assert not (root / ".zattrs").exists()
        stored = json.loads((root / "zarr.json").read_text())["attributes"]
        assert stored["ome"]["version"] == "0.5"
        assert "version" not in stored["ome"]["multiscales"][0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_omero_given_inside_metadata_is_written_beside_multiscales(
    tmp_path: Path, fmt: Format
) -> None:
    group = new_group(tmp_path, fmt)
    write_multiscales_metadata(
        group,
        [dataset("0", 1, 1, 1)],
        axes="cyx",
        metadata={"omero": OMERO, "method": "mean"},
    )
    ngff = ngff_attrs(stored_attrs(group), fmt)
    assert ngff["omero"] == OMERO
    assert ngff["multiscales"][0]["metadata"] == {"method": "mean"}
    assert_valid(stored_attrs(group), "image", fmt.version)


def test_omero_alone_inside_metadata_leaves_no_empty_metadata(tmp_path: Path) -> None:
    group = new_group(tmp_path, FormatV05())
    write_multiscales_metadata(
        group, [dataset("0", 1, 1, 1)], axes="cyx", metadata={"omero": OMERO}
    )
    ngff = ngff_attrs(stored_attrs(group), FormatV05())
    assert "metadata" not in ngff["multiscales"][0]
    assert ngff["omero"] == OMERO


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_defaults_to_the_groups_zarr_format(tmp_path: Path, fmt: Format) -> None:
    group = new_group(tmp_path, fmt)
    write_multiscales_metadata(group, [dataset("0", 1, 1)], axes="yx")
    assert_valid(stored_attrs(group), "image", fmt.version)


@pytest.mark.parametrize(
    ("scale_values", "names"),
    [((1, 1), ["y", "x"]), ((1, 1, 1, 1, 1), ["t", "c", "z", "y", "x"])],
)
def test_axes_are_guessed_from_the_scale_for_2d_and_5d(
    tmp_path: Path, scale_values: tuple[int, ...], names: list[str]
) -> None:
    group = new_group(tmp_path, FormatV05())
    write_multiscales_metadata(group, [dataset("0", *scale_values)])
    axes = ngff_attrs(stored_attrs(group), FormatV05())["multiscales"][0]["axes"]
    assert [a["name"] for a in axes] == names


def test_name_defaults_to_the_group_name(tmp_path: Path) -> None:
    root = new_group(tmp_path, FormatV04())
    write_multiscales_metadata(root, [dataset("0", 1, 1)], axes="yx")
    assert stored_attrs(root)["multiscales"][0]["name"] == "/"
    nested = root.create_group("a").create_group("b")
    write_multiscales_metadata(nested, [dataset("0", 1, 1)], axes="yx")
    assert stored_attrs(nested)["multiscales"][0]["name"] == "/a/b"


def test_rewriting_replaces_multiscales_and_keeps_other_attributes(tmp_path: Path) -> None:
    group = new_group(tmp_path, FormatV05())
    group.attrs["ome"] = {"version": "0.5", "custom": {"kept": True}}
    group.attrs["other"] = 1
    write_multiscales_metadata(group, [dataset("0", 1, 1)], axes="yx", name="first")
    write_multiscales_metadata(group, [dataset("s0", 1, 1, 1)], axes="zyx", name="second")
    attrs = stored_attrs(group)
    assert attrs["other"] == 1
    assert attrs["ome"]["custom"] == {"kept": True}
    assert [m["name"] for m in attrs["ome"]["multiscales"]] == ["second"]


def test_0_3_writes_axis_names_without_transformations(tmp_path: Path) -> None:
    group = new_group(tmp_path, FormatV03())
    write_multiscales_metadata(group, [{"path": "0"}, {"path": "1"}], fmt=FormatV03(), axes="zyx")
    multiscale = stored_attrs(group)["multiscales"][0]
    assert multiscale["axes"] == ["z", "y", "x"]
    assert multiscale["version"] == "0.3"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_path_target_is_created_with_the_formats_zarr_format(tmp_path: Path, fmt: Format) -> None:
    path = tmp_path / "image.zarr"
    write_multiscales_metadata(str(path), [dataset("0", 1, 1)], fmt=fmt, axes="yx")
    group = zarr.open_group(str(path), mode="r")
    assert group.metadata.zarr_format == fmt.zarr_format
    assert_valid(group.attrs.asdict(), "image", fmt.version)
    # A pathlib path works too, and a new path defaults to the current format (0.5).
    write_well_metadata(tmp_path / "well.zarr", ["0"])
    assert zarr.open_group(str(tmp_path / "well.zarr"), mode="r").metadata.zarr_format == 3


# ------------------------------------------------------------------ plates and wells


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_plate_metadata_writes_every_piece(tmp_path: Path, fmt: Format) -> None:
    group = new_group(tmp_path, fmt)
    acquisitions = [
        {"id": 0, "name": "first", "maximumfieldcount": 2, "starttime": 10, "endtime": 20},
        {"id": 1, "name": "second", "maximumfieldcount": 1, "description": "again"},
    ]
    write_plate_metadata(
        group,
        ["A", "B"],
        ["1", "2", "3"],
        ["A/1", {"path": "B/3", "rowIndex": 1, "columnIndex": 2}],
        fmt=fmt,
        acquisitions=acquisitions,
        field_count=2,
        name="screen",
    )
    attrs = stored_attrs(group)
    assert ngff_attrs(attrs, fmt)["plate"] == {
        "columns": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
        "rows": [{"name": "A"}, {"name": "B"}],
        "wells": [
            {"path": "A/1", "rowIndex": 0, "columnIndex": 0},
            {"path": "B/3", "rowIndex": 1, "columnIndex": 2},
        ],
        "name": "screen",
        "field_count": 2,
        "acquisitions": acquisitions,
        "version": fmt.version,
    }
    assert_valid(attrs, "plate", fmt.version)
    assert_valid(attrs, "strict_plate", fmt.version)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_minimal_plate_validates(tmp_path: Path, fmt: Format) -> None:
    group = new_group(tmp_path, fmt)
    write_plate_metadata(group, ["A"], ["1"], ["A/1"])
    attrs = stored_attrs(group)
    assert set(ngff_attrs(attrs, fmt)["plate"]) == {"rows", "columns", "wells", "version"}
    assert_valid(attrs, "plate", fmt.version)


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_well_metadata_from_paths_and_dicts(tmp_path: Path, fmt: Format) -> None:
    group = new_group(tmp_path, fmt)
    write_well_metadata(group, ["0", {"path": "1", "acquisition": 2}], fmt=fmt)
    attrs = stored_attrs(group)
    well: dict[str, Any] = {"images": [{"path": "0"}, {"path": "1", "acquisition": 2}]}
    if not fmt.metadata_is_nested:
        well["version"] = "0.4"
    assert ngff_attrs(attrs, fmt)["well"] == well
    assert_valid(attrs, "well", fmt.version)
    assert_valid(attrs, "strict_well", fmt.version)


# ------------------------------------------------------------------ labels


def labels_group(root: Path, fmt: Format, *names: str) -> zarr.Group:
    image = new_group(root, fmt, "image.zarr")
    labels = image.create_group("labels")
    for name in names:
        labels.create_group(name)
    return labels


COLORS = [
    {"label-value": 1, "rgba": [255, 0, 0, 255]},
    {"label-value": 2, "rgba": [0, 0, 255, 128]},
]
PROPERTIES = [{"label-value": 1, "class": "nucleus"}, {"label-value": 2, "area": 12.5}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_label_metadata_writes_and_lists_the_label(tmp_path: Path, fmt: Format) -> None:
    labels = labels_group(tmp_path, fmt, "cells")
    write_label_metadata(
        labels, "cells", colors=COLORS, properties=PROPERTIES, source={"image": "../../"}
    )
    label_attrs = stored_attrs(labels["cells"])  # type: ignore[arg-type]
    image_label: dict[str, Any] = {
        "source": {"image": "../../"},
        "colors": COLORS,
        "properties": PROPERTIES,
    }
    if not fmt.metadata_is_nested:
        image_label["version"] = "0.4"
    assert ngff_attrs(label_attrs, fmt)["image-label"] == image_label
    assert_valid(label_attrs, "label", fmt.version)
    assert_valid(label_attrs, "strict_label", fmt.version)
    # The labels group lists the label; for 0.5 it carries ome.version too.
    listing = stored_attrs(labels)
    assert ngff_attrs(listing, fmt)["labels"] == ["cells"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_labels_are_listed_once_and_a_second_label_keeps_the_first(
    tmp_path: Path, fmt: Format
) -> None:
    labels = labels_group(tmp_path, fmt, "cells", "nuclei")
    write_label_metadata(labels, "cells", colors=COLORS)
    write_label_metadata(labels, "cells", properties=PROPERTIES)
    write_label_metadata(labels, "nuclei")
    assert ngff_attrs(stored_attrs(labels), fmt)["labels"] == ["cells", "nuclei"]
    # Rewriting merges into the label's existing image-label dict.
    cells = ngff_attrs(stored_attrs(labels["cells"]), fmt)["image-label"]  # type: ignore[arg-type]
    assert cells["colors"] == COLORS
    assert cells["properties"] == PROPERTIES


def test_write_label_metadata_accepts_a_path(tmp_path: Path) -> None:
    labels = labels_group(tmp_path, FormatV04(), "cells")
    write_label_metadata(str(tmp_path / "image.zarr" / "labels"), "cells", colors=COLORS)
    assert stored_attrs(labels)["labels"] == ["cells"]
    assert stored_attrs(labels["cells"])["image-label"]["version"] == "0.4"  # type: ignore[arg-type]


# ------------------------------------------------------------------ add/get/check


@pytest.mark.parametrize("fmt", FORMATS)
def test_add_metadata_merges_dicts_and_replaces_other_values(tmp_path: Path, fmt: Format) -> None:
    group = new_group(tmp_path, fmt)
    add_metadata(group, {"info": {"a": 1, "b": 2}, "tags": ["x"]})
    add_metadata(group, {"info": {"b": 3, "c": 4}, "tags": ["y"], "count": 5})
    expected = {"info": {"a": 1, "b": 3, "c": 4}, "tags": ["y"], "count": 5}
    attrs = stored_attrs(group)
    assert (attrs["ome"] if fmt.metadata_is_nested else attrs) == expected
    assert get_metadata(group) == expected


def test_add_metadata_refuses_a_non_dict(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="metadata: expected a dict"):
        add_metadata(str(tmp_path / "new.zarr"), [("a", 1)])  # type: ignore[arg-type]
    assert not (tmp_path / "new.zarr").exists()


def test_get_metadata_reads_a_path_and_returns_a_copy(tmp_path: Path) -> None:
    group = new_group(tmp_path, FormatV05())
    write_well_metadata(group, ["0"])
    read = get_metadata(str(tmp_path / "group.zarr"))
    assert read == {"well": {"images": [{"path": "0"}]}, "version": "0.5"}
    read["well"]["images"].append({"path": "1"})
    assert get_metadata(group)["well"]["images"] == [{"path": "0"}]


@pytest.mark.parametrize(("fmt", "expected"), [(None, FormatV05()), *((f, f) for f in FORMATS)])
def test_check_group_fmt_creates_a_path_with_the_formats_zarr_format(
    tmp_path: Path, fmt: Format | None, expected: Format
) -> None:
    group, resolved = check_group_fmt(str(tmp_path / "new.zarr"), fmt)
    assert resolved == expected
    assert group.metadata.zarr_format == expected.zarr_format
    assert zarr.open_group(str(tmp_path / "new.zarr"), mode="r").metadata.zarr_format == (
        expected.zarr_format
    )


@pytest.mark.parametrize(("zarr_format", "expected"), [(2, FormatV04()), (3, FormatV05())])
def test_check_format_guesses_from_the_zarr_format(zarr_format: int, expected: Format) -> None:
    group = zarr.open_group(zarr.storage.MemoryStore(), mode="w", zarr_format=zarr_format)
    assert check_format(group) == expected
    assert check_group_fmt(group) == (group, expected)
    assert check_format(group, expected) == expected


@pytest.mark.parametrize(
    ("group_fmt", "fmt"), [(FormatV04(), FormatV05()), (FormatV05(), FormatV04())]
)
def test_a_format_of_another_zarr_format_is_refused(group_fmt: Format, fmt: Format) -> None:
    group = zarr.open_group(zarr.storage.MemoryStore(), mode="w", zarr_format=group_fmt.zarr_format)
    message = f"Group is zarr_format: {group_fmt.zarr_format} but OME-Zarr {fmt.version}"
    with pytest.raises(ValueError, match=re.escape(message)):
        check_group_fmt(group, fmt)
    with pytest.raises(ValueError, match=re.escape(message)):
        write_well_metadata(group, ["0"], fmt=fmt)
    assert group.attrs.asdict() == {}


def test_a_format_given_as_a_version_string_is_accepted_and_others_refused(tmp_path: Path) -> None:
    write_well_metadata(str(tmp_path / "w.zarr"), ["0"], fmt="0.4")  # type: ignore[arg-type]
    assert zarr.open_group(str(tmp_path / "w.zarr"), mode="r").attrs["well"]["version"] == "0.4"
    with pytest.raises(TypeError, match=r"fmt: expected an omezarr\.format\.Format"):
        write_well_metadata(str(tmp_path / "x.zarr"), ["0"], fmt=FormatV04)  # type: ignore[arg-type]
    assert not (tmp_path / "x.zarr").exists()


# ------------------------------------------------------------------ refusals write nothing

Writer = Callable[..., None]
VALID_CALLS: dict[str, tuple[Writer, dict[str, Any]]] = {
    "multiscales": (
        write_multiscales_metadata,
        {"datasets": [dataset("0", 1, 1, 1), dataset("1", 1, 2, 2)], "axes": "cyx", "name": "i"},
    ),
    "plate": (write_plate_metadata, {"rows": ["A", "B"], "columns": ["1"], "wells": ["B/1"]}),
    "well": (write_well_metadata, {"images": ["0", "1"]}),
}

REFUSALS = [
    ("multiscales", {"datasets": []}, ValueError, "datasets"),
    ("multiscales", {"datasets": "0"}, TypeError, "datasets"),
    ("multiscales", {"datasets": [{"path": "0"}]}, ValueError, "datasets"),
    ("multiscales", {"datasets": [dataset("0", 1, 1)]}, ValueError, "datasets"),
    ("multiscales", {"datasets": [dataset("0", 1, 0, 1)]}, ValueError, "datasets"),
    (
        "multiscales",
        {"datasets": [dataset("0", 1, 1, 1), dataset("0", 1, 2, 2)]},
        ValueError,
        "datasets",
    ),
    ("multiscales", {"axes": "yxc"}, ValueError, "axes"),
    (
        "multiscales",
        {"axes": "zyx", "datasets": [dataset("0", 1, 1, 1, 1)]},
        ValueError,
        "datasets",
    ),
    ("multiscales", {"datasets": [dataset("0", 1, 1, 1)], "axes": None}, ValueError, "axes"),
    ("multiscales", {"axes_units": {"x": 5}}, TypeError, "axes_units"),  # absent axes: ignored
    ("multiscales", {"omero": {"channels": [{"color": "red"}]}}, TypeError, "omero"),
    ("multiscales", {"omero": ["GFP"]}, TypeError, "omero"),
    ("multiscales", {"omero": OMERO, "metadata": {"omero": OMERO}}, ValueError, "metadata"),
    ("multiscales", {"version": "0.3"}, ValueError, "metadata"),
    ("plate", {"rows": 5}, TypeError, "rows"),  # a string is its letters, as in the reference
    ("plate", {"rows": ["A", "A"]}, ValueError, "rows"),
    ("plate", {"columns": ["1", "1-2"]}, ValueError, "columns"),
    ("plate", {"columns": []}, ValueError, "columns"),
    ("plate", {"wells": []}, ValueError, "wells"),
    ("plate", {"wells": ["C/1"]}, ValueError, "wells"),
    ("plate", {"wells": ["B/1", "B/1"]}, ValueError, "wells"),
    ("plate", {"wells": [{"path": "B/1", "rowIndex": 0, "columnIndex": 0}]}, ValueError, "wells"),
    ("plate", {"acquisitions": [{"id": -1}]}, ValueError, "acquisitions"),
    ("plate", {"acquisitions": {"id": 0}}, TypeError, "acquisitions"),
    ("plate", {"field_count": 0}, ValueError, "field_count"),
    ("plate", {"name": 7}, TypeError, "name"),
    ("well", {"images": []}, ValueError, "images"),
    ("well", {"images": 0}, TypeError, "images"),  # a string is its fields, as in the reference
    ("well", {"images": ["0", "a/b"]}, ValueError, "images"),
    ("well", {"images": [{"path": "0", "acquisition": "first"}]}, ValueError, "images"),
    ("well", {"images": [{"acquisition": 0}]}, ValueError, "images"),
]


def refused_call(writer: str, overrides: dict[str, Any]) -> tuple[Writer, dict[str, Any]]:
    function, valid = VALID_CALLS[writer]
    kwargs = {**valid, **overrides}
    return function, {k: v for k, v in kwargs.items() if v is not None}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("writer", "overrides", "error", "parameter"), REFUSALS)
def test_a_refused_write_leaves_an_existing_group_untouched(
    tmp_path: Path,
    fmt: Format,
    writer: str,
    overrides: dict[str, Any],
    error: type[Exception],
    parameter: str,
) -> None:
    function, valid = VALID_CALLS[writer]
    group = new_group(tmp_path, fmt)
    function(group, **valid)  # something to lose
    before = metadata_files(tmp_path)
    attrs_before = stored_attrs(group)
    refused, kwargs = refused_call(writer, overrides)
    with pytest.raises(error, match=rf"^{parameter}\b"):
        refused(group, **kwargs)
    assert metadata_files(tmp_path) == before
    assert stored_attrs(group) == attrs_before


@pytest.mark.parametrize("fmt", [*FORMATS, None])
@pytest.mark.parametrize(("writer", "overrides", "error", "parameter"), REFUSALS)
def test_a_refused_write_to_a_path_creates_nothing(
    tmp_path: Path,
    fmt: Format | None,
    writer: str,
    overrides: dict[str, Any],
    error: type[Exception],
    parameter: str,
) -> None:
    target = tmp_path / "new.zarr"
    refused, kwargs = refused_call(writer, overrides)
    with pytest.raises(error, match=rf"^{parameter}\b"):
        refused(str(target), fmt=fmt, **kwargs)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


LABEL_REFUSALS = [
    ({"colors": []}, ValueError, "colors"),
    ({"colors": [{"rgba": [0, 0, 0, 0]}]}, ValueError, "colors"),
    ({"colors": [{"label-value": 1, "rgba": [0, 0, 300, 0]}]}, ValueError, "colors"),
    ({"colors": "red"}, TypeError, "colors"),
    ({"properties": [{"label-value": 0.5}]}, ValueError, "properties"),
    ({"properties": [{"label-value": 1}, {"label-value": 1}]}, ValueError, "properties"),
    ({"source": "../../"}, TypeError, "source"),
    ({"name": ""}, TypeError, "name"),
    ({"name": 3}, TypeError, "name"),
    ({"name": "missing"}, KeyError, "missing"),
    ({"name": "array"}, ValueError, "name"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("overrides", "error", "parameter"), LABEL_REFUSALS)
def test_a_refused_label_write_leaves_labels_and_label_untouched(
    tmp_path: Path, fmt: Format, overrides: dict[str, Any], error: type[Exception], parameter: str
) -> None:
    labels = labels_group(tmp_path, fmt, "cells")
    labels.create_array("array", shape=(2, 2), dtype="uint8")
    write_label_metadata(labels, "cells", colors=COLORS)
    before = metadata_files(tmp_path)
    kwargs = {"name": "cells", **overrides}
    with pytest.raises(error, match=parameter):
        write_label_metadata(labels, **kwargs)
    assert metadata_files(tmp_path) == before


def test_a_label_write_to_a_missing_path_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="cells"):
        write_label_metadata(str(tmp_path / "labels"), "cells", colors=COLORS)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ property tests

name_text = st.text(alphabet="AB12a-", max_size=3)


def memory_group(fmt: Format) -> zarr.Group:
    return zarr.open_group(zarr.storage.MemoryStore(), mode="w", zarr_format=fmt.zarr_format)


@st.composite
def plate_inputs(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    """Rows, columns and wells: often consistent, sometimes broken in one or several ways."""
    rows = draw(st.lists(name_text, max_size=4))
    columns = draw(st.lists(name_text, max_size=4))
    rows_or_junk = [*rows, "Z"]
    columns_or_junk = [*columns, "9"]
    well_path = st.builds(
        lambda r, c: f"{r}/{c}", st.sampled_from(rows_or_junk), st.sampled_from(columns_or_junk)
    )
    well_dict = st.builds(
        lambda path, r, c: {"path": path, "rowIndex": r, "columnIndex": c},
        well_path,
        st.integers(-1, 4),
        st.integers(-1, 4),
    )
    well = st.one_of(
        well_path,
        well_dict,
        well_path.map(lambda p: {"path": p}),
        st.sampled_from(["A1", "A/1/1", "", 3, None]),
    )
    wells = draw(st.lists(well, max_size=4))
    return rows, columns, wells


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs=plate_inputs(), fmt=st.sampled_from(FORMATS))
def test_random_plates_validate_or_are_refused_without_writing(
    inputs: tuple[Any, Any, Any], fmt: Format
) -> None:
    rows, columns, wells = inputs
    group = memory_group(fmt)
    try:
        write_plate_metadata(group, rows, columns, wells, fmt=fmt)
    except (ValueError, TypeError) as error:
        assert re.match(r"^(rows|columns|wells)\b", str(error)), str(error)
        assert group.attrs.asdict() == {}
        return
    attrs = group.attrs.asdict()
    assert_valid(attrs, "plate", fmt.version)
    plate = ngff_attrs(attrs, fmt)["plate"]
    for well in plate["wells"]:
        row, column = well["path"].split("/")
        assert rows[well["rowIndex"]] == row
        assert columns[well["columnIndex"]] == column


field_path = st.text(alphabet="01a/", max_size=2)
field = st.one_of(
    field_path,
    st.fixed_dictionaries({"path": field_path}),
    st.fixed_dictionaries(
        {"path": field_path, "acquisition": st.one_of(st.integers(-2, 2), st.just("0"))}
    ),
    st.sampled_from([0, None, {"acquisition": 1}, {"path": 1}]),
)


@settings(max_examples=80, deadline=None)
@given(images=st.lists(field, max_size=4), fmt=st.sampled_from(FORMATS))
def test_random_wells_validate_or_are_refused_without_writing(images: Any, fmt: Format) -> None:
    group = memory_group(fmt)
    try:
        write_well_metadata(group, images, fmt=fmt)
    except (ValueError, TypeError) as error:
        assert str(error).startswith("images"), str(error)
        assert group.attrs.asdict() == {}
        return
    attrs = group.attrs.asdict()
    assert_valid(attrs, "well", fmt.version)
    assert len(ngff_attrs(attrs, fmt)["well"]["images"]) == len(images)


def test_an_unstorable_value_is_named_where_it_is(tmp_path: Path) -> None:
    """The first failed trial used to poison the scratch group, so the message blamed the
    first value tried after it (here the string 'ok')."""
    datasets = [{"path": "s0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1]}]}]
    note = {"label": "ok", "bad": np.array([1, 2])}
    with pytest.raises(TypeError, match=r"\['note'\]\['bad'\] holds a ndarray"):
        write_multiscales_metadata(str(tmp_path / "x.zarr"), datasets, axes="yx", note=note)
