"""Tests for omezarr.reader: lazy images, labels, plates and wells for OME-NGFF 0.1 to 0.5."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.writer import (
    write_image,
    write_labels,
    write_plate_metadata,
    write_well_metadata,
)

from omezarr.reader import (
    Bioformats2Raw,
    Image,
    LabelImage,
    Labels,
    Plate,
    PlateWell,
    Well,
    WellImage,
    open_bioformats2raw,
    open_image,
    open_label,
    open_labels,
    open_ome_zarr,
    open_plate,
    open_well,
)

EXAMPLES = Path(__file__).parent / "data" / "ngff"
REFERENCE_FORMATS = [pytest.param(FormatV04(), id="0.4"), pytest.param(FormatV05(), id="0.5")]


# --------------------------------------------------------------------------------------------
# Fixture helpers
# --------------------------------------------------------------------------------------------


def make_group(
    store: Any,
    attributes: dict[str, Any],
    arrays: dict[str, np.ndarray] | None = None,
    *,
    zarr_format: int = 2,
    chunks: tuple[int, ...] | None = None,
) -> zarr.Group:
    """A group with ``attributes`` and one array per path, written with zarr directly."""
    group = zarr.open_group(store, mode="w", zarr_format=zarr_format, attributes=attributes)
    for path, data in (arrays or {}).items():
        array = group.create_array(
            path, shape=data.shape, dtype=data.dtype, chunks=chunks or "auto"
        )
        array[...] = data
    return group


def pyramid(shape: tuple[int, ...], levels: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Random uint16 levels halving the last two dimensions."""
    rng = np.random.default_rng(seed)
    out = {}
    for level in range(levels):
        factor = 2**level
        level_shape = (*shape[:-2], shape[-2] // factor, shape[-1] // factor)
        out[str(level)] = rng.integers(0, 1000, level_shape, dtype=np.uint16)
    return out


def v04_image_attributes(ndim: int = 3, levels: int = 2) -> dict[str, Any]:
    """A valid 0.4 document for a ``c, y, x`` (or ``y, x``) pyramid."""
    axes = [
        {"name": "c", "type": "channel"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ][-ndim:]
    datasets = [
        {
            "path": str(level),
            "coordinateTransformations": [
                {"type": "scale", "scale": [1.0] * (ndim - 2) + [0.5 * 2**level] * 2}
            ],
        }
        for level in range(levels)
    ]
    return {"multiscales": [{"version": "0.4", "name": "img", "axes": axes, "datasets": datasets}]}


def load_example(relative: str) -> dict[str, Any]:
    """An example document from the official suites, with its ``//`` comments removed."""
    text = (EXAMPLES / relative).read_text()
    return json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))


def reference_image(
    path: Path, fmt: Any, data: np.ndarray, **kwargs: Any
) -> tuple[zarr.Group, list[np.ndarray]]:
    """An image written by ome-zarr-py; returns its group and what each level holds."""
    group = zarr.open_group(path, mode="w", zarr_format=fmt.zarr_format)
    write_image(data, group, fmt=fmt, **kwargs)
    written = [
        np.asarray(group[d["path"]][...]) for d in _attrs(group)["multiscales"][0]["datasets"]
    ]
    return group, written


def _attrs(group: zarr.Group) -> dict[str, Any]:
    attributes = group.attrs.asdict()
    return attributes["ome"] if group.metadata.zarr_format == 3 else attributes


# --------------------------------------------------------------------------------------------
# Images written by the reference implementation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", REFERENCE_FORMATS)
def test_open_image_reads_reference_levels_lazily_with_zarr_chunks(
    tmp_path: Path, fmt: Any
) -> None:
    data = np.random.default_rng(1).integers(0, 60000, (2, 64, 48), dtype=np.uint16)
    group, written = reference_image(
        tmp_path / "img.zarr",
        fmt,
        data,
        axes="cyx",
        scale_factors=(2, 4),
        storage_options={"chunks": (1, 16, 16)},
    )

    image = open_image(tmp_path / "img.zarr")

    assert type(image) is Image
    assert image.version == fmt.version
    assert image.paths == [d["path"] for d in _attrs(group)["multiscales"][0]["datasets"]]
    assert len(image.levels) == 3
    assert np.array_equal(written[0], data)
    for level, (lazy, expected, path) in enumerate(
        zip(image.levels, written, image.paths, strict=True)
    ):
        assert isinstance(lazy, da.Array), level
        zarr_chunks = group[path].chunks
        assert tuple(c[0] for c in lazy.chunks) == tuple(
            min(c, s) for c, s in zip(zarr_chunks, lazy.shape, strict=True)
        )
        assert lazy.dtype == expected.dtype
        assert np.array_equal(lazy.compute(), expected)
    assert image.data is image.levels[0]


