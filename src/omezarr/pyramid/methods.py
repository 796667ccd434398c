"""Downsampling methods and pyramid level planning: which method, which factors, which shapes."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from enum import Enum

from .._numbers import is_int

__all__ = [
    "SPATIAL_DIMS",
    "Methods",
    "level_factors",
    "level_shapes",
    "resolve_method",
]

SPATIAL_DIMS = ("z", "y", "x")
"""Axis names that may be downsampled; any other axis (time, channel, …) keeps its size."""

_PLANE_DIMS = ("y", "x")
"""Axes that a plain integer in ``scale_factors`` downsamples (z is left alone)."""


class Methods(Enum):
    """Downsampling methods for multiscale pyramids.

    Every method is computed by this module's own kernels and agrees with the named library
    function (within 1 grey level for integer images, which are rounded instead of truncated).
    In a pyramid each level is computed from the one before it (see :func:`pyramid_steps`), so
    ``n_in`` below is the previous level's extent.
    """

    RESIZE = "resize"
    """Anti-aliased linear interpolation, as ``skimage.transform.resize(image, shape, order=1,
    mode="reflect", anti_aliasing=True, preserve_range=True)``: a Gaussian prefilter with
    ``sigma = (n_in / n_out - 1) / 2`` (truncated at 4 sigma, mirrored at the image edges), then
    linear interpolation at ``(i + 0.5) * n_in / n_out - 0.5``. The default for images."""

    NEAREST = "nearest"
    """Nearest neighbour, as ``skimage.transform.resize(image, shape, order=0,
    anti_aliasing=False)``: output ``i`` copies input ``floor((i + 0.5) * n_in / n_out)``.
    No arithmetic: values and dtype (bool included) are kept. The right choice for labels."""

    LOCAL_MEAN = "local_mean"
    """Block means, as ``skimage.transform.downscale_local_mean(image, factors)``: output ``i``
    is the mean of inputs ``[i * f, (i + 1) * f)``; a level clamped to one pixel is the mean of
    the whole axis."""

    ZOOM = "zoom"
    """Linear interpolation without prefilter, as ``scipy.ndimage.zoom(image, n_out / n_in,
    order=1)``: output ``i`` samples input coordinate ``i * (n_in - 1) / (n_out - 1)``."""


_FALLBACK_TO_RESIZE = {"laplacian": "Laplacian", "gaussian": "Gaussian"}


def resolve_method(method: Methods | str | None, default: Methods) -> Methods:
    """Turn what a user passed as ``method`` into a :class:`Methods` member.

    Parameters
    ----------
    method : Methods, str or None
        A member, its value (``"resize"``) or its name (``"RESIZE"``). ``None`` means
        ``default``. The retired pyramid methods ``"laplacian"`` and ``"gaussian"`` fall back
        to :attr:`Methods.RESIZE` with a :class:`UserWarning`.
    default : Methods
        The method used when ``method`` is None.

    Returns
    -------
    Methods

    Raises
    ------
    ValueError
        If ``method`` is anything else; the message lists the valid values.

    Examples
    --------
    >>> resolve_method("local_mean", Methods.RESIZE)
    <Methods.LOCAL_MEAN: 'local_mean'>
    >>> resolve_method(None, Methods.NEAREST)
    <Methods.NEAREST: 'nearest'>
    """
    if method is None:
        return default
    if isinstance(method, Methods):
        return method
    if isinstance(method, str):
        for member in Methods:
            if method in (member.value, member.name):
                return member
        if method in _FALLBACK_TO_RESIZE:
            warnings.warn(
                f"{_FALLBACK_TO_RESIZE[method]} downsampling is not supported anymore. "
                "Falling back to `resize`",
                UserWarning,
                stacklevel=2,
            )
            return Methods.RESIZE
    valid = ", ".join(repr(member.value) for member in Methods)
    raise ValueError(f"`method` must be one of {valid} (or a Methods member); got {method!r}")


# ---------------------------------------------------------------------------------------------
# Pyramid planning (pure)
# ---------------------------------------------------------------------------------------------


def _checked_factor(value: object, where: str) -> int:
    if not is_int(value) or int(value) < 1:  # type: ignore[call-overload]
        raise ValueError(f"`{where}` must be an int >= 1; got {value!r}")
    return int(value)  # type: ignore[call-overload]


def level_factors(
    scale_factors: Sequence[int] | Sequence[dict[str, int]], dims: Sequence[str]
) -> list[tuple[int, ...]]:
    """Per-axis downsampling factors of every extra pyramid level, relative to level 0.

    Parameters
    ----------
    scale_factors : list or tuple of int, or list or tuple of dict
        Ints: one level per int, downsampled by that factor on the ``"y"`` and ``"x"`` axes
        only (``[2, 4, 8]`` gives factors 2, 4 and 8 — the values are honoured, unlike the
        reference library which always uses powers of two). Dicts: one level per dict mapping
        axis names to factors; axes not named keep factor 1. Only space axes (``"x"``, ``"y"``,
        ``"z"``) may have a factor other than 1. An empty sequence means a single level.
    dims : sequence of str
        The axis names of the image, in order.

    Returns
    -------
    list of tuple of int
        One tuple per level after level 0, in ``dims`` order.

    Raises
    ------
    TypeError
        If ``scale_factors`` is not a list or tuple.
    ValueError
        If a factor is not an int >= 1 (bools are refused), ints and dicts are mixed, or a
        factor shrinks from one level to the next. (A dict naming an axis not in ``dims``, or
        giving a non-space axis a factor other than 1, is ignored with a UserWarning, as the
        reference ignores it.)

    Examples
    --------
    >>> level_factors([2, 4], ("c", "z", "y", "x"))
    [(1, 1, 2, 2), (1, 1, 4, 4)]
    >>> level_factors([{"z": 2, "y": 2, "x": 2}], ("z", "y", "x"))
    [(2, 2, 2)]
    """
    if not isinstance(scale_factors, list | tuple):
        raise TypeError(
            "`scale_factors` must be a list or tuple of ints or of dicts; "
            f"got {type(scale_factors).__name__}"
        )
    dims = tuple(dims)
    if len(set(dims)) != len(dims):
        raise ValueError(f"`dims` must not repeat an axis name; got {dims}")
    kinds = {isinstance(entry, dict) for entry in scale_factors}
    if len(kinds) > 1:
        raise ValueError("`scale_factors` must be all ints or all dicts, not a mix")

    levels: list[tuple[int, ...]] = []
    for position, entry in enumerate(scale_factors):
        where = f"scale_factors[{position}]"
        if isinstance(entry, dict):
            # Entries the reference ignores are ignored here too (a dict written once for 3-D
            # and 2-D images), but said, lest a misspelt axis go unseen.
            unknown = [name for name in entry if name not in dims]
            if unknown:
                warnings.warn(
                    f"`{where}` names axes {unknown} that are not in dims {dims}: ignored",
                    UserWarning,
                    stacklevel=3,
                )
            per_axis = {d: _checked_factor(entry.get(d, 1), f"{where}[{d!r}]") for d in dims}
            for name, factor in list(per_axis.items()):
                if factor != 1 and name not in SPATIAL_DIMS:
                    warnings.warn(
                        f"`{where}` downsamples axis {name!r} by {factor}; only space axes "
                        f"{SPATIAL_DIMS} are downsampled: ignored",
                        UserWarning,
                        stacklevel=3,
                    )
                    per_axis[name] = 1
        else:
            factor = _checked_factor(entry, where)
            per_axis = {d: factor if d in _PLANE_DIMS else 1 for d in dims}
        level = tuple(per_axis[d] for d in dims)
        if levels and any(now < before for now, before in zip(level, levels[-1], strict=True)):
            raise ValueError(
                f"`scale_factors` must not shrink from one level to the next; "
                f"level {position} has {level} after {levels[-1]}"
            )
        levels.append(level)
    return levels


def level_shapes(
    shape: Sequence[int],
    factors: Sequence[Sequence[int]],
    dims: Sequence[str] | None = None,
) -> list[tuple[int, ...]]:
    """Shapes of all pyramid levels, level 0 included.

    Each level's extent is ``max(1, n // f)`` for level-0 extent ``n`` and factor ``f`` (an
    empty axis stays empty).

    Parameters
    ----------
    shape : sequence of int
        The level-0 shape.
    factors : sequence of sequence of int
        Per-axis factors of each extra level relative to level 0, as :func:`level_factors`
        returns them.
    dims : sequence of str, optional
        Axis names, used in the warning; axis positions are used when omitted.

    Returns
    -------
    list of tuple of int
        ``len(factors) + 1`` shapes.

    Raises
    ------
    ValueError
        If a level's factors do not have one entry per axis.

    Warns
    -----
    UserWarning
        "Dimension {d} is too small to downsample further." when an extent is clamped to 1.

    Examples
    --------
    >>> level_shapes((3, 100, 100), [(1, 2, 2), (1, 4, 4)])
    [(3, 100, 100), (3, 50, 50), (3, 25, 25)]
    """
    base = tuple(int(n) for n in shape)
    names = tuple(dims) if dims is not None else tuple(str(axis) for axis in range(len(base)))
    if len(names) != len(base):
        raise ValueError(f"`dims` must name each of the {len(base)} axes; got {names}")
    shapes = [base]
    for level, level_factors_ in enumerate(factors, start=1):
        if len(level_factors_) != len(base):
            raise ValueError(
                f"`factors` of level {level} must have one entry per axis ({len(base)}); "
                f"got {tuple(level_factors_)}"
            )
        extents = []
        for name, n, factor in zip(names, base, level_factors_, strict=True):
            extent = n // factor
            if extent == 0 and n > 0:
                warnings.warn(
                    f"Dimension {name} is too small to downsample further.",
                    UserWarning,
                    stacklevel=2,
                )
                extent = 1
            extents.append(extent)
        shapes.append(tuple(extents))
    return shapes
