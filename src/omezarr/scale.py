"""Downsampling methods, pyramid planning and region-exact downsampling kernels on NumPy blocks.

Every pyramid level is computed from an earlier level (:func:`pyramid_steps`: the level just
before it in a power-of-two pyramid, as the reference writer does) by a separable linear
operator: along each axis, every output pixel ``i`` is a weighted sum of a fixed list of input
pixels ("taps") that depends only on the *global* index ``i``. Edge reflection is folded into
the tap indices, so a region computed from a block holding its
:meth:`LevelResampler.input_region` is bit-identical to the same slice of the whole-array
result (NaNs stay NaN, though NumPy may not keep their sign and payload bits). That is what
lets a chunked, single-pass write engine compute any region of any level from a region of
level 0 (plus a halo): it computes each level over the region its own pixels and the next
levels' need, from the previous level's block.

Speed comes from doing that arithmetic in fewer, bigger NumPy calls: outputs whose taps
advance evenly (all interior outputs of a power-of-two level) read each tap as a strided
slice and multiply it by one scalar weight; the other outputs gather all their taps at once;
levels are computed in cache-sized tiles whose temporaries live in scratch buffers kept per
thread (about 8 MiB, 16 MiB for 64-bit data) and reused from call to call. Every output is
computed from the same taps, weights and order of operations however it is grouped, so the
grouping never changes a bit. :attr:`Methods.LOCAL_MEAN` sums integer data exactly in an
integer dtype and divides once. With numba installed (``omezarr[fast]``), the linear axis
operator runs as compiled loops instead (:mod:`omezarr._kernels`: one pass per axis, 2–4×
faster, the same bits; ``OMEZARR_KERNELS=numpy`` turns them off).

Layers
------
- :class:`Methods` and :func:`resolve_method`: which downsampling to use.
- :func:`level_factors` and :func:`level_shapes`: pure pyramid planning.
- :class:`AxisResampler` (one axis) and :class:`LevelResampler` (one step, n-d): the kernels;
  :class:`Mosaic`, a block given as the pieces it was read in, which they slice tile by tile.
- :class:`PyramidStep` and :func:`pyramid_steps`: which level each level is computed from.
- :func:`downsample` and :func:`downsample_pyramid`: a whole array in one call.
- ``_build_pyramid`` and the deprecated :class:`Scaler`: dask and compatibility layers (dask is
  imported only inside them).

No storage code is imported here.
"""

from __future__ import annotations

import itertools
import math
import numbers
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import dask.array as da

__all__ = [
    "SPATIAL_DIMS",
    "AxisResampler",
    "LevelResampler",
    "Methods",
    "Mosaic",
    "PyramidStep",
    "Region",
    "Scaler",
    "downsample",
    "downsample_pyramid",
    "level_factors",
    "level_shapes",
    "pyramid_steps",
    "resolve_method",
]

SPATIAL_DIMS = ("z", "y", "x")
"""Axis names that may be downsampled; any other axis (time, channel, …) keeps its size."""

_PLANE_DIMS = ("y", "x")
"""Axes that a plain integer in ``scale_factors`` downsamples (z is left alone)."""

Region: TypeAlias = tuple[slice, ...]
"""An n-d box: one ``slice(start, stop)`` per axis, with int bounds and no step."""

Array: TypeAlias = npt.NDArray[Any]

_TILE_VALUES = 2**19
"""About how many values the first pass of :meth:`LevelResampler.resample` computes at a
time: enough to amortise NumPy's per-call overhead, few enough for its temporaries to stay
in cache (and for memory to stay bounded)."""

_OP_VALUES = 2**16
"""About how many values one ufunc call of :meth:`AxisResampler.apply` works on: enough to
amortise NumPy's per-call overhead, few enough for its operands to stay in cache."""

_PHASE_VALUES = 2**19
"""At most how many input values :meth:`AxisResampler.apply` copies at a time (converted to
float and split into contiguous phases) for the taps of a run to read them faster."""

_MIN_ADD_VALUES = 2**9
"""Below this many values per tap, one element-by-element ``np.add.accumulate`` over all taps
beats one ``np.add`` call per tap."""

_GATHER_CALLS = 6
"""About how many NumPy calls gathering a range of outputs costs, whatever its taps."""

_MIN_RUN_VALUES = 2**13
"""Runs of fewer values are gathered instead: their two ufunc calls per tap would cost more
than their arithmetic."""

_MIN_INNER_RUN = 2**7
"""Runs of fewer outputs along the innermost axis are gathered instead: their strided slices
would make NumPy loop over too short rows."""


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


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _checked_factor(value: object, where: str) -> int:
    if not _is_int(value) or int(value) < 1:  # type: ignore[call-overload]
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
        If a factor is not an int >= 1 (bools are refused), a dict names an axis not in
        ``dims``, a non-space axis gets a factor other than 1, ints and dicts are mixed, or a
        factor shrinks from one level to the next.

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
            unknown = [name for name in entry if name not in dims]
            if unknown:
                raise ValueError(f"`{where}` names axes {unknown} that are not in dims {dims}")
            per_axis = {d: _checked_factor(entry.get(d, 1), f"{where}[{d!r}]") for d in dims}
        else:
            factor = _checked_factor(entry, where)
            per_axis = {d: factor if d in _PLANE_DIMS else 1 for d in dims}
        for name, factor in per_axis.items():
            if factor != 1 and name not in SPATIAL_DIMS:
                raise ValueError(
                    f"`{where}` downsamples axis {name!r} by {factor}; only space axes "
                    f"{SPATIAL_DIMS} may have a factor other than 1"
                )
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


# ---------------------------------------------------------------------------------------------
# Taps: for every global output index, the input indices and weights it is made of
# ---------------------------------------------------------------------------------------------


