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
