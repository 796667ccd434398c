"""Region-exact resampling of one axis and of one pyramid step on NumPy blocks."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .._numbers import ceil_div, is_int
from .loops import (
    _SCRATCH,
    _along,
    _broadcast_along,
    _cast_into,
    _gather,
    _gather_segment,
    _index_runs,
    _integer_sums,
    _pass_shape,
    _Run,
    _run_segment,
    _segments,
    _sequential_sum,
    _symmetric_rows,
)
from .methods import Methods
from .mosaic import Mosaic, _crop
from .taps import (
    Array,
    Region,
    _accumulator_dtype,
    _check_numeric,
    _owned_range,
    _pad,
    _taps,
    _width_bound,
)

__all__ = [
    "AxisResampler",
    "LevelResampler",
]

_TILE_VALUES = 2**19
"""About how many values the first pass of :meth:`LevelResampler.resample` computes at a
time: enough to amortise NumPy's per-call overhead, few enough for its temporaries to stay
in cache (and for memory to stay bounded)."""


_WINDOW_TAPS = 2**15
"""About how many taps one window of an axis's tap table holds (at 20 bytes a tap: index,
float64 and float32 weight). Tables are computed window by window, on demand, so that an axis
of a million pixels plans in no more memory than one of a thousand."""

_MIN_WINDOW_ROWS = 256
"""Outputs per window at least, however wide the rows."""

_WINDOWS_KEPT = 4
"""Windows an axis keeps computed: enough for a few threads working on nearby regions."""

_KEPT_TAP_BYTES = 24
"""Bytes per tap of a kept window: int64 index, float64 and float32 weight, bounds, runs."""

_NEW_TAP_BYTES = 64
"""Bytes per (uncompacted) tap while a window is computed: the raw index and weights, the
band they are merged in, its sort order and the compacted copy."""


class _TapWindow(NamedTuple):
    """Rows ``[start, start + len(index))`` of an axis's tap table and what is derived from
    them: float32 weights, which rows are summed in pairs, the runs (in global rows, their
    starts for bisection) and each row's input bounds."""

    start: int
    inputs: Array
    weights: Array
    weights32: Array
    paired: Array
    runs: tuple[_Run, ...]
    run_starts: Array
    low: Array
    high: Array
    monotone: bool


