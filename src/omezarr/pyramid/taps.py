"""Tap maths: which input pixels, with which weights, each output pixel of a level reads."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from .._numbers import ceil_div
from .methods import Methods

__all__ = [
    "Region",
]

Region: TypeAlias = tuple[slice, ...]
"""An n-d box: one ``slice(start, stop)`` per axis, with int bounds and no step."""

Array: TypeAlias = npt.NDArray[Any]


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


def _taps(
    n_in: int, n_out: int, factor: int, method: Methods, start: int = 0, stop: int | None = None
) -> tuple[Array, Array]:
    """Input indices and float64 weights, shape ``(stop - start, taps)``, of output pixels
    ``[start, stop)`` (all ``n_out`` by default).

    Each row is what it is in the whole-axis table; only the padding differs: rows are padded
    to the widest row *of the range* (see :func:`_pad` to pad to another width).
    """
    stop = n_out if stop is None else stop
    count = stop - start
    if count <= 0:
        return np.zeros((0, 1), dtype=np.int64), np.zeros((0, 1))
    rows = np.arange(start, stop, dtype=np.int64)
    if method is Methods.NEAREST:
        # Same float expression as scipy's order-0 zoom in grid mode, so ties round alike.
        centre = (rows + 0.5) * (n_in / n_out) - 0.5
        index = np.clip(np.floor(centre + 0.5).astype(np.int64), 0, n_in - 1)
        return index[:, None], np.ones((count, 1))
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
        index = (index[:, :, None] + offsets).reshape(count, -1)
        weights = (weights[:, :, None] * kernel).reshape(count, -1)
    return _compact(_mirror(index, n_in), weights)


def _pad(index: Array, weights: Array, width: int) -> tuple[Array, Array]:
    """Pad a tap table to ``width`` taps as :func:`_compact` pads its short rows (weight 0 at
    the row's first index), so that a range's rows equal the whole-axis table's."""
    extra = width - index.shape[1]
    if extra <= 0:
        return index, weights
    index = np.concatenate([index, np.repeat(index[:, :1], extra, axis=1)], axis=1)
    return index, np.concatenate([weights, np.zeros((weights.shape[0], extra))], axis=1)


def _width_bound(n_in: int, n_out: int, factor: int, method: Methods) -> int:
    """An upper bound on the taps per output of an axis, known without computing them."""
    if method is Methods.NEAREST or n_out == 0:
        return 1
    if method is Methods.LOCAL_MEAN:
        return factor
    if method is Methods.ZOOM:
        return 2
    sigma = max(0.0, (n_in / n_out - 1) / 2)
    return 2 * (2 * int(4.0 * sigma + 0.5) + 1)


def _owned_range(in_start: int, in_stop: int, factor: int, n_out: int) -> tuple[int, int]:
    """Outputs ``[a, b)`` (of ``n_out``) owned by inputs ``[in_start, in_stop)``: output ``i``
    belongs to the range holding input ``i * factor``."""
    start = min(ceil_div(in_start, factor), n_out)
    return start, max(start, min(ceil_div(in_stop, factor), n_out))


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
