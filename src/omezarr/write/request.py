"""From the pixel writers' arguments to a checked plan of the levels to write."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import zarr

from .._budget import _BUDGET
from .._compat import _check_writable_format
from .._errors import InvalidParameterError, Parameter
from ..engine.memory import memory_budget_from
from ..engine.plan import PyramidPlan, plan_pyramid
from ..engine.targets import LevelTarget, Progress
from ..io.layout import (
    LevelLayout,
    auto_shard_limit,
    default_chunks,
    input_chunks,
    level_storage_options,
    resolve_layouts,
)
from ..io.storage import remove_partial_files, write_ngff_attrs
from ..ngff.axes import pixel_sizes
from ..ngff.documents import axis_names, binning_offsets, level_transformations, valid_axes
from ..ngff.format import Format
from ..pyramid.methods import Methods, level_factors
from ..pyramid.steps import PyramidStep, pyramid_steps
from ..types import AxesType, JSONDict, StorageOptions
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


@dataclass(frozen=True)
class _FinalWrite:
    """NGFF attributes to write, in order, once every pixel is written.

    ``swap`` then moves a staged overwrite into place (the new image is complete by then);
    ``label`` (the labels group, a label name and the format) lists the label image last,
    read afresh under the group's lock, since other writers may be adding theirs.
    """

    writes: tuple[tuple[zarr.Group, JSONDict], ...]
    label: tuple[zarr.Group, str, Format] | None = None
    swap: Callable[[], None] | None = None  # a staged overwrite, once its metadata is written
    resumed: bool = False  # remove the temporary files the interrupted write left

    def __call__(self, *done: Any) -> None:
        for group, attrs in self.writes:
            if self.resumed:
                remove_partial_files(group)
            write_ngff_attrs(group, attrs)
        if self.swap is not None:
            self.swap()
        if self.label is not None:
            _add_label_name(*self.label)


@dataclass(frozen=True)
class LabelRequest:
    """The label part of a label writer's call: the label image's name and its metadata."""

    name: str
    metadata: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ValueError(f"name: expected a label name without '/', not {self.name!r}")
        if self.name.startswith(".") or self.name == "zarr.json":
            # zarr's own metadata files and hidden names: a group cannot be made there.
            raise ValueError(f"name: {self.name!r} is reserved; choose another label name")
        if self.metadata is not None and not isinstance(self.metadata, Mapping):
            raise TypeError(f"label_metadata: expected a dict, not {type(self.metadata).__name__}")


@dataclass(frozen=True)
class PixelRequest:
    """One call of a pixel writer, as the caller made it.

    Built by the four pixel writers; checks, when it is made, every argument that needs no
    knowledge of the target (flags, the pyramid list, the label name); :func:`plan_write`
    checks the rest against the format and plans the levels. ``sources`` holds level 0 (the
    pyramid is computed) or every level (``levels_given``).
    """

    sources: tuple[ArrayLike, ...]
    levels_given: bool = False
    label: LabelRequest | None = None
    name: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    scale_factors: Sequence[int] | Sequence[dict[str, int]] = ()
    method: Methods = Methods.NEAREST
    axes: AxesType = None
    axes_units: dict[str, str] | None = None
    scale: dict[str, float] | None = None
    coordinate_transformations: list[list[dict[str, Any]]] | None = None
    storage_options: StorageOptions = None
    memory_budget: int | str | None = None
    overwrite: bool = False
    resume: bool = False
    compute: bool | None = True
    progress: Callable[[Progress], None] | None = None

    def __post_init__(self) -> None:
        if self.progress is not None and not callable(self.progress):
            raise TypeError(
                "progress: expected a callable taking a Progress, not "
                f"{type(self.progress).__name__}"
            )
        for flag, value in (("overwrite", self.overwrite), ("resume", self.resume)):
            if not isinstance(value, bool):
                raise TypeError(f"{flag}: expected True or False, not {value!r}")
        if self.compute is not None and not isinstance(self.compute, bool):
            raise TypeError(f"compute: expected True, False or None, not {self.compute!r}")
        if self.resume and self.overwrite:
            raise ValueError(
                "resume, overwrite: pass either resume=True (finish an interrupted write of the "
                "same image) or overwrite=True (replace what is there), not both"
            )

    @classmethod
    def of_pyramid(cls, pyramid: Any, **arguments: Any) -> PixelRequest:
        """The request of ``write_multiscale(_labels)``: ``pyramid`` is every level."""
        if isinstance(pyramid, str) or not isinstance(pyramid, Sequence) or not pyramid:
            raise TypeError("pyramid: expected a non-empty list of arrays, largest level first")
        return cls(sources=tuple(pyramid), levels_given=True, **arguments)


@dataclass(frozen=True)
class WritePlan:
    """Everything checked and planned for one multiscale image, before anything is written."""

    sources: tuple[ArrayLike, ...]  # one per level for write_multiscale, else (level 0,)
    fmt: Format
    dims: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    factors: tuple[tuple[int, ...], ...]
    method: Methods
    layouts: tuple[LevelLayout, ...]
    attrs: JSONDict
    memory_budget: int
    dtype: np.dtype
    steps: tuple[PyramidStep, ...] = ()  # how levels 1… are computed
    engine_plans: tuple[PyramidPlan, ...] = ()  # one per engine run (see _engine_plans)
    # further 0.6 transformations' parameters given as arrays, stored by path before attrs
    parameter_arrays: Mapping[str, np.ndarray] = field(default_factory=dict)


def _check_tap_tables(
    what: str,
    shape: tuple[int, ...],
    steps: Sequence[PyramidStep],
    dims: Sequence[str],
    budget: int,
) -> None:
    """Refuse a pyramid whose downsampling tables alone would exceed a quarter of the budget.

    Tables are computed window by window (see :attr:`AxisResampler.table_bytes`), so their
    memory depends on each step's factor, not on the image's length: only a kernel of
    millions of taps per output (a factor of a million in one step) is refused here."""
    total = sum(axis.table_bytes for step in steps for axis in step.step.axes)
    if total > budget // 4:
        widest = max(
            range(len(dims)),
            key=lambda i: max(step.step.axes[i].table_bytes for step in steps),
        )
        raise ValueError(
            f"{what}: shape {list(shape)} is downsampled by too large a factor along "
            f"{dims[widest]!r} to plan its pyramid within the memory budget "
            f"({total / 2**20:,.0f} MiB of downsampling tables); raise memory_budget or use "
            "smaller scale factors"
        )


def _engine_plans(
    sources: Sequence[Any],
    shapes: Sequence[tuple[int, ...]],
    factors: Sequence[tuple[int, ...]],
    steps: Sequence[PyramidStep],
    layouts: Sequence[LevelLayout],
    dtype: np.dtype,
    budget: int,
) -> tuple[PyramidPlan, ...]:
    """How the engine will write: one plan for a computed pyramid, one per given level. Made
    on shape-only stand-ins of the level arrays, so before anything is created."""

    def target(shape: tuple[int, ...], layout: LevelLayout, step: Any) -> LevelTarget:
        stand_in = np.broadcast_to(np.zeros((), dtype=dtype), shape)  # no memory
        return LevelTarget(stand_in, layout.write_unit, step)

    if len(sources) == 1:
        targets = [
            target(shape, layout, step)
            for shape, layout, step in zip(shapes, layouts, [None, *steps], strict=True)
        ]
        return (
            plan_pyramid(targets, factors, dtype.itemsize, budget, input_chunks(sources[0]), None),
        )
    return tuple(
        plan_pyramid(
            [target(shape, layout, None)],
            [factors[0]],
            dtype.itemsize,
            budget,
            input_chunks(source),
            None,
        )
        for source, shape, layout in zip(sources, shapes, layouts, strict=True)
    )


def _check_input_chunks(what: str, source: Any, budget: int) -> None:
    """Refuse an input whose chunks cannot be read within the budget: dask computes and zarr
    decodes whole chunks, however little of one a region needs, and two regions may be read
    at once."""
    chunks = input_chunks(source)
    if chunks is None:
        return
    shape = tuple(int(n) for n in source.shape)
    size = math.prod(min(c, n) for c, n in zip(chunks, shape, strict=False))
    size *= np.dtype(source.dtype).itemsize
    if 2 * size > budget:
        raise InvalidParameterError(
            f"{what}: the input's chunks {list(chunks)} hold {size / 2**20:,.0f} MiB each and "
            "are read whole, which does not fit in the memory budget "
            f"({budget / 2**20:,.0f} MiB); raise ",
            _BUDGET,
            " or rechunk the input",
        )


def _need_mib(plans: Sequence[PyramidPlan]) -> str:
    return f"{max(plan.task_bytes for plan in plans) / 2**20:,.0f}"


_SMALLEST_CHUNK_BYTES = 64 * 2**10
"""Chunks omezarr picks to fit a budget are never smaller than this."""


def _smaller_chunks(
    default: tuple[int, ...], current: tuple[int, ...], dims: Sequence[str], itemsize: int
) -> Iterator[tuple[int, ...]]:
    """Chunks to try when ``current`` (omezarr's choice) does not fit the budget: the default
    if ``current`` is not it, then the default with its largest z/y/x side halved, again and
    again, down to ``_SMALLEST_CHUNK_BYTES``."""
    if default != current:
        yield default
    chunks = list(default)
    spatial = [axis for axis, name in enumerate(dims) if name in ("z", "y", "x")]
    while spatial and math.prod(chunks) * itemsize >= 2 * _SMALLEST_CHUNK_BYTES:
        axis = max(spatial, key=lambda a: chunks[a])
        if chunks[axis] == 1:
            return
        chunks[axis] = (chunks[axis] + 1) // 2
        yield tuple(chunks)


def _with_chunks(storage_options: StorageOptions, chunks: tuple[int, ...]) -> StorageOptions:
    """``storage_options`` with every level's chunks set to ``chunks``."""
    if storage_options is None:
        return {"chunks": chunks}
    if isinstance(storage_options, Mapping):
        return {**storage_options, "chunks": chunks}
    return [{**options, "chunks": chunks} for options in storage_options]


def _chunks_are(storage_options: StorageOptions, chunks: tuple[int, ...]) -> bool:
    """Whether every level's chunks option is ``chunks`` (and no shards are given): omezarr's
    default passed on explicitly, as ``omezarr convert`` does."""
    per_level = [storage_options] if isinstance(storage_options, Mapping) else storage_options
    return bool(per_level) and all(
        isinstance(options, Mapping)
        and isinstance(options.get("chunks"), tuple | list)
        and tuple(options["chunks"]) == chunks
        and options.get("shards") in (None, "auto")
        for options in per_level or ()
    )


def _at_once(plans: Sequence[PyramidPlan]) -> int:
    """How many tasks the engine runs at once under ``plans`` (the fewest of its runs)."""
    return min(plan.concurrency for plan in plans)


def _asks_auto_shards(storage_options: StorageOptions) -> bool:
    """Whether some level leaves its shards to omezarr (``shards="auto"``)."""
    per_level = [storage_options] if isinstance(storage_options, Mapping) else storage_options
    return any(
        isinstance(options, Mapping) and options.get("shards") == "auto"
        for options in per_level or ()
    )


def _chunks_unset(storage_options: StorageOptions) -> bool:
    """Whether the user left every level's chunks and shards to omezarr."""
    if storage_options is None:
        return True
    per_level = [storage_options] if isinstance(storage_options, Mapping) else storage_options
    return all(
        isinstance(options, Mapping)
        and options.get("chunks") in (None, "auto")
        and options.get("shards") in (None, "auto")
        for options in per_level
    )


def plan_write(request: PixelRequest, fmt: Format) -> WritePlan:
    """Check every argument of ``request`` against ``fmt`` and plan levels, layouts and
    metadata (the label's ``image-label`` document excepted); writes nothing."""
    sources = request.sources
    computed_levels = request.levels_given
    labels = request.label is not None
    method = request.method
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
    parsed_axes = valid_axes(request.axes, request.axes_units, fmt, len(shape0))
    dims = axis_names(parsed_axes)
    budget = memory_budget_from(request.memory_budget)
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
        level_factor_list = level_factors(request.scale_factors, dims)
        steps = pyramid_steps(shape0, level_factor_list, method, dims)
        shapes = [tuple(shape0), *(step.out_shape for step in steps)]
        factors = [tuple(1 for _ in shape0), *level_factor_list]
        _check_tap_tables(what, shape0, steps, dims, budget)
    for i, source in enumerate(sources):
        _check_input_chunks(what if not computed_levels else f"pyramid[{i}]", source, budget)
    given_chunks = input_chunks(sources[0])
    chunks0 = given_chunks or default_chunks(shape0, dims, dtype.itemsize)
    # A list's entries after the last level are left out, as in the reference.
    storage_options = level_storage_options(request.storage_options, len(shapes))

    def fitted(
        options: StorageOptions, chunks: tuple[int, ...]
    ) -> tuple[list[LevelLayout], tuple[PyramidPlan, ...]]:
        """Layouts and engine plans for ``options``; shards omezarr chooses ("auto") as large
        as fit the budget with as many tasks at once as there are cores (halved until they
        do, down to single chunks; the first that fits if none gives every core a task)."""
        tried = resolve_layouts(
            options, shapes, dims, dtype.itemsize, fmt.zarr_format, chunks, budget
        )
        plans = _engine_plans(sources, shapes, factors, steps, tried, dtype, budget)
        if not _asks_auto_shards(options):
            return tried, plans
        workers = os.cpu_count() or 1
        best = (tried, plans) if all(p.fits for p in plans) else None
        limit = auto_shard_limit(budget)
        smallest = min(math.prod(layout.chunks) for layout in tried) * dtype.itemsize
        while limit > smallest and (best is None or _at_once(best[1]) < workers):
            limit //= 2
            smaller = resolve_layouts(
                options, shapes, dims, dtype.itemsize, fmt.zarr_format, chunks, budget, limit
            )
            tried, plans = (
                smaller,
                _engine_plans(sources, shapes, factors, steps, smaller, dtype, budget),
            )
            if all(p.fits for p in plans) and (best is None or _at_once(plans) > _at_once(best[1])):
                best = (tried, plans)
        return best if best is not None else (tried, plans)

    layouts, engine_plans = fitted(storage_options, chunks0)
    if not all(plan.fits for plan in engine_plans):
        default = default_chunks(shape0, dims, dtype.itemsize)
        unset = _chunks_unset(storage_options)
        if unset or _chunks_are(storage_options, default):
            # Chunks omezarr chose (its default, or the input's): smaller ones that fit, if any.
            for candidate in _smaller_chunks(default, layouts[0].chunks, dims, dtype.itemsize):
                options = storage_options if unset else _with_chunks(storage_options, candidate)
                tried, tried_plans = fitted(options, candidate)
                if all(plan.fits for plan in tried_plans):
                    whose = "the input's chunks" if unset and given_chunks else "chunks"
                    warnings.warn(
                        f"{what}: {whose} {layouts[0].chunks} on {len(shapes)} levels need about "
                        f"{_need_mib(engine_plans)} MiB at once, more than the memory budget "
                        f"({budget / 2**20:,.0f} MiB): writing chunks {candidate} instead (give "
                        "chunks, or a larger memory_budget, to choose)",
                        UserWarning,
                        stacklevel=4,
                    )
                    layouts, engine_plans = tried, tried_plans
                    break
        if not all(plan.fits for plan in engine_plans):
            units = max((layout.write_unit for layout in layouts), key=math.prod)
            raise InvalidParameterError(
                f"{what}: write units of {list(units)} pixels on {len(shapes)} levels need "
                f"about {_need_mib(engine_plans)} MiB at once, more than the memory budget "
                f"({budget / 2**20:,.0f} MiB); raise ",
                _BUDGET,
                " or write smaller ",
                Parameter("chunks"),
            )
    transformations: list[list[dict[str, Any]]] | None
    if request.coordinate_transformations is not None:
        pixel_sizes(request.scale, dims)  # ignored (the reference's rule), but must be sound
        warnings.warn(_DEPRECATED_COORDINATE_TRANSFORMATIONS, DeprecationWarning, stacklevel=4)
        transformations = request.coordinate_transformations
        fmt.validate_coordinate_transformations(len(shape0), len(shapes), transformations)
    else:
        transformations = level_transformations(shapes, dims, request.scale, fmt)
        if fmt.has_coordinate_systems and not computed_levels and method is not Methods.ZOOM:
            # Computed levels are centred on the pixels they summarise (zoom keeps corners).
            assert transformations is not None  # 0.6 has transformations
            binning_offsets(transformations)
    datasets: list[dict] = [{"path": f"s{i}"} for i in range(len(shapes))]
    if transformations is not None:
        for dataset, transform in zip(datasets, transformations, strict=True):
            dataset["coordinateTransformations"] = transform
    extras = dict(request.metadata)
    if not computed_levels:
        extras.setdefault("type", method.value)
    n_channels = next((shape0[i] for i, d in enumerate(dims) if d == "c"), 1)  # no c: one
    attrs, parameter_arrays = _multiscales_attrs(
        datasets, fmt, parsed_axes, request.name, extras, n_channels
    )
    return WritePlan(
        sources=sources,
        fmt=fmt,
        dims=dims,
        shapes=tuple(shapes),
        factors=tuple(factors),
        method=method,
        steps=tuple(steps),
        layouts=tuple(layouts),
        attrs=attrs,
        memory_budget=budget,
        dtype=dtype.newbyteorder("=") if not dtype.isnative else dtype,
        engine_plans=engine_plans,
        parameter_arrays=parameter_arrays,
    )
