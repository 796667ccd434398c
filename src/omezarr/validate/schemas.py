"""Checking one NGFF document against the official JSON schemas bundled with the package."""

from __future__ import annotations

import functools
import json
from importlib import resources

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ..types import JSONDict
from .kinds import _STRICT_KINDS, DOCUMENT_KINDS, SUPPORTED_VERSIONS, _check_kind_and_version
from .report import Violation, _Findings
from .rules import check_document

__all__ = [
    "validate_document",
]


@functools.cache
def _schema_ids(version: str) -> dict[str, str]:
    """The ``$id`` of every bundled schema of ``version``, by file stem (``strict_image``)."""
    folder = resources.files("omezarr").joinpath("schemas", version)
    ids = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".schema"):
            ids[entry.name.removesuffix(".schema")] = json.loads(entry.read_text("utf-8"))["$id"]
    return ids


@functools.cache
def _registry() -> Registry:
    """Every bundled schema, keyed by its ``$id``: references resolve here, never online.

    The 0.4 ``bf2raw`` and ``ome`` schemas carry ``latest`` ids and the 0.5 and 0.6 ones
    versioned ids, so all versions share one registry without clashes.
    """
    resources_by_id = []
    for version in SUPPORTED_VERSIONS:
        folder = resources.files("omezarr").joinpath("schemas", version)
        for entry in folder.iterdir():
            if entry.name.endswith(".schema"):
                contents = json.loads(entry.read_text("utf-8"))
                resource = Resource.from_contents(contents, default_specification=DRAFT202012)
                resources_by_id.append((contents["$id"], resource))
    return Registry().with_resources(resources_by_id)


@functools.cache
def _schema_validator(version: str, kind: str, strict: bool) -> jsonschema.Draft202012Validator:
    stem = f"strict_{kind}" if strict and kind in _STRICT_KINDS else kind
    schema_id = _schema_ids(version)[stem]
    # Format checking stays off, as in the official suites.
    return jsonschema.Draft202012Validator({"$ref": schema_id}, registry=_registry())


def _schema_message(error: ValidationError) -> tuple[tuple[str | int, ...], str]:
    """The most specific location and message of a schema error."""
    if error.context:
        deepest = best_match(error.context)
        if deepest is not None:
            error = deepest
    return tuple(error.absolute_path), error.message


def validate_document(
    document: JSONDict, kind: str, version: str, strict: bool = False, rules: bool = False
) -> list[Violation]:
    """Check one attributes document against the bundled NGFF JSON schema.

    Parameters
    ----------
    document : dict
        The group attributes as stored: for 0.4 the top-level attributes
        (``{"multiscales": [...]}``), for 0.5 and 0.6 the whole attributes dict
        (``{"ome": {...}}``).
    kind : str
        One of :data:`DOCUMENT_KINDS`: ``image``, ``label``, ``plate``, ``well``,
        ``bf2raw``, ``ome`` or (0.6) ``scene``.
    version : str
        ``"0.4"``, ``"0.5"`` or ``"0.6"`` (whose schemas also accept ``"0.6rc0"`` documents).
    strict : bool, default False
        Use the ``strict_*`` schemas (they require names, colours and more), where the kind
        has one.
    rules : bool, default False
        Also apply the rule layer's document checks (:func:`check_document` without array
        facts), which refuse documents the schemas accept.

    Returns
    -------
    list of Violation
        Empty when the document is valid. Locations are JSON pointers (``"#/ome/plate"``).

    Raises
    ------
    ValueError
        If ``kind`` or ``version`` is not one of the known values.

    Examples
    --------
    >>> validate_document({"well": {"images": [{"path": "0"}]}}, "well", "0.4")
    []
    """
    version = _check_kind_and_version(kind, version, DOCUMENT_KINDS)
    findings = _Findings()
    validator = _schema_validator(version, kind, bool(strict))
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path])
    for error in errors:
        where, message = _schema_message(error)
        findings.add(where, message, "schema")
    if rules:
        findings.items.extend(check_document(document, kind, version))
    return findings.items
