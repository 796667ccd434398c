"""Drop-in compatibility with the established writer (ome-zarr-py's ``ome_zarr.writer``).

Its documented examples, behaviours, warnings and errors, run against omezarr; where the
established library is importable (``ome-zarr`` is in the test extra), compared with it
directly: the same metadata documents, the same kinds of errors and warnings, the same results
of the private helpers its users import. A change that breaks a user who only swapped
``ome_zarr.writer`` for ``omezarr.writer`` fails here.

Where omezarr deliberately differs (it refuses metadata the NGFF schemas reject, and writes
the ``version`` of a 0.5 label image where the spec puts it), the difference is listed and
pinned here, so that it stays a decision rather than an accident.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import zarr

import omezarr.format as our_format
import omezarr.scale as our_scale
import omezarr.writer as our_writer
from _arrays import seeded_image

VERSIONS = ["0.4", "0.5"]
FORMAT_CLASS = {"0.4": "FormatV04", "0.5": "FormatV05"}


@pytest.fixture(scope="module")
def reference() -> SimpleNamespace:
    """The established library's writer, format and scale modules (the test extra installs
    ome-zarr)."""
    with warnings.catch_warnings():
        # Its writer builds a deprecated Scaler as a default argument when imported.
        warnings.simplefilter("ignore", DeprecationWarning)
        writer = importlib.import_module("ome_zarr.writer")
        fmt = importlib.import_module("ome_zarr.format")
        scale = importlib.import_module("ome_zarr.scale")
    return SimpleNamespace(writer=writer, format=fmt, scale=scale)


def _formats(reference: SimpleNamespace, version: str) -> tuple[Any, Any]:
    """The reference's and omezarr's Format for ``version``."""
    name = FORMAT_CLASS[version]
    return getattr(reference.format, name)(), getattr(our_format, name)()


def _attrs(path: Path | str) -> dict[str, Any]:
    return zarr.open_group(str(path), mode="r").attrs.asdict()


def _outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None, list[Any]]:
    """What ``call`` returned or raised, and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except Exception as error:  # the reference raises anything: compared by the caller
            return None, error, list(caught)
    return result, None, list(caught)


def _assert_same_kind(theirs: BaseException, ours: BaseException) -> None:
    """omezarr's error is of the reference's kind: a ValueError where it raises ValueError, a
    TypeError where it raises TypeError, and one of the two where it fails by accident (an
    AttributeError or AssertionError on a wrong type)."""
    kinds = tuple(k for k in (ValueError, TypeError, KeyError) if isinstance(theirs, k))
    assert isinstance(ours, kinds or (ValueError, TypeError)), (
        f"the reference raises {type(theirs).__name__} ({theirs}), omezarr "
        f"{type(ours).__name__} ({ours})"
    )


# ------------------------------------------------------------------------------------------
# Metadata writers: the same documents
# ------------------------------------------------------------------------------------------

DATASETS = [
    {"path": "s0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5, 0.5]}]},
    {
        "path": "s1",
        "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 1.0, 1.0]},
            {"type": "translation", "translation": [0.0, 0.25, 0.25]},
        ],
    },
]
OMERO = {
    "channels": [
        {
            "color": "FF0000",
            "label": "nuclei",
            "window": {"min": 0, "max": 255, "start": 0, "end": 200},
        }
    ]
}

METADATA_CALLS: list[Any] = [
    pytest.param(
        "write_plate_metadata",
        {
            "rows": ["A", "B"],
            "columns": ["1", "2", "3"],
            "wells": ["A/1", {"path": "B/3", "rowIndex": 1, "columnIndex": 2}],
            "acquisitions": [{"id": 0, "name": "first", "maximumfieldcount": 2}, {"id": 1}],
            "field_count": 2,
            "name": "plate",
        },
        id="plate-every-argument",
    ),
    pytest.param(
        "write_plate_metadata",
        {"rows": "AB", "columns": "12", "wells": ["A/1", "B/2"]},
        id="plate-rows-and-columns-as-strings",
    ),
    pytest.param(
        "write_plate_metadata",
        {"rows": ("A",), "columns": ("1",), "wells": ("A/1",), "acquisitions": []},
        id="plate-tuples-and-no-acquisition",
    ),
    pytest.param(
        "write_well_metadata",
        {"images": ["0", {"path": "1", "acquisition": 0}, {"path": "2", "extra": True}]},
        id="well-paths-and-dicts",
    ),
    pytest.param("write_well_metadata", {"images": "0"}, id="well-one-field-as-a-string"),
    pytest.param(
        "write_multiscales_metadata",
        {
            "datasets": DATASETS,
            "axes": "zyx",
            "axes_units": {"z": "micrometer", "x": "micrometer"},
            "name": "img",
            "metadata": {"method": "local_mean", "omero": OMERO},
        },
        id="multiscales-with-units-and-omero",
    ),
    pytest.param(
        "write_multiscales_metadata",
        {
            "datasets": DATASETS,
            "axes": [
                {"name": "c", "type": "channel"},
                {"name": "y", "type": "space", "unit": "micrometer"},
                {"name": "x", "type": "space"},
            ],
        },
        id="multiscales-axis-dicts-default-name",
    ),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("writer", "arguments"), METADATA_CALLS)
def test_metadata_writers_write_the_references_documents(
    tmp_path: Path, reference: SimpleNamespace, version: str, writer: str, arguments: dict
) -> None:
    theirs_fmt, ours_fmt = _formats(reference, version)
    getattr(reference.writer, writer)(
        str(tmp_path / "theirs.zarr"), fmt=theirs_fmt, **copy.deepcopy(arguments)
    )
    getattr(our_writer, writer)(
        str(tmp_path / "ours.zarr"), fmt=ours_fmt, **copy.deepcopy(arguments)
    )
    assert _attrs(tmp_path / "ours.zarr") == _attrs(tmp_path / "theirs.zarr")