@pytest.mark.parametrize("fmt", REFERENCE_FORMATS)
def test_open_image_reads_reference_scales_units_axes_and_omero(tmp_path: Path, fmt: Any) -> None:
    data = np.zeros((2, 32, 32), dtype=np.uint8)
    omero = {
        "channels": [
            {
                "color": "FF0000",
                "label": "a",
                "window": {"min": 0, "max": 255, "start": 0, "end": 9},
            },
            {
                "color": "00FF00",
                "label": "b",
                "window": {"min": 0, "max": 255, "start": 0, "end": 9},
            },
        ]
    }
    reference_image(
        tmp_path / "img.zarr",
        fmt,
        data,
        axes="cyx",
        axes_units={"y": "micrometer", "x": "nanometer"},
        scale_factors=(2,),
        name="cells",
        omero=copy.deepcopy(omero),
    )

    image = open_image(str(tmp_path / "img.zarr"))

    assert image.dims == ("c", "y", "x")
    assert image.axes[0] == {"name": "c", "type": "channel"}
    assert image.units == {"y": "micrometer", "x": "nanometer"}
    assert image.name == "cells"
    assert image.scales[0] == (1.0, 1.0, 1.0)
    assert image.scales[1] == (1.0, 2.0, 2.0)
    stored = image.metadata["datasets"][1]["coordinateTransformations"]
    expected_translation = next(
        (tuple(t["translation"]) for t in stored if t["type"] == "translation"), (0.0, 0.0, 0.0)
    )
    assert image.translations[1] == expected_translation
    assert image.omero is not None
    assert [c["label"] for c in image.omero["channels"]] == ["a", "b"]
    assert image.label_names == []
    assert image.labels() == {}


@pytest.mark.parametrize("fmt", REFERENCE_FORMATS)
def test_labels_are_listed_and_opened_with_colors_and_properties(tmp_path: Path, fmt: Any) -> None:
    data = np.zeros((32, 32), dtype=np.uint16)
    group, _ = reference_image(tmp_path / "img.zarr", fmt, data, axes="yx", scale_factors=(2,))
    cells = np.zeros((32, 32), dtype=np.uint8)
    cells[4:10, 4:10] = 1
    cells[20:30, 2:5] = 2
    write_labels(
        cells,
        group,
        name="cells",
        fmt=fmt,
        axes="yx",
        scale_factors=(2,),
        label_metadata={
            "colors": [
                {"label-value": 1, "rgba": [255, 0, 0, 255]},
                {"label-value": 2, "rgba": [0, 0, 255, 128]},
            ],
            "properties": [{"label-value": 1, "class": "round", "area": 36}],
        },
    )
    write_labels(
        np.ones((32, 32), dtype=np.uint8),
        group,
        name="mask",
        fmt=fmt,
        axes="yx",
        scale_factors=(2,),
    )

    image = open_image(tmp_path / "img.zarr")
    assert image.label_names == ["cells", "mask"]
    labels = image.labels()
    assert list(labels) == ["cells", "mask"]
    label = image.label("cells")
    assert isinstance(label, LabelImage)
    assert label.version == fmt.version
    assert label.colors == {1: (255, 0, 0, 255), 2: (0, 0, 255, 128)}
    assert label.properties == {1: {"class": "round", "area": 36}}
    assert label.image_label["colors"][0]["label-value"] == 1
    assert np.array_equal(label.levels[0].compute(), cells)
    assert labels["mask"].colors == {}
    assert np.array_equal(labels["mask"].data.compute(), np.ones((32, 32)))

    group_of_labels = open_ome_zarr(tmp_path / "img.zarr" / "labels")
    assert isinstance(group_of_labels, Labels)
    assert group_of_labels.names == ["cells", "mask"]
    assert isinstance(open_ome_zarr(tmp_path / "img.zarr" / "labels" / "mask"), LabelImage)
    assert open_label(tmp_path / "img.zarr" / "labels" / "cells").colors[2] == (0, 0, 255, 128)
    with pytest.raises(ValueError, match=r"name: 'nuclei' is not a label .*\['cells', 'mask'\]"):
        image.label("nuclei")
    with pytest.raises(ValueError, match="is not an OME-Zarr label image: no 'image-label'"):
        open_label(tmp_path / "img.zarr")


@pytest.mark.parametrize("fmt", REFERENCE_FORMATS)
def test_plate_and_well_navigation_on_reference_plate(tmp_path: Path, fmt: Any) -> None:
    root = zarr.open_group(tmp_path / "plate.zarr", mode="w", zarr_format=fmt.zarr_format)
    rows, columns = ["A", "B"], ["1", "2", "3"]
    wells = ["A/1", "B/3"]
    write_plate_metadata(
        root,
        rows,
        columns,
        wells,
        fmt=fmt,
        acquisitions=[{"id": 0, "name": "run"}],
        field_count=2,
        name="screen",
    )
    fields: dict[tuple[str, str], np.ndarray] = {}
    for index, well_path in enumerate(wells):
        well_group = root.require_group(well_path)
        write_well_metadata(
            well_group, [{"path": "0", "acquisition": 0}, {"path": "1", "acquisition": 0}], fmt=fmt
        )
        for field in ("0", "1"):
            data = np.full((2, 16, 16), index * 10 + int(field), dtype=np.uint8)
            write_image(
                data, well_group.require_group(field), fmt=fmt, axes="cyx", scale_factors=(2,)
            )
            fields[(well_path, field)] = data

    plate = open_ome_zarr(tmp_path / "plate.zarr")

    assert isinstance(plate, Plate)
    assert plate.version == fmt.version
    assert plate.rows == rows and plate.columns == columns
    assert plate.wells == [PlateWell("A/1", "A", "1", 0, 0), PlateWell("B/3", "B", "3", 1, 2)]
    assert plate.acquisitions == [{"id": 0, "name": "run"}]
    assert plate.field_count == 2
    assert plate.name == "screen"
    well = plate.well("B/3")
    assert isinstance(well, Well)
    assert well.images == [WellImage("0", 0), WellImage("1", 0)]
    assert well.paths == ["0", "1"]
    assert plate.well(("B", "3")).paths == well.paths
    assert plate.well((1, 2)).group.path == well.group.path
    assert np.array_equal(well.image(1).data.compute(), fields[("B/3", "1")])
    assert np.array_equal(well.image("0").data.compute(), fields[("B/3", "0")])
    assert np.array_equal(plate.well((0, "1")).image().data.compute(), fields[("A/1", "0")])
    assert isinstance(open_ome_zarr(tmp_path / "plate.zarr" / "A" / "1"), Well)
    assert isinstance(open_ome_zarr(tmp_path / "plate.zarr" / "A" / "1" / "0"), Image)
    with pytest.raises(ValueError, match=r"key: 'A/2' is not a well of .*\['A/1', 'B/3'\]"):
        plate.well("A/2")
    with pytest.raises(ValueError, match="key"):
        plate.well((5, 0))
    with pytest.raises(TypeError, match="key: expected"):
        plate.well(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"field: 2 is out of range"):
        well.image(2)
    with pytest.raises(ValueError, match=r"field: '7' is not one of"):
        well.image("7")


