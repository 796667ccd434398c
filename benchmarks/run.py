"""Time OME-Zarr pyramid writers (omezarr, ome-zarr-py, ngff-zarr, a floor) on synthetic data.

Each write runs in its own fresh subprocess, so time and peak memory belong to one writer.
Writers alternate across repeats (ABCABC), outputs go to ``--workdir`` and are set aside once
their size on disk is measured, then deleted in batches followed by a pause (``--trash-limit``,
``--settle``): on an ext4 file system without a journal, such as this machine's, creating a
file within a minute of deleting others makes the kernel step over every recently deleted
inode (``recently_deleted`` in ``fs/ext4/ialloc.c``), so deleting each output just before the
next writer runs would charge that writer for the previous one's files. The report is printed and written to
``benchmarks/results/<timestamp>.md`` and ``.json``.

Examples
--------
Full run (takes long; the machine should be otherwise idle)::

    python benchmarks/run.py --sizes 512M,lazy0.5G,lazy4G --repeats 3

Smoke run of the harness on tiny inputs::

    python benchmarks/run.py --quick --only 'ome-zarr/*,ngff-zarr/*,floor/*'
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np

import data
import report
import writers
from data import QUICK_SIZES, SIZES, SizeCase
from report import MIB, RunResult
from writers import WRITERS, WriterCase

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO_DIR: Final = BENCH_DIR.parent
DEFAULT_SIZES: Final = ("512M", "lazy0.5G", "lazy4G")
DEFAULT_CHUNKS: Final = (1, 1, 1, 1024, 1024)
WARMUP_SHAPE: Final = (1, 1, 2, 256, 256)
PACKAGES: Final = (
    "numpy",
    "zarr",
    "numcodecs",
    "dask",
    "scipy",
    "scikit-image",
    "ome-zarr",
    "ngff-zarr",
    "itkwasm-downsample",
)


# --------------------------------------------------------------------------- child side


def _proc_status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status (e.g. VmHWM, VmRSS) in MiB, None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ≥ 4.0), so VmHWM covers only what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child_main(spec_path: Path) -> int:
    """Run one timed write described by the JSON file ``spec_path``; write the result beside it."""
    spec = json.loads(spec_path.read_text())
    case = WriterCase(**spec["writer"])
    size = SizeCase(
        **{
            **spec["size"],
            "shape": tuple(spec["size"]["shape"]),
            "chunks": tuple(spec["size"]["chunks"]),
        }
    )
    chunks = tuple(spec["chunks"]) if spec["chunks"] else None
    output = Path(spec["output"])
    result: dict[str, Any]
    try:
        image = data.make_input(size, spec["seed"])
        if spec["warmup"]:  # pay one-time costs (imports, JIT/wasm compilation) outside the timing
            warm = SizeCase("warmup", WARMUP_SHAPE, size.lazy, chunks=(1, 1, 1, 256, 256))
            warm_path = output.with_name("warmup.ome.zarr")
            writers.write(case, data.make_input(warm, spec["seed"]), warm_path, chunks)
            shutil.rmtree(warm_path)
        gc.collect()
        resettable = _reset_peak_rss()
        rss_before = _proc_status_mib("VmRSS")
        start = time.perf_counter()
        writers.write(case, image, output, chunks)
        seconds = time.perf_counter() - start
        result = {
            "status": "ok",
            "seconds": seconds,
            "peak_rss_mib": _proc_status_mib("VmHWM") if resettable else None,
            "rss_before_mib": rss_before,
        }
    except writers.WriterUnavailable as error:
        result = {"status": "not available", "message": str(error)}
    except Exception as error:
        import traceback

        traceback.print_exc()
        result = {"status": "error", "message": f"{type(error).__name__}: {error}"[:300]}
    Path(spec["result"]).write_text(json.dumps(result))
    return 0


# --------------------------------------------------------------------------- parent side


def _directory_size(path: Path) -> tuple[int, int]:
    """Sum of file sizes and number of files below ``path``."""
    sizes = [p.stat().st_size for p in path.rglob("*") if p.is_file()]
    return sum(sizes), len(sizes)


def inspect_output(
    path: Path, size: SizeCase, seed: int
) -> tuple[str | None, list[int] | None, list[str]]:
    """Check a written pyramid: 5 levels of the right shapes, level-0 pixels equal to the input.

    Returns the level-0 codec description, level-0 chunk shape and a list of problems. Only
    metadata and up to three level-0 planes are read, so this stays cheap at any size.
    """
    try:
        root = json.loads((path / "zarr.json").read_text())
        datasets = root["attributes"]["ome"]["multiscales"][0]["datasets"]
    except (OSError, KeyError, IndexError, ValueError) as error:
        return None, None, [f"no OME-NGFF 0.5 multiscales metadata ({error!r})"]
    try:
        return _check_levels(path, [d["path"] for d in datasets], size, seed)
    except Exception as error:  # any unreadable part of the output is a finding, not a crash
        return None, None, [f"output not readable: {type(error).__name__}: {error}"]


def _check_levels(
    path: Path, level_paths: list[str], size: SizeCase, seed: int
) -> tuple[str | None, list[int] | None, list[str]]:
    import zarr

    problems: list[str] = []
    expected = writers.level_shapes(size.shape)
    if len(level_paths) != len(expected):
        problems.append(f"{len(level_paths)} levels instead of {len(expected)}")
    codec, chunks = None, None
    for level, (level_path, shape) in enumerate(zip(level_paths, expected, strict=False)):
        meta = json.loads((path / level_path / "zarr.json").read_text())
        if tuple(meta["shape"]) != shape:
            problems.append(f"level {level} has shape {meta['shape']}, expected {list(shape)}")
        if level == 0:
            codec = writers.describe_codecs(meta.get("codecs", []))
            chunks = meta["chunk_grid"]["configuration"]["chunk_shape"]
    level0 = zarr.open_array(str(path / level_paths[0]), mode="r")
    planes = list(np.ndindex(*size.shape[:3]))
    for index in sorted({planes[0], planes[len(planes) // 2], planes[-1]}):
        expected_plane = np.empty(size.shape[3:], dtype=np.uint16)
        data.fill_region(expected_plane, seed, index, 0, 0)
        if not np.array_equal(np.asarray(level0[index]), expected_plane):
            problems.append(f"level-0 plane {index} differs from the input")
    return codec, chunks, problems


class Trash:
    """Finished outputs, set aside and deleted in batches, each batch followed by a pause.

    Parameters
    ----------
    folder : pathlib.Path
        Where outputs wait (inside the work folder, so setting one aside is a rename).
    limit : int
        Bytes on disk beyond which the waiting outputs are deleted.
    settle : float
        Seconds to wait after deleting, so that the next files created are not allocated
        among the just-deleted inodes (ext4 without a journal avoids reusing an inode for 60
        seconds after its deletion, stepping over each one).
    """

    def __init__(self, folder: Path, limit: int, settle: float) -> None:
        self.folder, self.limit, self.settle = folder, limit, settle
        self.waiting = 0
        self.count = 0

    def add(self, run_dir: Path, size: int) -> None:
        """Set ``run_dir`` aside; empty the trash if it now holds more than the limit."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        run_dir.rename(self.folder / f"{self.count}-{run_dir.name}")
        self.waiting += size
        if self.waiting > self.limit:
            self.empty(pause=True)

    def empty(self, pause: bool) -> None:
        """Delete what waits; then, if ``pause`` and anything was deleted, sync and wait
        ``settle`` seconds."""
        deleted = self.folder.exists()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.waiting = 0
        if deleted and pause and self.settle > 0:
            os.sync()
            print(f"  (outputs deleted; pausing {self.settle:g} s)", flush=True)
            time.sleep(self.settle)


