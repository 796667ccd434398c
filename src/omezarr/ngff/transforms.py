"""OME-NGFF 0.6 coordinate transformations as typed values, and mapping points between named
coordinate systems (pure: no storage).

Every transformation that is expressible as a matrix — ``identity``, ``translation``,
``scale``, ``affine``, ``rotation``, ``mapAxis``, ``projectAxis``, and ``sequence``,
``byDimension`` and ``bijection`` built of them — becomes a :class:`Transformation` holding
its homogeneous matrix (``(M+1) x (N+1)`` for N inputs and M outputs). ``displacements`` and
``coordinates`` fields are not expressible so and are refused with a ValueError saying so.

Transformations form a graph whose nodes are coordinate systems (by name, or by the array
``path`` a level's transformation starts from); :func:`transform_points` finds a path from one
system to another, taking an edge backwards where its transformation is invertible (a square
matrix of full rank, or a bijection's explicit inverse).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ROTATION_TOLERANCE",
    "Transformation",
    "parse_transformation",
    "rotation_defect",
    "rotation_problem",
    "transform_points",
    "transformation_graph",
]

ArrayLoader = Callable[[str], Any]
"""Reads the zarr array at a path (parameters stored as arrays), e.g. from the image's group."""

Node = tuple[str, str]
"""A node of the graph: ``("name", system)`` or ``("path", array path)``."""


@dataclass(frozen=True)
class Transformation:
    """One coordinate transformation: its type, ends and homogeneous matrix.

    ``matrix`` maps homogeneous input coordinates (N values and a 1) to homogeneous outputs;
    ``inverse_matrix`` is given for a bijection (its explicit inverse), else computed when the
    matrix is square and of full rank.
    """

    type: str
    matrix: np.ndarray
    input: Node | None = None
    output: Node | None = None
    name: str | None = None
    inverse_matrix: np.ndarray | None = None

    @property
    def input_ndim(self) -> int:
        return int(self.matrix.shape[1] - 1)

    @property
    def output_ndim(self) -> int:
        return int(self.matrix.shape[0] - 1)

    def apply(self, points: Any) -> np.ndarray:
        """Map points (one per row) from the input system to the output system."""
        return _apply(self.matrix, points)

    def inverse(self) -> Transformation:
        """The transformation from the output system back to the input system.

        Raises
        ------
        ValueError
            If it is not invertible (not square, or singular).
        """
        inverse = self.inverse_matrix
        if inverse is None:
            if self.input_ndim != self.output_ndim:
                raise ValueError(
                    f"a {self.type} from {self.input_ndim} to {self.output_ndim} dimensions "
                    "has no inverse"
                )
            try:
                inverse = np.linalg.inv(self.matrix)
            except np.linalg.LinAlgError:
                raise ValueError(f"this {self.type} is singular: it has no inverse") from None
        return Transformation(
            self.type, inverse, self.output, self.input, self.name, inverse_matrix=self.matrix
        )


def _apply(matrix: np.ndarray, points: Any) -> np.ndarray:
    values = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if values.shape[1] != matrix.shape[1] - 1:
        raise ValueError(
            f"points of {values.shape[1]} dimensions given to a transformation of "
            f"{matrix.shape[1] - 1}"
        )
    homogeneous = np.hstack([values, np.ones((len(values), 1))])
    return np.asarray((homogeneous @ matrix.T)[:, :-1])


def _node(reference: Any) -> Node | None:
    """A transformation's ``input``/``output`` as a graph node; strings name systems (as in
    older drafts and the conformance cases)."""
    if reference is None:
        return None
    if isinstance(reference, str):
        return ("name", reference)
    if isinstance(reference, Mapping):
        name, path = reference.get("name"), reference.get("path")
        if isinstance(name, str):
            return ("name", name if not path else f"{path}#{name}")
        if isinstance(path, str):
            return ("path", path)
    raise ValueError(f"a transformation's input or output must name a system, not {reference!r}")


