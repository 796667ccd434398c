"""overwrite=True keeps the old image whole until the new one is complete (local disks), and
keeps the image's labels consistent: kept when they fit the new levels, else removed and named.
A failed first label write leaves no ``labels`` group behind (it would make the image invalid).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from zarr.storage import MemoryStore

from _arrays import cells
from _reliability import file_bytes
from omezarr.reader import open_image
from omezarr.validate import validate
from omezarr.writer import write_image, write_labels


class _FailingSource:
    """An image whose reads fail after ``good`` of them: a source that breaks mid-write."""

    def __init__(self, data: np.ndarray, good: int) -> None:
        self.data, self.good = data, good
        self.shape, self.dtype = data.shape, data.dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        if self.good <= 0:
            raise OSError("the microscope's share went away")
        self.good -= 1
        return np.asarray(self.data[key])


def _image(
    path: Path, seed: int = 1, shape: tuple[int, ...] = (64, 96), **kwargs: Any
) -> np.ndarray:
    data = cells(shape, seed=seed)
    write_image(data, str(path), axes="yx", scale_factors=[2], **kwargs)
    return data


def test_an_overwrite_whose_source_fails_leaves_the_old_image_untouched(tmp_path: Path) -> None:
    path = tmp_path / "image.ome.zarr"
    old = _image(path, storage_options={"chunks": (32, 32)})
    before = file_bytes(path)
    source = _FailingSource(cells((64, 96), seed=2), good=0)
    with pytest.raises(OSError, match="share went away"):
        write_image(
            source, str(path), axes="yx", scale_factors=[2], overwrite=True,
            storage_options={"chunks": (32, 32)},
        )  # fmt: skip
    assert file_bytes(path) == before
    assert np.array_equal(open_image(str(path)).levels[0].compute(), old)
    assert not list(tmp_path.glob(".image.ome.zarr.*")), "the staging directory was left"


def test_an_overwrite_interrupted_by_ctrl_c_leaves_the_old_image_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "image.ome.zarr"
    old = _image(path)
    before = file_bytes(path)

    def interrupt(progress: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _image(path, seed=6, overwrite=True, progress=interrupt)
    assert file_bytes(path) == before
    assert np.array_equal(open_image(str(path)).levels[0].compute(), old)
    assert not list(tmp_path.glob(".image.ome.zarr.*"))


def test_an_overwrite_replaces_the_image_and_keeps_other_attributes(tmp_path: Path) -> None:
    path = tmp_path / "image.ome.zarr"
    _image(path)
    zarr.open_group(str(path)).attrs["acquisition"] = {"operator": "A"}
    new = _image(path, seed=3, overwrite=True)
    assert np.array_equal(open_image(str(path)).levels[0].compute(), new)
    assert zarr.open_group(str(path)).attrs["acquisition"] == {"operator": "A"}
    assert validate(str(path)).valid
    assert not list(tmp_path.glob(".image.ome.zarr.*"))


def test_an_overwrite_keeps_labels_that_fit_the_new_levels(tmp_path: Path) -> None:
    path = tmp_path / "image.ome.zarr"
    data = _image(path)
    write_labels((data > 1000).astype("uint8"), str(path), "cells", axes="yx", scale_factors=[2])
    _image(path, seed=4, overwrite=True)  # the same levels
    assert open_image(str(path)).label_names == ["cells"]
    assert validate(str(path)).valid


def test_an_overwrite_removes_labels_that_no_longer_fit_and_names_them(tmp_path: Path) -> None:
    path = tmp_path / "image.ome.zarr"
    data = _image(path)
    write_labels((data > 1000).astype("uint8"), str(path), "cells", axes="yx", scale_factors=[2])
    with pytest.warns(RuntimeWarning, match=r"removed the labels \['cells'\]"):
        _image(path, seed=5, shape=(80, 80), overwrite=True)
    assert not (path / "labels").exists()
    assert validate(str(path)).valid


def test_an_in_memory_overwrite_also_keeps_labels_consistent() -> None:
    store = MemoryStore()
    root = zarr.open_group(store, mode="w", zarr_format=3)
    data = cells((64, 96))
    write_image(data, root, axes="yx", scale_factors=[2])
    write_labels((data > 1000).astype("uint8"), root, "cells", axes="yx", scale_factors=[2])
    with pytest.warns(RuntimeWarning, match="removed the labels"):
        write_image(cells((32, 32)), root, axes="yx", scale_factors=[2], overwrite=True)
    assert "labels" not in zarr.open_group(store, mode="r")


def test_a_failed_first_label_write_leaves_no_labels_group(tmp_path: Path) -> None:
    path = tmp_path / "image.ome.zarr"
    data = _image(path)
    source = _FailingSource((data > 1000).astype("uint8"), good=0)
    with pytest.raises(OSError, match="share went away"):
        write_labels(source, str(path), "cells", axes="yx", scale_factors=[2])
    assert not (path / "labels").exists()
    assert validate(str(path)).valid


def test_a_failed_label_write_keeps_the_labels_already_listed(tmp_path: Path) -> None:
    path = tmp_path / "image.ome.zarr"
    data = _image(path)
    write_labels((data > 1000).astype("uint8"), str(path), "cells", axes="yx", scale_factors=[2])
    source = _FailingSource((data > 500).astype("uint8"), good=0)
    with pytest.raises(OSError):
        write_labels(source, str(path), "nuclei", axes="yx", scale_factors=[2])
    assert open_image(str(path)).label_names == ["cells"]
    assert validate(str(path)).valid


@pytest.mark.parametrize("name", ["zarr.json", ".zattrs", ".hidden"])
def test_reserved_label_names_are_refused_before_anything_is_written(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / "image.ome.zarr"
    data = _image(path)
    with pytest.raises(ValueError, match=r"^name: .* is reserved"):
        write_labels(data.astype("uint8"), str(path), name, axes="yx")
    assert not (path / "labels").exists()


def test_verify_lists_the_hidden_directory_of_a_killed_label_overwrite_as_a_leftover(
    tmp_path: Path,
) -> None:
    from omezarr.tools.verify import verify

    path = tmp_path / "image.ome.zarr"
    data = _image(path)
    write_labels((data > 1000).astype("uint8"), str(path), "cells", axes="yx", scale_factors=[2])
    # What a kill during an overwrite of the label image leaves beside it: a partial image.
    partial = zarr.open_group(str(path / "labels" / ".cells.partial-0123abcd"), mode="w")
    partial.create_array("s0", shape=(64, 96), chunks=(32, 32), dtype="uint8")
    report = verify(str(path))
    assert report.ok, report.format()
    assert report.leftovers == ["labels/.cells.partial-0123abcd"]
