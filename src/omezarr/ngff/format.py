"""Facts about each OME-NGFF version: zarr format, chunk keys, wells and transformations.

Pure: no storage code is imported here. ``format_from_version`` and ``detect_format`` pick a
:class:`Format`; each format validates the pieces of metadata whose rules changed between
versions.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .._numbers import is_finite_number

__all__ = [
    "CurrentFormat",
    "Format",
    "FormatV01",
    "FormatV02",
    "FormatV03",
    "FormatV04",
    "FormatV05",
    "FormatV06",
    "detect_format",
    "format_from_version",
    "format_implementations",
]

LOGGER = logging.getLogger("omezarr.format")

INTRINSIC_SYSTEM = "intrinsic"
"""The name omezarr gives an image's intrinsic coordinate system (0.6), as the spec calls it."""


def format_implementations() -> Iterator[Format]:
    """Yield an instance of every format, newest first."""
    yield FormatV06()
    yield FormatV05()
    yield FormatV04()
    yield FormatV03()
    yield FormatV02()
    yield FormatV01()


def format_from_version(version: str | float) -> Format:
    """Return the format for ``version`` ("0.4" or 0.4).

    Raises
    ------
    ValueError
        If no format has that version.

    Examples
    --------
    >>> format_from_version("0.4")
    FormatV04
    """
    wanted = str(version)
    for fmt in format_implementations():
        if fmt.version == wanted:
            return fmt
    known = ", ".join(f.version for f in format_implementations())
    raise ValueError(f"version: {version!r} is not a known OME-NGFF version (known: {known})")


def detect_format(metadata: Mapping[str, Any] | None, default: Format) -> Format:
    """Return the format that owns ``metadata``, or ``default`` if none does."""
    if metadata:
        for fmt in format_implementations():
            if fmt.matches(metadata):
                return fmt
    return default


def metadata_version(metadata: Mapping[str, Any]) -> str | None:
    """The NGFF version a metadata document declares, wherever it declares it.

    0.5 documents carry it as ``ome.version`` (or a top-level ``version`` once the ``ome``
    wrapper is removed); older ones inside ``multiscales[0]``, ``plate``, ``well`` or
    ``image-label``.
    """
    ome = metadata.get("ome")
    if isinstance(ome, Mapping) and isinstance(ome.get("version"), str):
        return str(ome["version"])
    if isinstance(metadata.get("version"), str):
        return str(metadata["version"])
    multiscales = metadata.get("multiscales")
    if isinstance(multiscales, list) and multiscales and isinstance(multiscales[0], Mapping):
        version = multiscales[0].get("version")
        return str(version) if version is not None else None
    for key in ("plate", "well", "image-label"):
        obj = metadata.get(key)
        if isinstance(obj, Mapping) and obj.get("version") is not None:
            return str(obj["version"])
    return None