def _numbers(value: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numbers, not {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be finite numbers, not {value!r}")
    return array


def _parameters(transform: Mapping[str, Any], key: str, loader: ArrayLoader | None) -> np.ndarray:
    if key in transform:
        return _numbers(transform[key], f"{transform.get('type')}.{key}")
    path = transform.get("path")
    if isinstance(path, str):
        if loader is None:
            raise ValueError(
                f"the {transform.get('type')} parameters are stored in the array {path!r}, "
                "which is not read here"
            )
        return _numbers(np.asarray(loader(path)), f"{transform.get('type')} at {path!r}")
    raise ValueError(f"a {transform.get('type')} needs {key!r} (or a 'path' to its array)")


def _homogeneous(linear: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    rows, columns = linear.shape
    matrix = np.zeros((rows + 1, columns + 1))
    matrix[:rows, :columns] = linear
    if offset is not None:
        matrix[:rows, columns] = offset
    matrix[rows, columns] = 1.0
    return matrix


def _matrix(
    transform: Mapping[str, Any], ndim: int | None, loader: ArrayLoader | None
) -> np.ndarray:
    """The homogeneous matrix of ``transform`` (``ndim``: its input dimensions, if known)."""
    kind = transform.get("type")
    if kind == "identity":
        if ndim is None:
            raise ValueError("an identity needs the dimensions of its input system")
        return np.eye(ndim + 1)
    if kind == "scale":
        return _homogeneous(np.diag(_parameters(transform, "scale", loader)))
    if kind == "translation":
        offset = _parameters(transform, "translation", loader)
        return _homogeneous(np.eye(len(offset)), offset)
    if kind == "affine":
        rows = _parameters(transform, "affine", loader)
        if rows.ndim != 2 or rows.shape[1] < 2:
            raise ValueError(f"an affine must be M x (N+1), not of shape {rows.shape}")
        return _homogeneous(rows[:, :-1], rows[:, -1])
    if kind == "rotation":
        rotation = _parameters(transform, "rotation", loader)
        if rotation.ndim != 2 or rotation.shape[0] != rotation.shape[1]:
            raise ValueError(f"a rotation must be N x N, not of shape {rotation.shape}")
        # Composed as given: a reader maps points with what is stored (the validator and
        # the writers hold rotations to rotation_problem).
        return _homogeneous(rotation)
    if kind == "mapAxis":
        order = [int(i) for i in _parameters(transform, "mapAxis", loader)]
        if sorted(order) != list(range(len(order))):
            raise ValueError(f"mapAxis must be a permutation of 0..{len(order) - 1}, not {order}")
        linear = np.zeros((len(order), len(order)))
        for output, source in enumerate(order):
            linear[output, source] = 1.0
        return _homogeneous(linear)
    if kind == "projectAxis":
        return _projection(transform, ndim)
    if kind == "sequence":
        steps = transform.get("transformations")
        if not isinstance(steps, list) or not steps:
            raise ValueError("a sequence needs a non-empty 'transformations' list")
        matrix: np.ndarray | None = None
        for step in steps:
            step_matrix = _matrix(step, ndim if matrix is None else matrix.shape[0] - 1, loader)
            matrix = step_matrix if matrix is None else step_matrix @ matrix
        assert matrix is not None
        return matrix
    if kind == "byDimension":
        return _by_dimension(transform, ndim, loader)
    if kind == "bijection":
        return _matrix(_mapping(transform.get("forward"), "bijection.forward"), ndim, loader)
    if kind in ("displacements", "coordinates"):
        raise ValueError(f"a {kind} field is not expressible as a matrix; it is not composed here")
    raise ValueError(f"unknown transformation type {kind!r}")


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a transformation object, not {value!r}")
    return value


def _projection(transform: Mapping[str, Any], ndim: int | None) -> np.ndarray:
    if ndim is None:
        raise ValueError("a projectAxis needs the dimensions of its input system")
    created = [int(i) for i in transform.get("createdOutputs", [])]
    dropped = [int(i) for i in transform.get("droppedInputs", [])]
    kept = [i for i in range(ndim) if i not in dropped]
    outputs = len(kept) + len(created)
    linear = np.zeros((outputs, ndim))
    sources = iter(kept)
    for output in range(outputs):
        if output not in created:
            linear[output, next(sources)] = 1.0
    return _homogeneous(linear)


def _by_dimension(
    transform: Mapping[str, Any], ndim: int | None, loader: ArrayLoader | None
) -> np.ndarray:
    items = transform.get("transformations")
    if not isinstance(items, list) or not items:
        raise ValueError("a byDimension needs a non-empty 'transformations' list")
    parts = []
    for item in items:
        item = _mapping(item, "byDimension.transformations[]")
        # The released form wraps each transformation with its axes; an earlier draft (used
        # by the conformance suite) put input_axes/output_axes on the transformation itself.
        inputs = [int(i) for i in item.get("inputAxes", item.get("input_axes", []))]
        outputs = [int(i) for i in item.get("outputAxes", item.get("output_axes", []))]
        inner = item.get("transformation", item if "type" in item else None)
        sub = _matrix(_mapping(inner, "byDimension item"), len(inputs), loader)
        if sub.shape != (len(outputs) + 1, len(inputs) + 1):
            raise ValueError(
                f"a byDimension item maps axes {inputs} to {outputs}, but its transformation is "
                f"{sub.shape[1] - 1} -> {sub.shape[0] - 1} dimensional"
            )
        parts.append((inputs, outputs, sub))
    n_in = ndim if ndim is not None else 1 + max(i for p in parts for i in p[0])
    n_out = 1 + max(o for p in parts for o in p[1])
    covered = sorted(o for p in parts for o in p[1])
    if covered != list(range(n_out)):
        raise ValueError(f"a byDimension must produce each output axis once, not {covered}")
    matrix = np.zeros((n_out + 1, n_in + 1))
    matrix[n_out, n_in] = 1.0
    for inputs, outputs, sub in parts:
        for row, output in enumerate(outputs):
            matrix[output, inputs] = sub[row, :-1]
            matrix[output, n_in] = sub[row, -1]
    return matrix


ROTATION_TOLERANCE = 1e-6
"""How far a rotation matrix may be from orthonormal with determinant 1 (rounding in JSON)."""


def rotation_defect(matrix: np.ndarray, tolerance: float = ROTATION_TOLERANCE) -> str | None:
    """How a square matrix falls short of a rotation ("is not orthonormal", "has determinant
    …"), or None."""
    if not np.allclose(matrix @ matrix.T, np.eye(len(matrix)), atol=tolerance):
        return "is not orthonormal"
    determinant = float(np.linalg.det(matrix))
    if abs(determinant - 1.0) > tolerance:
        return f"has determinant {determinant:.6g}"
    return None


def rotation_problem(
    transform: Mapping[str, Any], tolerance: float = ROTATION_TOLERANCE
) -> str | None:
    """What makes the ``rotation`` of a transformation object (also inside a sequence,
    byDimension or bijection) not a rotation, or None: it must be orthonormal with
    determinant 1."""
    kind = transform.get("type")
    if kind == "rotation" and "rotation" in transform:
        rotation = _numbers(transform["rotation"], "rotation.rotation")
        if rotation.ndim != 2 or rotation.shape[0] != rotation.shape[1]:
            return f"a rotation must be N x N, not of shape {rotation.shape}"
        defect = rotation_defect(rotation, tolerance)
        return (
            None
            if defect is None
            else f"a rotation must be orthonormal with determinant 1; this one {defect}"
        )
    children: list[Any] = []
    if kind == "sequence":
        children = list(transform.get("transformations") or [])
    elif kind == "byDimension":
        children = [
            item.get("transformation", item) if isinstance(item, Mapping) else item
            for item in transform.get("transformations") or []
        ]
    elif kind == "bijection":
        children = [transform.get("forward"), transform.get("inverse")]
    for child in children:
        if isinstance(child, Mapping) and (problem := rotation_problem(child, tolerance)):
            return problem
    return None


def parse_transformation(
    transform: Any,
    ndim: int | None = None,
    loader: ArrayLoader | None = None,
) -> Transformation:
    """A transformation object of an OME-NGFF 0.6 document as a :class:`Transformation`.

    Parameters
    ----------
    transform : dict
        The transformation object.
    ndim : int, optional
        The dimensions of its input system (needed by ``identity`` and ``projectAxis``).
    loader : callable, optional
        Reads a zarr array by path, for parameters stored as arrays.

    Raises
    ------
    ValueError
        For an unknown type, malformed parameters, or a field that is not expressible as a
        matrix (``displacements``, ``coordinates``).

    Examples
    --------
    >>> t = parse_transformation({"type": "scale", "scale": [2, 3]})
    >>> t.apply([[1, 1]]).tolist()
    [[2.0, 3.0]]
    """
    transform = _mapping(transform, "a transformation")
    matrix = _matrix(transform, ndim, loader)
    inverse = None
    if transform.get("type") == "bijection":
        inverse = _matrix(
            _mapping(transform.get("inverse"), "bijection.inverse"), matrix.shape[0] - 1, loader
        )
    name = transform.get("name")
    return Transformation(
        str(transform.get("type")),
        matrix,
        _node(transform.get("input")),
        _node(transform.get("output")),
        name if isinstance(name, str) else None,
        inverse,
    )


def transformation_graph(
    systems: Sequence[Mapping[str, Any]],
    transformations: Sequence[Mapping[str, Any]],
    loader: ArrayLoader | None = None,
) -> tuple[dict[str, int], list[Transformation]]:
    """The systems (name -> dimensions) and parsed transformations of a document's graph."""
    dims: dict[str, int] = {}
    for system in systems:
        if isinstance(system, Mapping) and isinstance(system.get("name"), str):
            axes = system.get("axes")
            dims[system["name"]] = len(axes) if isinstance(axes, list) else 0
    parsed = []
    for transform in transformations:
        transform = _mapping(transform, "a transformation")
        ends = [_node(transform.get("input")), _node(transform.get("output"))]
        # The input system's dimensions; a level's array has those of the system it maps to.
        known = [dims[end[1]] for end in ends if end is not None and end[1] in dims]
        ndim = known[0] if known else None
        parsed.append(parse_transformation(transform, ndim, loader))
    return dims, parsed


def _path(edges: Sequence[Transformation], source: Node, target: Node) -> list[Transformation]:
    """The transformations leading from ``source`` to ``target`` (breadth first), an edge
    taken backwards where its transformation has an inverse."""
    neighbours: dict[Node, list[Transformation]] = {}
    for edge in edges:
        if edge.input is None or edge.output is None:
            continue
        neighbours.setdefault(edge.input, []).append(edge)
        try:
            backwards = edge.inverse()
        except ValueError:
            continue
        neighbours.setdefault(edge.output, []).append(backwards)
    previous: dict[Node, tuple[Node, Transformation] | None] = {source: None}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        if node == target:
            break
        for edge in neighbours.get(node, []):
            assert edge.output is not None
            if edge.output not in previous:
                previous[edge.output] = (node, edge)
                queue.append(edge.output)
    if target not in previous:
        raise ValueError(f"no chain of transformations leads from {source[1]!r} to {target[1]!r}")
    chain: list[Transformation] = []
    node = target
    while (step := previous[node]) is not None:
        node, edge = step
        chain.append(edge)
    return chain[::-1]


def transform_points(
    document: Mapping[str, Any],
    source: str,
    target: str,
    points: Any,
    loader: ArrayLoader | None = None,
) -> np.ndarray:
    """Map ``points`` from the coordinate system ``source`` to ``target`` of an OME-NGFF 0.6
    ``ome`` document (a scene, or an image's first multiscales).

    ``source`` or ``target`` may also be ``"path:<array path>"`` (the index space of a level)
    or, in a scene, ``"<image path>#<system>"`` (a system of one of its images).

    Raises
    ------
    ValueError
        For an unknown system, no chain of (invertible) transformations between them, or a
        transformation that cannot be composed.

    Examples
    --------
    >>> scene = {"scene": {"coordinateSystems": [{"name": "a", "axes": [{"name": "x"}]},
    ...     {"name": "b", "axes": [{"name": "x"}]}], "coordinateTransformations": [
    ...     {"type": "translation", "translation": [5], "input": "a", "output": "b"}]}}
    >>> transform_points(scene, "b", "a", [[7]]).tolist()
    [[2.0]]
    """
    holder = document.get("scene")
    if not isinstance(holder, Mapping):
        multiscales = document.get("multiscales")
        if not isinstance(multiscales, list) or not multiscales:
            raise ValueError("the document has no scene and no multiscales")
        holder = multiscales[0]
    systems = holder.get("coordinateSystems") or []
    transformations = list(holder.get("coordinateTransformations") or [])
    for dataset in holder.get("datasets") or []:
        transformations += list(dataset.get("coordinateTransformations") or [])
    dims, edges = transformation_graph(systems, transformations, loader)

    named = {end[1] for edge in edges for end in (edge.input, edge.output) if end is not None}

    def node(name: str) -> Node:
        if name.startswith("path:"):
            return ("path", name[len("path:") :])
        if name not in dims and name not in named:  # "image#system": a scene's image's
            raise ValueError(f"no coordinate system named {name!r}")
        return ("name", name)

    start, end = node(source), node(target)
    values = np.atleast_2d(np.asarray(points, dtype=np.float64))
    for edge in _path(edges, start, end):
        values = edge.apply(values)
    return values
