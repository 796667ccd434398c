"""The OME-NGFF 0.6 rules on coordinate systems and transformations that the schemas cannot see.

Pure, like the rest of the rule layer: what is known about other groups and arrays comes in
as :class:`LinkedImage` and :class:`~omezarr.validate.rules.ArrayFacts` values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._numbers import is_finite_number, is_json_int
from ..ngff.axes import axes_problems
from ..ngff.transforms import rotation_defect
from .report import _Findings, _short

__all__ = [
    "LinkedImage",
]

_SAME_DIMENSION_TYPES = frozenset({"identity", "scale", "translation", "rotation", "mapAxis"})
_DATASET_TYPES = "a single scale, identity, or sequence of one scale and one translation"
_DATASET_SINGLE_TYPES = frozenset({"scale", "identity"})
_LABEL_LINK_TYPES = frozenset({"identity", "scale", "translation"})
_FIELD_AXIS_TYPE = {"displacements": "displacement", "coordinates": "coordinate"}

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


# --------------------------------------------------------------------------- references


@dataclass
class _Graph:
    """Coordinate systems (``(path, name)``) joined by transformations, for connectedness."""

    parent: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def add(self, node: tuple[str, str]) -> None:
        self.parent.setdefault(node, node)

    def root(self, node: tuple[str, str]) -> tuple[str, str]:
        self.add(node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def join(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        self.parent[self.root(a)] = self.root(b)

    def components(self) -> list[list[tuple[str, str]]]:
        groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for node in list(self.parent):
            groups.setdefault(self.root(node), []).append(node)
        return list(groups.values())


def _describe_node(node: tuple[str, str]) -> str:
    path, name = node
    return f"{name!r} of {path!r}" if path else repr(name)


def _reference_path_problem(path: str) -> str | None:
    segments = path.split("/")
    if path.startswith("/") or any(s in ("", ".", "..") or "\\" in s for s in segments):
        return f"{path!r} is no relative path to a child group (no '..', no leading '/')"
    return None


class _References:
    """Resolves the ``input``/``output`` of transformations in one document."""

    def __init__(
        self,
        local: Mapping[str, int],
        findings: _Findings,
        linked: LinkedLookup | None,
        graph: _Graph,
    ) -> None:
        self.local = local
        self.findings = findings
        self.linked = linked
        self.graph = graph

    def resolve(self, end: Any, where: Where) -> tuple[tuple[str, str] | None, int | None]:
        """The graph node and dimensionality of one ``input`` or ``output`` object."""
        if not isinstance(end, Mapping):
            return None, None
        name, path = end.get("name"), end.get("path")
        if not isinstance(name, str):
            return None, None
        if path is None or path == "":
            if name not in self.local:
                self.findings.add(
                    (*where, "name"),
                    f"no coordinate system named {name!r} in this document (known: {sorted(self.local)})",
                    "transformation-reference",
                )
                return None, None
            return ("", name), self.local[name]
        if not isinstance(path, str):
            return None, None
        problem = _reference_path_problem(path)
        if problem is not None:
            self.findings.add((*where, "path"), problem, "transformation-reference")
            return None, None
        node = (path, name)
        if self.linked is None:
            return node, None
        if path not in self.linked:
            self.findings.add(
                (*where, "path"), f"the group {path!r} does not exist", "transformation-reference"
            )
            return node, None
        image = self.linked[path]
        if image is None or name not in image.systems:
            known = sorted(image.systems) if image is not None else []
            self.findings.add(
                (*where, "name"),
                f"the group {path!r} has no coordinate system named {name!r} (known: {known})",
                "transformation-reference",
            )
            return node, None
        return node, len(image.systems[name])


def check_transformation_list(
    transforms: Any,
    where: Where,
    references: _References,
    dimensions: _Dimensions,
    rule_for_link: Callable[
        [Mapping[str, Any], Where, tuple[str, str] | None, tuple[str, str] | None], None
    ]
    | None = None,
) -> None:
    """References, graph edges, parameter shapes and field arrays of a list of transformations."""
    for index, transform in _dicts(transforms):
        at = (*where, index)
        source, n_in = references.resolve(transform.get("input"), (*at, "input"))
        target, n_out = references.resolve(transform.get("output"), (*at, "output"))
        if source is not None and target is not None:
            references.graph.join(source, target)
        if rule_for_link is not None:
            rule_for_link(transform, at, source, target)
        dimensions.check(transform, at, n_in, n_out)
        _check_fields(transform, at, n_in, n_out, references)


def _check_fields(
    transform: Mapping[str, Any],
    where: Where,
    n_in: int | None,
    n_out: int | None,
    references: _References,
) -> None:
    """A ``displacements`` or ``coordinates`` field: a multiscale image of N+1 dimensions."""
    kind = transform.get("type")
    if kind in ("sequence",):
        for index, step in _dicts(transform.get("transformations")):
            _check_fields(step, (*where, "transformations", index), None, None, references)
        return
    if kind not in _FIELD_AXIS_TYPE:
        return
    path = transform.get("path")
    if not isinstance(path, str):
        return
    problem = _reference_path_problem(path)
    if problem is not None:
        references.findings.add((*where, "path"), problem, "transformation-reference")
        return
    if references.linked is None:
        return
    field_image = references.linked.get(path)
    intrinsic = field_image.intrinsic if field_image is not None else None
    if field_image is None or intrinsic is None or intrinsic not in field_image.systems:
        references.findings.add(
            (*where, "path"),
            f"the {kind} field {path!r} is no multiscale image",
            "transformation-reference",
        )
        return
    axes = list(field_image.systems[intrinsic])
    vector_type = _FIELD_AXIS_TYPE[str(kind)]
    vector_axes = [
        i for i, a in enumerate(axes) if isinstance(a, Mapping) and a.get("type") == vector_type
    ]
    if len(vector_axes) != 1 or axes[vector_axes[0]].get("discrete") is not True:
        references.findings.add(
            (*where, "path"),
            f"the {kind} field {path!r} needs exactly one axis of type {vector_type!r} with "
            '"discrete": true',
            "vector-field",
        )
        return
    if n_in is not None and len(axes) != n_in + 1:
        references.findings.add(
            (*where, "path"),
            f"the {kind} field {path!r} has {len(axes)} axes; an input of {n_in} axes needs {n_in + 1}",
            "vector-field",
        )
    length = n_in if kind == "displacements" else n_out
    shape = field_image.shape
    if length is None or shape is None or len(shape) != len(axes):
        return
    if shape[vector_axes[0]] != length:
        references.findings.add(
            (*where, "path"),
            f"the {kind} field {path!r} holds vectors of {shape[vector_axes[0]]} components, "
            f"not {length}",
            "vector-field",
        )


def _report_disconnected(graph: _Graph, where: Where, findings: _Findings, rule: str) -> None:
    components = graph.components()
    if len(components) > 1:
        parts = sorted(
            (sorted(_describe_node(n) for n in c) for c in components), key=len, reverse=True
        )
        listed = "; ".join(", ".join(p) for p in parts[1:])
        findings.add(
            where,
            f"the coordinate systems are not all connected by transformations: {listed} "
            f"cannot be reached from {', '.join(parts[0])}",
            rule,
        )


# --------------------------------------------------------------------------- multiscales


@dataclass(frozen=True)
class Intrinsic:
    """The intrinsic coordinate system of a multiscales: its name, index and axes."""

    name: str
    index: int
    axes: list[Mapping[str, Any]]


def check_multiscale_v06(
    multiscale: Mapping[str, Any],
    where: Where,
    findings: _Findings,
    arrays: Mapping[str, Any] | None,
    linked: LinkedLookup | None,
) -> Intrinsic | None:
    """Every 0.6 rule on one multiscales entry except those on its arrays; its intrinsic system."""
    systems = multiscale.get("coordinateSystems")
    check_coordinate_systems(systems, (*where, "coordinateSystems"), findings)
    local = coordinate_system_dims(systems)
    for index, system in _dicts(systems):
        axes = system.get("axes")
        if isinstance(axes, list) and all(isinstance(a, Mapping) for a in axes):
            for problem in axes_problems(axes):
                if "unique" not in problem:  # coordinate-systems reports repeated names
                    findings.add((*where, "coordinateSystems", index, "axes"), problem, "axes")
    intrinsic = _check_datasets(multiscale, where, local, findings)
    dimensions = _Dimensions(findings, arrays)
    graph = _Graph()
    for name in local:
        graph.add(("", name))
    intrinsic_dims = local.get(intrinsic.name) if intrinsic is not None else None
    for index, dataset in _dicts(multiscale.get("datasets")):
        path = dataset.get("path")
        facts = arrays.get(path) if arrays is not None and isinstance(path, str) else None
        n_in = len(facts.shape) if facts is not None else intrinsic_dims
        for t_index, transform in _dicts(dataset.get("coordinateTransformations")):
            at = (*where, "datasets", index, "coordinateTransformations", t_index)
            dimensions.check(transform, at, n_in, intrinsic_dims)

    def link_rule(
        transform: Mapping[str, Any],
        at: Where,
        source: tuple[str, str] | None,
        target: tuple[str, str] | None,
    ) -> None:
        if intrinsic is None or source is None or target is None:
            return
        own = ("", intrinsic.name)
        if own not in (source, target):
            findings.add(
                at,
                f"one of input and output must be the intrinsic coordinate system {intrinsic.name!r}",
                "additional-transformation",
            )
            return
        other = target if source == own else source
        if other[0]:
            if not other[0].startswith("labels/"):
                findings.add(
                    at,
                    f"a multiscales transformation may name a group only in its labels, not {other[0]!r}",
                    "transformation-reference",
                )
            elif not _is_one_of_or_scaled_shift(transform, _LABEL_LINK_TYPES):
                findings.add(
                    at,
                    f"a transformation to a label image is identity, scale, translation or a "
                    f"sequence of scale and translation, not {_short(transform.get('type'))}",
                    "label-transformation",
                )

    references = _References(local, findings, linked, graph)
    check_transformation_list(
        multiscale.get("coordinateTransformations"),
        (*where, "coordinateTransformations"),
        references,
        dimensions,
        link_rule,
    )
    if intrinsic is not None:
        _report_disconnected(
            _local_components(graph),
            (*where, "coordinateSystems"),
            findings,
            "transformation-graph",
        )
    return intrinsic


def _local_components(graph: _Graph) -> _Graph:
    """The graph restricted to the document's own systems, joined where ``graph`` joins them."""
    local = _Graph()
    by_root: dict[tuple[str, str], tuple[str, str]] = {}
    for node in list(graph.parent):
        if node[0]:
            continue
        root = graph.root(node)
        local.add(node)
        if root in by_root:
            local.join(node, by_root[root])
        else:
            by_root[root] = node
    return local


