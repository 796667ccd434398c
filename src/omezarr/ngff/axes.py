"""Axes of an OME-NGFF image: parsing, types, units and the specification's ordering rules.

Pure: dicts and strings in, dicts and strings out.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .._errors import InvalidParameterError, InvalidParameterTypeError, Parameter
from .._numbers import is_finite_number
from .format import CurrentFormat, Format

__all__ = [
    "ANATOMICAL_ORIENTATIONS",
    "KNOWN_AXES",
    "KNOWN_SPATIAL_UNITS",
    "KNOWN_TEMPORAL_UNITS",
    "Axes",
    "axes_problems",
    "pixel_sizes",
]

KNOWN_AXES: dict[str, str] = {"x": "space", "y": "space", "z": "space", "c": "channel", "t": "time"}
"""Axis names whose type is implied when the user gives a bare name."""

# The specification's lists are these prefixes (no "deca") with meter and second.
_SI_PREFIXES = (
    "yocto",
    "zepto",
    "atto",
    "femto",
    "pico",
    "nano",
    "micro",
    "milli",
    "centi",
    "deci",
    "hecto",
    "kilo",
    "mega",
    "giga",
    "tera",
    "peta",
    "exa",
    "zetta",
    "yotta",
)

KNOWN_SPATIAL_UNITS: frozenset[str] = frozenset(
    [f"{p}meter" for p in _SI_PREFIXES]
    + ["meter", "angstrom", "inch", "foot", "yard", "mile", "parsec"]
)
"""The UDUNITS-2 length units the NGFF specification lists."""

KNOWN_TEMPORAL_UNITS: frozenset[str] = frozenset(
    [f"{p}second" for p in _SI_PREFIXES] + ["second", "minute", "hour", "day"]
)
"""The UDUNITS-2 time units the NGFF specification lists."""

_ORDER_RANK = {"time": 0, "channel": 1, "custom": 1, "space": 2}


def _axis_kind(axis: Mapping[str, Any]) -> str:
    """time, channel, space, or custom (no type or an unknown type)."""
    kind = axis.get("type")
    return kind if kind in ("time", "channel", "space") else "custom"


def axes_problems(axes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every way ``axes`` (a list of axis dicts) breaks the NGFF 0.4+ axes rules.

    Returns an empty list for valid axes. Shared by :class:`Axes` and the validator so the
    rules live in one place.

    Examples
    --------
    >>> axes = [{"name": n, "type": t} for n, t in (("y", "space"), ("x", "space"), ("t", "time"))]
    >>> axes_problems(axes)[0]
    "axis 't' of type 'time' must come before axis 'x' of type 'space' (order: time, channel or custom, space)"
    """
    problems: list[str] = []
    names = [a.get("name") for a in axes]
    if not 2 <= len(axes) <= 5:
        problems.append(f"there must be 2 to 5 axes, found {len(axes)}")
    for name in names:
        if not isinstance(name, str) or not name:
            problems.append(f"every axis needs a non-empty string 'name', found {name!r}")
    duplicates = sorted({n for n in names if isinstance(n, str) and names.count(n) > 1})
    if duplicates:
        problems.append(f"axis names must be unique, repeated: {duplicates}")
    kinds = [_axis_kind(a) for a in axes]
    n_space = kinds.count("space")
    if not 2 <= n_space <= 3:
        problems.append(f"there must be 2 or 3 space axes, found {n_space}")
    if kinds.count("time") > 1:
        problems.append(f"at most one time axis is allowed, found {kinds.count('time')}")
    n_other = kinds.count("channel") + kinds.count("custom")
    if n_other > 1:
        problems.append(
            f"at most one channel or custom axis is allowed, found {n_other}: "
            f"{[n for n, k in zip(names, kinds, strict=True) if k in ('channel', 'custom')]}"
        )
    for i in range(1, len(axes)):
        before, after = kinds[i - 1], kinds[i]
        if _ORDER_RANK[after] < _ORDER_RANK[before]:
            problems.append(
                f"axis {names[i]!r} of type {after!r} must come before axis {names[i - 1]!r} of type "
                f"{before!r} (order: time, channel or custom, space)"
            )
            break
    return problems


def _units_warning(axis: Mapping[str, Any]) -> str | None:
    unit, kind = axis.get("unit"), axis.get("type")
    if unit is None:
        return None
    if kind == "space" and unit not in KNOWN_SPATIAL_UNITS:
        return f"Unit {unit} for axis {axis['name']} is not a known spatial unit"
    if kind == "time" and unit not in KNOWN_TEMPORAL_UNITS:
        return f"Unit {unit} for axis {axis['name']} is not a known temporal unit"
    return None


