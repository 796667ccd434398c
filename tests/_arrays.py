"""Array helpers shared by the kernel tests: random images and bit-for-bit comparison."""

from __future__ import annotations

from typing import Any

import numpy as np


def random_image(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Random values spanning much of ``dtype``'s range (bools half true)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low, high = max(int(info.min), -(2**40)), min(int(info.max), 2**40)
        return rng.integers(low, high, size=shape, endpoint=True).astype(dtype)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def same_bits(left: np.ndarray, right: np.ndarray) -> bool:
    """Equal dtype, shape and bytes, the sign of zero included; NaNs only need to be NaN in
    both (NumPy's loops do not keep the sign and payload of NaNs alike)."""
    if left.dtype != right.dtype or left.shape != right.shape:
        return False
    if left.dtype.kind != "f":
        return left.tobytes() == right.tobytes()
    nan = np.isnan(left)
    return bool(np.array_equal(nan, np.isnan(right))) and (
        left[~nan].tobytes() == right[~nan].tobytes()
    )