def _is_one_of_or_scaled_shift(transform: Mapping[str, Any], single: frozenset[str]) -> bool:
    """Whether ``transform`` is one of the ``single`` types, or a sequence of one scale and
    one translation (what datasets and label links may be)."""
    kind = transform.get("type")
    if kind in single:
        return True
    steps = transform.get("transformations")
    if kind == "sequence" and isinstance(steps, list):
        return [s.get("type") if isinstance(s, Mapping) else None for s in steps] == [
            "scale",
            "translation",
        ]
    return False


def _check_datasets(
    multiscale: Mapping[str, Any], where: Where, local: Mapping[str, int], findings: _Findings
) -> Intrinsic | None:
    """Each dataset's one transformation: from its own path to the same named system."""
    outputs: list[tuple[int, str]] = []
    for index, dataset in _dicts(multiscale.get("datasets")):
        at = (*where, "datasets", index, "coordinateTransformations")
        transforms = dataset.get("coordinateTransformations")
        if not isinstance(transforms, list):
            continue
        if len(transforms) != 1:
            findings.add(
                at,
                f"a dataset has exactly one transformation, not {len(transforms)}",
                "dataset-transformation",
            )
        for t_index, transform in _dicts(transforms):
            here = (*at, t_index)
            if not _is_one_of_or_scaled_shift(transform, _DATASET_SINGLE_TYPES):
                findings.add(
                    here,
                    f"a dataset's transformation is {_DATASET_TYPES}",
                    "dataset-transformation",
                )
            source, target = transform.get("input"), transform.get("output")
            if isinstance(source, Mapping):
                if source.get("path") != dataset.get("path"):
                    findings.add(
                        (*here, "input"),
                        f"the input path {_short(source.get('path'))} is not the dataset's path "
                        f"{_short(dataset.get('path'))}",
                        "dataset-input",
                    )
                if source.get("name") is not None:
                    findings.add(
                        (*here, "input", "name"),
                        "the input of a dataset's transformation should have no name",
                        "dataset-input",
                        "warning",
                    )
            if isinstance(target, Mapping):
                name = target.get("name")
                if isinstance(name, str):
                    if name not in local:
                        findings.add(
                            (*here, "output", "name"),
                            f"the output {name!r} is no coordinate system of this multiscales "
                            f"(known: {sorted(local)})",
                            "intrinsic-system",
                        )
                    else:
                        outputs.append((index, name))
                if target.get("path") is not None:
                    findings.add(
                        (*here, "output", "path"),
                        "the output of a dataset's transformation should have no path",
                        "intrinsic-system",
                        "warning",
                    )
    names = {name for _, name in outputs}
    if len(names) > 1:
        findings.add(
            (*where, "datasets"),
            f"every dataset's output must be the same coordinate system, found {sorted(names)}",
            "intrinsic-system",
        )
        return None
    if not names:
        return None
    name = names.pop()
    systems = _dicts(multiscale.get("coordinateSystems"))
    for index, system in systems:
        if system.get("name") == name and isinstance(system.get("axes"), list):
            axes = [a for a in system["axes"] if isinstance(a, Mapping)]
            return Intrinsic(name, index, axes)
    return None