@pytest.mark.parametrize("version", VERSIONS)
def test_write_label_metadata_writes_the_references_documents(
    tmp_path: Path, reference: SimpleNamespace, version: str
) -> None:
    """Equal but for 0.5's ``version``: the reference writes it inside ``image-label`` (the 0.4
    place), omezarr once at ``ome`` of both groups, where the 0.5 spec and schemas want it."""
    arguments = {
        "colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}],
        "properties": [{"label-value": 1, "area": 5}],
        "source": {"image": "../../"},
    }
    documents = {}
    for who, writer, fmt in zip(
        ("theirs", "ours"),
        (reference.writer, our_writer),
        _formats(reference, version),
        strict=True,
    ):
        root = zarr.open_group(str(tmp_path / f"{who}.zarr"), mode="w", zarr_format=fmt.zarr_format)
        root.create_group("labels/cells")
        writer.write_label_metadata(
            str(tmp_path / f"{who}.zarr" / "labels"), "cells", fmt=fmt, **copy.deepcopy(arguments)
        )
        documents[who] = (
            _attrs(tmp_path / f"{who}.zarr" / "labels"),
            _attrs(tmp_path / f"{who}.zarr" / "labels" / "cells"),
        )
    if version == "0.5":
        labels, label = documents["theirs"]
        labels["ome"]["version"] = "0.5"
        label["ome"]["version"] = label["ome"]["image-label"].pop("version")
    assert documents["ours"] == documents["theirs"]


# ------------------------------------------------------------------------------------------
# Metadata writers: invalid arguments
# ------------------------------------------------------------------------------------------


def _scale(*values: float) -> list[dict[str, Any]]:
    return [{"type": "scale", "scale": list(values)}]


PLATE = {"rows": ["A"], "columns": ["1"], "wells": ["A/1"]}

REFUSED_BY_BOTH: list[Any] = [
    # (writer, arguments, the parameter omezarr's message names)
    pytest.param("write_multiscales_metadata", {"datasets": None}, "datasets", id="datasets-none"),
    pytest.param("write_multiscales_metadata", {"datasets": []}, "datasets", id="datasets-empty"),
    pytest.param("write_multiscales_metadata", {"datasets": 5}, "datasets", id="datasets-int"),
    pytest.param("write_multiscales_metadata", {"datasets": "s0"}, "datasets", id="datasets-str"),
    pytest.param(
        "write_multiscales_metadata", {"datasets": {"path": "s0"}}, "datasets", id="datasets-dict"
    ),
    pytest.param(
        "write_multiscales_metadata", {"datasets": ["s0"]}, "datasets", id="dataset-not-a-dict"
    ),
    pytest.param(
        "write_multiscales_metadata",
        {"datasets": [{"coordinateTransformations": _scale(1, 1)}]},
        "datasets",
        id="dataset-without-path",
    ),
    pytest.param(
        "write_multiscales_metadata",
        {"datasets": [{"path": "", "coordinateTransformations": _scale(1, 1)}]},
        "datasets",
        id="dataset-empty-path",
    ),
    pytest.param(
        "write_multiscales_metadata",
        {"datasets": [{"path": "s0"}]},
        "datasets",
        id="dataset-without-transformations",
    ),
    pytest.param(
        "write_multiscales_metadata",
        {"datasets": [{"path": "s0", "coordinateTransformations": _scale(1, 1, 1)}]},
        "datasets",
        id="dataset-scale-of-another-rank",
    ),
    pytest.param(
        "write_multiscales_metadata",
        {"datasets": [{"path": "s0", "coordinateTransformations": 5}]},
        "datasets",
        id="dataset-transformations-int",
    ),
    pytest.param(
        "write_multiscales_metadata",
        {"datasets": [{"path": "s0", "coordinateTransformations": [5]}]},
        "datasets",
        id="dataset-transformation-int",
    ),
    pytest.param("write_plate_metadata", {**PLATE, "wells": None}, "wells", id="wells-none"),
    pytest.param("write_plate_metadata", {**PLATE, "wells": []}, "wells", id="wells-empty"),
    pytest.param("write_plate_metadata", {**PLATE, "wells": 5}, "wells", id="wells-int"),
    pytest.param("write_plate_metadata", {**PLATE, "wells": "A/1"}, "wells", id="wells-str"),
    pytest.param("write_plate_metadata", {**PLATE, "wells": [5]}, "wells", id="well-int"),
    pytest.param("write_plate_metadata", {**PLATE, "wells": ["B/1"]}, "wells", id="well-row"),
    pytest.param("write_plate_metadata", {**PLATE, "wells": ["A/2"]}, "wells", id="well-column"),
    pytest.param("write_plate_metadata", {**PLATE, "wells": ["A1"]}, "wells", id="well-no-slash"),
    pytest.param("write_plate_metadata", {**PLATE, "wells": ["A/1/0"]}, "wells", id="well-3-parts"),
    pytest.param(
        "write_plate_metadata",
        {**PLATE, "wells": [{"path": "A/1", "rowIndex": 0}]},
        "wells",
        id="well-dict-without-column",
    ),
    pytest.param(
        "write_plate_metadata",
        {**PLATE, "wells": [{"path": "A/1", "rowIndex": 1, "columnIndex": 0}]},
        "wells",
        id="well-dict-wrong-index",
    ),
    pytest.param(
        "write_plate_metadata",
        {**PLATE, "wells": [{"path": "A/1", "rowIndex": "0", "columnIndex": 0}]},
        "wells",
        id="well-dict-index-str",
    ),
    pytest.param(
        "write_plate_metadata",
        {**PLATE, "wells": [{"path": 5, "rowIndex": 0, "columnIndex": 0}]},
        "wells",
        id="well-dict-path-int",
    ),
    pytest.param("write_plate_metadata", {**PLATE, "rows": None}, "rows", id="rows-none"),
    pytest.param("write_plate_metadata", {**PLATE, "rows": []}, "rows", id="rows-empty"),
    pytest.param("write_plate_metadata", {**PLATE, "rows": [1]}, "rows", id="rows-int-name"),
    pytest.param("write_plate_metadata", {**PLATE, "rows": ["A", "A"]}, "rows", id="rows-twice"),
    pytest.param("write_plate_metadata", {**PLATE, "rows": ["A-"]}, "rows", id="rows-not-alnum"),
    pytest.param("write_plate_metadata", {**PLATE, "columns": 5}, "columns", id="columns-int"),
    pytest.param("write_plate_metadata", {**PLATE, "columns": [1]}, "columns", id="column-int"),
    pytest.param(
        "write_plate_metadata", {**PLATE, "acquisitions": 5}, "acquisitions", id="acquisitions-int"
    ),
    pytest.param(
        "write_plate_metadata",
        {**PLATE, "acquisitions": "x"},
        "acquisitions",
        id="acquisitions-str",
    ),
    pytest.param(
        "write_plate_metadata",
        {**PLATE, "acquisitions": {"id": 0}},
        "acquisitions",
        id="acquisitions-dict",
    ),
    pytest.param(
        "write_plate_metadata", {**PLATE, "acquisitions": [5]}, "acquisitions", id="acquisition-int"
    ),
    pytest.param(
        "write_plate_metadata",
        {**PLATE, "acquisitions": [{}]},
        "acquisitions",
        id="acquisition-without-id",
    ),
    pytest.param(
        "write_plate_metadata",
        {**PLATE, "acquisitions": [{"id": "0"}]},
        "acquisitions",
        id="acquisition-id-str",
    ),
    pytest.param("write_well_metadata", {"images": None}, "images", id="images-none"),
    pytest.param("write_well_metadata", {"images": 5}, "images", id="images-int"),
    pytest.param("write_well_metadata", {"images": [5]}, "images", id="image-int"),
    pytest.param("write_well_metadata", {"images": [{}]}, "images", id="image-without-path"),
    pytest.param("write_well_metadata", {"images": [{"path": 0}]}, "images", id="image-path-int"),
    pytest.param(
        "write_well_metadata",
        {"images": [{"path": "0", "acquisition": "1"}]},
        "images",
        id="image-acquisition-str",
    ),
]


