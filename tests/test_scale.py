"""Tests for omezarr.scale: methods, pyramid planning, region-exact kernels, dask and Scaler."""

from __future__ import annotations

import itertools
import math
import pickle
import subprocess
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
from dask.core import get_dependencies
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from skimage.transform import downscale_local_mean, resize

from _arrays import random_image, same_bits
from omezarr._compat import Scaler
from omezarr.pyramid import compiled, loops, resample
from omezarr.pyramid.lazy import _build_pyramid
from omezarr.pyramid.methods import Methods, level_factors, level_shapes, resolve_method
from omezarr.pyramid.mosaic import Mosaic
from omezarr.pyramid.resample import AxisResampler, LevelResampler
from omezarr.pyramid.steps import downsample, downsample_pyramid, pyramid_steps

PYRAMID_DIR = Path(__file__).parents[1] / "src" / "omezarr" / "pyramid"

INT_DTYPES = [np.uint8, np.int16, np.uint16, np.int32, np.int64]
FLOAT_DTYPES = [np.float32, np.float64]


def pyramid_shape(shape: tuple[int, ...], factors: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(max(1, n // f) for n, f in zip(shape, factors, strict=True))


def whole(region_shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(0, n) for n in region_shape)


def quietly(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``function`` with UserWarnings (e.g. clamped levels) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return function(*args, **kwargs)


def make_scaler(**kwargs: Any) -> Scaler:
    with pytest.warns(DeprecationWarning):
        return Scaler(**kwargs)


# ---------------------------------------------------------------------------------------------
# resolve_method
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("member", list(Methods))
def test_resolve_method_accepts_members_values_and_names(member: Methods) -> None:
    assert resolve_method(member, Methods.RESIZE) is member
    assert resolve_method(member.value, Methods.RESIZE) is member
    assert resolve_method(member.name, Methods.RESIZE) is member


def test_resolve_method_none_gives_default() -> None:
    assert resolve_method(None, Methods.NEAREST) is Methods.NEAREST
    assert resolve_method(None, Methods.RESIZE) is Methods.RESIZE


def test_methods_values_match_the_reference() -> None:
    assert {m.name: m.value for m in Methods} == {
        "RESIZE": "resize",
        "NEAREST": "nearest",
        "LOCAL_MEAN": "local_mean",
        "ZOOM": "zoom",
    }


def test_resolve_method_laplacian_falls_back_to_resize_with_warning() -> None:
    with pytest.warns(UserWarning, match="Laplacian downsampling is not supported anymore"):
        assert resolve_method("laplacian", Methods.NEAREST) is Methods.RESIZE


def test_resolve_method_gaussian_falls_back_to_resize_with_warning() -> None:
    with pytest.warns(UserWarning, match="Falling back to `resize`"):
        assert resolve_method("gaussian", Methods.NEAREST) is Methods.RESIZE


@pytest.mark.parametrize("bad", ["bilinear", "Resize", "", 3, 1.5, ["nearest"]])
def test_resolve_method_rejects_unknown_values(bad: Any) -> None:
    with pytest.raises(ValueError, match="`method`") as caught:
        resolve_method(bad, Methods.RESIZE)
    assert "'local_mean'" in str(caught.value)


# ---------------------------------------------------------------------------------------------
# level_factors / level_shapes
# ---------------------------------------------------------------------------------------------


def test_level_factors_ints_honour_values_on_y_and_x_only() -> None:
    assert level_factors([2, 3, 8], ("t", "c", "z", "y", "x")) == [
        (1, 1, 1, 2, 2),
        (1, 1, 1, 3, 3),
        (1, 1, 1, 8, 8),
    ]
    assert level_factors((2, 4), ("y", "x")) == [(2, 2), (4, 4)]


def test_level_factors_dicts_default_missing_axes_to_one() -> None:
    factors = level_factors([{"z": 2, "x": 2}, {"z": 4, "y": 2, "x": 4}], ("c", "z", "y", "x"))
    assert factors == [(1, 2, 1, 2), (1, 4, 2, 4)]


def test_level_factors_accepts_numpy_ints_and_explicit_ones() -> None:
    assert level_factors([np.int64(2)], ("y", "x")) == [(2, 2)]
    assert level_factors([{"c": 1, "y": 2}], ("c", "y", "x")) == [(1, 2, 1)]


def test_level_factors_empty_means_single_level() -> None:
    assert level_factors([], ("y", "x")) == []
    assert level_factors((), ("z", "y", "x")) == []


@pytest.mark.parametrize("not_a_sequence", [2, "2,4", None, {"y": 2}, np.array([2, 4])])
def test_level_factors_rejects_non_sequences(not_a_sequence: Any) -> None:
    with pytest.raises(TypeError, match="scale_factors"):
        level_factors(not_a_sequence, ("y", "x"))


@pytest.mark.parametrize(
    "bad",
    [
        [True],
        [2.0],
        [0],
        [-2],
        ["2"],
        [None],
        [{"y": True}],
        [{"y": 1.5}],
        [{"y": 0}],
        [2, {"y": 2}],
        [4, 2],
        [{"y": 4}, {"y": 2}],
    ],
)
def test_level_factors_refusals_name_scale_factors(bad: list[Any]) -> None:
    with pytest.raises(ValueError, match="scale_factors"):
        level_factors(bad, ("t", "c", "w", "y", "x"))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"q": 2, "y": 2}, "not in dims"),
        ({"t": 2, "y": 2}, "only space axes"),
        ({"c": 2, "y": 2}, "only space axes"),
        ({"w": 2, "y": 2}, "only space axes"),
    ],
)
def test_factors_the_reference_ignores_are_ignored_with_a_warning(
    entry: dict[str, int], message: str
) -> None:
    with pytest.warns(UserWarning, match=message):
        levels = level_factors([entry], ("t", "c", "w", "y", "x"))
    assert levels == [(1, 1, 1, 2, 1)]  # as ome-zarr-py: only the space axes named


def test_a_channel_factor_is_ignored_as_by_the_reference(tmp_path: Path) -> None:
    import zarr
    from ome_zarr.writer import write_image as reference_write_image

    from omezarr.writer import write_image

    pixels = np.arange(2 * 64 * 64, dtype=np.uint8).reshape(2, 64, 64)
    factors = [{"c": 2, "z": 2, "y": 2, "x": 2}]
    reference = zarr.open_group(tmp_path / "reference.zarr", mode="w")
    reference_write_image(pixels, reference, axes="cyx", scale_factors=factors)
    with pytest.warns(UserWarning, match="ignored"):
        write_image(pixels, str(tmp_path / "ours.zarr"), axes="cyx", scale_factors=factors)
    ours = zarr.open_group(tmp_path / "ours.zarr", mode="r")
    assert [ours[k].shape for k in sorted(ours.array_keys())] == [
        reference[k].shape for k in sorted(reference.array_keys())
    ]


def test_level_shapes_floor_divides_and_includes_level_zero() -> None:
    shapes = level_shapes((3, 101, 64), [(1, 2, 2), (1, 4, 4), (1, 3, 1)])
    assert shapes == [(3, 101, 64), (3, 50, 32), (3, 25, 16), (3, 33, 64)]


def test_level_shapes_clamps_to_one_with_warning_naming_the_dimension() -> None:
    with pytest.warns(UserWarning, match="Dimension y is too small to downsample further."):
        shapes = level_shapes((1, 5, 40), [(1, 2, 2), (1, 16, 16)], dims=("c", "y", "x"))
    assert shapes == [(1, 5, 40), (1, 2, 20), (1, 1, 2)]


def test_level_shapes_does_not_warn_when_nothing_is_clamped() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert level_shapes((16, 16), [(16, 16)]) == [(16, 16), (1, 1)]


def test_level_shapes_rejects_factors_of_wrong_length() -> None:
    with pytest.raises(ValueError, match="`factors`"):
        level_shapes((16, 16), [(2, 2, 2)])
    with pytest.raises(ValueError, match="`dims`"):
        level_shapes((16, 16), [(2, 2)], dims=("x",))


