"""The ``omezarr`` command line: one small function pair per subcommand.

To add a subcommand, write ``_add_NAME_arguments(parser)`` and ``_run_NAME(args) -> int`` and
list them in :data:`_COMMANDS`. A run function returns the exit code; it raises
:class:`CommandError` for problems the user can fix (bad arguments, unreadable paths), which
:func:`main` prints as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["CommandError", "main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 2."""


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _mark(ok: bool) -> str:
    """✓ or ✗, or plain words where the terminal cannot show them."""
    symbol = "✓" if ok else "✗"
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        symbol.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "OK" if ok else "FAIL"
    return symbol


# --------------------------------------------------------------------------- validate


def _add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the OME-Zarr group to check (a path or a URL)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="use the strict NGFF schemas (names, colours and versions required)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _run_validate(args: argparse.Namespace) -> int:
    from .validate import validate  # imported here so that `omezarr --help` stays fast

    try:
        report = validate(args.path, strict=args.strict)
    except FileNotFoundError as exc:
        raise CommandError(f"{args.path}: no such file or directory") from exc
    except OSError as exc:
        raise CommandError(f"{args.path}: cannot be read: {exc}") from exc
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{_mark(report.valid)} {report.summary()}")
        details = report.format()
        if details:
            print(details)
    return EXIT_OK if report.valid else EXIT_INVALID


# --------------------------------------------------------------------------- table and entry

_COMMANDS: tuple[_Command, ...] = (
    _Command(
        "validate",
        "check an OME-Zarr hierarchy against the NGFF schemas and rules",
        _add_validate_arguments,
        _run_validate,
    ),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omezarr", description="Write, read and check OME-Zarr (OME-NGFF) data."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in _COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit code.

    Returns
    -------
    int
        0 on success (a valid target), 1 when the target is invalid, 2 for usage errors and
        unreadable paths.

    Examples
    --------
    >>> main(["validate", "image.zarr"])  # doctest: +SKIP
    ✓ image.zarr: valid OME-Zarr 0.5 image (0 errors, 0 warnings)
    0
    """
    parser = _parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(run(args))
    except CommandError as exc:
        print(f"omezarr {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