def _call(module: Any, writer: str, target: str, fmt: Any, arguments: dict[str, Any]) -> Any:
    arguments = copy.deepcopy(arguments)
    if writer == "write_multiscales_metadata":
        arguments.setdefault("axes", "yx")
    return getattr(module, writer)(target, fmt=fmt, **arguments)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("writer", "arguments", "parameter"), REFUSED_BY_BOTH)
def test_what_the_reference_refuses_is_refused_with_an_error_of_its_kind(
    tmp_path: Path,
    reference: SimpleNamespace,
    version: str,
    writer: str,
    arguments: dict,
    parameter: str,
) -> None:
    """A ValueError where the reference raises one (``except ValueError`` keeps working), a
    TypeError where it raises TypeError, named and before anything is written. Where omezarr
    raised TypeError and the reference ValueError, the error is both."""
    theirs_fmt, ours_fmt = _formats(reference, version)
    _, theirs, _ = _outcome(
        lambda: _call(
            reference.writer, writer, str(tmp_path / "theirs.zarr"), theirs_fmt, arguments
        )
    )
    assert theirs is not None, "the reference accepts this: the case belongs elsewhere"
    target = tmp_path / "ours.zarr"
    with pytest.raises(Exception) as caught:
        _call(our_writer, writer, str(target), ours_fmt, arguments)
    _assert_same_kind(theirs, caught.value)
    assert str(caught.value).startswith(parameter), str(caught.value)
    assert not target.exists()


REFUSED_BY_OMEZARR_ONLY: list[Any] = [
    # Metadata the NGFF schemas reject, or that is not what was asked for: the reference
    # writes it, omezarr refuses it with a ValueError naming the parameter.
    pytest.param(
        "write_multiscales_metadata",
        {"datasets": [{"path": 5, "coordinateTransformations": _scale(1, 1)}]},
        "datasets",
        id="dataset-path-int",
    ),
    pytest.param(
        "write_multiscales_metadata",
        {"datasets": [{"path": "s0", "coordinateTransformations": _scale(1, 1)}] * 2},
        "datasets",
        id="dataset-paths-repeated",
    ),
    pytest.param(
        "write_plate_metadata", {**PLATE, "wells": ["A/1", "A/1"]}, "wells", id="wells-repeated"
    ),
    pytest.param(
        "write_plate_metadata", {**PLATE, "field_count": "3"}, "field_count", id="field-count-str"
    ),
    pytest.param("write_plate_metadata", {**PLATE, "name": 5}, "name", id="plate-name-int"),
    pytest.param("write_well_metadata", {"images": []}, "images", id="images-empty"),
    pytest.param("write_well_metadata", {"images": ["0", "0"]}, "images", id="images-repeated"),
    pytest.param("write_well_metadata", {"images": ["a/b"]}, "images", id="image-path-not-alnum"),
    # The reference iterates the dict's keys and writes a field named "path".
    pytest.param("write_well_metadata", {"images": {"path": "0"}}, "images", id="images-dict"),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("writer", "arguments", "parameter"), REFUSED_BY_OMEZARR_ONLY)