# --------------------------------------------------------------------------------------------
# Documents written with zarr directly
# --------------------------------------------------------------------------------------------


def test_official_05_example_combines_dataset_and_multiscale_transformations(
    tmp_path: Path,
) -> None:
    document = load_example("0.5/examples/multiscales_strict/multiscales_example.json")
    arrays = {
        "0": np.arange(64, dtype=np.int32).reshape(1, 1, 4, 4, 4),
        "1": np.arange(8, dtype=np.int32).reshape(1, 1, 2, 2, 2),
        "2": np.zeros((1, 1, 1, 1, 1), dtype=np.int32),
    }
    make_group(tmp_path / "ex.zarr", document["attributes"], arrays, zarr_format=3)

    image = open_image(tmp_path / "ex.zarr")

    assert image.version == "0.5"
    assert image.name == "example"
    assert image.dims == ("t", "c", "z", "y", "x")
    assert image.units == {
        "t": "millisecond",
        "z": "micrometer",
        "y": "micrometer",
        "x": "micrometer",
    }
    assert image.scales == [
        pytest.approx((0.1, 1.0, 0.5, 0.5, 0.5)),
        pytest.approx((0.1, 1.0, 1.0, 1.0, 1.0)),
        pytest.approx((0.1, 1.0, 2.0, 2.0, 2.0)),
    ]
    assert image.translations == [(0.0,) * 5] * 3
    assert image.metadata["type"] == "gaussian"
    for path, lazy in zip(image.paths, image.levels, strict=True):
        assert np.array_equal(lazy.compute(), arrays[path])


def test_official_04_example_scale_only_at_multiscale_level(tmp_path: Path) -> None:
    document = load_example("0.4/examples/multiscales_strict/multiscales_transformations.json")
    make_group(tmp_path / "ex.zarr", document, {"0": np.ones((3, 5), dtype=np.float32)})

    image = open_image(tmp_path / "ex.zarr")

    assert image.version == "0.4"
    assert image.scales == [(10.0, 10.0)]
    assert image.metadata["metadata"] == {"key": "value"}


def test_translations_compose_dataset_then_multiscale_transformations(tmp_path: Path) -> None:
    attributes = v04_image_attributes(ndim=2, levels=1)
    entry = attributes["multiscales"][0]
    entry["datasets"][0]["coordinateTransformations"] = [
        {"type": "scale", "scale": [2.0, 3.0]},
        {"type": "translation", "translation": [1.0, -1.0]},
    ]
    entry["coordinateTransformations"] = [
        {"type": "scale", "scale": [10.0, 0.5]},
        {"type": "translation", "translation": [100.0, 0.0]},
    ]
    make_group(tmp_path / "t.zarr", attributes, {"0": np.zeros((4, 4), dtype=np.uint8)})

    image = open_image(tmp_path / "t.zarr")

    # pixel p -> (p * 2 + 1) * 10 + 100 along y; (p * 3 - 1) * 0.5 along x
    assert image.scales == [(20.0, 1.5)]
    assert image.translations == [(110.0, -0.5)]


def test_sharded_level_is_cut_into_shards(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    data = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32)
    array = group.create_array(
        "0", shape=data.shape, dtype=data.dtype, chunks=(4, 4), shards=(16, 16)
    )
    array[...] = data
    attributes = v04_image_attributes(ndim=2, levels=1)
    del attributes["multiscales"][0]["version"]
    group.attrs["ome"] = {"version": "0.5", **attributes}

    image = open_image(group)

    assert image.levels[0].chunks == ((16, 16), (16, 16))
    assert np.array_equal(image.levels[0].compute(), data)


def test_open_image_reads_no_pixels(tmp_path: Path) -> None:
    make_group(
        tmp_path / "lazy.zarr", v04_image_attributes(), pyramid((2, 16, 16)), chunks=(1, 8, 8)
    )
    for chunk in (tmp_path / "lazy.zarr" / "0").glob("[0-9]*"):
        if chunk.is_file():
            chunk.unlink()
        else:
            shutil.rmtree(chunk)

    image = open_image(tmp_path / "lazy.zarr")

    assert image.levels[0].shape == (2, 16, 16)
    # The removed chunks read as the fill value only when computed.
    assert not image.levels[0].any().compute()
    assert image.levels[1].any().compute()