ANATOMICAL_ORIENTATIONS: tuple[str, ...] = (
    "left-to-right", "right-to-left", "anterior-to-posterior", "posterior-to-anterior",
    "inferior-to-superior", "superior-to-inferior", "dorsal-to-ventral", "ventral-to-dorsal",
    "dorsal-to-palmar", "palmar-to-dorsal", "dorsal-to-plantar", "plantar-to-dorsal",
    "rostral-to-caudal", "caudal-to-rostral", "cranial-to-caudal", "caudal-to-cranial",
    "proximal-to-distal", "distal-to-proximal",
)  # fmt: skip
"""The values RFC-4 defines for an ``{"type": "anatomical"}`` axis orientation: the direction
from the axis's lowest coordinates to its highest."""


def _orientation_problem(axes: Sequence[Mapping[str, Any]], fmt: Format) -> str | None:
    """What is wrong with the RFC-4 ``orientation`` of ``axes``, or None.

    An orientation is ``{"type": "anatomical", "value": …}`` on a space axis only; given for
    one space axis it is given for all, each on its own anatomical line (no value twice, and
    not ``left-to-right`` beside ``right-to-left``). OME-NGFF 0.6 carries it; older versions
    cannot.
    """
    oriented = [a for a in axes if "orientation" in a]
    if not oriented:
        return None
    if not fmt.has_coordinate_systems:
        return (
            f"an orientation (RFC-4, on axis {oriented[0]['name']!r}) needs OME-NGFF 0.6; "
            f"{fmt.version} cannot carry it (pass fmt=FormatV06())"
        )
    lines: dict[frozenset[str], str] = {}
    for axis in oriented:
        name, orientation = axis["name"], axis["orientation"]
        if axis.get("type") != "space":
            return f"axis {name!r} is not a space axis: only space axes have an orientation"
        if (
            not isinstance(orientation, Mapping)
            or set(orientation) != {"type", "value"}
            or orientation["type"] != "anatomical"
        ):
            return (
                f"the orientation of axis {name!r} must be "
                f"{{'type': 'anatomical', 'value': …}}, not {orientation!r}"
            )
        value = orientation["value"]
        if value not in ANATOMICAL_ORIENTATIONS:
            return (
                f"the orientation of axis {name!r} is {value!r}, not one of RFC-4's: "
                + ", ".join(ANATOMICAL_ORIENTATIONS)
            )
        line = frozenset(value.split("-to-"))
        if line in lines:
            return (
                f"axes {lines[line]!r} and {name!r} both run along {'/'.join(sorted(line))}: "
                "each space axis needs its own anatomical direction"
            )
        lines[line] = name
    unoriented = [a["name"] for a in axes if a.get("type") == "space" and "orientation" not in a]
    if unoriented:
        return f"space axes {unoriented} have no orientation; given for one, it is needed for all"
    return None


