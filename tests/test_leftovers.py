"""What killed writes leave is cleaned when it is provably stale, and only then."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr

from omezarr.convert import convert
from omezarr.io.staging import clean_stale, held
from omezarr.reader import open_image
from omezarr.writer import write_image


def _stale_directory(path: Path) -> Path:
    path.mkdir()
    zarr.open_group(str(path), mode="w")  # what a killed write had begun
    return path


def test_a_conversion_removes_what_killed_conversions_left(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    source = tmp_path / "in.npy"
    np.save(source, cells_image((64, 64)))
    target = tmp_path / "out.zarr"
    stale = _stale_directory(tmp_path / ".out.zarr.partial-0badc0de")
    with pytest.warns(RuntimeWarning, match="removed .out.zarr.partial-0badc0de"):
        convert(str(source), str(target))
    assert not stale.exists()
    assert open_image(str(target)).levels[0].shape == (64, 64)


def test_a_directory_a_live_writer_holds_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "out.zarr"
    busy = _stale_directory(tmp_path / ".out.zarr.partial-0123abcd")
    with held(busy):
        assert clean_stale(target) == []
    assert busy.exists()
    assert clean_stale(target) == ["removed .out.zarr.partial-0123abcd (left by a killed write)"]
    assert not busy.exists()


def test_the_old_directory_of_a_finished_swap_is_removed(tmp_path: Path) -> None:
    target = _stale_directory(tmp_path / "out.zarr")
    old = _stale_directory(tmp_path / ".out.zarr.old-0123abcd")
    assert clean_stale(target) == [
        "removed .out.zarr.old-0123abcd (left by a finished replacement)"
    ]
    assert target.exists() and not old.exists()


def test_a_swap_killed_between_its_renames_is_finished(tmp_path: Path) -> None:
    target = tmp_path / "out.zarr"
    _stale_directory(tmp_path / ".out.zarr.old-0123abcd")
    new = _stale_directory(tmp_path / ".out.zarr.partial-0123abcd")
    (new / "marker").write_text("new")
    assert clean_stale(target) == ["finished the interrupted replacement of out.zarr"]
    assert (target / "marker").read_text() == "new"
    assert not list(tmp_path.glob(".out.zarr.*"))


def test_an_old_directory_without_its_replacement_is_put_back(tmp_path: Path) -> None:
    target = tmp_path / "out.zarr"
    old = _stale_directory(tmp_path / ".out.zarr.old-0123abcd")
    (old / "marker").write_text("old")
    assert clean_stale(target) == ["put back out.zarr from .out.zarr.old-0123abcd"]
    assert (target / "marker").read_text() == "old"


def test_an_overwrite_removes_the_leftovers_of_killed_overwrites(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    target = tmp_path / "image.zarr"
    write_image(cells_image((32, 32)), str(target), axes="yx", scale_factors=[])
    stale = _stale_directory(tmp_path / ".image.zarr.partial-0badc0de")
    with pytest.warns(RuntimeWarning, match="left by a killed write"):
        write_image(
            cells_image((32, 32), seed=3), str(target), axes="yx", scale_factors=[], overwrite=True
        )
    assert not stale.exists()


def test_a_resumed_write_removes_the_temporary_files_it_finds(
    tmp_path: Path, cells_image: Callable[..., np.ndarray]
) -> None:
    target = tmp_path / "image.zarr"
    data = cells_image((64, 64))
    write_image(data, str(target), axes="yx", scale_factors=[2])
    leftover = target / "s0" / "c" / "0" / "0.6f1c0d2e9b8a4c7d8e9f0a1b2c3d4e5f.partial"
    leftover.write_bytes(b"half a chunk")
    write_image(data, str(target), axes="yx", scale_factors=[2], resume=True)
    assert not leftover.exists()
    assert np.array_equal(open_image(str(target)).levels[0].compute(), data)


def test_without_flock_staging_is_never_held_and_never_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where fcntl does not exist (Windows) nothing can prove a directory stale: keep it."""
    from omezarr.io import staging

    monkeypatch.setattr(staging, "fcntl", None)
    target = tmp_path / "out.zarr"
    partial = _stale_directory(tmp_path / ".out.zarr.partial-0123abcd")
    with held(partial):
        pass
    assert clean_stale(target) == []
    assert partial.exists()