@pytest.mark.parametrize("version", ["0.1", "0.2"])
def test_old_documents_get_implied_tczyx_dims(tmp_path: Path, version: str) -> None:
    arrays = pyramid((1, 2, 3, 8, 8))
    attributes = {
        "multiscales": [{"version": version, "datasets": [{"path": "0"}, {"path": "1"}]}],
        "omero": {"channels": [{"label": "dapi"}, {"label": "gfp"}]},
    }
    make_group(tmp_path / "old.zarr", attributes, arrays)

    image = open_image(tmp_path / "old.zarr")

    assert image.version == version
    assert image.dims == ("t", "c", "z", "y", "x")
    assert image.units == {}
    assert image.scales == [(1.0,) * 5] * 2
    assert image.translations == [(0.0,) * 5] * 2
    assert image.omero == attributes["omero"]
    assert np.array_equal(image.levels[1].compute(), arrays["1"])


def test_03_document_has_named_axes_only(tmp_path: Path) -> None:
    arrays = pyramid((3, 8, 8))
    attributes = {
        "multiscales": [
            {"version": "0.3", "axes": ["z", "y", "x"], "datasets": [{"path": "0"}, {"path": "1"}]}
        ]
    }
    make_group(tmp_path / "v3.zarr", attributes, arrays)

    image = open_image(tmp_path / "v3.zarr")

    assert image.version == "0.3"
    assert image.dims == ("z", "y", "x")
    assert image.axes == [{"name": "z"}, {"name": "y"}, {"name": "x"}]
    assert np.array_equal(image.levels[0].compute(), arrays["0"])


@pytest.mark.parametrize(
    ("axes", "expected_version", "expected_dims"),
    [
        (None, "0.1", ("t", "c", "z", "y", "x")),
        (["c", "y", "x"], "0.3", ("c", "y", "x")),
        ([{"name": "c"}, {"name": "y"}, {"name": "x"}], "0.4", ("c", "y", "x")),
    ],
)
def test_missing_version_is_inferred_from_axes(
    tmp_path: Path, axes: Any, expected_version: str, expected_dims: tuple[str, ...]
) -> None:
    shape = (2, 8, 8) if axes else (1, 2, 1, 8, 8)
    entry: dict[str, Any] = {"datasets": [{"path": "0"}]}
    if axes:
        entry["axes"] = axes
    make_group(tmp_path / "nov.zarr", {"multiscales": [entry]}, {"0": np.zeros(shape, np.uint8)})

    image = open_image(tmp_path / "nov.zarr")

    assert image.version == expected_version
    assert image.dims == expected_dims


def test_second_multiscale_is_chosen_by_index(tmp_path: Path) -> None:
    attributes = v04_image_attributes(levels=1)
    second = copy.deepcopy(attributes["multiscales"][0])
    second["name"] = "other"
    second["datasets"] = [
        {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [1, 4, 4]}]}
    ]
    attributes["multiscales"].append(second)
    arrays = pyramid((2, 8, 8))
    make_group(tmp_path / "two.zarr", attributes, arrays)

    image = open_image(tmp_path / "two.zarr", multiscale=1)

    assert image.name == "other"
    assert image.scales == [(1.0, 4.0, 4.0)]
    assert np.array_equal(image.data.compute(), arrays["1"])
    with pytest.raises(ValueError, match=r"multiscale: 2 is out of range, .* has 2 multiscales"):
        open_image(tmp_path / "two.zarr", multiscale=2)
    with pytest.raises(TypeError, match="multiscale: expected an int"):
        open_image(tmp_path / "two.zarr", multiscale="1")  # type: ignore[arg-type]


def test_label_source_image_resolves_relative_to_the_label(tmp_path: Path) -> None:
    root = make_group(tmp_path / "img.zarr", v04_image_attributes(), pyramid((2, 8, 8)))
    labels = root.create_group("labels", attributes={"labels": ["seg"]})
    make_group(
        labels.store_path / "seg",
        {
            **v04_image_attributes(levels=1),
            "image-label": {
                "version": "0.4",
                "source": {"image": "../../"},
                "colors": [{"label-value": True, "rgba": [1, 2, 3, 4]}],
            },
        },
        {"0": np.zeros((2, 8, 8), dtype=np.uint8)},
    )

    label = open_image(tmp_path / "img.zarr").label("seg")

    assert label.source == "../../"
    assert label.colors == {1: (1, 2, 3, 4)}
    assert label.source_image().group.path == ""
    assert label.source_image().name == "img"


def test_label_source_outside_the_store_is_rejected(tmp_path: Path) -> None:
    make_group(
        tmp_path / "lab.zarr",
        {**v04_image_attributes(levels=1), "image-label": {"source": {"image": "../../"}}},
        {"0": np.zeros((2, 8, 8), dtype=np.uint8)},
    )
    label = open_label(tmp_path / "lab.zarr")
    with pytest.raises(ValueError, match="points outside the store"):
        label.source_image()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"image": "missing"}, r"no zarr group at 'missing'"),
        ({"image": 3}, r"no source\.image path"),
    ],
)
def test_label_source_that_cannot_be_opened_raises_value_error(
    tmp_path: Path, source: dict[str, Any], message: str
) -> None:
    make_group(
        tmp_path / "lab.zarr",
        {**v04_image_attributes(levels=1), "image-label": {"source": source}},
        {"0": np.zeros((2, 8, 8), dtype=np.uint8)},
    )
    with pytest.raises(ValueError, match=message):
        open_label(tmp_path / "lab.zarr").source_image()


