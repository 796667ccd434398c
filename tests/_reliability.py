"""Checks shared by the crash, resume and concurrency tests: what is on disk after a write."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Multiscales, Node, Reader

from omezarr.io.locking import LOCK_NAME
from omezarr.tools.verify import verify

METADATA_NAMES = frozenset({"zarr.json", ".zattrs", ".zarray", ".zgroup"})


def metadata_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.name in METADATA_NAMES)


def assert_metadata_parses(root: Path) -> None:
    """Every zarr metadata document below ``root`` is complete JSON (none truncated)."""
    for path in metadata_files(root):
        try:
            json.loads(path.read_bytes())
        except ValueError as error:
            raise AssertionError(f"{path} is not complete JSON: {error}") from error


def file_bytes(root: Path, keep: Callable[[str], bool] = lambda name: True) -> dict[str, bytes]:
    """Every file below ``root`` (relative path → bytes), lock and temporary files excluded."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.name != LOCK_NAME
        and not p.name.endswith(".partial")
        and keep(str(p.relative_to(root)))
    }


def ngff_attrs(path: Path) -> dict[str, Any]:
    """The NGFF attributes of the group at ``path`` read straight from disk ({} if none)."""
    if (path / "zarr.json").exists():
        attrs = json.loads((path / "zarr.json").read_bytes()).get("attributes", {})
        return dict(attrs.get("ome", {}))
    if (path / ".zattrs").exists():
        return dict(json.loads((path / ".zattrs").read_bytes()))
    return {}


def stored_levels(path: Path) -> list[np.ndarray]:
    """Every level listed by the multiscales metadata at ``path``, read with zarr."""
    group = zarr.open_group(str(path), mode="r")
    datasets = ngff_attrs(path)["multiscales"][0]["datasets"]
    return [np.asarray(group[d["path"]][...]) for d in datasets]


def reference_nodes(path: Path) -> list[Node]:
    """What ome-zarr-py's reader finds at ``path`` (nothing for a path it cannot open)."""
    location = parse_url(str(path))
    if location is None:
        return []
    return list(Reader(location)())


def reference_images(path: Path) -> list[list[np.ndarray]]:
    """The levels of the image ome-zarr-py reports at ``path`` itself (not its parent's)."""
    return [
        [np.asarray(level) for level in node.data]
        for node in reference_nodes(path)
        if Path(node.zarr.path).resolve() == path.resolve()
        and any(isinstance(spec, Multiscales) for spec in node.specs)
    ]


def assert_complete_image(path: Path, expected: list[np.ndarray]) -> None:
    """The image at ``path`` is whole: every chunk stored and decodable, pixels as expected."""
    report = verify(str(path))
    assert report.ok, report.format()
    levels = stored_levels(path)
    assert len(levels) == len(expected)
    for level, want in zip(levels, expected, strict=True):
        np.testing.assert_array_equal(level, want)
    seen = reference_images(path)
    assert len(seen) == 1, f"ome-zarr-py does not read {path} as an image"
    for level, want in zip(seen[0], expected, strict=True):
        np.testing.assert_array_equal(level, want)


def wait_for(process: Any, timeout: float = 60.0) -> None:
    """Join ``process``; fail (and kill it) if it has not ended within ``timeout`` seconds."""
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError(f"{process} did not finish within {timeout} s")


def kill_after(process: Any, delay: float) -> bool:
    """SIGKILL ``process`` after ``delay`` seconds; True if it was still running then."""
    process.join(delay)
    alive = process.is_alive()
    if alive:
        process.kill()
    process.join(30)
    return alive


def timed(start: Callable[[], Any]) -> tuple[Any, float]:
    """Start a process with ``start()``, wait for it, return it and the seconds it took."""
    began = time.perf_counter()
    process = start()
    wait_for(process)
    return process, time.perf_counter() - began
