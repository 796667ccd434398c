"""Micro-benchmark of the downsampling kernels in ``omezarr.scale``, one block at a time.

For each case a level-0 block is downsampled to every pyramid level the way the write engine
does it (one :meth:`LevelResampler.resample` call per level, whole block owned), single
threaded. Each case is timed ``--repeats`` times after two warm-up calls (which also fill the
cached tap tables); the medians of the CPU time (this thread) and of the wall time, and the
input throughput by CPU time (level-0 bytes per second, all levels together) are printed.

Examples
--------
All cases::

    python benchmarks/kernels.py

Only local_mean on uint16, and the kernels of another copy of ``scale.py`` (e.g. an older
revision, for before/after numbers)::

    python benchmarks/kernels.py --methods local_mean --dtypes uint16 --source /tmp/old_scale.py
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import numpy as np

SRC: Final = Path(__file__).resolve().parents[1] / "src"

METHODS: Final = ("nearest", "local_mean", "resize", "zoom")
DTYPES: Final = ("uint8", "uint16", "float32")


@dataclass(frozen=True)
class Case:
    """One benchmark case: a block shape and the per-axis factors of each level."""

    name: str
    shape: tuple[int, ...]
    factors: tuple[tuple[int, ...], ...]


CASES: Final = (
    Case("plane 2048x2048", (1, 1, 1, 2048, 2048), tuple((1, 1, 1, f, f) for f in (2, 4, 8, 16))),
    Case("tile 1024x1024", (1, 1, 1, 1024, 1024), tuple((1, 1, 1, f, f) for f in (2, 4, 8, 16))),
    Case("odd 2000x1999", (1, 1, 1, 2000, 1999), tuple((1, 1, 1, f, f) for f in (2, 4, 8, 16))),
    Case("volume 64x512x512", (1, 1, 64, 512, 512), tuple((1, 1, f, f, f) for f in (2, 4, 8))),
)


def load_scale(source: Path | None) -> ModuleType:
    """``omezarr.scale`` from ``src/``, or the module file ``source``."""
    if source is None:
        sys.path.insert(0, str(SRC))
        import omezarr.scale

        return omezarr.scale
    spec = importlib.util.spec_from_file_location("scale_under_test", source)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


def test_image(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """Smooth structure plus noise, spanning much of an integer dtype's range."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dtype)
    high = np.iinfo(dtype).max
    return rng.integers(0, high, size=shape, endpoint=True, dtype=dtype)


def time_call(
    function: Callable[[], Any], repeats: int, warmups: int = 2
) -> tuple[list[float], list[float]]:
    """Wall and CPU times (this thread) in seconds of ``repeats`` calls after ``warmups``.

    On a shared machine the CPU time is the steadier measure: it leaves out the time this
    thread waits for a core (not the cache and memory bandwidth other processes take).
    """
    for _ in range(warmups):  # fills cached tap tables and lets the allocator settle
        function()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.thread_time()
        function()
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return wall, cpu


def run_case(
    scale: ModuleType, case: Case, method: str, dtype: str, repeats: int
) -> tuple[list[float], list[float]]:
    image = test_image(case.shape, dtype)
    factors = [list(f) for f in case.factors]
    if hasattr(scale, "downsample_pyramid"):  # each level from an earlier level

        def all_levels() -> None:
            scale.downsample_pyramid(image, factors, method)

    else:  # older scale.py: every level straight from level 0
        origin = (0,) * image.ndim
        whole = tuple(slice(0, n) for n in case.shape)
        levels = scale.level_resamplers(case.shape, factors, method)
        regions = [level.owned_outputs(whole) for level in levels]

        def all_levels() -> None:
            for level, region in zip(levels, regions, strict=True):
                level.resample(image, origin, region)

    return time_call(all_levels, repeats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--dtypes", default=",".join(DTYPES), help="comma-separated dtypes")
    parser.add_argument("--cases", default="", help="substring a case name must contain")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per case")
    parser.add_argument("--source", type=Path, help="benchmark this scale.py file instead")
    args = parser.parse_args(argv)

    scale = load_scale(args.source)
    print(f"kernels of {scale.__file__}; medians of {args.repeats} runs, single thread")
    print(f"{'case':<20} {'method':<11} {'dtype':<8} {'CPU ms':>8} {'wall ms':>8} {'MiB/s':>8}")
    for case in CASES:
        if args.cases not in case.name:
            continue
        for method in args.methods.split(","):
            for dtype in args.dtypes.split(","):
                wall, cpu = run_case(scale, case, method, dtype, args.repeats)
                cpu_median = statistics.median(cpu)
                mebibytes = np.prod(case.shape) * np.dtype(dtype).itemsize / 2**20
                print(
                    f"{case.name:<20} {method:<11} {dtype:<8} {cpu_median * 1e3:>8.2f} "
                    f"{statistics.median(wall) * 1e3:>8.2f} {mebibytes / cpu_median:>8.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
