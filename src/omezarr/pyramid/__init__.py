"""Pyramids: downsampling methods, level planning and region-exact kernels (pure arrays).

Every pyramid level is computed from an earlier level (:func:`pyramid_steps`: the level just
before it in a power-of-two pyramid, as the reference writer does) by a separable linear
operator: along each axis, every output pixel ``i`` is a weighted sum of a fixed list of input
pixels ("taps") that depends only on the *global* index ``i``. Edge reflection is folded into
the tap indices, so a region computed from a block holding its
:meth:`LevelResampler.input_region` is bit-identical to the same slice of the whole-array
result (NaNs stay NaN, though NumPy may not keep their sign and payload bits). That is what
lets a chunked, single-pass write engine compute any region of any level from a region of
level 0 (plus a halo): it computes each level over the region its own pixels and the next
levels' need, from the previous level's block.

Speed comes from doing that arithmetic in fewer, bigger NumPy calls: outputs whose taps
advance evenly (all interior outputs of a power-of-two level) read each tap as a strided
slice and multiply it by one scalar weight; the other outputs gather all their taps at once;
levels are computed in cache-sized tiles whose temporaries live in scratch buffers kept per
thread (about 8 MiB, 16 MiB for 64-bit data) and reused from call to call. Every output is
computed from the same taps, weights and order of operations however it is grouped, so the
grouping never changes a bit. :attr:`Methods.LOCAL_MEAN` sums integer data exactly in an
integer dtype and divides once. With numba installed (``omezarr[fast]``), the linear axis
operator runs as compiled loops instead (:mod:`omezarr.pyramid.compiled`: one pass per axis,
the same bits; ``OMEZARR_KERNELS=numpy`` turns them off).

Modules
-------
- ``methods``: :class:`Methods`, :func:`resolve_method`, :func:`level_factors` and
  :func:`level_shapes` (which downsampling, which levels).
- ``taps``: which input pixels each output reads, with which weights.
- ``loops``: the tuned NumPy loops; ``compiled``: the optional numba loops.
- ``mosaic``: :class:`Mosaic`, a block given as the pieces it was read in.
- ``resample``: :class:`AxisResampler` (one axis) and :class:`LevelResampler` (one step, n-d).
- ``steps``: :class:`PyramidStep`, :func:`pyramid_steps`, :func:`downsample`,
  :func:`downsample_pyramid`.
- ``lazy``: the dask pyramid (dask is imported only inside it).

No storage code is imported here.
"""

from __future__ import annotations

from .methods import SPATIAL_DIMS, Methods, level_factors, level_shapes, resolve_method
from .mosaic import Mosaic
from .resample import AxisResampler, LevelResampler
from .steps import PyramidStep, downsample, downsample_pyramid, pyramid_steps
from .taps import Region

__all__ = [
    "SPATIAL_DIMS",
    "AxisResampler",
    "LevelResampler",
    "Methods",
    "Mosaic",
    "PyramidStep",
    "Region",
    "downsample",
    "downsample_pyramid",
    "level_factors",
    "level_shapes",
    "pyramid_steps",
    "resolve_method",
]