def _mirror(index: Array, n: int) -> Array:
    """Fold indices into ``[0, n)`` by mirroring about the edge pixels (``d c b | a b c d``)."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    folded = np.abs(index) % period
    return np.where(folded >= n, period - folded, folded)


def _compact(index: Array, weights: Array) -> tuple[Array, Array]:
    """Merge repeated indices per row, sort them, drop zero weights and pad rows equally.

    Rows with fewer taps than the widest row are padded with weight 0 at their first index, so
    every row has the same number of taps (a non-finite input there turns into NaN: 0 * inf).
    """
    n_out = index.shape[0]
    first = index.min(axis=1)
    width = int((index.max(axis=1) - first).max()) + 1
    band = np.zeros((n_out, width))
    rows = np.arange(n_out)[:, None]
    np.add.at(band, (rows, index - first[:, None]), weights)
    nonzero = band != 0
    taps = max(int(nonzero.sum(axis=1).max()), 1)
    order = np.argsort(~nonzero, axis=1, kind="stable")[:, :taps]
    compact_weights = np.take_along_axis(band, order, axis=1)
    compact_index = first[:, None] + order
    compact_index = np.where(compact_weights != 0, compact_index, compact_index[:, :1])
    return compact_index, compact_weights


def _taps(n_in: int, n_out: int, factor: int, method: Methods) -> tuple[Array, Array]:
    """Input indices and float64 weights, shape ``(n_out, taps)``, of every output pixel."""
    if n_out == 0:
        return np.zeros((0, 1), dtype=np.int64), np.zeros((0, 1))
    rows = np.arange(n_out, dtype=np.int64)
    if method is Methods.NEAREST:
        # Same float expression as scipy's order-0 zoom in grid mode, so ties round alike.
        centre = (rows + 0.5) * (n_in / n_out) - 0.5
        index = np.clip(np.floor(centre + 0.5).astype(np.int64), 0, n_in - 1)
        return index[:, None], np.ones((n_out, 1))
    if method is Methods.LOCAL_MEAN:
        starts = rows * factor
        counts = np.minimum(starts + factor, n_in) - starts
        offsets = np.arange(factor)
        index = np.minimum(starts[:, None] + offsets, n_in - 1)
        weights = np.where(offsets < counts[:, None], 1.0 / counts[:, None], 0.0)
        return _compact(index, weights)

    sigma = 0.0
    if method is Methods.ZOOM:
        step = (n_in - 1) / (n_out - 1) if n_out > 1 else 1.0
        coordinate = rows * step
    else:
        ratio = n_in / n_out
        coordinate = (rows + 0.5) * ratio - 0.5
        sigma = max(0.0, (ratio - 1) / 2)
    left = np.floor(coordinate).astype(np.int64)
    fraction = coordinate - left
    # Downsampling keeps coordinates in [0, n_in - 1]; clamping the last one absorbs rounding
    # (scipy's constant mode turns that case into a spurious 0).
    past_end = left >= n_in - 1
    left = np.where(past_end, n_in - 1, left)
    fraction = np.where(past_end, 0.0, fraction)
    index = np.stack([left, left + 1], axis=1)
    weights = np.stack([1.0 - fraction, fraction], axis=1)
    if sigma > 1e-15:  # scipy.ndimage.gaussian_filter skips axes with a smaller sigma
        radius = int(4.0 * sigma + 0.5)
        offsets = np.arange(-radius, radius + 1)
        kernel = np.exp(-0.5 / (sigma * sigma) * offsets.astype(np.float64) ** 2)
        kernel /= kernel.sum()
        index = (index[:, :, None] + offsets).reshape(n_out, -1)
        weights = (weights[:, :, None] * kernel).reshape(n_out, -1)
    return _compact(_mirror(index, n_in), weights)


def _owned_range(in_start: int, in_stop: int, factor: int, n_out: int) -> tuple[int, int]:
    """Outputs ``[a, b)`` (of ``n_out``) owned by inputs ``[in_start, in_stop)``: output ``i``
    belongs to the range holding input ``i * factor``."""
    start = min(-(-in_start // factor), n_out)
    return start, max(start, min(-(-in_stop // factor), n_out))


def _accumulator_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """float64 for 32/64-bit ints and float64; float32 for everything smaller."""
    if dtype.itemsize >= 8 or (dtype.kind in "iu" and dtype.itemsize >= 4):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def _check_numeric(dtype: np.dtype[Any], method: Methods) -> None:
    if dtype.kind not in "biuf":
        raise TypeError(
            f"`block` of dtype {dtype} cannot be downsampled with {method.value!r}; "
            "use bool, int, uint or float data (or 'nearest')"
        )


def _gather(block: Array, index: Array, axis: int) -> Array:
    """``np.take(block, index, axis)``, as a strided view when ``index`` is evenly spaced."""
    if index.size:
        step = int(index[1] - index[0]) if index.size > 1 else 1
        if step > 0 and np.array_equal(index, index[0] + step * np.arange(index.size)):
            picker = [slice(None)] * block.ndim
            picker[axis] = slice(int(index[0]), int(index[-1]) + 1, step)
            return block[tuple(picker)]
    return np.take(block, index, axis=axis)


class _Scratch(threading.local):
    """Temporary arrays of the kernels, kept per thread and reused from call to call.

    Allocating and freeing the temporaries of every tile anew makes the C allocator give
    the memory back to the system and fault it in again page by page, which can cost more
    than the arithmetic. An array handed out under a name is overwritten by the next request
    for that name in the same thread, so none ever leaves this module's kernels.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, Array] = {}

    def array(self, name: str, shape: Sequence[int], dtype: np.dtype[Any]) -> Array:
        """An uninitialised array of ``shape`` and ``dtype`` in the buffer ``name``."""
        size = math.prod(shape) * dtype.itemsize
        buffer = self.buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self.buffers[name] = np.empty(size, dtype=np.uint8)
        return buffer[:size].view(dtype).reshape(shape)


_SCRATCH = _Scratch()


def _cast_into(values: Array, destination: Array) -> None:
    """Store accumulated float ``values`` in ``destination``: ints are rounded to nearest and
    clipped to their range, bools are ``values >= 0.5``, floats are cast. ``values`` may be
    overwritten."""
    target = destination.dtype
    if target.kind == "b":
        np.greater_equal(values, 0.5, out=destination)
        return
    if target.kind in "iu":
        info = np.iinfo(target)
        low, high = float(info.min), float(info.max)
        if high > info.max:  # 2**63 - 1 and 2**64 - 1 round up as floats
            high = float(np.nextafter(high, 0.0))
        np.rint(values, out=values)
        np.clip(values, low, high, out=values)
    np.copyto(destination, values, casting="unsafe")


def _along(axis: int, piece: slice) -> tuple[slice, ...]:
    """An index applying ``piece`` to ``axis`` and taking every earlier (and later) axis whole."""
    return (slice(None),) * axis + (piece,)


def _broadcast_along(values: Array, axis: int, ndim: int) -> Array:
    """A 1-D ``values`` shaped to broadcast along ``axis`` of an ``ndim``-d array."""
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


class _Run(NamedTuple):
    """Outputs ``[start, stop)`` whose taps all advance by ``step`` inputs from one output to
    the next, so that every tap reads a strided slice; ``uniform`` when their weights agree."""

    start: int
    stop: int
    step: int
    uniform: bool


def _symmetric_rows(weights: Array) -> Array:
    """Which rows of a weight table read the same backwards (``w[k] == w[T - 1 - k]``): their
    outputs are summed by :func:`_paired_sum`, every other output by :func:`_weighted_sum`."""
    if weights.shape[1] < 2:
        return np.zeros(weights.shape[0], dtype=bool)
    return np.all(weights == weights[:, ::-1], axis=1)


def _index_runs(index: Array, weights: Array, paired: Array) -> tuple[_Run, ...]:
    """Split the rows of a tap table into :class:`_Run` s, greedily from the first row; the
    rows of a run are all ``paired`` or all not."""
    n_out = index.shape[0]
    if n_out <= 1:
        return (_Run(0, n_out, 1, True),) if n_out else ()
    links = np.diff(index, axis=0)
    steps = links[:, 0]
    joins = (links == steps[:, None]).all(axis=1) & (steps > 0) & (paired[1:] == paired[:-1])
    # link j (rows j, j + 1) ends a run that holds link j - 1 unless it joins with the same step
    breaks = np.flatnonzero(~joins[1:] | (steps[1:] != steps[:-1])) + 1
    changes = np.concatenate([[0], np.cumsum(np.any(weights[1:] != weights[:-1], axis=1))])
    runs = []
    row = 0
    while row < n_out:
        if row == n_out - 1 or not joins[row]:
            stop, step = row + 1, 1
        else:
            position = int(np.searchsorted(breaks, row + 1))
            stop = int(breaks[position]) + 1 if position < breaks.size else n_out
            step = int(steps[row])
        runs.append(_Run(row, stop, step, bool(changes[stop - 1] == changes[row])))
        row = stop
    return tuple(runs)