class _TapRows(NamedTuple):
    """A range of rows of a tap table (see :meth:`AxisResampler._rows`)."""

    inputs: Array
    weights: Array
    weights32: Array
    paired: Array
    runs: list[_Run]


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
    _windows: dict[int, _TapWindow] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.method, Methods):
            raise TypeError(f"`method` must be a Methods member; got {self.method!r}")
        for name in ("n_in", "n_out", "factor"):
            if not is_int(getattr(self, name)):
                raise ValueError(f"`{name}` must be an int; got {getattr(self, name)!r}")
        if self.factor < 1:
            raise ValueError(f"`factor` must be >= 1; got {self.factor}")
        if self.n_in < 0 or not (
            (self.n_in == 0 and self.n_out == 0)
            or 1 <= self.n_out <= ceil_div(self.n_in, self.factor)
        ):
            raise ValueError(
                f"`n_out` must be between 1 and ceil(n_in / factor) = "
                f"{ceil_div(self.n_in, self.factor)}; got n_out={self.n_out} for n_in={self.n_in}, "
                f"factor={self.factor}"
            )

    def __getstate__(self) -> dict[str, Any]:
        # Tap windows are recomputed where the resampler is unpickled (a dask worker), not
        # shipped with it.
        return {name: getattr(self, name) for name in ("n_in", "n_out", "factor", "method")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_windows", {})

    @property
    def is_identity(self) -> bool:
        """True when the axis keeps its extent (every method is then a plain copy)."""
        return self.n_in == self.n_out

    @property
    def table_bytes(self) -> int:
        """At most how many bytes this axis's tap tables take at once: the windows it keeps and
        the temporaries of computing one more. It depends on the factor, not on the length."""
        if self.is_identity:
            return 0
        taps = min(self.n_out, self._window_rows) * _width_bound(
            self.n_in, self.n_out, self.factor, self.method
        )
        return (min(self._window_count, _WINDOWS_KEPT) * _KEPT_TAP_BYTES + _NEW_TAP_BYTES) * taps

    @property
    def taps(self) -> tuple[Array, Array]:
        """``(index, weight)``: int64 and float64 arrays of shape ``(n_out, taps)``.

        Row ``i`` lists the global input indices (ascending, edge mirroring folded in) and
        weights of output ``i``; short rows are padded with weight 0. This is the whole table,
        for inspection: the resampler itself holds at most a few windows of it.
        """
        if self.n_out == 0:
            return np.zeros((0, 1), dtype=np.int64), np.zeros((0, 1))
        table = self._rows(0, self.n_out)
        return table.inputs, table.weights

    @cached_property
    def _window_rows(self) -> int:
        """Outputs per window of the tap table (about ``_WINDOW_TAPS`` taps)."""
        if self.is_identity:
            return max(1, self.n_out)
        bound = _width_bound(self.n_in, self.n_out, self.factor, self.method)
        return max(_MIN_WINDOW_ROWS, _WINDOW_TAPS // bound)

    @property
    def _window_count(self) -> int:
        return ceil_div(self.n_out, self._window_rows)

    @cached_property
    def _width(self) -> int:
        """Taps per row of the whole-axis table (its widest row), from its two end windows.

        An axis of several windows is at least ``_MIN_WINDOW_ROWS`` outputs long, far more
        than the few outputs at either end whose taps reach an edge, so its first and last
        windows hold every edge row and many interior ones. Interior rows all have the same
        number of taps when the input-per-output ratio is an integer (their fractional
        coordinates are all equal); otherwise of any two consecutive interior rows one has a
        non-zero fraction, hence the most taps. Either way the widest row is in those two.
        """
        if self.is_identity or self.method is Methods.NEAREST:
            return 1
        rows = min(self._window_rows, self.n_out)
        ends = {(0, rows), (self.n_out - rows, self.n_out)}
        return max(
            _taps(self.n_in, self.n_out, self.factor, self.method, a, b)[0].shape[1]
            for a, b in ends
        )

    def _window(self, number: int) -> _TapWindow:
        """Window ``number`` of the tap table, computed on first use.

        The last ``_WINDOWS_KEPT`` windows are kept, so an axis holds a few hundred kilobytes
        of taps however long it is. Single dict operations are atomic, so threads share the
        cache without a lock; two threads may both compute a window, with equal results.
        """
        windows = self._windows
        window = windows.get(number)
        if window is not None:
            return window
        start = number * self._window_rows
        stop = min(start + self._window_rows, self.n_out)
        if self.is_identity:
            index = np.arange(start, stop, dtype=np.int64)[:, None]
            weights = np.ones((stop - start, 1))
        else:
            index, weights = _pad(
                *_taps(self.n_in, self.n_out, self.factor, self.method, start, stop), self._width
            )
        if self.is_identity or self.method is Methods.NEAREST:
            paired = np.zeros(stop - start, dtype=bool)
        else:
            paired = _symmetric_rows(weights)
        runs = tuple(
            run._replace(start=run.start + start, stop=run.stop + start)
            for run in _index_runs(index, weights, paired)
        )
        low, high = index.min(axis=1), index.max(axis=1) + 1
        window = _TapWindow(
            start=start,
            inputs=index,
            weights=weights,
            weights32=weights.astype(np.float32),
            paired=paired,
            runs=runs,
            run_starts=np.array([run.start for run in runs], dtype=np.int64),
            low=low,
            high=high,
            monotone=bool(np.all(low[1:] >= low[:-1]) and np.all(high[1:] >= high[:-1])),
        )
        while len(windows) >= _WINDOWS_KEPT:
            try:
                windows.pop(next(iter(windows)), None)  # the oldest
            except (RuntimeError, StopIteration):  # another thread changed it meanwhile
                break
        windows[number] = window
        return window

    def _rows(self, out_start: int, out_stop: int) -> _TapRows:
        """Rows ``[out_start, out_stop)`` (not empty) of the tap table, views when they lie in
        one window, with the runs clipped to them."""
        size = self._window_rows
        pieces = []
        runs: list[_Run] = []
        for number in range(out_start // size, (out_stop - 1) // size + 1):
            window = self._window(number)
            low = max(out_start, window.start)
            high = min(out_stop, window.start + window.inputs.shape[0])
            pieces.append((window, slice(low - window.start, high - window.start)))
            first = int(np.searchsorted(window.run_starts, low, side="right")) - 1
            last = int(np.searchsorted(window.run_starts, high, side="left"))
            clipped = list(window.runs[first:last])
            clipped[0] = clipped[0]._replace(start=low)
            clipped[-1] = clipped[-1]._replace(stop=high)
            runs.extend(clipped)

        def joined(name: str) -> Array:
            if len(pieces) == 1:
                window, rows = pieces[0]
                return getattr(window, name)[rows]
            return np.concatenate([getattr(window, name)[rows] for window, rows in pieces])

        return _TapRows(
            joined("inputs"), joined("weights"), joined("weights32"), joined("paired"), runs
        )

    def _row_bounds(self, row: int) -> tuple[int, int]:
        """Output ``row``'s lowest input and highest input + 1."""
        window = self._window(row // self._window_rows)
        return int(window.low[row - window.start]), int(window.high[row - window.start])

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
        if self.is_identity:
            return out_start, out_stop
        if self._window_count == 1:
            window = self._window(0)
            low, high = window.low, window.high
            if window.monotone:
                return int(low[out_start]), int(high[out_stop - 1])
            return int(low[out_start:out_stop].min()), int(high[out_start:out_stop].max())
        # A long axis (see `_width`): there every method's bounds grow from output to output.
        return self._row_bounds(out_start)[0], self._row_bounds(out_stop - 1)[1]

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
        if self.is_identity:
            return _gather(block, np.arange(out_start - in_start, out_stop - in_start), axis)
        if out_start == out_stop:
            empty = np.zeros((0, self._width), dtype=np.int64)
            table = _TapRows(empty, empty * 0.0, empty.astype(np.float32), empty[:, 0] > 0, [])
        else:
            table = self._rows(out_start, out_stop)
        local = table.inputs - in_start
        if self.method is Methods.NEAREST:
            return _gather(block, local[:, 0], axis)
        _check_numeric(block.dtype, self.method)
        accumulator = _accumulator_dtype(block.dtype)
        weights = table.weights32 if accumulator == np.float32 else table.weights
        shape = list(block.shape)
        shape[axis] = out_stop - out_start
        if out is None:
            out = np.empty(shape, dtype=accumulator)
        runs, paired = table.runs, table.paired
        from . import compiled

        if compiled.linear_axis(block, axis, local, weights, paired, runs, out, out_start):
            return out
        per_output = out.size // max(1, shape[axis])
        innermost = axis == block.ndim - 1
        for segment in _segments(runs, per_output, local.shape[1], innermost):
            start, stop = segment.start - out_start, segment.stop - out_start  # rows of `out`
            if isinstance(segment, _Run):
                run = segment._replace(start=start, stop=stop)
                _run_segment(block, axis, run, local, weights, out, bool(paired[start]))
            else:
                rows = slice(start, stop)
                _gather_segment(
                    block,
                    axis,
                    local[rows],
                    weights[rows],
                    out[_along(axis, rows)],
                    paired[rows],
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
