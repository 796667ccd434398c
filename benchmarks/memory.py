"""Peak memory of omezarr's write_image against its memory budget, on lazy inputs.

Each (input, budget) runs in a fresh process: the input is a lazy dask array generated
block by block (benchmarks/data.py), the kernel's peak-RSS mark is reset just before the
write, and the peak resident size over the write is reported with the wall time.

    python benchmarks/memory.py                                  # lazy0.5G and lazy4G, 64M/256M/1G
    python benchmarks/memory.py --sizes lazy0.5G --budgets 32M,256M
    python benchmarks/memory.py --budgets 256M --method local_mean --chunks 1024 --repeats 3

``--chunks N`` writes every level in N × N chunks (y, x; one plane deep) instead of omezarr's
default, which chunks every level like level 0 (the input's chunks, as ome-zarr does).
``--codec zstd0`` writes with zarr's default codec (Zstd level 0, as the competitors do)
instead of omezarr's. ``--warmup`` first writes a tiny image in the same process (as
``run.py`` does), so one-time costs such as compiling the kernels are outside the peak.
Together they reproduce one ``run.py`` row's memory in a minute:

    python benchmarks/memory.py --budgets 256M --method resize --chunks 1024 --codec zstd0 --warmup --repeats 3

``--method source-only`` only computes the input's blocks (two at a time, keeping none), for
the input's own share of a peak (the synthetic blocks are generated with float temporaries).
``--seconds N`` stops each write after N seconds and reports the peak so far and the bytes
written: for inputs too large to write here, such as ``plane1T`` (10^6 × 10^6 pixels, 2 TB),
whose planning once grew without bound:

    python benchmarks/memory.py --sizes plane1T --budgets 256M,1G --method resize --seconds 120
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _read_blocks(image: object) -> None:
    """Compute the input's blocks two at a time (as two write tasks read them), keeping
    none: what the input alone costs in memory."""
    import dask
    import dask.array as da

    assert isinstance(image, da.Array)
    blocks = [image.blocks[index] for index in np.ndindex(*image.numblocks)]
    for first in range(0, len(blocks), 2):
        dask.compute(*blocks[first : first + 2], scheduler="threads")


def _written_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _child(
    size: str,
    budget: str,
    method: str,
    workdir: str,
    chunks: str,
    codec: str,
    warmup: str,
    seconds: str,
) -> None:
    sys.path[:0] = [str(REPO_DIR / "src"), str(BENCH_DIR)]
    import data
    from omezarr import write_image

    options: dict[str, object] = {}
    if chunks != "default":
        options["chunks"] = (1, 1, 1, int(chunks), int(chunks))
    if codec == "zstd0":
        from zarr.codecs import ZstdCodec

        options["compressors"] = [ZstdCodec(level=0)]
    if warmup == "on":
        case = data.SizeCase("warmup", (1, 1, 2, 256, 256), True, chunks=(1, 1, 1, 256, 256))
        warm = Path(workdir) / "warmup.ome.zarr"
        write_image(
            data.make_lazy(case, 0),
            str(warm),
            method=method,
            axes="tczyx",
            storage_options=options or None,
        )
        shutil.rmtree(warm)
    image = data.make_lazy(data.SIZES[size], 0)
    output = Path(workdir) / "out.ome.zarr"
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    start = time.perf_counter()
    failures: list[str] = []

    def work() -> None:
        try:
            if method == "source-only":  # the input's own cost: its blocks, nothing written
                _read_blocks(image)
                return
            write_image(
                image,
                str(output),
                method=method,
                axes="tczyx",
                memory_budget=budget,
                storage_options=options or None,
            )
        except Exception as error:  # reported in the table, e.g. a budget refusal
            failures.append(f"{type(error).__name__}: {error}")

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(float(seconds) if float(seconds) > 0 else None)
    row = {
        "seconds": time.perf_counter() - start,
        "peak_mib": _status_mib("VmHWM"),
        "before_mib": before,
        "written_mib": _written_bytes(output) / 2**20 if output.exists() else 0.0,
        "finished": "failed" if failures else not worker.is_alive(),
        "error": failures[0] if failures else None,
    }
    print(json.dumps(row), flush=True)
    os._exit(0)  # an unfinished write is abandoned with the process


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="lazy0.5G,lazy4G")
    parser.add_argument("--budgets", default="64M,256M,1G")
    parser.add_argument("--method", default="nearest")
    parser.add_argument(
        "--chunks", default="default", help="y/x chunk size of every level (default: omezarr's)"
    )
    parser.add_argument(
        "--codec", choices=["default", "zstd0"], default="default", help="omezarr's or Zstd(0)"
    )
    parser.add_argument(
        "--warmup", action="store_true", help="write a tiny image first, in the same process"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per row, alternating")
    parser.add_argument(
        "--seconds", type=float, default=0, help="stop each write after this long (0: never)"
    )
    parser.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    print(
        "| input | budget | method | chunks | codec | wall s | peak RSS MiB | RSS before MiB "
        "| written MiB | finished |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [(s, b) for s in args.sizes.split(",") for b in args.budgets.split(",")]
    for _ in range(args.repeats):
        for size, budget in rows:
            workdir = tempfile.mkdtemp(
                dir=BENCH_DIR / "out" if (BENCH_DIR / "out").exists() else None
            )
            try:
                result = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        size,
                        budget,
                        args.method,
                        workdir,
                        args.chunks,
                        args.codec,
                        "on" if args.warmup else "off",
                        str(args.seconds),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            row = json.loads(result.stdout.strip().splitlines()[-1])
            if row.get("error"):
                print(f"<!-- {size} {budget}: {row['error'][:300]} -->", flush=True)
            print(
                f"| {size} | {budget} | {args.method} | {args.chunks} | {args.codec} | "
                f"{row['seconds']:.1f} | "
                f"{row['peak_mib']:.0f} | "
                f"{row['before_mib']:.0f} | "
                f"{row['written_mib']:,.0f} | "
                f"{ {True: 'yes', False: 'no'}.get(row['finished'], row['finished']) } |",
                flush=True,
            )


if __name__ == "__main__":
    main()
