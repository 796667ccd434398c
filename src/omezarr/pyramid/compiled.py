"""Compiled loops (numba, optional) for the linear axis operator of :mod:`omezarr.pyramid`.

:meth:`omezarr.pyramid.resample.AxisResampler.apply` computes every output as a weighted sum of its taps
with a fixed order of roundings (see ``scale._weighted_sum`` and ``scale._paired_sum``). NumPy
needs about eight passes over the data for that per axis; the loops here do it in one, with
the same taps, the same order and a rounding to the accumulator dtype after every addition and
multiplication, so their results are bit-identical to the NumPy paths (tested).

numba is an optional dependency (``pip install "omezarr[fast]"``). Without it, or with
``OMEZARR_KERNELS=numpy`` in the environment, :func:`linear_axis` returns False and the caller
keeps its NumPy path. Compiled code is cached on disk (numba's ``cache=True``), so only the
first process to use a dtype pays for compiling it.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["BACKENDS", "KERNELS_ENV", "backend", "linear_axis"]

Array = npt.NDArray[Any]

KERNELS_ENV: Final = "OMEZARR_KERNELS"
"""Environment variable choosing the backend: ``auto`` (default: numba when it imports),
``numba`` (required: an error if it does not import) or ``numpy``."""

BACKENDS: Final = ("auto", "numba", "numpy")

_MIN_STRIDED_OUTPUTS: Final = 16
"""Runs along the last axis with fewer outputs are summed output by output (the strided loop's
set-up costs more than it saves)."""

_SOURCE_DTYPES: Final = frozenset(
    np.dtype(name) for name in ("?", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8")
)
"""Input dtypes the loops are compiled for (native byte order only; float16 stays on NumPy)."""


def _resolve_backend() -> str:
    choice = os.environ.get(KERNELS_ENV, "auto").strip().lower() or "auto"
    if choice not in BACKENDS:
        raise ValueError(f"${KERNELS_ENV} must be one of {', '.join(BACKENDS)}; got {choice!r}")
    if choice == "numpy":
        return "numpy"
    try:
        import numba  # noqa: F401
    except ImportError as error:
        if choice == "numba":
            raise ImportError(
                f"${KERNELS_ENV}=numba but numba does not import ({error}); "
                'install it with pip install "omezarr[fast]"'
            ) from error
        return "numpy"
    return "numba"


_LOCK = threading.Lock()
_BACKEND: str | None = None


def backend() -> str:
    """The backend in use, ``"numba"`` or ``"numpy"``, resolved from ``$OMEZARR_KERNELS`` on
    first use.

    Raises
    ------
    ValueError
        If ``$OMEZARR_KERNELS`` is not one of :data:`BACKENDS`.
    ImportError
        If it is ``numba`` and numba does not import.
    """
    global _BACKEND
    if _BACKEND is None:
        with _LOCK:
            if _BACKEND is None:
                _BACKEND = _resolve_backend()
    return _BACKEND


class _Loops(NamedTuple):
    across: Callable[..., None]
    last_strided: Callable[..., None]
    last_gathered: Callable[..., None]


@functools.cache
def _loops(accumulator: np.dtype[Any]) -> _Loops:
    """The compiled loops summing in ``accumulator`` (float32 or float64).

    ``cast`` is a closure constant, so numba compiles (and caches) one set per accumulator.
    Every value read is cast to the accumulator first and every operation has operands of the
    accumulator's dtype, so each result is rounded to it as NumPy rounds it.
    """
    import numba

    cast = np.float32 if accumulator == np.float32 else np.float64

    def jit(loop: Callable[..., None]) -> Callable[..., None]:
        try:
            return numba.njit(nogil=True, cache=True)(loop)
        except RuntimeError:  # no writable cache folder: compile in every process instead
            return numba.njit(nogil=True)(loop)

    @jit
    def across(src, index, weights, paired, out):  # type: ignore[no-untyped-def]
        # src (outer, n_in, inner), out (outer, n_out, inner): the summed axis is not the last,
        # so every tap is a contiguous row and the innermost loop vectorises.
        outer, n_out, inner = out.shape
        taps = index.shape[1]
        half = taps // 2
        for o in range(outer):
            for i in range(n_out):
                dst = out[o, i]
                if paired[i]:
                    low = src[o, index[i, 0]]
                    high = src[o, index[i, taps - 1]]
                    weight = weights[i, 0]
                    for j in range(inner):
                        dst[j] = (cast(low[j]) + cast(high[j])) * weight
                    for k in range(1, half):
                        low = src[o, index[i, k]]
                        high = src[o, index[i, taps - 1 - k]]
                        weight = weights[i, k]
                        for j in range(inner):
                            dst[j] = dst[j] + (cast(low[j]) + cast(high[j])) * weight
                    if taps % 2:
                        low = src[o, index[i, half]]
                        weight = weights[i, half]
                        for j in range(inner):
                            dst[j] = dst[j] + cast(low[j]) * weight
                else:
                    low = src[o, index[i, 0]]
                    weight = weights[i, 0]
                    for j in range(inner):
                        dst[j] = cast(low[j]) * weight
                    for k in range(1, taps):
                        low = src[o, index[i, k]]
                        weight = weights[i, k]
                        for j in range(inner):
                            dst[j] = dst[j] + cast(low[j]) * weight

    @jit
    def last_strided(src, firsts, step, weights, paired, out, start, count):  # type: ignore[no-untyped-def]
        # Outputs [start, start + count) along the last axis, tap k of output start + i at
        # firsts[k] + step * i. Each row is first split into `step` contiguous phases (cast to
        # the accumulator), so that every tap reads a contiguous slice and the loops vectorise.
        outer, n_in = src.shape
        taps = firsts.shape[0]
        half = taps // 2
        lowest = firsts.min()
        length = (firsts.max() - lowest) // step + count
        phases = np.empty((step, length), dtype=weights.dtype)
        for o in range(outer):
            row = src[o]
            for p in range(step):
                phase = phases[p]
                for m in range(length):
                    q = lowest + p + step * m
                    if q < n_in:
                        phase[m] = cast(row[q])
            dst = out[o, start : start + count]
            first = firsts[0] - lowest
            values = phases[first % step, first // step :]
            if paired:
                last = firsts[taps - 1] - lowest
                other = phases[last % step, last // step :]
                weight = weights[0]
                for i in range(count):
                    dst[i] = (values[i] + other[i]) * weight
                for k in range(1, half):
                    first = firsts[k] - lowest
                    last = firsts[taps - 1 - k] - lowest
                    values = phases[first % step, first // step :]
                    other = phases[last % step, last // step :]
                    weight = weights[k]
                    for i in range(count):
                        dst[i] = dst[i] + (values[i] + other[i]) * weight
                if taps % 2:
                    first = firsts[half] - lowest
                    values = phases[first % step, first // step :]
                    weight = weights[half]
                    for i in range(count):
                        dst[i] = dst[i] + values[i] * weight
            else:
                weight = weights[0]
                for i in range(count):
                    dst[i] = values[i] * weight
                for k in range(1, taps):
                    first = firsts[k] - lowest
                    values = phases[first % step, first // step :]
                    weight = weights[k]
                    for i in range(count):
                        dst[i] = dst[i] + values[i] * weight

    @jit
    def last_gathered(src, index, weights, paired, out, start, stop):  # type: ignore[no-untyped-def]
        # Outputs [start, stop) along the last axis, each summed in a register from its own
        # taps (edges, short or uneven runs).
        outer = src.shape[0]
        taps = index.shape[1]
        half = taps // 2
        for o in range(outer):
            row = src[o]
            for i in range(start, stop):
                if paired[i]:
                    total = (cast(row[index[i, 0]]) + cast(row[index[i, taps - 1]])) * weights[i, 0]
                    for k in range(1, half):
                        pair = cast(row[index[i, k]]) + cast(row[index[i, taps - 1 - k]])
                        total = total + pair * weights[i, k]
                    if taps % 2:
                        total = total + cast(row[index[i, half]]) * weights[i, half]
                else:
                    total = cast(row[index[i, 0]]) * weights[i, 0]
                    for k in range(1, taps):
                        total = total + cast(row[index[i, k]]) * weights[i, k]
                out[o, i] = total

    return _Loops(across, last_strided, last_gathered)


def linear_axis(
    block: Array,
    axis: int,
    index: Array,
    weights: Array,
    paired: Array,
    runs: Sequence[tuple[int, int, int, bool]],
    out: Array,
    first_row: int = 0,
) -> bool:
    """Compute ``out`` along ``axis`` from ``block`` with the compiled loops, if they apply.

    Parameters
    ----------
    block : numpy.ndarray
        Input values; ``index`` holds positions along ``axis`` of it.
    axis : int
        The summed axis.
    index : numpy.ndarray
        ``(n_out, taps)`` int64 tap positions in ``block``.
    weights : numpy.ndarray
        ``(n_out, taps)`` weights in ``out``'s dtype.
    paired : numpy.ndarray
        ``(n_out,)`` bool: which outputs sum their taps in symmetric pairs.
    runs : sequence of (start, stop, step, uniform)
        Runs of outputs covering ``[first_row, first_row + n_out)`` in order, each of whose
        taps all advance by ``step`` from one output to the next, with the same weights when
        ``uniform`` (``scale._Run`` s).
    out : numpy.ndarray
        C-contiguous float32 or float64 destination, ``block``'s shape with ``n_out`` along
        ``axis``.
    first_row : int, default 0
        The output (row of the whole tap table) that row 0 of ``index``, ``weights``,
        ``paired`` and ``out`` is; ``runs`` count from it.

    Returns
    -------
    bool
        True when ``out`` was computed; False (``out`` untouched) when the backend is NumPy or
        the dtypes or layout are not compiled for, and the caller must compute it itself.
    """
    if (
        backend() != "numba"
        or block.dtype not in _SOURCE_DTYPES
        or not block.dtype.isnative
        or out.dtype not in (np.float32, np.float64)
        or weights.dtype != out.dtype
        or not out.flags.c_contiguous
        or out.size == 0
    ):
        return False
    loops = _loops(out.dtype)
    source = np.ascontiguousarray(block)
    outer = int(np.prod(block.shape[:axis], dtype=np.int64))
    n_out = out.shape[axis]
    index = np.ascontiguousarray(index, dtype=np.int64)
    weights = np.ascontiguousarray(weights)
    paired = np.ascontiguousarray(paired, dtype=np.bool_)
    if axis < block.ndim - 1:
        inner = out.size // max(1, outer * n_out)
        loops.across(
            source.reshape(outer, block.shape[axis], inner),
            index,
            weights,
            paired,
            out.reshape(outer, n_out, inner),
        )
        return True
    rows = source.reshape(outer, block.shape[axis])
    sums = out.reshape(outer, n_out)
    for run_start, run_stop, step, uniform in runs:
        start, stop = run_start - first_row, run_stop - first_row
        if uniform and stop - start >= _MIN_STRIDED_OUTPUTS:
            loops.last_strided(
                rows,
                index[start],
                step,
                weights[start],
                bool(paired[start]),
                sums,
                start,
                stop - start,
            )
        elif stop > start:
            loops.last_gathered(rows, index, weights, paired, sums, start, stop)
    return True