# --------------------------------------------------------------------------- scenes


def check_scene(
    metadata: Mapping[str, Any],
    findings: _Findings,
    arrays: Mapping[str, Any] | None,
    linked: LinkedLookup | None,
) -> None:
    """A scene's references resolve, its parameters fit, and its graph is connected."""
    scene = metadata.get("scene")
    if not isinstance(scene, Mapping):
        return
    systems = scene.get("coordinateSystems")
    check_coordinate_systems(systems, ("scene", "coordinateSystems"), findings)
    local = coordinate_system_dims(systems)
    graph = _Graph()
    for name in local:
        graph.add(("", name))
    references = _References(local, findings, linked, graph)
    check_transformation_list(
        scene.get("coordinateTransformations"),
        ("scene", "coordinateTransformations"),
        references,
        _Dimensions(findings, arrays),
    )
    _report_disconnected(graph, ("scene",), findings, "transformation-graph")


def scene_paths(metadata: Mapping[str, Any]) -> list[str]:
    """The group paths a scene's transformations name, in order, without repeats."""
    scene = metadata.get("scene")
    transforms = scene.get("coordinateTransformations") if isinstance(scene, Mapping) else None
    return _reference_paths(transforms)


def _reference_paths(transforms: Any) -> list[str]:
    paths: dict[str, None] = {}
    for _, transform in _dicts(transforms):
        for key in ("input", "output"):
            end = transform.get(key)
            path = end.get("path") if isinstance(end, Mapping) else None
            if isinstance(path, str) and path and _reference_path_problem(path) is None:
                paths[path] = None
    return list(paths)


