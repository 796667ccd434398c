"""The OME-NGFF 0.6 rules that relate transformations to each other and to other groups:
references that resolve, connected graphs, each dataset's one transformation into the
intrinsic system, label links, vector fields, and scenes.

Pure, like the rest of the rule layer: what is known about other groups and arrays comes in
as :class:`~omezarr.validate.transforms.LinkedImage` and
:class:`~omezarr.validate.rules.ArrayFacts` values. The checks of single transformations
(parameters, dimensions) are in :mod:`omezarr.validate.transforms`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..ngff.axes import axes_problems
from ..ngff.documents import LABEL_LINK_TYPES, is_child_path, is_one_of_or_scaled_shift
from .report import _Findings, _short
from .transforms import (
    LinkedImage,
    LinkedLookup,
    Where,
    _dicts,
    _Dimensions,
    check_coordinate_systems,
    coordinate_system_dims,
)

__all__ = [
    "check_multiscale_v06",
    "check_scene",
    "linked_image",
    "linked_paths",
    "scene_paths",
]

_DATASET_TYPES = "a single scale, identity, or sequence of one scale and one translation"
_DATASET_SINGLE_TYPES = frozenset({"scale", "identity"})
_FIELD_AXIS_TYPE = {"displacements": "displacement", "coordinates": "coordinate"}


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
    if not is_child_path(path):
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
            elif not is_one_of_or_scaled_shift(transform, LABEL_LINK_TYPES):
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
            if not is_one_of_or_scaled_shift(transform, _DATASET_SINGLE_TYPES):
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
