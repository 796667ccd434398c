"""The NGFF versions and kinds of document that validation knows, and checking a pair of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..ngff.format import Format, format_from_version
from .report import _short

__all__ = [
    "DOCUMENT_KINDS",
    "RULE_KINDS",
    "SUPPORTED_VERSIONS",
    "VERSION_ALIASES",
]

SUPPORTED_VERSIONS: tuple[str, ...] = ("0.4", "0.5", "0.6")
"""The NGFF versions whose schemas are bundled."""

DOCUMENT_KINDS: tuple[str, ...] = ("image", "label", "plate", "well", "bf2raw", "ome", "scene")
"""Kinds of document the schemas describe (``strict_*`` schemas exist for the first four;
``scene`` exists from 0.6 on)."""

RULE_KINDS: tuple[str, ...] = (*DOCUMENT_KINDS, "labels")
"""Kinds of document :func:`check_document` knows; ``labels`` is the group listing label images."""

_STRICT_KINDS = frozenset({"image", "label", "plate", "well"})

_FIRST_VERSION = {"scene": "0.6"}
"""Kinds that only exist from some version on."""

VERSION_ALIASES: dict[str, str] = {"0.6rc0": "0.6"}
"""Version strings the released schemas accept for a version this validator knows: the 0.6
schemas list ``0.6rc0`` beside ``0.6``."""


# --------------------------------------------------------------------------- schema layer


def _check_kind_and_version(kind: Any, version: Any, kinds: Sequence[str]) -> str:
    """``version`` as a string, after refusing an unknown ``kind`` or ``version``."""
    if kind not in kinds:
        raise ValueError(f"kind: expected one of {list(kinds)}, not {_short(kind)}")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(
            f"version: expected one of {list(SUPPORTED_VERSIONS)}, not {_short(version)}"
        )
    first = _FIRST_VERSION.get(kind)
    if first is not None and SUPPORTED_VERSIONS.index(version) < SUPPORTED_VERSIONS.index(first):
        raise ValueError(f"kind: {kind!r} documents exist from OME-NGFF {first} on, not {version}")
    return str(version)


def _rules_format(version: str) -> Format:
    """The format whose zarr facts and well rules apply to ``version``: 0.6 changed neither
    (the 0.6 rules on transformations live in :mod:`.transforms`)."""
    return format_from_version("0.5" if version == "0.6" else version)