def test_official_05_well_and_plate_examples(tmp_path: Path) -> None:
    plate_doc = load_example("0.5/examples/plate_strict/plate_6wells.json")
    well_doc = load_example("0.5/examples/well_strict/well_4fields.json")
    root = make_group(tmp_path / "p.zarr", plate_doc["attributes"], zarr_format=3)
    make_group(root.store_path / "B" / "2", well_doc["attributes"], zarr_format=3)

    plate = open_plate(tmp_path / "p.zarr")

    assert [w.path for w in plate.wells] == ["A/1", "A/2", "A/3", "B/1", "B/2", "B/3"]
    assert plate.field_count == 4
    assert [a["id"] for a in plate.acquisitions] == [1, 2]
    well = plate.well(("B", 1))
    assert [(i.path, i.acquisition) for i in well.images] == [
        ("0", 1),
        ("1", 1),
        ("2", 2),
        ("3", 2),
    ]
    with pytest.raises(ValueError, match=r"no group 'A/1' \(it is listed but missing\)"):
        plate.well("A/1")


@pytest.mark.parametrize("version", ["0.1", "0.3"])
def test_old_plates_find_rows_and_columns_from_paths(tmp_path: Path, version: str) -> None:
    axes = {"axes": list("tczyx")} if version == "0.3" else {}
    root = make_group(
        tmp_path / "old.zarr",
        {
            "plate": {
                "version": version,
                "rows": [{"name": "A"}, {"name": "B"}],
                "columns": [{"name": "1"}, {"name": "2"}],
                "wells": [{"path": "B/2"}],
            }
        },
    )
    make_group(
        root.store_path / "B" / "2", {"well": {"version": version, "images": [{"path": "0"}]}}
    )
    make_group(
        root.store_path / "B" / "2" / "0",
        {"multiscales": [{"version": version, "datasets": [{"path": "0"}], **axes}]},
        {"0": np.ones((1, 1, 1, 4, 4), np.uint8)},
    )

    plate = open_plate(tmp_path / "old.zarr")

    assert plate.version == version
    assert plate.wells == [PlateWell("B/2", "B", "2", 1, 1)]
    assert plate.acquisitions == [] and plate.field_count is None and plate.name is None
    well = plate.well((1, 1))
    assert well.images == [WellImage("0", None)]
    assert well.image(0).dims == ("t", "c", "z", "y", "x")


@pytest.mark.parametrize("with_series_list", [True, False])
def test_bioformats2raw_collection_lists_series(tmp_path: Path, with_series_list: bool) -> None:
    root = make_group(tmp_path / "bf.zarr", {"bioformats2raw.layout": 3})
    for series in ("0", "1"):
        make_group(
            root.store_path / series,
            v04_image_attributes(levels=1),
            {"0": np.full((2, 4, 4), int(series), np.uint8)},
        )
    if with_series_list:
        make_group(root.store_path / "OME", {"series": ["1", "0"]})

    collection = open_ome_zarr(tmp_path / "bf.zarr")

    assert isinstance(collection, Bioformats2Raw)
    assert collection.layout == 3
    assert collection.series == (["1", "0"] if with_series_list else ["0", "1"])
    assert collection.image("1").data.compute().max() == 1
    assert collection.image(0).data.compute().max() == (1 if with_series_list else 0)
    with pytest.raises(ValueError, match="series: 5 is out of range"):
        collection.image(5)


def test_bioformats2raw_plate_opens_as_plate(tmp_path: Path) -> None:
    document = load_example("0.5/examples/bf2raw/plate.json")
    make_group(tmp_path / "bfp.zarr", document["attributes"], zarr_format=3)

    plate = open_ome_zarr(tmp_path / "bfp.zarr")
    collection = open_bioformats2raw(tmp_path / "bfp.zarr")

    assert isinstance(plate, Plate)
    assert plate.name == "Plate Name 0"
    assert collection.layout == 3 and collection.version == "0.5"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_file_url_and_zarr_store_targets_open_the_same_image(tmp_path: Path) -> None:
    arrays = pyramid((2, 8, 8))
    make_group(tmp_path / "img.zarr", v04_image_attributes(), arrays)

    from_url = open_image(f"file://{tmp_path}/img.zarr", storage_options={})
    from_store = open_ome_zarr(zarr.storage.LocalStore(tmp_path / "img.zarr", read_only=True))

    assert isinstance(from_store, Image)
    assert from_url.dims == from_store.dims == ("c", "y", "x")
    assert np.array_equal(from_url.levels[1].compute(), arrays["1"])
    assert np.array_equal(from_store.levels[0].compute(), arrays["0"])


def test_missing_path_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.zarr"):
        open_ome_zarr(tmp_path / "nowhere.zarr")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.zarr"):
        open_image(str(tmp_path / "nowhere.zarr"))


