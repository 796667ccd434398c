"""Transformation parameters given as NumPy arrays: stored as zarr arrays beside the metadata
that references them by ``path`` (0.6 images and scenes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import zarr

from ..types import JSONDict

__all__ = ["PARAMETERS", "inline", "split_parameter_arrays", "stored_parameters", "write_arrays"]

PARAMETERS = ("affine", "rotation")
"""Transformation parameters that, given as NumPy arrays, are stored as zarr arrays under
``coordinateTransformations/``: the released 0.6 schemas allow a ``path`` for these two only
(the spec's table also lists scale and translation, which the schemas require inline). Other
array values (a ``scale``, a ``mapAxis``) are written as JSON lists."""


def stored_parameters(
    transform: Any, index: int, where: str
) -> tuple[JSONDict, dict[str, np.ndarray]]:
    """The transformation as JSON, its array-valued matrices (also those of the steps of a
    ``sequence`` or ``byDimension`` and of a ``bijection``) moved to zarr array paths named
    after the transformation (``name``, else its position), other arrays made lists."""
    if not isinstance(transform, Mapping):
        raise ValueError(f"{where}: expected a transformation dict, not {transform!r}")
    arrays: dict[str, np.ndarray] = {}

    def convert(node: Any, name: str) -> Any:
        if isinstance(node, np.ndarray):
            return node.tolist()
        if isinstance(node, list | tuple):
            return [convert(item, name) for item in node]
        if not isinstance(node, Mapping):
            return node
        own = str(node.get("name") or name)
        document: JSONDict = {}
        for key, value in node.items():
            if key in PARAMETERS and key == node.get("type") and isinstance(value, np.ndarray):
                if "/" in own or own in ("", ".", ".."):
                    raise ValueError(f"{where}: name {own!r} cannot name a stored array")
                path = f"coordinateTransformations/{own}"
                if path in arrays:
                    raise ValueError(f"{where}: two parameters would be stored at {path!r}")
                arrays[path] = np.asarray(value, dtype=np.float64)
                document["path"] = path
            elif key == "transformations" and isinstance(value, list | tuple):
                document[key] = [convert(step, f"{own}-{i}") for i, step in enumerate(value)]
            elif key in ("forward", "inverse", "transformation"):
                document[key] = convert(value, f"{own}-{key}")
            else:
                document[key] = convert(value, own)
        return document

    return convert(transform, f"transformation-{index}"), arrays


def inline(document: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """``document`` with the parameters its stored arrays hold put back inline (to check it)."""
    if isinstance(document, list):
        return [inline(item, arrays) for item in document]
    if not isinstance(document, Mapping):
        return document
    path = document.get("path")
    result = {k: inline(v, arrays) for k, v in document.items()}
    if isinstance(path, str) and path in arrays and document.get("type") in PARAMETERS:
        del result["path"]
        result[str(document["type"])] = arrays[path].tolist()
    return result


def split_parameter_arrays(
    transforms: Any, where: str = "coordinateTransformations"
) -> tuple[list[JSONDict], list[JSONDict], dict[str, np.ndarray]] | None:
    """For a list of transformations with array-valued parameters: the documents as written
    (``path`` references), the same inline (to check them) and the arrays by path; None when
    no parameter is an array."""
    if not isinstance(transforms, Sequence) or isinstance(transforms, str):
        return None
    if not _holds_array(transforms):
        return None
    written, checked = [], []
    arrays: dict[str, np.ndarray] = {}
    for index, transform in enumerate(transforms):
        document, stored = stored_parameters(transform, index, f"{where}[{index}]")
        clash = set(stored) & set(arrays)
        if clash:
            raise ValueError(f"{where}[{index}]: {sorted(clash)[0]!r} is stored twice; name it")
        arrays.update(stored)
        written.append(document)
        checked.append(inline(document, stored))
    return written, checked, arrays


def write_arrays(group: zarr.Group, arrays: Mapping[str, np.ndarray]) -> None:
    """Store parameter arrays in ``group`` (before the metadata that references them)."""
    for path, values in arrays.items():
        group.create_array(path, data=values, overwrite=True)


def _holds_array(node: Any) -> bool:
    if isinstance(node, np.ndarray):
        return True
    if isinstance(node, Mapping):
        return any(_holds_array(value) for value in node.values())
    if isinstance(node, list | tuple):
        return any(_holds_array(item) for item in node)
    return False
