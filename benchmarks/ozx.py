"""Single-file OME-Zarr (``.ozx``, RFC-9): omezarr's one-pass archive against its own sharded
directory write and against ngff-zarr's ``.ozx``, on the same lazy input.

Three writers, each in a fresh (cold) subprocess, one after another, on the same lazy dask
input of ``benchmarks/data.py`` (``lazy4G`` by default), all writing 5 levels (y/x factors 2,
4, 8, 16) as OME-NGFF 0.5, sharded:

* ``omezarr/dir``: ``omezarr.writer.write_image(image, "out.ome.zarr", fmt=FormatV05(),
  storage_options={"shards": "auto"}, memory_budget=…)``;
* ``omezarr/ozx``: the same call to ``"out.ozx"`` (an archive is sharded by default);
* ``omezarr/dir-unsharded`` (only when ``--writers`` names it): the directory write without
  ``storage_options`` (one file per chunk), to show what the shards cost;
* ``omezarr/s3-ozx`` (only when ``--writers`` names it): the same call to
  ``"s3://bench/out.ozx"``, streamed as a multipart upload to an S3-protocol server (moto,
  started on 127.0.0.1 for the run and stopped after it); the archive is downloaded afterwards
  for the checks. moto is a Python server keeping objects in memory, so the time says more
  about it than about S3; the row is there for the writer's peak memory;
* ``ngff-zarr/ozx``: ``to_multiscales(to_ngff_image(image, dims=list("tczyx")),
  scale_factors=[{"z": 1, "y": f, "x": f} …], chunks=<the input's chunks>)`` then
  ``to_ngff_zarr("out.ozx", …, version="0.5")``, which writes a directory beside the archive
  and zips it, sharded with its ``.ozx`` default of 2 chunks per shard along every axis
  (2 × 4096 × 4096 shards of 2048² chunks; omezarr's ``"auto"`` shards shrink to what the
  budget holds, 2048 × 4096 at 256 MiB: the table's "level 0" column shows both).

The libraries are imported before the clock starts; one-time costs inside the write
(numba and ITK-Wasm compilation) are timed, as a first write in a new process pays them.
Peak RSS is the child's ``VmHWM`` over the write alone (``/proc/self/clear_refs`` reset just
before it, as in ``memory.py``); the CPU seconds (user/sys, all threads) are the child's over
the write, and the load column is the machine's 1-minute load average when the write ended
(about 2 when only the write ran on 2 cores; more means something else competed). Unless ``--no-warm``, an omezarr child then writes the image a
second time to another path and reports that warm write too. Each run is stopped after
``--timeout`` seconds or once its resident size passes ``--max-rss``, and reported so.

Every output is checked afterwards: it opens with zarr-python (``zarr.storage.ZipStore`` for
an archive, which ngff-zarr's ``from_ngff_zarr`` must read with equal pixels too), has 5
levels of the expected shapes, and one random level-0 region (the same for every writer)
equals the input's pixels, which the generator recomputes. Outputs live in a
temporary directory (``--workdir``, default under ``/tmp``) until the end, then are deleted.

    python benchmarks/ozx.py                                # lazy4G, default budget (256 MiB)
    python benchmarks/ozx.py --size quick-lazy-l --timeout 120   # smoke run, seconds
    python benchmarks/ozx.py --budget 1G --writers omezarr/dir,omezarr/ozx
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO_DIR: Final = BENCH_DIR.parent
SCALE_FACTORS: Final = (2, 4, 8, 16)
AXES: Final = "tczyx"
WRITERS: Final = ("omezarr/dir", "omezarr/ozx", "ngff-zarr/ozx")
"""The writers run by default; ``omezarr/dir-unsharded`` runs when ``--writers`` names it."""
OUTPUT_NAMES: Final = {
    "omezarr/dir": "out.ome.zarr",
    "omezarr/dir-unsharded": "out.ome.zarr",
    "omezarr/ozx": "out.ozx",
    "omezarr/s3-ozx": "out.ozx",
    "ngff-zarr/ozx": "out.ozx",
}
S3_URL: Final = "s3://bench/out.ozx"
REGION: Final = 700
"""Side of the level-0 region compared between the outputs and the input."""


# --------------------------------------------------------------------------- child side


def _status_mib(field: str, pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _timed(write: Any) -> dict[str, float]:
    """Run ``write()`` with the peak-RSS mark reset just before it."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    cpu = os.times()
    start = time.perf_counter()
    write()
    seconds = time.perf_counter() - start
    cpu_after = os.times()
    return {
        "seconds": seconds,
        "peak_mib": _status_mib("VmHWM"),
        "before_mib": before,
        "user_s": cpu_after.user - cpu.user,
        "sys_s": cpu_after.system - cpu.system,
        "load": os.getloadavg()[0],
    }


