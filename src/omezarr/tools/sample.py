"""Synthetic fluorescence microscopy: a small, realistic image and its nuclei segmentation.

Used by ``omezarr demo`` and by tests and benchmarks that need data that looks and compresses
like a real acquisition (smooth objects, a camera offset, shot and read noise) rather than
random numbers or constant arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray
from scipy import ndimage

__all__ = ["CHANNEL_COLORS", "CHANNEL_NAMES", "sample_image"]

CHANNEL_NAMES: tuple[str, ...] = ("DAPI", "Membrane", "Cytoplasm", "Spots")
"""Names of the first channels; further channels are called ``Channel N``."""

CHANNEL_COLORS: tuple[str, ...] = ("0000FF", "00FF00", "FF00FF", "FFFF00")
"""Display colours (hex RRGGBB) of the first channels; further channels are grey."""

_PEAK = 4000.0
"""Brightest nucleus signal in photo-electrons, comfortably inside uint16."""
_CAMERA_OFFSET = 100.0
_READ_NOISE = 3.0


def _checked_shape(shape: Any) -> tuple[int, int, int, int]:
    """(c, z, y, x) from a 4-D (c, z, y, x) or 3-D (c, y, x) shape."""
    if not isinstance(shape, tuple | list) or len(shape) not in (3, 4):
        raise ValueError(f"shape: expected (c, z, y, x) or (c, y, x), not {shape!r}")
    if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in shape):
        raise TypeError(f"shape: expected integers, not {shape!r}")
    dims = [int(n) for n in shape]
    if len(dims) == 3:
        dims.insert(1, 1)
    c, z, y, x = dims
    if c < 1 or z < 1 or y < 16 or x < 16:
        raise ValueError(
            f"shape: needs at least one channel and plane and 16 × 16 pixels, not {shape!r}"
        )
    return c, z, y, x


def _place_nuclei(
    rng: np.random.Generator, z: int, y: int, x: int
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], float]]:
    """Non-overlapping nuclei as (centre, semi-axes, angle in the yx plane)."""
    radius_yx = max(4.0, min(y, x) / 16)
    radius_z = max(1.0, min(z / 4, radius_yx / 2.5))
    wanted = max(1, round(0.55 * y * x / (math.pi * (1.4 * radius_yx) ** 2)))
    nuclei: list[tuple[NDArray[np.float64], NDArray[np.float64], float]] = []
    for _ in range(wanted * 20):
        if len(nuclei) == wanted:
            break
        axes = np.array(
            [
                radius_z * rng.uniform(0.8, 1.2),
                radius_yx * rng.uniform(0.8, 1.25),
                radius_yx * rng.uniform(0.6, 1.0),
            ]
        )
        centre = np.array(
            [
                rng.uniform(0.35, 0.65) * (z - 1),
                rng.uniform(axes[1], y - axes[1]),
                rng.uniform(axes[1], x - axes[1]),
            ]
        )
        # Circles around the longest semi-axis never overlap; a small gap keeps them apart.
        if all(
            np.hypot(*(centre[1:] - other[1:])) > axes[1] + other_axes[1] + 2
            for other, other_axes, _ in nuclei
        ):
            nuclei.append((centre, axes, float(rng.uniform(0, math.pi))))
    return nuclei


def _paint_nuclei(
    rng: np.random.Generator,
    nuclei: list[tuple[NDArray[np.float64], NDArray[np.float64], float]],
    shape: tuple[int, int, int],
) -> tuple[NDArray[np.uint32], NDArray[np.float32]]:
    """Instance labels and the nuclear stain (bright rim-less blobs with chromatin texture)."""
    labels = np.zeros(shape, np.uint32)
    stain = np.zeros(shape, np.float32)
    for value, (centre, axes, angle) in enumerate(nuclei, start=1):
        lo = np.maximum(0, np.floor(centre - axes - 1)).astype(int)
        hi = np.minimum(shape, np.ceil(centre + axes + 2)).astype(int)
        zz, yy, xx = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        dz, dy, dx = zz - centre[0], yy - centre[1], xx - centre[2]
        cos, sin = math.cos(angle), math.sin(angle)
        u, v = cos * dy + sin * dx, -sin * dy + cos * dx
        r2 = (dz / axes[0]) ** 2 + (u / axes[1]) ** 2 + (v / axes[2]) ** 2
        inside = r2 <= 1.0
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        labels[box][inside] = value
        brightness = rng.uniform(0.45, 1.0) * _PEAK
        # Chromatin: smooth lumps, brighter towards the centre of the nucleus.
        texture = ndimage.gaussian_filter(rng.random(inside.shape, np.float32), 1.2)
        texture = 0.75 + 1.5 * (texture - texture.mean())
        profile = np.clip(1.15 - 0.35 * r2, 0, None) * texture
        stain[box] = np.where(inside, brightness * profile, stain[box])
    return labels, stain


def _cells(
    labels: NDArray[np.uint32], shape: tuple[int, int, int]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Membranes and cytoplasm of the cells around each nucleus, as 0–1 signals.

    Cells are the Voronoi regions of the nuclei in the yx plane (a monolayer), limited to a
    distance from their nucleus and extruded through z with a smooth height profile.
    """
    footprint = labels.max(axis=0)
    z, y, x = shape
    if not footprint.any():
        empty = np.zeros(shape, np.float32)
        return empty, empty
    distance, (iy, ix) = ndimage.distance_transform_edt(footprint == 0, return_indices=True)
    owner = footprint[iy, ix]
    reach = max(6.0, min(y, x) / 10)
    owner[distance > reach] = 0
    edges = np.zeros((y, x), bool)
    edges[:-1] |= owner[:-1] != owner[1:]
    edges[1:] |= owner[:-1] != owner[1:]
    edges[:, :-1] |= owner[:, :-1] != owner[:, 1:]
    edges[:, 1:] |= owner[:, :-1] != owner[:, 1:]
    membrane2d = ndimage.gaussian_filter(edges.astype(np.float32), 0.8)
    membrane2d /= max(float(membrane2d.max()), 1e-6)
    cytoplasm2d = ndimage.gaussian_filter(
        ((owner > 0) & (footprint == 0)).astype(np.float32) * (1 - distance / reach), 1.5
    )
    cytoplasm2d = cytoplasm2d.astype(np.float32)
    heights = np.arange(z, dtype=np.float32)
    centre, half = (z - 1) / 2, max(1.0, 0.4 * z)
    z_profile = np.exp(-0.5 * ((heights - centre) / half) ** 4)[:, None, None].astype(np.float32)
    return membrane2d[None] * z_profile, cytoplasm2d[None] * z_profile


