"""Writes run in child processes by the crash, resume and concurrency tests.

Each function is one complete write (an image, a label image, wells of a plate) with small
chunks, so that it takes a fraction of a second and a SIGKILL at a random moment lands in
the middle of it. The tests start these functions in processes of a ``forkserver`` context
that has imported this module (and omezarr) once, so a child starts writing within
milliseconds instead of spending a second on imports.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from omezarr.format import Format, FormatV04, FormatV05
from omezarr.reader import open_image
from omezarr.tools.verify import verify
from omezarr.validate import validate
from omezarr.writer import (
    write_image,
    write_label_metadata,
    write_labels,
    write_plate_metadata,
    write_well_metadata,
)

IMAGE_SHAPE = (256, 256)
LABEL_SHAPE = (256, 256)
WELL_SHAPE = (96, 96)
CHUNKS = {"chunks": (16, 16)}
SCALE_FACTORS = [2, 4]
NEW_WELLS = ("A/2", "B/1", "B/2")
"""Wells the plate scenario adds to a plate that already holds A/1."""


def fmt_of(version: str) -> Format:
    return FormatV04() if version == "0.4" else FormatV05()


def image_pixels(seed: int = 0, shape: tuple[int, ...] = IMAGE_SHAPE) -> np.ndarray:
    """Smooth structure plus noise, so that chunks compress to different sizes."""
    rng = np.random.default_rng(seed)
    y, x = np.indices(shape)
    smooth = 1000 + 800 * np.sin(y / 17.0 + seed) * np.cos(x / 23.0)
    return (smooth + rng.integers(0, 200, shape)).astype(np.uint16)


def label_pixels(shape: tuple[int, ...] = LABEL_SHAPE) -> np.ndarray:
    y, x = np.indices(shape)
    return ((y // 24) * 11 + (x // 32)).astype(np.uint16) % 7


def write_test_image(path: str, version: str, seed: int = 0, **kwargs: Any) -> None:
    """The image of the image scenarios (resume passes ``resume=True`` and ``progress``)."""
    write_image(
        image_pixels(seed),
        path,
        scale_factors=SCALE_FACTORS,
        storage_options=CHUNKS,
        fmt=fmt_of(version),
        axes="yx",
        **kwargs,
    )


def write_test_labels(path: str, version: str, name: str = "new", **kwargs: Any) -> None:
    """A label image named ``name`` into the image at ``path``."""
    write_labels(
        label_pixels(),
        path,
        name=name,
        scale_factors=SCALE_FACTORS,
        storage_options=CHUNKS,
        fmt=fmt_of(version),
        axes="yx",
        label_metadata={"colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]},
        **kwargs,
    )


def write_test_well(plate: str, well: str, version: str, seed: int) -> None:
    """One well: its field image, its well metadata, then its entry in the plate (merged)."""
    fmt = fmt_of(version)
    row, column = well.split("/")
    write_image(
        image_pixels(seed, WELL_SHAPE),
        f"{plate}/{well}/0",
        scale_factors=[2],
        storage_options=CHUNKS,
        fmt=fmt,
        axes="yx",
    )
    write_well_metadata(f"{plate}/{well}", ["0"], fmt=fmt)
    write_plate_metadata(plate, [row], [column], [well], fmt=fmt, merge=True)


def write_test_plate(plate: str, version: str) -> None:
    """The plate scenario: add every well of :data:`NEW_WELLS`, one after the other."""
    for seed, well in enumerate(NEW_WELLS, start=1):
        write_test_well(plate, well, version, seed)


def overwrite_test_image(path: str, version: str) -> None:
    """The image of the image scenarios, replacing another image already at ``path``."""
    write_test_image(path, version, overwrite=True)


SCENARIOS = {
    "image": write_test_image,
    "overwrite": overwrite_test_image,
    "labels": write_test_labels,
    "plate": write_test_plate,
}


def run_scenario(scenario: str, path: str, version: str) -> None:
    """The target of a crash-test child process."""
    SCENARIOS[scenario](path, version)


# ----------------------------------------------------------------------------- concurrency


def add_label_names(
    labels_group: str, names: list[str], version: str, barrier: Any, with_pixels: bool
) -> None:
    """List each of ``names`` in ``labels_group``: by writing label images, or metadata only."""
    barrier.wait()
    image = str(Path(labels_group).parent)
    for name in names:
        if with_pixels:
            write_test_labels(image, version, name=name)
        else:
            write_label_metadata(labels_group, name, fmt=fmt_of(version))


def add_wells(plate: str, wells: list[str], version: str, barrier: Any, with_pixels: bool) -> None:
    """Add ``wells`` to ``plate``: whole wells with images, or plate entries only."""
    barrier.wait()
    for seed, well in enumerate(wells):
        if with_pixels:
            write_test_well(plate, well, version, seed)
        else:
            row, column = well.split("/")
            write_plate_metadata(plate, [row], [column], [well], fmt=fmt_of(version), merge=True)


def _outcome(action: Callable[[], Any]) -> str:
    try:
        result = action()
    except ValueError as error:
        return f"ValueError: {str(error)[:200]}"
    except Exception as error:
        return f"!{type(error).__name__}: {str(error)[:200]}"
    return result


def inspect_hierarchy(path: str, results: Any) -> None:
    """Run in a child: validate, read and verify ``path``; send back what each answered."""

    def validated() -> str:
        report = validate(path)
        return "valid" if report.valid else f"violations: {report.format()[:300]}"

    def read() -> str:
        image = open_image(path)
        return f"read {len(image.levels)} levels"

    def verified() -> str:
        report = verify(path)
        return "ok" if report.ok else f"problems: {report.format()[:300]}"

    results.send(
        {"validate": _outcome(validated), "reader": _outcome(read), "verify": _outcome(verified)}
    )


def forkserver_context() -> multiprocessing.context.ForkServerContext:
    """A forkserver context whose server runs, has imported omezarr and its dependencies and
    has done each kind of work the children do once (``_crash_warmup``), so that a child
    spends its time writing rather than warming up.

    Python 3.11's fork server does not apply the parent's ``sys.path`` to its preloads: it is
    started with this folder on ``PYTHONPATH`` so that it can import ``_crash_warmup`` (and
    this module). Where it cannot, it preloads the installed modules only, as before.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["omezarr.writer", "dask.array", "numpy", "_crash_warmup"])
    # Start the server now, so that no timed write includes its start-up.
    previous = os.environ.get("PYTHONPATH")
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (here, previous) if p)
    try:
        warm_up = context.Process(target=time.sleep, args=(0,))
        warm_up.start()
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous
    warm_up.join()
    return context
