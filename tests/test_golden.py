"""Outputs are byte-identical to the pinned ones (tests/_golden.py) for the same writer calls.

This pins behaviour across refactors: a change that alters what the writers put on disk fails
here and must say why when it rewrites the manifest with ``python -m tests._golden``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _golden import CASES, MANIFEST, write_case


@pytest.mark.parametrize("name", sorted(CASES))
def test_writer_output_is_byte_identical_to_pinned(name: str, tmp_path: Path) -> None:
    expected = json.loads(MANIFEST.read_text())[name]
    actual = write_case(name, tmp_path)
    assert sorted(actual) == sorted(expected), "a different set of files was written"
    changed = [path for path in expected if actual[path] != expected[path]]
    assert not changed, f"files whose bytes changed: {changed}"
