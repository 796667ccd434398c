"""The write engine: task/region planning, exactness across regions, budgets, progress, failures."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _arrays import seeded_image
from omezarr import engine
from omezarr.engine import plan as engine_plan
from omezarr.engine import run, sources, walk
from omezarr.engine.box import Box
from omezarr.engine.memory import DEFAULT_MEMORY_BUDGET, MEMORY_BUDGET_ENV, memory_budget_from
from omezarr.engine.plan import plan_pyramid
from omezarr.engine.run import delayed_tasks, run_plan
from omezarr.engine.targets import LevelTarget, Progress
from omezarr.pyramid.methods import Methods, level_shapes
from omezarr.pyramid.steps import downsample_pyramid, pyramid_steps


def _targets(
    shape: tuple[int, ...],
    factors: list[tuple[int, ...]],
    method: Methods,
    chunks: tuple[int, ...],
    dtype: Any = np.uint16,
    shards: tuple[int, ...] | None = None,
) -> tuple[list[LevelTarget], list[tuple[int, ...]]]:
    shapes = level_shapes(shape, factors)
    resamplers: list[Any] = [None, *pyramid_steps(shape, factors, method)]
    store = zarr.storage.MemoryStore()
    group = zarr.open_group(store, mode="w", zarr_format=3)
    targets = []
    for i, (level_shape, resampler) in enumerate(zip(shapes, resamplers, strict=True)):
        level_chunks = tuple(min(c, n) for c, n in zip(chunks, level_shape, strict=True))
        level_shards = None
        if shards is not None:
            level_shards = tuple(
                min(s, -(-n // c) * c)
                for s, c, n in zip(shards, level_chunks, level_shape, strict=True)
            )
        array = group.create_array(
            f"s{i}",
            shape=level_shape,
            dtype=dtype,
            chunks=level_chunks,
            shards=level_shards,
            fill_value=0,
        )
        targets.append(LevelTarget(array, level_shards or level_chunks, resampler))
    return targets, shapes


def _check_levels(image: np.ndarray, targets: list[LevelTarget], method: Methods) -> None:
    """Every level equals the whole-array pyramid (each level from the one it is computed from)."""
    assert np.array_equal(targets[0].array[...], image)
    factors = [target.resampler.factors for target in targets[1:]]  # type: ignore[union-attr]
    expected = downsample_pyramid(image, factors, method)
    for level, target in enumerate(targets[1:], start=1):
        assert np.array_equal(target.array[...], expected[level]), f"level {level} differs"


@pytest.mark.parametrize("method", list(Methods))
def test_every_level_equals_the_whole_array_computation(method: Methods) -> None:
    image = seeded_image((3, 70, 133))
    factors = [(1, 2, 2), (1, 4, 4), (1, 8, 8)]
    targets, _ = _targets(image.shape, factors, method, chunks=(1, 16, 32))
    plan = plan_pyramid(targets, [(1, 1, 1), *factors], image.itemsize, 16 * 2**20, None, 2)
    run_plan(image, targets, plan)
    _check_levels(image, targets, method)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(8, 60), st.integers(8, 60)),
    chunk=st.tuples(st.integers(1, 2), st.integers(3, 20), st.integers(3, 20)),
    factor_list=st.lists(st.sampled_from([2, 3, 4, 5]), min_size=1, max_size=3),
    z_down=st.booleans(),
    method=st.sampled_from(list(Methods)),
    threads=st.sampled_from([1, 2]),
)
def test_any_chunking_and_factors_give_exact_levels(
    shape: tuple[int, int, int],
    chunk: tuple[int, int, int],
    factor_list: list[int],
    z_down: bool,
    method: Methods,
    threads: int,
) -> None:
    image = seeded_image(shape, seed=sum(shape))
    factors = [(f if z_down else 1, f, f) for f in factor_list]
    targets, _ = _targets(image.shape, factors, method, chunks=chunk)
    plan = plan_pyramid(targets, [(1, 1, 1), *factors], image.itemsize, 16 * 2**20, None, threads)
    run_plan(image, targets, plan)
    _check_levels(image, targets, method)


def test_tasks_never_share_a_write_unit() -> None:
    shape = (4, 300, 520)
    factors = [(1, 2, 2), (2, 4, 4), (2, 16, 16)]
    targets, shapes = _targets(
        shape, factors, Methods.LOCAL_MEAN, chunks=(1, 32, 64), shards=(2, 64, 128)
    )
    plan = plan_pyramid(targets, [(1, 1, 1), *factors], 2, 16 * 2**20, None, 2)
    owners: dict[tuple[int, tuple[int, ...]], set[int]] = {}
    for task_index, task in enumerate(plan.tasks()):
        for level, target in enumerate(targets):
            if target.resampler is None:
                lo, hi = task
            else:
                owned = target.resampler.owned_outputs(
                    tuple(slice(a, b) for a, b in zip(*task, strict=True))
                )
                lo = tuple(s.start for s in owned)
                hi = tuple(s.stop for s in owned)
            if any(b <= a for a, b in zip(lo, hi, strict=True)):
                continue
            unit = target.write_unit
            first = [a // u for a, u in zip(lo, unit, strict=True)]
            last = [(b - 1) // u for b, u in zip(hi, unit, strict=True)]
            for index in np.ndindex(*(b - a + 1 for a, b in zip(first, last, strict=True))):
                key = tuple(a + i for a, i in zip(first, index, strict=True))
                owners.setdefault((level, key), set()).add(task_index)
    assert plan.n_tasks > 1
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert not shared
    # Every unit of every level is owned by some task.
    for level, level_shape in enumerate(shapes):
        unit = targets[level].write_unit
        n_units = math.prod(-(-n // u) for n, u in zip(level_shape, unit, strict=True))
        assert sum(1 for (lv, _) in owners if lv == level) == n_units


def test_sharded_levels_are_exact_and_complete() -> None:
    image = seeded_image((2, 96, 160))
    factors = [(1, 2, 2), (1, 4, 4)]
    targets, _ = _targets(
        image.shape, factors, Methods.RESIZE, chunks=(1, 16, 16), shards=(1, 32, 64)
    )
    plan = plan_pyramid(targets, [(1, 1, 1), *factors], image.itemsize, 16 * 2**20, None, 2)
    run_plan(image, targets, plan)
    _check_levels(image, targets, Methods.RESIZE)


def test_progress_reports_every_region_and_byte() -> None:
    image = seeded_image((2, 64, 64))
    factors = [(1, 2, 2), (1, 4, 4)]
    targets, _ = _targets(image.shape, factors, Methods.NEAREST, chunks=(1, 16, 16))
    plan = plan_pyramid(targets, [(1, 1, 1), *factors], image.itemsize, 16 * 2**20, None, 2)
    events: list[Progress] = []
    run_plan(image, targets, plan, events.append)
    last = max(events, key=lambda e: e.regions_done)
    assert last.regions_done == last.regions_total == plan.n_regions
    assert last.bytes_done == last.bytes_total == sum(math.prod(t.shape) for t in targets) * 2
    assert last.levels == 3


class _FailingSource:
    """An array-like that fails when a given region is read."""

    def __init__(self, data: np.ndarray, fail_at_row: int) -> None:
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.fail_at_row = fail_at_row

    def __getitem__(self, index: tuple[slice, ...]) -> np.ndarray:
        if index[-2].start <= self.fail_at_row < index[-2].stop:
            raise OSError("disk read failed")
        return self.data[index]


def test_a_failing_read_is_raised() -> None:
    image = seeded_image((1, 64, 64))
    targets, _ = _targets(image.shape, [(1, 2, 2)], Methods.NEAREST, chunks=(1, 16, 16))
    plan = plan_pyramid(targets, [(1, 1, 1), (1, 2, 2)], 2, 16 * 2**20, None, 2)
    with pytest.raises(OSError, match="disk read failed"):
        run_plan(_FailingSource(image, 40), targets, plan)


def test_delayed_tasks_write_the_same_levels() -> None:
    image = seeded_image((2, 50, 70))
    factors = [(1, 2, 2), (1, 4, 4)]
    targets, _ = _targets(image.shape, factors, Methods.RESIZE, chunks=(1, 16, 16))
    plan = plan_pyramid(targets, [(1, 1, 1), *factors], image.itemsize, 16 * 2**20, None, 2)
    tasks = delayed_tasks(da.from_array(image, chunks=(1, 25, 35)), targets, plan)
    assert len(tasks) == plan.n_tasks
    dask.compute(*tasks)
    _check_levels(image, targets, Methods.RESIZE)


def test_smaller_budget_gives_smaller_regions() -> None:
    shape = (1, 4096, 4096)
    factors = [(1, 1, 1), (1, 16, 16)]
    targets, _ = _targets(shape, factors[1:], Methods.NEAREST, chunks=(1, 256, 256))
    big = plan_pyramid(targets, factors, 2, 1024 * 2**20, None, 2)
    small = plan_pyramid(targets, factors, 2, 16 * 2**20, None, 2)
    assert math.prod(small.region_shape) < math.prod(big.region_shape)
    assert all(r % 256 == 0 for r in small.region_shape[1:])


@pytest.mark.parametrize("budget_mib", [64, 256, 1024])
def test_halo_plans_keep_the_chunk_cache_within_a_quarter_of_the_budget(budget_mib: int) -> None:
    """The cache that halo reads use, the regions, buffers and kernel scratch of the tasks
    running at once fit the budget together (when the budget allows one task at all)."""
    from omezarr.engine.plan import _KERNEL_SCRATCH

    shape = (1, 8192, 8192)  # one task (the coarsest chunk spans it), walked in regions
    factors = [(1, 1, 1), (1, 2, 2), (1, 4, 4), (1, 8, 8), (1, 16, 16)]
    targets, _ = _targets(shape, factors[1:], Methods.RESIZE, chunks=(1, 512, 512))
    budget = budget_mib * 2**20
    plan = plan_pyramid(targets, factors, 2, budget, (1, 512, 512), 2)
    assert plan.halo
    assert plan.cache_bytes * plan.concurrency <= budget // 4
    per_task = 4 * math.prod(plan.region_shape) * 2 + _KERNEL_SCRATCH
    if plan.concurrency > 1:
        assert plan.concurrency * per_task + plan.cache_bytes * plan.concurrency <= budget


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    step=st.integers(1, 3),
    offset=st.integers(0, 5),
)
def test_z_order_tiles_the_box_and_visits_every_box_behind_first(
    counts: list[int], step: int, offset: int
) -> None:
    ndim = len(counts)
    start = (offset,) * ndim
    # The last box along each axis is clipped when the step allows it.
    stop = tuple(offset + c * step - (1 if step > 1 else 0) for c in counts)
    boxes = Box(start, stop).z_order((step,) * ndim)
    covered = np.zeros(tuple(b - offset for b in stop), dtype=int)
    for box in boxes:
        covered[box.relative_to(start)] += 1
    assert np.all(covered == 1)
    position = {lo: i for i, (lo, _) in enumerate(boxes)}
    for lo, i in position.items():
        for other, j in position.items():
            if all(o <= a for o, a in zip(other, lo, strict=True)):
                assert j <= i  # a box behind (or at) ``lo`` along every axis comes first


def test_z_order_of_grids_needing_keys_wider_than_64_bits() -> None:
    """14 bits on each of five axes: 70-bit keys, still every box after its neighbours behind."""
    counts = (2, 2, 2, 2, 8193)
    boxes = Box((0,) * 5, counts).z_order((1,) * 5)
    assert len(boxes) == math.prod(counts)
    position = {lo: i for i, (lo, _) in enumerate(boxes)}
    for lo, i in position.items():
        for axis in range(5):
            if lo[axis]:
                behind = (*lo[:axis], lo[axis] - 1, *lo[axis + 1 :])
                assert position[behind] < i


@pytest.mark.parametrize(
    ("method", "shape", "chunks", "shards"),
    [
        (Methods.LOCAL_MEAN, (2, 96, 160), (1, 16, 16), None),
        (Methods.NEAREST, (1, 100, 75), (1, 8, 16), None),
        (Methods.RESIZE, (1, 100, 130), (1, 16, 16), None),
        (Methods.ZOOM, (2, 64, 64), (1, 8, 8), (1, 16, 16)),
    ],
    ids=["local_mean", "nearest-edges", "resize-halo", "zoom-shards"],
)
def test_planned_unit_buffers_are_exactly_what_each_task_holds(
    monkeypatch: pytest.MonkeyPatch,
    method: Methods,
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    shards: tuple[int, ...] | None,
) -> None:
    """The planner's simulated walk (:func:`engine_plan._unit_buffer_peak`) predicts the bytes of
    partly filled write units that the real walk holds at its worst, task by task."""
    held = {"total": 0, "peak": 0}

    class Tracked(dict):  # type: ignore[type-arg]
        def __setitem__(self, key: Any, value: Any) -> None:
            held["total"] += value[0].nbytes
            held["peak"] = max(held["peak"], held["total"])
            super().__setitem__(key, value)

        def __delitem__(self, key: Any) -> None:
            held["total"] -= self[key][0].nbytes
            super().__delitem__(key)

    class TrackedBuffers(run._UnitBuffers):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.units = Tracked()

    monkeypatch.setattr(run, "_UnitBuffers", TrackedBuffers)
    image = seeded_image(shape)
    factors = [(1, 2, 2), (1, 4, 4), (1, 8, 8)]
    targets, _ = _targets(image.shape, factors, method, chunks=chunks, shards=shards)
    planned = plan_pyramid(targets, [(1, 1, 1), *factors], image.itemsize, 64 * 2**20, None, 1)
    # Regions of one level-0 write unit, so coarse units are assembled from several.
    region = targets[0].write_unit
    plan = dataclasses.replace(
        planned,
        region_shape=region,
        halo=walk._needs_halo(targets, region),
        cache_bytes=2**20,
    )
    assert plan.halo == (method is Methods.RESIZE)
    peaks = []
    for task in plan.tasks():
        held["peak"] = 0
        run.run_task(image, targets, plan, task)
        assert held["total"] == 0
        assert held["peak"] == engine_plan._unit_buffer_peak(
            targets, task, region, plan.halo, image.itemsize
        )
        peaks.append(held["peak"])
    assert max(peaks) > 0
    _check_levels(image, targets, method)


def test_whole_slide_planes_are_written_by_every_thread_within_the_budget() -> None:
    """A 32768 x 32768 plane in 1024 x 1024 chunks: each task walks 64 regions; the
    partly filled coarse units it holds are simulated, not bounded by the whole task
    (680 MiB, which left one thread working)."""
    shape = (1, 32768, 32768)
    factors = [(1, 2**k, 2**k) for k in range(1, 5)]
    targets, _ = _targets(shape, factors, Methods.LOCAL_MEAN, chunks=(1, 1024, 1024))
    plan = plan_pyramid(
        targets, [(1, 1, 1), *factors], 2, DEFAULT_MEMORY_BUDGET, (1, 1024, 1024), 2
    )
    assert plan.concurrency == 2
    task = next(plan.tasks())
    assert sum(1 for _ in plan.regions(task)) > 16
    held = engine_plan._unit_buffer_peak(targets, task, plan.region_shape, plan.halo, 2)
    assert 0 < held <= DEFAULT_MEMORY_BUDGET // 8


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DEFAULT_MEMORY_BUDGET),
        (64 * 2**20, 64 * 2**20),
        ("512M", 512 * 2**20),
        ("1.5GiB", int(1.5 * 2**30)),
    ],
)
def test_memory_budget_parsing(value: Any, expected: int) -> None:
    assert memory_budget_from(value) == expected


def test_memory_budget_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_BUDGET_ENV, "100M")
    assert memory_budget_from(None) == 100 * 2**20


@pytest.mark.parametrize(
    ("value", "error"),
    [("lots", ValueError), ("1K", ValueError), (True, TypeError), (1.5, TypeError)],
)
def test_memory_budget_refusals_name_the_parameter(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="memory_budget"):
        memory_budget_from(value)


class _CountingChunkedSource:
    """A chunked array-like (zarr-style ``chunks``) that counts reads of each chunk."""

    def __init__(self, data: np.ndarray, chunks: tuple[int, ...]) -> None:
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.chunks = chunks
        self.reads: dict[tuple[int, ...], int] = {}

    def __getitem__(self, index: tuple[slice, ...]) -> np.ndarray:
        key = tuple(s.start // c for s, c in zip(index, self.chunks, strict=True))
        self.reads[key] = self.reads.get(key, 0) + 1
        return self.data[index]


def test_halo_reads_of_a_chunked_source_read_each_chunk_once() -> None:
    image = seeded_image((1, 256, 256))
    source = _CountingChunkedSource(image, (1, 64, 64))
    factors = [(1, 2, 2), (1, 4, 4), (1, 8, 8)]
    targets, _ = _targets(image.shape, factors, Methods.RESIZE, chunks=(1, 64, 64))
    planned = plan_pyramid(
        targets, [(1, 1, 1), *factors], image.itemsize, 64 * 2**20, (1, 64, 64), 1
    )
    # One task walked in chunk-sized regions: every region's halo reaches its neighbours' chunks.
    plan = dataclasses.replace(
        planned, task_shape=image.shape, region_shape=(1, 64, 64), halo=True, cache_bytes=2**20
    )
    # As on a dask worker: in a thread that outlives the write (this one).
    run._run_task_releasing(source, targets, plan, next(plan.tasks()))
    _check_levels(image, targets, Methods.RESIZE)
    assert len(source.reads) == 16
    assert set(source.reads.values()) == {1}
    assert sources._ASSEMBLY.buffer.size == 0  # released with the task, not kept by the thread


def test_halo_reads_across_chunks_are_never_joined_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    from omezarr.pyramid import resample

    monkeypatch.setattr(resample, "_TILE_VALUES", 2**16)  # levels computed in 8 or more tiles
    # Two chunk-sized regions: the second reads a strip of the first chunk behind its own.
    image = seeded_image((1, 1024, 2048))
    source = _CountingChunkedSource(image, (1, 1024, 1024))
    factors = [(1, 2, 2), (1, 4, 4)]
    targets, _ = _targets(image.shape, factors, Methods.RESIZE, chunks=(1, 1024, 1024))
    planned = plan_pyramid(
        targets, [(1, 1, 1), *factors], image.itemsize, 256 * 2**20, (1, 1024, 1024), 1
    )
    plan = dataclasses.replace(
        planned,
        task_shape=image.shape,
        region_shape=(1, 1024, 1024),
        halo=True,
        cache_bytes=64 * 2**20,
    )
    sources._ASSEMBLY.release()
    run.run_task(source, targets, plan, next(plan.tasks()))
    _check_levels(image, targets, Methods.RESIZE)
    read = 1024 * (1024 + 8) * image.itemsize  # the second region's read, at least
    copied = sources._ASSEMBLY.buffer.size
    assert 0 < copied < read // 4  # tiles crossing the two chunks were copied, one at a time
    sources._ASSEMBLY.release()


@pytest.mark.parametrize("method", [Methods.RESIZE, Methods.ZOOM])
def test_halo_regions_own_a_partition_of_every_level_and_read_only_behind(method: Methods) -> None:
    from omezarr.engine.walk import _Lag, _level_regions, _owned_box

    shape = (1, 300, 260)
    factors = [(1, 2, 2), (1, 4, 4), (1, 8, 8), (1, 16, 16)]
    targets, shapes = _targets(shape, factors, method, chunks=(1, 64, 64))
    task = Box((0, 0, 0), shape)
    regions = [
        Box((0, y, x), (1, min(y + 64, 300), min(x + 64, 260)))
        for y in range(0, 300, 64)
        for x in range(0, 260, 64)
    ]
    lag = _Lag(targets, task)
    level_regions = [_level_regions(targets, region, lag) for region in regions]
    for level in range(1, len(targets)):
        covered = np.zeros(shapes[level], dtype=int)
        for owned, _ in level_regions:
            covered[tuple(slice(a, b) for a, b in zip(*owned[level], strict=True))] += 1
        task_owned = _owned_box(targets[level], task)
        assert task_owned == ((0, 0, 0), shapes[level])
        assert np.all(covered == 1), level  # every output owned by exactly one region
    for region, (_, needed) in zip(regions, level_regions, strict=True):
        for axis in (1, 2):
            if region[1][axis] < shape[axis]:  # not the task's last region on this axis
                assert needed[0][1][axis] <= region[1][axis]  # nothing read ahead
    # Without the lag, halos read ahead into the next chunks.
    assert any(
        _level_regions(targets, region)[1][0][1][2] > region[1][2] for region in regions[:-1]
    )


def _counting_cache() -> tuple[np.ndarray, _CountingChunkedSource, Any]:
    """A 128 x 128 image, its counting source in 64 x 64 chunks and a chunk cache over it."""
    from omezarr.engine.sources import _chunk_bounds, _ChunkCache

    image = seeded_image((1, 128, 128))
    source = _CountingChunkedSource(image, (1, 64, 64))
    bounds = _chunk_bounds(source)
    assert bounds is not None
    return image, source, _ChunkCache(source, bounds, limit_bytes=2**30)


def test_chunk_cache_keeps_only_what_later_reads_need() -> None:
    image, source, cache = _counting_cache()
    first = Box((0, 0, 0), (1, 64, 64))
    assert np.array_equal(cache.read(first), image[:, :64, :64])
    strip = Box((0, 0, 56), (1, 64, 64))  # what the next region reads behind it
    cache.retain([strip, Box((0, 64, 64), (1, 128, 128))])
    assert cache.size == 64 * 8 * image.itemsize  # the strip, not the chunk
    behind = Box((0, 0, 56), (1, 64, 128))
    assert np.array_equal(cache.read(behind)[:, :, :], image[:, :64, 56:128])
    assert source.reads == {(0, 0, 0): 1, (0, 0, 1): 1}  # the strip came from the cache
    cache.read(Box((0, 0, 0), (1, 8, 8)))  # dropped by retain: read again
    assert source.reads[(0, 0, 0)] == 2
    cache.retain([])
    assert cache.size == 0 and not cache.chunks


def test_reads_across_chunks_are_mosaics_copied_only_where_sliced_across() -> None:
    from omezarr.pyramid.mosaic import Mosaic

    image, _, cache = _counting_cache()
    block = cache.read(Box((0, 0, 0), (1, 70, 70)))
    assert isinstance(block, Mosaic)  # the chunk and three strips, not joined
    assert np.array_equal(block[:, :, :], image[:, :70, :70])
    inside = block[:, 10:20, 10:20]
    assert np.shares_memory(inside, cache.chunks[(0, 0, 0)][0][1])  # a view of the chunk
    crossing = block[:, 60:70, :]
    assert np.array_equal(crossing, image[:, 60:70, :70])
    again = block[:, :, 60:70]
    assert np.array_equal(again, image[:, :70, 60:70])
    assert np.shares_memory(crossing, again)  # copied into one buffer per thread


def test_whole_dask_blocks_are_read_by_index() -> None:
    from omezarr.engine.sources import _dask_block, _read

    image = seeded_image((2, 50, 70))
    source = da.from_array(image, chunks=(1, 25, 35))
    assert _dask_block(source, Box((1, 25, 35), (2, 50, 70))) == (1, 1, 1)
    assert _dask_block(source, Box((1, 25, 30), (2, 50, 70))) is None  # not a block edge
    assert _dask_block(source, Box((0, 0, 0), (2, 50, 70))) is None  # several blocks
    assert _dask_block(image, Box((0, 0, 0), (1, 25, 35))) is None  # not dask
    assert np.array_equal(_read(source, Box((1, 25, 35), (2, 50, 70))), image[1:2, 25:50, 35:70])


@pytest.mark.parametrize("limit", [0, 20_000], ids=["through-blocks", "from-the-graph"])
def test_dask_blocks_with_dependencies_read_the_same_either_way(
    monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Small graphs are materialised once and culled per block, large ones go through
    ``.blocks``; both give the block's pixels, also for blocks that depend on other tasks."""

    monkeypatch.setattr(sources, "_GRAPH_TASKS_LIMIT", limit)
    image = seeded_image((4, 48, 60))
    # rechunked and shifted: every block depends on several tasks of earlier layers
    source = (da.from_array(image, chunks=(1, 16, 20)).rechunk((2, 24, 30)) + 1) - 1
    for index in np.ndindex(*source.numblocks):
        lo = tuple(i * c for i, c in zip(index, (2, 24, 30), strict=True))
        hi = tuple(a + c for a, c in zip(lo, (2, 24, 30), strict=True))
        block = sources._read(source, Box(lo, hi))
        assert np.array_equal(block, image[tuple(map(slice, lo, hi))])
    held = sources._DASK_GRAPHS.graph(source)
    assert (held is None) == (limit == 0)
    sources._DASK_GRAPHS.forget()