class Format(ABC):
    """One version of the OME-NGFF specification."""

    @property
    @abstractmethod
    def version(self) -> str:
        """The version string, e.g. ``"0.4"``."""

    @property
    @abstractmethod
    def zarr_format(self) -> int:
        """The zarr format (2 or 3) this version is stored in."""

    @property
    @abstractmethod
    def chunk_key_encoding(self) -> dict[str, str]:
        """The zarr chunk key encoding this version uses."""

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        """Whether ``metadata`` declares this version."""
        found = metadata_version(metadata)
        LOGGER.debug("%s matches %s?", self.version, found)
        return found == self.version

    @property
    def metadata_is_nested(self) -> bool:
        """True where the NGFF attributes live under ``ome`` (0.5 and later)."""
        return self.zarr_format == 3

    @property
    def has_coordinate_systems(self) -> bool:
        """True where images declare named ``coordinateSystems`` and every transformation
        its ``input`` and ``output`` (0.6 and later)."""
        return False

    def __repr__(self) -> str:
        return type(self).__name__

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    @abstractmethod
    def generate_well_dict(self, well: str, rows: Sequence[str], columns: Sequence[str]) -> dict:
        """Build the plate's well entry for the path ``well`` (``"A/1"``)."""

    @abstractmethod
    def validate_well_dict(
        self, well: Mapping[str, Any], rows: Sequence[str], columns: Sequence[str]
    ) -> None:
        """Raise ValueError unless ``well`` is a valid plate well entry."""

    @abstractmethod
    def generate_coordinate_transformations(
        self, shapes: Sequence[Sequence[int]]
    ) -> list[list[dict[str, Any]]] | None:
        """One list of transformations per level, from the level shapes."""

    @abstractmethod
    def validate_coordinate_transformations(
        self,
        ndim: int,
        nlevels: int,
        coordinate_transformations: Sequence[Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        """Raise ValueError unless the transformations are valid for this version."""


class FormatV01(Format):
    """OME-NGFF 0.1 (2020): 5-D, "." chunk keys, wells as plain paths."""

    REQUIRED_PLATE_WELL_KEYS: Mapping[str, type] = {"path": str}

    @property
    def version(self) -> str:
        return "0.1"

    @property
    def zarr_format(self) -> int:
        return 2

    @property
    def chunk_key_encoding(self) -> dict[str, str]:
        return {"name": "v2", "separator": "."}

    def generate_well_dict(self, well: str, rows: Sequence[str], columns: Sequence[str]) -> dict:
        return {"path": str(well)}

    def validate_well_dict(
        self, well: Mapping[str, Any], rows: Sequence[str], columns: Sequence[str]
    ) -> None:
        if not isinstance(well, Mapping):
            raise ValueError(
                f"wells: each well must be a dict or a 'row/column' string, not {well!r}"
            )
        for key, key_type in self.REQUIRED_PLATE_WELL_KEYS.items():
            if key not in well:
                raise ValueError(f"wells: {dict(well)!r} must contain a {key!r} key")
            value = well[key]
            if not isinstance(value, key_type) or isinstance(value, bool):
                raise ValueError(
                    f"wells: {dict(well)!r} {key!r} must be of type {key_type.__name__}, "
                    f"not {type(value).__name__}"
                )
        extra = set(well) - set(self.REQUIRED_PLATE_WELL_KEYS)
        if extra:
            LOGGER.debug("%s contains unspecified keys %s", well, sorted(extra))

    def generate_coordinate_transformations(
        self, shapes: Sequence[Sequence[int]]
    ) -> list[list[dict[str, Any]]] | None:
        return None

    def validate_coordinate_transformations(
        self,
        ndim: int,
        nlevels: int,
        coordinate_transformations: Sequence[Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        return None


class FormatV02(FormatV01):
    """OME-NGFF 0.2 (2021): nested "/" chunk keys."""

    @property
    def version(self) -> str:
        return "0.2"

    @property
    def chunk_key_encoding(self) -> dict[str, str]:
        return {"name": "v2", "separator": "/"}


class FormatV03(FormatV02):
    """OME-NGFF 0.3 (2021): 2 to 5 dimensions, ``axes`` as a list of names."""

    @property
    def version(self) -> str:
        return "0.3"


class FormatV04(FormatV03):
    """OME-NGFF 0.4 (2022): axis dicts, coordinateTransformations, well indices."""

    REQUIRED_PLATE_WELL_KEYS: Mapping[str, type] = {
        "path": str,
        "rowIndex": int,
        "columnIndex": int,
    }

    @property
    def version(self) -> str:
        return "0.4"

    def generate_well_dict(self, well: str, rows: Sequence[str], columns: Sequence[str]) -> dict:
        if not isinstance(well, str):
            raise ValueError(f"wells: expected a 'row/column' string, not {well!r}")
        parts = well.split("/")
        if len(parts) != 2:
            raise ValueError(f"wells: {well!r} must be 'row/column', e.g. 'A/1'")
        row, column = parts
        if row not in rows:
            raise ValueError(f"wells: row {row!r} of {well!r} is not one of rows {list(rows)}")
        if column not in columns:
            raise ValueError(
                f"wells: column {column!r} of {well!r} is not one of columns {list(columns)}"
            )
        return {
            "path": well,
            "rowIndex": list(rows).index(row),
            "columnIndex": list(columns).index(column),
        }

    def validate_well_dict(
        self, well: Mapping[str, Any], rows: Sequence[str], columns: Sequence[str]
    ) -> None:
        super().validate_well_dict(well, rows, columns)
        parts = well["path"].split("/")
        if len(parts) != 2:
            raise ValueError(f"wells: path {well['path']!r} must be 'row/column', e.g. 'A/1'")
        row, column = parts
        if row not in rows:
            raise ValueError(
                f"wells: row {row!r} of {well['path']!r} is not one of rows {list(rows)}"
            )
        if column not in columns:
            raise ValueError(
                f"wells: column {column!r} of {well['path']!r} is not one of columns {list(columns)}"
            )
        if well["rowIndex"] != list(rows).index(row):
            raise ValueError(
                f"wells: rowIndex {well['rowIndex']} of {well['path']!r} does not match row "
                f"{row!r} at index {list(rows).index(row)}"
            )
        if well["columnIndex"] != list(columns).index(column):
            raise ValueError(
                f"wells: columnIndex {well['columnIndex']} of {well['path']!r} does not match "
                f"column {column!r} at index {list(columns).index(column)}"
            )

    def generate_coordinate_transformations(
        self, shapes: Sequence[Sequence[int]]
    ) -> list[list[dict[str, Any]]] | None:
        if not shapes:
            raise ValueError("shapes: at least one level shape is needed")
        full = tuple(shapes[0])
        transformations = []
        for level, shape in enumerate(shapes):
            if len(shape) != len(full):
                raise ValueError(
                    f"shapes: level {level} has {len(shape)} dimensions, level 0 has {len(full)}"
                )
            scale = [float(f) / float(s) for f, s in zip(full, shape, strict=True)]
            transformations.append([{"type": "scale", "scale": scale}])
        return transformations

    def validate_coordinate_transformations(
        self,
        ndim: int,
        nlevels: int,
        coordinate_transformations: Sequence[Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        if coordinate_transformations is None:
            raise ValueError("coordinate_transformations must be provided for OME-NGFF >= 0.4")
        if not isinstance(coordinate_transformations, Sequence) or isinstance(
            coordinate_transformations, str
        ):
            raise ValueError("coordinate_transformations must be a list with one list per level")
        if len(coordinate_transformations) != nlevels:
            raise ValueError(
                f"coordinate_transformations: {len(coordinate_transformations)} lists given, "
                f"one per level is needed ({nlevels} levels)"
            )
        for level, transforms in enumerate(coordinate_transformations):
            where = f"coordinate_transformations[{level}]"
            if (
                not isinstance(transforms, Sequence)
                or isinstance(transforms, str)
                or not transforms
            ):
                raise ValueError(f"{where} must be a non-empty list of transformation dicts")
            types = []
            for transform in transforms:
                if not isinstance(transform, Mapping) or "type" not in transform:
                    raise ValueError(
                        f"{where}: every transformation needs a 'type', got {transform!r}"
                    )
                types.append(transform["type"])
            if types.count("scale") != 1:
                raise ValueError(f"{where} must contain exactly one 'scale', found types {types}")
            if types[0] != "scale":
                raise ValueError(f"{where}: the 'scale' must come first, found types {types}")
            if types.count("translation") > 1:
                raise ValueError(
                    f"{where} may contain at most one 'translation', found types {types}"
                )
            unknown = [t for t in types if t not in ("scale", "translation")]
            if unknown:
                raise ValueError(f"{where}: unknown transformation types {unknown}")
            if len(types) == 2 and types[1] != "translation":
                raise ValueError(f"{where}: only a 'translation' may follow the 'scale'")
            for transform in transforms:
                kind = transform["type"]
                values = transform.get(kind)
                if values is None:
                    raise ValueError(f"{where}: the {kind!r} transformation has no {kind!r} list")
                if not isinstance(values, Sequence) or isinstance(values, str):
                    raise ValueError(f"{where}: {kind!r} must be a list of numbers, not {values!r}")
                if len(values) != ndim:
                    raise ValueError(
                        f"{where}: {kind!r} has {len(values)} values, the image has {ndim} dimensions"
                    )
                if not all(is_finite_number(v) for v in values):
                    raise ValueError(
                        f"{where}: {kind!r} values must all be finite numbers: {list(values)}"
                    )
                if kind == "scale" and not all(v > 0 for v in values):
                    raise ValueError(f"{where}: 'scale' values must be positive: {list(values)}")


class FormatV05(FormatV04):
    """OME-NGFF 0.5 (2025): zarr v3, everything under the ``ome`` attribute."""

    @property
    def version(self) -> str:
        return "0.5"

    @property
    def zarr_format(self) -> int:
        return 3

    @property
    def chunk_key_encoding(self) -> dict[str, str]:
        return {"name": "default", "separator": "/"}


class FormatV06(FormatV05):
    """OME-NGFF 0.6 (2026): named coordinate systems, transformations from each level's
    array (``input``) to the image's intrinsic system (``output``), scenes."""

    @property
    def version(self) -> str:
        return "0.6"

    @property
    def has_coordinate_systems(self) -> bool:
        return True


CurrentFormat = FormatV05
"""The version written by default: 0.5 until the main readers read 0.6."""