def _child(writer: str, size: str, budget: str, workdir: str, warm: str, seed: str) -> None:
    sys.path[:0] = [str(REPO_DIR / "src"), str(BENCH_DIR)]
    import data

    image = data.make_lazy(data.SIZES[size], int(seed))
    result: dict[str, Any] = {"status": "ok"}

    if writer.startswith("omezarr/"):
        from omezarr.ngff.format import FormatV05
        from omezarr.writer import write_image

        options = {"shards": "auto"} if writer == "omezarr/dir" else None

        def write(path: Path) -> None:
            target = S3_URL.replace("out.ozx", path.name) if writer == "omezarr/s3-ozx" else path
            write_image(
                image,
                str(target),
                scale_factors=SCALE_FACTORS,
                fmt=FormatV05(),
                axes=AXES,
                storage_options=options,
                memory_budget=None if budget == "default" else budget,
            )

    else:
        import ngff_zarr

        chunks = data.SIZES[size].chunks

        def write(path: Path) -> None:
            ngff_image = ngff_zarr.to_ngff_image(image, dims=list(AXES))
            # ngff-zarr applies integer factors to z as well; dicts keep z at full resolution.
            factors = [{"z": 1, "y": f, "x": f} for f in SCALE_FACTORS]
            multiscales = ngff_zarr.to_multiscales(ngff_image, scale_factors=factors, chunks=chunks)
            ngff_zarr.to_ngff_zarr(str(path), multiscales, version="0.5")

    output = Path(workdir) / OUTPUT_NAMES[writer]
    result_path = Path(workdir) / "result.json"
    try:
        result.update(_timed(lambda: write(output)))
        if warm == "on" and writer.startswith("omezarr/"):
            again = output.with_name("warm-" + output.name)
            warm_row = _timed(lambda: write(again))
            result.update({f"warm_{key}": value for key, value in warm_row.items()})
    except Exception as error:  # reported in the table (e.g. a budget refusal), with its log
        import traceback

        traceback.print_exc()
        result = {"status": "error", "message": f"{type(error).__name__}: {error}"}
    result_path.write_text(json.dumps(result))


# --------------------------------------------------------------------------- parent side