def test_metadata_the_schemas_reject_is_refused_with_a_value_error(
    tmp_path: Path,
    reference: SimpleNamespace,
    version: str,
    writer: str,
    arguments: dict,
    parameter: str,
) -> None:
    theirs_fmt, ours_fmt = _formats(reference, version)
    _, theirs, _ = _outcome(
        lambda: _call(
            reference.writer, writer, str(tmp_path / "theirs.zarr"), theirs_fmt, arguments
        )
    )
    assert theirs is None, f"the reference refuses this too ({theirs!r}): move the case"
    target = tmp_path / "ours.zarr"
    with pytest.raises(ValueError, match=f"^{parameter}"):
        _call(our_writer, writer, str(target), ours_fmt, arguments)
    assert not target.exists()


def test_a_wrongly_typed_argument_is_caught_by_except_value_error_and_type_error(
    tmp_path: Path,
) -> None:
    """omezarr raised TypeError for a ``wells`` that is no list, the reference ValueError: code
    written for either keeps catching it."""
    for kind in (ValueError, TypeError):
        with pytest.raises(kind, match=r"^wells"):
            our_writer.write_plate_metadata(str(tmp_path / "plate.zarr"), ["A"], ["1"], None)  # type: ignore[arg-type]
    assert not (tmp_path / "plate.zarr").exists()


# ------------------------------------------------------------------------------------------
# Private helpers the reference's users import
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["_retuple", "_get_valid_axes", "_extract_dims_from_axes"])
def test_private_helpers_exist_with_the_references_parameters(
    reference: SimpleNamespace, name: str
) -> None:
    theirs = inspect.signature(getattr(reference.writer, name)).parameters
    ours = inspect.signature(getattr(our_writer, name)).parameters
    assert list(ours) == list(theirs)
    assert [p.kind for p in ours.values()] == [p.kind for p in theirs.values()]


RETUPLE_CASES = [
    pytest.param(64, (3, 4, 5), id="int"),
    pytest.param((64, 64), (3, 4, 5, 1028, 1028), id="docstring-example"),
    pytest.param([16, 8], (10, 20), id="list-of-the-rank"),
    pytest.param((), (4, 5), id="empty"),
    pytest.param((1, 2, 3), (10, 20), id="longer-than-the-shape"),
    pytest.param((2.5,), (4, 5), id="float"),
    pytest.param(True, (4, 5), id="bool"),
    pytest.param(None, (4, 5), id="none"),
    pytest.param(np.int64(4), (4, 5), id="numpy-int"),
]


@pytest.mark.parametrize(("chunks", "shape"), RETUPLE_CASES)
def test_retuple_gives_the_references_results_and_errors(
    reference: SimpleNamespace, chunks: Any, shape: tuple[int, ...]
) -> None:
    theirs, their_error, _ = _outcome(lambda: reference.writer._retuple(chunks, shape))
    ours, our_error, _ = _outcome(lambda: our_writer._retuple(chunks, shape))
    assert type(our_error) is type(their_error)
    assert ours == theirs
    assert type(ours) is type(theirs)


VALID_AXES: list[Any] = [
    pytest.param((2,), {}, id="guess-2d"),
    pytest.param((5,), {}, id="guess-5d"),
    pytest.param((3, "zyx"), {}, id="string"),
    pytest.param((3, ["c", "y", "x"]), {}, id="names"),
    pytest.param((4, ("t", "z", "y", "x")), {}, id="tuple"),
    pytest.param((None, "yx"), {}, id="no-ndim"),
    pytest.param((3, "qyx"), {}, id="custom-axis"),
    pytest.param(
        (2, [{"name": "y", "type": "space", "unit": "micrometer"}, {"name": "x", "type": "space"}]),
        {"axes_units": {"x": "nanometer"}},
        id="dicts-and-units",
    ),
    pytest.param((2, "yx"), {"axes_units": {"x": "bogus"}}, id="unknown-spatial-unit-warns"),
    pytest.param((3, "tyx"), {"axes_units": {"t": "bogus"}}, id="unknown-time-unit-warns"),
    pytest.param((), {"axes": "yx", "axes_units": {"y": "micrometer"}}, id="keywords"),
    pytest.param((2, "yx"), {"fmt": "0.4"}, id="0.4"),
    pytest.param((3, "zyx"), {"fmt": "0.3"}, id="0.3-names"),
    pytest.param((5, None), {"fmt": "0.2"}, id="0.2-none"),
]

INVALID_AXES: list[Any] = [
    pytest.param((3,), {}, id="3d-not-guessed"),
    pytest.param((None,), {}, id="nothing-to-guess"),
    pytest.param((2, "zyx"), {}, id="count"),
    pytest.param((3, "ycx"), {}, id="channel-after-space"),
    pytest.param((5, "ctzyx"), {}, id="time-not-first"),
    pytest.param((3, "yxc"), {"fmt": "0.3"}, id="0.3-order"),
    pytest.param((2, 5), {}, id="int"),
    pytest.param((None, 5), {}, id="int-no-ndim"),
    pytest.param((2, ["y", 5]), {}, id="int-axis"),
]


def _axes_call(module: Any, formats: Any, args: tuple, kwargs: dict) -> Callable[[], Any]:
    kwargs = dict(kwargs)
    if "fmt" in kwargs:
        kwargs["fmt"] = getattr(formats, f"FormatV0{kwargs['fmt'][-1]}")()
    return lambda: module._get_valid_axes(*args, **kwargs)


