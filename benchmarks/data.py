"""Deterministic, microscopy-like synthetic uint16 images for the benchmarks.

Pixels are composed from a small bank of pre-rendered 768×768 tiles: "structure" tiles
(blurred blobs at three scales, smooth filaments, Poisson shot noise) and "camera" tiles
(background offset plus Gaussian read noise). Each 512×512 sub-tile of the image adds one
window of a structure tile to one window of a camera tile, both chosen, offset and flipped by
a hash of (seed, t, c, z, sub-tile row, sub-tile column). So:

* the pixel values depend only on the seed and the pixel position, never on the chunking
  (a lazy array computes to exactly the in-memory array of the same shape and seed);
* generating a block costs one ``uint16`` addition per pixel (about 1 GB/s per core), so the
  input is never the bottleneck of the writers being timed;
* the bank holds 10 tiles (about 11 MiB), built once per process and per seed.

Sub-tiles are independent, so structures are cut at the 512-pixel sub-tile borders and
consecutive z planes are unrelated. Neither matters for what is measured: writers compress
chunks independently and downsample in y and x only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final

import dask.array as da
import numpy as np
import numpy.typing as npt
from scipy import fft

__all__ = [
    "QUICK_SIZES",
    "SIZES",
    "SizeCase",
    "TileBank",
    "fill_region",
    "make_input",
    "make_lazy",
    "make_numpy",
    "sample_planes",
    "tile_bank",
]

U16 = npt.NDArray[np.uint16]
F32 = npt.NDArray[np.float32]

SUBTILE: Final = 512
"""Side of the independent sub-tiles an image is composed of."""
BANK_TILE: Final = 768
"""Side of a bank tile; windows of side SUBTILE are taken from it at a hashed offset."""
N_STRUCTURE: Final = 6
N_CAMERA: Final = 4
BACKGROUND: Final = 100
"""Camera offset in counts."""
READ_NOISE: Final = 6.0
"""Standard deviation of the camera read noise in counts."""
PEAK_PHOTONS: Final = 3000.0
"""Brightest expected structure signal in photons (before shot noise)."""


@dataclass(frozen=True)
class SizeCase:
    """One benchmark input.

    Parameters
    ----------
    name : str
        Name used on the command line and in reports.
    shape : tuple of int
        Array shape, axes ``tczyx``.
    lazy : bool
        True for a dask array whose blocks are generated on demand, False for a NumPy array
        materialised before the timed write.
    chunks : tuple of int
        Dask chunk shape of a lazy input (ignored for in-memory inputs).
    """

    name: str
    shape: tuple[int, int, int, int, int]
    lazy: bool
    chunks: tuple[int, int, int, int, int] = (1, 1, 1, 2048, 2048)

    @property
    def nbytes(self) -> int:
        """Size of the full-resolution input in bytes."""
        return int(np.prod(self.shape)) * 2

    @property
    def kind(self) -> str:
        """``"lazy"`` or ``"memory"``."""
        return "lazy" if self.lazy else "memory"


SIZES: Final[dict[str, SizeCase]] = {
    case.name: case
    for case in (
        SizeCase("512M", (1, 2, 32, 2048, 2048), lazy=False),
        SizeCase("lazy0.5G", (1, 1, 64, 2048, 2048), lazy=True),
        SizeCase("lazy4G", (1, 1, 128, 4096, 4096), lazy=True),
        SizeCase("lazy4G-deep", (1, 1, 512, 2048, 2048), lazy=True),
        # A whole-slide scan: one 2-D plane of 32768 x 32768, in 1024 x 1024 chunks.
        SizeCase("slide2G", (1, 1, 1, 32768, 32768), lazy=True, chunks=(1, 1, 1, 1024, 1024)),
        # 2 TB: written only partly (memory.py --seconds), to measure planning and steady state
        SizeCase("plane1T", (1, 1, 1, 10**6, 10**6), lazy=True, chunks=(1, 1, 1, 4096, 4096)),
        # Tiny cases for a smoke run of the harness (--quick).
        SizeCase("quick-mem", (1, 2, 4, 512, 512), lazy=False),
        SizeCase("quick-lazy-s", (1, 1, 4, 512, 512), lazy=True, chunks=(1, 1, 1, 256, 256)),
        SizeCase("quick-lazy-l", (1, 1, 8, 1024, 1024), lazy=True, chunks=(1, 1, 1, 512, 512)),
    )
}
QUICK_SIZES: Final = ("quick-mem", "quick-lazy-s", "quick-lazy-l")


# --------------------------------------------------------------------------- tile bank


def _gaussian_filter_fft(image: F32, sigma: float) -> F32:
    """Blur a square float image with a periodic Gaussian of ``sigma`` pixels."""
    side = image.shape[0]
    freq = fft.fftfreq(side).astype(np.float32)
    rfreq = fft.rfftfreq(side).astype(np.float32)
    two_pi2_s2 = np.float32(2.0 * np.pi**2 * sigma**2)
    kernel = np.exp(-two_pi2_s2 * freq[:, None] ** 2) * np.exp(-two_pi2_s2 * rfreq[None, :] ** 2)
    return fft.irfft2(fft.rfft2(image, workers=1) * kernel, s=image.shape, workers=1).astype(
        np.float32
    )


def _blobs(rng: np.random.Generator, side: int, sigma: float, density: float) -> F32:
    """Soft blobs of size ~``sigma``: the high tail of smoothed white noise, scaled to [0, 1]."""
    field = _gaussian_filter_fft(rng.standard_normal((side, side), dtype=np.float32), sigma)
    field /= field.std()
    threshold = np.float32(np.quantile(field, 1.0 - density))
    blobs = np.maximum(field - threshold, np.float32(0.0))
    peak = float(blobs.max())
    return blobs / np.float32(peak) if peak > 0 else blobs


def _filaments(rng: np.random.Generator, side: int, count: int) -> F32:
    """Smooth curved filaments (persistent random walks), blurred to ~1.5 px width."""
    steps = 4 * side
    angles = rng.uniform(0.0, 2.0 * np.pi, size=(count, 1)) + np.cumsum(
        rng.normal(0.0, 0.03, size=(count, steps)), axis=1
    )
    starts = rng.uniform(0.0, side, size=(count, 2))
    ys = (starts[:, :1] + np.cumsum(0.5 * np.sin(angles), axis=1)) % side
    xs = (starts[:, 1:] + np.cumsum(0.5 * np.cos(angles), axis=1)) % side
    canvas = np.zeros((side, side), dtype=np.float32)
    np.add.at(canvas, (ys.astype(np.intp).ravel(), xs.astype(np.intp).ravel()), np.float32(1.0))
    canvas = _gaussian_filter_fft(canvas, 1.5)
    return canvas / np.float32(np.quantile(canvas, 0.999) or 1.0)


def _structure_tile(rng: np.random.Generator, side: int) -> U16:
    """Photon counts of one tile: cells, puncta, diffuse clouds and filaments with shot noise."""
    signal = (
        0.55 * _blobs(rng, side, sigma=14.0, density=0.12)  # cells and nuclei
        + 0.35 * _blobs(rng, side, sigma=2.5, density=0.02)  # puncta / vesicles
        + 0.15 * _blobs(rng, side, sigma=40.0, density=0.5)  # diffuse cytoplasm
        + 0.30
        * np.minimum(
            np.maximum(_filaments(rng, side, count=12), np.float32(0)), np.float32(1.5)
        )  # cytoskeleton
    )
    photons = rng.poisson(PEAK_PHOTONS * signal).astype(np.float32)
    return np.minimum(photons, np.float32(60000.0)).astype(np.uint16)


def _camera_tile(rng: np.random.Generator, side: int) -> U16:
    """Background offset plus Gaussian read noise, in counts."""
    counts = BACKGROUND + READ_NOISE * rng.standard_normal((side, side), dtype=np.float32)
    counts = np.minimum(np.maximum(np.rint(counts), np.float32(0.0)), np.float32(2 * BACKGROUND))
    return counts.astype(np.uint16)


@dataclass(frozen=True)
class TileBank:
    """Pre-rendered tiles that images are composed from (see the module docstring)."""

    structure: tuple[U16, ...]
    camera: tuple[U16, ...]


@functools.lru_cache(maxsize=4)
def tile_bank(seed: int) -> TileBank:
    """Build (once per process and seed) the tiles the images of ``seed`` are made of.

    Parameters
    ----------
    seed : int
        Seed of the synthetic data set.

    Returns
    -------
    TileBank
        Six structure tiles and four camera tiles of 768×768 ``uint16``.
    """
    rng = np.random.default_rng([seed, 0x5EED])
    return TileBank(
        structure=tuple(_structure_tile(rng, BANK_TILE) for _ in range(N_STRUCTURE)),
        camera=tuple(_camera_tile(rng, BANK_TILE) for _ in range(N_CAMERA)),
    )


# --------------------------------------------------------------------------- composition

_MASK64: Final = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Vectorised SplitMix64 finaliser: a fast, well-mixed 64-bit hash."""
    with np.errstate(over="ignore"):
        z = (values + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return z ^ (z >> np.uint64(31))


def _subtile_hashes(
    seed: int, plane: tuple[int, int, int], rows: range, cols: range
) -> npt.NDArray[np.uint64]:
    """One 64-bit hash per sub-tile of a plane, keyed by seed, plane and sub-tile position."""
    key = np.array(seed & 0xFFFFFFFF, dtype=np.uint64)
    for part in plane:
        key = _splitmix64(key ^ np.uint64(part))
    r = np.asarray(rows, dtype=np.uint64)[:, None]
    c = np.asarray(cols, dtype=np.uint64)[None, :]
    return _splitmix64(_splitmix64(key ^ (r << np.uint64(32))) ^ c)


def _window(tiles: tuple[U16, ...], bits: int) -> U16:
    """A tile, window offset and flips chosen by hash ``bits`` (a SUBTILE-square view)."""
    span = BANK_TILE - SUBTILE + 1
    bits, index = divmod(bits, len(tiles))
    bits, dy = divmod(bits, span)
    bits, dx = divmod(bits, span)
    window = tiles[index][dy : dy + SUBTILE, dx : dx + SUBTILE]
    if bits & 1:
        window = window[::-1, :]
    if bits & 2:
        window = window[:, ::-1]
    return window


def fill_region(
    out: U16, seed: int, plane: tuple[int, int, int], y0: int, x0: int, bank: TileBank | None = None
) -> None:
    """Write the pixels of ``plane`` (t, c, z) starting at (y0, x0) into the 2-D array ``out``.

    Parameters
    ----------
    out : numpy.ndarray
        Writable 2-D ``uint16`` destination; its shape sets the region size.
    seed : int
        Seed of the synthetic data set.
    plane : tuple of int
        The (t, c, z) index of the plane.
    y0, x0 : int
        Pixel origin of the region in the plane.
    bank : TileBank, optional
        Tiles to compose from; defaults to ``tile_bank(seed)``.
    """
    if out.ndim != 2 or out.dtype != np.uint16:
        raise ValueError(f"out must be a 2-D uint16 array, got {out.ndim}-D {out.dtype}")
    bank = bank or tile_bank(seed)
    height, width = out.shape
    rows = range(y0 // SUBTILE, (y0 + height - 1) // SUBTILE + 1)
    cols = range(x0 // SUBTILE, (x0 + width - 1) // SUBTILE + 1)
    hashes = _subtile_hashes(seed, plane, rows, cols)
    camera_hashes = _splitmix64(hashes)
    for i, row in enumerate(rows):
        top, bottom = max(row * SUBTILE, y0), min((row + 1) * SUBTILE, y0 + height)
        for j, col in enumerate(cols):
            left, right = max(col * SUBTILE, x0), min((col + 1) * SUBTILE, x0 + width)
            # The whole sub-tile's windows, cut below to the part this region covers.
            structure = _window(bank.structure, int(hashes[i, j]))
            camera = _window(bank.camera, int(camera_hashes[i, j]))
            sy = slice(top - row * SUBTILE, bottom - row * SUBTILE)
            sx = slice(left - col * SUBTILE, right - col * SUBTILE)
            np.add(
                structure[sy, sx],
                camera[sy, sx],
                out=out[top - y0 : bottom - y0, left - x0 : right - x0],
            )


def make_numpy(case: SizeCase, seed: int) -> U16:
    """Materialise the image of ``case`` as a NumPy array.

    Parameters
    ----------
    case : SizeCase
        Shape of the image (the ``lazy`` flag is ignored).
    seed : int
        Seed of the synthetic data set.

    Returns
    -------
    numpy.ndarray
        ``uint16`` array of ``case.shape``.

    Examples
    --------
    >>> image = make_numpy(SIZES["quick-mem"], seed=0)
    >>> image.shape, image.dtype.name
    ((1, 2, 4, 512, 512), 'uint16')
    """
    image = np.empty(case.shape, dtype=np.uint16)
    bank = tile_bank(seed)
    for t, c, z in np.ndindex(*case.shape[:3]):
        fill_region(image[t, c, z], seed, (t, c, z), 0, 0, bank)
    return image


def _lazy_block(seed: int, block_info: dict[Any, Any] | None = None) -> U16:
    """Generate one dask block from its location (called by ``dask.array.map_blocks``)."""
    if block_info is None:  # dask probing the function's output type
        return np.empty((0,) * 5, dtype=np.uint16)
    location = block_info[None]["array-location"]
    shape = tuple(stop - start for start, stop in location)
    block = np.empty(shape, dtype=np.uint16)
    (t0, _), (c0, _), (z0, _), (y0, _), (x0, _) = location
    for t, c, z in np.ndindex(*shape[:3]):
        fill_region(block[t, c, z], seed, (t0 + t, c0 + c, z0 + z), y0, x0)
    return block


def make_lazy(case: SizeCase, seed: int) -> da.Array:
    """A dask array of the image of ``case`` whose blocks are generated on demand.

    Parameters
    ----------
    case : SizeCase
        Shape and dask chunking of the image.
    seed : int
        Seed of the synthetic data set.

    Returns
    -------
    dask.array.Array
        ``uint16`` array of ``case.shape`` chunked ``case.chunks``; computing it gives exactly
        ``make_numpy(case, seed)``.
    """
    chunks = da.core.normalize_chunks(case.chunks, case.shape)
    return da.map_blocks(
        _lazy_block,
        seed=seed,
        chunks=chunks,
        dtype=np.uint16,
        meta=np.empty((0,) * 5, dtype=np.uint16),
        name=f"synthetic-microscopy-{seed}-{case.name}",
    )


def make_input(case: SizeCase, seed: int) -> U16 | da.Array:
    """The input of ``case``: lazy dask array or materialised NumPy array."""
    return make_lazy(case, seed) if case.lazy else make_numpy(case, seed)


def sample_planes(count: int, side: int, seed: int) -> list[U16]:
    """``count`` different ``side``×``side`` planes, e.g. as chunks for a codec study.

    Parameters
    ----------
    count : int
        Number of planes.
    side : int
        Height and width of each plane.
    seed : int
        Seed of the synthetic data set.

    Returns
    -------
    list of numpy.ndarray
        2-D ``uint16`` planes (planes ``z = 0 … count-1`` of one image).
    """
    planes = []
    for z in range(count):
        plane = np.empty((side, side), dtype=np.uint16)
        fill_region(plane, seed, (0, 0, z), 0, 0)
        planes.append(plane)
    return planes