# ---------------------------------------------------------------------------------------------
# Agreement with the reference libraries
# ---------------------------------------------------------------------------------------------

AGREEMENT_CASES = [
    ((37,), (2,)),
    ((40,), (3,)),
    ((33,), (16,)),
    ((16, 16), (2, 2)),
    ((15, 17), (3, 2)),
    ((20, 13), (4, 4)),
    ((35, 40), (16, 16)),
    ((9, 20, 7), (1, 4, 3)),
    ((2, 3, 6, 9, 8), (1, 1, 2, 3, 2)),
    ((1, 2, 5, 40, 7), (1, 1, 16, 16, 16)),  # clamped to one on two axes
]


def assert_close_to_reference(ours: np.ndarray, reference: np.ndarray, dtype: Any) -> None:
    assert ours.dtype == np.dtype(dtype)
    assert ours.shape == reference.shape
    if np.dtype(dtype).kind in "iu":
        # we round to nearest, the reference libraries truncate
        difference = np.abs(ours.astype(np.float64) - reference.astype(dtype).astype(np.float64))
        assert difference.max() <= 1
    else:
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-3)


def skimage_resize(image: np.ndarray, out_shape: tuple[int, ...], _: Any) -> np.ndarray:
    return resize(
        image, out_shape, order=1, mode="reflect", anti_aliasing=True, preserve_range=True
    )


def skimage_local_mean(
    image: np.ndarray, out_shape: tuple[int, ...], factors: tuple[int, ...]
) -> np.ndarray:
    # an axis clamped to one pixel averages all of it (the reference's factor n_in / n_out)
    windows = tuple(f if n >= f else n for n, f in zip(image.shape, factors, strict=True))
    return downscale_local_mean(image.astype(np.float64), windows)[whole(out_shape)]


def scipy_zoom(image: np.ndarray, out_shape: tuple[int, ...], _: Any) -> np.ndarray:
    zooms = [m / n for m, n in zip(out_shape, image.shape, strict=True)]
    # mode="nearest" equals the default inside the image; it only avoids scipy's spurious 0
    # when a rounding error puts the last sample a hair past the edge
    return ndi.zoom(image.astype(np.float64), zooms, order=1, mode="nearest")


REFERENCES = {
    Methods.RESIZE: skimage_resize,
    Methods.LOCAL_MEAN: skimage_local_mean,
    Methods.ZOOM: scipy_zoom,
}


@pytest.mark.parametrize("dtype", INT_DTYPES + FLOAT_DTYPES)
@pytest.mark.parametrize(("shape", "factors"), AGREEMENT_CASES)
@pytest.mark.parametrize("method", list(REFERENCES))
def test_arithmetic_methods_agree_with_the_reference_libraries(
    method: Methods, shape: tuple[int, ...], factors: tuple[int, ...], dtype: Any
) -> None:
    image = random_image(np.random.default_rng(1), shape, dtype)
    out_shape = pyramid_shape(shape, factors)
    reference = REFERENCES[method](image, out_shape, factors)
    assert_close_to_reference(downsample(image, out_shape, method, factors), reference, dtype)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int64, np.float32])
@pytest.mark.parametrize(("shape", "factors"), AGREEMENT_CASES)
def test_nearest_equals_skimage_order_zero_resize(
    shape: tuple[int, ...], factors: tuple[int, ...], dtype: Any
) -> None:
    image = random_image(np.random.default_rng(2), shape, dtype)
    out_shape = pyramid_shape(shape, factors)
    reference = resize(
        image, out_shape, order=0, mode="reflect", anti_aliasing=False, preserve_range=True
    )
    ours = downsample(image, out_shape, "nearest")
    assert ours.dtype == image.dtype
    np.testing.assert_array_equal(ours, reference)


def test_nearest_picks_the_same_index_as_skimage_for_every_small_ratio() -> None:
    for n_in in range(1, 70):
        for n_out in range(1, n_in + 1):
            signal = np.arange(n_in, dtype=np.float64)
            reference = resize(signal, (n_out,), order=0, anti_aliasing=False)
            ours = AxisResampler(n_in, n_out, max(1, n_in // n_out), Methods.NEAREST).taps[0]
            assert np.array_equal(ours[:, 0], reference), (n_in, n_out)


def test_local_mean_window_is_the_level_factor_not_the_shape_ratio() -> None:
    signal = np.arange(35, dtype=np.float64)
    assert downsample(signal, (2,), "local_mean", factors=(16,)).tolist() == [7.5, 23.5]
    assert downsample(signal, (2,), "local_mean").tolist() == [8.0, 25.0]


def test_zoom_avoids_scipys_spurious_zero_at_the_edge() -> None:
    signal = np.linspace(1.0, 2.0, 22)
    scipy_default = ndi.zoom(signal, 20 / 22, order=1)
    ours = downsample(signal, (20,), "zoom")
    assert scipy_default[-1] == 0.0  # scipy's artefact this module deliberately avoids
    assert ours[-1] == pytest.approx(2.0)
    np.testing.assert_allclose(ours[:-1], scipy_default[:-1], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Bit-exactness of region-wise computation
# ---------------------------------------------------------------------------------------------

EXACT_DTYPES = [
    np.bool_,
    np.uint8,
    np.int16,
    np.uint16,
    np.int32,
    np.int64,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    ">u2",
    ">f8",
]


@st.composite
def region_cases(draw: st.DrawFn) -> dict[str, Any]:
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 48)) for _ in range(ndim))
    factors = tuple(draw(st.sampled_from([1, 2, 3, 4, 16])) for _ in range(ndim))
    cuts = []
    for n in shape:
        inner = draw(st.lists(st.integers(1, max(1, n - 1)), max_size=4)) if n > 1 else []
        cuts.append(sorted({0, n, *inner}))
    return {
        "shape": shape,
        "factors": factors,
        "cuts": cuts,
        "method": draw(st.sampled_from(list(Methods))),
        "dtype": draw(st.sampled_from(EXACT_DTYPES)),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "margin": draw(st.integers(0, 3)),
    }


