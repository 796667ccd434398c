"""The reference's ``ome_zarr.scale`` import path: pyramid methods, kernels and the Scaler.

Re-exports only; the code lives in :mod:`omezarr.pyramid` (and the deprecated :class:`Scaler`
in :mod:`omezarr._compat`).
"""

from __future__ import annotations

from ._compat import Scaler
from .pyramid import (
    SPATIAL_DIMS,
    AxisResampler,
    LevelResampler,
    Methods,
    Mosaic,
    PyramidStep,
    Region,
    downsample,
    downsample_pyramid,
    level_factors,
    level_shapes,
    pyramid_steps,
    resolve_method,
)
from .pyramid.lazy import _build_pyramid
from .pyramid.taps import Array

__all__ = [
    "SPATIAL_DIMS",
    "Array",
    "AxisResampler",
    "LevelResampler",
    "Methods",
    "Mosaic",
    "PyramidStep",
    "Region",
    "Scaler",
    "_build_pyramid",
    "downsample",
    "downsample_pyramid",
    "level_factors",
    "level_shapes",
    "pyramid_steps",
    "resolve_method",
]
