"""Resumable writes: ``resume=True`` finishes an interrupted write, skipping what is stored.

The killed writes run in child processes (see ``_crash_worker``); the resumed write runs here
with the same arguments and must give the same files, byte for byte, as a write that was
never interrupted, having skipped the tasks whose chunks were already stored.
"""

from __future__ import annotations

import math
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

import _crash_worker as worker
from _reliability import file_bytes, kill_after, ngff_attrs, timed
from omezarr.engine.plan import plan_pyramid
from omezarr.engine.targets import LevelTarget, Progress
from omezarr.engine.walk import task_write_units
from omezarr.pyramid.methods import Methods, level_factors, level_shapes
from omezarr.pyramid.resample import LevelResampler
from omezarr.tools.verify import verify
from omezarr.validate import validate
from omezarr.writer import write_image, write_labels, write_multiscale

TRIALS = {"image-0.5": 12, "image-0.4": 5, "labels-0.5": 6}


@pytest.fixture(scope="module")
def context() -> Any:
    return worker.forkserver_context()


def _skipped(reports: list[Progress]) -> tuple[int, int]:
    """(regions skipped, regions in all) of a finished write."""
    assert reports, "the resumed write reported no progress"
    last = reports[-1]
    assert last.regions_done == last.regions_total
    assert last.bytes_done == last.bytes_total
    return last.regions_skipped, last.regions_total


