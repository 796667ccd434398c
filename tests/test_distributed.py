"""Writes under a real dask.distributed cluster of process workers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import zarr
from distributed import Client, LocalCluster, get_task_stream

from omezarr.pyramid.methods import Methods
from omezarr.pyramid.steps import downsample_pyramid
from omezarr.writer import get_metadata, write_image, write_labels


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _image() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 4000, (2, 3, 96, 80), dtype=np.uint16)


def _assert_pyramid(path: Path, image: np.ndarray, method: Methods) -> None:
    group = zarr.open_group(path, mode="r")
    datasets = get_metadata(path)["multiscales"][0]["datasets"]
    assert np.array_equal(group["s0"][...], image)
    expected = downsample_pyramid(image, [(1, 1, 2, 2), (1, 1, 4, 4)], method)
    for level in (1, 2):
        assert np.array_equal(group[f"s{level}"][...], expected[level])
    assert [d["path"] for d in datasets] == ["s0", "s1", "s2"]


def test_write_image_runs_on_the_workers_and_writes_metadata_last(
    client: Client, tmp_path: Path
) -> None:
    image = _image()
    path = tmp_path / "dist.ome.zarr"
    source = da.from_array(image, chunks=(1, 1, 32, 80))
    with get_task_stream(client) as stream:
        result = write_image(
            source,
            str(path),
            scale_factors=[2, 4],
            axes="czyx",
            storage_options={"chunks": (1, 1, 32, 40)},
        )
    assert result == []
    _assert_pyramid(path, image, Methods.RESIZE)
    # The pyramid tasks and the final metadata task ran on the cluster's workers.
    names = [
        task["key"] if isinstance(task["key"], str) else task["key"][0] for task in stream.data
    ]
    workers = {task["worker"] for task in stream.data}
    assert any("run_task" in name for name in names)
    assert any(name.startswith("omezarr-metadata") for name in names)
    assert workers <= set(client.scheduler_info()["workers"])


def test_compute_false_under_a_client_defers_everything(client: Client, tmp_path: Path) -> None:
    image = _image()
    path = tmp_path / "deferred.ome.zarr"
    delayed = write_image(
        image, str(path), scale_factors=[2, 4], axes="czyx", method="local_mean", compute=False
    )
    assert len(delayed) == 1
    assert "multiscales" not in get_metadata(path)
    dask.compute(*delayed)
    assert "multiscales" in get_metadata(path)
    _assert_pyramid(path, image, Methods.LOCAL_MEAN)


def test_labels_under_a_client(client: Client, tmp_path: Path) -> None:
    image = _image()
    path = tmp_path / "labels.ome.zarr"
    write_image(image, str(path), scale_factors=[2], axes="czyx")
    labels = (image % 5).astype(np.uint8)
    write_labels(labels, str(path), "cells", scale_factors=[2], axes="czyx")
    assert get_metadata(path / "labels")["labels"] == ["cells"]
    stored = zarr.open_group(path / "labels" / "cells", mode="r")
    assert np.array_equal(stored["s0"][...], labels)


def test_an_active_client_makes_compute_run_on_the_cluster(client: Client) -> None:
    from omezarr.engine.backends import Executor, pick_executor

    assert pick_executor(True) is Executor.DISTRIBUTED
    assert pick_executor(False) is Executor.DELAYED  # the caller computes the delayed object
