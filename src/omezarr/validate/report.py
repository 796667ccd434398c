"""What validation finds: violations with their severity and location, gathered into a report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..types import JSONDict

__all__ = [
    "Severity",
    "ValidationReport",
    "Violation",
]

Severity = Literal["error", "warning"]
"""How bad a violation is: errors make a document invalid, warnings do not."""
_MAX_MESSAGE = 300


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Violation:
    """One problem found in a document or hierarchy.

    Attributes
    ----------
    location : str
        Where: a node path relative to the validated group (``"."`` for the group itself),
        optionally followed by a JSON pointer into its attributes (``"A/1#/well/images/0"``).
        Documents checked alone are located by pointer only (``"#/multiscales/0/axes"``).
    message : str
        What is wrong, for a human.
    rule : str
        A stable identifier of the rule that fired (``"schema"``, ``"axes"``,
        ``"dimension-names"``, …), for programs and tests.
    severity : {"error", "warning"}
        Errors make the target invalid; warnings do not.
    """

    location: str
    message: str
    rule: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        """The violation as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of :func:`validate`: every violation found, and what the target is.

    Use :attr:`valid` to decide; the report itself has no truth value.

    Attributes
    ----------
    target : str
        What was validated (a path, URL or store description).
    violations : list of Violation
        In the order found: parents before children.
    version : str or None
        The NGFF version of the top node, if it has one.
    kind : str or None
        What the top node is: ``image``, ``label``, ``labels``, ``plate``, ``well``,
        ``bf2raw`` or ``ome``; None when it is no OME-Zarr.
    """

    target: str
    violations: list[Violation] = field(default_factory=list)
    version: str | None = None
    kind: str | None = None

    @property
    def errors(self) -> list[Violation]:
        """The violations of severity ``error``."""
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        """The violations of severity ``warning``."""
        return [v for v in self.violations if v.severity == "warning"]

    @property
    def valid(self) -> bool:
        """True when no error was found (warnings allowed)."""
        return not self.errors

    @property
    def readable(self) -> bool:
        """False when the top node could not be checked at all: its metadata cannot be read,
        or it declares an OME-NGFF version this validator does not know (the CLI's exit
        code 2, "unreadable", rather than 1, "invalid")."""
        from .kinds import SUPPORTED_VERSIONS  # here: kinds imports this module

        if self.version is not None and self.version not in SUPPORTED_VERSIONS:
            return False
        return not any(
            v.location.split("#", 1)[0] == "." and v.rule == "unreadable" for v in self.violations
        )

    def __bool__(self) -> bool:
        raise TypeError("ValidationReport has no truth value: use report.valid")

    def summary(self) -> str:
        """One line: the target, valid or not, its version and kind, and the counts."""
        counts = _plural(len(self.errors), "error") + ", " + _plural(len(self.warnings), "warning")
        if self.kind is None:
            return f"{self.target}: no OME-Zarr found ({counts})"
        what = " ".join(p for p in ("OME-Zarr", self.version, self.kind) if p is not None)
        verdict = "valid" if self.valid else "invalid"
        return f"{self.target}: {verdict} {what} ({counts})"

    def format(self) -> str:
        """One line per violation, ``location: message [rule]``; warnings say so."""
        lines = []
        for violation in self.violations:
            prefix = "warning: " if violation.severity == "warning" else ""
            lines.append(f"{violation.location}: {prefix}{violation.message} [{violation.rule}]")
        return "\n".join(lines)

    def to_dict(self) -> JSONDict:
        """The report as a JSON-ready dict."""
        return {
            "target": self.target,
            "valid": self.valid,
            "version": self.version,
            "kind": self.kind,
            "error_count": len(self.errors),
            "warning_count": len(self.warnings),
            "violations": [v.to_dict() for v in self.violations],
        }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pointer(parts: Iterable[str | int]) -> str:
    """A JSON pointer fragment, ``#`` for the whole document."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "#" + "".join("/" + p for p in escaped)


class _Findings:
    """Collects violations located by JSON pointer below a base pointer."""

    def __init__(self, base: Sequence[str | int] = ()) -> None:
        self.base = tuple(base)
        self.items: list[Violation] = []

    def add(
        self,
        where: Sequence[str | int],
        message: str,
        rule: str,
        severity: Severity = "error",
    ) -> None:
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        self.items.append(Violation(_pointer((*self.base, *where)), message, rule, severity))
