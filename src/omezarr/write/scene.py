"""Writing an OME-NGFF 0.6 scene: images of one group tied together by transformations (a
registration, a stitched mosaic, multiview fusion), as the spec's scene examples do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..io.storage import GroupLike, open_group, read_ngff_attrs, write_ngff_attrs
from ..ngff.documents import is_child_path
from ..ngff.format import FormatV06
from ..ngff.transforms import parse_transformation, rotation_problem
from ..types import JSONDict
from .metadata import archive_aware
from .parameters import inline, stored_parameters, write_arrays

__all__ = ["write_scene_metadata"]


@archive_aware
def write_scene_metadata(
    group: GroupLike,
    coordinate_transformations: Sequence[Mapping[str, Any]],
    coordinate_systems: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Write the ``scene`` metadata of ``group``: how its images relate to each other.

    Parameters
    ----------
    group : zarr.Group or str
        The scene group, which holds (or will hold) the images the transformations name.
    coordinate_transformations : list of dict
        Transformations whose ``input`` and ``output`` are ``{"name": system}`` (a system of
        the scene) or ``{"path": image, "name": system}`` (a coordinate system of the 0.6
        image at that child path). A parameter given as a NumPy array (``affine``,
        ``rotation``, …) is stored as a zarr array under ``coordinateTransformations/<name>``
        and referenced by ``path``.
    coordinate_systems : list of dict, optional
        The scene's own systems (``name`` and ``axes``), e.g. ``"world"``.

    Raises
    ------
    ValueError
        Before anything is written: a transformation that is malformed (a rotation that is
        not orthonormal with determinant 1, a mapAxis that is not a permutation, …), a
        reference to a system or image that does not exist, a path that leaves the group,
        or images that no chain of transformations connects.

    Examples
    --------
    >>> write_scene_metadata("mosaic.ome.zarr", [
    ...     {"type": "translation", "translation": [0, 348],
    ...      "input": {"path": "tile_1", "name": "intrinsic"}, "output": {"name": "world"}}],
    ...     [{"name": "world", "axes": [{"name": "y", "type": "space"},
    ...                                 {"name": "x", "type": "space"}]}])  # doctest: +SKIP
    """
    root = open_group(group, mode="a", zarr_format=3)
    systems = _checked_systems(coordinate_systems)
    if not isinstance(coordinate_transformations, Sequence) or not coordinate_transformations:
        raise ValueError("coordinate_transformations: give at least one transformation")
    stored: dict[str, np.ndarray] = {}
    documents = []
    edges = []
    for index, transform in enumerate(coordinate_transformations):
        where = f"coordinate_transformations[{index}]"
        document, arrays = stored_parameters(transform, index, where)
        stored.update(arrays)
        ends = [
            _end(root, document.get(key), systems, f"{where}.{key}") for key in ("input", "output")
        ]
        checked = inline(document, arrays)
        try:
            parse_transformation(checked, ndim=ends[0][1])
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        if problem := rotation_problem(checked):
            raise ValueError(f"{where}: {problem}")
        documents.append(document)
        edges.append((ends[0][0], ends[1][0]))
    _check_connected(edges)
    write_arrays(root, stored)
    scene: JSONDict = {"coordinateTransformations": documents}
    if systems:
        scene["coordinateSystems"] = [dict(s) for s in coordinate_systems]
    write_ngff_attrs(root, {"version": FormatV06().version, "scene": scene})


def _checked_systems(systems: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The scene's own systems, name -> dimensions; names unique, axes given."""
    result: dict[str, int] = {}
    for index, system in enumerate(systems):
        where = f"coordinate_systems[{index}]"
        if not isinstance(system, Mapping) or not isinstance(system.get("name"), str):
            raise ValueError(f"{where}: a system needs a 'name' and 'axes', not {system!r}")
        axes = system.get("axes")
        if not isinstance(axes, list) or not axes:
            raise ValueError(f"{where}: {system['name']!r} needs a non-empty 'axes' list")
        if system["name"] in result:
            raise ValueError(f"{where}: the name {system['name']!r} is used twice")
        result[system["name"]] = len(axes)
    return result


def _end(
    root: Any, reference: Any, systems: Mapping[str, int], where: str
) -> tuple[str, int | None]:
    """A transformation end as a graph node (``path#name`` or ``name``) and its dimensions."""
    if not isinstance(reference, Mapping) or not isinstance(reference.get("name"), str):
        raise ValueError(f"{where}: expected {{'name': system}} or {{'path': image, 'name': …}}")
    name, path = reference["name"], reference.get("path")
    if path is None:
        if name not in systems:
            raise ValueError(f"{where}: the scene has no coordinate system {name!r}")
        return name, systems[name]
    if not is_child_path(path):
        raise ValueError(f"{where}: {path!r} must be a path to a child group, without '..'")
    try:
        image = open_group(root[path], mode="r")
    except (KeyError, ValueError, TypeError):
        raise ValueError(f"{where}: there is no image at {path!r} in the scene group") from None
    attrs = read_ngff_attrs(image)
    multiscales = attrs.get("multiscales")
    if attrs.get("version") != "0.6" or not isinstance(multiscales, list) or not multiscales:
        raise ValueError(f"{where}: {path!r} is not an OME-NGFF 0.6 image")
    for system in multiscales[0].get("coordinateSystems", []):
        if isinstance(system, Mapping) and system.get("name") == name:
            axes = system.get("axes")
            return f"{path}#{name}", len(axes) if isinstance(axes, list) else None
    raise ValueError(f"{where}: the image {path!r} has no coordinate system {name!r}")


def _check_connected(edges: Sequence[tuple[str, str]]) -> None:
    """Every system the transformations name is reachable from every other."""
    neighbours: dict[str, set[str]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    start = next(iter(neighbours))
    seen = {start}
    pending = [start]
    while pending:
        for other in neighbours[pending.pop()]:
            if other not in seen:
                seen.add(other)
                pending.append(other)
    apart = sorted(set(neighbours) - seen)
    if apart:
        raise ValueError(
            f"coordinate_transformations: {apart} are not connected to {start!r}; a scene's "
            "images must all be reachable from each other"
        )
