"""engine.backends, the one place that picks sinks and executors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.storage import MemoryStore

from omezarr.engine.backends import Executor, level_sink, pick_executor
from omezarr.engine.sinks import ArraySink
from omezarr.engine.targets import LevelTarget
from omezarr.io.chunkio import DirectChunkWriter


def _array(store: object, **options: object) -> zarr.Array:
    group = zarr.open_group(store, mode="w", zarr_format=3)  # type: ignore[arg-type]
    return group.create_array("s0", shape=(64, 64), chunks=(32, 32), dtype="uint16", **options)


def test_a_local_array_gets_direct_chunk_files(tmp_path: Path) -> None:
    assert isinstance(level_sink(_array(tmp_path / "a.zarr")), DirectChunkWriter)


def test_an_in_memory_array_goes_through_zarr(tmp_path: Path) -> None:
    array = _array(MemoryStore())
    sink = level_sink(array)
    assert isinstance(sink, ArraySink) and sink.array is array


def test_a_layout_omezarr_cannot_encode_goes_through_zarr(tmp_path: Path) -> None:
    # A transposing codec chain: only zarr-python knows how to write it.
    array = _array(tmp_path / "t.zarr", filters=[zarr.codecs.TransposeCodec(order=(1, 0))])
    assert isinstance(level_sink(array), ArraySink)


def test_both_sinks_store_the_same_pixels(tmp_path: Path) -> None:
    data = np.arange(64 * 64, dtype="uint16").reshape(64, 64)
    for array in (_array(tmp_path / "d.zarr"), _array(MemoryStore())):
        level_sink(array).write((0, 32), data[:, 32:])
        level_sink(array).write((0, 0), data[:, :32])
        assert np.array_equal(array[...], data)


def test_array_sink_never_keeps_a_view_of_the_callers_buffer() -> None:
    array = _array(MemoryStore(), compressors=None)
    buffer = np.ones((64, 64), dtype="uint16")
    ArraySink(array).write((0, 0), buffer[:32, :32])
    buffer[...] = 7
    assert np.all(array[:32, :32] == 1)


def test_a_level_target_without_a_sink_writes_through_its_array() -> None:
    array = np.zeros((4, 4), dtype="uint8")
    target = LevelTarget(array, (2, 2), None)
    assert isinstance(target.sink, ArraySink)
    target.store((2, 2), np.full((2, 2), 5, dtype="uint8"))
    assert array[2:, 2:].tolist() == [[5, 5], [5, 5]] and array[:2].sum() == 0


@pytest.mark.parametrize(
    ("compute", "executor"),
    [(True, Executor.THREADS), (None, Executor.DELAYED), (False, Executor.DELAYED)],
)
def test_the_executor_follows_compute_without_a_cluster(
    compute: bool | None, executor: Executor
) -> None:
    assert pick_executor(compute) is executor
