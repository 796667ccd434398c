"""OME-NGFF 0.6 transformations as matrices, and point mappings between coordinate systems:
every case of the public transformation conformance suite, and a written image's levels."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from omezarr.format import FormatV06
from omezarr.ngff.transforms import parse_transformation, transform_points
from omezarr.reader import open_image
from omezarr.writer import write_image

CASES = Path(__file__).parent / "data" / "transformations-conformance" / "cases"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_conformance_case_maps_its_points(case: str) -> None:
    expected = tomllib.loads((CASES / case / "conformance.toml").read_text())
    ome = json.loads((CASES / case / "zarr.json").read_text())["attributes"]["ome"]
    source, target = expected["source"], expected["target"]
    if expected["should_error"]:
        with pytest.raises(ValueError):
            transform_points(ome, source["name"], target["name"], source["coordinates"])
        return
    mapped = transform_points(ome, source["name"], target["name"], source["coordinates"])
    np.testing.assert_allclose(
        mapped,
        np.asarray(target["coordinates"], dtype=float),
        rtol=expected["relative_tolerance"],
        atol=expected["absolute_tolerance"],
    )


def test_every_conformance_case_is_exercised() -> None:
    assert len(list(CASES.iterdir())) == 24


@pytest.mark.parametrize(
    ("transform", "points", "expected"),
    [
        ({"type": "mapAxis", "mapAxis": [2, 0, 1]}, [[1, 2, 3]], [[3, 1, 2]]),
        ({"type": "projectAxis", "createdOutputs": [0]}, [[4, 5]], [[0, 4, 5]]),
        ({"type": "affine", "affine": [[0, 1, 10], [1, 0, 20]]}, [[1, 2]], [[12, 21]]),
        (
            {"type": "byDimension", "transformations": [
                {"inputAxes": [1], "outputAxes": [0],
                 "transformation": {"type": "scale", "scale": [3]}},
                {"inputAxes": [0], "outputAxes": [1],
                 "transformation": {"type": "translation", "translation": [-1]}},
            ]},
            [[1, 2]],
            [[6, 0]],
        ),
    ],
    ids=["mapAxis", "projectAxis", "affine", "byDimension"],
)  # fmt: skip
def test_each_kind_maps_points_as_the_spec_defines(
    transform: dict, points: list, expected: list
) -> None:
    mapped = parse_transformation(transform, ndim=len(points[0])).apply(points)
    np.testing.assert_allclose(mapped, expected)


def test_fields_and_singular_inverses_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="not expressible as a matrix"):
        parse_transformation({"type": "displacements", "path": "field"})
    flat = parse_transformation({"type": "scale", "scale": [1, 0]})
    with pytest.raises(ValueError, match="singular"):
        flat.inverse()


def test_a_written_image_maps_level_indices_to_its_intrinsic_system(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    write_image(np.zeros((64, 64), np.uint8), str(path), axes="yx", fmt=FormatV06(),
                scale={"y": 0.5, "x": 0.25}, scale_factors=[2])  # fmt: skip
    image = open_image(str(path))
    # The centre of level 1's first pixel is the centre of level 0's first two.
    centre = image.transform_points([[0, 0]], "intrinsic", level=1)
    np.testing.assert_allclose(centre, [[0.25, 0.125]])
    assert image.coordinate_systems == ["intrinsic"]
    back = image.transform_points(centre, "path:s1", source="intrinsic")
    np.testing.assert_allclose(back, [[0, 0]])
