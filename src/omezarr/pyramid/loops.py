"""The tuned NumPy loops behind the linear axis operator: strided runs, gathers, scratch buffers."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from .taps import Array

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
