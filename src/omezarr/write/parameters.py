"""Transformation parameters given as NumPy arrays: stored as zarr arrays beside the metadata
that references them by ``path`` (0.6 images and scenes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import zarr

from ..types import JSONDict

__all__ = ["PARAMETERS", "inline", "split_parameter_arrays", "stored_parameters", "write_arrays"]

PARAMETERS = ("affine", "rotation", "scale", "translation", "mapAxis")
"""Transformation parameters that may be given as NumPy arrays and are then stored as zarr
arrays under ``coordinateTransformations/``."""


def stored_parameters(
    transform: Any, index: int, where: str
) -> tuple[JSONDict, dict[str, np.ndarray]]:
    """The transformation as JSON, its array-valued parameter moved to a zarr array path."""
    if not isinstance(transform, Mapping):
        raise ValueError(f"{where}: expected a transformation dict, not {transform!r}")
    document: JSONDict = {}
    arrays: dict[str, np.ndarray] = {}
    for key, value in transform.items():
        if key in PARAMETERS and isinstance(value, np.ndarray):
            name = str(transform.get("name") or f"transformation-{index}")
            if "/" in name or name in ("", ".", ".."):
                raise ValueError(f"{where}: name {name!r} cannot name a stored array")
            path = f"coordinateTransformations/{name}"
            if path in arrays:
                raise ValueError(f"{where}: two parameters would be stored at {path!r}")
            arrays[path] = np.asarray(value, dtype=np.float64)
            document["path"] = path
        else:
            document[key] = value
    return document, arrays


def inline(document: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> JSONDict:
    """``document`` with the parameter its stored array holds put back inline (to check it)."""
    path = document.get("path")
    if not isinstance(path, str) or path not in arrays:
        return dict(document)
    result = {k: v for k, v in document.items() if k != "path"}
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
    if not any(
        isinstance(t, Mapping) and any(isinstance(t.get(k), np.ndarray) for k in PARAMETERS)
        for t in transforms
    ):
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