@pytest.mark.parametrize(("args", "kwargs"), VALID_AXES)
def test_get_valid_axes_gives_the_references_axes_and_warnings(
    reference: SimpleNamespace, args: tuple, kwargs: dict
) -> None:
    theirs, their_error, their_warnings = _outcome(
        _axes_call(reference.writer, reference.format, args, kwargs)
    )
    ours, our_error, our_warnings = _outcome(_axes_call(our_writer, our_format, args, kwargs))
    assert their_error is None and our_error is None, (their_error, our_error)
    assert ours == theirs
    assert [(w.category, str(w.message)) for w in our_warnings] == [
        (w.category, str(w.message)) for w in their_warnings
    ]


@pytest.mark.parametrize(("args", "kwargs"), INVALID_AXES)
def test_get_valid_axes_refuses_with_the_references_kind_of_error(
    reference: SimpleNamespace, args: tuple, kwargs: dict
) -> None:
    _, theirs, _ = _outcome(_axes_call(reference.writer, reference.format, args, kwargs))
    _, ours, _ = _outcome(_axes_call(our_writer, our_format, args, kwargs))
    assert theirs is not None and ours is not None, (theirs, ours)
    _assert_same_kind(theirs, ours)


@pytest.mark.parametrize(
    "axes",
    [None, ["y", "x"], [{"name": "z", "type": "space"}, {"name": "y"}, {"name": "x"}]],
)
def test_extract_dims_from_axes_gives_the_references_names(
    reference: SimpleNamespace, axes: Any
) -> None:
    assert our_writer._extract_dims_from_axes(axes) == reference.writer._extract_dims_from_axes(
        axes
    )


PARTIAL_SCALE_FACTORS: list[Any] = [
    pytest.param((64, 64), "yx", [{"x": 2}], id="x-only"),
    pytest.param((64, 64), "yx", [{"y": 2}, {"y": 4, "x": 2}], id="y-then-both"),
    pytest.param((9, 65, 67), "zyx", [{"y": 2, "x": 2}, {"z": 3, "y": 4, "x": 4}], id="z-later"),
    pytest.param((9, 65, 67), "zyx", [{"z": 3}], id="z-only"),
    pytest.param((2, 65, 67), "cyx", [{"x": 2}, {"x": 6}], id="channel-axis-unnamed"),
    pytest.param((1, 2, 5, 33, 34), "tczyx", [{"x": 2}, {"x": 4, "z": 2}], id="5d"),
    pytest.param((64, 64), "yx", [{}], id="empty-dict"),
    pytest.param((5, 5), "yx", [{"x": 8}], id="too-small-warns"),
]


@pytest.mark.parametrize(("shape", "dims", "scale_factors"), PARTIAL_SCALE_FACTORS)
def test_build_pyramid_treats_dicts_naming_some_axes_as_the_reference(
    reference: SimpleNamespace, shape: tuple[int, ...], dims: str, scale_factors: list[dict]
) -> None:
    """Axes a dict leaves out keep factor 1 (relative to level 0): same levels, and with
    nearest the same pixels, as the reference; the same warning where an axis reaches 1."""
    image = seeded_image(shape, np.uint16)
    theirs, their_error, their_warnings = _outcome(
        lambda: reference.scale._build_pyramid(
            image, copy.deepcopy(scale_factors), dims=dims, method="nearest"
        )
    )
    ours, our_error, our_warnings = _outcome(
        lambda: our_scale._build_pyramid(
            image, copy.deepcopy(scale_factors), dims=dims, method="nearest"
        )
    )
    assert their_error is None and our_error is None, (their_error, our_error)
    assert [level.shape for level in ours] == [level.shape for level in theirs]
    for mine, wanted in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(wanted))

    def too_small(caught: list[Any]) -> list[str]:
        return [str(w.message) for w in caught if "too small" in str(w.message)]

    assert too_small(our_warnings) == too_small(their_warnings)
    assert bool(too_small(our_warnings)) == (shape == (5, 5))  # the case that reaches 1


def test_build_pyramid_leaves_the_callers_scale_factors_unchanged() -> None:
    scale_factors = [{"x": 2}]
    our_scale._build_pyramid(np.zeros((8, 8), np.uint8), scale_factors, dims="yx")
    assert scale_factors == [{"x": 2}]


# ------------------------------------------------------------------------------------------
# storage_options of the pixel writers
# ------------------------------------------------------------------------------------------


def _dimension_names(path: Path) -> list[Any]:
    group = zarr.open_group(str(path), mode="r")
    return [
        getattr(group[key].metadata, "dimension_names", None) for key in sorted(group.array_keys())
    ]


def test_dimension_names_equal_to_the_axes_are_accepted(tmp_path: Path) -> None:
    """The call reference users write (the example of the fidelity issue)."""
    path = tmp_path / "a.ome.zarr"
    our_writer.write_image(
        np.zeros((64, 64), np.uint8),
        str(path),
        axes="yx",
        storage_options={"dimension_names": ["y", "x"]},
    )
    assert _dimension_names(path) == [("y", "x")] * 5


@pytest.mark.parametrize("fmt", [our_format.FormatV05(), our_format.FormatV06()], ids=str)
def test_dimension_names_per_level_are_accepted_on_zarr_v3(tmp_path: Path, fmt: Any) -> None:
    path = tmp_path / "a.ome.zarr"
    options = [{"dimension_names": ("c", "y", "x")}, {"dimension_names": None}]
    our_writer.write_image(
        seeded_image((2, 16, 16)), str(path), scale_factors=[2], axes="cyx", fmt=fmt,
        storage_options=options,
    )  # fmt: skip
    assert _dimension_names(path) == [("c", "y", "x")] * 2


