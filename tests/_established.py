"""The established library (ome-zarr >= 0.21, which needs Python >= 3.12) in its own venv,
built in the background from the start of the session so that the build (a venv and a
registry install, ~45 s) overlaps the other tests instead of adding to the suite's time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SPEC = "ome-zarr==0.21.0"

_BUILD = """
import subprocess, sys, venv
venv.create(sys.argv[1], with_pip=True)
python = sys.argv[1] + "/bin/python"
sys.exit(subprocess.call([python, "-m", "pip", "install", "-q", sys.argv[2]]))
"""


def python_312() -> str | None:
    """A working interpreter of Python 3.12 or newer on this machine (pyenv's, or on PATH)."""
    candidates = [
        str(root / "bin" / "python")
        for root in sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*"))
    ]
    candidates += [found for name in ("python3.12", "python3.13") if (found := shutil.which(name))]
    for candidate in candidates:
        check = "import sys; sys.exit(sys.version_info < (3, 12))"
        try:
            if subprocess.run([candidate, "-c", check], timeout=30, check=False).returncode == 0:
                return candidate
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


class EstablishedLibrary:
    """A venv with :data:`SPEC`, being built by a child process started on creation."""

    def __init__(self) -> None:
        self.interpreter = python_312()
        self.root = Path(tempfile.mkdtemp(prefix="omezarr-established-"))
        self.process: subprocess.Popen[str] | None = None
        if self.interpreter is not None:
            self.process = subprocess.Popen(
                [self.interpreter, "-c", _BUILD, str(self.root / "venv"), SPEC],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

    def python(self, timeout: float = 600) -> str:
        """The venv's interpreter, once built (AssertionError with pip's output if it failed)."""
        assert self.process is not None, "no Python >= 3.12 on this machine"
        _, errors = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, f"building the venv failed: {errors[-2000:]}"
        return str(self.root / "venv" / "bin" / "python")

    def stop(self) -> None:
        """Stop a build still running and remove the venv."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":  # a manual check: build, then print the interpreter
    library = EstablishedLibrary()
    try:
        print(library.python())
    finally:
        library.stop()
    sys.exit(0)
