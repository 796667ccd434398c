"""The ``omezarr`` command line: one small function pair per subcommand.

To add a subcommand, write ``_add_NAME_arguments(parser)`` and ``_run_NAME(args) -> int`` and
list them in :data:`_COMMANDS`. A run function returns the exit code; it raises
:class:`CommandError` for problems the user can fix (bad arguments, unreadable paths), which
:func:`main` prints as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CommandError", "main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 2."""


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _can_print(text: str) -> bool:
    """Whether stdout's encoding can show ``text`` (box drawing, ✓, ×)."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _mark(ok: bool) -> str:
    """✓ or ✗, or plain words where the terminal cannot show them."""
    symbol = "✓" if ok else "✗"
    return symbol if _can_print(symbol) else ("OK" if ok else "FAIL")


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
    except (ConnectionError, PermissionError) as exc:  # the message names the URL already
        raise CommandError(str(exc)) from exc
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


# --------------------------------------------------------------------------- convert, demo, info
# rich is optional: on terminals it draws the progress bar and the level tables; without it, or
# when output is redirected, the same information is printed as plain text. Everything heavy
# is imported inside the run functions so that `omezarr --help` stays fast.


def _rich_console(stream: Any) -> Any:
    """A rich Console writing to ``stream`` if rich is installed and ``stream`` is a terminal."""
    if not getattr(stream, "isatty", lambda: False)():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=stream)


class _ProgressDisplay:
    """Write progress on stderr: a rich bar (bytes, throughput, ETA) on terminals, a plain
    updating line without rich, nothing when stderr is redirected or ``enabled`` is False.

    Called as ``display(what, progress)`` with an :class:`omezarr.engine.Progress`, from the
    writer's threads.
    """

    def __init__(self, enabled: bool) -> None:
        self.console = _rich_console(sys.stderr) if enabled else None
        self.plain = enabled and self.console is None and sys.stderr.isatty()
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, float] = {}

    def __enter__(self) -> _ProgressDisplay:
        if self.console is not None:
            from rich import progress as bars

            self.bar = bars.Progress(
                bars.TextColumn("{task.description}"),
                bars.BarColumn(),
                bars.DownloadColumn(binary_units=True),
                bars.TransferSpeedColumn(),
                bars.TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.stop()
        elif self.started:
            print(file=sys.stderr)

    def __call__(self, what: str, progress: Any) -> None:
        if self.bar is not None:
            if what not in self.tasks:
                self.tasks[what] = self.bar.add_task(what, total=progress.bytes_total)
            self.bar.update(self.tasks[what], completed=progress.bytes_done)
        elif self.plain:
            now = time.perf_counter()
            start = self.started.setdefault(what, now)
            print(f"\r{_progress_line(what, progress, now - start)}", end="", file=sys.stderr)


def _progress_line(what: str, progress: Any, seconds: float) -> str:
    """``image:  45%  12.0 MiB of 26.0 MiB  5.0 MiB/s  ETA 3 s``: the plain progress line."""
    from .inspect import format_bytes

    done, total = progress.bytes_done, max(1, progress.bytes_total)
    rate = done / seconds if seconds > 0 else 0.0
    eta = f"ETA {(total - done) / rate:.0f} s" if rate > 0 else "ETA ?"
    return (
        f"{what}: {100 * done / total:3.0f}%  {format_bytes(done)} of {format_bytes(total)}  "
        f"{format_bytes(rate)}/s  {eta}   "
    )


def _print_levels(title: str, info: Any) -> None:
    """The level table of an image: a rich Table on terminals, aligned text otherwise."""
    from .inspect import LEVEL_COLUMNS, format_levels, level_table

    console = _rich_console(sys.stdout)
    if console is None:
        print(title)
        for line in format_levels(info, ascii_only=not _can_print("×—")):
            print(f"  {line}")
        return
    from rich import box
    from rich.table import Table

    rows = level_table(info)
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for header in rows[0]:
        numeric = LEVEL_COLUMNS.index(header) >= 5
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    for row in rows[1:]:
        table.add_row(*row)
    console.print(table)


def _print_images(info: Any) -> None:
    """Axes, channels and size of an image, its level table, and those of its label images."""
    from .inspect import size_text, summary_lines

    ascii_only = not _can_print("×·→")
    for line in summary_lines(info, ascii_only=ascii_only):
        print(line)
    _print_levels("levels", info)
    for label in info.get("labels", []):
        print(f"{label['path']}: {size_text(label, ascii_only=ascii_only)}")
        _print_levels(f"{label['path']} levels", label)


def _print_written(result: Any) -> int:
    """After a write: bytes, time and throughput, then the validation verdict (exit code)."""
    from .inspect import format_bytes
    from .validate import validate

    images = [result.info, *result.info.get("labels", [])]
    raw = sum(image["bytes"] for image in images)
    stored = sum(image["stored_bytes"] for image in images)
    times = "×" if _can_print("×") else "x"
    ratio = f" ({raw / stored:.1f}{times} smaller)" if stored else ""
    print(
        f"wrote {format_bytes(raw)} as {format_bytes(stored)}{ratio} in {result.seconds:.2f} s "
        f"({format_bytes(raw / max(result.seconds, 1e-6))}/s)"
    )
    report = validate(result.output)
    print(f"{_mark(report.valid)} {report.summary()}")
    if report.format():
        print(report.format())
    return EXIT_OK if report.valid else EXIT_INVALID


@contextlib.contextmanager
def _user_errors(missing: str) -> Iterator[None]:
    """Errors a user can fix become a :class:`CommandError`; warnings become one line each.

    ``missing`` is the message for a FileNotFoundError.
    """
    from .convert import ConversionError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except FileNotFoundError as exc:
            raise CommandError(missing) from exc
        except KeyError as exc:
            raise CommandError(str(exc.args[0]) if exc.args else "KeyError") from exc
        except (ConversionError, ValueError, TypeError, OSError) as exc:
            raise CommandError(str(exc) or type(exc).__name__) from exc
        finally:
            for warning in caught:
                print(f"omezarr: warning: {warning.message}", file=sys.stderr)


def _add_output_arguments(
    parser: argparse.ArgumentParser,
    output_help: str = "the OME-Zarr image to create (a local path)",
) -> None:
    parser.add_argument("output", help=output_help)
    parser.add_argument(
        "--format",
        choices=["0.4", "0.5"],
        default="0.5",
        help="OME-NGFF version: 0.5 (zarr v3, default) or 0.4 (zarr v2)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output (a local one only once the new one is complete)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _run_demo(args: argparse.Namespace) -> int:
    from .convert import write_demo

    with (
        _user_errors(f"{args.output}: no such directory"),
        _ProgressDisplay(not args.quiet) as display,
    ):
        result = write_demo(
            args.output, fmt=args.format, overwrite=args.overwrite, progress=display
        )
    channels = ", ".join(str(c.get("label")) for c in result.info.get("channels", []))
    print(f"{result.output}: synthetic cells ({channels}) with the label image labels/nuclei")
    _print_images(result.info)
    return _print_written(result)


_CONVERT_URLS = (
    "URLs: a zarr array or OME-Zarr image may be read from s3:// or http(s):// (other "
    "formats must be local). OUTPUT may be s3:// (or another writable fsspec URL): it is "
    "written in place, metadata last, and deleted again if the conversion fails; "
    "--overwrite deletes an existing zarr hierarchy there first, --resume finishes a "
    "killed conversion to it. http(s):// is read-only. s3:// takes its credentials and "
    "endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL and "
    "AWS_DEFAULT_REGION (or ~/.aws)."
)


def _add_convert_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _CONVERT_URLS
    parser.add_argument(
        "input",
        help="TIFF / OME-TIFF / ImageJ TIFF, .npy, PNG, JPEG, a zarr array or an OME-Zarr "
        "image (zarr also as an s3:// or http(s):// URL)",
    )
    _add_output_arguments(
        parser, "the OME-Zarr image to create: a local path, or an s3:// URL (see below)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="finish a conversion to OUTPUT that was killed, keeping the chunks it wrote",
    )
    parser.add_argument("--axes", help="the input's axes in file order, e.g. zyx, yxc, tczyx")
    parser.add_argument("--scale", help="pixel sizes, e.g. z=0.5,y=0.1,x=0.1")
    parser.add_argument(
        "--units", help="one unit for all space axes (micrometer) or per axis (x=nm,y=nm,t=s)"
    )
    parser.add_argument(
        "--scale-factors",
        default="auto",
        help="auto (halve y and x down to 256 pixels; default), none, 2,4,8 "
        "or per axis z=1,y=2,x=2;z=2,y=4,x=4",
    )
    parser.add_argument(
        "--method", help="downsampling: resize (default), nearest, local_mean or zoom"
    )
    parser.add_argument("--chunks", help="chunk shape, e.g. 1,64,256,256 or y=512,x=512")
    parser.add_argument(
        "--shards", help="shard shape (OME-NGFF 0.5): auto, 1,64,4096,4096 or y=4096"
    )
    parser.add_argument(
        "--compressor",
        default="default",
        help="blosc-zstd:1 (default; 512 KiB blocks), blosc-lz4:5, zstd:3, gzip:6, lz4 or none",
    )
    parser.add_argument("--memory", help="memory budget, e.g. 512M (default 256M)")
    parser.add_argument("--series", type=int, default=0, help="the image series of a TIFF (0)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan (levels, chunks, codec) only"
    )


def _convert_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`omezarr.convert.convert` from the parsed options."""
    from . import convert as conversion
    from .engine import memory_budget_from
    from .scale import Methods, resolve_method

    def parsed(value: str | None, parse: Callable[[str], Any]) -> Any:
        return None if value is None else parse(value)

    try:
        resolve_method(args.method, Methods.RESIZE)
    except ValueError:
        choices = ", ".join(method.value for method in Methods)
        raise ValueError(f"--method: expected one of {choices}, not {args.method!r}") from None
    try:
        memory_budget_from(args.memory)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"--memory: {str(exc).removeprefix('memory_budget: ')}") from None

    return {
        "fmt": args.format,
        "axes": args.axes,
        "scale": parsed(args.scale, conversion.parse_axis_values),
        "units": parsed(args.units, conversion.parse_units),
        "scale_factors": conversion.parse_scale_factors(args.scale_factors),
        "method": args.method,
        "chunks": parsed(args.chunks, lambda v: conversion.parse_shape_option(v, "--chunks")),
        "shards": parsed(args.shards, lambda v: conversion.parse_shape_option(v, "--shards")),
        "compressor": conversion.parse_compressor(args.compressor),
        "overwrite": args.overwrite,
        "resume": args.resume,
        "memory_budget": args.memory,
        "series": args.series,
        "dry_run": args.dry_run,
    }


