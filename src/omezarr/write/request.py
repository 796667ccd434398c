"""From the pixel writers' arguments to a checked plan of the levels to write."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import zarr

from .._compat import _check_writable_format
from ..engine.memory import memory_budget_from
from ..io.layout import LevelLayout, default_chunks, input_chunks, resolve_layouts
from ..io.storage import (
    write_ngff_attrs,
)
from ..ngff.documents import axis_names, level_transformations, valid_axes
from ..ngff.format import Format
from ..pyramid.methods import Methods, level_factors
from ..pyramid.steps import PyramidStep, pyramid_steps
from ..types import AxesType, JSONDict
from .metadata import _add_label_name, _multiscales_attrs

__all__ = [
    "ArrayLike",
]

ArrayLike: TypeAlias = Any
"""NumPy, dask or zarr arrays, or any object with shape, dtype and ``__getitem__``."""


# --------------------------------------------------------------------------------------------
# Pixel writers
# --------------------------------------------------------------------------------------------

_SUPPORTED_KINDS = "biuf"
_DEPRECATED_COORDINATE_TRANSFORMATIONS = (
    "The 'coordinate_transformations' argument is deprecated and will be removed in a future "
    "version. Please use the `scale` argument to specify the physical pixel size for each "
    "dimension instead. When `coordinate_transformations` is provided, it takes precedence over "
    "`scale`, so `scale` is not applied."
)


def _check_source(image: Any, name: str) -> Any:
    """Refuse inputs without shape, dtype and indexing, or of unsupported dtypes."""
    if isinstance(image, list | tuple):
        raise TypeError(
            f"{name}: expected an array (numpy, dask, zarr or array-like), not a {type(image).__name__}"
        )
    shape = getattr(image, "shape", None)
    dtype = getattr(image, "dtype", None)
    if shape is None or dtype is None or not hasattr(image, "__getitem__"):
        raise TypeError(
            f"{name}: expected an array with shape, dtype and indexing (numpy, dask, zarr), "
            f"not {type(image).__name__}"
        )
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: dtype {dtype!r} is not a NumPy dtype") from None
    if dtype.kind not in _SUPPORTED_KINDS or dtype.itemsize > 8:
        raise TypeError(
            f"{name}: dtype {dtype} is not supported; use bool, (u)int8–64 or float16/32/64"
        )
    if not 2 <= len(shape) <= 5:
        raise ValueError(
            f"{name}: OME-Zarr images have 2 to 5 dimensions, got shape {tuple(shape)}"
        )
    if any(int(n) < 1 for n in shape):
        raise ValueError(f"{name}: every dimension must be at least 1, got shape {tuple(shape)}")
    return image


def _check_scale(scale: Any, dims: Sequence[str]) -> dict[str, float]:
    if scale is None:
        return {}
    if not isinstance(scale, Mapping):
        raise TypeError(
            f"scale: expected a dict of axis name to pixel size, not {type(scale).__name__}"
        )
    unknown = [d for d in scale if d not in dims]
    if unknown:
        raise ValueError(f"scale: axes {unknown} are not among the axes {list(dims)}")
    for d, value in scale.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ValueError(
                f"scale: the pixel size of axis {d!r} must be a positive number, not {value!r}"
            )
    return {d: float(v) for d, v in scale.items()}


@dataclass(frozen=True)
class _FinalWrite:
    """NGFF attributes to write, in order, once every pixel is written.

    ``label`` (the labels group, a label name and the format) lists the label image last,
    read afresh under the group's lock, since other writers may be adding theirs.
    """

    writes: tuple[tuple[zarr.Group, JSONDict], ...]
    label: tuple[zarr.Group, str, Format] | None = None

    def __call__(self, *done: Any) -> None:
        for group, attrs in self.writes:
            write_ngff_attrs(group, attrs)
        if self.label is not None:
            _add_label_name(*self.label)


@dataclass
class _PixelJob:
    """Everything checked and planned for one multiscale image, before anything is written."""

    sources: list[Any]  # one per level for write_multiscale, else [level 0]
    fmt: Format
    dims: tuple[str, ...]
    shapes: list[tuple[int, ...]]
    factors: list[tuple[int, ...]]
    method: Methods
    layouts: list[LevelLayout]
    attrs: JSONDict
    memory_budget: int
    dtype: np.dtype
    steps: list[PyramidStep] = field(default_factory=list)  # how levels 1… are computed


def _plan_job(
    sources: list[Any],
    computed_levels: bool,
    fmt: Format,
    scale_factors: Any,
    method: Methods,
    axes: AxesType,
    axes_units: dict[str, str] | None,
    scale: Any,
    coordinate_transformations: Any,
    storage_options: Any,
    name: str | None,
    metadata: dict[str, Any],
    memory_budget: Any,
    labels: bool,
) -> _PixelJob:
    """Check every argument and plan levels, layouts and metadata; writes nothing."""
    _check_writable_format(fmt)
    what = "labels" if labels else "image"
    for i, source in enumerate(sources):
        _check_source(source, what if not computed_levels else f"pyramid[{i}]")
    dtype = np.dtype(sources[0].dtype)
    if labels and fmt.metadata_is_nested and dtype.kind not in "iu":
        raise TypeError(
            f"labels: OME-NGFF {fmt.version} label images must have an integer dtype, not {dtype}"
        )
    shape0 = tuple(int(n) for n in sources[0].shape)
    parsed_axes = valid_axes(axes, axes_units, fmt, len(shape0))
    dims = axis_names(parsed_axes)
    pixel_sizes = _check_scale(scale, dims)
    budget = memory_budget_from(memory_budget)
    if computed_levels:
        shapes = [tuple(int(n) for n in s.shape) for s in sources]
        for i, (s, previous) in enumerate(zip(shapes[1:], shapes, strict=False), start=1):
            if len(s) != len(shape0):
                raise ValueError(
                    f"pyramid[{i}]: has {len(s)} dimensions, level 0 has {len(shape0)}"
                )
            if any(a > b for a, b in zip(s, previous, strict=True)):
                raise ValueError(
                    f"pyramid[{i}]: shape {s} is larger than the previous level's {previous}"
                )
            if np.dtype(sources[i].dtype) != dtype:
                raise TypeError(
                    f"pyramid[{i}]: dtype {sources[i].dtype} differs from level 0's {dtype}"
                )
        factors = [tuple(1 for _ in shape0)] * len(shapes)
        steps: list[PyramidStep] = []
    else:
        level_factor_list = level_factors(scale_factors, dims)
        steps = pyramid_steps(shape0, level_factor_list, method, dims)
        shapes = [tuple(shape0), *(step.out_shape for step in steps)]
        factors = [tuple(1 for _ in shape0), *level_factor_list]
    chunks0 = input_chunks(sources[0]) or default_chunks(shape0, dims, dtype.itemsize)
    layouts = resolve_layouts(
        storage_options, shapes, dims, dtype.itemsize, fmt.zarr_format, chunks0, budget
    )
    if coordinate_transformations is not None:
        warnings.warn(_DEPRECATED_COORDINATE_TRANSFORMATIONS, DeprecationWarning, stacklevel=4)
        transformations = coordinate_transformations
        fmt.validate_coordinate_transformations(len(shape0), len(shapes), transformations)
    else:
        transformations = level_transformations(shapes, dims, pixel_sizes, fmt)
    datasets: list[dict] = [{"path": f"s{i}"} for i in range(len(shapes))]
    if transformations is not None:
        for dataset, transform in zip(datasets, transformations, strict=True):
            dataset["coordinateTransformations"] = transform
    extras = dict(metadata)
    if not computed_levels:
        extras.setdefault("type", method.value)
    n_channels = next((shape0[i] for i, d in enumerate(dims) if d == "c"), None)
    attrs = _multiscales_attrs(datasets, fmt, parsed_axes, name, extras, n_channels)
    return _PixelJob(
        sources=sources,
        fmt=fmt,
        dims=dims,
        shapes=shapes,
        factors=factors,
        method=method,
        steps=steps,
        layouts=layouts,
        attrs=attrs,
        memory_budget=budget,
        dtype=dtype.newbyteorder("=") if not dtype.isnative else dtype,
    )


def _options(
    axes: Any,
    axes_units: Any,
    scale: Any,
    coordinate_transformations: Any,
    storage_options: Any,
    memory_budget: Any,
) -> dict[str, Any]:
    """The options every pixel writer passes through unchanged."""
    return {
        "axes": axes,
        "axes_units": axes_units,
        "scale": scale,
        "coordinate_transformations": coordinate_transformations,
        "storage_options": storage_options,
        "memory_budget": memory_budget,
    }


def _job_args(
    sources: list[Any],
    computed_levels: bool,
    labels: bool,
    name: str | None,
    metadata: Mapping[str, Any],
    scale_factors: Any = None,
    method: Methods = Methods.NEAREST,
    **options: Any,
) -> dict[str, Any]:
    """The arguments of :func:`_plan_job` common to the four pixel writers."""
    if computed_levels:
        pyramid = sources[0]
        if isinstance(pyramid, str) or not isinstance(pyramid, Sequence) or not pyramid:
            raise TypeError("pyramid: expected a non-empty list of arrays, largest level first")
        sources = list(pyramid)
    return {
        "sources": sources,
        "computed_levels": computed_levels,
        "labels": labels,
        "name": name,
        "metadata": dict(metadata),
        "scale_factors": scale_factors,
        "method": method,
        **options,
    }