def test_group_without_ngff_metadata_is_named_in_the_error(tmp_path: Path) -> None:
    make_group(tmp_path / "plain.zarr", {"something": 1})
    with pytest.raises(
        ValueError, match=r"plain\.zarr is not an OME-Zarr image/plate/well: no OME-NGFF"
    ):
        open_ome_zarr(tmp_path / "plain.zarr")
    with pytest.raises(ValueError, match=r"plain\.zarr is not an OME-Zarr plate"):
        open_plate(tmp_path / "plain.zarr")
    with pytest.raises(ValueError, match=r"plain\.zarr is not an OME-Zarr well"):
        open_well(tmp_path / "plain.zarr")
    with pytest.raises(ValueError, match=r"plain\.zarr is not an OME-Zarr labels group"):
        open_labels(tmp_path / "plain.zarr")
    with pytest.raises(ValueError, match=r"plain\.zarr is not an OME-Zarr bioformats2raw"):
        open_bioformats2raw(tmp_path / "plain.zarr")


def test_image_opened_as_plate_names_what_it_holds(tmp_path: Path) -> None:
    make_group(tmp_path / "img.zarr", v04_image_attributes(), pyramid((2, 8, 8)))
    with pytest.raises(ValueError, match=r"not an OME-Zarr plate: .*\['multiscales'\]"):
        open_plate(tmp_path / "img.zarr")


def test_v04_attributes_in_a_v3_group_get_a_hint(tmp_path: Path) -> None:
    make_group(tmp_path / "mixed.zarr", v04_image_attributes(), pyramid((2, 8, 8)), zarr_format=3)
    with pytest.raises(ValueError, match=r"0\.5 keeps them under 'ome'"):
        open_image(tmp_path / "mixed.zarr")