def _killed_then_resumed(
    context: Any,
    tmp_path: Path,
    scenario: str,
    version: str,
    base: Path,
    target: str,
    resume: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Kill ``scenario`` at random moments, resume, and compare with an uninterrupted write."""
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)

    def start(directory: Path) -> Any:
        process = context.Process(
            target=worker.run_scenario, args=(scenario, str(directory / target), version)
        )
        process.start()
        return process

    process, duration = timed(lambda: start(reference))
    assert process.exitcode == 0
    expected = file_bytes(reference)
    rng = random.Random(f"resume-{scenario}-{version}")
    skipped_per_trial = []
    states: Counter[str] = Counter()
    for trial in range(TRIALS[f"{scenario}-{version}"]):
        directory = tmp_path / str(trial)
        shutil.copytree(base, directory)
        # Kills in the first quarter land before any pixel is written (imports, planning) and
        # test nothing of what resume skips; the window starts after it.
        killed = kill_after(start(directory), rng.uniform(0.25 * duration, 1.25 * duration))
        reports: list[Progress] = []
        resume(str(directory / target), version, reports.append)
        skipped, total = _skipped(reports)
        skipped_per_trial.append(skipped)
        states["killed" if killed else "had finished"] += 1
        assert file_bytes(directory) == expected, f"trial {trial}: resumed files differ"
        report = validate(str(directory / target))
        assert report.valid, report.format()
        assert verify(str(directory / target)).ok
        if not killed:
            assert skipped == total  # a complete image is only checked
    with capsys.disabled():
        print(
            f"\nresume {scenario} {version}: {dict(states)}; regions skipped per trial "
            f"(of {total}): {skipped_per_trial}"
        )
    assert any(s > 0 for s in skipped_per_trial), "resume never skipped any work"


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_a_killed_image_write_resumed_equals_an_uninterrupted_write(
    context: Any, tmp_path: Path, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base"
    base.mkdir()

    def resume(path: str, version: str, progress: Any) -> None:
        worker.write_test_image(path, version, resume=True, progress=progress)

    _killed_then_resumed(context, tmp_path, "image", version, base, "image.zarr", resume, capsys)


def test_a_killed_label_write_resumed_equals_an_uninterrupted_write(
    context: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base"
    worker.write_test_image(str(base / "image.zarr"), "0.5")
    worker.write_test_labels(str(base / "image.zarr"), "0.5", name="old")

    def resume(path: str, version: str, progress: Any) -> None:
        worker.write_test_labels(path, version, resume=True, progress=progress)

    _killed_then_resumed(context, tmp_path, "labels", "0.5", base, "image.zarr", resume, capsys)


# ------------------------------------------------------------------------------ in process

OPTIONS = {"chunks": (16, 16)}


def _write(path: Path, **kwargs: Any) -> list:
    kwargs.setdefault("storage_options", OPTIONS)
    kwargs.setdefault("scale_factors", [2, 4])
    return write_image(worker.image_pixels(), str(path), axes="yx", **kwargs)


def _mtimes(path: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}


def test_resume_and_overwrite_together_are_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"resume.*overwrite"):
        _write(tmp_path / "image.zarr", resume=True, overwrite=True)
    assert not (tmp_path / "image.zarr").exists()


def test_resume_must_be_a_bool(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="resume"):
        _write(tmp_path / "image.zarr", resume="yes")
    assert not (tmp_path / "image.zarr").exists()


def test_resume_without_anything_written_writes_the_image(tmp_path: Path) -> None:
    reports: list[Progress] = []
    _write(tmp_path / "image.zarr", resume=True, progress=reports.append)
    assert _skipped(reports)[0] == 0
    assert verify(str(tmp_path / "image.zarr")).ok
    assert validate(str(tmp_path / "image.zarr")).valid


def test_resuming_a_complete_image_checks_it_and_rewrites_nothing(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    _write(path)
    before = _mtimes(path)
    contents = file_bytes(path)
    reports: list[Progress] = []
    _write(path, resume=True, progress=reports.append)
    skipped, total = _skipped(reports)
    assert skipped == total
    chunks = {k: v for k, v in _mtimes(path).items() if "zarr.json" not in k}
    assert chunks == {k: v for k, v in before.items() if "zarr.json" not in k}
    assert file_bytes(path) == contents


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage"])
def test_resume_rewrites_exactly_the_tasks_with_a_missing_or_broken_chunk(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "image.zarr"
    _write(path)
    contents = file_bytes(path)
    chunk = path / "s1" / "c" / "5" / "2"  # level 1 (factor 2): a chunk of one task
    if damage == "missing":
        chunk.unlink()
    elif damage == "truncated":
        chunk.write_bytes(chunk.read_bytes()[:7])
    else:
        chunk.write_bytes(b"\x00not a chunk\xff" * 3)
    assert not verify(str(path)).ok
    reports: list[Progress] = []
    _write(path, resume=True, progress=reports.append)
    skipped, total = _skipped(reports)
    # Tasks are 64 × 64 (the lcm of each level's chunk footprint): 16 of them, one redone.
    tasks = (256 // 64) ** 2
    assert skipped == total - total // tasks
    assert verify(str(path)).ok
    assert file_bytes(path) == contents


def test_resume_recreates_a_level_array_that_was_never_created(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    _write(path)
    contents = file_bytes(path)
    shutil.rmtree(path / "s2")
    meta = ngff_attrs(path)
    zarr.open_group(str(path), mode="r+").attrs.update({"ome": {}})  # as before the metadata
    _write(path, resume=True)
    assert file_bytes(path) == contents
    assert ngff_attrs(path) == meta


@pytest.mark.parametrize(
    ("changes", "what"),
    [
        ({"storage_options": {"chunks": (32, 32)}}, "level 's0'"),
        ({"storage_options": {"chunks": (16, 16), "compressors": None}}, "level 's0'"),
        ({"scale_factors": [2]}, "levels"),
    ],
)
def test_resume_refuses_arrays_that_differ_from_the_plan(
    tmp_path: Path, changes: dict[str, Any], what: str
) -> None:
    path = tmp_path / "image.zarr"
    _write(path)
    zarr.open_group(str(path), mode="r+").attrs.update({"ome": {}})  # interrupted: no metadata
    contents = file_bytes(path)
    with pytest.raises(ValueError, match=f"resume: .*{what}.*overwrite=True"):
        _write(path, resume=True, **changes)
    assert file_bytes(path) == contents


def test_resume_with_one_more_level_adds_it_as_a_fresh_write_would(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    _write(path)
    zarr.open_group(str(path), mode="r+").attrs.update({"ome": {}})  # interrupted: no metadata
    _write(path, resume=True, scale_factors=[2, 4, 8])
    _write(tmp_path / "fresh.zarr", scale_factors=[2, 4, 8])
    assert file_bytes(path) == file_bytes(tmp_path / "fresh.zarr")


def test_resume_refuses_an_image_with_other_metadata(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    _write(path, name="first")
    contents = file_bytes(path)
    with pytest.raises(ValueError, match=r"resume: .*other metadata.*overwrite=True"):
        _write(path, resume=True, name="second")
    assert file_bytes(path) == contents


def test_resume_with_compute_false_leaves_out_the_stored_tasks(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    _write(path)
    contents = file_bytes(path)
    (path / "s0" / "c" / "0" / "0").unlink()
    (path / "s0" / "c" / "15" / "15").unlink()
    delayed = _write(path, resume=True, compute=False)
    assert len(delayed) == 1
    # Two tasks to run plus the metadata write.
    graph = dict(delayed[0].__dask_graph__())
    tasks = [key for key in graph if "run_task" in str(key) or "_run_task_on_block" in str(key)]
    assert len(tasks) == 2
    dask.compute(*delayed)
    assert file_bytes(path) == contents


def test_write_multiscale_resumes_each_given_level(tmp_path: Path) -> None:
    pixels = worker.image_pixels()
    pyramid = [pixels, pixels[::2, ::2].copy()]
    path = tmp_path / "image.zarr"
    write_multiscale(pyramid, str(path), axes="yx", storage_options=OPTIONS)
    contents = file_bytes(path)
    (path / "s1" / "c" / "3" / "1").unlink()
    reports: list[Progress] = []
    write_multiscale(
        pyramid, str(path), axes="yx", storage_options=OPTIONS, resume=True, progress=reports.append
    )
    assert file_bytes(path) == contents
    assert any(r.regions_skipped for r in reports)


def test_write_labels_resume_lists_the_label_once(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    _write(path)
    labels = worker.label_pixels()
    write_labels(labels, str(path), name="cells", axes="yx", storage_options=OPTIONS)
    contents = file_bytes(path)
    (path / "labels" / "cells" / "s0" / "c" / "2" / "2").unlink()
    write_labels(labels, str(path), name="cells", axes="yx", storage_options=OPTIONS, resume=True)
    assert file_bytes(path) == contents
    assert ngff_attrs(path / "labels")["labels"] == ["cells"]


# ----------------------------------------------------------------- task → write units


@pytest.mark.filterwarnings("ignore:Dimension .* is too small to downsample further")
@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 90), st.integers(1, 90)),
    unit=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    scale_factors=st.lists(st.integers(2, 6), min_size=0, max_size=2, unique=True).map(sorted),
)
def test_every_write_unit_of_every_level_belongs_to_exactly_one_task(
    shape: tuple[int, int], unit: tuple[int, int], scale_factors: list[int]
) -> None:
    dims = ("y", "x")
    factors = level_factors(scale_factors, dims)
    shapes = level_shapes(shape, factors, dims)
    targets = [LevelTarget(np.empty(shape), unit, None)]
    targets += [
        LevelTarget(np.empty(level), unit, LevelResampler(shape, level, f, Methods.NEAREST))
        for level, f in zip(shapes[1:], factors, strict=False)
    ]
    plan = plan_pyramid(targets, [(1, 1), *factors][: len(targets)], 1, 64 * 2**20)
    owned: list[Counter[tuple[int, ...]]] = [Counter() for _ in targets]
    for task in plan.tasks():
        for counter, units in zip(owned, task_write_units(targets, task), strict=True):
            counter.update(units)
    for counter, target in zip(owned, targets, strict=True):
        grid = [math.ceil(n / u) for n, u in zip(target.shape, unit, strict=True)]
        assert set(counter) == set(np.ndindex(*grid))
        assert set(counter.values()) == {1}