class Axes:
    """Axes as a validated list of dicts ``{"name", "type", "unit"}``.

    Parameters
    ----------
    axes : str, list of str or list of dict
        ``"tczyx"``, ``["t", "c", "z", "y", "x"]`` or axis dicts. Known names (t, c, z, y, x)
        get their type.
    axes_units : dict of str to str, optional
        Units by axis name, e.g. ``{"x": "micrometer"}``. Unknown units warn.
    fmt : Format, optional
        The NGFF version whose rules apply (0.3: fixed orders of names; 0.1/0.2: always tczyx).

    Raises
    ------
    ValueError
        If the axes break the rules of ``fmt``.
    TypeError
        If ``axes`` is not a string or a list of strings or dicts.

    Examples
    --------
    >>> Axes("zyx", {"x": "micrometer"}).to_list()[2]
    {'name': 'x', 'type': 'space', 'unit': 'micrometer'}
    """

    def __init__(
        self,
        axes: str | Sequence[str] | Sequence[Mapping[str, Any]] | None,
        axes_units: Mapping[str, str] | None = None,
        fmt: Format | None = None,
    ) -> None:
        self.fmt = fmt if fmt is not None else CurrentFormat()
        if axes is None:
            if self.fmt.version not in ("0.1", "0.2"):
                raise ValueError("axes: must be given for OME-NGFF 0.3 and later")
            axes = "tczyx"
        self.axes: list[dict[str, Any]] = self._axes_to_dicts(axes)
        if axes_units is not None:
            self._apply_units(axes_units)
        self.validate()

    @staticmethod
    def _axes_to_dicts(
        axes: str | Sequence[str] | Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        if isinstance(axes, str):
            axes = list(axes)
        if not isinstance(axes, Sequence):
            raise TypeError(
                f"axes: expected a string or a list of names or axis dicts, not {type(axes).__name__}"
            )
        result: list[dict[str, Any]] = []
        for axis in axes:
            if isinstance(axis, str):
                entry: dict[str, Any] = {"name": axis}
                if axis in KNOWN_AXES:
                    entry["type"] = KNOWN_AXES[axis]
                result.append(entry)
            elif isinstance(axis, Mapping):
                if "name" not in axis:
                    raise ValueError(f"axes: axis dict {dict(axis)!r} has no 'name'")
                entry = dict(axis)
                if "type" not in entry and entry["name"] in KNOWN_AXES:
                    entry["type"] = KNOWN_AXES[entry["name"]]
                result.append(entry)
            else:
                raise TypeError(
                    f"axes: each axis must be a name or a dict with 'name', not {type(axis).__name__}"
                )
        return result

    def _apply_units(self, axes_units: Mapping[str, str]) -> None:
        if not isinstance(axes_units, Mapping):
            raise TypeError(
                f"axes_units: expected a dict of axis name to unit, not {type(axes_units).__name__}"
            )
        names = [a["name"] for a in self.axes]
        unknown = [n for n in axes_units if n not in names]
        if unknown:
            # Ignored, as the reference does (code that shares one units dict between 2-D and
            # 3-D images relies on it), but said: a misspelt axis would otherwise go unseen.
            warnings.warn(
                f"axes_units: axes {unknown} are not among the axes {names}: their units are "
                "ignored",
                UserWarning,
                stacklevel=4,
            )
        for axis in self.axes:
            if axis["name"] in axes_units:
                unit = axes_units[axis["name"]]
                if not isinstance(unit, str):
                    raise TypeError(
                        f"axes_units: the unit of axis {axis['name']!r} must be a string"
                    )
                axis["unit"] = unit
                message = _units_warning(axis)
                if message:
                    warnings.warn(message, UserWarning, stacklevel=4)

    @property
    def names(self) -> list[str]:
        """The axis names in order."""
        return [str(a["name"]) for a in self.axes]

    def validate(self) -> None:
        """Raise ValueError if the axes break the rules of this format."""
        version = self.fmt.version
        if version in ("0.1", "0.2"):
            return
        if version == "0.3":
            self._validate_03()
            return
        # A non-string type would otherwise be read as custom and reported as an order problem.
        for axis in self.axes:
            kind = axis.get("type")
            if kind is not None and not isinstance(kind, str):
                raise ValueError(f"axes: the type of axis {axis['name']!r} must be a string")
        problems = axes_problems(self.axes)
        if problems:
            raise ValueError("axes: " + "; ".join(problems))
        orientation_problem = _orientation_problem(self.axes, self.fmt)
        if orientation_problem is not None:
            raise ValueError(f"axes: {orientation_problem}")

    _ALLOWED_03: ClassVar[dict[int, list[tuple[str, ...]]]] = {
        2: [("y", "x")],
        3: [("z", "y", "x"), ("c", "y", "x"), ("t", "y", "x")],
        4: [("t", "z", "y", "x"), ("c", "z", "y", "x"), ("t", "c", "y", "x")],
        5: [("t", "c", "z", "y", "x")],
    }

    def _validate_03(self) -> None:
        names = tuple(self.names)
        allowed = self._ALLOWED_03.get(len(names))
        if allowed is None:
            raise ValueError(f"axes: OME-NGFF 0.3 allows 2 to 5 axes, found {len(names)}")
        if names not in allowed:
            choices = " or ".join("".join(a) for a in allowed)
            raise ValueError(
                f"axes: {len(names)}-D data in OME-NGFF 0.3 must have axes {choices}, not {''.join(names)}"
            )

    def to_list(self, fmt: Format | None = None) -> list[str] | list[dict[str, Any]]:
        """The axes as written for ``fmt``: names for 0.3, dicts for 0.4 and later."""
        fmt = fmt if fmt is not None else self.fmt
        if fmt.version == "0.3":
            return self.names
        return [dict(a) for a in self.axes]


def pixel_sizes(scale: Mapping[str, float] | None, dims: Sequence[str]) -> dict[str, float]:
    """The physical pixel size per axis that a user gave (``scale``), checked.

    Parameters
    ----------
    scale : mapping of str to float, or None
        Pixel size per axis name; axes left out have size 1.0 (they are not added here).
    dims : sequence of str
        The image's axis names.

    Returns
    -------
    dict of str to float

    Raises
    ------
    InvalidParameterTypeError
        When ``scale`` is not a mapping (a TypeError naming ``scale``).
    InvalidParameterError
        For axes not in ``dims``, or sizes that are not positive finite numbers (ValueErrors
        naming ``scale``).

    Examples
    --------
    >>> pixel_sizes({"x": 0.5, "y": 2}, ("y", "x"))
    {'x': 0.5, 'y': 2.0}
    """
    if scale is None:
        return {}
    where = Parameter("scale")
    if not isinstance(scale, Mapping):
        raise InvalidParameterTypeError(
            where, f": expected a dict of axis name to pixel size, not {type(scale).__name__}"
        )
    unknown = [d for d in scale if d not in dims]
    if unknown:
        raise InvalidParameterError(where, f": axes {unknown} are not among the axes {list(dims)}")
    for d, value in scale.items():
        if not is_finite_number(value) or value <= 0:
            raise InvalidParameterError(
                where, f": the pixel size of axis {d!r} must be a positive number, not {value!r}"
            )
    return {d: float(v) for d, v in scale.items()}
