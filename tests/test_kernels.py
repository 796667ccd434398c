"""The compiled (numba) loops give the same bits as the NumPy paths, and the backend choice."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from _arrays import random_image, same_bits
from omezarr import writer
from omezarr.pyramid import compiled as kernels
from omezarr.pyramid.methods import Methods
from omezarr.pyramid.resample import AxisResampler, LevelResampler
from omezarr.pyramid.steps import downsample_pyramid
from omezarr.write import request

LINEAR_METHODS = [Methods.RESIZE, Methods.ZOOM, Methods.LOCAL_MEAN]
DTYPES = ["?", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"]


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run under the backend named by the test's parameter, then restore the previous one."""
    saved = kernels._BACKEND
    kernels._BACKEND = request.param
    yield
    kernels._BACKEND = saved


def on_backend(name: str, function: Any, *args: Any) -> Any:
    saved = kernels._BACKEND
    kernels._BACKEND = name
    try:
        return function(*args)
    finally:
        kernels._BACKEND = saved


def test_numba_is_the_backend_of_the_test_environment() -> None:
    # The test dependencies install omezarr[fast]; without numba the comparisons below would
    # compare NumPy with itself.
    assert on_backend(None, kernels.backend) == "numba"  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    shape=st.lists(st.integers(1, 70), min_size=1, max_size=3).map(tuple),
    data=st.data(),
    method=st.sampled_from(LINEAR_METHODS),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**32 - 1),
)
def test_axis_loops_match_numpy_bit_for_bit(
    shape: tuple[int, ...], data: st.DataObject, method: Methods, dtype: str, seed: int
) -> None:
    axis = data.draw(st.integers(0, len(shape) - 1))
    factor = data.draw(st.sampled_from([2, 3, 4, 5, 8, 16]))
    n_in = shape[axis]
    n_out = data.draw(st.integers(1, -(-n_in // factor)))
    resampler = AxisResampler(n_in, n_out, factor, method)
    out_start = data.draw(st.integers(0, n_out - 1))
    out_stop = data.draw(st.integers(out_start + 1, n_out))
    in_start, in_stop = resampler.input_span(out_start, out_stop)
    image = random_image(np.random.default_rng(seed), shape, dtype)
    if data.draw(st.booleans()):  # a non-contiguous block: the loops copy it first
        image = np.asfortranarray(image)
    block = image[(slice(None),) * axis + (slice(in_start, in_stop),)]
    arguments = (block, axis, in_start, out_start, out_stop)
    compiled = on_backend("numba", resampler.apply, *arguments)
    expected = on_backend("numpy", resampler.apply, *arguments)
    assert same_bits(compiled, expected)


@pytest.mark.parametrize("method", LINEAR_METHODS)
@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("dtype", ["u2", "f4", "i4"])
def test_every_loop_matches_numpy(method: Methods, factor: int, dtype: str) -> None:
    # Long axes, so that every loop runs: `across` (first axes), `last_strided` (runs of at
    # least 16 outputs on the last axis, paired or not, odd or even tap counts) and
    # `last_gathered` (edges and uneven runs); float32 and float64 accumulators.
    image = random_image(np.random.default_rng(factor), (4, 97, 131), dtype)
    for axis in range(3):
        n_in = image.shape[axis]
        n_out = max(1, n_in // factor)
        resampler = AxisResampler(n_in, n_out, factor, method)
        arguments = (image, axis, 0, 0, n_out)
        compiled = on_backend("numba", resampler.apply, *arguments)
        expected = on_backend("numpy", resampler.apply, *arguments)
        assert same_bits(compiled, expected), axis


@pytest.mark.parametrize("method", [Methods.RESIZE, Methods.ZOOM])
def test_loops_match_numpy_on_non_finite_values(method: Methods) -> None:
    image = random_image(np.random.default_rng(3), (45, 70), "f8")
    image[::7, ::5] = np.inf
    image[3::11, 2::9] = -np.inf
    image[5::13] = np.nan
    image[:, 17] = -0.0
    level = LevelResampler((45, 70), (22, 17), (2, 4), method)
    region = (slice(0, 22), slice(0, 17))
    with np.errstate(invalid="ignore"):
        compiled = on_backend("numba", level.resample, image, (0, 0), region)
        expected = on_backend("numpy", level.resample, image, (0, 0), region)
    assert np.isnan(expected).any() and np.isinf(expected).any()
    assert same_bits(compiled, expected)


@pytest.mark.parametrize("method", ["resize", "local_mean", "zoom"])
def test_pyramids_are_identical_on_both_backends(method: str) -> None:
    image = random_image(np.random.default_rng(5), (3, 301, 517), "u2")
    factors = [(1, 2, 2), (1, 4, 4), (1, 8, 8)]
    compiled = on_backend("numba", downsample_pyramid, image, factors, method)
    expected = on_backend("numpy", downsample_pyramid, image, factors, method)
    assert all(same_bits(a, b) for a, b in zip(compiled, expected, strict=True))
    assert np.abs(compiled[1].astype(float) - image[:, :300:2, :516:2]).mean() > 0  # not a copy


@pytest.mark.parametrize("backend", ["numba"], indirect=True)
@pytest.mark.parametrize(
    ("dtype", "out_dtype", "layout"),
    [("f2", "f4", "C"), (">u2", "f4", "C"), ("u2", "f4", "F"), ("u2", "f8", "C")],
)
def test_unsupported_inputs_are_left_to_numpy(
    backend: None, dtype: str, out_dtype: str, layout: str
) -> None:
    # float16 and byte-swapped inputs are not compiled for, a non-contiguous destination cannot
    # be reshaped, weights of another dtype than the destination's are refused: each returns
    # False with the destination untouched, and apply() then gives NumPy's result.
    resampler = AxisResampler(40, 20, 2, Methods.RESIZE)
    block = np.arange(40 * 6).reshape(40, 6).astype(dtype)
    index, weights = resampler.taps
    out = np.full((20, 6), -1, dtype=out_dtype, order=layout)
    runs = [(0, 20, 1, False)]
    paired = resampler._rows(0, 20).paired
    used = kernels.linear_axis(block, 0, index, weights.astype("f4"), paired, runs, out)
    assert not used and np.all(out == -1)
    compiled = resampler.apply(block, 0, 0, 0, 20)
    expected = on_backend("numpy", resampler.apply, block, 0, 0, 0, 20)
    assert same_bits(compiled, expected)


def run_backend_probe(value: str) -> subprocess.CompletedProcess[str]:
    code = "from omezarr.pyramid import compiled; print(compiled.backend())"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={"OMEZARR_KERNELS": value, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("numpy", "numpy"), ("auto", "numba"), ("", "numba"), (" Numba ", "numba")],
)
def test_environment_variable_chooses_the_backend(value: str, expected: str) -> None:
    probe = run_backend_probe(value)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == expected


def test_unknown_backend_is_refused_by_name() -> None:
    probe = run_backend_probe("cuda")
    assert probe.returncode != 0
    assert (
        "OMEZARR_KERNELS" in probe.stderr and "numpy" in probe.stderr and "'cuda'" in probe.stderr
    )


def test_required_numba_that_does_not_import_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` raise ImportError
    monkeypatch.setenv("OMEZARR_KERNELS", "numba")
    with pytest.raises(ImportError, match=r"omezarr\[fast\]"):
        kernels._resolve_backend()
    monkeypatch.setenv("OMEZARR_KERNELS", "auto")
    assert kernels._resolve_backend() == "numpy"  # auto falls back quietly


def test_written_pyramids_are_identical_on_both_backends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The whole engine (regions with halos across input chunks, levels from earlier levels)
    # gives the same pixels with the compiled loops as with NumPy's.
    plans = []
    plan_pyramid = request.plan_pyramid

    def recording_plan(*args: Any, **kwargs: Any) -> Any:
        plans.append(plan_pyramid(*args, **kwargs))
        return plans[-1]

    monkeypatch.setattr(request, "plan_pyramid", recording_plan)
    image = random_image(np.random.default_rng(9), (2, 1, 1100, 1300), "u2")
    chunked = da.from_array(image, chunks=(1, 1, 512, 512))
    levels = {}
    for name in ("numba", "numpy"):
        path = tmp_path / f"{name}.zarr"
        on_backend(
            name,
            lambda path=path: writer.write_image(
                chunked,
                str(path),
                axes="czyx",
                scale_factors=(2, 4, 8),
                method="resize",
                memory_budget="16M",
                storage_options={"chunks": (1, 1, 256, 256)},
            ),
        )
        group = zarr.open_group(str(path), mode="r")
        levels[name] = [np.asarray(group[f"s{level}"]) for level in range(4)]
    assert plans and all(
        plan.halo and math.prod(plan.region_shape) < math.prod(plan.task_shape) for plan in plans
    )
    assert [a.shape[-2:] for a in levels["numba"]] == [
        (1100, 1300),
        (550, 650),
        (275, 325),
        (137, 162),
    ]
    for compiled, expected in zip(levels["numba"], levels["numpy"], strict=True):
        assert same_bits(compiled, expected)