def _run_child(args: argparse.Namespace, writer: str, workdir: Path) -> dict[str, Any]:
    """One writer in a fresh process group, stopped after the timeout or above the RSS cap."""
    env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(workdir / "tmp")}
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    log_path = workdir / "child.log"
    command = [
        sys.executable,
        __file__,
        "--child",
        writer,
        args.size,
        args.budget,
        str(workdir),
        "off" if args.no_warm else "on",
        str(args.seed),
    ]
    stopped: list[str] = []
    rss_seen = [0.0]
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

        def watch() -> None:
            deadline = time.monotonic() + args.timeout
            while child.poll() is None:
                with contextlib.suppress(OSError, RuntimeError):  # the child just ended
                    rss_seen[0] = max(rss_seen[0], _status_mib("VmRSS", child.pid))
                reason = None
                if time.monotonic() > deadline:
                    reason = f"timeout: stopped after {args.timeout:g} s"
                elif rss_seen[0] > args.max_rss * 1024:
                    reason = f"stopped: resident size passed {args.max_rss:g} GiB"
                if reason:
                    stopped.append(reason)
                    try:
                        os.killpg(child.pid, signal.SIGTERM)  # lets ngff-zarr clean its staging
                        time.sleep(10)
                        os.killpg(child.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    return
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        returncode = child.wait()
        watcher.join()
    result_path = workdir / "result.json"
    if stopped:
        return {"status": stopped[0], "max_rss_seen_mib": rss_seen[0]}
    if result_path.exists():
        result = json.loads(result_path.read_text())
        if result["status"] == "error":
            kept = Path(args.logs) / f"{writer.replace('/', '_')}.log"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(log_path, kept)
            result["message"] += f" (log: {kept})"
        return result
    tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
    why = " (killed: out of memory?)" if returncode == -signal.SIGKILL else ""
    return {"status": f"child exited with status {returncode}{why}: " + " / ".join(tail)}


def _on_disk(path: Path) -> tuple[int, int]:
    """Sum of file sizes and number of files (for an archive: its size and entry count)."""
    if path.is_file():
        import zipfile

        with zipfile.ZipFile(path) as archive:
            return path.stat().st_size, len(archive.namelist())
    sizes = [p.stat().st_size for p in path.rglob("*") if p.is_file()]
    return sum(sizes), len(sizes)


def _region(shape: tuple[int, ...], seed: int) -> tuple[slice, ...]:
    """One random level-0 region of one plane, the same for every writer of a run."""
    rng = np.random.default_rng([seed, 17])
    index = tuple(int(rng.integers(n)) for n in shape[:3])
    height, width = min(REGION, shape[3]), min(REGION, shape[4])
    y0 = int(rng.integers(shape[3] - height + 1))
    x0 = int(rng.integers(shape[4] - width + 1))
    return (*(slice(i, i + 1) for i in index), slice(y0, y0 + height), slice(x0, x0 + width))


def _expected_region(region: tuple[slice, ...], seed: int) -> np.ndarray:
    import data

    t, c, z, ys, xs = region
    out = np.empty((ys.stop - ys.start, xs.stop - xs.start), dtype=np.uint16)
    data.fill_region(out, seed, (t.start, c.start, z.start), ys.start, xs.start)
    return out


def _check(
    path: Path, shape: tuple[int, ...], region: tuple[slice, ...]
) -> tuple[list[str], np.ndarray | None, str]:
    """Problems found, the region's pixels and a description of level 0's shards and chunks."""
    import zarr

    store: Any = zarr.storage.ZipStore(path, mode="r") if path.is_file() else str(path)
    problems: list[str] = []
    try:
        root = zarr.open_group(store, mode="r")
        datasets = root.attrs["ome"]["multiscales"][0]["datasets"]
        expected = [(*shape[:3], shape[3] // f, shape[4] // f) for f in (1, *SCALE_FACTORS)]
        if len(datasets) != len(expected):
            problems.append(f"{len(datasets)} levels instead of {len(expected)}")
        for level, (dataset, want) in enumerate(zip(datasets, expected, strict=False)):
            got = tuple(root[dataset["path"]].shape)
            if got != want:
                problems.append(f"level {level} has shape {list(got)}, expected {list(want)}")
        level0 = root[datasets[0]["path"]]
        layout = f"shards {level0.shards}, chunks {level0.chunks}"
        pixels = np.asarray(level0[region])[0, 0, 0]
        if path.is_file():  # an archive: ngff-zarr's own .ozx reader must see the same pixels
            import ngff_zarr

            theirs = ngff_zarr.from_ngff_zarr(str(path)).images[0].data[region]
            if not np.array_equal(np.asarray(theirs)[0, 0, 0], pixels):
                problems.append("ngff-zarr reads other pixels than zarr's ZipStore")
        return problems, pixels, layout
    except Exception as error:  # an unreadable output is a finding, not a crash
        return [*problems, f"not readable: {type(error).__name__}: {error}"], None, "?"
    finally:
        if not isinstance(store, str):
            store.close()


def _budget_mib(budget: str) -> float:
    """omezarr's memory budget in MiB, as the child reads it (``$OMEZARR_MEMORY_BUDGET`` too)."""
    sys.path.insert(0, str(REPO_DIR / "src"))
    from omezarr._budget import memory_budget_from

    return memory_budget_from(None if budget == "default" else budget) / 2**20


def _header(args: argparse.Namespace, nbytes: int, chunks: tuple[int, ...]) -> str:
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_gib = int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20
    cpu = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line]
    packages = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("zarr", "dask", "numpy", "ngff-zarr")
    )
    commit = subprocess.run(
        ["git", "-C", str(REPO_DIR), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    budget = f"{_budget_mib(args.budget):,.0f} MiB"
    if args.budget == "default":
        budget += " (default)"
    return "\n".join(
        [
            f"- command: `{' '.join(shlex.quote(a) for a in ['python', *sys.argv])}`",
            f"- machine: {os.cpu_count()} cores ({cpu[0].split(':', 1)[1].strip() if cpu else '?'}),"
            f" {memory_gib:.1f} GiB, Python {platform.python_version()}; {packages}; "
            f"omezarr at {commit or 'unknown'}",
            f"- input: {args.size}, {nbytes / 2**30:.2f} GiB uint16, lazy dask, chunks {chunks}; "
            f"5 levels (y/x 2, 4, 8, 16), OME-NGFF 0.5; omezarr memory budget {budget}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="lazy4G", help="a lazy input of data.py")
    parser.add_argument("--budget", default="default", help="omezarr's memory_budget, e.g. 1G")
    parser.add_argument("--writers", default=",".join(WRITERS))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--max-rss", type=float, default=16, help="GiB; a run above is stopped")
    parser.add_argument("--no-warm", action="store_true", help="no second omezarr write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="default: a new directory under /tmp")
    parser.add_argument("--keep", action="store_true", help="keep the outputs")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    sys.path.insert(0, str(BENCH_DIR))
    import data

    case = data.SIZES[args.size]
    if not case.lazy:
        parser.error(f"--size {args.size} is not a lazy input")
    unknown = sorted(set(args.writers.split(",")) - set(OUTPUT_NAMES))
    if unknown:
        parser.error(f"unknown writers {unknown}; known: {', '.join(OUTPUT_NAMES)}")
    workroot = Path(args.workdir or tempfile.mkdtemp(prefix="omezarr-ozx-", dir="/tmp"))
    args.logs = str(workroot.with_name(workroot.name + "-logs"))
    region = _region(case.shape, args.seed)
    expected = _expected_region(region, args.seed)
    print(_header(args, case.nbytes, case.chunks), flush=True)
    print(
        f"- region compared: {[(s.start, s.stop) for s in region]} of level 0\n\n"
        "| writer | run | wall s | CPU user/sys s | load | peak RSS MiB | RSS before MiB "
        "| on disk MiB | entries | level 0 | check |\n|---|---|---|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    rows: dict[str, dict[str, Any]] = {}
    server: subprocess.Popen[bytes] | None = None
    try:
        for writer in args.writers.split(","):
            workdir = workroot / writer.replace("/", "_")
            workdir.mkdir(parents=True)
            if writer == "omezarr/s3-ozx":
                server = _start_s3(workroot)
            row = _run_child(args, writer, workdir)
            output = workdir / OUTPUT_NAMES[writer]
            if writer == "omezarr/s3-ozx" and row["status"] == "ok":
                _download(S3_URL, output)
            if row["status"] == "ok":
                row["bytes"], row["files"] = _on_disk(output)
                problems, pixels, row["layout"] = _check(output, case.shape, region)
                if pixels is not None and not np.array_equal(pixels, expected):
                    problems.append("level-0 region differs from the input")
                row["check"] = "; ".join(problems) or "ok"
            os.sync()  # leave no dirty pages whose writeback would slow the next run
            rows[writer] = row
            _print_row(writer, row)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    _print_ratios(rows, _budget_mib(args.budget))


def _start_s3(workroot: Path) -> subprocess.Popen[bytes]:
    """moto's S3 server on a free port of 127.0.0.1, with the bucket ``bench``; the variables
    botocore reads are set in this process (and so in the children)."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (workroot / "moto.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"moto_server did not start (log: {workroot / 'moto.log'})"
                ) from None
            time.sleep(0.2)
    import fsspec

    fsspec.filesystem("s3", skip_instance_cache=True).mkdir("bench")
    return server


def _download(url: str, local: Path) -> None:
    import fsspec

    fsspec.filesystem("s3", skip_instance_cache=True).get_file(url, str(local))


def _print_row(writer: str, row: dict[str, Any]) -> None:
    if row["status"] != "ok":
        message = row.get("message", "")
        if "max_rss_seen_mib" in row:
            message += f" (largest resident size seen: {row['max_rss_seen_mib']:,.0f} MiB)"
        print(f"| {writer} | cold | {row['status']} {message[:400]} | | | | | | | | |", flush=True)
        return
    for run, prefix in (("cold", ""), ("warm", "warm_")):
        if prefix + "seconds" not in row:
            continue
        output = (
            f"{row['bytes'] / 2**20:,.0f} | {row['files']:,} | {row['layout']} | {row['check']}"
            if run == "cold"
            else "″ | ″ | ″ | not checked"
        )
        print(
            f"| {writer} | {run} | {row[prefix + 'seconds']:.1f} "
            f"| {row[prefix + 'user_s']:.1f} / {row[prefix + 'sys_s']:.1f} "
            f"| {row[prefix + 'load']:.1f} | {row[prefix + 'peak_mib']:,.0f} "
            f"| {row[prefix + 'before_mib']:,.0f} | {output} |",
            flush=True,
        )


def _print_ratios(rows: dict[str, dict[str, Any]], budget_mib: float) -> None:
    def ratio(top: str, bottom: str, key: str = "seconds") -> str:
        a, b = rows.get(top, {}), rows.get(bottom, {})
        if a.get("status") != "ok" or b.get("status") != "ok" or key not in a or key not in b:
            return "n/a"
        return f"{a[key] / b[key]:.2f}"

    peaks = ", ".join(
        f"{writer} {run} {row[key] / budget_mib:.2f}×"
        for writer, row in rows.items()
        if row.get("status") == "ok"
        for run, key in (("cold", "peak_mib"), ("warm", "warm_peak_mib"))
        if key in row
    )
    print(
        "\n"
        f"- omezarr .ozx / directory: time {ratio('omezarr/ozx', 'omezarr/dir')}, "
        f"warm time {ratio('omezarr/ozx', 'omezarr/dir', 'warm_seconds')}, "
        f"peak RSS {ratio('omezarr/ozx', 'omezarr/dir', 'peak_mib')}, "
        f"warm peak RSS {ratio('omezarr/ozx', 'omezarr/dir', 'warm_peak_mib')}\n"
        f"- omezarr .ozx streamed to S3 (moto) / local .ozx: time "
        f"{ratio('omezarr/s3-ozx', 'omezarr/ozx')}, "
        f"peak RSS {ratio('omezarr/s3-ozx', 'omezarr/ozx', 'peak_mib')}\n"
        f"- ngff-zarr .ozx / omezarr .ozx: time {ratio('ngff-zarr/ozx', 'omezarr/ozx')}, "
        f"peak RSS {ratio('ngff-zarr/ozx', 'omezarr/ozx', 'peak_mib')}, "
        f"on disk {ratio('ngff-zarr/ozx', 'omezarr/ozx', 'bytes')}\n"
        f"- peak RSS / omezarr's budget ({budget_mib:,.0f} MiB): {peaks or 'n/a'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
