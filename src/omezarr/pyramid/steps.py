"""Which level each pyramid level is computed from, and whole-array downsampling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .methods import Methods, level_shapes, resolve_method
from .resample import LevelResampler, _as_bounds
from .taps import Array, Region, _owned_range

__all__ = [
    "PyramidStep",
    "downsample",
    "downsample_pyramid",
    "pyramid_steps",
]


@dataclass(frozen=True)
class PyramidStep:
    """How one pyramid level is computed: by :attr:`step` from the level :attr:`source`.

    Ownership (:meth:`owned_outputs`) is relative to level 0: output ``i`` belongs to the
    level-0 region holding input ``i * factor`` on every axis, so regions that partition level
    0 own disjoint outputs covering every level. The pixels, though, come from the earlier
    level :attr:`source` (0 is the input), whose values on :attr:`step`'s input region must be
    computed first. A region's pixels therefore equal the same slice of the whole level, which
    is computed from the whole source level.

    Parameters
    ----------
    in_shape : tuple of int
        Level-0 shape.
    factors : tuple of int
        This level's factors relative to level 0.
    source : int
        Index of the level it is computed from (0: level 0).
    step : LevelResampler
        The operator from the source level's shape to this level's shape, with the factors
        relative to the source level.

    Examples
    --------
    >>> steps = pyramid_steps((64, 64), [(2, 2), (4, 4)], "local_mean")
    >>> [(s.source, s.step.factors, s.out_shape) for s in steps]
    [(0, (2, 2), (32, 32)), (1, (2, 2), (16, 16))]
    >>> steps[1].owned_outputs((slice(0, 32), slice(8, 64)))
    (slice(0, 8, None), slice(2, 16, None))
    """

    in_shape: tuple[int, ...]
    factors: tuple[int, ...]
    source: int
    step: LevelResampler

    @property
    def out_shape(self) -> tuple[int, ...]:
        """This level's shape."""
        return self.step.out_shape

    @property
    def method(self) -> Methods:
        """The downsampling method."""
        return self.step.method

    def owned_outputs(self, region: Sequence[slice]) -> Region:
        """The outputs owned by a level-0 region (see :meth:`AxisResampler.owned_outputs`)."""
        bounds = _as_bounds(region, self.in_shape, "region")
        return tuple(
            slice(*_owned_range(start, stop, factor, n_out))
            for (start, stop), factor, n_out in zip(
                bounds, self.factors, self.out_shape, strict=True
            )
        )


def pyramid_steps(
    shape: Sequence[int],
    factors: Sequence[Sequence[int]],
    method: Methods | str,
    dims: Sequence[str] | None = None,
) -> list[PyramidStep]:
    """How every extra level (level 0 excluded) is computed, from the level before it.

    Like the reference writer, each level is downsampled from an earlier level rather than
    from level 0: from the closest earlier level whose factors divide its own on every axis
    (the level just before it in a power-of-two pyramid; level 0 when none divides). This is
    also far cheaper for :attr:`Methods.RESIZE`, whose anti-aliasing kernel widens with the
    factor it is applied with.

    Parameters
    ----------
    shape : sequence of int
        Level-0 shape.
    factors : sequence of sequence of int
        As returned by :func:`level_factors`.
    method : Methods or str
        The downsampling method (see :func:`resolve_method`).
    dims : sequence of str, optional
        Axis names for the warning of :func:`level_shapes`.

    Examples
    --------
    >>> [s.source for s in pyramid_steps((64, 64), [(2, 2), (4, 4), (3, 3), (6, 6)], "nearest")]
    [0, 1, 0, 3]
    """
    resolved = resolve_method(method, Methods.RESIZE)
    shapes = level_shapes(shape, factors, dims)
    absolute = [tuple(1 for _ in shapes[0]), *(tuple(int(f) for f in level) for level in factors)]
    steps = []
    for level in range(1, len(shapes)):
        source = max(
            earlier
            for earlier in range(level)
            if all(f % g == 0 for f, g in zip(absolute[level], absolute[earlier], strict=True))
        )
        relative = tuple(f // g for f, g in zip(absolute[level], absolute[source], strict=True))
        step = LevelResampler(shapes[source], shapes[level], relative, resolved)
        steps.append(PyramidStep(shapes[0], absolute[level], source, step))
    return steps


def downsample_pyramid(
    image: npt.ArrayLike,
    factors: Sequence[Sequence[int]],
    method: Methods | str = Methods.RESIZE,
) -> list[Array]:
    """Every level of the pyramid of a whole array, level 0 (``image`` itself) first.

    Each level is computed from the level :func:`pyramid_steps` names, exactly as the write
    engine computes it region by region.

    Parameters
    ----------
    image : array_like
        Level 0.
    factors : sequence of sequence of int
        Each extra level's integer factors relative to level 0 (see :func:`level_factors`).
    method : Methods or str, default Methods.RESIZE
        The downsampling method.

    Returns
    -------
    list of numpy.ndarray

    Examples
    --------
    >>> [level.tolist() for level in downsample_pyramid(np.arange(8), [(2,), (4,)], "local_mean")]
    [[0, 1, 2, 3, 4, 5, 6, 7], [0, 2, 4, 6], [1, 5]]
    """
    levels = [np.asarray(image)]
    for step in pyramid_steps(levels[0].shape, factors, method):
        source = levels[step.source]
        whole = tuple(slice(0, n) for n in step.out_shape)
        levels.append(step.step.resample(source, (0,) * source.ndim, whole))
    return levels


def downsample(
    image: npt.ArrayLike,
    out_shape: Sequence[int],
    method: Methods | str = Methods.RESIZE,
    factors: Sequence[int] | None = None,
) -> Array:
    """Downsample a whole array to ``out_shape``.

    See :class:`Methods` for what each method computes.

    Parameters
    ----------
    image : array_like
        The input.
    out_shape : sequence of int
        The output shape, ``1 <= out_shape[i] <= image.shape[i]``.
    method : Methods or str, default Methods.RESIZE
        The downsampling method.
    factors : sequence of int, optional
        Integer factors of a pyramid level (see :func:`level_factors`); default
        ``n_in // n_out`` per axis. Only :attr:`Methods.LOCAL_MEAN` depends on them (its window
        size): a pyramid level of factor 16 on 35 pixels averages windows of 16, not 17.

    Returns
    -------
    numpy.ndarray
        In ``image``'s dtype (native byte order).

    Raises
    ------
    ValueError
        If ``out_shape`` or ``factors`` do not fit ``image``.

    Examples
    --------
    >>> downsample(np.arange(8, dtype=np.uint8), (4,), "local_mean")
    array([0, 2, 4, 6], dtype=uint8)
    """
    array = np.asarray(image)
    target = tuple(int(n) for n in out_shape)
    if len(target) != array.ndim or not all(
        (1 <= m <= n) or m == n == 0 for m, n in zip(target, array.shape, strict=True)
    ):
        raise ValueError(
            f"`out_shape` must have one extent per axis in [1, n]; got {target} "
            f"for an image of shape {array.shape}"
        )
    if factors is None:
        factors = tuple(n // m if m else 1 for n, m in zip(array.shape, target, strict=True))
    level = LevelResampler(
        array.shape, target, tuple(factors), resolve_method(method, Methods.RESIZE)
    )
    return level.resample(array, (0,) * array.ndim, tuple(slice(0, n) for n in target))