def _run_convert(args: argparse.Namespace) -> int:
    from .convert import convert

    # tifffile logs what it finds wrong in a file; the one-line error says what matters.
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    with _user_errors(f"{args.input}: no such file or directory"):
        options = _convert_options(args)
        with _ProgressDisplay(not (args.quiet or args.dry_run)) as display:
            result = convert(args.input, args.output, progress=display, **options)
    source = result.source
    assert source is not None
    arrow, times = ("→", "×") if _can_print("→×") else ("->", "x")
    shape = times.join(str(n) for n in source.data.shape)
    print(
        f"{source.path} ({source.kind}, {source.source_axes} {shape} {source.data.dtype}) "
        f"{arrow} {result.output} (OME-Zarr {result.info['version']}, {source.axes})"
    )
    for note in source.notes:
        print(f"note: {note}")
    _print_images(result.info)
    if result.dry_run:
        print("dry run: nothing was written")
        return EXIT_OK
    return _print_written(result)


def _add_info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="an OME-Zarr image, label image, plate or well (path or URL)")
    parser.add_argument("--json", action="store_true", help="print the description as JSON")
    parser.add_argument(
        "--stats", action="store_true", help="add min/max/mean of the coarsest level"
    )


def _run_info(args: argparse.Namespace) -> int:
    from .inspect import describe, format_description

    with _user_errors(f"{args.path}: no such file or directory"):
        info = describe(args.path, stats=args.stats)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_description(info, ascii_only=not _can_print("├─│└×→·—")))
    return EXIT_OK


