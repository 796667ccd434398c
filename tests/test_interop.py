"""Interoperability: what omezarr writes opens in omezarr's validator, ome-zarr-models,
the established reader (ome-zarr-py) and zarr-python, with the data that was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Label, Labels, Multiscales, Node, Plate, Reader
from ome_zarr_models import open_ome_zarr

from omezarr.format import Format, FormatV04, FormatV05
from omezarr.pyramid.methods import Methods
from omezarr.pyramid.steps import downsample_pyramid
from omezarr.writer import (
    write_image,
    write_labels,
    write_multiscale_labels,
    write_plate_metadata,
    write_well_metadata,
)

PLANE = (37, 45)
SCALE_FACTORS = [2, 4]
SCALE = {"z": 2.0, "y": 0.5, "x": 0.5}
UNITS = {"z": "micrometer", "y": "micrometer", "x": "micrometer"}
COLORS = [
    {"label-value": 1, "rgba": [255, 0, 0, 255]},
    {"label-value": 2, "rgba": [0, 0, 255, 255]},
]
PROPERTIES = [{"label-value": 1, "class": "a"}, {"label-value": 2, "class": "b"}]
WELLS = ("A/1", "A/2")


@dataclass
class Written:
    """An image with two labels and a plate of two wells, with the pixels of every level."""

    fmt: Format
    image_path: Path
    plate_path: Path
    image_levels: list[np.ndarray]
    label_levels: dict[str, list[np.ndarray]]
    field_levels: dict[str, list[np.ndarray]] = field(default_factory=dict)


def _levels(data: np.ndarray, method: Methods) -> list[np.ndarray]:
    """The pyramid omezarr promises: y/x divided by each factor, each level from the last."""
    factors = [
        tuple(factor if axis >= data.ndim - 2 else 1 for axis in range(data.ndim))
        for factor in SCALE_FACTORS
    ]
    return downsample_pyramid(data, factors, method)


def _write_everything(root: Path, fmt: Format) -> Written:
    rng = np.random.default_rng(4)
    image = rng.integers(0, 4000, (2, 3, *PLANE), dtype=np.uint16)
    cells = rng.integers(0, 3, (1, 3, *PLANE), dtype=np.uint32)
    nuclei = (rng.random((1, 3, *PLANE)) > 0.7).astype(np.uint8)
    image_path = root / f"image-{fmt.version}.zarr"
    omero = {
        "channels": [
            {"color": color, "window": {"min": 0, "max": 4000, "start": 0, "end": end}}
            for color, end in (("FF0000", 3000), ("00FF00", 2000))
        ]
    }
    common: dict[str, Any] = {"fmt": fmt, "axes": "czyx", "scale": SCALE, "axes_units": UNITS}
    write_image(
        image, str(image_path), scale_factors=SCALE_FACTORS, omero=omero, name="img", **common
    )
    write_labels(
        cells,
        str(image_path),
        name="cells",
        scale_factors=SCALE_FACTORS,
        label_metadata={"colors": COLORS, "properties": PROPERTIES},
        **common,
    )
    nuclei_levels = _levels(nuclei, Methods.NEAREST)
    write_multiscale_labels(nuclei_levels, str(image_path), name="nuclei", **common)

    plate_path = root / f"plate-{fmt.version}.zarr"
    plate = zarr.open_group(plate_path, mode="w", zarr_format=fmt.zarr_format)
    write_plate_metadata(plate, ["A"], ["1", "2"], list(WELLS), fmt=fmt, name="plate")
    written = Written(
        fmt=fmt,
        image_path=image_path,
        plate_path=plate_path,
        image_levels=_levels(image, Methods.RESIZE),
        label_levels={"cells": _levels(cells, Methods.NEAREST), "nuclei": nuclei_levels},
    )
    for index, well in enumerate(WELLS):
        row, column = well.split("/")
        well_group = plate.require_group(row).require_group(column)
        write_well_metadata(well_group, ["0"], fmt=fmt)
        field_image = rng.integers(0, 255, (2, *PLANE), dtype=np.uint8) + index
        write_image(
            field_image,
            well_group.require_group("0"),
            fmt=fmt,
            axes="cyx",
            scale_factors=SCALE_FACTORS,
        )
        written.field_levels[well] = _levels(field_image, Methods.RESIZE)
    return written


@pytest.fixture(
    scope="module",
    params=[pytest.param(FormatV04(), id="0.4"), pytest.param(FormatV05(), id="0.5")],
)
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _write_everything(tmp_path_factory.mktemp("interop"), request.param)


# ------------------------------------------------------------------------------ omezarr.validate


def test_omezarr_validate_accepts_image_labels_and_plate(written: Written) -> None:
    validate_module = pytest.importorskip("omezarr.validate", reason="validate.py not merged yet")
    for path in (written.image_path, written.plate_path):
        report = validate_module.validate(str(path))
        assert report.valid, report.format()


# ------------------------------------------------------------------------------ ome-zarr-models


def test_ome_zarr_models_opens_the_image_with_its_axes_and_levels(written: Written) -> None:
    model = open_ome_zarr(str(written.image_path), version=written.fmt.version)
    assert type(model).__name__ == "Image"
    (multiscale,) = model.ome_attributes.multiscales
    assert [axis.name for axis in multiscale.axes] == ["c", "z", "y", "x"]
    assert [axis.unit for axis in multiscale.axes] == [
        None,
        "micrometer",
        "micrometer",
        "micrometer",
    ]
    assert [d.path for d in multiscale.datasets] == ["s0", "s1", "s2"]
    scales = [d.coordinateTransformations[0].scale for d in multiscale.datasets]
    level0 = written.image_levels[0].shape
    for scale, level in zip(scales, written.image_levels, strict=True):
        wanted = [1.0] + [
            SCALE[d] * n0 / n for d, n0, n in zip("zyx", level0[1:], level.shape[1:], strict=True)
        ]
        assert scale == pytest.approx(wanted)
    # 0.4 models omero, 0.5 keeps it as an extra field: compare the dumped document.
    omero = model.ome_attributes.model_dump(mode="json")["omero"]
    assert [c["color"] for c in omero["channels"]] == ["FF0000", "00FF00"]


@pytest.mark.parametrize("name", ["cells", "nuclei"])
def test_ome_zarr_models_opens_each_label_image(written: Written, name: str) -> None:
    model = open_ome_zarr(str(written.image_path / "labels" / name), version=written.fmt.version)
    assert type(model).__name__ == "ImageLabel"
    image_label = model.ome_attributes.image_label
    assert image_label.source is not None and image_label.source.image == "../../"
    if name == "cells":
        assert [c.label_value for c in image_label.colors] == [1, 2]
    (multiscale,) = model.ome_attributes.multiscales
    assert [d.path for d in multiscale.datasets] == ["s0", "s1", "s2"]
    labels = open_ome_zarr(str(written.image_path / "labels"), version=written.fmt.version)
    assert labels.ome_attributes.labels == ["cells", "nuclei"]


def test_ome_zarr_models_opens_the_plate_and_its_wells(written: Written) -> None:
    model = open_ome_zarr(str(written.plate_path), version=written.fmt.version)
    assert type(model).__name__ == "HCS"
    assert [w.path for w in model.ome_attributes.plate.wells] == list(WELLS)
    wells = list(model.well_groups)
    assert len(wells) == 2
    for well in wells:
        assert [image.path for image in well.ome_attributes.well.images] == ["0"]
    field_model = open_ome_zarr(
        str(written.plate_path / "A" / "1" / "0"), version=written.fmt.version
    )
    assert type(field_model).__name__ == "Image"


# ------------------------------------------------------------------------ ome-zarr-py (reference)


def _reader_nodes(path: Path) -> list[Node]:
    location = parse_url(str(path))
    assert location is not None, f"ome-zarr-py does not recognise {path}"
    return list(Reader(location)())


def _node(nodes: list[Node], spec: type, suffix: str = "") -> Node:
    matches = [
        n
        for n in nodes
        if any(isinstance(s, spec) for s in n.specs) and n.zarr.path.rstrip("/").endswith(suffix)
    ]
    assert len(matches) == 1, [str(n) for n in nodes]
    return matches[0]


def test_ome_zarr_reader_reads_every_level_of_image_and_labels(written: Written) -> None:
    nodes = _reader_nodes(written.image_path)
    image = _node(nodes, Multiscales, f"image-{written.fmt.version}.zarr")
    assert [a["name"] for a in image.metadata["axes"]] == ["c", "z", "y", "x"]
    assert len(image.data) == len(written.image_levels)
    for level, expected in zip(image.data, written.image_levels, strict=True):
        assert np.array_equal(np.asarray(level), expected)
    _node(nodes, Labels, "labels")
    for name, levels in written.label_levels.items():
        label = _node(nodes, Label, f"labels/{name}")
        assert [a["name"] for a in label.metadata["axes"]] == ["c", "z", "y", "x"]
        assert len(label.data) == len(levels)
        for level, expected in zip(label.data, levels, strict=True):
            assert np.array_equal(np.asarray(level), expected)
    colors = _node(nodes, Label, "labels/cells").metadata["color"]
    assert colors == {1: [1.0, 0.0, 0.0, 1.0], 2: [0.0, 0.0, 1.0, 1.0]}


def test_ome_zarr_reader_stitches_the_plate_from_our_fields(written: Written) -> None:
    plate = _node(_reader_nodes(written.plate_path), Plate)
    assert len(plate.data) == len(SCALE_FACTORS) + 1
    for level, stitched in enumerate(plate.data):
        expected = np.concatenate([written.field_levels[w][level] for w in WELLS], axis=-1)
        assert np.array_equal(np.asarray(stitched), expected)


# ------------------------------------------------------------------------------------ zarr-python


def test_zarr_python_opens_every_array_with_the_written_pixels(written: Written) -> None:
    root = zarr.open_group(written.image_path, mode="r")
    assert root.metadata.zarr_format == written.fmt.zarr_format
    for i, expected in enumerate(written.image_levels):
        assert np.array_equal(root[f"s{i}"][...], expected)
    for name, levels in written.label_levels.items():
        for i, expected in enumerate(levels):
            assert np.array_equal(root[f"labels/{name}/s{i}"][...], expected)
    plate = zarr.open_group(written.plate_path, mode="r")
    for well, levels in written.field_levels.items():
        for i, expected in enumerate(levels):
            assert np.array_equal(plate[f"{well}/0/s{i}"][...], expected)


@pytest.mark.parametrize(
    ("method", "tolerance"),
    [(Methods.NEAREST, 0), (Methods.RESIZE, 1), (Methods.LOCAL_MEAN, 1)],
)
def test_levels_match_the_reference_writers_pyramid(
    tmp_path: Path, method: Methods, tolerance: int
) -> None:
    """ome-zarr-py computes each level from the one before it, as omezarr does: nearest picks the
    same pixels; resize and local_mean differ by rounding only (ome-zarr truncates each level
    to integers, omezarr rounds), by at most ``tolerance`` per level of the chain."""
    import warnings

    from ome_zarr.format import FormatV05 as ReferenceFormatV05
    from ome_zarr.scale import Methods as ReferenceMethods
    from ome_zarr.writer import write_image as reference_write_image

    image = np.random.default_rng(11).poisson(300, (1, 2, 3, 200, 176)).astype(np.uint16)
    reference_group = zarr.open_group(tmp_path / "reference.ome.zarr", mode="w", zarr_format=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference_write_image(
            image,
            reference_group,
            axes="tczyx",
            scale_factors=(2, 4, 8),
            method=ReferenceMethods(method.value),
            fmt=ReferenceFormatV05(),
        )
    write_image(
        image, tmp_path / "ours.ome.zarr", axes="tczyx", scale_factors=(2, 4, 8), method=method
    )
    ours = zarr.open_group(tmp_path / "ours.ome.zarr", mode="r")
    for level in range(4):
        theirs = np.asarray(reference_group[f"s{level}"][...], dtype=np.int64)
        mine = np.asarray(ours[f"s{level}"][...], dtype=np.int64)
        assert mine.shape == theirs.shape
        difference = int(np.abs(mine - theirs).max())
        assert difference <= tolerance * level, f"level {level}: {difference}"
        # Same operator, non-negative weights: rounding instead of truncating only ever
        # raises a value, so omezarr's level is never below the reference's.
        assert (mine >= theirs).all(), f"level {level}"
