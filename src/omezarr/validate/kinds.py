"""The NGFF versions and kinds of document that validation knows, and checking a pair of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .report import _short

__all__ = [
    "DOCUMENT_KINDS",
    "RULE_KINDS",
    "SUPPORTED_VERSIONS",
]

SUPPORTED_VERSIONS: tuple[str, ...] = ("0.4", "0.5")
"""The NGFF versions whose schemas are bundled."""

DOCUMENT_KINDS: tuple[str, ...] = ("image", "label", "plate", "well", "bf2raw", "ome")
"""Kinds of document the schemas describe (``strict_*`` schemas exist for the first four)."""

RULE_KINDS: tuple[str, ...] = (*DOCUMENT_KINDS, "labels")
"""Kinds of document :func:`check_document` knows; ``labels`` is the group listing label images."""

_STRICT_KINDS = frozenset({"image", "label", "plate", "well"})


# --------------------------------------------------------------------------- schema layer


def _check_kind_and_version(kind: Any, version: Any, kinds: Sequence[str]) -> str:
    """``version`` as a string, after refusing an unknown ``kind`` or ``version``."""
    if kind not in kinds:
        raise ValueError(f"kind: expected one of {list(kinds)}, not {_short(kind)}")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(
            f"version: expected one of {list(SUPPORTED_VERSIONS)}, not {_short(version)}"
        )
    return str(version)