def run_once(
    case: WriterCase,
    size: SizeCase,
    repeat: int,
    args: argparse.Namespace,
    trash: Trash,
) -> RunResult:
    """One write in a fresh subprocess: time, peak RSS, bytes on disk; output set aside."""
    run_dir = Path(args.workdir) / f"{size.name}-{case.name.replace('/', '_')}-{repeat}"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "tmp").mkdir(parents=True)
    spec_path = run_dir / "spec.json"
    output = run_dir / "image.ome.zarr"
    spec = {
        "writer": asdict(case),
        "size": asdict(size),
        "chunks": args.chunks,
        "seed": args.seed,
        "warmup": not args.no_warmup,
        "output": str(output),
        "result": str(run_dir / "result.json"),
    }
    spec_path.write_text(json.dumps(spec))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO_DIR / "src"), os.environ.get("PYTHONPATH")])
        ),
        # Spill files (e.g. ngff-zarr's cache of large inputs) land in run_dir and go with it.
        "DASK_TEMPORARY_DIRECTORY": str(run_dir / "tmp"),
    }
    log_path = run_dir / "child.log"
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group, so a timeout can stop all of it
        )
        status, usage, timed_out = _wait_with_timeout(child, args.timeout)
    result = RunResult(size.name, case.name, repeat, "error")
    result.process_peak_rss_mib = usage.ru_maxrss / 1024  # Linux reports KiB
    result_path = Path(spec["result"])
    if timed_out:
        result.status, result.message = "timeout", f"killed after {args.timeout:g} s"
    elif result_path.exists():
        for key, value in json.loads(result_path.read_text()).items():
            setattr(result, key, value)
    else:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
        result.message = f"child exited with status {status}: " + " / ".join(tail)
    if result.status == "ok":
        result.bytes_on_disk, result.files = _directory_size(output)
        result.codec, result.chunks, result.problems = inspect_output(output, size, args.seed)
    elif result.status == "error":
        kept = Path(args.workdir) / "logs" / f"{run_dir.name}.log"
        kept.parent.mkdir(exist_ok=True)
        shutil.copy(log_path, kept)
        result.message += f" (log: {kept})"
    trash.add(run_dir, result.bytes_on_disk or _directory_size(run_dir)[0])
    os.sync()  # leave no dirty pages whose writeback would slow the next run
    return result


