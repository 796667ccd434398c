"""Tests for omezarr.format: versions, detection, zarr facts, wells and coordinate transformations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omezarr.format import (
    CurrentFormat,
    Format,
    FormatV01,
    FormatV02,
    FormatV03,
    FormatV04,
    FormatV05,
    detect_format,
    format_from_version,
    format_implementations,
)

ALL_FORMATS = [FormatV01(), FormatV02(), FormatV03(), FormatV04(), FormatV05()]
WELL_INDEX_FORMATS = [FormatV04(), FormatV05()]
ROWS = ["A", "B", "C"]
COLUMNS = ["1", "2", "3", "10"]


def scale(*values: Any) -> dict[str, Any]:
    return {"type": "scale", "scale": list(values)}


def translation(*values: Any) -> dict[str, Any]:
    return {"type": "translation", "translation": list(values)}


# ------------------------------------------------------------------ versions


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1", FormatV01),
        ("0.2", FormatV02),
        ("0.3", FormatV03),
        ("0.4", FormatV04),
        ("0.5", FormatV05),
        (0.4, FormatV04),
        (0.5, FormatV05),
    ],
)
def test_format_from_version_accepts_strings_and_floats(
    version: str | float, expected: type[Format]
) -> None:
    fmt = format_from_version(version)
    assert type(fmt) is expected
    assert fmt.version == str(version)


@pytest.mark.parametrize("version", ["0.7", "1.0", "", "0.40", 0.45, 4])
def test_format_from_version_refuses_unknown_versions(version: str | float) -> None:
    with pytest.raises(ValueError, match=r"version: .* not a known OME-NGFF version"):
        format_from_version(version)


def test_format_implementations_are_newest_first() -> None:
    assert [f.version for f in format_implementations()] == [
        "0.6",
        "0.5",
        "0.4",
        "0.3",
        "0.2",
        "0.1",
    ]


def test_current_format_is_0_5() -> None:
    assert CurrentFormat is FormatV05
    assert CurrentFormat().version == "0.5"


def test_formats_compare_by_version_and_repr_names_the_class() -> None:
    assert FormatV04() == FormatV04()
    assert FormatV04() != FormatV05()
    assert FormatV04() != "0.4"
    assert len({FormatV04(), FormatV04(), FormatV05()}) == 2
    assert repr(FormatV04()) == "FormatV04"


@pytest.mark.parametrize(
    ("fmt", "zarr_format", "encoding", "nested"),
    [
        (FormatV01(), 2, {"name": "v2", "separator": "."}, False),
        (FormatV02(), 2, {"name": "v2", "separator": "/"}, False),
        (FormatV03(), 2, {"name": "v2", "separator": "/"}, False),
        (FormatV04(), 2, {"name": "v2", "separator": "/"}, False),
        (FormatV05(), 3, {"name": "default", "separator": "/"}, True),
    ],
)
def test_zarr_format_and_chunk_key_encoding_per_version(
    fmt: Format, zarr_format: int, encoding: dict[str, str], nested: bool
) -> None:
    assert fmt.zarr_format == zarr_format
    assert fmt.chunk_key_encoding == encoding
    assert fmt.metadata_is_nested is nested


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize("version", ["0.1", "0.2", "0.3", "0.4"])
@pytest.mark.parametrize(
    "document",
    [
        lambda v: {"multiscales": [{"version": v, "datasets": [{"path": "0"}]}]},
        lambda v: {"plate": {"version": v, "rows": [], "columns": [], "wells": []}},
        lambda v: {"well": {"version": v, "images": [{"path": "0"}]}},
        lambda v: {"image-label": {"version": v}},
    ],
    ids=["multiscales", "plate", "well", "image-label"],
)
def test_detect_format_reads_the_version_of_pre_0_5_documents(version: str, document: Any) -> None:
    fmt = detect_format(document(version), default=FormatV01())
    assert fmt == format_from_version(version)


@pytest.mark.parametrize(
    "document",
    [
        {"ome": {"version": "0.5", "multiscales": [{"datasets": [{"path": "0"}]}]}},
        {"ome": {"version": "0.5", "plate": {"version": "0.5"}}},
        {"version": "0.5", "multiscales": []},
    ],
    ids=["ome-image", "ome-plate", "unwrapped"],
)
def test_detect_format_reads_0_5_documents(document: dict[str, Any]) -> None:
    assert detect_format(document, default=FormatV04()) == FormatV05()


@pytest.mark.parametrize(
    "document",
    [
        None,
        {},
        {"multiscales": [{"version": "0.9"}]},
        {"multiscales": []},
        {"ome": {"version": "9.9"}},
        {"something": "else"},
    ],
)
def test_detect_format_falls_back_to_the_default(document: dict[str, Any] | None) -> None:
    assert detect_format(document, default=FormatV03()) == FormatV03()


def test_each_format_matches_only_its_own_version() -> None:
    document = {"multiscales": [{"version": "0.3"}]}
    assert [f.version for f in ALL_FORMATS if f.matches(document)] == ["0.3"]


# ------------------------------------------------------------------ wells


@pytest.mark.parametrize("fmt", [FormatV01(), FormatV02(), FormatV03()])
def test_generate_well_dict_before_0_4_is_only_a_path(fmt: Format) -> None:
    assert fmt.generate_well_dict("B/2", ROWS, COLUMNS) == {"path": "B/2"}


@pytest.mark.parametrize("fmt", WELL_INDEX_FORMATS)
def test_generate_well_dict_adds_row_and_column_indices(fmt: Format) -> None:
    assert fmt.generate_well_dict("B/10", ROWS, COLUMNS) == {
        "path": "B/10",
        "rowIndex": 1,
        "columnIndex": 3,
    }
    assert fmt.generate_well_dict("A/1", ROWS, COLUMNS) == {
        "path": "A/1",
        "rowIndex": 0,
        "columnIndex": 0,
    }


@pytest.mark.parametrize("fmt", WELL_INDEX_FORMATS)
@pytest.mark.parametrize(
    ("well", "problem"),
    [
        (3, "expected a 'row/column' string"),
        (None, "expected a 'row/column' string"),
        ("A1", "must be 'row/column'"),
        ("A/1/2", "must be 'row/column'"),
        ("", "must be 'row/column'"),
        ("D/1", "row 'D' of 'D/1' is not one of rows"),
        ("A/4", "column '4' of 'A/4' is not one of columns"),
    ],
)
def test_generate_well_dict_refuses_bad_wells(fmt: Format, well: Any, problem: str) -> None:
    with pytest.raises(ValueError, match="wells: ") as info:
        fmt.generate_well_dict(well, ROWS, COLUMNS)
    assert problem in str(info.value)


@pytest.mark.parametrize("fmt", WELL_INDEX_FORMATS)
def test_validate_well_dict_accepts_agreeing_indices(fmt: Format) -> None:
    fmt.validate_well_dict({"path": "C/3", "rowIndex": 2, "columnIndex": 2}, ROWS, COLUMNS)
    # Keys the specification does not name are tolerated.
    fmt.validate_well_dict(
        {"path": "A/1", "rowIndex": 0, "columnIndex": 0, "note": "x"}, ROWS, COLUMNS
    )


@pytest.mark.parametrize("fmt", WELL_INDEX_FORMATS)
@pytest.mark.parametrize(
    ("well", "problem"),
    [
        ("A/1", "must be a dict"),
        ({"rowIndex": 0, "columnIndex": 0}, "must contain a 'path' key"),
        ({"path": "A/1", "columnIndex": 0}, "must contain a 'rowIndex' key"),
        ({"path": "A/1", "rowIndex": 0}, "must contain a 'columnIndex' key"),
        ({"path": 1, "rowIndex": 0, "columnIndex": 0}, "'path' must be of type str"),
        ({"path": "A/1", "rowIndex": "0", "columnIndex": 0}, "'rowIndex' must be of type int"),
        ({"path": "A/1", "rowIndex": 0, "columnIndex": 0.0}, "'columnIndex' must be of type int"),
        ({"path": "A/1", "rowIndex": False, "columnIndex": 0}, "'rowIndex' must be of type int"),
        ({"path": "A1", "rowIndex": 0, "columnIndex": 0}, "must be 'row/column'"),
        ({"path": "Z/1", "rowIndex": 0, "columnIndex": 0}, "row 'Z' of 'Z/1' is not one of rows"),
        ({"path": "A/9", "rowIndex": 0, "columnIndex": 0}, "column '9' of 'A/9' is not one of"),
        ({"path": "B/1", "rowIndex": 0, "columnIndex": 0}, "rowIndex 0 of 'B/1' does not match"),
        ({"path": "A/2", "rowIndex": 0, "columnIndex": 0}, "columnIndex 0 of 'A/2' does not"),
    ],
)
def test_validate_well_dict_refuses_each_problem(fmt: Format, well: Any, problem: str) -> None:
    with pytest.raises(ValueError, match="wells: ") as info:
        fmt.validate_well_dict(well, ROWS, COLUMNS)
    assert problem in str(info.value)


@pytest.mark.parametrize("fmt", [FormatV01(), FormatV02(), FormatV03()])
def test_validate_well_dict_before_0_4_needs_only_a_string_path(fmt: Format) -> None:
    fmt.validate_well_dict({"path": "anything"}, ROWS, COLUMNS)
    with pytest.raises(ValueError, match=r"wells: .*must contain a 'path' key"):
        fmt.validate_well_dict({"rowIndex": 0}, ROWS, COLUMNS)
    with pytest.raises(ValueError, match=r"wells: .*'path' must be of type str"):
        fmt.validate_well_dict({"path": 3}, ROWS, COLUMNS)


names = st.text(alphabet="ABCxyz0123", min_size=1, max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(names, min_size=1, max_size=5, unique=True),
    columns=st.lists(names, min_size=1, max_size=5, unique=True),
    data=st.data(),
)
def test_generated_well_dicts_always_validate(
    rows: list[str], columns: list[str], data: st.DataObject
) -> None:
    row = data.draw(st.sampled_from(rows))
    column = data.draw(st.sampled_from(columns))
    for fmt in WELL_INDEX_FORMATS:
        well = fmt.generate_well_dict(f"{row}/{column}", rows, columns)
        assert rows[well["rowIndex"]] == row
        assert columns[well["columnIndex"]] == column
        fmt.validate_well_dict(well, rows, columns)


# ------------------------------------------------------------------ transformations


@pytest.mark.parametrize("fmt", [FormatV01(), FormatV02(), FormatV03()])
def test_no_coordinate_transformations_before_0_4(fmt: Format) -> None:
    assert fmt.generate_coordinate_transformations([(4, 4), (2, 2)]) is None
    # Anything goes: those versions have no transformations to validate.
    fmt.validate_coordinate_transformations(2, 2, None)
    fmt.validate_coordinate_transformations(2, 1, [[{"type": "nonsense"}]])


@pytest.mark.parametrize("fmt", WELL_INDEX_FORMATS)
def test_generate_coordinate_transformations_divides_level_0_by_each_level(fmt: Format) -> None:
    shapes = [(3, 2, 64, 64), (3, 2, 32, 32), (3, 2, 16, 16), (3, 2, 5, 7)]
    transformations = fmt.generate_coordinate_transformations(shapes)
    assert transformations == [
        [scale(1.0, 1.0, 1.0, 1.0)],
        [scale(1.0, 1.0, 2.0, 2.0)],
        [scale(1.0, 1.0, 4.0, 4.0)],
        [scale(1.0, 1.0, 64 / 5, 64 / 7)],
    ]
    assert all(isinstance(v, float) for level in transformations for v in level[0]["scale"])
    fmt.validate_coordinate_transformations(4, 4, transformations)


@pytest.mark.parametrize(
    ("shapes", "problem"),
    [([], "at least one level shape"), ([(4, 4), (2, 2, 2)], "level 1 has 3 dimensions")],
)
def test_generate_coordinate_transformations_refuses_bad_shapes(
    shapes: list[tuple[int, ...]], problem: str
) -> None:
    with pytest.raises(ValueError, match="shapes: ") as info:
        FormatV04().generate_coordinate_transformations(shapes)
    assert problem in str(info.value)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(1, 4096), min_size=2, max_size=5).map(tuple),
        min_size=1,
        max_size=5,
    ).filter(lambda shapes: len({len(s) for s in shapes}) == 1)
)
def test_generated_transformations_always_validate(shapes: list[tuple[int, ...]]) -> None:
    fmt = FormatV05()
    transformations = fmt.generate_coordinate_transformations(shapes)
    assert transformations is not None
    fmt.validate_coordinate_transformations(len(shapes[0]), len(shapes), transformations)
    for level, shape in zip(transformations, shapes, strict=True):
        assert level[0]["scale"] == pytest.approx(
            [a / b for a, b in zip(shapes[0], shape, strict=True)]
        )


@pytest.mark.parametrize("fmt", WELL_INDEX_FORMATS)
@pytest.mark.parametrize(
    "transformations",
    [
        [[scale(1, 1)]],
        [[scale(0.5, 2.0), translation(-3, 10.5)]],
    ],
    ids=["scale", "scale+translation"],
)
def test_validate_coordinate_transformations_accepts_valid_levels(
    fmt: Format, transformations: list[list[dict[str, Any]]]
) -> None:
    fmt.validate_coordinate_transformations(2, 1, transformations)
    fmt.validate_coordinate_transformations(2, 2, transformations * 2)


@pytest.mark.parametrize("fmt", WELL_INDEX_FORMATS)
@pytest.mark.parametrize(
    ("transformations", "problem"),
    [
        (None, "must be provided"),
        ("scale", "one list per level"),
        ({"type": "scale"}, "one list per level"),
        ([[scale(1, 1)]], "1 lists given, one per level is needed (2 levels)"),
        ([[scale(1, 1)]] * 3, "3 lists given"),
        ([[scale(1, 1)], []], "[1] must be a non-empty list"),
        ([[scale(1, 1)], scale(1, 1)], "[1] must be a non-empty list"),
        ([[scale(1, 1)], ["scale"]], "every transformation needs a 'type'"),
        ([[scale(1, 1)], [{"scale": [1, 1]}]], "every transformation needs a 'type'"),
        ([[scale(1, 1)], [translation(0, 0)]], "exactly one 'scale'"),
        ([[scale(1, 1)], [scale(1, 1), scale(1, 1)]], "exactly one 'scale'"),
        ([[scale(1, 1)], [translation(0, 0), scale(1, 1)]], "the 'scale' must come first"),
        (
            [[scale(1, 1)], [scale(1, 1), translation(0, 0), translation(0, 0)]],
            "at most one 'translation'",
        ),
        ([[scale(1, 1)], [scale(1, 1), {"type": "affine"}]], "unknown transformation types"),
        ([[scale(1, 1)], [{"type": "scale"}]], "has no 'scale' list"),
        ([[scale(1, 1)], [scale(1, 1), {"type": "translation"}]], "has no 'translation' list"),
        ([[scale(1, 1)], [{"type": "scale", "scale": "11"}]], "must be a list of numbers"),
        ([[scale(1, 1)], [{"type": "scale", "scale": 2.0}]], "must be a list of numbers"),
        ([[scale(1, 1)], [scale(1, 1, 1)]], "'scale' has 3 values, the image has 2"),
        ([[scale(1, 1)], [scale(1)]], "'scale' has 1 values"),
        ([[scale(1, 1)], [scale(1, 1), translation(0)]], "'translation' has 1 values"),
        ([[scale(1, 1)], [scale(1, "2")]], "values must all be finite numbers"),
        ([[scale(1, 1)], [scale(1, None)]], "values must all be finite numbers"),
        ([[scale(1, 1)], [scale(True, 1)]], "values must all be finite numbers"),
        ([[scale(1, 1)], [scale(1, float("nan"))]], "values must all be finite numbers"),
        ([[scale(1, 1)], [scale(1, 1), translation(0, "x")]], "values must all be finite"),
        ([[scale(1, 1)], [scale(1, 0)]], "'scale' values must be positive"),
        ([[scale(1, 1)], [scale(-1, 1)]], "'scale' values must be positive"),
    ],
)
def test_validate_coordinate_transformations_refuses_each_problem(
    fmt: Format, transformations: Any, problem: str
) -> None:
    with pytest.raises(ValueError, match="coordinate_transformations") as info:
        fmt.validate_coordinate_transformations(2, 2, transformations)
    assert problem in str(info.value)


def test_validate_coordinate_transformations_names_the_failing_level() -> None:
    with pytest.raises(ValueError, match=r"coordinate_transformations\[2\]"):
        FormatV04().validate_coordinate_transformations(
            2, 3, [[scale(1, 1)], [scale(2, 2)], [scale(4, 4, 4)]]
        )
