"""The import paths users know keep every public name, and every name the README shows exists.

``data/public_names.json`` lists, per module, the names it offered before the code moved into
packages (its ``__all__``, plus for the reference's paths the names defined there and the
reference's own helpers); a name may move, but its old import path must keep working.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PUBLIC_NAMES = json.loads((ROOT / "tests" / "data" / "public_names.json").read_text())

MOVED = {
    "omezarr.chunkio": "omezarr.io.chunkio",
    "omezarr.codecs": "omezarr.io.codecs",
    "omezarr.layout": "omezarr.io.layout",
    "omezarr.locking": "omezarr.io.locking",
    "omezarr.metadata": "omezarr.ngff.documents",
    "omezarr.inspect": "omezarr.tools.describe",
    "omezarr.render": "omezarr.tools.render",
    "omezarr.sample": "omezarr.tools.sample",
    "omezarr.verify": "omezarr.tools.verify",
    "omezarr.viewer": "omezarr.tools.viewer",
    "omezarr.storage": "omezarr.io.storage",
}
"""Modules that were not import paths of the reference API and moved into a package."""


@pytest.mark.parametrize("module", sorted(PUBLIC_NAMES))
def test_module_keeps_every_public_name(module: str) -> None:
    imported = importlib.import_module(MOVED.get(module, module))
    missing = [name for name in PUBLIC_NAMES[module] if not hasattr(imported, name)]
    assert not missing, f"{module} lost {missing}"


def _readme_imports() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    pairs = []
    for module, names in re.findall(r"^\s*from (omezarr[\w.]*) import ([\w, ]+)$", text, re.M):
        pairs += [(module, name.strip()) for name in names.split(",") if name.strip()]
    for dotted in re.findall(r"`(omezarr(?:\.\w+)+)(?:\(|`)", text):
        module, _, name = dotted.rpartition(".")
        pairs.append((module, name))
    return sorted(set(pairs))


def test_readme_documents_names() -> None:
    assert len(_readme_imports()) >= 10  # the parser found the README's imports


@pytest.mark.parametrize(("module", "name"), _readme_imports())
def test_every_name_the_readme_documents_imports(module: str, name: str) -> None:
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError:  # `omezarr.writer.write_image`: a module then an attribute
        parent, _, attribute = module.rpartition(".")
        imported = getattr(importlib.import_module(parent), attribute)
    assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}") is not None