def _wait_with_timeout(child: subprocess.Popen[bytes], timeout: float) -> tuple[int, Any, bool]:
    """Wait for ``child`` (its own rusage via wait4); stop its process group after ``timeout``."""
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline and not timed_out:
            timed_out = True
            os.killpg(child.pid, signal.SIGTERM)  # lets ngff-zarr remove its cache
            deadline = time.monotonic() + 10
        elif timed_out and time.monotonic() > deadline:
            os.killpg(child.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(child.pid, 0)
            break
        time.sleep(0.05)
    child.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
    return child.returncode, usage, timed_out


# --------------------------------------------------------------------------- reporting


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU, Python and package versions, and the repo commit."""
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        meminfo = Path("/proc/meminfo").read_text().split()
        info["memory_gib"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1)
        cpu = [
            line for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line
        ]
        info["cpu"] = cpu[0].split(":", 1)[1].strip() if cpu else platform.processor()
    except (OSError, ValueError):
        info["cpu"] = platform.processor()
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    info["packages"] = versions
    git = subprocess.run(
        ["git", "-C", str(REPO_DIR), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    info["omezarr_commit"] = git.stdout.strip() or "unknown"
    return info


def _header(args: argparse.Namespace, info: dict[str, Any], started: str) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    return "\n".join(
        [
            f"## omezarr write benchmark, {started}",
            "",
            f"- command: `{' '.join(shlex.quote(a) for a in sys.argv)}`",
            f"- machine: {info['nproc']} cores ({info.get('cpu', '?')}), "
            f"{info.get('memory_gib', '?')} GiB, Python {info['python']}, {info['platform']}",
            f"- packages: {packages}; omezarr at {info['omezarr_commit']}",
            f"- chunks asked of every writer: {args.chunks or 'each writer default'}; "
            f"repeats {args.repeats}; seed {args.seed}; warm-up {'off' if args.no_warmup else 'on'}; "
            f"timeout {args.timeout:g} s",
            "- pyramid: 5 levels (y/x scale factors 2, 4, 8, 16), OME-NGFF 0.5 / zarr v3",
        ]
    )


def _describe_input(size: SizeCase) -> dict[str, Any]:
    mib = size.nbytes / MIB
    where = f"lazy dask, chunks {size.chunks}" if size.lazy else "NumPy in memory"
    return {
        "mib": mib,
        "kind": size.kind,
        "description": f"{size.shape} uint16 tczyx, {mib:,.0f} MiB, {where}",
    }


# --------------------------------------------------------------------------- main


def _parse_chunks(text: str) -> tuple[int, ...] | None:
    if text == "native":
        return None
    try:
        chunks = tuple(int(part) for part in text.split(","))
    except ValueError:
        chunks = ()
    if len(chunks) != 5 or min(chunks) < 1:
        raise argparse.ArgumentTypeError(
            f"--chunks must be 5 positive integers or 'native', got {text!r}"
        )
    return chunks


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default=",".join(DEFAULT_SIZES),
        help=f"comma-separated inputs from: {', '.join(SIZES)}",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny inputs for a smoke run ({', '.join(QUICK_SIZES)})",
    )
    parser.add_argument(
        "--repeats", type=int, help="runs of each writer per input (default 3, 1 with --quick)"
    )
    parser.add_argument(
        "--once-if-slower",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="do not repeat a writer whose first run on an input took longer than this, "
        "failed or timed out (default 600)",
    )
    parser.add_argument(
        "--only",
        default="*",
        help="comma-separated glob patterns of writer names, e.g. 'omezarr/*,floor/*' (see --list)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds per run (the whole child process) before it is killed (default 1800)",
    )
    parser.add_argument(
        "--chunks",
        type=_parse_chunks,
        default=DEFAULT_CHUNKS,
        help="chunk shape asked of every writer, 5 comma-separated ints, or 'native' for each "
        "writer's default (default 1,1,1,1024,1024)",
    )
    parser.add_argument(
        "--trash-limit",
        type=float,
        default=20.0,
        metavar="GIB",
        help="GiB of finished outputs kept before they are deleted in one batch (default 20)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=70.0,
        metavar="SECONDS",
        help="pause after each batch of deletions (default 70; see the module docstring)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument(
        "--no-warmup", action="store_true", help="time the first write of each process"
    )
    parser.add_argument(
        "--workdir", default=str(BENCH_DIR / "out"), help="where outputs are written (and deleted)"
    )
    parser.add_argument(
        "--results-dir", default=str(BENCH_DIR / "results"), help="where reports go"
    )
    parser.add_argument("--list", action="store_true", help="list writers and inputs, then exit")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.child:
        return child_main(args.child)
    patterns = [p.strip() for p in args.only.split(",") if p.strip()]
    cases = [w for w in WRITERS if any(fnmatch.fnmatchcase(w.name, p) for p in patterns)]
    size_names = (
        list(QUICK_SIZES) if args.quick else [s.strip() for s in args.sizes.split(",") if s.strip()]
    )
    if args.list:
        print("writers:\n  " + "\n  ".join(w.name for w in WRITERS))
        print(
            "inputs:\n  "
            + "\n  ".join(f"{s.name}: {_describe_input(s)['description']}" for s in SIZES.values())
        )
        return 0
    unknown = [name for name in size_names if name not in SIZES]
    if unknown or not size_names:
        print(
            f"--sizes: unknown {unknown or 'none given'}; choose from {', '.join(SIZES)}",
            file=sys.stderr,
        )
        return 2
    if not cases:
        print(f"--only {args.only!r} matches no writer; see --list", file=sys.stderr)
        return 2
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1:
        print("--repeats must be at least 1", file=sys.stderr)
        return 2

    started = datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    trash = Trash(Path(args.workdir) / "trash", int(args.trash_limit * 2**30), args.settle)
    trash.empty(pause=True)  # a previous run's leftovers, and their deletion, settle first
    info = machine_info()
    header = _header(args, info, started)
    print(header, flush=True)
    inputs = {name: _describe_input(SIZES[name]) for name in size_names}
    results: list[RunResult] = []
    unavailable: dict[str, str] = {}

    def save(final: bool) -> None:
        summaries = report.summarise(results)
        checks = report.check_targets(summaries, inputs)
        document: dict[str, Any] = {
            "machine": info,
            "args": {k: v for k, v in vars(args).items() if k != "child"},
            "inputs": inputs,
            "runs": [asdict(r) for r in results],
            **report.as_json(summaries, checks),
        }
        (results_dir / f"{started}.json").write_text(json.dumps(document, indent=1))
        if final:
            text = report.render_markdown(summaries, checks, inputs, header)
            (results_dir / f"{started}.md").write_text(text)
            print("\n" + text)
            print(f"results: {results_dir / started}.md and .json")

    for name in size_names:
        size = SIZES[name]
        print(f"\n# {name}: {inputs[name]['description']}", flush=True)
        slow: dict[str, float] = {}  # first-run time per writer on this input
        for repeat in range(args.repeats):
            for case in cases:  # writers alternate within each repeat: ABCABC, not AAABBB
                if repeat and slow.get(case.name, 0.0) > args.once_if_slower:
                    continue
                if case.name in unavailable:  # known missing: one row per input, no process
                    if repeat == 0:
                        results.append(
                            RunResult(
                                name, case.name, 0, "not available", message=unavailable[case.name]
                            )
                        )
                    continue
                result = run_once(case, size, repeat, args, trash)
                if result.status == "not available":
                    unavailable[case.name] = result.message
                if repeat == 0:  # a first run that failed or timed out is not repeated either
                    failed = result.status in ("error", "timeout")
                    slow[case.name] = float("inf") if failed else result.seconds or 0.0
                results.append(result)
                print(_progress_line(result), flush=True)
                save(final=False)
    trash.empty(pause=False)
    save(final=True)
    return 0


def _progress_line(result: RunResult) -> str:
    if result.status != "ok":
        return f"  {result.writer:28} #{result.repeat}  {result.status}: {result.message}"
    disk = (result.bytes_on_disk or 0) / MIB
    problems = f"  ⚠ {'; '.join(result.problems)}" if result.problems else ""
    return (
        f"  {result.writer:28} #{result.repeat}  {result.seconds:8.2f} s  "
        f"peak {result.peak_rss_mib or 0:7.0f} MiB  {disk:9.1f} MiB on disk  {result.codec}{problems}"
    )


if __name__ == "__main__":
    sys.exit(main())