def linked_paths(metadata: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The group paths (image references, vector fields) and parameter array paths (matrices)
    that the transformations of a 0.6 image or scene name."""
    lists: list[Any] = []
    for _, multiscale in _dicts(metadata.get("multiscales")):
        lists.append(multiscale.get("coordinateTransformations"))
    scene = metadata.get("scene")
    if isinstance(scene, Mapping):
        lists.append(scene.get("coordinateTransformations"))
    groups: dict[str, None] = {}
    matrices: dict[str, None] = {}
    for transforms in lists:
        for path in _reference_paths(transforms):
            groups[path] = None
        for _, transform in _dicts(transforms):
            _parameter_paths(transform, groups, matrices)
    return list(groups), list(matrices)


def _parameter_paths(
    transform: Mapping[str, Any], groups: dict[str, None], matrices: dict[str, None]
) -> None:
    kind, path = transform.get("type"), transform.get("path")
    if isinstance(path, str) and path and _reference_path_problem(path) is None:
        if kind in _FIELD_AXIS_TYPE:
            groups[path] = None
        elif kind in ("affine", "rotation"):
            matrices[path] = None
    for key in ("forward", "inverse"):
        inner = transform.get(key)
        if isinstance(inner, Mapping):
            _parameter_paths(inner, groups, matrices)
    for _, step in _dicts(transform.get("transformations")):
        inner = step.get("transformation") if "transformation" in step else step
        if isinstance(inner, Mapping):
            _parameter_paths(inner, groups, matrices)


def linked_image(metadata: Mapping[str, Any]) -> LinkedImage:
    """What a group's NGFF metadata says of its coordinate systems (no shape yet)."""
    multiscales = _dicts(metadata.get("multiscales"))
    if not multiscales:
        return LinkedImage()
    multiscale = multiscales[0][1]
    systems = {
        str(s["name"]): [a for a in s["axes"] if isinstance(a, Mapping)]
        for _, s in _dicts(multiscale.get("coordinateSystems"))
        if isinstance(s.get("name"), str) and isinstance(s.get("axes"), list)
    }
    intrinsic = None
    for _, dataset in _dicts(multiscale.get("datasets"))[:1]:
        for _, transform in _dicts(dataset.get("coordinateTransformations"))[:1]:
            output = transform.get("output")
            name = output.get("name") if isinstance(output, Mapping) else None
            intrinsic = name if isinstance(name, str) else None
    return LinkedImage(systems, intrinsic)
