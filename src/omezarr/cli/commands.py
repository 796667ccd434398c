"""One pair of functions per subcommand: its arguments and its run."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from typing import Any

from .flags import flag
from .output import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    _can_print,
    _mark,
    _print_images,
    _print_written,
    _ProgressDisplay,
    _user_errors,
    terminal_text,
)

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
    from ..validate import validate  # imported here so that `omezarr --help` stays fast

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
        print(terminal_text(f"{_mark(report.valid)} {report.summary()}"))
        details = report.format()
        if details:
            print(terminal_text(details))
    if not report.readable:
        return EXIT_USAGE  # "unreadable": nothing of it could be checked
    return EXIT_OK if report.valid else EXIT_INVALID


def _add_output_arguments(
    parser: argparse.ArgumentParser,
    output_help: str = "the OME-Zarr image to create (a local path)",
) -> None:
    parser.add_argument("output", help=output_help)
    parser.add_argument(
        "--format",
        choices=["0.4", "0.5", "0.6"],
        default="0.5",
        help="OME-NGFF version: 0.5 (zarr v3, default), 0.4 (zarr v2) or 0.6 (coordinate "
        "systems; not yet read by every viewer)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output (a local one only once the new one is complete)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _run_demo(args: argparse.Namespace) -> int:
    from ..convert import write_demo

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
    parser.add_argument(
        "--series",
        type=int,
        default=None,
        help="one image series of a TIFF (default: every series; several make a bioformats2raw"
        " collection)",
    )
    parser.add_argument(
        "--use-existing-levels",
        action="store_true",
        help="copy the resolution levels a pyramidal TIFF stores (OME-TIFF SubIFDs, SVS) "
        "instead of computing them, when each halves (or quarters …) the one before",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan (levels, chunks, codec) only"
    )


def _convert_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`omezarr.convert.convert` from the parsed options."""
    from .. import convert as conversion
    from ..pyramid.methods import Methods, resolve_method

    def parsed(value: str | None, parse: Callable[[str], Any]) -> Any:
        return None if value is None else parse(value)

    try:
        resolve_method(args.method, Methods.RESIZE)
    except ValueError:
        choices = ", ".join(method.value for method in Methods)
        raise ValueError(
            f"{flag('method')}: expected one of {choices}, not {args.method!r}"
        ) from None

    return {
        "fmt": args.format,
        "axes": args.axes,
        "scale": parsed(args.scale, lambda v: conversion.parse_axis_values(v, flag("scale"))),
        "units": parsed(args.units, conversion.parse_units),
        "scale_factors": conversion.parse_scale_factors(args.scale_factors),
        "method": args.method,
        "chunks": parsed(args.chunks, lambda v: conversion.parse_shape_option(v, flag("chunks"))),
        "shards": parsed(args.shards, lambda v: conversion.parse_shape_option(v, flag("shards"))),
        "compressor": conversion.parse_compressor(args.compressor),
        "overwrite": args.overwrite,
        "resume": args.resume,
        "memory_budget": args.memory,
        "series": args.series,
        "use_existing_levels": args.use_existing_levels,
        "dry_run": args.dry_run,
    }


_FIELDS_SHOWN = 2
"""Fields of a converted plate whose levels are printed."""


