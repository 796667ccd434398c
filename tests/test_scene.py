"""OME-NGFF 0.6 scenes: written by write_scene_metadata, validated, read by open_scene with
point mappings between its images' systems and its own; bad scenes refused before writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from _cli import run_cli
from omezarr.format import FormatV06
from omezarr.read import open_ome_zarr, open_scene
from omezarr.validate import validate
from omezarr.write import write_scene_metadata
from omezarr.writer import write_image

WORLD = {"name": "world", "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]}


@pytest.fixture
def tiles(tmp_path: Path) -> Path:
    root = tmp_path / "mosaic.ome.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=3)
    for index in range(3):
        write_image(np.full((32, 32), index, np.uint8), group.require_group(f"tile_{index}"),
                    fmt=FormatV06(), axes="yx", scale={"y": 0.5, "x": 0.5}, scale_factors=[])  # fmt: skip
    return root


def _to_world(tile: int, offset: list[float], **extra: Any) -> dict[str, Any]:
    return {"type": "translation", "translation": offset, "name": f"tile_{tile} to world",
            "input": {"path": f"tile_{tile}", "name": "intrinsic"}, "output": {"name": "world"},
            **extra}  # fmt: skip


def _scene_attributes(root: Path) -> dict[str, Any]:
    return json.loads((root / "zarr.json").read_text())["attributes"]


def test_a_stitched_mosaic_is_valid_and_maps_tile_points_to_the_world(tiles: Path) -> None:
    write_scene_metadata(
        str(tiles), [_to_world(0, [0, 0]), _to_world(1, [0, 16]), _to_world(2, [16, 0])], [WORLD]
    )
    ome = _scene_attributes(tiles)["ome"]
    assert ome["version"] == "0.6" and ome["scene"]["coordinateSystems"] == [WORLD]
    report = validate(str(tiles))
    assert report.valid and report.kind == "scene", report.format()
    scene = open_scene(str(tiles))
    assert scene.image_paths == ["tile_0", "tile_1", "tile_2"]
    # Pixel (2, 4) of tile 1: 0.5-micrometer pixels, then 16 micrometers to the right.
    intrinsic = scene.image("tile_1").transform_points([[2, 4]], "intrinsic")
    np.testing.assert_allclose(intrinsic, [[1.0, 2.0]])
    np.testing.assert_allclose(
        scene.transform_points(intrinsic, "tile_1#intrinsic", "world"), [[1.0, 18.0]]
    )
    # Between tiles, through the world and back.
    np.testing.assert_allclose(
        scene.transform_points([[0, 0]], "tile_2#intrinsic", "tile_1#intrinsic"), [[16, -16]]
    )
    assert type(open_ome_zarr(str(tiles))).__name__ == "Scene"
    info = run_cli("info", str(tiles))
    assert info.returncode == 0 and "OME-Zarr 0.6 scene" in info.stdout, info.stderr


def test_an_array_valued_rotation_is_stored_as_a_zarr_array(tiles: Path) -> None:
    quarter_turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    write_scene_metadata(
        str(tiles),
        [
            {"type": "rotation", "rotation": quarter_turn, "name": "turn",
             "input": {"path": "tile_0", "name": "intrinsic"}, "output": {"name": "world"}},
            _to_world(1, [0, 16]),
            _to_world(2, [16, 0]),
        ],
        [WORLD],
    )  # fmt: skip
    transform = _scene_attributes(tiles)["ome"]["scene"]["coordinateTransformations"][0]
    assert transform["path"] == "coordinateTransformations/turn" and "rotation" not in transform
    stored = zarr.open_array(str(tiles / "coordinateTransformations" / "turn"), mode="r")
    np.testing.assert_array_equal(stored[...], quarter_turn)
    assert validate(str(tiles)).valid, validate(str(tiles)).format()
    mapped = open_scene(str(tiles)).transform_points([[1, 2]], "tile_0#intrinsic", "world")
    np.testing.assert_allclose(mapped, [[-2.0, 1.0]])


@pytest.mark.parametrize(
    ("transformations", "message"),
    [
        ([{"type": "rotation", "rotation": [[1, 1], [0, 1]],
           "input": {"path": "tile_0", "name": "intrinsic"}, "output": {"name": "world"}}],
         "orthonormal"),
        ([_to_world(7, [0, 0])], "no image at 'tile_7'"),
        ([{**_to_world(0, [0, 0]), "input": {"path": "../tile_0", "name": "intrinsic"}}],
         "without '..'"),
        ([{**_to_world(0, [0, 0]), "output": {"name": "elsewhere"}}],
         "no coordinate system 'elsewhere'"),
        ([{**_to_world(0, [0, 0]), "input": {"path": "tile_0", "name": "physical"}}],
         "has no coordinate system 'physical'"),
        ([_to_world(0, [0, 0]),
          {**_to_world(1, [0, 16]), "output": {"path": "tile_2", "name": "intrinsic"}}],
         "are not connected"),
        ([{"type": "mapAxis", "mapAxis": [0, 0],
           "input": {"path": "tile_0", "name": "intrinsic"}, "output": {"name": "world"}}],
         "permutation"),
    ],
    ids=["rotation", "image", "dotdot", "system", "image system", "disconnected", "mapAxis"],
)  # fmt: skip
def test_a_bad_scene_is_refused_before_anything_is_written(
    tiles: Path, transformations: list[dict[str, Any]], message: str
) -> None:
    before = (tiles / "zarr.json").read_bytes()
    with pytest.raises(ValueError, match=message):
        write_scene_metadata(str(tiles), transformations, [WORLD])
    assert (tiles / "zarr.json").read_bytes() == before
    assert not (tiles / "coordinateTransformations").exists()


def test_an_image_the_scene_does_not_name_is_reported(tiles: Path) -> None:
    write_scene_metadata(str(tiles), [_to_world(0, [0, 0]), _to_world(1, [0, 16])], [WORLD])
    report = validate(str(tiles))
    unlisted = [v for v in report.violations if v.rule == "scene-unlisted-image"]
    assert [(v.severity, v.location.rstrip("/").split("/")[-1]) for v in unlisted] == [
        ("warning", "tile_2")
    ], report.format()
    assert report.valid  # a warning: the spec does not forbid it, the scene just says nothing
    write_scene_metadata(
        str(tiles), [_to_world(0, [0, 0]), _to_world(1, [0, 16]), _to_world(2, [16, 0])], [WORLD]
    )
    assert not [v for v in validate(str(tiles)).violations if v.rule == "scene-unlisted-image"]
