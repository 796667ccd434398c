"""The OME-NGFF 0.6 rules on coordinate systems and single transformations that the schemas
cannot see: parameters against dimensions, rotations, permutations, projections.

Pure, like the rest of the rule layer: what is known about other groups and arrays comes in
as :class:`LinkedImage` and :class:`~omezarr.validate.rules.ArrayFacts` values. How
transformations relate to each other and to other groups is in
:mod:`omezarr.validate.graphs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._numbers import is_finite_number, is_json_int
from ..ngff.transforms import rotation_defect
from .report import _Findings

__all__ = [
    "LinkedImage",
]

_SAME_DIMENSION_TYPES = frozenset({"identity", "scale", "translation", "rotation", "mapAxis"})

Where = tuple[str | int, ...]


@dataclass(frozen=True)
class LinkedImage:
    """What the rules need to know about a group that a transformation names by ``path``.

    Attributes
    ----------
    systems : dict of str to list of dict
        The axes of each coordinate system of its first multiscales, by name; empty when the
        group is no multiscale image.
    intrinsic : str or None
        The name of its intrinsic coordinate system (the output of its datasets' transforms).
    shape : tuple of int or None, optional
        The shape of its first level's array, when it exists.
    """

    systems: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    intrinsic: str | None = None
    shape: tuple[int, ...] | None = None


LinkedLookup = Mapping[str, LinkedImage | None]
"""Group path → what it holds; a path mapped to None exists but is no group; absent paths do
not exist (or were not looked up: then no rule needs them)."""


def _dicts(value: Any) -> list[tuple[int, Mapping[str, Any]]]:
    """The (index, item) pairs of a list whose items are dicts; nothing for a non-list."""
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, Mapping)]


def _int_list(value: Any) -> list[int] | None:
    if isinstance(value, list) and all(is_json_int(v) for v in value):
        return list(value)
    return None


def _matrix(value: Any) -> list[list[float]] | None:
    """A list of rows of finite numbers (rows may differ in length), else None."""
    if not isinstance(value, list) or not value:
        return None
    rows = []
    for row in value:
        if not isinstance(row, list) or not all(is_finite_number(v) for v in row):
            return None
        rows.append([float(v) for v in row])
    return rows


def coordinate_system_dims(systems: Any) -> dict[str, int]:
    """The dimensionality of each well-formed coordinate system, by name."""
    dims: dict[str, int] = {}
    for _, system in _dicts(systems):
        name, axes = system.get("name"), system.get("axes")
        if isinstance(name, str) and isinstance(axes, list):
            dims.setdefault(name, len(axes))
    return dims


def check_coordinate_systems(systems: Any, where: Where, findings: _Findings) -> None:
    """Names unique among the systems, axis names unique within each system."""
    names: list[str] = []
    for index, system in _dicts(systems):
        name = system.get("name")
        if isinstance(name, str):
            if name in names:
                findings.add(
                    (*where, index, "name"),
                    f"coordinate system name {name!r} is used more than once",
                    "coordinate-systems",
                )
            names.append(name)
        axis_names = [a.get("name") for _, a in _dicts(system.get("axes"))]
        repeated = sorted({n for n in axis_names if isinstance(n, str) and axis_names.count(n) > 1})
        if repeated:
            findings.add(
                (*where, index, "axes"),
                f"axis names must be unique within a coordinate system, repeated: {repeated}",
                "coordinate-systems",
            )


# --------------------------------------------------------------------------- dimensions


class _Dimensions:
    """Checks the parameters of one transformation against its input and output dimensions."""

    def __init__(self, findings: _Findings, arrays: Mapping[str, Any] | None) -> None:
        self.findings = findings
        self.arrays = arrays

    def check(
        self, transform: Mapping[str, Any], where: Where, n_in: int | None, n_out: int | None
    ) -> None:
        kind = transform.get("type")
        if (
            kind in _SAME_DIMENSION_TYPES
            and n_in is not None
            and n_out is not None
            and n_in != n_out
        ):
            self.findings.add(
                where,
                f"a {kind} transformation maps between equal dimensions, not {n_in} to {n_out}",
                "transform-dimensions",
            )
        checker: Callable[[Mapping[str, Any], Where, int | None, int | None], None] | None = {
            "scale": self.vector,
            "translation": self.vector,
            "affine": self.affine,
            "rotation": self.rotation,
            "mapAxis": self.map_axis,
            "projectAxis": self.project_axis,
            "sequence": self.sequence,
            "bijection": self.bijection,
            "byDimension": self.by_dimension,
        }.get(kind if isinstance(kind, str) else "")
        if checker is not None:
            checker(transform, where, n_in, n_out)

    def vector(
        self, transform: Mapping[str, Any], where: Where, n_in: int | None, n_out: int | None
    ) -> None:
        kind = str(transform.get("type"))
        values = transform.get(kind)
        if not isinstance(values, list):
            return
        expected = n_in if n_in is not None else n_out
        if expected is not None and len(values) != expected:
            self.findings.add(
                (*where, kind),
                f"{kind} has {len(values)} values, its coordinate systems have {expected} axes",
                "transform-dimensions",
            )

    def stored_matrix(self, transform: Mapping[str, Any]) -> tuple[int, int] | None:
        """The shape of a matrix stored as an array at ``path``, when the array is known."""
        path = transform.get("path")
        if self.arrays is None or not isinstance(path, str):
            return None
        facts = self.arrays.get(path)
        shape = getattr(facts, "shape", None)
        return (shape[0], shape[1]) if shape is not None and len(shape) == 2 else None

    def matrix_array_problem(self, transform: Mapping[str, Any], where: Where) -> bool:
        """Report a ``path`` that names no 2-D array (when arrays are known); True if so."""
        path = transform.get("path")
        if self.arrays is None or not isinstance(path, str) or "path" not in transform:
            return False
        if path not in self.arrays or self.arrays[path] is None:
            self.findings.add(
                (*where, "path"),
                f"the parameter array {path!r} does not exist",
                "transformation-reference",
            )
            return True
        shape = getattr(self.arrays[path], "shape", ())
        if len(shape) != 2:
            self.findings.add(
                (*where, "path"),
                f"the parameter array {path!r} has shape {list(shape)}; a matrix is 2-D",
                "transform-dimensions",
            )
            return True
        return False

    def affine(
        self, transform: Mapping[str, Any], where: Where, n_in: int | None, n_out: int | None
    ) -> None:
        if self.matrix_array_problem(transform, where):
            return
        stored = self.stored_matrix(transform)
        matrix = _matrix(transform.get("affine"))
        if stored is not None:
            rows, cols = stored
        elif matrix is not None:
            widths = {len(row) for row in matrix}
            if len(widths) != 1:
                self.findings.add(
                    (*where, "affine"), "the affine's rows differ in length", "affine"
                )
                return
            rows, cols = len(matrix), widths.pop()
        else:
            return
        if cols < 2:
            self.findings.add(
                (*where, "affine"), f"an affine needs at least 2 columns, not {cols}", "affine"
            )
            return
        if n_in is not None and cols != n_in + 1:
            self.findings.add(
                (*where, "affine"),
                f"the affine has {cols} columns; an input of {n_in} axes needs {n_in + 1}",
                "transform-dimensions",
            )
        if n_out is not None and rows != n_out:
            homogeneous = (
                rows == n_out + 1 and matrix is not None and _is_homogeneous_row(matrix[-1])
            )
            why = (
                " (OME-NGFF 0.6 stores the affine without its last row [0 ... 0 1])"
                if homogeneous
                else ""
            )
            self.findings.add(
                (*where, "affine"),
                f"the affine has {rows} rows; an output of {n_out} axes needs {n_out}{why}",
                "transform-dimensions",
            )

    def rotation(
        self, transform: Mapping[str, Any], where: Where, n_in: int | None, n_out: int | None
    ) -> None:
        if self.matrix_array_problem(transform, where):
            return
        stored = self.stored_matrix(transform)
        matrix = _matrix(transform.get("rotation"))
        if stored is not None:
            size = stored[0] if stored[0] == stored[1] else None
            if size is None:
                self.findings.add(
                    (*where, "path"), f"a rotation matrix is square, not {list(stored)}", "rotation"
                )
                return
        elif matrix is not None:
            if any(len(row) != len(matrix) for row in matrix):
                self.findings.add((*where, "rotation"), "a rotation matrix is square", "rotation")
                return
            size = len(matrix)
            defect = rotation_defect(np.array(matrix))
            if defect is not None:
                self.findings.add(
                    (*where, "rotation"),
                    f"a rotation matrix has orthonormal rows and determinant 1; this one {defect}",
                    "rotation",
                )
        else:
            return
        expected = n_in if n_in is not None else n_out
        if expected is not None and size != expected:
            self.findings.add(
                (*where, "rotation"),
                f"the rotation is {size}x{size}; its coordinate systems have {expected} axes",
                "transform-dimensions",
            )

    def map_axis(
        self, transform: Mapping[str, Any], where: Where, n_in: int | None, n_out: int | None
    ) -> None:
        order = _int_list(transform.get("mapAxis"))
        if order is None:
            return
        if sorted(order) != list(range(len(order))):
            self.findings.add(
                (*where, "mapAxis"),
                f"mapAxis {order} is no permutation of 0..{len(order) - 1}: each input axis "
                "index must appear exactly once",
                "map-axis",
            )
        expected = n_in if n_in is not None else n_out
        if expected is not None and len(order) != expected:
            self.findings.add(
                (*where, "mapAxis"),
                f"mapAxis has {len(order)} entries, its coordinate systems have {expected} axes",
                "transform-dimensions",
            )

    def project_axis(
        self, transform: Mapping[str, Any], where: Where, n_in: int | None, n_out: int | None
    ) -> None:
        dropped = _int_list(transform.get("droppedInputs", []))
        created = _int_list(transform.get("createdOutputs", []))
        for key, indices, limit in (
            ("droppedInputs", dropped, n_in),
            ("createdOutputs", created, n_out),
        ):
            if indices is None:
                continue
            if len(set(indices)) != len(indices):
                self.findings.add(
                    (*where, key), f"{key} {indices} repeats an index", "project-axis"
                )
            bad = [i for i in indices if i < 0 or (limit is not None and i >= limit)]
            if bad:
                self.findings.add(
                    (*where, key),
                    f"{key} {bad} are no axis indices of a {limit}-axis coordinate system",
                    "project-axis",
                )
        if dropped is None or created is None or n_in is None or n_out is None:
            return
        if n_in - len(set(dropped)) + len(set(created)) != n_out:
            self.findings.add(
                where,
                f"dropping {len(dropped)} of {n_in} input axes and creating {len(created)} "
                f"does not give the {n_out} output axes",
                "project-axis",
            )

    def sequence(
        self, transform: Mapping[str, Any], where: Where, n_in: int | None, n_out: int | None
    ) -> None:
        steps = transform.get("transformations")
        if isinstance(steps, list) and not steps:
            self.findings.add(
                (*where, "transformations"), "a sequence is non-empty", "transform-dimensions"
            )
        items = _dicts(steps)
        current = n_in
        for position, (index, step) in enumerate(items):
            last = position == len(items) - 1
            step_out = n_out if last else _output_dims(step, current)
            self.check(step, (*where, "transformations", index), current, step_out)
            current = step_out

    def bijection(
        self, transform: Mapping[str, Any], where: Where, n_in: int | None, n_out: int | None
    ) -> None:
        if n_in is not None and n_out is not None and n_in != n_out:
            self.findings.add(
                where,
                f"a bijection maps between equal dimensions, not {n_in} to {n_out}",
                "transform-dimensions",
            )
        for key, dims in (("forward", (n_in, n_out)), ("inverse", (n_out, n_in))):
            inner = transform.get(key)
            if isinstance(inner, Mapping):
                self.check(inner, (*where, key), *dims)

    def by_dimension(
        self, transform: Mapping[str, Any], where: Where, n_in: int | None, n_out: int | None
    ) -> None:
        covered: list[int] = []
        for index, part in _dicts(transform.get("transformations")):
            at = (*where, "transformations", index)
            inputs, outputs = _int_list(part.get("inputAxes")), _int_list(part.get("outputAxes"))
            for key, indices, limit in (
                ("inputAxes", inputs, n_in),
                ("outputAxes", outputs, n_out),
            ):
                if indices is None:
                    continue
                bad = [i for i in indices if i < 0 or (limit is not None and i >= limit)]
                if bad:
                    self.findings.add(
                        (*at, key),
                        f"{key} {bad} are no axis indices of a {limit}-axis system",
                        "by-dimension",
                    )
            if outputs is not None:
                covered.extend(outputs)
            inner = part.get("transformation")
            if isinstance(inner, Mapping):
                self.check(
                    inner,
                    (*at, "transformation"),
                    len(inputs) if inputs is not None else None,
                    len(outputs) if outputs is not None else None,
                )
        repeated = sorted({i for i in covered if covered.count(i) > 1})
        if repeated:
            self.findings.add(
                (*where, "transformations"),
                f"output axes {repeated} appear in more than one outputAxes",
                "by-dimension",
            )
        if n_out is not None:
            missing = [i for i in range(n_out) if i not in covered]
            if missing:
                self.findings.add(
                    (*where, "transformations"),
                    f"output axes {missing} appear in no outputAxes; every output axis must "
                    "appear exactly once",
                    "by-dimension",
                )


def _is_homogeneous_row(row: list[float]) -> bool:
    return bool(row) and all(v == 0 for v in row[:-1]) and row[-1] == 1


def _output_dims(transform: Mapping[str, Any], n_in: int | None) -> int | None:
    """The output dimensionality of a step inside a sequence, as far as its parameters tell."""
    kind = transform.get("type")
    if kind in _SAME_DIMENSION_TYPES or kind in ("displacements", "bijection"):
        return n_in
    if kind == "affine":
        matrix = transform.get("affine")
        return len(matrix) if isinstance(matrix, list) else None
    if kind == "projectAxis" and n_in is not None:
        dropped = _int_list(transform.get("droppedInputs", []))
        created = _int_list(transform.get("createdOutputs", []))
        if dropped is not None and created is not None:
            return n_in - len(dropped) + len(created)
    if kind == "sequence":
        current = n_in
        for _, step in _dicts(transform.get("transformations")):
            current = _output_dims(step, current)
        return current
    return None