def _run_convert(args: argparse.Namespace) -> int:
    from ..convert import convert

    # tifffile logs what it finds wrong in a file; the one-line error says what matters.
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    with _user_errors(f"{args.input}: no such file or directory"):
        options = _convert_options(args)
        with _ProgressDisplay(not (args.quiet or args.dry_run)) as display:
            result = convert(args.input, args.output, progress=display, **options)
    if result.complete_already:
        print(
            terminal_text(
                f"{result.output}: complete already (every chunk checked); nothing to resume"
            )
        )
        _print_images(result.info)
        return EXIT_OK
    source = result.source
    assert source is not None
    arrow, times = ("→", "×") if _can_print("→×") else ("->", "x")
    shape = times.join(str(n) for n in source.data.shape)
    images = result.info.get("images")
    if images is not None and result.info["kind"] == "plate":
        info = result.info
        print(
            f"{args.input} (OME-Zarr plate, {len(info['wells'])} wells) {arrow} {result.output} "
            f"(OME-Zarr {info['version']} plate, {len(images)} fields)"
        )
        for image in images[:_FIELDS_SHOWN]:
            print(terminal_text(f"field {image['path']}:"))
            _print_images(image)
        if len(images) > _FIELDS_SHOWN:
            print(f"... and {len(images) - _FIELDS_SHOWN} more fields, converted alike")
    elif images is not None:  # several series: a bioformats2raw collection
        print(
            f"{source.path} ({source.kind}, {len(images)} series) {arrow} {result.output} "
            f"(OME-Zarr {result.info['version']}, bioformats2raw collection)"
        )
        for image in images:
            print(terminal_text(f"series {image['path']}: {image.get('name') or ''}".rstrip()))
            _print_images(image)
    else:
        print(
            f"{source.path} ({source.kind}, {source.source_axes} {shape} {source.data.dtype}) "
            f"{arrow} {result.output} (OME-Zarr {result.info['version']}, {source.axes})"
        )
        for note in source.notes:
            print(terminal_text(f"note: {note}"))
        for kind, what in (
            ("series", "series, as a bioformats2raw collection"),
            ("plate", "fields of a plate"),
        ):
            parts = result.info.get(kind) if result.dry_run else None
            if isinstance(parts, list):  # several images planned: the first one is shown
                print(f"note: {len(parts)} {what}; the plan below is the first one's")
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
    from ..tools.describe import describe, format_description

    with _user_errors(f"{args.path}: no such file or directory"):
        info = describe(args.path, stats=args.stats)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(terminal_text(format_description(info, ascii_only=not _can_print("├─│└×→·—"))))
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

    from ..read import open_image
    from ..tools.render import choose_level, encode_png, render_plane

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
    from ..tools.viewer import ViewerServer, serve

    def announce(server: ViewerServer) -> None:
        print(f"omezarr viewer for {server.root}: {server.url}")
        print(f"files for other viewers (CORS, byte ranges): {server.url}data/")
        if server.image is None:
            print(
                terminal_text(
                    f"note: no image to show ({server.image_error}); files are still served"
                )
            )
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
    absence = parser.add_mutually_exclusive_group()
    absence.add_argument(
        "--allow-missing",
        action="store_true",
        help="report no absent chunk, even in arrays omezarr marked complete",
    )
    absence.add_argument(
        "--require-all",
        action="store_true",
        help="report absent chunks in every array (by default only in arrays marked complete: "
        "other writers leave out chunks equal to the fill value)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _run_verify(args: argparse.Namespace) -> int:
    from ..tools.verify import verify

    with _user_errors(f"{args.path}: no such file or directory"):
        report = verify(args.path, allow_missing=args.allow_missing, require_all=args.require_all)
    if args.json:
        problems = [
            {"key": p.key, "problem": p.problem, "detail": p.detail} for p in report.problems
        ]
        summary = {
            "target": report.target,
            "arrays": report.arrays,
            "chunks_read": report.chunks_read,
            "absent": report.absent,
        }
        print(json.dumps({**summary, "ok": report.ok, "problems": problems}, indent=2))
    else:
        print(terminal_text(f"{_mark(report.ok)} {report.format()}"))
    return EXIT_OK if report.ok else EXIT_INVALID


# --------------------------------------------------------------------------- upgrade


def _add_upgrade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a local OME-Zarr directory (image, plate or collection)")
    parser.add_argument(
        "--to",
        choices=["0.5", "0.6"],
        required=True,
        help="the OME-NGFF version to reach: 0.6 (from 0.4 or 0.5) or 0.5 (from 0.4)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list the groups that would change; write nothing"
    )


def _run_upgrade(args: argparse.Namespace) -> int:
    from ..write.upgrade import upgrade

    with _user_errors(f"{args.path}: no such file or directory"):
        report = upgrade(args.path, args.to, dry_run=args.dry_run)
    print(terminal_text(report.format()))
    return EXIT_OK