def test_dimension_names_on_zarr_v3_are_the_references(
    tmp_path: Path, reference: SimpleNamespace
) -> None:
    pyramid = [seeded_image((2, 16, 16)), seeded_image((2, 8, 8))]
    options = {"dimension_names": ["c", "y", "x"], "chunks": (8, 8)}
    theirs_fmt, ours_fmt = _formats(reference, "0.5")
    reference.writer.write_multiscale(
        pyramid,
        zarr.open_group(str(tmp_path / "theirs.zarr"), mode="w", zarr_format=3),
        fmt=theirs_fmt,
        axes="cyx",
        storage_options=dict(options),
    )
    our_writer.write_multiscale(
        pyramid,
        str(tmp_path / "ours.zarr"),
        fmt=ours_fmt,
        axes="cyx",
        storage_options=dict(options),
    )
    assert _dimension_names(tmp_path / "ours.zarr") == _dimension_names(tmp_path / "theirs.zarr")


@pytest.mark.parametrize(
    "names",
    [["a", "b"], ["x", "y"], ["y"], "yx", 5],
    ids=["other", "swapped", "short", "str", "int"],
)
def test_dimension_names_that_differ_from_the_axes_are_refused(tmp_path: Path, names: Any) -> None:
    """The reference ignores them (it writes the axes' names); omezarr says so instead of
    writing names that are not the ones asked for."""
    path = tmp_path / "a.ome.zarr"
    with pytest.raises(ValueError, match=r"^storage_options.*dimension_names.*differ.*axes"):
        our_writer.write_image(
            np.zeros((64, 64), np.uint8), str(path), axes="yx",
            storage_options={"dimension_names": names},
        )  # fmt: skip
    assert not path.exists()


@pytest.mark.parametrize("names", [["y", "x"], ["a", "b"]])
def test_dimension_names_on_zarr_v2_are_refused_as_by_the_reference(
    tmp_path: Path, reference: SimpleNamespace, names: list[str]
) -> None:
    """zarr v2 arrays have no dimension names: the reference fails (ValueError from zarr),
    omezarr refuses before writing, naming storage_options; None is accepted by both."""
    image = np.zeros((16, 16), np.uint8)
    theirs_fmt, ours_fmt = _formats(reference, "0.4")
    _, theirs, _ = _outcome(
        lambda: reference.writer.write_multiscale(
            [image],
            zarr.open_group(str(tmp_path / "theirs.zarr"), mode="w", zarr_format=2),
            fmt=theirs_fmt,
            axes="yx",
            storage_options={"dimension_names": names},
        )
    )
    assert isinstance(theirs, ValueError)
    path = tmp_path / "ours.zarr"
    with pytest.raises(ValueError, match=r"^storage_options.*dimension_names.*zarr v2"):
        our_writer.write_multiscale(
            [image], str(path), fmt=ours_fmt, axes="yx", storage_options={"dimension_names": names}
        )
    assert not path.exists()
    our_writer.write_multiscale(
        [image], str(path), fmt=ours_fmt, axes="yx", storage_options={"dimension_names": None}
    )
    assert _dimension_names(path) == [None]


def _chunks(path: Path) -> list[tuple[int, ...]]:
    group = zarr.open_group(str(path), mode="r")
    return [tuple(group[f"s{i}"].chunks) for i in range(len(list(group.array_keys())))]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_storage_options_list_longer_than_the_levels_is_accepted_as_by_the_reference(
    tmp_path: Path, reference: SimpleNamespace, version: str
) -> None:
    """The reference takes each level's entry by index: entries beyond the last level are
    never looked at (not even checked)."""
    pyramid = [seeded_image((32, 32)), seeded_image((16, 16))]
    options = [{"chunks": (16, 8)}, {"chunks": (4, 4)}, {"chunks": (2, 2)}, {"no_such_option": 1}]
    theirs_fmt, ours_fmt = _formats(reference, version)
    reference.writer.write_multiscale(
        pyramid,
        zarr.open_group(
            str(tmp_path / "theirs.zarr"), mode="w", zarr_format=theirs_fmt.zarr_format
        ),
        fmt=theirs_fmt,
        axes="yx",
        storage_options=copy.deepcopy(options),
    )
    our_writer.write_multiscale(
        pyramid,
        str(tmp_path / "ours.zarr"),
        fmt=ours_fmt,
        axes="yx",
        storage_options=copy.deepcopy(options),
    )
    assert _chunks(tmp_path / "ours.zarr") == _chunks(tmp_path / "theirs.zarr") == [(16, 8), (4, 4)]
    for level, expected in enumerate(pyramid):
        np.testing.assert_array_equal(
            zarr.open_array(str(tmp_path / "ours.zarr" / f"s{level}")), expected
        )


def test_write_image_takes_the_first_entries_of_a_longer_storage_options_list(
    tmp_path: Path,
) -> None:
    path = tmp_path / "img.zarr"
    options = [{"chunks": (16, 16)}, {"chunks": (8, 8)}, {"chunks": (2, 2)}, {"shards": "bad"}]
    our_writer.write_image(
        seeded_image((64, 64)), str(path), scale_factors=[2], storage_options=options
    )
    assert _chunks(path) == [(16, 16), (8, 8)]


def test_an_empty_storage_options_list_means_no_options_as_in_the_reference(
    tmp_path: Path,
) -> None:
    image = seeded_image((32, 32))
    our_writer.write_image(
        image, str(tmp_path / "empty.zarr"), scale_factors=[2], storage_options=[]
    )
    our_writer.write_image(image, str(tmp_path / "none.zarr"), scale_factors=[2])
    assert _chunks(tmp_path / "empty.zarr") == _chunks(tmp_path / "none.zarr")


