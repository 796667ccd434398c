"""Compatibility with the reference API: the deprecated Scaler, refused versions, private helpers."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import MistypedParameterError
from ._numbers import is_int
from .ngff.documents import axis_names, valid_axes
from .ngff.format import CurrentFormat, Format
from .pyramid.lazy import _resample_dask
from .pyramid.methods import _PLANE_DIMS, Methods, _checked_factor, resolve_method
from .pyramid.steps import downsample_pyramid, pyramid_steps
from .types import AxesType

__all__ = [
    "Scaler",
]

# ---------------------------------------------------------------------------------------------
# Deprecated Scaler
# ---------------------------------------------------------------------------------------------

_SCALER_METHODS = ("gaussian", "laplacian", "local_mean", "nearest", "resize_image", "zoom")

_SCALER_TO_METHOD = {
    "nearest": Methods.NEAREST,
    "local_mean": Methods.LOCAL_MEAN,
    "zoom": Methods.ZOOM,
    "resize_image": Methods.RESIZE,
}


@dataclass
class Scaler:
    """Deprecated helper that builds pyramids on the last two axes.

    .. deprecated::
        Use the ``scale_factors`` and ``method`` arguments of the writer instead;
        :meth:`to_pyramid_arguments` translates a Scaler into them.

    All methods run on this module's kernels and compute every level from the one before it
    (NumPy in,
    NumPy out; dask in, dask out). Unlike the reference, ``gaussian`` and ``laplacian`` fall
    back to ``resize`` with a warning and ``zoom`` downsamples (the reference zoomed *up*).

    Parameters
    ----------
    copy_metadata, in_place, labeled : bool
        Kept for compatibility; unused (they only served the removed ``scale`` to disk).
    downscale : int, default 2
        Factor between consecutive levels on the last two axes.
    max_layer : int, default 4
        Number of levels after level 0.
    method : str, default "nearest"
        One of :meth:`methods`.
    order : int, default 1
        Interpolation order of :meth:`resize_image`: 0 is nearest, anything else ``resize``.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     scaler = Scaler(max_layer=2)
    >>> [level.shape for level in scaler.nearest(np.zeros((1, 64, 64)))]
    [(1, 64, 64), (1, 32, 32), (1, 16, 16)]
    """

    copy_metadata: bool = False
    downscale: int = 2
    in_place: bool = False
    labeled: bool = False
    max_layer: int = 4
    method: str = "nearest"
    order: int = 1

    def __post_init__(self) -> None:
        warnings.warn(
            "`Scaler` is deprecated; use scale_factors and method (the `scale_factors` and "
            "`method` arguments of write_image / write_labels) instead.",
            DeprecationWarning,
            stacklevel=3,
        )

    @staticmethod
    def methods() -> Iterator[str]:
        """Yield the names of the downsampling methods a Scaler offers."""
        yield from _SCALER_METHODS

    @property
    def func(self) -> Callable[[Any], Any]:
        """The bound method named by ``self.method``.

        Raises
        ------
        ValueError
            If ``method`` is not one of :meth:`methods`.
        """
        if self.method not in _SCALER_METHODS:
            raise ValueError(f"`method` must be one of {_SCALER_METHODS}; got {self.method!r}")
        func: Callable[[Any], Any] = getattr(self, self.method)
        return func

    def to_pyramid_arguments(self, dims: Sequence[str]) -> tuple[list[dict[str, int]], Methods]:
        """The ``scale_factors`` and ``method`` that replace this Scaler for axes ``dims``.

        Levels are ``downscale ** k`` on ``"y"`` and ``"x"`` for ``k = 1 … max_layer``.
        ``gaussian`` and ``laplacian`` map to :attr:`Methods.RESIZE` with a warning.

        Examples
        --------
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", DeprecationWarning)
        ...     scaler = Scaler(max_layer=2, method="local_mean")
        >>> scaler.to_pyramid_arguments(("c", "y", "x"))
        ([{'y': 2, 'x': 2}, {'y': 4, 'x': 4}], <Methods.LOCAL_MEAN: 'local_mean'>)
        """
        downscale = _checked_factor(self.downscale, "downscale")
        scale_factors = [
            {d: downscale**k for d in dims if d in _PLANE_DIMS}
            for k in range(1, self._layers() + 1)
        ]
        return scale_factors, self._resolved_method(self.method)

    def _layers(self) -> int:
        if not is_int(self.max_layer) or self.max_layer < 0:
            raise ValueError(f"`max_layer` must be an int >= 0; got {self.max_layer!r}")
        return int(self.max_layer)

    @staticmethod
    def _resolved_method(name: str) -> Methods:
        if name in _SCALER_TO_METHOD:
            return _SCALER_TO_METHOD[name]
        if name not in _SCALER_METHODS:
            raise ValueError(f"`method` must be one of {_SCALER_METHODS}; got {name!r}")
        return resolve_method(name, Methods.RESIZE)

    def _downscaled(self, image: Any, method: Methods, layers: Sequence[int]) -> list[Any]:
        """Levels ``downscale ** k`` (for ``k`` in ``layers``) of ``image`` on its last two axes."""
        import dask.array as da

        downscale = _checked_factor(self.downscale, "downscale")
        ndim = len(image.shape)
        factors = [
            tuple(downscale**k if axis >= ndim - 2 else 1 for axis in range(ndim)) for k in layers
        ]
        if isinstance(image, da.Array):
            pyramid = [image]
            for step in pyramid_steps(image.shape, factors, method):
                pyramid.append(_resample_dask(pyramid[step.source], step.step, image.chunksize))
            return pyramid[1:]
        return downsample_pyramid(image, factors, method)[1:]

    def _pyramid(self, base: Any, method: Methods) -> list[Any]:
        return [base, *self._downscaled(base, method, range(1, self._layers() + 1))]

    def nearest(self, base: Any) -> list[Any]:
        """Pyramid of ``base`` by nearest neighbour (:attr:`Methods.NEAREST`)."""
        return self._pyramid(base, Methods.NEAREST)

    def local_mean(self, base: Any) -> list[Any]:
        """Pyramid of ``base`` by block means (:attr:`Methods.LOCAL_MEAN`)."""
        return self._pyramid(base, Methods.LOCAL_MEAN)

    def zoom(self, base: Any) -> list[Any]:
        """Pyramid of ``base`` by linear zoom (:attr:`Methods.ZOOM`), largest first."""
        return self._pyramid(base, Methods.ZOOM)

    def gaussian(self, base: Any) -> list[Any]:
        """Retired: warns and builds the pyramid with :attr:`Methods.RESIZE`."""
        return self._pyramid(base, resolve_method("gaussian", Methods.RESIZE))

    def laplacian(self, base: Any) -> list[Any]:
        """Retired: warns and builds the pyramid with :attr:`Methods.RESIZE`."""
        return self._pyramid(base, resolve_method("laplacian", Methods.RESIZE))

    def resize_image(self, image: Any) -> Any:
        """One level: ``image`` downsampled by ``downscale`` on its last two axes.

        ``order == 0`` uses :attr:`Methods.NEAREST`, any other order :attr:`Methods.RESIZE`.
        """
        method = Methods.NEAREST if self.order == 0 else Methods.RESIZE
        return self._downscaled(image, method, [1])[0]


def _get_valid_axes(
    ndim: int | None = None,
    axes: AxesType = None,
    axes_units: dict[str, str] | None = None,
    fmt: Format | None = None,
) -> list[str] | list[dict[str, Any]] | None:
    """Axes valid for ``fmt``: guessed as yx (2-D) or tczyx (5-D); None for 0.1/0.2.

    The reference's helper: the same parameters, results and warnings (unknown units);
    ``fmt`` None is the current format, the reference's default.

    Raises
    ------
    ValueError
        For 3-D/4-D data without axes, a count that differs from ``ndim``, or invalid axes.
    TypeError
        For axes that are no string or list (a :class:`MistypedParameterError`, also a
        ValueError), as the reference.

    Examples
    --------
    >>> _get_valid_axes(2)
    [{'name': 'y', 'type': 'space'}, {'name': 'x', 'type': 'space'}]
    >>> _get_valid_axes(3, "cyx", {"x": "micrometer"})[2]
    {'name': 'x', 'type': 'space', 'unit': 'micrometer'}
    """
    if axes is not None and not isinstance(axes, str | Sequence):
        # Checked before the count, which would call a number of axes a wrong count.
        raise MistypedParameterError(
            f"axes: expected a string or a list of names or axis dicts, not {type(axes).__name__}"
        )
    return valid_axes(axes, axes_units, fmt if fmt is not None else CurrentFormat(), ndim)


def _extract_dims_from_axes(
    axes: Sequence[str] | Sequence[Mapping[str, Any]] | None,
) -> tuple[str, ...]:
    """Axis names of axes from :func:`_get_valid_axes` (tczyx for 0.1/0.2)."""
    return axis_names(axes)


_DEPRECATED_SCALER = (
    "The 'scaler' argument is deprecated and will be removed in a future version. Please use the "
    "'scale_factors' and 'method' arguments instead."
)


class _RemovedFormatError(DeprecationWarning, ValueError):
    """Writing a removed NGFF version: a DeprecationWarning raised as in the reference API, and
    a ValueError as every refused argument."""


def _check_writable_format(fmt: Format) -> None:
    if fmt.version in ("0.1", "0.2", "0.3"):
        raise _RemovedFormatError(
            f"fmt: Writing ome-zarr v{fmt.version} is deprecated and has been removed in "
            "version 0.15.0."
        )


def _scaler_arguments(scaler: Any, dims_for: Callable[[], tuple[str, ...]]) -> tuple[Any, Methods]:
    warnings.warn(_DEPRECATED_SCALER, DeprecationWarning, stacklevel=3)
    if not isinstance(scaler, Scaler):
        raise TypeError(f"scaler: expected an omezarr.scale.Scaler, not {type(scaler).__name__}")
    return scaler.to_pyramid_arguments(dims_for())
