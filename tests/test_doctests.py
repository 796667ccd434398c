"""The examples in the docstrings run and print what they show.

Examples that need files, servers or a terminal are marked ``# doctest: +SKIP`` in the sources;
every other example is run here, so that no docstring drifts from the code.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import omezarr

MODULES = sorted(
    name.removeprefix("omezarr.")
    for info in pkgutil.walk_packages(omezarr.__path__, prefix="omezarr.")
    if not (name := info.name).endswith("__main__")
)


def test_docstring_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # any file an example writes lands here
    failures: dict[str, int] = {}
    attempted = 0
    for name in MODULES:
        module = importlib.import_module(f"omezarr.{name}")
        result = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
        )
        attempted += result.attempted
        if result.failed:
            failures[name] = result.failed
    assert not failures, f"failing docstring examples per module: {failures}"
    assert attempted >= 50  # the examples did run (57 statements today)
