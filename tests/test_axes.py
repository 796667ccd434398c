"""Tests for omezarr.axes and the writer's axes guessing: inputs, types, units and NGFF rules."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omezarr.axes import KNOWN_SPATIAL_UNITS, KNOWN_TEMPORAL_UNITS, Axes, axes_problems
from omezarr.format import Format, FormatV01, FormatV02, FormatV03, FormatV04, FormatV05
from omezarr.writer import _extract_dims_from_axes, _get_valid_axes

MODERN = [FormatV04(), FormatV05()]

TCZYX = [
    {"name": "t", "type": "time"},
    {"name": "c", "type": "channel"},
    {"name": "z", "type": "space"},
    {"name": "y", "type": "space"},
    {"name": "x", "type": "space"},
]


def axes_of(*specs: str) -> list[dict[str, str]]:
    """Axis dicts from "name:type" strings ("angle" alone has no type)."""
    axes = []
    for spec in specs:
        name, _, kind = spec.partition(":")
        axes.append({"name": name, "type": kind} if kind else {"name": name})
    return axes


# ------------------------------------------------------------------ inputs and types


@pytest.mark.parametrize("fmt", MODERN)
@pytest.mark.parametrize(
    "given_axes", ["tczyx", ["t", "c", "z", "y", "x"], TCZYX], ids=["str", "names", "dicts"]
)
def test_known_names_get_their_types_from_every_input_form(fmt: Format, given_axes: Any) -> None:
    axes = Axes(given_axes, fmt=fmt)
    assert axes.to_list() == TCZYX
    assert axes.names == ["t", "c", "z", "y", "x"]


def test_default_format_is_the_current_one() -> None:
    assert Axes("yx").fmt == FormatV05()


def test_axis_dicts_keep_their_own_type_unit_and_extra_keys() -> None:
    given_axes = [
        {"name": "angle", "type": "custom", "note": "rotation"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x"},
    ]
    assert Axes(given_axes, fmt=FormatV04()).to_list() == [
        {"name": "angle", "type": "custom", "note": "rotation"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space"},
    ]


def test_unknown_names_get_no_type() -> None:
    assert Axes(["p", "y", "x"], fmt=FormatV04()).to_list()[0] == {"name": "p"}


def test_given_inputs_are_not_mutated_and_to_list_returns_copies() -> None:
    given_axes = [{"name": "y"}, {"name": "x"}]
    axes = Axes(given_axes, {"x": "nanometer"}, fmt=FormatV04())
    assert given_axes == [{"name": "y"}, {"name": "x"}]
    listed = axes.to_list()
    assert isinstance(listed[0], dict)
    listed[0]["name"] = "changed"
    assert axes.names == ["y", "x"]


@pytest.mark.parametrize(
    ("given_axes", "error", "problem"),
    [
        (5, TypeError, "expected a string or a list"),
        ({"name": "x"}, TypeError, "expected a string or a list"),
        (["y", 3], TypeError, "each axis must be a name or a dict"),
        (["y", None], TypeError, "each axis must be a name or a dict"),
        ([{"name": "y"}, {"type": "space"}], ValueError, "has no 'name'"),
        (
            [{"name": "y", "type": "space"}, {"name": "x", "type": 3}],
            ValueError,
            "must be a string",
        ),
    ],
)
def test_bad_axis_inputs_are_refused_naming_axes(
    given_axes: Any, error: type[Exception], problem: str
) -> None:
    with pytest.raises(error, match="axes: ") as info:
        Axes(given_axes, fmt=FormatV04())
    assert problem in str(info.value)


# ------------------------------------------------------------------ units


def test_units_are_applied_by_name() -> None:
    axes = Axes("tczyx", {"t": "millisecond", "z": "micrometer", "x": "angstrom"}, FormatV04())
    assert axes.to_list() == [
        {"name": "t", "type": "time", "unit": "millisecond"},
        {"name": "c", "type": "channel"},
        {"name": "z", "type": "space", "unit": "micrometer"},
        {"name": "y", "type": "space"},
        {"name": "x", "type": "space", "unit": "angstrom"},
    ]


def test_known_units_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for unit in sorted(KNOWN_SPATIAL_UNITS):
            Axes("yx", {"x": unit}, FormatV05())
        for unit in sorted(KNOWN_TEMPORAL_UNITS):
            Axes("tyx", {"t": unit}, FormatV05())
        # Channel and custom axes have no unit list: anything goes.
        Axes("cyx", {"c": "photons"}, FormatV05())
    assert {"micrometer", "nanometer", "meter", "inch", "parsec"} <= KNOWN_SPATIAL_UNITS
    assert {"millisecond", "second", "minute", "hour", "day"} <= KNOWN_TEMPORAL_UNITS
    assert "decameter" not in KNOWN_SPATIAL_UNITS


@pytest.mark.parametrize(
    ("axes", "units", "message"),
    [
        ("yx", {"x": "pixel"}, "Unit pixel for axis x is not a known spatial unit"),
        ("yx", {"y": "second"}, "Unit second for axis y is not a known spatial unit"),
        ("tyx", {"t": "frame"}, "Unit frame for axis t is not a known temporal unit"),
        ("tyx", {"t": "meter"}, "Unit meter for axis t is not a known temporal unit"),
    ],
)
def test_unknown_units_warn_but_are_kept(axes: str, units: dict[str, str], message: str) -> None:
    with pytest.warns(UserWarning, match=message):
        parsed = Axes(axes, units, FormatV04())
    (name, unit), *_ = units.items()
    assert {"name": name, "unit": unit}.items() <= parsed.to_list()[
        parsed.names.index(name)
    ].items()


@pytest.mark.parametrize(
    ("units", "error", "problem"),
    [
        (["micrometer"], TypeError, "expected a dict of axis name to unit"),
        ({"x": 1.0}, TypeError, "the unit of axis 'x' must be a string"),
    ],
)
def test_bad_units_are_refused_naming_axes_units(
    units: Any, error: type[Exception], problem: str
) -> None:
    with pytest.raises(error, match="axes_units: ") as info:
        Axes("yx", units, FormatV04())
    assert problem in str(info.value)


# ------------------------------------------------------------------ NGFF rules (0.4+)


@pytest.mark.parametrize("fmt", MODERN)
@pytest.mark.parametrize(
    "valid",
    [
        "yx",
        "zyx",
        "cyx",
        "tyx",
        "tcyx",
        "czyx",
        "tzyx",
        "tczyx",
        ["t", "angle", "y", "x"],
        ["angle", "z", "y", "x"],
        axes_of("t:time", "phase:custom", "z:space", "y:space", "x:space"),
        axes_of("lambda:spectral", "y:space", "x:space"),
        axes_of("x:space", "y:space"),
    ],
)
def test_axes_that_follow_the_rules_are_accepted(fmt: Format, valid: Any) -> None:
    axes = Axes(valid, fmt=fmt)
    assert axes_problems(axes.to_list()) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", MODERN)
@pytest.mark.parametrize(
    ("invalid", "problem"),
    [
        ("x", "there must be 2 to 5 axes, found 1"),
        ([], "there must be 2 to 5 axes, found 0"),
        (["t", "c", "angle", "z", "y", "x"], "there must be 2 to 5 axes, found 6"),
        ("cx", "there must be 2 or 3 space axes, found 1"),
        ("tc", "there must be 2 or 3 space axes, found 0"),
        (axes_of("w:space", "z:space", "y:space", "x:space"), "2 or 3 space axes, found 4"),
        (axes_of("t:time", "s:time", "y:space", "x:space"), "at most one time axis"),
        (axes_of("c:channel", "d:channel", "y:space", "x:space"), "at most one channel or custom"),
        (["c", "angle", "y", "x"], "at most one channel or custom axis is allowed, found 2"),
        (["angle", "phase", "y", "x"], "at most one channel or custom axis is allowed, found 2"),
        ("ctyx", "axis 't' of type 'time' must come before axis 'c' of type 'channel'"),
        ("yxc", "axis 'c' of type 'channel' must come before axis 'x' of type 'space'"),
        ("ytx", "axis 't' of type 'time' must come before axis 'y' of type 'space'"),
        (["y", "angle", "x"], "axis 'angle' of type 'custom' must come before axis 'y'"),
        ("yy", "axis names must be unique, repeated: ['y']"),
        (axes_of("x:space", "x:space", "y:space"), "axis names must be unique, repeated: ['x']"),
        ([{"name": "", "type": "space"}, "x"], "every axis needs a non-empty string 'name'"),
    ],
)
def test_each_rule_violation_is_refused_naming_axes(
    fmt: Format, invalid: Any, problem: str
) -> None:
    with pytest.raises(ValueError, match="axes: ") as info:
        Axes(invalid, fmt=fmt)
    assert problem in str(info.value)


def test_axes_problems_lists_every_problem_at_once() -> None:
    problems = axes_problems(axes_of("x:space", "t:time", "s:time", "x:space"))
    assert len(problems) == 3
    assert any("names must be unique" in p for p in problems)
    assert any("at most one time axis" in p for p in problems)
    assert any("must come before" in p for p in problems)
    assert axes_problems(axes_of("x:space", "y:space")) == []


# ------------------------------------------------------------------ older versions


@pytest.mark.parametrize("valid", ["yx", "zyx", "cyx", "tyx", "tzyx", "czyx", "tcyx", "tczyx"])
def test_0_3_accepts_its_fixed_orders_and_lists_names(valid: str) -> None:
    axes = Axes(valid, fmt=FormatV03())
    assert axes.to_list() == list(valid)
    assert axes.to_list(FormatV04())[-1] == {"name": "x", "type": "space"}


@pytest.mark.parametrize(
    ("invalid", "problem"),
    [
        ("xy", "2-D data in OME-NGFF 0.3 must have axes yx, not xy"),
        ("zcyx", "4-D data in OME-NGFF 0.3 must have axes tzyx or czyx or tcyx, not zcyx"),
        ("tcz", "3-D data in OME-NGFF 0.3 must have axes zyx or cyx or tyx"),
        (["t", "angle", "y", "x"], "must have axes"),
        ("x", "OME-NGFF 0.3 allows 2 to 5 axes, found 1"),
        ("ttczyx", "OME-NGFF 0.3 allows 2 to 5 axes, found 6"),
    ],
)
def test_0_3_refuses_other_orders(invalid: Any, problem: str) -> None:
    with pytest.raises(ValueError, match="axes: ") as info:
        Axes(invalid, fmt=FormatV03())
    assert problem in str(info.value)


@pytest.mark.parametrize("fmt", [FormatV01(), FormatV02()])
def test_0_1_and_0_2_are_always_tczyx_and_check_nothing(fmt: Format) -> None:
    assert Axes(None, fmt=fmt).names == ["t", "c", "z", "y", "x"]
    assert Axes("xx", fmt=fmt).names == ["x", "x"]


@pytest.mark.parametrize("fmt", [FormatV03(), *MODERN])
def test_axes_are_required_from_0_3(fmt: Format) -> None:
    with pytest.raises(ValueError, match="axes: must be given"):
        Axes(None, fmt=fmt)


# ------------------------------------------------------------------ writer guessing


@pytest.mark.parametrize("fmt", MODERN)
def test_get_valid_axes_guesses_yx_for_2d_and_tczyx_for_5d(fmt: Format) -> None:
    assert _get_valid_axes(ndim=2, fmt=fmt) == [
        {"name": "y", "type": "space"},
        {"name": "x", "type": "space"},
    ]
    assert _get_valid_axes(ndim=5, fmt=fmt) == TCZYX


def test_get_valid_axes_defaults_to_the_current_format() -> None:
    assert _get_valid_axes(ndim=3, axes="zyx") == _get_valid_axes(3, "zyx", fmt=FormatV05())


@pytest.mark.parametrize("ndim", [3, 4, None])
def test_get_valid_axes_refuses_to_guess_3d_and_4d(ndim: int | None) -> None:
    with pytest.raises(ValueError, match="axes must be provided"):
        _get_valid_axes(ndim=ndim, fmt=FormatV04())


@pytest.mark.parametrize(("ndim", "axes"), [(3, "yx"), (2, "zyx"), (5, ["t", "z", "y", "x"])])
def test_get_valid_axes_checks_the_count(ndim: int, axes: Any) -> None:
    with pytest.raises(ValueError, match=rf"axes length \({len(axes)}\) must match .*\({ndim}\)"):
        _get_valid_axes(ndim=ndim, axes=axes, fmt=FormatV04())


def test_get_valid_axes_applies_units_and_rules() -> None:
    assert _get_valid_axes(3, "zyx", {"z": "micrometer"}, FormatV04())[0] == {  # type: ignore[index]
        "name": "z",
        "type": "space",
        "unit": "micrometer",
    }
    with pytest.raises(ValueError, match=r"axes: .*must come before"):
        _get_valid_axes(3, "yxc", fmt=FormatV04())


@pytest.mark.parametrize("fmt", [FormatV01(), FormatV02()])
def test_get_valid_axes_is_none_for_0_1_and_0_2(fmt: Format) -> None:
    assert _get_valid_axes(5, None, fmt=fmt) is None
    assert _get_valid_axes(3, "zyx", fmt=fmt) is None


def test_get_valid_axes_lists_names_for_0_3() -> None:
    assert _get_valid_axes(4, "czyx", fmt=FormatV03()) == ["c", "z", "y", "x"]
    with pytest.raises(ValueError, match="axes: "):
        _get_valid_axes(3, "yxc", fmt=FormatV03())


@pytest.mark.parametrize(
    ("axes", "dims"),
    [
        (None, ("t", "c", "z", "y", "x")),
        (["z", "y", "x"], ("z", "y", "x")),
        (TCZYX, ("t", "c", "z", "y", "x")),
    ],
)
def test_extract_dims_from_axes(axes: Any, dims: tuple[str, ...]) -> None:
    assert tuple(_extract_dims_from_axes(axes)) == dims


# ------------------------------------------------------------------ property test

AXIS_NAMES = ["x", "y", "z", "t", "c", "angle", "p", "q"]
AXIS_TYPES = ["space", "time", "channel", "custom", "spectral", None]
RANK = {"time": 0, "channel": 1, "custom": 1, "space": 2}


def kind_of(axis: Mapping[str, Any]) -> str:
    """The axis kind as the specification reads it, computed here without omezarr."""
    given = axis.get("type")
    if given is None:
        given = {"x": "space", "y": "space", "z": "space", "t": "time", "c": "channel"}.get(
            axis["name"]
        )
    return given if given in ("space", "time", "channel") else "custom"


def follows_every_rule(axes: list[Mapping[str, Any]]) -> bool:
    kinds = [kind_of(a) for a in axes]
    names = [a["name"] for a in axes]
    return (
        2 <= len(axes) <= 5
        and 2 <= kinds.count("space") <= 3
        and kinds.count("time") <= 1
        and kinds.count("channel") + kinds.count("custom") <= 1
        and all(RANK[a] <= RANK[b] for a, b in itertools.pairwise(kinds))
        and len(set(names)) == len(names)
    )


axis_dicts = st.builds(
    lambda name, kind: {"name": name} if kind is None else {"name": name, "type": kind},
    st.sampled_from(AXIS_NAMES),
    st.sampled_from(AXIS_TYPES),
)
axis_lists = st.one_of(
    st.lists(axis_dicts, max_size=7),
    st.lists(st.sampled_from(AXIS_NAMES), max_size=7),
    st.text(alphabet="xyztc", max_size=7),
)


@settings(max_examples=300, deadline=None)
@given(given_axes=axis_lists, fmt=st.sampled_from(MODERN))
def test_random_axes_are_accepted_exactly_when_they_follow_the_rules(
    given_axes: Any, fmt: Format
) -> None:
    as_dicts = [{"name": a} if isinstance(a, str) else a for a in given_axes]
    try:
        axes = Axes(given_axes, fmt=fmt)
    except ValueError as error:
        assert str(error).startswith("axes: ")
        assert not follows_every_rule(as_dicts)
        return
    assert follows_every_rule(as_dicts)
    listed = axes.to_list()
    assert [a["name"] for a in listed] == [a["name"] for a in as_dicts]  # type: ignore[index]
    assert follows_every_rule(listed)  # type: ignore[arg-type]


def test_units_of_absent_axes_are_ignored_with_a_warning_as_by_the_reference() -> None:
    from ome_zarr.axes import Axes as ReferenceAxes
    from ome_zarr.format import FormatV04 as ReferenceV04

    with pytest.warns(UserWarning, match=r"axes_units: axes \['z'\] are not among the axes"):
        ours = Axes("yx", {"z": "micrometer", "x": "micrometer"}, FormatV04()).to_list()
    theirs = ReferenceAxes(["y", "x"], {"z": "micrometer", "x": "micrometer"}, ReferenceV04())
    assert ours == theirs.to_list(ReferenceV04())
