"""The version is written once: the installed metadata is read from ``omezarr.__version__``."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import omezarr


def test_version_is_single_sourced() -> None:
    assert omezarr.__version__ == importlib.metadata.version("omezarr")
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert not re.search(r"^version\s*=\s*\"", pyproject, re.M), "pyproject must not repeat it"