def test_a_write_drops_the_materialised_graph_when_done() -> None:

    image = seeded_image((2, 64, 64))
    source = da.from_array(image, chunks=(1, 32, 32))
    targets, _ = _targets(image.shape, [(1, 2, 2)], Methods.NEAREST, chunks=(1, 32, 32))
    plan = plan_pyramid(targets, [(1, 1, 1), (1, 2, 2)], image.itemsize, 64 * 2**20, (1, 32, 32))
    run_plan(source, targets, plan)
    _check_levels(image, targets, Methods.NEAREST)
    assert sources._DASK_GRAPHS._graph is None and sources._DASK_GRAPHS._name is None


PAGE_FAULTS = """
import ctypes, resource, sys
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.realloc.restype = ctypes.c_void_p
libc.realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
if sys.argv[1] == "prime":
    from omezarr.engine import prime_malloc
    assert prime_malloc()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):  # what a compressor does per chunk: fill a worst-case buffer, shrink, free
    block = libc.malloc(2 * 2**20)
    libc.memset(block, 1, 2 * 2**20)
    libc.free(libc.realloc(block, 1_200_000))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION").startswith(
            "glibc"
        )  # type: ignore[union-attr]
    except (ValueError, OSError, AttributeError):
        return False


def test_prime_malloc_stops_glibc_from_mapping_every_encoded_chunk_afresh() -> None:
    if not _glibc():
        pytest.skip(
            "prime_malloc acts on glibc only (its dynamic mmap threshold); this C library is not glibc"
        )

    # Tuning variables turn glibc's dynamic threshold off (dask.distributed's nanny sets
    # MALLOC_TRIM_THRESHOLD_ in this process's environment when a test starts a cluster).
    glibc_defaults = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    glibc_defaults.pop("GLIBC_TUNABLES", None)

    def faults(mode: str) -> int:
        result = subprocess.run(
            [sys.executable, "-c", PAGE_FAULTS, mode],
            capture_output=True,
            text=True,
            check=True,
            env={**glibc_defaults, "PYTHONPATH": str(Path(engine.__file__).parents[2])},
        )
        return int(result.stdout)

    unprimed, primed = faults("plain"), faults("prime")
    assert unprimed >= 50  # each buffer is a fresh mapping: at least a fault per chunk
    assert primed < 50 * 64  # reused heap memory: not 512 pages per 2 MiB buffer
    assert primed < unprimed


def _write_uncompressed_to_memory(source: Any, chunks: tuple[int, ...], **options: Any) -> Any:
    """``write_image`` of a 2-D ``source`` (two levels) into a zarr MemoryStore without codecs,
    which keeps the very arrays it is given; returns the group."""
    from omezarr import write_image

    group = zarr.open_group(zarr.storage.MemoryStore(), mode="w")
    storage_options = {"chunks": chunks, "compressors": None}
    write_image(
        source, group, axes="yx", scale_factors=[2], storage_options=storage_options, **options
    )
    return group


def test_level_zero_copied_from_several_chunks_is_not_overwritten_in_a_store_that_keeps_it() -> (
    None
):
    # Level 0 of a region spanning many input chunks is copied into the thread's reused
    # buffer, which the resize tiles that follow overwrite: it must reach zarr as its own array.
    image = seeded_image((2048, 2048))
    source = zarr.create_array(
        zarr.storage.MemoryStore(), shape=image.shape, chunks=(100, 100), dtype=image.dtype
    )
    source[...] = image
    group = _write_uncompressed_to_memory(
        source, (1024, 2048), method="resize", memory_budget="64M"
    )
    assert np.array_equal(group["s0"][...], image)
    expected = downsample_pyramid(image, [(2, 2)], Methods.RESIZE)
    assert np.array_equal(group["s1"][...], expected[1])


def test_the_written_image_does_not_change_with_the_callers_array_afterwards() -> None:
    image = seeded_image((256, 256))
    original = image.copy()
    group = _write_uncompressed_to_memory(image, (256, 256))
    image[...] = 0  # the store would hold a view of it
    assert np.array_equal(group["s0"][...], original)
