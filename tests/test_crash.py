"""Crash safety: a writer SIGKILLed at random moments never leaves a lie on disk.

A child process writes an image (0.5 and 0.4), a label image into an existing image, or wells
into an existing plate; the test kills it after a seeded random delay within the write's
duration. After every kill:

* no zarr metadata document is truncated (zarr's LocalStore writes each file to a temporary
  name and renames it, so a file is either the old one or the new one);
* whatever existed before the write is byte-identical (other image, other labels, other wells);
* nothing is advertised as complete unless it is: whenever the validator, omezarr's metadata
  or ome-zarr-py's reader sees an image (or a listed label, or a listed well), every chunk of
  every level is stored and decodes (``omezarr.tools.verify``) and the pixels are those of an
  uninterrupted write. omezarr writes the multiscales metadata after every pixel, and lists a
  label or well only after its image is complete.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ome_zarr.reader import Label

import _crash_worker as worker
from _reliability import (
    assert_complete_image,
    assert_metadata_parses,
    file_bytes,
    kill_after,
    ngff_attrs,
    reference_images,
    reference_nodes,
    stored_levels,
    timed,
)
from omezarr.reader import open_image
from omezarr.validate import validate
from omezarr.writer import write_image, write_plate_metadata

TRIALS = {"image-0.5": 25, "image-0.4": 10, "overwrite-0.5": 10, "labels-0.5": 20, "plate-0.5": 20}


@pytest.fixture(scope="module")
def context() -> Any:
    return worker.forkserver_context()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crash")


def _write_other_image(path: Path, version: str) -> None:
    write_image(
        worker.image_pixels(7, (64, 64)),
        str(path),
        scale_factors=[2],
        storage_options=worker.CHUNKS,
        fmt=worker.fmt_of(version),
        axes="yx",
    )


def _base(workdir: Path, scenario: str, version: str) -> tuple[Path, str]:
    """The directory every trial starts from, and the path the child writes to."""
    base = workdir / f"base-{scenario}-{version}"
    if scenario == "image":
        _write_other_image(base / "other.zarr", version)
        return base, "image.zarr"
    if scenario == "overwrite":
        worker.write_test_image(str(base / "image.zarr"), version, seed=3)
        return base, "image.zarr"
    if scenario == "labels":
        worker.write_test_image(str(base / "image.zarr"), version)
        worker.write_test_labels(str(base / "image.zarr"), version, name="old")
        return base, "image.zarr"
    plate = base / "plate.zarr"
    _write_other_image(plate / "A" / "1" / "0", version)
    from omezarr.writer import write_well_metadata

    write_well_metadata(str(plate / "A" / "1"), ["0"], fmt=worker.fmt_of(version))
    write_plate_metadata(str(plate), ["A"], ["1"], ["A/1"], fmt=worker.fmt_of(version))
    return base, "plate.zarr"


class _Scenario:
    """One scenario: its base, its reference result and the checks after each kill."""

    def __init__(self, context: Any, workdir: Path, scenario: str, version: str) -> None:
        self.context = context
        self.workdir = workdir
        self.scenario = scenario
        self.version = version
        self.base, self.target = _base(workdir, scenario, version)
        self.before = file_bytes(self.base)
        self.killed = 0
        # Uninterrupted writes: the reference result, and how long a write takes (the slower
        # of two, as the machine's load varies).
        durations = []
        for name in ("reference", "calibration"):
            directory = self.trial_dir(name)
            process, duration = timed(lambda directory=directory: self.start(directory))
            assert process.exitcode == 0, "the uninterrupted write failed"
            durations.append(duration)
        self.duration = max(durations)
        self.reference = self.workdir / f"{scenario}-{version}-reference" / self.target

    def trial_dir(self, name: str) -> Path:
        directory = self.workdir / f"{self.scenario}-{self.version}-{name}"
        shutil.copytree(self.base, directory)
        return directory

    def start(self, directory: Path) -> Any:
        process = self.context.Process(
            target=worker.run_scenario,
            args=(self.scenario, str(directory / self.target), self.version),
        )
        process.start()
        return process

    def trials(self, count: int, existed_and_stays: Callable[[str], bool]) -> Iterator[Path]:
        """Run ``count`` writes killed at random moments; yield each trial's directory.

        Before yielding, checks what holds whatever the moment: every metadata document is
        complete JSON, and every file that existed before the write and that
        ``existed_and_stays`` selects (by path) is byte-identical.
        """
        rng = random.Random(f"{self.scenario}-{self.version}")
        for trial in range(count):
            directory = self.trial_dir(str(trial))
            process = self.start(directory)
            self.killed += kill_after(process, rng.uniform(0.0, 1.25 * self.duration))
            assert process.exitcode in (0, -9), f"the writer failed with {process.exitcode}"
            assert_metadata_parses(directory)
            after = file_bytes(directory, existed_and_stays)
            before = {k: v for k, v in self.before.items() if existed_and_stays(k)}
            changed = sorted(k for k in before if after.get(k) != before[k])
            assert not changed, f"files existing before the write changed: {changed[:5]}"
            yield directory

    def report(self, capsys: pytest.CaptureFixture[str], states: Counter[str]) -> None:
        """Print how the trials ended; at least one write must have been killed midway."""
        with capsys.disabled():
            print(
                f"\n{self.scenario} {self.version}: {sum(states.values())} writes, "
                f"{self.killed} killed before they finished: {dict(sorted(states.items()))}"
            )
        assert self.killed > 0, "no write was killed before it finished"


def _image_state(path: Path, expected: list[np.ndarray]) -> str:
    """How the image at ``path`` was left; fails if anything claims more than is there."""
    if not path.exists():
        return "nothing written"
    assert_metadata_parses(path)
    report = validate(str(path))
    advertised = (
        "multiscales" in ngff_attrs(path)
        or report.kind in ("image", "label")
        or reference_images(path)
    )
    if not advertised:
        assert not report.valid
        with pytest.raises((ValueError, FileNotFoundError)):
            open_image(str(path))
        return "incomplete, not advertised"
    assert report.valid, report.format()
    assert_complete_image(path, expected)
    return "complete"


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_a_killed_image_write_never_advertises_an_incomplete_image(
    context: Any, workdir: Path, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _Scenario(context, workdir, "image", version)
    expected = stored_levels(scenario.reference)
    states: Counter[str] = Counter()
    beside = scenario.trials(TRIALS[f"image-{version}"], lambda name: name.startswith("other"))
    for directory in beside:
        states[_image_state(directory / "image.zarr", expected)] += 1
    scenario.report(capsys, states)


def test_a_killed_overwrite_leaves_the_old_image_or_the_new_one(
    context: Any, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _Scenario(context, workdir, "overwrite", "0.5")
    new = stored_levels(scenario.reference)
    old = stored_levels(scenario.base / "image.zarr")
    states: Counter[str] = Counter()
    # The new image is staged beside the old one, which stays whole until the swap.
    for directory in scenario.trials(TRIALS["overwrite-0.5"], lambda name: False):
        image = directory / "image.zarr"
        old_intact = file_bytes(image) == file_bytes(scenario.base / "image.zarr")
        state = _image_state(image, old if old_intact else new)
        if state == "nothing written":
            # Killed between the two renames of the swap (microseconds): both images are
            # there, under their hidden names, to be recovered by hand.
            assert list(directory.glob(".image.zarr.old-*")), "the old image is gone"
        states[f"{state} ({'old' if old_intact else 'new'})" if state == "complete" else state] += 1
    assert states["incomplete, not advertised"] == 0, states
    assert states["complete (old)"] > 0  # kills during the write left the old image
    scenario.report(capsys, states)


def test_a_killed_label_write_keeps_the_image_and_other_labels_and_lists_only_complete_labels(
    context: Any, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _Scenario(context, workdir, "labels", "0.5")
    expected = stored_levels(scenario.reference / "labels" / "new")
    states: Counter[str] = Counter()

    def existed_and_stays(name: str) -> bool:
        # The labels group's own metadata grows by one name; everything else is untouched.
        return (
            not name.startswith("image.zarr/labels/new") and name != "image.zarr/labels/zarr.json"
        )

    for directory in scenario.trials(TRIALS["labels-0.5"], existed_and_stays):
        image = directory / "image.zarr"
        report = validate(str(image))
        assert report.valid, report.format()
        listed = ngff_attrs(image / "labels").get("labels")
        assert listed in (["old"], ["old", "new"]), listed
        label_state = _image_state(image / "labels" / "new", expected)
        if "new" in listed:
            assert label_state == "complete"
        for node in reference_nodes(image):
            if any(isinstance(spec, Label) for spec in node.specs) and "new" in str(node.zarr):
                assert label_state == "complete"
        states[f"{'listed' if 'new' in listed else 'not listed'}, {label_state}"] += 1
    scenario.report(capsys, states)


def test_a_killed_plate_write_keeps_other_wells_and_lists_only_complete_wells(
    context: Any, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _Scenario(context, workdir, "plate", "0.5")
    expected = {well: stored_levels(scenario.reference / well / "0") for well in worker.NEW_WELLS}
    states: Counter[str] = Counter()

    def existed_and_stays(name: str) -> bool:
        # The plate's own metadata grows by the new wells; everything else is untouched.
        return name != "plate.zarr/zarr.json"

    for directory in scenario.trials(TRIALS["plate-0.5"], existed_and_stays):
        plate = directory / "plate.zarr"
        report = validate(str(plate))
        assert report.valid, report.format()
        wells = [w["path"] for w in ngff_attrs(plate)["plate"]["wells"]]
        assert wells[0] == "A/1"
        added = wells[1:]
        assert tuple(added) == worker.NEW_WELLS[: len(added)], wells
        for well in worker.NEW_WELLS:
            state = _image_state(plate / well / "0", expected[well])
            if well in added:
                assert state == "complete"
                assert ngff_attrs(plate / well)["well"]["images"] == [{"path": "0"}]
        states[f"{len(added)} of {len(worker.NEW_WELLS)} new wells listed"] += 1
    scenario.report(capsys, states)