def test_directory_and_array_that_are_not_groups(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a zarr group"):
        open_ome_zarr(tmp_path / "empty")
    make_group(tmp_path / "img.zarr", v04_image_attributes(), pyramid((2, 8, 8)))
    with pytest.raises(ValueError, match="is a zarr array"):
        open_image(tmp_path / "img.zarr" / "0")
    with pytest.raises(TypeError, match="target: expected a path"):
        open_image(42)  # type: ignore[arg-type]


def _edit_metadata(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_bytes())
    change(document)
    path.write_text(json.dumps(document))


def test_a_level_whose_chunk_grid_is_absurd_is_refused_naming_it(tmp_path: Path) -> None:
    make_group(
        tmp_path / "img.zarr", {"ome": v04_image_attributes(2)}, pyramid((8, 8)), zarr_format=3
    )

    def absurd(document: dict[str, Any]) -> None:
        document["shape"] = [10**12, 10**12]
        document["chunk_grid"]["configuration"]["chunk_shape"] = [1, 1]

    _edit_metadata(tmp_path / "img.zarr" / "1" / "zarr.json", absurd)
    with pytest.raises(ValueError, match=r"datasets\[1\]: the chunk grid of '1' is too large"):
        open_image(tmp_path / "img.zarr")


@pytest.mark.parametrize(
    ("node", "attributes", "problem"),
    [
        ("", "[]", "is malformed"),
        ("", "[" * 10_000 + "]" * 10_000, "is nested too deeply to read"),
        ("labels", "[]", "is malformed"),
    ],
    ids=["root-attributes-not-an-object", "root-nested-10000-deep", "labels-not-an-object"],
)
def test_unreadable_zarr_metadata_is_a_value_error_naming_the_node(
    tmp_path: Path, node: str, attributes: str, problem: str
) -> None:
    image = tmp_path / "img.zarr"
    make_group(image, v04_image_attributes(2), pyramid((8, 8)))
    make_group(image / "labels", {"labels": []})
    (image / node / ".zattrs").write_text(attributes)
    with pytest.raises(
        ValueError, match=re.escape(str(image / node).rstrip("/")) + ".* " + problem
    ):
        open_image(image)


Mutation = Callable[[dict[str, Any]], None]


def _entry(attributes: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = attributes["multiscales"][0]
    return entry


def _set(path: list[Any], value: Any) -> Mutation:
    """A mutation setting ``attributes[path...] = value`` under the first multiscale."""

    def mutate(attributes: dict[str, Any]) -> None:
        target: Any = _entry(attributes)
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: list[Any]) -> Mutation:
    def mutate(attributes: dict[str, Any]) -> None:
        target: Any = _entry(attributes)
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _top(key: str, value: Any) -> Mutation:
    def mutate(attributes: dict[str, Any]) -> None:
        attributes[key] = value

    return mutate


MALFORMED_IMAGES = [
    (
        "multiscales-not-list",
        _top("multiscales", {"a": 1}),
        r"'multiscales' must be a non-empty list",
    ),
    ("multiscales-empty", _top("multiscales", []), r"'multiscales' must be a non-empty list"),
    ("entry-not-object", _top("multiscales", ["x"]), r"multiscales\[0\] must be a JSON object"),
    ("datasets-missing", _delete(["datasets"]), r"multiscales\[0\]\.datasets is missing"),
    ("datasets-empty", _set(["datasets"], []), r"datasets must list at least one level"),
    ("datasets-not-list", _set(["datasets"], "0"), r"datasets must be a list"),
    ("dataset-path-missing", _delete(["datasets", 1, "path"]), r"datasets\[1\]\.path is missing"),
    ("dataset-path-int", _set(["datasets", 0, "path"], 0), r"datasets\[0\]\.path must be a string"),
    (
        "level-array-missing",
        _set(["datasets", 1, "path"], "7"),
        r"datasets\[1\]: no array at path '7'",
    ),
    ("level-is-group", _set(["datasets", 1, "path"], "sub"), r"datasets\[1\]: 'sub' is a group"),
    ("axes-missing", _delete(["axes"]), r"axes is required by OME-NGFF 0.4"),
    (
        "axes-count",
        _set(["axes"], [{"name": "y"}, {"name": "x"}]),
        r"2 axes given, but the arrays have 3",
    ),
    ("axes-duplicate", _set(["axes", 0, "name"], "x"), r"axis names must be unique"),
    ("axis-no-name", _delete(["axes", 1, "name"]), r"axes\[1\]\.name is missing"),
    ("axis-not-object", _set(["axes", 1], 3), r"axes\[1\] must be a JSON object"),
    ("axis-unit-number", _set(["axes", 2, "unit"], 5), r"axes\[2\]\.unit must be a string"),
    (
        "scale-length",
        _set(["datasets", 0, "coordinateTransformations", 0, "scale"], [1.0]),
        r"datasets\[0\]\.coordinateTransformations\[0\]\.scale must be 3 finite numbers",
    ),
    (
        "scale-text",
        _set(["datasets", 0, "coordinateTransformations", 0, "scale"], ["a", 1, 1]),
        r"scale must be 3 finite numbers",
    ),
    (
        "scale-missing-values",
        _delete(["datasets", 0, "coordinateTransformations", 0, "scale"]),
        r"has no 'scale' values",
    ),
    (
        "transform-unknown",
        _set(["datasets", 0, "coordinateTransformations", 0, "type"], "affine"),
        r"unsupported transformation type 'affine'",
    ),
    (
        "transforms-not-list",
        _set(["coordinateTransformations"], {"type": "scale"}),
        r"multiscales\[0\]\.coordinateTransformations must be a list",
    ),
    ("version-unknown", _set(["version"], "9.9"), r"unsupported OME-NGFF version '9.9'"),
    (
        "version-05-in-v2",
        _set(["version"], "0.5"),
        r"0.5 belongs in zarr v3, but the group is zarr v2",
    ),
    ("version-list", _set(["version"], [0, 4]), r"'version' must be a string"),
    ("omero-list", _top("omero", [1]), r"'omero' must be an object"),
    ("image-label-list", _top("image-label", []), r"image-label must be a JSON object"),
    (
        "label-colors-rgba",
        _top("image-label", {"colors": [{"label-value": 1, "rgba": [1, 2, 3]}]}),
        r"image-label\.colors\[0\]\.rgba must be 4 integers",
    ),
    (
        "label-colors-value",
        _top("image-label", {"colors": [{"label-value": "one", "rgba": [1, 2, 3, 4]}]}),
        r"image-label\.colors\[0\]\['label-value'\] must be an integer",
    ),
    (
        "label-properties-not-list",
        _top("image-label", {"properties": {"1": "a"}}),
        r"image-label\.properties must be a list",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [pytest.param(m, msg, id=case) for case, m, msg in MALFORMED_IMAGES],
)
def test_malformed_image_metadata_raises_value_error_naming_it(
    tmp_path: Path, mutate: Mutation, message: str
) -> None:
    attributes = v04_image_attributes()
    mutate(attributes)
    group = make_group(tmp_path / "bad.zarr", attributes, pyramid((2, 8, 8)))
    group.create_group("sub")

    with pytest.raises(ValueError, match=message) as error:
        open_image(tmp_path / "bad.zarr")
    assert "bad.zarr" in str(error.value)


def test_malformed_labels_list_raises_value_error(tmp_path: Path) -> None:
    root = make_group(tmp_path / "img.zarr", v04_image_attributes(), pyramid((2, 8, 8)))
    root.create_group("labels", attributes={"labels": "cells"})
    with pytest.raises(ValueError, match=r"labels: 'labels' must be a list of names"):
        open_image(tmp_path / "img.zarr")
    with pytest.raises(ValueError, match=r"'labels' must be a list of names"):
        open_labels(tmp_path / "img.zarr" / "labels")


def test_listed_label_that_is_missing_raises_value_error(tmp_path: Path) -> None:
    root = make_group(tmp_path / "img.zarr", v04_image_attributes(), pyramid((2, 8, 8)))
    root.create_group("labels", attributes={"labels": ["ghost"]})
    image = open_image(tmp_path / "img.zarr")
    assert image.label_names == ["ghost"]
    with pytest.raises(ValueError, match=r"no group 'ghost' \(it is listed but missing\)"):
        image.labels()


def _plate(**changes: Any) -> dict[str, Any]:
    plate: dict[str, Any] = {
        "version": "0.4",
        "rows": [{"name": "A"}, {"name": "B"}],
        "columns": [{"name": "1"}],
        "wells": [{"path": "B/1", "rowIndex": 1, "columnIndex": 0}],
    }
    plate.update(changes)
    return {"plate": plate}


MALFORMED_PLATES = [
    ("plate-not-object", {"plate": ["A"]}, r"plate must be a JSON object"),
    ("rows-missing", _plate(rows=None), r"plate\.rows is missing"),
    ("row-no-name", _plate(rows=[{"label": "A"}]), r"plate\.rows\[0\]\.name is missing"),
    ("wells-not-list", _plate(wells="B/1"), r"plate\.wells must be a list"),
    (
        "well-index-mismatch",
        _plate(wells=[{"path": "B/1", "rowIndex": 0, "columnIndex": 0}]),
        r"plate\.wells\[0\]: .*rowIndex 0 of 'B/1' does not match",
    ),
    (
        "well-row-unknown",
        _plate(wells=[{"path": "C/1", "rowIndex": 0, "columnIndex": 0}]),
        r"plate\.wells\[0\]: .*row 'C'",
    ),
    ("well-no-index", _plate(wells=[{"path": "B/1"}]), r"plate\.wells\[0\]: .*'rowIndex'"),
    (
        "old-well-bad-path",
        _plate(version="0.3", wells=[{"path": "B1"}]),
        r"plate\.wells\[0\]: path 'B1' must be 'row/column'",
    ),
    ("field-count-text", _plate(field_count="4"), r"plate\.field_count must be an integer"),
    (
        "acquisition-not-object",
        _plate(acquisitions=[3]),
        r"plate\.acquisitions\[0\] must be a JSON",
    ),
]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [pytest.param(a, msg, id=case) for case, a, msg in MALFORMED_PLATES],
)
def test_malformed_plate_metadata_raises_value_error_naming_it(
    tmp_path: Path, attributes: dict[str, Any], message: str
) -> None:
    make_group(tmp_path / "bad.zarr", attributes)
    with pytest.raises(ValueError, match=message) as error:
        open_plate(tmp_path / "bad.zarr")
    assert "bad.zarr" in str(error.value)


@pytest.mark.parametrize(
    ("well", "message"),
    [
        ({"version": "0.4"}, r"well\.images is missing"),
        ({"version": "0.4", "images": [{"acquisition": 0}]}, r"well\.images\[0\]\.path is missing"),
        (
            {"version": "0.4", "images": [{"path": "0", "acquisition": "a"}]},
            r"acquisition must be an integer",
        ),
        ({"version": "0.4", "images": ["0"]}, r"well\.images\[0\] must be a JSON object"),
    ],
)
def test_malformed_well_metadata_raises_value_error_naming_it(
    tmp_path: Path, well: dict[str, Any], message: str
) -> None:
    make_group(tmp_path / "bad.zarr", {"well": well})
    with pytest.raises(ValueError, match=message):
        open_well(tmp_path / "bad.zarr")


def test_well_image_listed_but_missing_raises_value_error(tmp_path: Path) -> None:
    make_group(tmp_path / "w.zarr", {"well": {"version": "0.4", "images": [{"path": "0"}]}})
    with pytest.raises(ValueError, match=r"no group '0'"):
        open_well(tmp_path / "w.zarr").image(0)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=True)
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
KEY_PATHS = [
    ["version"],
    ["axes"],
    ["axes", 0],
    ["axes", 1, "type"],
    ["axes", 2, "unit"],
    ["datasets"],
    ["datasets", 0],
    ["datasets", 1, "path"],
    ["datasets", 0, "coordinateTransformations"],
    ["datasets", 0, "coordinateTransformations", 0],
    ["datasets", 1, "coordinateTransformations", 0, "scale"],
    ["datasets", 1, "coordinateTransformations", 0, "type"],
    ["coordinateTransformations"],
    ["name"],
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key_path=st.sampled_from(KEY_PATHS), value=JSON_VALUES)
def test_any_corrupted_value_gives_an_image_or_a_value_error(
    key_path: list[Any], value: Any
) -> None:
    attributes = v04_image_attributes()
    _set(key_path, value)(attributes)
    store = zarr.storage.MemoryStore()
    make_group(store, attributes, pyramid((2, 8, 8)))
    try:
        image = open_image(zarr.open_group(store, mode="r"))
    except ValueError as error:
        assert "memory://" in str(error)
    else:
        assert len(image.levels) == len(image.scales) == len(image.translations)
        assert len(image.dims) == image.levels[0].ndim


PLATE_KEY_PATHS = [
    ["version"],
    ["rows"],
    ["rows", 0],
    ["rows", 1, "name"],
    ["columns"],
    ["wells"],
    ["wells", 0],
    ["wells", 0, "path"],
    ["wells", 0, "rowIndex"],
    ["wells", 0, "columnIndex"],
    ["acquisitions"],
    ["field_count"],
    ["name"],
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key_path=st.sampled_from(PLATE_KEY_PATHS), value=JSON_VALUES)
def test_any_corrupted_plate_value_gives_a_plate_or_a_value_error(
    key_path: list[Any], value: Any
) -> None:
    attributes = _plate(acquisitions=[{"id": 0}], field_count=1, name="p")
    target: Any = attributes["plate"]
    for key in key_path[:-1]:
        target = target[key]
    target[key_path[-1]] = value
    store = zarr.storage.MemoryStore()
    make_group(store, attributes)
    try:
        plate = open_plate(zarr.open_group(store, mode="r"))
    except ValueError as error:
        assert "memory://" in str(error)
    else:
        for well in plate.wells:
            assert plate.rows[well.row_index] == well.row
            assert plate.columns[well.column_index] == well.column