def _strided_sources(
    block: Array, axis: int, firsts: list[int], count: int, step: int, dtype: np.dtype[Any]
) -> list[Array]:
    """For each of ``firsts``, ``count`` values of ``block`` ``step`` apart along ``axis``.

    When the reads overlap (more of them than ``step``, so every value is read several
    times), the values are first copied, in ``dtype``, into ``step`` contiguous phases (the
    values ``p, p + step, …``): strided and mixed-dtype reads are much slower than contiguous
    ones. Otherwise, or when the copy would exceed ``_PHASE_VALUES`` values, the results are
    strided views of ``block``.
    """
    if step > 1 and count > 1 and len(firsts) > step:
        low = min(firsts)
        length = (max(firsts) - low) // step + count
        size = length * step * (block.size // block.shape[axis])
        if low + length * step <= block.shape[axis] and size <= _PHASE_VALUES:
            values = block[_along(axis, slice(low, low + length * step))]
            split = values.reshape(*values.shape[:axis], length, step, *values.shape[axis + 1 :])
            moved = np.moveaxis(split, axis + 1, 0)
            phases = _SCRATCH.array("phases", moved.shape, dtype)
            np.copyto(phases, moved)
            return [
                phases[(first - low) % step][
                    _along(axis, slice((first - low) // step, (first - low) // step + count))
                ]
                for first in firsts
            ]
    return [
        block[_along(axis, slice(first, first + (count - 1) * step + 1, step))] for first in firsts
    ]


def _segments(runs: list[_Run], per_output: int, taps: int, innermost: bool) -> list[_Run | range]:
    """Group runs for :meth:`AxisResampler.apply`.

    Runs of at least ``_MIN_RUN_VALUES`` values (``per_output`` values per output; four
    times as many when their taps do not overlap, so that gathering copies each input at most
    once) stay, and so does a lone smaller run with at most ``_GATHER_CALLS / 2`` taps: they
    are cheaper as strided slices. Along the ``innermost`` axis a run is also the length of the inner
    loop of every call, so it must have ``_MIN_INNER_RUN`` outputs. Consecutive other runs
    merge into ranges of outputs to gather, whose number of calls grows with neither their
    number of taps nor their number of runs.
    """
    segments: list[_Run | range] = []
    short: list[_Run] = []
    for run in [*runs, None]:
        if run is not None and innermost and run.stop - run.start < _MIN_INNER_RUN:
            short.append(run)
        elif run is None or (run.stop - run.start) * per_output >= _MIN_RUN_VALUES * (
            4 if taps <= run.step else 1  # taps that do not overlap are cheap to gather
        ):
            if len(short) == 1 and 2 * taps <= _GATHER_CALLS and not innermost:
                segments.append(short[0])
            elif short:
                segments.append(range(short[0].start, short[-1].stop))
            short = []
            if run is not None:
                segments.append(run)
        else:
            short.append(run)
    return segments


def _run_segment(
    block: Array, axis: int, run: _Run, index: Array, weights: Array, out: Array, paired: bool
) -> None:
    """Outputs ``run`` (rows of ``index``, ``weights`` and positions of ``out`` along
    ``axis``) by :func:`_weighted_sum` (:func:`_paired_sum` when ``paired``) of strided
    slices, in chunks of about ``_OP_VALUES``
    values (more with fewer than 8 taps, whose outputs are revisited less) whose inputs fit
    ``_PHASE_VALUES``. The innermost axis is never cut: short inner loops are slow."""
    taps = index.shape[1]
    chunk = run.stop - run.start
    if axis < block.ndim - 1:
        per_input = block.size // max(1, block.shape[axis])
        per_output = out.size // max(1, out.shape[axis])
        spanned = (_PHASE_VALUES // max(1, per_input) - taps) // run.step + 1
        chunk = max(1, min(_OP_VALUES * max(1, 8 // taps) // max(1, per_output), spanned))
    for start in range(run.start, run.stop, chunk):
        rows = slice(start, min(start + chunk, run.stop))
        count = rows.stop - rows.start
        sources = _strided_sources(block, axis, index[start].tolist(), count, run.step, out.dtype)
        if run.uniform:
            factors: Sequence[Any] = weights[start]
        else:
            factors = [_broadcast_along(column, axis, block.ndim) for column in weights[rows].T]
        terms = list(zip(sources, factors, strict=True))
        if paired:
            _paired_sum(
                ((terms[k][0], terms[-1 - k][0], terms[k][1]) for k in range(len(terms) // 2)),
                terms[len(terms) // 2] if len(terms) % 2 else None,
                out[_along(axis, rows)],
            )
        else:
            _weighted_sum(iter(terms), out[_along(axis, rows)])


def _gather_segment(
    block: Array, axis: int, index: Array, weights: Array, out: Array, paired: Array
) -> None:
    """All outputs of ``index`` (and ``weights``, ``out`` along ``axis``, ``paired`` per
    output) by :func:`_gathered_sum`, in runs of equally ``paired`` outputs cut into pieces
    whose products hold about ``4 * _OP_VALUES`` values."""
    count, taps = index.shape
    chunk = max(1, 4 * _OP_VALUES // max(1, out.size // max(1, count) * taps))
    edges = [0, *(np.flatnonzero(paired[1:] != paired[:-1]) + 1).tolist(), count]
    for first, last in itertools.pairwise(edges):
        for start in range(first, last, chunk):
            rows = slice(start, min(start + chunk, last))
            _gathered_sum(
                block,
                axis,
                index[rows],
                weights[rows],
                out[_along(axis, rows)],
                bool(paired[start]),
            )


def _gathered_sum(
    block: Array, axis: int, index: Array, weights: Array, out: Array, paired: bool = False
) -> None:
    """``out[i] = w[i, 0] * x[index[i, 0]] + w[i, 1] * x[index[i, 1]] + …`` along ``axis``
    (or the :func:`_paired_sum` of the taps when ``paired``), with the same roundings and
    order as :func:`_weighted_sum` (:func:`_paired_sum`), from one gather of all taps (or,
    when their products would exceed ``_PHASE_VALUES`` values, one gather per tap).

    Small results are summed by one (sequential) ``np.add.accumulate`` along the taps; it
    runs element by element, so bigger ones are summed one tap after another instead.
    """
    count, taps = index.shape
    ndim = block.ndim
    if taps * out.size > _PHASE_VALUES:  # too big to gather at once: one tap at a time
        if paired:
            half = taps // 2
            middle = None
            if taps % 2:
                middle = (
                    _take(block, index[:, half], axis, "gathered3"),
                    _broadcast_along(weights[:, half], axis, ndim),
                )
            _paired_sum(
                (
                    (
                        _take(block, index[:, k], axis),
                        _take(block, index[:, taps - 1 - k], axis, "gathered2"),
                        _broadcast_along(weights[:, k], axis, ndim),
                    )
                    for k in range(half)
                ),
                middle,
                out,
            )
            return
        _weighted_sum(
            (
                (_take(block, column, axis), _broadcast_along(w, axis, ndim))
                for column, w in zip(index.T, weights.T, strict=True)
            ),
            out,
        )
        return
    values = _take(block, index.T.ravel(), axis)  # tap-major: all outputs of tap 0 first
    values = values.reshape(*values.shape[:axis], taps, count, *values.shape[axis + 1 :])
    tap_weights = weights.T.reshape(taps, count, *[1] * (ndim - axis - 1))
    if paired:  # (x[k] + x[T - 1 - k]) for the first half of the taps, then the middle one
        half, terms = taps // 2, (taps + 1) // 2
        shape = list(values.shape)
        shape[axis] = terms
        products = _SCRATCH.array("products", shape, out.dtype)
        np.add(
            values[_along(axis, slice(0, half))],
            values[_along(axis, slice(taps - 1, taps - 1 - half, -1))],
            out=products[_along(axis, slice(0, half))],
            dtype=out.dtype,
        )
        if terms > half:
            np.copyto(
                products[_along(axis, slice(half, terms))],
                values[_along(axis, slice(half, terms))],
                casting="unsafe",
            )
        np.multiply(products, tap_weights[:terms], out=products)
    else:
        terms = taps
        products = _SCRATCH.array("products", values.shape, out.dtype)
        np.multiply(values, tap_weights, out=products)
    if out.size >= _MIN_ADD_VALUES:
        _sequential_sum([_take_slab(products, axis, term) for term in range(terms)], out)
    else:
        np.copyto(out, _take_slab(np.add.accumulate(products, axis=axis), axis, -1))


def _take(block: Array, index: Array, axis: int, buffer: str = "gathered") -> Array:
    """``np.take(block, index, axis)`` into the scratch buffer named ``buffer`` (the indices
    are known to be in range)."""
    shape = list(block.shape)
    shape[axis] = index.size
    gathered = _SCRATCH.array(buffer, shape, block.dtype)
    return np.take(block, index, axis=axis, out=gathered, mode="clip")


def _take_slab(values: Array, axis: int, position: int) -> Array:
    """``values[..., position, ...]`` (a view) with ``position`` on ``axis``."""
    picker: tuple[slice | int, ...] = (*(slice(None),) * axis, position)
    return values[picker]


def _weighted_sum(terms: Iterator[tuple[Array, Any]], out: Array) -> None:
    """``out = w0 * x0 + w1 * x1 + …`` in ``out.dtype``, rounded after every multiplication and
    addition and added in the order given, whatever the shapes or strides of the terms."""
    scratch = _SCRATCH.array("scratch", out.shape, out.dtype)
    for position, (values, weight) in enumerate(terms):
        if position == 0:
            np.multiply(values, weight, out=out, dtype=out.dtype)
        else:
            np.multiply(values, weight, out=scratch, dtype=out.dtype)
            np.add(out, scratch, out=out)


def _paired_sum(
    pairs: Iterator[tuple[Array, Array, Any]], middle: tuple[Array, Any] | None, out: Array
) -> None:
    """``out = w0 * (x0 + x[T-1]) + w1 * (x1 + x[T-2]) + … [+ w_m * x_m]`` in ``out.dtype``,
    for taps whose weights read the same backwards: rounded after every addition and
    multiplication, terms added in the order given, the middle tap of an odd count last.
    Symmetric kernels (resize's, all interior outputs of a factor-2 level) cost a quarter
    fewer passes over the data this way than by :func:`_weighted_sum`."""
    scratch = _SCRATCH.array("scratch", out.shape, out.dtype)
    for position, (low, high, weight) in enumerate(pairs):
        target = out if position == 0 else scratch
        np.add(low, high, out=target, dtype=out.dtype)
        np.multiply(target, weight, out=target, dtype=out.dtype)
        if position:
            np.add(out, scratch, out=out)
    if middle is not None:
        values, weight = middle
        np.multiply(values, weight, out=scratch, dtype=out.dtype)
        np.add(out, scratch, out=out)


def _sequential_sum(terms: Sequence[Array], out: Array) -> None:
    """``out = ((x0 + x1) + x2) + …`` in ``out.dtype``, added in the order given."""
    if len(terms) == 1:
        np.copyto(out, terms[0], casting="unsafe")
        return
    np.add(terms[0], terms[1], out=out, dtype=out.dtype)
    for values in terms[2:]:
        np.add(out, values, out=out)


def _integer_sums(dtype: np.dtype[Any], window: int) -> tuple[np.dtype[Any], int] | None:
    """The smallest integer dtype that holds sums of ``window`` values of ``dtype`` exactly,
    and the largest magnitude such a sum can have; None when ``dtype`` is not bool or integer
    or when sums could reach 2**53 (they would not convert to float64 exactly)."""
    if dtype.kind == "b":
        low, high = 0, 1
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        low, high = int(info.min), int(info.max)
    else:
        return None
    bound = max(-low, high) * window
    if bound >= 2**53:
        return None
    bits = next(b for b in (16, 32, 64) if bound < 2 ** (b if low >= 0 else b - 1))
    return np.dtype(f"{'u' if low >= 0 else 'i'}{bits // 8}"), bound


def _pass_shape(block: Array, axis: int, outputs: slice) -> list[int]:
    """The shape of ``block`` once ``axis`` is replaced by ``outputs``."""
    shape = list(block.shape)
    shape[axis] = outputs.stop - outputs.start
    return shape


def _crop(region: Sequence[slice], origin: Sequence[int]) -> tuple[slice, ...]:
    """``region`` (global slices) relative to ``origin``."""
    return tuple(
        slice(piece.start - offset, piece.stop - offset)
        for piece, offset in zip(region, origin, strict=True)
    )


def _tile_exactly(
    start: Sequence[int], shape: Sequence[int], pieces: Sequence[tuple[Sequence[int], Array]]
) -> bool:
    """Whether ``pieces`` (global start, values), each inside the box, cover it once.

    Every piece edge cuts the box into a grid of cells; each cell must be covered by exactly
    one piece. Pieces read from a chunk grid make one cell each, so this costs a few
    microseconds per piece.
    """
    edges = [
        np.unique(
            [a, a + n]
            + [lo[axis] + v.shape[axis] for lo, v in pieces]
            + [lo[axis] for lo, _ in pieces]
        )
        for axis, (a, n) in enumerate(zip(start, shape, strict=True))
    ]
    cover = np.zeros([len(e) - 1 for e in edges], dtype=np.int32)
    for lo, values in pieces:
        cells = tuple(
            slice(int(np.searchsorted(e, a)), int(np.searchsorted(e, a + n)))
            for e, a, n in zip(edges, lo, values.shape, strict=True)
        )
        cover[cells] += 1
    return bool(np.all(cover == 1))


class Mosaic:
    """A block of level 0 given as the arrays it is made of, sliced without joining them.

    A region whose halo reaches into neighbouring chunks is read as several pieces: its own
    chunk and strips of the chunks before it. Copying them into one array would hold the
    region twice while the copy is made. :meth:`LevelResampler.resample` works through the
    region in tiles, and slices the block once per tile: a slice inside one piece is a view of
    it, and only a slice crossing pieces is copied, into an array from ``buffer``.

    Parameters
    ----------
    start : sequence of int
        Global index of the block's first element.
    shape : sequence of int
        The block's shape.
    pieces : sequence of (sequence of int, numpy.ndarray)
        The global start and the values of each piece; together they tile the block, without
        overlap.
    buffer : callable, optional
        ``buffer(shape, dtype)`` gives the array a crossing slice is copied into; by default a
        new array. A buffer reused per thread (as the engine's is) makes every crossing slice
        valid only until the next one is taken in the same thread.

    Examples
    --------
    >>> left, right = np.arange(6).reshape(2, 3), np.arange(6, 10).reshape(2, 2)
    >>> block = Mosaic((0, 10), (2, 5), [((0, 10), left), ((0, 13), right)])
    >>> np.shares_memory(block[:, 1:3], left)  # inside one piece: a view
    True
    >>> block[:, 2:4]  # across two: copied
    array([[2, 6],
           [5, 8]])
    """

    def __init__(
        self,
        start: Sequence[int],
        shape: Sequence[int],
        pieces: Sequence[tuple[Sequence[int], Array]],
        buffer: Callable[[tuple[int, ...], np.dtype[Any]], Array] | None = None,
    ) -> None:
        self.start = tuple(int(a) for a in start)
        self.shape = tuple(int(n) for n in shape)
        if not self.shape:
            raise ValueError("a Mosaic has at least one axis")
        if not pieces:
            raise ValueError("`pieces` must hold at least one array")
        self.pieces = [(tuple(int(a) for a in lo), values) for lo, values in pieces]
        self.dtype = self.pieces[0][1].dtype
        self.ndim = len(self.shape)
        stop = [a + n for a, n in zip(self.start, self.shape, strict=True)]
        for lo, values in self.pieces:
            if values.dtype != self.dtype or values.ndim != self.ndim:
                raise ValueError("every piece must have the block's dtype and number of axes")
            if any(
                a < s or a + n > e
                for a, n, s, e in zip(lo, values.shape, self.start, stop, strict=True)
            ):
                raise ValueError(f"a piece at {lo} of shape {values.shape} lies outside the block")
        if not _tile_exactly(self.start, self.shape, self.pieces):
            raise ValueError("the pieces must tile the block exactly, without overlap")
        self._buffer = buffer or (lambda shape, dtype: np.empty(shape, dtype=dtype))

    def __getitem__(self, index: tuple[slice, ...]) -> Array:
        if not isinstance(index, tuple) or len(index) != self.ndim:
            raise TypeError(f"a Mosaic is sliced with {self.ndim} slices, got {index!r}")
        lo, hi = [], []
        for piece, start, n in zip(index, self.start, self.shape, strict=True):
            if not isinstance(piece, slice):
                raise TypeError(f"a Mosaic is sliced with slices only, got {piece!r}")
            first, last, step = piece.indices(n)
            if step != 1:
                raise ValueError(f"a Mosaic is sliced without steps, got {piece!r}")
            lo.append(start + first)
            hi.append(start + max(first, last))
        shape = tuple(y - x for x, y in zip(lo, hi, strict=True))
        if 0 in shape:
            return np.empty(shape, dtype=self.dtype)
        parts = []
        for origin, values in self.pieces:
            a = [max(p, q) for p, q in zip(lo, origin, strict=True)]
            b = [min(p, q + n) for p, q, n in zip(hi, origin, values.shape, strict=True)]
            if any(y <= x for x, y in zip(a, b, strict=True)):
                continue
            inside = tuple(slice(x - q, y - q) for x, y, q in zip(a, b, origin, strict=True))
            if a == lo and b == hi:
                return values[inside]
            parts.append((a, b, values[inside]))
        out = self._buffer(shape, self.dtype)
        for a, b, values in parts:
            out[tuple(slice(x - p, y - p) for x, y, p in zip(a, b, lo, strict=True))] = values
        return out


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AxisResampler:
    """The 1-D linear operator that downsamples one axis of one pyramid level.

    Output ``i`` is ``sum_t weight[i, t] * input[index[i, t]]`` over a tap list that depends
    only on ``i`` (and the four fields), never on the block being processed: edge mirroring is
    folded into the global indices and the terms are always added in the same order, so any
    region computed with :meth:`input_span` available is bit-identical to the whole-axis result.
    When ``n_in == n_out`` the axis is the identity.

    Parameters
    ----------
    n_in : int
        Extent of the axis at level 0.
    n_out : int
        Extent of the axis at this level, ``max(1, n_in // factor)`` for a pyramid (any value
        in ``[1, ceil(n_in / factor)]`` is accepted; 0 when ``n_in`` is 0).
    factor : int
        Integer downsampling factor relative to level 0; defines ownership
        (:meth:`owned_outputs`) and the :attr:`Methods.LOCAL_MEAN` window.
    method : Methods
        The downsampling method.

    Raises
    ------
    TypeError
        If ``method`` is not a :class:`Methods` member.
    ValueError
        If the extents or factor are out of range.

    Examples
    --------
    >>> axis = AxisResampler(n_in=8, n_out=4, factor=2, method=Methods.LOCAL_MEAN)
    >>> axis.owned_outputs(0, 4), axis.input_span(0, 2)
    ((0, 2), (0, 4))
    >>> axis.apply(np.arange(8.0), axis=0, in_start=0, out_start=0, out_stop=4)
    array([0.5, 2.5, 4.5, 6.5])
    """

    n_in: int
    n_out: int
    factor: int
    method: Methods

    def __post_init__(self) -> None:
        if not isinstance(self.method, Methods):
            raise TypeError(f"`method` must be a Methods member; got {self.method!r}")
        for name in ("n_in", "n_out", "factor"):
            if not _is_int(getattr(self, name)):
                raise ValueError(f"`{name}` must be an int; got {getattr(self, name)!r}")
        if self.factor < 1:
            raise ValueError(f"`factor` must be >= 1; got {self.factor}")
        if self.n_in < 0 or not (
            (self.n_in == 0 and self.n_out == 0) or 1 <= self.n_out <= -(-self.n_in // self.factor)
        ):
            raise ValueError(
                f"`n_out` must be between 1 and ceil(n_in / factor) = "
                f"{-(-self.n_in // self.factor)}; got n_out={self.n_out} for n_in={self.n_in}, "
                f"factor={self.factor}"
            )

    @property
    def is_identity(self) -> bool:
        """True when the axis keeps its extent (every method is then a plain copy)."""
        return self.n_in == self.n_out

    @cached_property
    def taps(self) -> tuple[Array, Array]:
        """``(index, weight)``: int64 and float64 arrays of shape ``(n_out, taps)``.

        Row ``i`` lists the global input indices (ascending, edge mirroring folded in) and
        weights of output ``i``; short rows are padded with weight 0.
        """
        if self.is_identity:
            return np.arange(self.n_out, dtype=np.int64)[:, None], np.ones((self.n_out, 1))
        return _taps(self.n_in, self.n_out, self.factor, self.method)

    @cached_property
    def _tap_bounds(self) -> tuple[Array, Array, bool]:
        """Each output's lowest input and highest input + 1, and whether both only grow from
        output to output (they do for every method; then a range's span is its ends')."""
        index, _ = self.taps
        low, high = index.min(axis=1), index.max(axis=1) + 1
        monotone = bool(np.all(low[1:] >= low[:-1]) and np.all(high[1:] >= high[:-1]))
        return low, high, monotone

    def owned_outputs(self, in_start: int, in_stop: int) -> tuple[int, int]:
        """Outputs ``[a, b)`` owned by the input range ``[in_start, in_stop)``.

        Output ``i`` is owned by the range holding input ``i * factor``. Ranges that partition
        ``[0, n_in)`` therefore own disjoint output ranges covering ``[0, n_out)``.

        Parameters
        ----------
        in_start, in_stop : int
            A range of level-0 indices.

        Returns
        -------
        tuple of int
            ``(a, b)`` with ``a <= b``; empty when the range owns nothing.
        """
        return _owned_range(in_start, in_stop, self.factor, self.n_out)

    def _check_outputs(self, out_start: int, out_stop: int) -> None:
        if not 0 <= out_start <= out_stop <= self.n_out:
            raise ValueError(
                f"`out_start`, `out_stop` must satisfy 0 <= out_start <= out_stop <= "
                f"{self.n_out}; got {out_start}, {out_stop}"
            )

    def input_span(self, out_start: int, out_stop: int) -> tuple[int, int]:
        """The input range ``[a, b)`` (halo included, inside ``[0, n_in)``) that outputs
        ``[out_start, out_stop)`` are computed from; ``(out_start, out_start)`` when empty.

        Raises
        ------
        ValueError
            If the output range is not inside ``[0, n_out]``.
        """
        self._check_outputs(out_start, out_stop)
        if out_start == out_stop:
            return out_start, out_start
        low, high, monotone = self._tap_bounds
        if monotone:
            return int(low[out_start]), int(high[out_stop - 1])
        return int(low[out_start:out_stop].min()), int(high[out_start:out_stop].max())

    @cached_property
    def _paired(self) -> Array:
        """Per output, whether it is summed by :func:`_paired_sum` (symmetric weights)."""
        if self.is_identity or self.method is Methods.NEAREST:
            return np.zeros(self.n_out, dtype=bool)
        return _symmetric_rows(self.taps[1])

    @cached_property
    def _runs(self) -> tuple[tuple[_Run, ...], Array]:
        """The runs of :attr:`taps` and their start rows (to find them by bisection)."""
        runs = _index_runs(*self.taps, self._paired)
        return runs, np.array([run.start for run in runs], dtype=np.int64)

    @cached_property
    def _float32_weights(self) -> Array:
        return self.taps[1].astype(np.float32)

    def _runs_between(self, out_start: int, out_stop: int) -> list[_Run]:
        """The runs clipped to ``[out_start, out_stop)``."""
        if out_start >= out_stop:
            return []
        runs, starts = self._runs
        first = int(np.searchsorted(starts, out_start, side="right")) - 1
        last = int(np.searchsorted(starts, out_stop, side="left"))
        clipped = list(runs[first:last])
        clipped[0] = clipped[0]._replace(start=out_start)
        clipped[-1] = clipped[-1]._replace(stop=out_stop)
        return clipped

    def apply(
        self,
        block: Array,
        axis: int,
        in_start: int,
        out_start: int,
        out_stop: int,
        out: Array | None = None,
    ) -> Array:
        """Compute outputs ``[out_start, out_stop)`` along ``axis`` of ``block``.

        Outputs whose taps advance evenly (all interior outputs of a power-of-two level, for
        instance) read each tap as a strided slice and multiply it by one scalar weight; the
        others gather their inputs. Both compute every output from the same taps, weights and
        order of operations, so the result does not depend on how outputs are grouped.

        Parameters
        ----------
        block : numpy.ndarray
            Input values; along ``axis`` it holds the global input indices
            ``[in_start, in_start + block.shape[axis])``, which must contain
            ``input_span(out_start, out_stop)``.
        axis : int
            The axis of ``block`` to downsample.
        in_start : int
            Global input index of ``block``'s first element along ``axis``.
        out_start, out_stop : int
            The global output range to compute.
        out : numpy.ndarray, optional
            Where to write the sums of an arithmetic method (of the result's shape and in its
            float dtype, see below); a new array by default.

        Returns
        -------
        numpy.ndarray
            ``block`` with ``axis`` replaced by the ``out_stop - out_start`` outputs. For
            :attr:`Methods.NEAREST` and identity axes the values are gathered unchanged (possibly
            a view of ``block``); otherwise they are unrounded sums in float32 (inputs of at
            most 16 bits and float32) or float64 (32/64-bit ints, float64), ready for another
            axis. :meth:`LevelResampler.resample` does the final cast.

        Raises
        ------
        ValueError
            If ``block`` does not hold the needed input range.
        TypeError
            If an arithmetic method gets non-numeric data.
        """
        needed = self.input_span(out_start, out_stop)
        held = (in_start, in_start + block.shape[axis])
        if out_start < out_stop and (needed[0] < held[0] or needed[1] > held[1]):
            raise ValueError(
                f"`block` holds inputs {held} along axis {axis} but outputs "
                f"[{out_start}, {out_stop}) need {needed}"
            )
        index, weights = self.taps
        local = index[out_start:out_stop] - in_start
        if self.is_identity or self.method is Methods.NEAREST:
            return _gather(block, local[:, 0], axis)
        _check_numeric(block.dtype, self.method)
        accumulator = _accumulator_dtype(block.dtype)
        if accumulator == np.float32:
            weights = self._float32_weights
        weights = weights[out_start:out_stop]
        shape = list(block.shape)
        shape[axis] = out_stop - out_start
        if out is None:
            out = np.empty(shape, dtype=accumulator)
        runs = self._runs_between(out_start, out_stop)
        from omezarr import _kernels  # here: importing the package would pull in storage code

        if _kernels.linear_axis(
            block,
            axis,
            local,
            weights,
            self._paired[out_start:out_stop],
            runs,
            out,
            out_start,
        ):
            return out
        per_output = out.size // max(1, shape[axis])
        innermost = axis == block.ndim - 1
        for segment in _segments(runs, per_output, local.shape[1], innermost):
            start, stop = segment.start - out_start, segment.stop - out_start  # rows of `out`
            if isinstance(segment, _Run):
                run = segment._replace(start=start, stop=stop)
                paired = bool(self._paired[segment.start])
                _run_segment(block, axis, run, local, weights, out, paired)
            else:
                rows = slice(start, stop)
                _gather_segment(
                    block,
                    axis,
                    local[rows],
                    weights[rows],
                    out[_along(axis, rows)],
                    self._paired[segment.start : segment.stop],
                )
        return out

    def window_sums(
        self,
        block: Array,
        axis: int,
        in_start: int,
        out_start: int,
        out_stop: int,
        dtype: npt.DTypeLike,
        out: Array | None = None,
    ) -> tuple[Array, int | Array]:
        """Sums of the :attr:`Methods.LOCAL_MEAN` windows of outputs ``[out_start, out_stop)``.

        The window of output ``i`` is ``[i * factor, min((i + 1) * factor, n_in))``. Its values
        are added in index order in ``dtype`` (an integer dtype makes the sums exact), from
        strided slices for full windows.

        Parameters
        ----------
        block, axis, in_start, out_start, out_stop
            As for :meth:`apply`.
        dtype : numpy.dtype
            The dtype to sum in.
        out : numpy.ndarray, optional
            Where to write the sums (of the result's shape and in ``dtype``); a new array by
            default.

        Returns
        -------
        sums : numpy.ndarray
            ``block`` with ``axis`` replaced by the window sums.
        counts : int or numpy.ndarray
            The number of values in each window: ``factor`` when all windows are whole, else
            an array shaped to broadcast against ``sums``.

        Raises
        ------
        ValueError
            If the method is not :attr:`Methods.LOCAL_MEAN`, or ``block`` does not hold the
            needed input range.

        Examples
        --------
        >>> axis = AxisResampler(n_in=7, n_out=4, factor=2, method=Methods.LOCAL_MEAN)
        >>> axis.window_sums(np.arange(7), axis=0, in_start=0, out_start=0, out_stop=4, dtype=int)
        (array([1, 5, 9, 6]), array([2, 2, 2, 1]))
        """
        if self.method is not Methods.LOCAL_MEAN:
            raise ValueError(
                f"`window_sums` needs a {Methods.LOCAL_MEAN.value!r} axis; this one is "
                f"{self.method.value!r}"
            )
        self._check_outputs(out_start, out_stop)
        low, high = self.input_span(out_start, out_stop)
        if low < in_start or high > in_start + block.shape[axis]:
            raise ValueError(
                f"`block` holds inputs {(in_start, in_start + block.shape[axis])} along axis "
                f"{axis} but outputs [{out_start}, {out_stop}) need {(low, high)}"
            )
        width = self.factor
        shape = list(block.shape)
        shape[axis] = out_stop - out_start
        sums = np.empty(shape, dtype=dtype) if out is None else out
        full_stop = max(out_start, min(out_stop, self.n_in // width))
        if full_stop > out_start:
            first = out_start * width - in_start
            last = first + (full_stop - out_start - 1) * width
            _sequential_sum(
                [block[_along(axis, slice(first + k, last + k + 1, width))] for k in range(width)],
                sums[_along(axis, slice(0, full_stop - out_start))],
            )
        if full_stop == out_stop:
            return sums, width
        counts = np.full(out_stop - out_start, width, dtype=np.int64)
        for output in range(full_stop, out_stop):  # a window cut short by the end of the axis
            start, stop = output * width, min((output + 1) * width, self.n_in)
            position = output - out_start
            counts[position] = stop - start
            _sequential_sum(
                [
                    block[_along(axis, slice(i - in_start, i - in_start + 1))]
                    for i in range(start, stop)
                ],
                sums[_along(axis, slice(position, position + 1))],
            )
        return sums, _broadcast_along(counts, axis, block.ndim)


def _as_bounds(region: Sequence[slice], shape: tuple[int, ...], name: str) -> list[tuple[int, int]]:
    """Check ``region`` (slices; ``None`` bounds mean the whole axis) against ``shape``."""
    if len(region) != len(shape):
        raise ValueError(f"`{name}` must have one slice per axis ({len(shape)}); got {region}")
    bounds = []
    for axis, (piece, extent) in enumerate(zip(region, shape, strict=True)):
        if not isinstance(piece, slice) or piece.step not in (None, 1):
            raise ValueError(f"`{name}` must be a tuple of slices without step; got {region}")
        start = 0 if piece.start is None else int(piece.start)
        stop = extent if piece.stop is None else int(piece.stop)
        if not 0 <= start <= stop <= extent:
            raise ValueError(
                f"`{name}` axis {axis} must lie within [0, {extent}]; got [{start}, {stop})"
            )
        bounds.append((start, stop))
    return bounds


@dataclass(frozen=True)
class LevelResampler:
    """Computes any region of one pyramid level from a block of level 0.

    Axes that change extent are downsampled one after another in a fixed order (the most
    reducing axis first by the integer ratio ``n_in // n_out``, ties by axis position, so
    that the innermost axis, the slowest to work along, usually comes last) by their
    :class:`AxisResampler`; the result is
    cast to the input dtype (native byte order): ints rounded to nearest and clipped, bools
    ``>= 0.5``. For every region, :meth:`resample` returns exactly the bytes of the same slice
    of the whole-level result.

    Parameters
    ----------
    in_shape : tuple of int
        Level-0 shape.
    out_shape : tuple of int
        This level's shape (see :func:`level_shapes`).
    factors : tuple of int
        Per-axis factors relative to level 0 (see :func:`level_factors`).
    method : Methods
        The downsampling method.

    Notes
    -----
    Engine recipe: take a partition of level 0 into regions; each region ``r`` owns outputs
    ``o = owned_outputs(r)`` (disjoint, covering the level); read ``input_region(o)`` (``r``
    plus a halo, clipped to the array) and call ``resample(block, block_start, o)``.

    Examples
    --------
    >>> level = LevelResampler((4, 6), (2, 3), (2, 2), Methods.LOCAL_MEAN)
    >>> image = np.arange(24, dtype=np.uint8).reshape(4, 6)
    >>> level.resample(image, (0, 0), (slice(0, 2), slice(0, 3)))
    array([[ 4,  6,  8],
           [16, 18, 20]], dtype=uint8)
    >>> out = level.owned_outputs((slice(2, 4), slice(0, 6)))
    >>> out, level.input_region(out)
    ((slice(1, 2, None), slice(0, 3, None)), (slice(2, 4, None), slice(0, 6, None)))
    """

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    factors: tuple[int, ...]
    method: Methods
    axes: tuple[AxisResampler, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("in_shape", "out_shape", "factors"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not len(self.in_shape) == len(self.out_shape) == len(self.factors):
            raise ValueError(
                "`in_shape`, `out_shape` and `factors` must have the same length; got "
                f"{self.in_shape}, {self.out_shape}, {self.factors}"
            )
        axes = tuple(
            AxisResampler(n_in, n_out, factor, self.method)
            for n_in, n_out, factor in zip(self.in_shape, self.out_shape, self.factors, strict=True)
        )
        object.__setattr__(self, "axes", axes)

    @property
    def source(self) -> int:
        """The level this one is computed from: always 0 (its blocks are level-0 blocks)."""
        return 0

    @property
    def step(self) -> LevelResampler:
        """The operator applied to blocks of :attr:`source`: this resampler itself."""
        return self

    @cached_property
    def _axis_order(self) -> tuple[int, ...]:
        reducing = [axis for axis, resampler in enumerate(self.axes) if not resampler.is_identity]
        return tuple(
            sorted(
                reducing,
                key=lambda axis: (-(self.in_shape[axis] // self.out_shape[axis]), axis),
            )
        )

    def owned_outputs(self, region: Sequence[slice]) -> Region:
        """The outputs owned by a level-0 region (see :meth:`AxisResampler.owned_outputs`).

        Parameters
        ----------
        region : sequence of slice
            A region of level 0.

        Returns
        -------
        Region
            A region of this level, possibly empty along some axis.
        """
        bounds = _as_bounds(region, self.in_shape, "region")
        return tuple(
            slice(*axis.owned_outputs(start, stop))
            for axis, (start, stop) in zip(self.axes, bounds, strict=True)
        )

    def input_region(self, out_region: Sequence[slice]) -> Region:
        """The level-0 region (halo included, clipped to the array) ``out_region`` needs."""
        bounds = _as_bounds(out_region, self.out_shape, "out_region")
        return tuple(
            slice(*axis.input_span(start, stop))
            for axis, (start, stop) in zip(self.axes, bounds, strict=True)
        )

    def resample(
        self, block: Array | Mosaic, block_start: Sequence[int], out_region: Sequence[slice]
    ) -> Array:
        """Compute ``out_region`` of this level from a block of level 0.

        Arithmetic methods work through the region in tiles of a few hundred thousand input
        values (their temporaries stay small and in cache); since any region is bit-identical
        to the same slice of the whole level, so is the tiled result.
        :attr:`Methods.LOCAL_MEAN` sums integer data in an integer dtype (exact) and divides
        once; other data is summed in float and divided axis by axis.

        Parameters
        ----------
        block : numpy.ndarray or Mosaic
            Level-0 values starting at global index ``block_start``; must contain
            ``input_region(out_region)`` (a larger block is fine). A :class:`Mosaic` is
            sliced tile by tile, never joined whole.
        block_start : sequence of int
            Global level-0 index of ``block[0, 0, ...]``.
        out_region : sequence of slice
            The region of this level to compute.

        Returns
        -------
        numpy.ndarray
            A new array of the region's shape, in ``block``'s dtype with native byte order.

        Raises
        ------
        ValueError
            If the block does not contain the needed input or a region is out of bounds.
        TypeError
            If an arithmetic method gets non-numeric data.
        """
        if not isinstance(block, Mosaic):
            block = np.asarray(block)
        out_bounds = _as_bounds(out_region, self.out_shape, "out_region")
        if block.ndim != len(self.in_shape) or len(block_start) != block.ndim:
            raise ValueError(
                f"`block` and `block_start` must have {len(self.in_shape)} axes; got "
                f"block.shape={block.shape}, block_start={tuple(block_start)}"
            )
        target = block.dtype.newbyteorder("=")
        if any(start == stop for start, stop in out_bounds):
            return np.empty([stop - start for start, stop in out_bounds], dtype=target)
        needed = self.input_region(tuple(slice(*bounds) for bounds in out_bounds))
        for axis, (piece, offset) in enumerate(zip(needed, block_start, strict=True)):
            if piece.start < offset or piece.stop > offset + block.shape[axis]:
                raise ValueError(
                    f"`block` holds [{offset}, {offset + block.shape[axis]}) along axis {axis} "
                    f"but the region needs [{piece.start}, {piece.stop})"
                )
        if self.method is Methods.NEAREST or not self._axis_order:
            values = block[_crop(needed, block_start)]
            for axis in self._axis_order:
                start, stop = out_bounds[axis]
                values = self.axes[axis].apply(values, axis, needed[axis].start, start, stop)
            return np.array(values, dtype=target)
        _check_numeric(block.dtype, self.method)
        result = np.empty([stop - start for start, stop in out_bounds], dtype=target)
        compute = self._mean_tile if self.method is Methods.LOCAL_MEAN else self._linear_tile
        tiles = list(self._tiles(out_bounds))
        for tile in tiles:
            tile_needed = needed if len(tiles) == 1 else self.input_region(tile)
            compute(
                block[_crop(tile_needed, block_start)],
                [piece.start for piece in tile_needed],
                tile,
                result[_crop(tile, [start for start, _ in out_bounds])],
            )
        return result

    def _tiles(self, out_bounds: Sequence[tuple[int, int]]) -> Iterator[Region]:
        """Split an output region into tiles whose first pass (the first processed axis)
        yields about ``_TILE_VALUES`` values.

        Tiles cut the first processed axis (which costs nothing: its outputs share no work),
        then, only when one output row along it is still too big, the next axes.
        """
        first = self._axis_order[0]
        ratios = [
            1.0 if axis == first else n_in / max(1, n_out)
            for axis, (n_in, n_out) in enumerate(zip(self.in_shape, self.out_shape, strict=True))
        ]
        tile = [stop - start for start, stop in out_bounds]
        order = [*self._axis_order, *(a for a in range(len(tile)) if a not in self._axis_order)]
        for axis in order:
            values = math.prod(math.ceil(n * r) for n, r in zip(tile, ratios, strict=True))
            if values <= _TILE_VALUES:
                break
            tile[axis] = max(1, tile[axis] * _TILE_VALUES // values)
        starts = [
            range(start, stop, size) for (start, stop), size in zip(out_bounds, tile, strict=True)
        ]
        for corner in itertools.product(*starts):
            yield tuple(
                slice(start, min(start + size, stop))
                for start, size, (_, stop) in zip(corner, tile, out_bounds, strict=True)
            )

    def _linear_tile(
        self, block: Array, block_start: Sequence[int], tile: Region, destination: Array
    ) -> None:
        """Compute ``tile`` from ``block`` (exactly its input region) into ``destination``."""
        accumulator = _accumulator_dtype(block.dtype)
        values = block
        for position, axis in enumerate(self._axis_order):
            piece = tile[axis]
            out = _SCRATCH.array(
                f"pass{position % 2}", _pass_shape(values, axis, piece), accumulator
            )
            values = self.axes[axis].apply(
                values, axis, block_start[axis], piece.start, piece.stop, out
            )
        _cast_into(values, destination)

    def _mean_dtypes(self, dtype: np.dtype[Any]) -> tuple[np.dtype[Any], np.dtype[Any] | None]:
        """How :attr:`Methods.LOCAL_MEAN` treats ``dtype``: the dtype windows are summed in and,
        for exact integer sums, the float dtype they are divided in (None for float sums, which
        are divided axis by axis).

        Integer sums are divided in float32 only when that is exact (sums below 2**24 and
        power-of-two windows everywhere in the level), else in float64.
        """
        axes = [self.axes[axis] for axis in self._axis_order]
        integer = _integer_sums(dtype, math.prod(min(a.factor, a.n_in) for a in axes))
        if integer is None:
            return _accumulator_dtype(dtype), None
        sum_dtype, bound = integer
        exact32 = bound < 2**24 and all(
            a.n_out <= a.n_in // a.factor and a.factor & (a.factor - 1) == 0 for a in axes
        )
        return sum_dtype, np.dtype(np.float32 if exact32 else np.float64)

    def _mean_tile(
        self, block: Array, block_start: Sequence[int], tile: Region, destination: Array
    ) -> None:
        """Window means of ``tile`` from ``block`` (exactly its input region) into
        ``destination``."""
        sum_dtype, quotient_dtype = self._mean_dtypes(block.dtype)
        values = block
        divisor: int | Array = 1
        for position, axis in enumerate(self._axis_order):
            piece = tile[axis]
            out = _SCRATCH.array(f"pass{position % 2}", _pass_shape(values, axis, piece), sum_dtype)
            values, counts = self.axes[axis].window_sums(
                values, axis, block_start[axis], piece.start, piece.stop, sum_dtype, out
            )
            if quotient_dtype is None:  # float sums: divide now, in the same float dtype
                np.divide(values, np.asarray(counts, dtype=sum_dtype), out=values)
            else:
                divisor = divisor * counts
        if quotient_dtype is not None:
            quotients = _SCRATCH.array("quotients", values.shape, quotient_dtype)
            divisor = np.asarray(divisor, dtype=quotient_dtype)
            np.divide(values, divisor, out=quotients, dtype=quotient_dtype)
            values = quotients
        _cast_into(values, destination)


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


# ---------------------------------------------------------------------------------------------
# Dask layers
# ---------------------------------------------------------------------------------------------


def _resample_chunks(
    level: LevelResampler,
    in_region: Region,
    out_region: Region,
    chunk_starts: Array,
    chunks: list[Array],
) -> Array:
    """Dask task: assemble level-0 ``chunks`` into ``in_region``, then resample it."""
    origin = [piece.start for piece in in_region]
    block = np.empty([piece.stop - piece.start for piece in in_region], dtype=chunks[0].dtype)
    for start, chunk in zip(chunk_starts, chunks, strict=True):
        source, destination = [], []
        for piece, offset, extent in zip(in_region, start, chunk.shape, strict=True):
            low, high = max(piece.start, offset), min(piece.stop, offset + extent)
            source.append(slice(low - offset, high - offset))
            destination.append(slice(low - piece.start, high - piece.start))
        block[tuple(destination)] = chunk[tuple(source)]
    return level.resample(block, origin, out_region)


def _resample_dask(source: da.Array, level: LevelResampler, chunks: Sequence[Any]) -> da.Array:
    """A lazy level: each output chunk is computed from only the level-0 chunks it needs."""
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    dtype = source.dtype.newbyteorder("=")
    if 0 in level.out_shape:
        return da.empty(level.out_shape, dtype=dtype)
    out_chunks = da.core.normalize_chunks(
        tuple(max(1, min(c, n)) for c, n in zip(chunks, level.out_shape, strict=True)),
        level.out_shape,
    )
    name = "omezarr-downsample-" + tokenize(source.name, level, out_chunks)
    in_edges = [np.cumsum((0, *sizes)) for sizes in source.chunks]
    out_edges = [np.cumsum((0, *sizes)) for sizes in out_chunks]
    graph: dict[Any, Any] = {}
    for block_index in itertools.product(*(range(len(sizes)) for sizes in out_chunks)):
        out_region = tuple(
            slice(int(edges[i]), int(edges[i + 1]))
            for edges, i in zip(out_edges, block_index, strict=True)
        )
        in_region = level.input_region(out_region)
        overlapping = [
            range(
                int(np.searchsorted(edges, piece.start, side="right")) - 1,
                int(np.searchsorted(edges, piece.stop, side="left")),
            )
            for edges, piece in zip(in_edges, in_region, strict=True)
        ]
        chunk_indices = list(itertools.product(*overlapping))
        chunk_starts = np.array(
            [[in_edges[axis][i] for axis, i in enumerate(index)] for index in chunk_indices],
            dtype=np.int64,
        )
        keys = [(source.name, *index) for index in chunk_indices]
        graph[(name, *block_index)] = (
            _resample_chunks,
            level,
            in_region,
            out_region,
            chunk_starts,
            keys,
        )
    layers = HighLevelGraph.from_collections(name, graph, dependencies=[source])  # type: ignore[list-item]
    return da.Array(layers, name, chunks=out_chunks, dtype=dtype)


def _build_pyramid(
    image: Any,
    scale_factors: Sequence[int] | Sequence[dict[str, int]],
    dims: Sequence[str],
    method: Methods | str = "nearest",
    chunks: tuple[int, ...] | str | None = None,
) -> list[da.Array]:
    """Build a lazy pyramid: level 0 as dask, then one dask array per level.

    Like the reference's ``_build_pyramid`` (each level from the one before it, see
    :func:`pyramid_steps`), but computed by this module's kernels, with integer
    ``scale_factors`` honoured (not replaced by powers of two); each output chunk reads only
    the source level's chunks under its input region.

    Parameters
    ----------
    image : numpy.ndarray, dask.array.Array or array-like
        Level 0.
    scale_factors : list or tuple of int, or list of dict
        See :func:`level_factors`.
    dims : sequence of str
        Axis names of ``image``.
    method : Methods or str, default "nearest"
        See :func:`resolve_method`.
    chunks : tuple of int, str or None
        Chunking of level 0 (dask syntax); None keeps a dask array's chunks or lets dask
        choose. Every level uses level 0's chunk size, clipped to its shape.

    Returns
    -------
    list of dask.array.Array
    """
    import dask.array as da

    resolved = resolve_method(method, Methods.NEAREST)
    if isinstance(image, da.Array):
        level0 = image if chunks is None else image.rechunk(chunks)
    else:
        level0 = da.from_array(image, chunks="auto" if chunks is None else chunks)
    dims = tuple(dims)
    if len(dims) != level0.ndim:
        raise ValueError(f"`dims` must name each of the {level0.ndim} axes; got {dims}")
    factors = level_factors(scale_factors, dims)
    pyramid = [level0]
    for step in pyramid_steps(level0.shape, factors, resolved, dims):
        pyramid.append(_resample_dask(pyramid[step.source], step.step, level0.chunksize))
    return pyramid


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
        if not _is_int(self.max_layer) or self.max_layer < 0:
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