def _spots(rng: np.random.Generator, labels: NDArray[np.uint32]) -> NDArray[np.float32]:
    """Diffraction-limited puncta scattered through the cells."""
    spots = np.zeros(labels.shape, np.float32)
    count = max(1, labels.size // 4000)
    index = tuple(rng.integers(0, n, count) for n in labels.shape)
    spots[index] = rng.uniform(0.5, 1.0, count).astype(np.float32)
    spots = ndimage.gaussian_filter(spots, (0.8, 1.2, 1.2))
    return spots / max(float(spots.max()), 1e-6)


def _to_dtype(photons: NDArray[np.float32], dtype: np.dtype[Any]) -> NDArray[Any]:
    """Scale photo-electrons into the range of ``dtype`` (floats end up roughly in 0–1)."""
    if dtype.kind == "f":
        return (photons / (_PEAK + _CAMERA_OFFSET)).astype(dtype)
    info = np.iinfo(dtype)
    scale = min(1.0, info.max / (_PEAK + _CAMERA_OFFSET))
    return np.clip(np.rint(photons * scale), info.min, info.max).astype(dtype)


def sample_image(
    shape: tuple[int, ...] = (2, 32, 256, 256),
    dtype: DTypeLike = np.uint16,
    seed: int = 0,
) -> tuple[NDArray[Any], NDArray[np.uint32], list[str], list[str]]:
    """A synthetic fluorescence image of cells and the instance segmentation of their nuclei.

    Channel 0 is a nuclear stain (textured ellipsoids), channel 1 the cell membranes, channel 2
    the cytoplasm and channel 3 diffraction-limited spots; further channels repeat these. The
    optics blur (anisotropic, stronger along z), the camera adds an offset, shot (Poisson) and
    read (Gaussian) noise. Everything is vectorised: the default shape takes well under a
    second.

    Parameters
    ----------
    shape : tuple of int, default (2, 32, 256, 256)
        ``(c, z, y, x)``, or ``(c, y, x)`` for a single plane; y and x at least 16.
    dtype : numpy dtype, default numpy.uint16
        Unsigned/signed integers hold photo-electrons (scaled down to fit 8-bit types); floats
        are scaled to about 0–1.
    seed : int, default 0
        The random seed: the same seed always gives the same image.

    Returns
    -------
    image : numpy.ndarray
        Of ``shape`` and ``dtype``.
    labels : numpy.ndarray of uint32
        ``shape`` without the channel axis: 0 for background, 1…N for the N nuclei.
    channel_names : list of str
        One name per channel, e.g. ``["DAPI", "Membrane"]``.
    colors : list of str
        One display colour per channel as hex ``RRGGBB``.

    Raises
    ------
    ValueError, TypeError
        For a shape that is not (c, z, y, x) / (c, y, x) integers, or an unsupported dtype.

    Examples
    --------
    >>> image, labels, names, colors = sample_image((2, 8, 64, 64))
    >>> image.shape, labels.shape, names
    ((2, 8, 64, 64), (8, 64, 64), ['DAPI', 'Membrane'])
    >>> bool(image[0][labels > 0].mean() > image[0][labels == 0].mean())
    True
    """
    channels, z, y, x = _checked_shape(shape)
    try:
        out_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a NumPy dtype, not {dtype!r}") from None
    if out_dtype.kind not in "uif":
        raise TypeError(f"dtype: expected an integer or float dtype, not {out_dtype}")
    rng = np.random.default_rng(seed)
    volume = (z, y, x)
    nuclei = _place_nuclei(rng, z, y, x)
    labels, nuclear = _paint_nuclei(rng, nuclei, volume)
    membrane, cytoplasm = _cells(labels, volume)
    signals: list[Callable[[], NDArray[np.float32]]] = [
        lambda: nuclear,
        lambda: membrane * (0.5 * _PEAK),
        lambda: cytoplasm * (0.25 * _PEAK) + membrane * (0.05 * _PEAK),
        lambda: _spots(rng, labels) * _PEAK,
    ]
    psf = (1.5, 1.0, 1.0) if z > 1 else (0.0, 1.0, 1.0)
    image = np.empty((channels, *volume), out_dtype)
    for c in range(channels):
        signal = ndimage.gaussian_filter(signals[c % len(signals)](), psf)
        # Autofluorescence: a faint, smooth haze so the background is not flat.
        signal += 0.01 * _PEAK * (1 + np.sin(np.linspace(0, 3, x, dtype=np.float32)))[None, None]
        # Shot noise (Poisson, in its Gaussian limit: the haze keeps every mean above ~40
        # photo-electrons) and read noise share one draw: variance = signal + read noise².
        np.clip(signal, 0, None, out=signal)
        noise = rng.standard_normal(volume, dtype=np.float32)
        noise *= np.sqrt(signal + _READ_NOISE**2)
        photons = signal + noise + _CAMERA_OFFSET
        image[c] = _to_dtype(photons, out_dtype)
    names = [
        CHANNEL_NAMES[c] if c < len(CHANNEL_NAMES) else f"Channel {c}" for c in range(channels)
    ]
    colors = [CHANNEL_COLORS[c] if c < len(CHANNEL_COLORS) else "FFFFFF" for c in range(channels)]
    if len(shape) == 3:
        return image[:, 0], labels[0], names, colors
    return image, labels, names, colors
