"""write.request: a pixel writer's call becomes one checked request, then a typed plan."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from omezarr.ngff.format import FormatV04, FormatV05
from omezarr.pyramid.methods import Methods
from omezarr.write.request import LabelRequest, PixelRequest, WritePlan, plan_write


def test_a_request_is_a_frozen_value() -> None:
    request = PixelRequest(sources=(np.zeros((8, 8)),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.overwrite = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("arguments", "error", "parameter"),
    [
        ({"overwrite": 1}, TypeError, "overwrite"),
        ({"resume": "yes"}, TypeError, "resume"),
        ({"compute": "no"}, TypeError, "compute"),
        ({"progress": 3}, TypeError, "progress"),
        ({"resume": True, "overwrite": True}, ValueError, "resume, overwrite"),
    ],
)
def test_a_request_refuses_bad_flags_when_made(
    arguments: dict, error: type[Exception], parameter: str
) -> None:
    with pytest.raises(error, match=rf"^{parameter}:"):
        PixelRequest(sources=(np.zeros((8, 8)),), **arguments)


@pytest.mark.parametrize("name", ["", "a/b", 3])
def test_a_label_request_refuses_bad_names(name: object) -> None:
    with pytest.raises(ValueError, match=r"^name:"):
        LabelRequest(name)  # type: ignore[arg-type]


def test_a_label_request_refuses_metadata_that_is_not_a_dict() -> None:
    with pytest.raises(TypeError, match=r"^label_metadata:"):
        LabelRequest("cells", [1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize("pyramid", ["s0", [], np.zeros((4, 4))])
def test_a_pyramid_request_needs_a_list_of_levels(pyramid: object) -> None:
    with pytest.raises(TypeError, match=r"^pyramid:"):
        PixelRequest.of_pyramid(pyramid)


def test_the_plan_holds_levels_layouts_and_metadata_as_values() -> None:
    request = PixelRequest(
        sources=(np.zeros((3, 64, 80), "uint16"),),
        axes="cyx",
        scale={"y": 0.5, "x": 0.5},
        scale_factors=(2, 4),
        method=Methods.LOCAL_MEAN,
        memory_budget="64M",
    )
    plan = plan_write(request, FormatV05())
    assert isinstance(plan, WritePlan)
    assert plan.shapes == ((3, 64, 80), (3, 32, 40), (3, 16, 20))
    assert plan.factors == ((1, 1, 1), (1, 2, 2), (1, 4, 4))
    assert plan.dims == ("c", "y", "x") and plan.memory_budget == 64 * 2**20
    assert len(plan.layouts) == 3 and len(plan.steps) == 2
    datasets = plan.attrs["multiscales"][0]["datasets"]
    assert datasets[1]["coordinateTransformations"][0]["scale"] == [1.0, 1.0, 1.0]
    assert plan.attrs["multiscales"][0]["type"] == "local_mean"


def test_a_given_pyramid_is_planned_level_by_level() -> None:
    levels = [np.zeros((64, 64), "uint8"), np.zeros((32, 32), "uint8")]
    plan = plan_write(PixelRequest.of_pyramid(levels), FormatV04())
    assert plan.shapes == ((64, 64), (32, 32)) and plan.steps == ()
    assert len(plan.sources) == 2


def test_planning_refuses_what_the_format_cannot_hold_before_anything_is_written() -> None:
    request = PixelRequest(sources=(np.zeros((8, 8), "float32"),), label=LabelRequest("x"))
    with pytest.raises(TypeError, match=r"^labels: .*integer dtype"):
        plan_write(request, FormatV05())
