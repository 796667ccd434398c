"""Sample images shared by the tests (random and microscopy-like) and bit-for-bit comparison."""

from __future__ import annotations

from collections.abc import Sequence
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


def seeded_image(shape: Sequence[int], dtype: Any = np.uint16, seed: int = 0) -> np.ndarray:
    """Random values over all of an integer ``dtype`` (any byte order), normal values around
    100 for floats, half true for bools; the same for the same arguments."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    native = dtype.newbyteorder("=")
    if dtype.kind == "b":
        return rng.random(tuple(shape)) > 0.5
    if dtype.kind == "f":
        return rng.normal(100, 30, tuple(shape)).astype(dtype)
    info = np.iinfo(native)
    values = rng.integers(info.min, info.max, tuple(shape), dtype=native, endpoint=True)
    return values.astype(dtype)


def cells(shape: tuple[int, ...], dtype: Any = "uint16", seed: int = 7) -> np.ndarray:
    """Smooth blobs plus noise: a small stand-in for a fluorescence image."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    image = np.zeros(shape)
    for _ in range(6):
        centre = rng.random(len(shape))
        image += np.exp(-sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)) / 0.01)
    image = image / image.max() * 3000 + rng.normal(100, 10, shape)
    return np.clip(image, 0, None).astype(dtype)


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
