"""The ``omezarr`` entry point: the subcommands, the parser, and exit codes for every outcome."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .commands import (
    _add_convert_arguments,
    _add_info_arguments,
    _add_output_arguments,
    _add_thumbnail_arguments,
    _add_upgrade_arguments,
    _add_validate_arguments,
    _add_verify_arguments,
    _add_view_arguments,
    _run_convert,
    _run_demo,
    _run_info,
    _run_thumbnail,
    _run_upgrade,
    _run_validate,
    _run_verify,
    _run_view,
)
from .output import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError, terminal_text

__all__ = [
    "main",
]


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------- table and entry

_COMMANDS: tuple[_Command, ...] = (
    _Command(
        "validate",
        "check an OME-Zarr hierarchy against the NGFF schemas and rules",
        _add_validate_arguments,
        _run_validate,
    ),
    _Command(
        "convert",
        "convert TIFF / OME-TIFF, NumPy, PNG/JPEG or zarr data into OME-Zarr",
        _add_convert_arguments,
        _run_convert,
    ),
    _Command("info", "describe an OME-Zarr hierarchy", _add_info_arguments, _run_info),
    _Command(
        "verify",
        "read every chunk and report missing or undecodable ones",
        _add_verify_arguments,
        _run_verify,
    ),
    _Command(
        "demo",
        "write a synthetic cell image with nuclei labels and validate it",
        _add_output_arguments,
        _run_demo,
    ),
    _Command(
        "thumbnail",
        "render a view of an image (channels, plane or projection, labels) as PNG",
        _add_thumbnail_arguments,
        _run_thumbnail,
    ),
    _Command(
        "upgrade",
        "upgrade a whole OME-Zarr hierarchy in place to a newer OME-NGFF version",
        _add_upgrade_arguments,
        _run_upgrade,
    ),
    _Command(
        "view",
        "serve an image on 127.0.0.1: a viewer page, and its files for other viewers",
        _add_view_arguments,
        _run_view,
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
        message = " ".join(str(exc).splitlines())  # one line, whatever a library said
        print(terminal_text(f"omezarr {args.command}: error: {message}"), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"omezarr {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): not an error worth a traceback.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed stream for exit
        return EXIT_OK
