"""Checking OME-NGFF documents and whole OME-Zarr hierarchies, more strictly than the schemas.

Three layers, each usable alone and each a module (``kinds`` names the versions and kinds,
``report`` holds what is found):

* the schema layer (``schemas``), :func:`validate_document`, checks one attributes document against the
  official NGFF JSON schemas bundled with the package (never fetching anything);
* the rule layer (``rules``), :func:`check_document`, checks what a schema cannot express (axis order,
  transformation lengths, levels getting smaller, plate indices agreeing with paths, …) on a
  document plus the facts about its arrays (:class:`ArrayFacts`); pure, no storage;
* the hierarchy walk (``hierarchy``), :func:`validate`, opens a zarr group, reads metadata only (never pixel
  data) and applies both layers to every node it reaches: image → labels → label images,
  plate → wells → field images, bioformats2raw container → series, (0.6) scene → images.

OME-NGFF 0.6 (coordinate systems, transformations with ``input``/``output``, scenes) has its
own rule module, ``transforms``.

Every problem becomes a :class:`Violation`; bad data never raises.
"""

from __future__ import annotations

from .hierarchy import validate
from .kinds import DOCUMENT_KINDS, RULE_KINDS, SUPPORTED_VERSIONS
from .report import Severity, ValidationReport, Violation
from .rules import ArrayFacts, LinkedImage, check_document
from .schemas import validate_document

__all__ = [
    "DOCUMENT_KINDS",
    "RULE_KINDS",
    "SUPPORTED_VERSIONS",
    "ArrayFacts",
    "LinkedImage",
    "Severity",
    "ValidationReport",
    "Violation",
    "check_document",
    "validate",
    "validate_document",
]
