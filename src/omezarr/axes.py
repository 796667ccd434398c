"""The reference's ``ome_zarr.axes`` import path: axes, their types, units and ordering rules.

Re-exports only; the code lives in :mod:`omezarr.ngff.axes`.
"""

from __future__ import annotations

from .ngff.axes import KNOWN_AXES, KNOWN_SPATIAL_UNITS, KNOWN_TEMPORAL_UNITS, Axes, axes_problems

__all__ = ["KNOWN_AXES", "KNOWN_SPATIAL_UNITS", "KNOWN_TEMPORAL_UNITS", "Axes", "axes_problems"]
