"""The pixel writers of the reference API: write_image, write_multiscale and their label forms."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import zarr

from .._compat import Scaler, _scaler_arguments
from ..engine.targets import Progress
from ..io.storage import (
    GroupLike,
)
from ..ngff.documents import axis_names, valid_axes
from ..ngff.format import Format, FormatV04
from ..pyramid.methods import Methods, resolve_method
from ..types import AxesType, JSONDict, StorageOptions
from .execute import plan_pixels, write_pixels
from .request import ArrayLike, LabelRequest, PixelRequest

__all__ = [
    "write_image",
    "write_labels",
    "write_multiscale",
    "write_multiscale_labels",
]


def write_image(
    image: ArrayLike,
    group: GroupLike,
    scale_factors: Sequence[int] | Sequence[dict[str, int]] = (2, 4, 8, 16),
    method: Methods | str | None = Methods.RESIZE,
    scaler: Scaler | None = None,
    fmt: Format | None = None,
    axes: AxesType = None,
    coordinate_transformations: list[list[dict[str, Any]]] | None = None,
    storage_options: StorageOptions = None,
    compute: bool | None = True,
    scale: dict[str, float] | None = None,
    axes_units: dict[str, str] | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    memory_budget: int | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    **metadata: str | JSONDict | list[JSONDict],
) -> list:
    """Write an image and its multiscale pyramid as OME-Zarr, in one bounded-memory pass.

    Parameters
    ----------
    image : numpy.ndarray, dask.array.Array, zarr.Array or array-like
        2-D to 5-D pixels (shape, dtype and ``__getitem__``); read region by region, never
        loaded whole unless it already is.
    group : zarr.Group, str or os.PathLike
        The image group, or a path or URL to create it at.
    scale_factors : list of int or list of dict, default (2, 4, 8, 16)
        Ints downsample y and x (not z) by each factor relative to level 0; dicts give per-axis
        factors (missing axes 1). Time and channel axes are never downsampled. ``[]`` writes
        a single level.
    method : Methods or str, default Methods.RESIZE
        ``resize`` (anti-aliased linear), ``nearest``, ``local_mean`` or ``zoom``.
    scaler : Scaler, optional
        Deprecated: mapped to ``scale_factors`` and ``method``.
    fmt : Format, optional
        The NGFF version; 0.5 (zarr v3) by default, 0.4 (zarr v2) on request.
    axes : str, list of str or list of dict, optional
        Axis names or dicts; guessed for 2-D (yx) and 5-D (tczyx) only.
    coordinate_transformations : list of list of dict, optional
        Deprecated: explicit transformations per level; takes precedence over ``scale``.
    storage_options : dict or list of dict, optional
        ``chunks``, ``shards`` (zarr v3; ``"auto"`` for shards of several chunks up to
        128 MiB), ``compressor``/``compressors`` and other :func:`zarr.create_array` options,
        for every level or per level. Default compressor: Blosc zstd level 1 with shuffle
        and 512 KiB blocks;
        pass ``compressors=zarr.codecs.ZstdCodec(level=0)`` for zarr's default.
    compute : bool, default True
        False returns ``[dask.delayed]``: computing it writes every pixel and then the
        metadata. Under an active ``dask.distributed`` client the work runs on its workers.
    scale : dict of str to float, optional
        Physical pixel size per axis at level 0 (missing axes 1.0).
    axes_units : dict of str to str, optional
        Units per axis, e.g. ``{"x": "micrometer"}``.
    overwrite : bool, default False
        Replace an image already in ``group`` (no chunk of it left over); without it, writing
        over an image raises ValueError. On a local disk the new image is written beside the
        old one, which stays whole until the new one is complete; on other stores the old
        one is removed first. Its labels are kept if the new levels have the old shapes, else
        removed with a RuntimeWarning naming them.
    resume : bool, default False
        Finish an interrupted write of the same image with the same arguments: the level
        arrays in ``group`` are kept (they must have the planned shape, dtype, chunks,
        shards and codecs, else ValueError), every task whose chunks (or shards) on every
        level are stored and decode is skipped (counted in ``Progress.regions_skipped``),
        the others are written again, then the metadata. A complete image is checked and
        left as it is. Assumes the input is the same as before; excludes ``overwrite``.
    memory_budget : int or str, optional
        Bytes the write may hold, e.g. ``"512M"``; default ``$OMEZARR_MEMORY_BUDGET`` or
        256 MiB.
    progress : callable, optional
        Called with a :class:`omezarr.engine.Progress` after every region.
    **metadata
        ``name``, ``omero``, ``metadata`` and any other multiscales key.

    Returns
    -------
    list
        ``[]`` when computed, else one ``dask.delayed`` object.

    Raises
    ------
    ValueError, TypeError
        For any invalid argument, before anything is written.

    Examples
    --------
    >>> import numpy as np
    >>> write_image(np.zeros((64, 64), np.uint16), "img.ome.zarr", scale_factors=[2])  # doctest: +SKIP
    []
    """
    request = _image_request(dict(locals()))
    return write_pixels(group, request, fmt)


_PASSED_ON = (
    "scale", "coordinate_transformations", "storage_options", "memory_budget", "overwrite",
    "resume", "compute", "progress",
)  # fmt: skip
"""Parameters of :func:`write_image` that go into its request as they are."""


def _image_request(arguments: dict[str, Any]) -> PixelRequest:
    """The request :func:`write_image` makes of its arguments (every parameter by name,
    ``metadata`` the dict of extra keywords), checked when planned."""
    image, scaler = arguments["image"], arguments["scaler"]
    axes, axes_units = arguments["axes"], arguments["axes_units"]
    scale_factors, method = arguments["scale_factors"], arguments["method"]
    if scaler is not None:
        scale_factors, method = _scaler_arguments(
            scaler, lambda: axis_names(valid_axes(axes, axes_units, FormatV04(), len(image.shape)))
        )
    metadata = dict(arguments["metadata"])
    name = metadata.pop("name", None)
    request = PixelRequest(
        sources=(image,),
        name=str(name) if name is not None else None,
        metadata=metadata,
        scale_factors=scale_factors,
        method=resolve_method(method, Methods.RESIZE),
        axes=axes,
        axes_units=axes_units,
        **{key: arguments[key] for key in _PASSED_ON},
    )
    return request


def planned_image(image: ArrayLike, fmt: Format | None = None, **arguments: Any) -> zarr.Group:
    """What ``write_image(image, group, fmt=fmt, **arguments)`` would write, in memory.

    Every argument is checked and the pyramid planned as for a write; the returned group holds
    the metadata and the level arrays (shapes, chunks, codecs) without pixels, so that a dry
    run costs the same for any size of input (no task graph, no pixel read).

    Raises
    ------
    ValueError, TypeError
        As :func:`write_image` would, for the same arguments.
    """
    bound = inspect.signature(write_image).bind(image, None, **arguments)
    bound.apply_defaults()
    return plan_pixels(_image_request(bound.arguments), fmt)


def write_multiscale(
    pyramid: Sequence[ArrayLike],
    group: GroupLike,
    fmt: Format | None = None,
    axes: AxesType = None,
    coordinate_transformations: list[list[dict[str, Any]]] | None = None,
    storage_options: StorageOptions = None,
    name: str | None = None,
    compute: bool | None = True,
    scale: dict[str, float] | None = None,
    axes_units: dict[str, str] | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    memory_budget: int | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    **metadata: str | JSONDict | list[JSONDict],
) -> list:
    """Write a pyramid already computed (largest level first) with its multiscales metadata.

    Parameters are those of :func:`write_image` without downsampling; each level's
    ``coordinateTransformations`` come from ``scale`` and the level shapes.

    Examples
    --------
    >>> write_multiscale([level0, level1], "img.ome.zarr", axes="yx")  # doctest: +SKIP
    []
    """
    request = PixelRequest.of_pyramid(
        pyramid,
        name=name,
        metadata=metadata,
        axes=axes,
        axes_units=axes_units,
        scale=scale,
        coordinate_transformations=coordinate_transformations,
        storage_options=storage_options,
        memory_budget=memory_budget,
        overwrite=overwrite,
        resume=resume,
        compute=compute,
        progress=progress,
    )
    return write_pixels(group, request, fmt)


def write_labels(
    labels: ArrayLike,
    group: GroupLike,
    name: str,
    scaler: Scaler | None = None,
    scale_factors: Sequence[int] | Sequence[dict[str, int]] = (2, 4, 8, 16),
    method: Methods | str | None = Methods.NEAREST,
    fmt: Format | None = None,
    axes: AxesType = None,
    coordinate_transformations: list[list[dict[str, Any]]] | None = None,
    storage_options: StorageOptions = None,
    label_metadata: JSONDict | None = None,
    scale: dict[str, float] | None = None,
    axes_units: dict[str, str] | None = None,
    compute: bool | None = True,
    *,
    overwrite: bool = False,
    resume: bool = False,
    memory_budget: int | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    **metadata: JSONDict,
) -> list:
    """Write a label image into ``labels/{name}`` with multiscales and image-label metadata.

    Parameters are those of :func:`write_image`, plus ``name`` (the label image's name) and
    ``label_metadata`` (``colors``, ``properties``, ``source`` …; ``source`` defaults to
    ``{"image": "../../"}``). The default method is nearest, which never invents label values.
    The ``labels`` group lists every label image once; other labels are kept.

    Examples
    --------
    >>> write_labels(mask, "img.ome.zarr", name="cells", axes="zyx")  # doctest: +SKIP
    []
    """
    label = LabelRequest(name, label_metadata)
    if scaler is not None:
        scale_factors, method = _scaler_arguments(
            scaler, lambda: axis_names(valid_axes(axes, axes_units, FormatV04(), len(labels.shape)))
        )
    request = PixelRequest(
        sources=(labels,),
        label=label,
        name=name,
        metadata=metadata,
        scale_factors=scale_factors,
        method=resolve_method(method, Methods.NEAREST),
        axes=axes,
        axes_units=axes_units,
        scale=scale,
        coordinate_transformations=coordinate_transformations,
        storage_options=storage_options,
        memory_budget=memory_budget,
        overwrite=overwrite,
        resume=resume,
        compute=compute,
        progress=progress,
    )
    return write_pixels(group, request, fmt)


def write_multiscale_labels(
    pyramid: Sequence[ArrayLike],
    group: GroupLike,
    name: str,
    fmt: Format | None = None,
    axes: AxesType = None,
    coordinate_transformations: list[list[dict[str, Any]]] | None = None,
    storage_options: StorageOptions = None,
    label_metadata: JSONDict | None = None,
    scale: dict[str, float] | None = None,
    axes_units: dict[str, str] | None = None,
    compute: bool | None = True,
    *,
    overwrite: bool = False,
    resume: bool = False,
    memory_budget: int | str | None = None,
    progress: Callable[[Progress], None] | None = None,
    **metadata: JSONDict,
) -> list:
    """Write a computed label pyramid into ``labels/{name}`` with its metadata.

    Examples
    --------
    >>> write_multiscale_labels([mask, mask[::2, ::2]], "img.ome.zarr", "cells", axes="yx")  # doctest: +SKIP
    []
    """
    request = PixelRequest.of_pyramid(
        pyramid,
        label=LabelRequest(name, label_metadata),
        name=name,
        metadata=metadata,
        axes=axes,
        axes_units=axes_units,
        scale=scale,
        coordinate_transformations=coordinate_transformations,
        storage_options=storage_options,
        memory_budget=memory_budget,
        overwrite=overwrite,
        resume=resume,
        compute=compute,
        progress=progress,
    )
    return write_pixels(group, request, fmt)