# --------------------------------------------------------------------------- thumbnail, view


def _add_thumbnail_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="an OME-Zarr image (a path or a URL)")
    parser.add_argument("output", help="the PNG file to write")
    parser.add_argument(
        "--size", type=int, default=256, help="the largest side in pixels (256; never enlarged)"
    )
    parser.add_argument("--level", type=int, help="the level to read (default: fits --size)")
    plane = parser.add_mutually_exclusive_group()
    plane.add_argument("--z", type=int, help="the z plane of that level (default: the middle)")
    plane.add_argument("--mip", action="store_true", help="maximum-intensity projection over z")
    parser.add_argument("--t", type=int, default=0, help="the time point (0)")
    parser.add_argument("--channels", help="channel indices to show, e.g. 0,2 (default: active)")
    parser.add_argument("--labels", help="draw this label image over the picture")
    parser.add_argument(
        "--opacity", type=float, default=0.5, help="the labels' opacity, 0 to 1 (0.5)"
    )


def _channel_list(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--channels: expected channel indices like 0,2, not {text!r}") from None


def _run_thumbnail(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .reader import open_image
    from .render import choose_level, encode_png, render_plane

    with _user_errors(f"{args.path}: no such file or directory"):
        channels = _channel_list(args.channels)
        image = open_image(args.path)
        level = choose_level(image, args.size) if args.level is None else args.level
        rgb = render_plane(
            image,
            level=level,
            t=args.t,
            z=args.z,
            channels=channels,
            projection="mip" if args.mip else "plane",
            size=args.size,
            label=args.labels,
            label_opacity=args.opacity,
        )
        Path(args.output).write_bytes(encode_png(rgb))
    times = "×" if _can_print("×") else "x"
    shape = times.join(str(n) for n in image.levels[level].shape)
    size = f"{rgb.shape[1]}{times}{rgb.shape[0]}"
    print(f"wrote {args.output}: {size} PNG of level {level} ({shape})")
    return EXIT_OK


def _add_view_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a local OME-Zarr directory")
    parser.add_argument(
        "--port", type=int, default=8000, help="the port on 127.0.0.1 (8000; 0 picks a free one)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open the viewer in a web browser"
    )


def _run_view(args: argparse.Namespace) -> int:
    from .viewer import ViewerServer, serve

    def announce(server: ViewerServer) -> None:
        print(f"omezarr viewer for {server.root}: {server.url}")
        print(f"files for other viewers (CORS, byte ranges): {server.url}data/")
        if server.image is None:
            print(f"note: no image to show ({server.image_error}); files are still served")
        print("press Ctrl-C to stop", flush=True)

    try:
        serve(args.path, port=args.port, open_browser=not args.no_browser, announce=announce)
    except FileNotFoundError as exc:
        raise CommandError(f"{args.path}: not a directory") from exc
    except OSError as exc:
        raise CommandError(
            f"--port {args.port}: cannot listen on 127.0.0.1: {exc.strerror or exc}"
        ) from exc
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    print("stopped")
    return EXIT_OK


# --------------------------------------------------------------------------- verify


def _add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the zarr hierarchy whose chunks to read (a path or a URL)")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="do not report absent chunks (other writers skip chunks equal to the fill value)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _run_verify(args: argparse.Namespace) -> int:
    from .verify import verify

    with _user_errors(f"{args.path}: no such file or directory"):
        report = verify(args.path, allow_missing=args.allow_missing)
    if args.json:
        problems = [
            {"key": p.key, "problem": p.problem, "detail": p.detail} for p in report.problems
        ]
        summary = {
            "target": report.target,
            "arrays": report.arrays,
            "chunks_read": report.chunks_read,
        }
        print(json.dumps({**summary, "ok": report.ok, "problems": problems}, indent=2))
    else:
        print(f"{_mark(report.ok)} {report.format()}")
    return EXIT_OK if report.ok else EXIT_INVALID


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
        print(f"omezarr {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"omezarr {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): not an error worth a traceback.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed stream for exit
        return EXIT_OK
