"""`omezarr convert --resume` finishes a conversion that was killed at a random moment."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from omezarr.convert import interrupted_stagings
from omezarr.validate import validate


def _convert(source: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "omezarr", "convert", str(source), str(output), "-q",
        "--axes", "zyx", "--scale-factors", "2,4", "--chunks", "1,64,64", *extra,
    ]  # fmt: skip


def _levels(path: Path) -> list[np.ndarray]:
    group = zarr.open_group(path, mode="r")
    return [group[name][...] for name in ("s0", "s1", "s2")]


def _started(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for ``process`` (120 s at most, as ``subprocess.run``): its exit code and stderr."""
    try:
        _, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, stderr


def test_a_killed_conversion_resumes_to_the_same_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    source = tmp_path / "stack.npy"
    np.save(source, rng.integers(0, 3000, (24, 512, 512), dtype=np.uint16))
    reference = tmp_path / "reference.ome.zarr"
    # The uninterrupted conversion and each resume run beside the next killed conversion (the
    # machine's other core): every one of them is still a whole `omezarr convert` process,
    # checked as before once it has finished.
    running = [_started(_convert(source, reference))]
    resumes: list[tuple[Path, subprocess.Popen[str]]] = []
    try:
        chooser = random.Random(7)
        outcomes = {"killed mid-write": 0, "finished before the kill": 0}
        trial = 0
        while outcomes["killed mid-write"] < 3 and trial < 10:
            trial += 1
            output = tmp_path / f"out{trial}.ome.zarr"
            child = subprocess.Popen(
                _convert(source, output), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            # Kill once the write has begun (chunk files in the staging directory), a little
            # later.
            deadline = time.monotonic() + 60
            while child.poll() is None and time.monotonic() < deadline:
                if any(any(p.rglob("c/*")) for p in interrupted_stagings(output)):
                    break
                time.sleep(0.01)
            time.sleep(chooser.uniform(0.0, 0.3))
            child.send_signal(signal.SIGKILL)
            child.wait()
            if output.exists():
                outcomes["finished before the kill"] += 1
                continue
            outcomes["killed mid-write"] += 1
            assert interrupted_stagings(output), (
                "a killed conversion leaves its hidden staging directory"
            )
            resume = _started(_convert(source, output, "--resume"))
            running.append(resume)
            resumes.append((output, resume))
        code, stderr = _finished(running[0])
        assert code == 0, stderr
        expected = _levels(reference)
        for output, resume in resumes:
            code, stderr = _finished(resume)
            assert code == 0, stderr
            assert not interrupted_stagings(output)
            assert validate(output).valid
            for got, want in zip(_levels(output), expected, strict=True):
                assert np.array_equal(got, want)
    finally:
        for process in running:  # none is left running if the test fails
            if process.poll() is None:
                process.kill()
                process.communicate()
    print(f"convert --resume trials: {outcomes}")
    assert outcomes["killed mid-write"] >= 1


def test_resume_without_leftovers_converts_from_scratch(tmp_path: Path) -> None:
    source = tmp_path / "plane.npy"
    np.save(source, np.arange(3 * 128 * 128, dtype=np.uint16).reshape(3, 128, 128))
    output = tmp_path / "out.ome.zarr"
    done = subprocess.run(
        _convert(source, output, "--resume"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert np.array_equal(_levels(output)[0], np.load(source))


def test_resuming_a_finished_conversion_checks_it_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from _reliability import file_bytes
    from omezarr.cli import main

    source = tmp_path / "in.npy"
    np.save(source, np.arange(2 * 64 * 64, dtype="uint16").reshape(2, 64, 64))
    output = tmp_path / "out.zarr"
    assert main(["convert", str(source), str(output), "-q"]) == 0
    before = file_bytes(output)
    capsys.readouterr()
    assert main(["convert", str(source), str(output), "--resume"]) == 0
    assert "complete already" in capsys.readouterr().out
    assert file_bytes(output) == before
    chunk = next(
        p for p in sorted((output / "s0").rglob("*")) if p.is_file() and p.name != "zarr.json"
    )
    chunk.write_bytes(b"damaged")
    assert main(["convert", str(source), str(output), "--resume"]) == 2
    assert "not whole" in capsys.readouterr().err