def test_a_storage_options_list_shorter_than_the_levels_is_refused(tmp_path: Path) -> None:
    """The reference fails with an IndexError after writing level 0; omezarr before writing."""
    path = tmp_path / "img.zarr"
    with pytest.raises(ValueError, match=r"^storage_options.*3 levels"):
        our_writer.write_image(
            seeded_image((32, 32)), str(path), scale_factors=[2, 4], storage_options=[{}, {}]
        )
    assert not path.exists()


# ------------------------------------------------------------------------------------------
# The reference's documented examples
# ------------------------------------------------------------------------------------------


def _comparable(attrs: dict[str, Any]) -> dict[str, Any]:
    """The multiscales entry's axes and each level's path and scale; ``translation`` and
    ``name`` are left out, as releases of the reference differ on them (0.18 adds a
    translation and names an image "image"; the API documented does neither)."""
    ngff = attrs.get("ome", attrs)
    (multiscale,) = ngff["multiscales"]
    return {
        "axes": multiscale["axes"],
        "datasets": [
            (d["path"], d["coordinateTransformations"][0]) for d in multiscale["datasets"]
        ],
    }


def _levels(path: Path) -> list[tuple[tuple[int, ...], Any]]:
    group = zarr.open_group(str(path), mode="r")
    return [
        (group[f"s{i}"].shape, getattr(group[f"s{i}"].metadata, "dimension_names", None))
        for i in range(len(list(group.array_keys())))
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_write_image_docstring_example_with_z_downsampling(
    tmp_path: Path, reference: SimpleNamespace, version: str
) -> None:
    """``scale_factors=[{"z": 2, "y": 2, "x": 2}, {"z": 4, …}, {"z": 8, …}]``, ``scale`` and
    ``axes_units`` as the reference documents them: the same levels, axes and pixel sizes."""
    image = seeded_image((16, 64, 64), np.uint8)
    arguments = {
        "scale_factors": [{"z": 2**i, "y": 2**i, "x": 2**i} for i in (1, 2, 3)],
        "axes": "zyx",
        "scale": {"z": 0.1, "y": 0.1, "x": 0.5},
        "axes_units": {"z": "micrometer", "y": "micrometer", "x": "micrometer"},
    }
    theirs_fmt, ours_fmt = _formats(reference, version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference.writer.write_image(
            image, str(tmp_path / "theirs.zarr"), fmt=theirs_fmt, **copy.deepcopy(arguments)
        )
    our_writer.write_image(
        image, str(tmp_path / "ours.zarr"), fmt=ours_fmt, **copy.deepcopy(arguments)
    )
    assert _levels(tmp_path / "ours.zarr") == _levels(tmp_path / "theirs.zarr")
    ours, theirs = (
        _comparable(_attrs(tmp_path / "ours.zarr")),
        _comparable(_attrs(tmp_path / "theirs.zarr")),
    )
    assert ours["axes"] == theirs["axes"]
    for (path, mine), (their_path, wanted) in zip(
        ours["datasets"], theirs["datasets"], strict=True
    ):
        assert path == their_path
        assert mine["type"] == wanted["type"] == "scale"
        assert mine["scale"] == pytest.approx(wanted["scale"])


@pytest.mark.parametrize("version", VERSIONS)
def test_write_multiscale_labels_docstring_example(
    tmp_path: Path, reference: SimpleNamespace, version: str
) -> None:
    """A label pyramid with ``label_metadata`` colours: the same levels, multiscales and the
    same colours in ``image-label``; both list the label in ``labels``. (Given axes as a
    string, the reference writes 0.5 label arrays without ``dimension_names``, which 0.5
    requires; omezarr writes the axes' names.)"""
    labels = (seeded_image((32, 32), np.uint8) % 4).astype(np.uint8)
    pyramid = [labels, labels[::2, ::2]]
    label_metadata = {"colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}
    theirs_fmt, ours_fmt = _formats(reference, version)
    for who, writer, fmt in (
        ("theirs", reference.writer, theirs_fmt),
        ("ours", our_writer, ours_fmt),
    ):
        root = zarr.open_group(str(tmp_path / f"{who}.zarr"), mode="w", zarr_format=fmt.zarr_format)
        writer.write_multiscale_labels(
            pyramid, root, "cells", fmt=fmt, axes="yx", label_metadata=copy.deepcopy(label_metadata)
        )
    for who in ("theirs", "ours"):
        listed = _attrs(tmp_path / f"{who}.zarr" / "labels")
        assert listed.get("ome", listed)["labels"] == ["cells"]
    ours_path, theirs_path = (
        tmp_path / f"{w}.zarr" / "labels" / "cells" for w in ("ours", "theirs")
    )
    assert [shape for shape, _ in _levels(ours_path)] == [
        shape for shape, _ in _levels(theirs_path)
    ]
    names = ("y", "x") if version == "0.5" else None
    assert [dimension_names for _, dimension_names in _levels(ours_path)] == [names, names]
    assert _comparable(_attrs(ours_path)) == _comparable(_attrs(theirs_path))
    ours, theirs = (_attrs(p) for p in (ours_path, theirs_path))
    assert (
        ours.get("ome", ours)["image-label"]["colors"]
        == theirs.get("ome", theirs)["image-label"]["colors"]
    )
    for level in range(2):
        np.testing.assert_array_equal(zarr.open_array(str(ours_path / f"s{level}")), pyramid[level])


def test_write_multiscale_compute_false_returns_delayed_work(
    tmp_path: Path, reference: SimpleNamespace
) -> None:
    """``compute=False`` returns a list of dask delayed objects that write the pixels when
    computed, as documented."""
    import dask

    pyramid = [seeded_image((32, 32)), seeded_image((16, 16))]
    theirs_fmt, ours_fmt = _formats(reference, "0.5")
    theirs = reference.writer.write_multiscale(
        pyramid, zarr.open_group(str(tmp_path / "theirs.zarr"), mode="w"), fmt=theirs_fmt,
        axes="yx", compute=False,
    )  # fmt: skip
    ours = our_writer.write_multiscale(
        pyramid, str(tmp_path / "ours.zarr"), fmt=ours_fmt, axes="yx", compute=False
    )
    assert isinstance(ours, list) and isinstance(theirs, list) and ours and theirs
    assert all(dask.is_dask_collection(work) for work in ours)
    dask.compute(*ours)
    for level, expected in enumerate(pyramid):
        np.testing.assert_array_equal(
            zarr.open_array(str(tmp_path / "ours.zarr" / f"s{level}")), expected
        )


# ------------------------------------------------------------------------------------------
# The warnings and errors the reference documents
# ------------------------------------------------------------------------------------------


def _documented_cases() -> Iterator[Any]:
    image = seeded_image((32, 32), np.uint8)

    def group(modules: SimpleNamespace, path: Path, version: str = "0.5") -> Any:
        fmt = getattr(modules.format, FORMAT_CLASS[version])()
        return zarr.open_group(str(path), mode="w", zarr_format=fmt.zarr_format), fmt

    def scaler_deprecated(m: SimpleNamespace, path: Path) -> Any:
        target, fmt = group(m, path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scaler = m.scale.Scaler(max_layer=1)
        return m.writer.write_image(image, target, fmt=fmt, axes="yx", scaler=scaler)

    def transformations_deprecated(m: SimpleNamespace, path: Path) -> Any:
        target, fmt = group(m, path)
        transforms = [
            [{"type": "scale", "scale": [1.0, 1.0]}],
            [{"type": "scale", "scale": [2.0, 2.0]}],
        ]
        return m.writer.write_multiscale(
            [image, image[::2, ::2]], target, fmt=fmt, axes="yx",
            coordinate_transformations=transforms,
        )  # fmt: skip

    def auto_chunks_warn(m: SimpleNamespace, path: Path) -> Any:
        target, fmt = group(m, path)
        return m.writer.write_multiscale(
            [image], target, fmt=fmt, axes="yx", storage_options={"chunks": "auto"}
        )

    def removed_format_raises(m: SimpleNamespace, path: Path) -> Any:
        target = zarr.open_group(str(path), mode="w", zarr_format=2)
        return m.writer.write_image(image, target, fmt=m.format.FormatV03(), axes="yx")

    def format_of_another_zarr_format(m: SimpleNamespace, path: Path) -> Any:
        target, _ = group(m, path, "0.5")
        return m.writer.write_multiscale([image], target, fmt=m.format.FormatV04(), axes="yx")

    def omero_colour_not_hex(m: SimpleNamespace, path: Path) -> Any:
        return m.writer.write_multiscales_metadata(
            str(path), [{"path": "s0", "coordinateTransformations": _scale(1, 1)}], axes="yx",
            metadata={"omero": {"channels": [{"color": "red"}]}},
        )  # fmt: skip

    def omero_window_incomplete(m: SimpleNamespace, path: Path) -> Any:
        return m.writer.write_multiscales_metadata(
            str(path), [{"path": "s0", "coordinateTransformations": _scale(1, 1)}], axes="yx",
            metadata={"omero": {"channels": [{"window": {"min": 0, "max": 1, "start": 0}}]}},
        )  # fmt: skip

    def omero_none(m: SimpleNamespace, path: Path) -> Any:
        return m.writer.write_multiscales_metadata(
            str(path), [{"path": "s0", "coordinateTransformations": _scale(1, 1)}], axes="yx",
            metadata={"omero": None},
        )  # fmt: skip

    def dimension_too_small(m: SimpleNamespace, path: Path) -> Any:
        return m.scale._build_pyramid(image[:4, :4], [{"x": 8}], dims="yx")

    yield pytest.param(scaler_deprecated, DeprecationWarning, None, id="scaler")
    yield pytest.param(transformations_deprecated, DeprecationWarning, None, id="transformations")
    yield pytest.param(auto_chunks_warn, UserWarning, None, id="auto-chunks")
    yield pytest.param(dimension_too_small, UserWarning, None, id="dimension-too-small")
    yield pytest.param(removed_format_raises, None, DeprecationWarning, id="format-0.3")
    yield pytest.param(format_of_another_zarr_format, None, ValueError, id="zarr-format")
    yield pytest.param(omero_colour_not_hex, None, TypeError, id="omero-colour")
    yield pytest.param(omero_window_incomplete, None, KeyError, id="omero-window")
    yield pytest.param(omero_none, None, KeyError, id="omero-none")


@pytest.mark.parametrize(("case", "warning", "error"), _documented_cases())
def test_documented_warnings_and_errors_are_the_references(
    tmp_path: Path,
    reference: SimpleNamespace,
    case: Callable[[SimpleNamespace, Path], Any],
    warning: type[Warning] | None,
    error: type[BaseException] | None,
) -> None:
    ours_modules = SimpleNamespace(writer=our_writer, format=our_format, scale=our_scale)
    outcomes = {}
    for who, modules in (("theirs", reference), ("ours", ours_modules)):
        _, raised, caught = _outcome(lambda m=modules, w=who: case(m, tmp_path / f"{w}.zarr"))
        outcomes[who] = (raised, {w.category for w in caught})
    for who, (raised, categories) in outcomes.items():
        if error is None:
            assert raised is None, f"{who}: {raised!r}"
        else:
            assert isinstance(raised, error), f"{who}: {raised!r}"
        if warning is not None:
            assert any(issubclass(c, warning) for c in categories), f"{who}: {categories}"
