"""Concurrent writers: processes adding labels to one image or wells to one plate lose nothing.

Each test starts several real processes that wait at a barrier and then update the same
``labels`` list or ``plate`` metadata at once, repeatedly; without the metadata lock
(:mod:`omezarr.io.locking`) their read-modify-write updates overwrite each other.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import zarr

import _crash_worker as worker
from _reliability import ngff_attrs, wait_for
from omezarr.io.locking import LOCK_NAME, local_directory, metadata_lock
from omezarr.validate import validate
from omezarr.writer import write_plate_metadata

# A lock that left a file in a group would make zarr warn whenever the group is listed.
pytestmark = pytest.mark.filterwarnings("error::zarr.errors.ZarrUserWarning")

PROCESSES = 6
REPEATS = 3


@pytest.fixture(scope="module")
def context() -> Any:
    return worker.forkserver_context()


def _run_together(context: Any, target: Any, jobs: list[tuple[Any, ...]]) -> None:
    """Run ``target(*job, barrier, ...)`` in one process per job, all released at once."""
    barrier = context.Barrier(len(jobs))
    processes = [context.Process(target=target, args=(*job[:-1], barrier, job[-1])) for job in jobs]
    for process in processes:
        process.start()
    for process in processes:
        wait_for(process, timeout=120)
    assert [p.exitcode for p in processes] == [0] * len(processes)


def _exactly_once(listed: list[str], expected: list[str]) -> None:
    counts = Counter(listed)
    assert sorted(counts) == sorted(expected), f"missing {set(expected) - set(counts)}"
    assert set(counts.values()) == {1}, f"listed twice: {[k for k, n in counts.items() if n > 1]}"


def _image_with_label_groups(path: Path, names: list[str], version: str) -> Path:
    """An image whose labels group holds an (empty) group for each name, none listed yet."""
    worker.write_test_image(str(path), version)
    labels = zarr.open_group(str(path), mode="r+").require_group("labels")
    for name in names:
        labels.require_group(name)
    return path / "labels"


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_concurrent_label_metadata_writers_list_every_label_once(
    context: Any, tmp_path: Path, version: str
) -> None:
    per_process = 8
    for repeat in range(REPEATS):
        names = [f"n{p}x{i}" for p in range(PROCESSES) for i in range(per_process)]
        labels = _image_with_label_groups(tmp_path / f"{repeat}.zarr", names, version)
        jobs = [
            (str(labels), names[p * per_process : (p + 1) * per_process], version, False)
            for p in range(PROCESSES)
        ]
        _run_together(context, worker.add_label_names, jobs)
        _exactly_once(ngff_attrs(labels)["labels"], names)


def test_concurrent_label_image_writers_list_every_label_once_and_validate(
    context: Any, tmp_path: Path
) -> None:
    processes = 4
    for repeat in range(2):
        image = tmp_path / f"{repeat}.zarr"
        worker.write_test_image(str(image), "0.5")
        names = [f"cells{p}{i}" for p in range(processes) for i in range(2)]
        jobs = [
            (str(image / "labels"), names[2 * p : 2 * p + 2], "0.5", True) for p in range(processes)
        ]
        _run_together(context, worker.add_label_names, jobs)
        _exactly_once(ngff_attrs(image / "labels")["labels"], names)
        report = validate(str(image))
        assert report.valid, report.format()


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_concurrent_plate_merges_list_every_well_once_even_creating_the_plate(
    context: Any, tmp_path: Path, version: str
) -> None:
    rows, columns = "ABCDEF", [str(c) for c in range(1, 9)]
    for repeat in range(REPEATS):
        plate = tmp_path / f"{repeat}.zarr"  # does not exist: the processes race to create it
        wells = [f"{r}/{c}" for r in rows for c in columns]
        jobs = [(str(plate), wells[p::PROCESSES], version, False) for p in range(PROCESSES)]
        _run_together(context, worker.add_wells, jobs)
        stored = ngff_attrs(plate)["plate"]
        _exactly_once([w["path"] for w in stored["wells"]], wells)
        _exactly_once([r["name"] for r in stored["rows"]], list(rows))
        _exactly_once([c["name"] for c in stored["columns"]], columns)
        row_names = [r["name"] for r in stored["rows"]]
        column_names = [c["name"] for c in stored["columns"]]
        for well in stored["wells"]:
            row, column = well["path"].split("/")
            assert row_names[well["rowIndex"]] == row
            assert column_names[well["columnIndex"]] == column


def test_concurrent_well_writers_give_a_valid_plate_listing_every_well_once(
    context: Any, tmp_path: Path
) -> None:
    processes = 4
    for repeat in range(2):
        plate = tmp_path / f"{repeat}.zarr"
        wells = [f"{r}/{c}" for r in "AB" for c in "1234"]
        jobs = [(str(plate), wells[p::processes], "0.5", True) for p in range(processes)]
        _run_together(context, worker.add_wells, jobs)
        _exactly_once([w["path"] for w in ngff_attrs(plate)["plate"]["wells"]], wells)
        report = validate(str(plate))
        assert report.valid, report.format()


# -------------------------------------------------------------------------- the lock itself


def test_the_lock_leaves_no_file_in_the_group(tmp_path: Path) -> None:
    write_plate_metadata(str(tmp_path / "plate.zarr"), ["A"], ["1"], ["A/1"], merge=True)
    write_plate_metadata(str(tmp_path / "plate.zarr"), ["A"], ["2"], ["A/2"], merge=True)
    assert not (tmp_path / "plate.zarr" / LOCK_NAME).exists()
    assert sorted(p.name for p in (tmp_path / "plate.zarr").iterdir()) == ["zarr.json"]


def test_a_lock_is_taken_only_for_local_groups(tmp_path: Path) -> None:
    with metadata_lock(str(tmp_path / "new.zarr"), "labels") as locked:
        assert locked
        assert (tmp_path / "new.zarr" / "labels").is_dir()
    with metadata_lock("s3://bucket/plate.zarr") as locked:
        assert not locked
    memory = zarr.open_group(zarr.storage.MemoryStore(), mode="w")
    with metadata_lock(memory) as locked:
        assert not locked


def test_local_directory_of_groups_paths_and_file_urls(tmp_path: Path) -> None:
    group = zarr.open_group(str(tmp_path / "image.zarr"), mode="w")
    labels = group.require_group("labels")
    assert local_directory(labels) == tmp_path / "image.zarr" / "labels"
    assert local_directory(group, "labels") == tmp_path / "image.zarr" / "labels"
    assert local_directory(f"file://{tmp_path}/plate.zarr") == tmp_path / "plate.zarr"
    assert local_directory("file://elsewhere/plate.zarr") is None
    assert local_directory("https://example.org/plate.zarr") is None
    assert local_directory(3) is None


def test_plate_merge_keeps_stored_rows_wells_acquisitions_and_the_larger_field_count(
    tmp_path: Path,
) -> None:
    plate = str(tmp_path / "plate.zarr")
    write_plate_metadata(
        plate, ["B"], ["2"], ["B/2"], acquisitions=[{"id": 1}], field_count=3, name="first"
    )
    write_plate_metadata(
        plate,
        ["A", "B"],
        ["1"],
        ["A/1", "B/1"],
        acquisitions=[{"id": 1}, {"id": 2}],
        field_count=2,
        merge=True,
    )
    stored = ngff_attrs(tmp_path / "plate.zarr")["plate"]
    assert [r["name"] for r in stored["rows"]] == ["B", "A"]
    assert [c["name"] for c in stored["columns"]] == ["2", "1"]
    assert [(w["path"], w["rowIndex"], w["columnIndex"]) for w in stored["wells"]] == [
        ("B/2", 0, 0),
        ("A/1", 1, 1),
        ("B/1", 0, 1),
    ]
    assert stored["acquisitions"] == [{"id": 1}, {"id": 2}]
    assert stored["field_count"] == 3
    assert stored["name"] == "first"


def test_plate_merge_refuses_a_stored_plate_it_cannot_merge(tmp_path: Path) -> None:
    plate = tmp_path / "plate.zarr"
    write_plate_metadata(str(plate), ["A"], ["1"], ["A/1"])
    group = zarr.open_group(str(plate), mode="r+")
    broken = ngff_attrs(plate)
    broken["plate"]["rows"] = [{"name": "A-1"}]
    group.attrs.update({"ome": broken})
    before = (plate / "zarr.json").read_bytes()
    with pytest.raises(ValueError, match="merge"):
        write_plate_metadata(str(plate), ["B"], ["1"], ["B/1"], merge=True)
    assert (plate / "zarr.json").read_bytes() == before


def test_plate_merge_must_be_a_bool(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="merge"):
        write_plate_metadata(str(tmp_path / "p.zarr"), ["A"], ["1"], ["A/1"], merge="yes")  # type: ignore[arg-type]
    assert not (tmp_path / "p.zarr").exists()
