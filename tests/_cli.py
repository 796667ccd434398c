"""Running Python and the ``omezarr`` command line in a subprocess, as a user would, for the
CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def run_python(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python *args`` with this checkout's sources first on the path and UTF-8 output;
    never raises on a non-zero exit code."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "PYTHONIOENCODING": "utf-8",
    }
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m omezarr *args``, as :func:`run_python`."""
    return run_python("-m", "omezarr", *args, cwd=cwd)


CAP_BYTES = 2 * 2**30
"""The address space a hostile-input command may reserve: a few times what omezarr needs
(thread stacks and allocator arenas are reserved, not used), far below what the probe's
inputs took before they were bounded (4 to 16 GiB)."""


def run_capped(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``omezarr *args`` in a subprocess under a :data:`CAP_BYTES` address-space limit and a
    time limit (``subprocess.TimeoutExpired`` fails the test), as the hardening tests run
    every command on hostile input."""
    probe = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({CAP_BYTES}, {CAP_BYTES}))\n"
        "from omezarr.cli import main\n"
        f"sys.exit(main({list(args)!r}))\n"
    )
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "PYTHONIOENCODING": "utf-8",
        "MALLOC_ARENA_MAX": "2",  # reserved arenas grow with the CPUs, not with the work
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment,
        timeout=timeout,
        check=False,
    )