def assemble_by_regions(
    level: LevelResampler, image: np.ndarray, cuts: list[list[int]], margin: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Compute a level region by region over the grid ``cuts`` of level 0, as an engine would.

    Returns the assembled level and how many regions owned each output pixel.
    """
    assembled: np.ndarray | None = None
    owners = np.zeros(level.out_shape, dtype=np.int64)
    for block_index in itertools.product(*(range(len(c) - 1) for c in cuts)):
        region = tuple(slice(c[i], c[i + 1]) for c, i in zip(cuts, block_index, strict=True))
        owned = level.owned_outputs(region)
        if any(piece.start == piece.stop for piece in owned):
            continue
        needed = level.input_region(owned)
        # hand over a block larger than needed, as an engine reading whole chunks would
        start = [max(0, piece.start - margin) for piece in needed]
        stop = [min(n, piece.stop + margin) for piece, n in zip(needed, image.shape, strict=True)]
        block = image[tuple(slice(a, b) for a, b in zip(start, stop, strict=True))]
        part = level.resample(block, start, owned)
        if assembled is None:
            assembled = np.zeros(level.out_shape, dtype=part.dtype)
        assembled[owned] = part
        owners[owned] += 1
    assert assembled is not None
    return assembled, owners


@settings(max_examples=200, deadline=None)
@given(region_cases())
def test_regionwise_results_are_bit_identical_to_the_whole_level(case: dict[str, Any]) -> None:
    shape, factors = case["shape"], case["factors"]
    image = random_image(np.random.default_rng(case["seed"]), shape, case["dtype"])
    out_shape = pyramid_shape(shape, factors)
    level = LevelResampler(shape, out_shape, factors, case["method"])
    expected = level.resample(image, (0,) * len(shape), whole(out_shape))
    assembled, owners = assemble_by_regions(level, image, case["cuts"], case["margin"])
    assert np.all(owners == 1), "ownership must partition the level"
    assert np.array_equal(assembled, expected)


@pytest.mark.parametrize("dtype", EXACT_DTYPES)
@pytest.mark.parametrize("method", list(Methods))
@pytest.mark.parametrize("factors", [(2, 2), (3, 4), (16, 16)])
def test_irregular_regions_are_bit_identical_for_every_method_and_dtype(
    factors: tuple[int, int], method: Methods, dtype: Any
) -> None:
    shape = (67, 50)
    image = random_image(np.random.default_rng(5), shape, dtype)
    out_shape = pyramid_shape(shape, factors)
    level = LevelResampler(shape, out_shape, factors, method)
    expected = level.resample(image, (0, 0), whole(out_shape))
    cuts = [[0, 5, 17, 32, 33, 48, 67], [0, 1, 16, 29, 50]]
    assembled, owners = assemble_by_regions(level, image, cuts)
    assert np.all(owners == 1)
    assert np.array_equal(assembled, expected)


def test_owned_outputs_partition_any_split_of_level_zero() -> None:
    axis = AxisResampler(n_in=37, n_out=12, factor=3, method=Methods.RESIZE)
    for cut in range(38):
        left, right = axis.owned_outputs(0, cut), axis.owned_outputs(cut, 37)
        assert left[0] == 0 and left[1] == right[0] and right[1] == 12


def test_input_span_is_clipped_to_the_array_and_includes_the_halo() -> None:
    axis = AxisResampler(n_in=64, n_out=32, factor=2, method=Methods.RESIZE)
    assert axis.input_span(0, 1) == (0, 4)
    low, high = axis.input_span(10, 12)
    assert low < 20 and high > 24
    assert axis.input_span(31, 32)[1] == 64
    assert axis.input_span(5, 5) == (5, 5)


def test_nearest_and_local_mean_need_no_halo() -> None:
    nearest = AxisResampler(64, 32, 2, Methods.NEAREST)
    mean = AxisResampler(64, 21, 3, Methods.LOCAL_MEAN)
    assert nearest.input_span(4, 8) == (9, 16)
    assert mean.input_span(4, 8) == (12, 24)


def test_apply_rejects_a_block_missing_part_of_the_input_span() -> None:
    axis = AxisResampler(n_in=32, n_out=16, factor=2, method=Methods.RESIZE)
    with pytest.raises(ValueError, match="`block` holds"):
        axis.apply(np.ones(8), axis=0, in_start=4, out_start=2, out_stop=6)


def test_resample_rejects_a_block_missing_part_of_the_input_region() -> None:
    level = LevelResampler((16, 16), (8, 8), (2, 2), Methods.LOCAL_MEAN)
    with pytest.raises(ValueError, match="`block` holds"):
        level.resample(np.ones((4, 4)), (0, 0), (slice(0, 4), slice(0, 2)))
    with pytest.raises(ValueError, match="`out_region`"):
        level.resample(np.ones((16, 16)), (0, 0), (slice(0, 9), slice(0, 8)))
    with pytest.raises(ValueError, match="`block`"):
        level.resample(np.ones(16), (0,), (slice(0, 8), slice(0, 8)))


def _mosaic_of(
    image: np.ndarray, cuts: list[list[int]], start: Any = None, **options: Any
) -> Mosaic:
    """``image`` cut along each axis at ``cuts`` (which include 0 and the axis length), as a
    Mosaic of copies (so that no piece is a view of ``image``) starting at global ``start``
    (default: 100 on every axis)."""
    start = [100] * image.ndim if start is None else list(start)
    pieces = []
    for corner in itertools.product(*(range(len(c) - 1) for c in cuts)):
        box = tuple(slice(c[i], c[i + 1]) for c, i in zip(cuts, corner, strict=True))
        pieces.append(([s + b.start for s, b in zip(start, box, strict=True)], image[box].copy()))
    return Mosaic(start, image.shape, pieces, **options)


@st.composite
def mosaic_cases(draw: st.DrawFn) -> tuple[np.ndarray, list[list[int]], tuple[slice, ...]]:
    shape = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3))
    cuts = [
        sorted({0, n, *draw(st.lists(st.integers(1, max(1, n - 1)), max_size=3))}) for n in shape
    ]
    index = []
    for n in shape:
        a = draw(st.integers(0, n))
        index.append(slice(a, draw(st.integers(a, n))))
    image = np.arange(math.prod(shape), dtype=np.int32).reshape(shape)
    return image, cuts, tuple(index)


@settings(max_examples=200, deadline=None)
@given(mosaic_cases())
def test_a_mosaic_slices_like_the_array_it_tiles(
    case: tuple[np.ndarray, list[list[int]], tuple[slice, ...]],
) -> None:
    image, cuts, index = case
    copies: list[tuple[int, ...]] = []

    def buffer(shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
        copies.append(shape)
        return np.empty(shape, dtype)

    block = _mosaic_of(image, cuts, buffer=buffer)
    assert block.shape == image.shape and block.dtype == image.dtype
    assert np.array_equal(block[index], image[index])
    inside_one = image[index].size == 0 or any(
        all(
            c[i] <= s.start and s.stop <= c[i + 1]
            for c, i, s in zip(cuts, corner, index, strict=True)
        )
        for corner in itertools.product(*(range(len(c) - 1) for c in cuts))
    )
    assert copies == ([] if inside_one else [image[index].shape])  # views unless crossing


def test_a_mosaic_rejects_pieces_that_do_not_tile_it_and_stepped_slices() -> None:
    image = np.arange(20.0).reshape(4, 5)
    with pytest.raises(ValueError, match="outside the block"):
        Mosaic((0, 0), (4, 5), [((0, 1), image)])
    with pytest.raises(ValueError, match="tile the block"):
        Mosaic((0, 0), (4, 6), [((0, 0), image)])
    with pytest.raises(ValueError, match="overlap"):  # as many values as the block, overlapping
        Mosaic((0, 0), (4, 10), [((0, 0), image), ((0, 4), image[:, :1]), ((0, 6), image[:, :4])])
    with pytest.raises(ValueError, match="dtype"):
        Mosaic((0, 0), (4, 10), [((0, 0), image), ((0, 5), image.astype(np.float32))])
    with pytest.raises(ValueError, match="at least one array"):
        Mosaic((0, 0), (4, 5), [])
    with pytest.raises(ValueError, match="at least one axis"):
        Mosaic((), (), [((), np.array(1.0))])
    block = Mosaic((0, 0), (4, 5), [((0, 0), image)])
    with pytest.raises(ValueError, match="without steps"):
        block[::2, :]
    with pytest.raises(TypeError, match="2 slices"):
        block[1:2]
    with pytest.raises(TypeError, match="slices only"):
        block[1, :]


@pytest.mark.parametrize("method", list(Methods))
def test_resample_of_a_mosaic_equals_resample_of_the_joined_array_and_never_joins_it(
    method: Methods,
) -> None:
    # A read whose halo reaches behind into two neighbouring chunks: a strip above, a strip
    # to the left and the corner, as the engine's chunk cache hands it over.
    shape = (2100, 2000)  # computed in several tiles
    image = random_image(np.random.default_rng(3), shape, np.uint16)
    level = LevelResampler(shape, (1050, 1000), (2, 2), method)
    out = (slice(4, 1050), slice(5, 1000))
    needed = level.input_region(out)
    start = [piece.start for piece in needed]
    block = image[needed]
    largest = [0]

    def buffer(shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
        largest[0] = max(largest[0], math.prod(shape))
        return np.empty(shape, dtype)

    cuts = [[0, 8 - start[0] + 4, block.shape[0]], [0, 10 - start[1] + 4, block.shape[1]]]
    mosaic = _mosaic_of(block, cuts, start, buffer=buffer)
    expected = level.resample(block, start, out)
    assert np.array_equal(level.resample(mosaic, start, out), expected)
    if method is not Methods.NEAREST:  # nearest picks from the whole block (and has no halo)
        assert largest[0] <= block.size // 3  # tile by tile, never the whole block


def test_resample_returns_an_empty_array_for_an_empty_region() -> None:
    level = LevelResampler((16, 16), (8, 8), (2, 2), Methods.RESIZE)
    empty = level.resample(np.ones((16, 16), ">u2"), (0, 0), (slice(3, 3), slice(0, 8)))
    assert empty.shape == (0, 8) and empty.dtype == np.dtype("=u2")


def test_resample_never_returns_a_view_of_the_block() -> None:
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    for factors in [(1, 1), (2, 2)]:
        out_shape = pyramid_shape((4, 4), factors)
        level = LevelResampler((4, 4), out_shape, factors, Methods.NEAREST)
        result = level.resample(image, (0, 0), whole(out_shape))
        result[...] = 99
        assert image.max() == 15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_in": 10, "n_out": 6, "factor": 2, "method": Methods.RESIZE}, "`n_out`"),
        ({"n_in": 10, "n_out": 0, "factor": 2, "method": Methods.RESIZE}, "`n_out`"),
        ({"n_in": 10, "n_out": 5, "factor": 0, "method": Methods.RESIZE}, "`factor`"),
        ({"n_in": 10.0, "n_out": 5, "factor": 2, "method": Methods.RESIZE}, "`n_in`"),
    ],
)
def test_axis_resampler_rejects_inconsistent_extents(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AxisResampler(**kwargs)


def test_axis_resampler_rejects_a_method_name() -> None:
    with pytest.raises(TypeError, match="`method`"):
        AxisResampler(10, 5, 2, "resize")  # type: ignore[arg-type]


def test_level_resampler_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        LevelResampler((4, 4), (2,), (2, 2), Methods.NEAREST)


def test_arithmetic_methods_refuse_non_numeric_data() -> None:
    level = LevelResampler((4,), (2,), (2,), Methods.RESIZE)
    with pytest.raises(TypeError, match="`block`"):
        level.resample(np.ones(4, dtype=complex), (0,), (slice(0, 2),))
    nearest = LevelResampler((4,), (2,), (2,), Methods.NEAREST)
    strings = np.array(["a", "b", "c", "d"])
    assert list(nearest.resample(strings, (0,), (slice(0, 2),))) == ["b", "d"]


def test_level_resampler_survives_pickling_for_process_workers() -> None:
    level = LevelResampler((20, 30), (5, 10), (4, 3), Methods.RESIZE)
    image = random_image(np.random.default_rng(15), (20, 30), np.uint16)
    expected = level.resample(image, (0, 0), whole((5, 10)))  # fills the cached taps
    copy = pickle.loads(pickle.dumps(level))
    assert copy == level
    assert np.array_equal(copy.resample(image, (0, 0), whole((5, 10))), expected)


def test_pyramid_steps_plans_every_level_from_the_level_before() -> None:
    levels = pyramid_steps((8, 64, 64), [(1, 2, 2), (2, 4, 4)], "local_mean")
    assert [level.out_shape for level in levels] == [(8, 32, 32), (4, 16, 16)]
    assert all(level.in_shape == (8, 64, 64) for level in levels)
    assert all(level.method is Methods.LOCAL_MEAN for level in levels)
    assert [level.source for level in levels] == [0, 1]
    assert [level.step.in_shape for level in levels] == [(8, 64, 64), (8, 32, 32)]
    assert [level.step.factors for level in levels] == [(1, 2, 2), (2, 2, 2)]


@pytest.mark.parametrize(
    ("factors", "sources"),
    [
        ([2, 4, 8, 16], [0, 1, 2, 3]),  # the usual pyramid: a chain
        ([2, 3, 6], [0, 0, 2]),  # 3 is not a multiple of 2; 6 is one of 3 (the closest)
        ([4, 2], [0, 0]),  # 2 is not a multiple of 4
        ([2, 2, 4], [0, 1, 2]),  # a repeated level is an identity step
        ([3, 5, 15], [0, 0, 2]),
    ],
)
def test_each_level_is_computed_from_the_closest_level_dividing_its_factors(
    factors: list[int], sources: list[int]
) -> None:
    steps = pyramid_steps((90, 90), [(f, f) for f in factors], "resize")
    assert [step.source for step in steps] == sources
    full = [1, *factors]
    for step, factor in zip(steps, factors, strict=True):
        assert step.factors == (factor, factor)
        relative = factor // full[step.source]
        assert step.step.factors == (relative, relative)
        assert step.step.out_shape == (90 // factor,) * 2


@pytest.mark.parametrize("method", list(Methods))
def test_pyramid_levels_are_each_computed_from_the_level_before(method: Methods) -> None:
    image = random_image(np.random.default_rng(21), (37, 50), np.uint16)
    levels = downsample_pyramid(image, [(2, 2), (4, 4), (8, 8)], method)
    assert levels[0] is image or np.array_equal(levels[0], image)
    for previous, level in itertools.pairwise(levels):
        expected = downsample(previous, level.shape, method, factors=(2, 2))
        np.testing.assert_array_equal(level, expected)
    # ... which is not what computing level 2 straight from level 0 would give
    assert not np.array_equal(levels[2], downsample(image, levels[2].shape, method))


def test_pyramid_step_ownership_is_relative_to_level_zero() -> None:
    step = pyramid_steps((64, 64), [(2, 2), (4, 4)], "resize")[1]
    # output i belongs to the region holding level-0 pixel 4 * i
    assert step.owned_outputs((slice(0, 30), slice(5, 64))) == (slice(0, 8), slice(2, 16))
    assert step.owned_outputs((slice(30, 32), slice(0, 64))) == (slice(8, 8), slice(0, 16))
    with pytest.raises(ValueError, match="region"):
        step.owned_outputs((slice(0, 65), slice(0, 64)))


# ---------------------------------------------------------------------------------------------
# Fast paths: strided runs, gathers, chunks and tiles give the same bits
# ---------------------------------------------------------------------------------------------

STRIDED = {"_MIN_RUN_VALUES": 1, "_OP_VALUES": 3, "_TILE_VALUES": 5}
"""Every run read as strided slices, in chunks of a few outputs, in tiny tiles."""

STRIDED_VIEWS = {**STRIDED, "_PHASE_VALUES": 0}
"""As STRIDED, but taps read straight from the block, never from converted phase copies."""

GATHERED = {"_MIN_RUN_VALUES": 2**62, "_GATHER_CALLS": 0, "_MIN_ADD_VALUES": 0}
"""Every output gathered (the general path), taps added one call per tap."""

ACCUMULATED = {"_MIN_RUN_VALUES": 2**62, "_GATHER_CALLS": 0, "_MIN_ADD_VALUES": 2**62}
"""Every output gathered, taps added by ``np.add.accumulate``."""

GATHERED_PER_TAP = {"_MIN_RUN_VALUES": 2**62, "_GATHER_CALLS": 0, "_PHASE_VALUES": 0}
"""Every output gathered one tap at a time."""

TUNINGS = (STRIDED, STRIDED_VIEWS, GATHERED, ACCUMULATED, GATHERED_PER_TAP)


@contextmanager
def kernel_tuning(**constants: int) -> Iterator[None]:
    """Temporarily change the module's tuning constants (which path and chunk sizes are used),
    on the NumPy backend: the tunings choose between its paths. Results computed outside
    (with numba when it is installed, as the test dependencies install it) are thereby
    compared with every NumPy path."""

    def home(name: str) -> Any:
        return resample if name == "_TILE_VALUES" else loops

    saved = {name: getattr(home(name), name) for name in constants}
    saved_backend = compiled._BACKEND
    for name, value in constants.items():
        setattr(home(name), name, value)
    compiled._BACKEND = "numpy"
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(home(name), name, value)
        compiled._BACKEND = saved_backend


@st.composite
def path_cases(draw: st.DrawFn) -> dict[str, Any]:
    ndim = draw(st.integers(1, 3))
    factors = tuple(draw(st.sampled_from([1, 2, 3, 4, 8])) for _ in range(ndim))
    shape = tuple(draw(st.integers(1, 40)) for _ in range(ndim))
    out_shape = pyramid_shape(shape, factors)
    region = []
    for n in out_shape:
        start = draw(st.integers(0, n - 1))
        region.append(slice(start, draw(st.integers(start + 1, n))))
    return {
        "shape": shape,
        "factors": factors,
        "region": tuple(region),
        "method": draw(st.sampled_from([Methods.RESIZE, Methods.ZOOM, Methods.LOCAL_MEAN])),
        "dtype": draw(st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64])),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@settings(max_examples=150, deadline=None)
@given(path_cases())
def test_strided_gathered_and_tiled_paths_give_the_same_bits(case: dict[str, Any]) -> None:
    shape, factors, region = case["shape"], case["factors"], case["region"]
    image = random_image(np.random.default_rng(case["seed"]), shape, case["dtype"])
    level = LevelResampler(shape, pyramid_shape(shape, factors), factors, case["method"])
    default = level.resample(image, (0,) * len(shape), region)
    needed = level.input_region(region)
    block = image[needed]
    results = []
    for tuning in TUNINGS:
        with kernel_tuning(**tuning):
            results.append(level.resample(block, [piece.start for piece in needed], region))
    assert all(same_bits(result, default) for result in results)


@pytest.mark.parametrize("method", [Methods.RESIZE, Methods.ZOOM])
def test_paths_agree_on_non_finite_values_and_signed_zeros(method: Methods) -> None:
    # zero-weight padding taps multiply inf into NaN: every path must pad alike
    image = random_image(np.random.default_rng(16), (37, 50), np.float64)
    image[::7, ::5] = np.inf
    image[3::11, 2::9] = -np.inf
    image[5::13] = np.nan
    image[:, 17] = -0.0
    level = LevelResampler((37, 50), (18, 12), (2, 4), method)
    whole_level = whole(level.out_shape)
    with np.errstate(invalid="ignore"):  # inf - inf
        default = level.resample(image, (0, 0), whole_level)
        assert np.isnan(default).any() and np.isinf(default).any()
        for tuning in TUNINGS:
            with kernel_tuning(**tuning):
                assert same_bits(level.resample(image, (0, 0), whole_level), default), tuning


def test_power_of_two_levels_keep_one_strided_run_of_interior_outputs() -> None:
    for method in (Methods.RESIZE, Methods.LOCAL_MEAN):
        axis = AxisResampler(2048, 128, 16, method)
        runs = axis._rows(0, axis.n_out).runs
        interior = max(runs, key=lambda run: run.stop - run.start)
        assert interior.step == 16 and interior.uniform
        assert interior.stop - interior.start >= 128 - 4


@pytest.mark.parametrize("method", [Methods.RESIZE, Methods.ZOOM])
def test_large_levels_gather_only_a_few_edge_outputs(
    method: Methods, monkeypatch: pytest.MonkeyPatch
) -> None:
    gathered: list[int] = []
    gather = loops._gathered_sum

    def counting_gather(*args: Any) -> None:
        gathered.append(args[4].size)  # (block, axis, index, weights, out, paired)
        gather(*args)

    monkeypatch.setattr(loops, "_gathered_sum", counting_gather)
    monkeypatch.setattr(compiled, "_BACKEND", "numpy")  # the paths counted are NumPy's
    image = random_image(np.random.default_rng(19), (512, 512), np.uint16)
    level = LevelResampler((512, 512), (256, 256), (2, 2), method)
    level.resample(image, (0, 0), whole((256, 256)))
    assert sum(gathered) < 0.02 * (256 * 512 + 256 * 256)  # the rest read strided runs


@settings(max_examples=60, deadline=None)
@given(
    n_in=st.integers(1, 300),
    factor=st.sampled_from([1, 2, 3, 4, 7, 16]),
    method=st.sampled_from(list(Methods)),
)
def test_runs_partition_the_outputs_into_evenly_advancing_taps(
    n_in: int, factor: int, method: Methods
) -> None:
    axis = AxisResampler(n_in, max(1, n_in // factor), factor, method)
    index, weights = axis.taps
    runs = axis._rows(0, axis.n_out).runs
    assert runs[0].start == 0 and runs[-1].stop == axis.n_out
    assert all(a.stop == b.start for a, b in itertools.pairwise(runs))
    for run in runs:
        rows = np.arange(run.start, run.stop)
        expected = index[run.start] + run.step * (rows - run.start)[:, None]
        assert np.array_equal(index[run.start : run.stop], expected)
        assert run.uniform == bool(np.all(weights[run.start : run.stop] == weights[run.start]))
    for start in range(0, axis.n_out, 7):
        for stop in (start + 1, min(axis.n_out, start + 5), axis.n_out):
            rows = index[start:stop]
            assert axis.input_span(start, stop) == (rows.min(), rows.max() + 1)


def test_rows_clip_the_runs_to_the_requested_outputs() -> None:
    axis = AxisResampler(64, 32, 2, Methods.RESIZE)
    clipped = axis._rows(5, 9).runs
    assert clipped[0].start == 5 and clipped[-1].stop == 9
    assert all(a.stop == b.start for a, b in itertools.pairwise(clipped))
    assert axis._rows(31, 32).runs == [axis._rows(0, 32).runs[-1]._replace(start=31)]


def test_apply_and_window_sums_write_into_a_given_array() -> None:
    axis = AxisResampler(16, 8, 2, Methods.RESIZE)
    image = np.arange(32, dtype=np.uint16).reshape(2, 16)
    out = np.full((2, 8), -1.0, dtype=np.float32)
    assert axis.apply(image, 1, 0, 0, 8, out) is out
    assert np.array_equal(out, axis.apply(image, 1, 0, 0, 8))
    mean = AxisResampler(16, 8, 2, Methods.LOCAL_MEAN)
    sums = np.zeros((2, 8), dtype=np.uint32)
    result, counts = mean.window_sums(image, 1, 0, 0, 8, np.uint32, sums)
    assert result is sums and counts == 2
    assert sums[0].tolist() == [1, 5, 9, 13, 17, 21, 25, 29]


@pytest.mark.parametrize("method", list(Methods))
def test_apply_of_no_outputs_is_empty(method: Methods) -> None:
    axis = AxisResampler(64, 32, 2, method)
    assert axis.apply(np.ones((3, 64)), 1, 0, 7, 7).shape == (3, 0)


def test_window_sums_of_no_outputs_are_empty_and_need_a_local_mean_axis() -> None:
    axis = AxisResampler(64, 32, 2, Methods.LOCAL_MEAN)
    sums, _ = axis.window_sums(np.ones((3, 64)), 1, 0, 7, 7, np.dtype(np.int64))
    assert sums.shape == (3, 0)
    with pytest.raises(ValueError, match="`window_sums` needs a 'local_mean' axis"):
        AxisResampler(64, 32, 2, Methods.RESIZE).window_sums(np.ones(64), 0, 0, 0, 1, int)


def test_long_levels_are_computed_in_several_tiles_with_the_same_bits() -> None:
    image = random_image(np.random.default_rng(17), (300, 260), np.uint16)
    for method in (Methods.RESIZE, Methods.ZOOM, Methods.LOCAL_MEAN):
        level = LevelResampler((300, 260), (75, 65), (4, 4), method)
        assert len(list(level._tiles([(0, 75), (0, 65)]))) == 1
        expected = level.resample(image, (0, 0), whole((75, 65)))
        with kernel_tuning(_TILE_VALUES=1000):
            tiles = list(level._tiles([(0, 75), (0, 65)]))
            assert len(tiles) > 10
            assert sum(math.prod(p.stop - p.start for p in tile) for tile in tiles) == 75 * 65
            assert same_bits(level.resample(image, (0, 0), whole((75, 65))), expected)


def scratch_cases() -> list[tuple[LevelResampler, np.ndarray]]:
    rng = np.random.default_rng(20)
    cases = []
    for shape, factors, dtype in [
        ((96, 130), (2, 2), np.uint8),
        ((96, 130), (4, 4), np.float64),
        ((20, 48, 40), (2, 4, 4), np.int16),
        ((75, 77), (8, 8), np.float32),
    ]:
        image = random_image(rng, shape, dtype)
        for method in Methods:
            cases.append(
                (LevelResampler(shape, pyramid_shape(shape, factors), factors, method), image)
            )
    return cases


def compute(case: tuple[LevelResampler, np.ndarray]) -> np.ndarray:
    level, image = case
    return level.resample(image, (0,) * image.ndim, whole(level.out_shape))


def test_reused_scratch_memory_never_leaks_into_results() -> None:
    cases = scratch_cases()
    first = [compute(case) for case in cases]
    again = [compute(case) for case in reversed(cases)][::-1]  # buffers left by other cases
    assert all(same_bits(a, b) for a, b in zip(first, again, strict=True))
    axis = AxisResampler(64, 32, 2, Methods.RESIZE)
    one = axis.apply(np.arange(64.0), 0, 0, 0, 32)
    copy = one.copy()
    axis.apply(np.arange(64.0)[::-1].copy(), 0, 0, 0, 32)
    assert np.array_equal(one, copy)  # apply hands out its own array, not scratch memory


def test_threads_resampling_at_once_get_the_same_bits() -> None:
    cases = scratch_cases()
    serial = [compute(case) for case in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(compute, cases * 3))
    assert all(
        same_bits(result, serial[position % len(cases)]) for position, result in enumerate(parallel)
    )


def test_ties_process_the_innermost_axis_last() -> None:
    # 1999 -> 999 reduces a hair more than 2000 -> 1000, but both are factor-2 axes
    level = LevelResampler((2000, 1999), (1000, 999), (2, 2), Methods.RESIZE)
    assert level._axis_order == (0, 1)
    level = LevelResampler((8, 64, 64), (2, 32, 32), (4, 2, 2), Methods.RESIZE)
    assert level._axis_order == (0, 1, 2)
    level = LevelResampler((64, 64, 8), (32, 32, 2), (2, 2, 4), Methods.RESIZE)
    assert level._axis_order == (2, 0, 1)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.int32])
@pytest.mark.parametrize("factors", [(2, 2), (3, 5), (4, 16)])
def test_local_mean_of_integers_is_the_exact_mean_rounded_half_to_even(
    dtype: Any, factors: tuple[int, int]
) -> None:
    image = random_image(np.random.default_rng(18), (48, 80), dtype)
    out_shape = pyramid_shape(image.shape, factors)
    fy, fx = factors
    cropped = image[: out_shape[0] * fy, : out_shape[1] * fx].astype(np.int64)
    sums = cropped.reshape(out_shape[0], fy, out_shape[1], fx).sum(axis=(1, 3))
    exact = np.rint(sums / (fy * fx))  # float64 holds these quotients exactly enough
    ours = downsample(image, out_shape, Methods.LOCAL_MEAN, factors)
    if np.dtype(dtype).kind == "b":
        np.testing.assert_array_equal(ours, sums * 2 >= fy * fx)
    else:
        np.testing.assert_array_equal(ours, exact.astype(dtype))


@pytest.mark.parametrize(
    ("dtype", "factors"),
    [
        (np.uint8, (16, 16)),  # sums up to 65280: still uint16
        (np.uint16, (16, 16, 16)),  # 4096 values per window
        (np.int16, (8, 8, 8)),
        (np.int32, (16, 16)),  # int64 sums
        (np.uint32, (4, 4)),
        (np.int64, (2, 2)),  # too wide for exact integer sums: float64
        (np.uint64, (2, 2)),
    ],
)
def test_local_mean_sums_never_overflow_at_the_dtype_limits(
    dtype: Any, factors: tuple[int, ...]
) -> None:
    info = np.iinfo(dtype)
    shape = tuple(2 * f for f in factors)
    out_shape = tuple(2 for _ in factors)
    for value in (info.min, info.max):
        image = np.full(shape, value, dtype=dtype)
        result = downsample(image, out_shape, Methods.LOCAL_MEAN, factors)
        assert result.dtype == np.dtype(dtype)
        if info.bits < 64:
            assert np.all(result == value), (dtype, value)
        else:  # 64-bit extremes pass through float64: clipped, never wrapped
            assert all(abs(int(v) - int(value)) <= 2**11 for v in result.ravel()), (dtype, value)


def test_window_sums_count_windows_cut_short_by_the_edge() -> None:
    axis = AxisResampler(n_in=35, n_out=3, factor=16, method=Methods.LOCAL_MEAN)
    sums, counts = axis.window_sums(np.arange(35), 0, 0, 0, 3, np.dtype(np.int64))
    assert sums.tolist() == [sum(range(16)), sum(range(16, 32)), 32 + 33 + 34]
    assert np.asarray(counts).ravel().tolist() == [16, 16, 3]
    sums, counts = axis.window_sums(np.arange(35)[16:], 0, 16, 1, 2, np.dtype(np.int64))
    assert sums.tolist() == [sum(range(16, 32))] and counts == 16
    with pytest.raises(ValueError, match="`block` holds"):
        axis.window_sums(np.arange(10), 0, 0, 0, 1, np.dtype(np.int64))


def test_local_mean_of_a_clamped_axis_averages_all_of_it_exactly() -> None:
    image = np.array([[1, 2, 2], [2, 2, 2], [9, 9, 9], [0, 0, 1], [5, 5, 5]], dtype=np.uint8)
    # 5 rows, factor 16: one output row, the mean of all 5 (window cut short)
    result = downsample(image, (1, 1), Methods.LOCAL_MEAN, factors=(16, 16))
    assert result.tolist() == [[round(sum(map(sum, image.tolist())) / 15)]]


def test_local_mean_of_floats_sums_in_index_order_then_divides() -> None:
    # weighting each value by float32(1 / 3) would give 0.10000001
    image = np.full(3, 0.1, dtype=np.float32)
    assert downsample(image, (1,), Methods.LOCAL_MEAN, factors=(3,))[0] == np.float32(0.1)
    image = np.array([1e8, 1.0, -1e8, 1.0], dtype=np.float32)
    # ((1e8 + 1) - 1e8) + 1 is 1 in float32, then / 4
    assert downsample(image, (1,), Methods.LOCAL_MEAN, factors=(4,)).tolist() == [0.25]


# ---------------------------------------------------------------------------------------------
# dtypes, rounding and casting
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(Methods))
@pytest.mark.parametrize("dtype", EXACT_DTYPES)
def test_dtype_is_preserved_in_native_byte_order(method: Methods, dtype: Any) -> None:
    image = random_image(np.random.default_rng(6), (6, 9), dtype)
    result = downsample(image, (3, 4), method)
    assert result.dtype == np.dtype(dtype).newbyteorder("=")
    assert result.dtype.isnative
    native = downsample(image.astype(result.dtype), (3, 4), method)
    assert np.array_equal(result, native)


def test_integers_are_rounded_not_truncated() -> None:
    image = np.array([0, 1, 1, 1, 9, 9, 9, 8], dtype=np.uint8)
    assert list(downsample(image, (2,), "local_mean")) == [1, 9]


def test_constant_images_stay_exact_at_the_dtype_limits() -> None:
    for dtype in [np.uint8, np.int16, np.uint16, np.int32, np.uint32]:
        info = np.iinfo(dtype)
        for value in (info.min, info.max):
            image = np.full((12, 10), value, dtype=dtype)
            for method in Methods:
                assert np.all(downsample(image, (4, 3), method) == value), (dtype, method)


def test_int64_extremes_are_clipped_not_wrapped() -> None:
    image = np.full((8,), np.iinfo(np.int64).max, dtype=np.int64)
    result = downsample(image, (4,), "resize")
    assert result.dtype == np.int64
    assert np.all(result > 0)
    minimum = np.full((8,), np.iinfo(np.int64).min, dtype=np.int64)
    assert np.all(downsample(minimum, (4,), "local_mean") == np.iinfo(np.int64).min)


def test_nearest_keeps_int64_values_bit_for_bit() -> None:
    image = np.arange(2**62, 2**62 + 16, dtype=np.int64)
    assert list(downsample(image, (8,), "nearest")) == list(image[1::2])


def test_bool_images_use_a_half_threshold() -> None:
    image = np.array([True, True, True, False, False, False, True, False])
    assert downsample(image, (2,), "local_mean").tolist() == [True, False]
    resized = downsample(image, (4,), "resize")
    assert resized.dtype == np.bool_
    assert downsample(np.ones((8, 8), bool), (2, 2), "zoom").all()


def test_float16_is_accumulated_in_float32() -> None:
    image = np.full(32, 1000.0, dtype=np.float16)
    image[::2] = 1001.0
    result = downsample(image, (16,), "local_mean")
    assert result.dtype == np.float16
    assert np.all(result == np.float16(1000.5))


def test_downsample_rejects_out_shapes_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="`out_shape`"):
        downsample(np.ones((4, 4)), (8, 2))
    with pytest.raises(ValueError, match="`out_shape`"):
        downsample(np.ones((4, 4)), (2,))


def test_pyramid_package_imports_no_storage_skimage_or_dask_code(tmp_path: Path) -> None:
    # Imported inside a package holding only it and the shared leaf: anything else it
    # imported from omezarr would fail to import.
    package = tmp_path / "bare"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pyramid").symlink_to(PYRAMID_DIR)
    (package / "_numbers.py").symlink_to(PYRAMID_DIR.parent / "_numbers.py")
    probe = (
        "import sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import bare.pyramid, bare.pyramid.lazy, bare.pyramid.compiled\n"
        "print(sorted(n for n in ('zarr', 'skimage', 'dask', 'cv2', 'omezarr') if n in sys.modules))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# _build_pyramid
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(Methods))
def test_build_pyramid_levels_equal_the_whole_array_kernels(method: Methods) -> None:
    image = random_image(np.random.default_rng(7), (2, 45, 70), np.uint16)
    pyramid = _build_pyramid(image, [2, 3, 8], ("c", "y", "x"), method, chunks=(1, 16, 16))
    assert [level.shape for level in pyramid] == [
        (2, 45, 70),
        (2, 22, 35),
        (2, 15, 23),
        (2, 5, 8),
    ]
    assert all(level.dtype == np.uint16 for level in pyramid)
    np.testing.assert_array_equal(pyramid[0].compute(), image)
    # 2 and 8 are computed from level 0 and level 1 (2 divides 8), 3 from level 0.
    expected = downsample_pyramid(image, [(1, 2, 2), (1, 3, 3), (1, 8, 8)], method)
    for level, wanted in zip(pyramid[1:], expected[1:], strict=True):
        np.testing.assert_array_equal(level.compute(), wanted)


def test_build_pyramid_defaults_to_nearest_and_keeps_dask_chunks() -> None:
    image = da.from_array(random_image(np.random.default_rng(8), (32, 48), np.uint8), (8, 16))
    pyramid = _build_pyramid(image, [2], ("y", "x"))
    assert pyramid[0] is image
    assert pyramid[1].chunksize == (8, 16)
    expected = downsample(image.compute(), (16, 24), Methods.NEAREST)
    np.testing.assert_array_equal(pyramid[1].compute(), expected)


def test_build_pyramid_each_output_chunk_reads_only_nearby_input_chunks() -> None:
    image = np.zeros((128, 128), dtype=np.uint8)
    level = _build_pyramid(image, [2], ("y", "x"), "resize", chunks=(16, 16))[1]
    graph = dict(level.__dask_graph__())
    inputs = get_dependencies(graph, (level.name, 2, 2))
    # outputs [32, 48) need inputs [62, 98): input chunks 3..6 on each axis
    assert len(inputs) == 16


def test_build_pyramid_z_downsampling_by_dict_and_clamped_level() -> None:
    image = random_image(np.random.default_rng(9), (4, 20, 20), np.float32)
    with pytest.warns(UserWarning, match="Dimension z is too small"):
        pyramid = _build_pyramid(image, [{"z": 2, "y": 2, "x": 2}, {"z": 8, "y": 4, "x": 2}], "zyx")
    assert [level.shape for level in pyramid] == [(4, 20, 20), (2, 10, 10), (1, 5, 10)]
    level1 = downsample(image, (2, 10, 10), Methods.NEAREST)
    np.testing.assert_array_equal(
        pyramid[2].compute(), downsample(level1, (1, 5, 10), Methods.NEAREST, factors=(4, 2, 1))
    )


def test_build_pyramid_big_endian_input_gives_native_levels() -> None:
    image = np.arange(64, dtype=">u2").reshape(8, 8)
    level = _build_pyramid(image, [2], ("y", "x"), "local_mean")[1]
    assert level.dtype == np.dtype("=u2")
    assert level.compute().dtype == np.dtype("=u2")


def test_build_pyramid_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="`dims`"):
        _build_pyramid(np.zeros((4, 4)), [2], ("x",))
    with pytest.raises(ValueError, match="scale_factors"):
        _build_pyramid(np.zeros((4, 4, 4)), [{"y": 0}], ("c", "y", "x"))
    with pytest.raises(ValueError, match="`method`"):
        _build_pyramid(np.zeros((4, 4)), [2], ("y", "x"), "cubic")


# ---------------------------------------------------------------------------------------------
# Deprecated Scaler
# ---------------------------------------------------------------------------------------------


def test_scaler_construction_warns_and_names_the_replacement() -> None:
    with pytest.warns(DeprecationWarning, match="use scale_factors and method"):
        scaler = Scaler()
    assert (scaler.downscale, scaler.max_layer, scaler.method, scaler.order) == (
        2,
        4,
        "nearest",
        1,
    )
    assert (scaler.copy_metadata, scaler.in_place, scaler.labeled) == (False, False, False)


def test_scaler_methods_lists_the_reference_names() -> None:
    assert list(Scaler.methods()) == [
        "gaussian",
        "laplacian",
        "local_mean",
        "nearest",
        "resize_image",
        "zoom",
    ]


def test_scaler_func_returns_the_bound_method_and_refuses_unknown_names() -> None:
    scaler = make_scaler(method="local_mean")
    assert scaler.func == scaler.local_mean
    scaler.method = "bicubic"
    with pytest.raises(ValueError, match="`method`"):
        _ = scaler.func


@pytest.mark.parametrize(
    ("name", "method"),
    [("nearest", Methods.NEAREST), ("local_mean", Methods.LOCAL_MEAN), ("zoom", Methods.ZOOM)],
)
def test_scaler_pyramids_use_the_kernels_on_the_last_two_axes(name: str, method: Methods) -> None:
    image = random_image(np.random.default_rng(10), (2, 3, 64, 48), np.uint8)
    scaler = make_scaler(max_layer=3, method=name)
    levels = scaler.func(image)
    assert [level.shape for level in levels] == [
        (2, 3, 64, 48),
        (2, 3, 32, 24),
        (2, 3, 16, 12),
        (2, 3, 8, 6),
    ]
    assert levels[0] is image
    for previous, level in itertools.pairwise(levels):
        assert isinstance(level, np.ndarray) and level.dtype == np.uint8
        np.testing.assert_array_equal(level, downsample(previous, level.shape, method))


def test_scaler_keeps_dask_arrays_lazy() -> None:
    image = random_image(np.random.default_rng(11), (40, 40), np.int16)
    scaler = make_scaler(max_layer=2)
    levels = scaler.local_mean(da.from_array(image, chunks=(16, 16)))
    assert all(isinstance(level, da.Array) for level in levels)
    level1 = downsample(image, (20, 20), Methods.LOCAL_MEAN)
    np.testing.assert_array_equal(
        levels[2].compute(), downsample(level1, (10, 10), Methods.LOCAL_MEAN)
    )
    resized = scaler.resize_image(da.from_array(image, chunks=(16, 16)))
    assert isinstance(resized, da.Array)
    np.testing.assert_array_equal(resized.compute(), downsample(image, (20, 20)))


def test_scaler_nearest_first_level_matches_the_reference_scaler() -> None:
    from ome_zarr.scale import Scaler as ReferenceScaler

    image = random_image(np.random.default_rng(12), (1, 2, 32, 32), np.uint16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = ReferenceScaler(max_layer=1).nearest(image)
    ours = make_scaler(max_layer=1).nearest(image)
    np.testing.assert_array_equal(ours[1], reference[1])


def test_scaler_resize_image_returns_one_level_by_order() -> None:
    image = random_image(np.random.default_rng(13), (3, 20, 30), np.float32)
    linear = make_scaler(downscale=2).resize_image(image)
    np.testing.assert_array_equal(linear, downsample(image, (3, 10, 15), Methods.RESIZE))
    nearest = make_scaler(downscale=5, order=0).resize_image(image)
    np.testing.assert_array_equal(nearest, downsample(image, (3, 4, 6), Methods.NEAREST))


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
def test_scaler_retired_methods_fall_back_to_resize(name: str) -> None:
    image = random_image(np.random.default_rng(14), (16, 16), np.uint8)
    scaler = make_scaler(max_layer=2, method=name)
    with pytest.warns(UserWarning, match="Falling back to `resize`"):
        levels = scaler.func(image)
    assert [level.shape for level in levels] == [(16, 16), (8, 8), (4, 4)]
    level1 = downsample(image, (8, 8), Methods.RESIZE)
    np.testing.assert_array_equal(levels[2], downsample(level1, (4, 4), Methods.RESIZE))


def test_scaler_clamps_small_images_with_a_warning() -> None:
    scaler = make_scaler(max_layer=3)
    with pytest.warns(UserWarning, match="too small to downsample further"):
        levels = scaler.nearest(np.zeros((4, 16), dtype=np.uint8))
    assert [level.shape for level in levels] == [(4, 16), (2, 8), (1, 4), (1, 2)]


def test_scaler_to_pyramid_arguments() -> None:
    scaler = make_scaler(max_layer=2, downscale=3, method="zoom")
    assert scaler.to_pyramid_arguments(("t", "z", "y", "x")) == (
        [{"y": 3, "x": 3}, {"y": 9, "x": 9}],
        Methods.ZOOM,
    )
    scaler.method = "laplacian"
    with pytest.warns(UserWarning, match="Laplacian"):
        assert scaler.to_pyramid_arguments(("y", "x"))[1] is Methods.RESIZE
    scaler.method = "nope"
    with pytest.raises(ValueError, match="`method`"):
        scaler.to_pyramid_arguments(("y", "x"))


def test_scaler_rejects_bad_downscale_and_max_layer() -> None:
    with pytest.raises(ValueError, match="`downscale`"):
        make_scaler(downscale=0).nearest(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="`max_layer`"):
        make_scaler(max_layer=-1).nearest(np.zeros((8, 8)))


def test_symmetric_taps_are_summed_in_pairs_by_every_path() -> None:
    """Outputs whose weights read the same backwards are w0*(x0 + x5) + w1*(x1 + x4) + …,
    rounded in float32 after each step, whichever path computes them."""
    axis = AxisResampler(64, 32, 2, Methods.RESIZE)
    index, weights = axis.taps
    paired = axis._rows(0, axis.n_out).paired
    assert paired[2:-2].all()  # interior outputs of a factor-2 resize: six symmetric taps
    assert index.shape[1] == 6
    image = random_image(np.random.default_rng(23), (64,), np.uint16)
    w = weights.astype(np.float32)
    expected = np.empty(32, dtype=np.float32)
    for i in range(32):
        x = image[index[i]].astype(np.float32)
        if paired[i]:
            total = w[i, 0] * (x[0] + x[5])
            total = total + w[i, 1] * (x[1] + x[4])
            total = total + w[i, 2] * (x[2] + x[3])
        else:
            total = w[i, 0] * x[0]
            for k in range(1, 6):
                total = total + w[i, k] * x[k]
        expected[i] = total
    assert axis.apply(image, 0, 0, 0, 32).tobytes() == expected.tobytes()  # numba's loops
    for tuning in ({}, *TUNINGS):
        with kernel_tuning(**tuning):
            result = axis.apply(image, 0, 0, 0, 32)
        assert result.tobytes() == expected.tobytes(), tuning


# ---------------------------------------------------------------------------------------------
# Tap tables of long axes are computed window by window
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(Methods))
@pytest.mark.parametrize(("n_in", "factor"), [(301, 2), (1000, 3), (1023, 4), (4097, 7), (900, 16)])
def test_windowed_tap_tables_equal_the_whole_axis_table(
    n_in: int, factor: int, method: Methods, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With windows of a few dozen rows, every row, span and result is the whole table's."""
    from omezarr.pyramid.taps import _taps

    n_out = max(1, n_in // factor)
    whole = AxisResampler(n_in, n_out, factor, method)  # one window (default sizes)
    expected_index, expected_weights = _taps(n_in, n_out, factor, method)
    rng = np.random.default_rng(n_in + factor)
    data = random_image(rng, (3, n_in), np.uint16)
    full = whole.apply(data, 1, 0, 0, n_out)
    monkeypatch.setattr(resample, "_WINDOW_TAPS", 16)
    monkeypatch.setattr(resample, "_MIN_WINDOW_ROWS", 16)
    windowed = AxisResampler(n_in, n_out, factor, method)
    assert windowed._window_count >= 3
    index, weights = windowed.taps
    assert np.array_equal(index, expected_index) and np.array_equal(weights, expected_weights)
    for _ in range(25):
        start = int(rng.integers(0, n_out))
        stop = int(rng.integers(start + 1, n_out + 1))
        low, high = windowed.input_span(start, stop)
        rows = expected_index[start:stop]
        assert (low, high) == (rows.min(), rows.max() + 1)
        part = windowed.apply(np.ascontiguousarray(data[:, low:high]), 1, low, start, stop)
        assert same_bits(np.ascontiguousarray(part), np.ascontiguousarray(full[:, start:stop]))
        assert len(windowed._windows) <= resample._WINDOWS_KEPT


def test_a_million_pixel_axis_holds_only_a_few_tap_windows() -> None:
    """A 10**6-pixel axis once held ~50 MiB of taps per level and axis, computed up front."""
    from omezarr.pyramid.taps import _taps

    axis = AxisResampler(10**6, 5 * 10**5, 2, Methods.RESIZE)
    assert axis.table_bytes < 8 * 2**20
    data = random_image(np.random.default_rng(5), (10**6,), np.uint8)
    for start in (0, 123_456, 250_000, 499_000):
        stop = min(axis.n_out, start + 1000)
        low, high = axis.input_span(start, stop)
        ours = axis.apply(data[low:high], 0, low, start, stop)
        # the same outputs summed naively in float64 from their own rows of taps
        index, weights = _taps(axis.n_in, axis.n_out, 2, Methods.RESIZE, start, stop)
        naive = (data[index].astype(np.float64) * weights).sum(axis=1)
        assert np.allclose(ours, naive, rtol=1e-5, atol=1e-3)
    assert len(axis._windows) <= resample._WINDOWS_KEPT
    kept = sum(w.inputs.nbytes + w.weights.nbytes for w in axis._windows.values())
    assert kept < 2 * 2**20
    clone = pickle.loads(pickle.dumps(axis))
    assert clone == axis and not clone._windows  # windows are not shipped to workers
    assert same_bits(clone.apply(data[low:high], 0, low, start, stop), ours)
