"""One conversion from start to finish: open, plan, stage, write, validate, report."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zarr
import zarr.errors
import zarr.storage

from ..engine.memory import memory_budget_from
from ..engine.targets import Progress
from ..io.archive import ArchiveStore
from ..io.archive_open import open_ozx
from ..io.archive_stream import StreamedArchiveWriter
from ..io.layout import default_chunks
from ..io.storage import (
    local_path,
    open_group,
    read_ngff_attrs,
    remote_archive,
    remote_url,
    write_ngff_attrs,
)
from ..io.zarr_internals import write_key
from ..ngff.axes import pixel_sizes
from ..ngff.documents import valid_axes
from ..ngff.format import CurrentFormat, Format, format_from_version
from ..pyramid.methods import Methods, resolve_method
from ..read import Plate, open_bioformats2raw, open_plate
from ..tools.describe import (
    describe,
    describe_image,
    describe_level,
    level_totals,
)
from ..tools.verify import verify
from ..types import JSONDict
from ..write import write_image, write_multiscale
from ..write.pixels import planned_image
from .channels import omero_of, set_windows
from .collection import write_collection_end, write_collection_start
from .errors import ConversionError, ConversionWarning, InvalidParameterError, Parameter
from .inputs import open_input, series_of
from .options import auto_scale_factors, normalize_unit
from .source import InputImage
from .staging import (
    check_archive_format,
    check_output,
    check_remote_archive_output,
    check_remote_output,
    interrupted_stagings,
    local_output,
    remote_output,
)
from .tiff import tiff_levels
from .zarr_input import carry_labels, input_collection, input_plate, write_plate_like

__all__ = [
    "ConversionResult",
    "ProgressCallback",
    "convert",
]

ProgressCallback = Callable[[str, Progress], None]
"""Called with what is being written (``"image"``, ``"labels/nuclei"``) and its progress."""


# --------------------------------------------------------------------------- converting


@dataclass(frozen=True)
class ConversionResult:
    """What :func:`convert` or :func:`write_demo` did.

    Attributes
    ----------
    output : str
        The output path.
    source : InputImage or None
        The input as opened (its pixels are closed by now); None for the demo.
    info : dict
        The output described by :func:`omezarr.tools.describe.describe`, or, for a dry run, the
        planned levels (``stored_bytes`` None).
    seconds : float
        Wall time of the write.
    dry_run : bool
        True when nothing was written.
    memory_budget : int
        The budget the write ran with, in bytes.
    complete_already : bool
        True when ``resume`` found the output complete (a finished conversion): nothing was
        written.
    """

    output: str
    source: InputImage | None
    info: JSONDict
    seconds: float
    dry_run: bool
    memory_budget: int
    complete_already: bool = False


def _resolve_units(units: str | Mapping[str, str] | None, axes: str) -> dict[str, str]:
    """Units per axis (one string: every space axis), normalised to NGFF names."""
    if units is None:
        return {}
    if isinstance(units, str):
        units = dict.fromkeys((a for a in axes if a in "zyx"), units)
    unknown = [a for a in units if a not in axes]
    if unknown:
        raise InvalidParameterError(
            Parameter("units"), f": axes {unknown} are not among the axes {axes!r}"
        )
    try:
        return {a: normalize_unit(u, "time" if a == "t" else "space") for a, u in units.items()}
    except ValueError as error:
        raise InvalidParameterError(Parameter("units"), f": {error}") from None


def _resolve_shape_option(
    value: Any, parameter: str, shape: tuple[int, ...], axes: str, base: tuple[int, ...]
) -> Any:
    """None becomes ``base``, per-axis dicts full tuples (unnamed axes from ``base``).

    ``parameter`` is the name of the argument (``chunks`` or ``shards``), for errors.
    """
    if value is None:
        return base
    if not isinstance(value, Mapping):
        if isinstance(value, tuple) and len(value) != len(shape):
            raise InvalidParameterError(
                Parameter(parameter),
                f": {len(value)} sizes for the {len(shape)} axes {axes}; give "
                f"{len(shape)} or name axes, e.g. y=256,x=256",
            )
        return value
    unknown = [a for a in value if a not in axes]
    if unknown:
        raise InvalidParameterError(
            Parameter(parameter), f": axes {unknown} are not among the axes {axes!r}"
        )
    return tuple(int(value.get(a, b)) for a, b in zip(axes, base, strict=True))


def _finished_before(output: str | os.PathLike[str]) -> bool:
    """Whether a conversion to the local ``output`` finished: an image is there, whole (every
    chunk stored and decodable), and no staging directory of a killed one is beside it."""
    target = local_path(output, "output")
    if not target.exists() or interrupted_stagings(target) or not _holds_image(target):
        return False
    report = verify(os.fspath(target))
    if not report.ok:
        raise ConversionError(
            f"{target}: exists but is not whole ({len(report.problems)} chunk problems, see "
            "omezarr verify); nothing to resume: convert again with ",
            Parameter("overwrite", True),
        )
    return True


def _holds_image(target: Path | str | zarr.Group) -> bool:
    """Whether an OME-Zarr image (with its multiscales metadata) is at ``target``."""
    try:
        group = open_group(target, mode="r")
    except FileNotFoundError:  # zarr's "no group here" errors are FileNotFoundErrors too
        return False
    return "multiscales" in read_ngff_attrs(group)


def _dry_run_info(
    group: zarr.Group,
    fmt: Format,
    axes: str,
    units: dict[str, str],
    scale: dict[str, float],
    omero: JSONDict | None,
    name: str | None,
) -> JSONDict:
    """The planned levels of a write made with compute=False into a memory store."""
    levels = []
    shape0: tuple[int, ...] = ()
    for path in sorted(group.array_keys(), key=lambda p: int(p[1:])):
        array = group[path]
        assert isinstance(array, zarr.Array)
        shape0 = shape0 or array.shape
        level_scale = [
            scale.get(a, 1.0) * n0 / n for a, n0, n in zip(axes, shape0, array.shape, strict=True)
        ]
        levels.append(describe_level(array, path, level_scale, stored=False))
    axes_list = valid_axes(axes, units or None, fmt, len(axes))
    info: JSONDict = {
        "kind": "image",
        "path": ".",
        "name": name,
        "version": fmt.version,
        "zarr_format": fmt.zarr_format,
        "axes": [a if isinstance(a, dict) else {"name": a} for a in axes_list or []],
        "levels": levels,
        **level_totals(levels),
    }
    if omero is not None:
        info["channels"] = [
            {k: c[k] for k in ("label", "color") if k in c} for c in omero["channels"]
        ]
    return info


def convert(
    input_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    fmt: Format | str | None = None,
    axes: str | None = None,
    scale: Mapping[str, float] | None = None,
    units: str | Mapping[str, str] | None = None,
    scale_factors: str | Sequence[int] | Sequence[dict[str, int]] = "auto",
    method: Methods | str | None = None,
    chunks: Sequence[int] | Mapping[str, int] | None = None,
    shards: str | Sequence[int] | Mapping[str, int] | None = None,
    compressor: Any = "default",
    overwrite: bool = False,
    memory_budget: int | str | None = None,
    series: int | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    resume: bool = False,
    use_existing_levels: bool = False,
) -> ConversionResult:
    """Convert a TIFF / OME-TIFF, ``.npy``, PNG/JPEG or zarr input into an OME-Zarr image.

    The input is read region by region, so memory stays within ``memory_budget`` whatever
    its size. Pixel sizes, units, channel names and colours found in the file are written
    unless ``scale``/``units`` override them.

    Parameters
    ----------
    input_path : str or os.PathLike
        The input (see :func:`open_input`): a local path or ``file://`` URL, or, for zarr
        arrays and OME-Zarr images, a remote URL (``s3://``, ``http(s)://``).
    output : str or os.PathLike
        The OME-Zarr image to create: a local path or ``file://`` URL (written through a
        staging directory, see :func:`staged_output`), or a writable remote URL such as
        ``s3://bucket/image.ome.zarr`` (written in place, see :func:`remote_output`).
        ``http(s)://`` URLs are read-only and refused. Credentials and endpoint for ``s3://``
        come from the environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
        ``AWS_ENDPOINT_URL``, …).
    fmt : Format or str, optional
        ``"0.5"`` (zarr v3, default), ``"0.4"`` (zarr v2) or ``"0.6"`` (zarr v3 with
        coordinate systems).
    axes : str, optional
        The input's axes in file order, overriding the file (see :func:`open_input`).
    scale : dict of str to float, optional
        Pixel sizes per axis, overriding the file's.
    units : str or dict of str to str, optional
        One unit for every space axis, or units per axis, overriding the file's.
    scale_factors : "auto", list of int or list of dict, default "auto"
        As :func:`omezarr.writer.write_image`; ``"auto"`` halves y and x until the coarsest
        level fits in 256 × 256.
    method : Methods or str, optional
        Downsampling method; default ``resize``.
    chunks, shards : tuple of int or dict of str to int, optional
        Chunk and shard shapes; dicts give some axes (others keep the default); shards may be
        ``"auto"`` (zarr v3 only).
    compressor : codec, None or "default", default "default"
        A numcodecs or zarr codec (see :func:`parse_compressor`), None for none.
    resume : bool, default False
        Finish a conversion to ``output`` that was killed: its hidden staging directory (for
        a remote URL: the partial output itself) is reused and only missing or broken chunks
        are written (see ``write_image(resume=True)``).
    overwrite : bool, default False
        Replace an existing output, only if it is a zarr hierarchy: a local one only once the
        new one is complete; a remote one is deleted before writing (object stores cannot
        swap it atomically).
    memory_budget : int or str, optional
        e.g. ``"512M"``; default ``$OMEZARR_MEMORY_BUDGET`` or 256 MiB.
    series : int, optional
        The one series of a multi-series TIFF to convert. By default every series is: a file
        of one series gives one image; a file of several (a multi-series OME-TIFF, a slide
        with its label and macro images) gives a bioformats2raw collection — series ``0/``,
        ``1/``, … and ``OME/`` listing them, with the file's OME-XML as
        ``OME/METADATA.ome.xml`` — the layout readers of bioformats2raw output understand.
    use_existing_levels : bool, default False
        Copy the resolution levels a pyramidal TIFF stores (OME-TIFF SubIFDs, Aperio SVS)
        rather than computing a pyramid, when every level's y and x are the previous one's
        divided by a whole factor (rounded either way) and its other axes are level 0's;
        otherwise the pyramid is computed as usual, with a note saying why.
    dry_run : bool, default False
        Plan only: ``info`` lists the levels, chunks, shards and codec; nothing is written.
    progress : callable, optional
        Called with ``("image", Progress)`` after every region written.

    Returns
    -------
    ConversionResult

    Raises
    ------
    FileNotFoundError
        If a local input does not exist.
    ConversionError
        For unsupported or unreadable inputs and outputs that cannot be written (existing
        without ``overwrite``, read-only URLs); ``error.parameter`` names the parameter that
        would help, if one does (e.g. ``"overwrite"``).
    ConnectionError, PermissionError
        If a remote input or output cannot be reached or refuses access.
    InvalidParameterError
        A ValueError: for arguments that do not fit the input or each other; the message
        starts with the parameter's name and ``error.parameter`` holds it (e.g. ``"units"``).
        Nothing is written then.
    ValueError, TypeError
        For other invalid arguments, as the writer reports them (``memory_budget``,
        ``method``, ``compressor``); nothing is written then.

    Notes
    -----
    A failed conversion leaves nothing behind: a local output's staging directory is removed
    and an existing output kept; a remote output is deleted again, unless ``resume`` found a
    partial output there (kept, to resume once more). A conversion that is killed leaves a
    hidden staging directory beside a local output, or an output without image metadata at a
    remote URL; ``resume=True`` finishes either.

    Examples
    --------
    >>> convert("cells.ome.tif", "cells.ome.zarr", shards="auto")  # doctest: +SKIP
    >>> convert("cells.ome.tif", "s3://bucket/cells.ome.zarr")  # doctest: +SKIP
    """
    resolved_fmt = format_from_version(fmt) if isinstance(fmt, str) else fmt or CurrentFormat()
    if shards is not None and resolved_fmt.zarr_format != 3:
        raise InvalidParameterError(
            Parameter("shards"),
            ": shards need OME-NGFF 0.5 (zarr v3); add ",
            Parameter("fmt", "0.5"),
        )
    budget = memory_budget_from(memory_budget)
    resolved_method = resolve_method(method, Methods.RESIZE)
    remote = remote_url(output)
    check_archive_format(output, resolved_fmt)
    if not dry_run:
        # Refused before the input is opened; checked again right before writing.
        if remote is None and resume and _finished_before(output):
            # --resume of a conversion that finished: the image is checked, not written again.
            return ConversionResult(
                os.fspath(output), None, describe(output), 0.0, False, budget, True
            )
        if remote is None:
            check_output(output, overwrite=overwrite)
        elif remote_archive(remote) is not None:
            check_remote_archive_output(remote, overwrite=overwrite, resume=resume)
        else:
            check_remote_output(remote, overwrite=overwrite, resume=resume)
    layout = _input_layout(input_path, series)
    options = _ImageOptions(
        scale, units, chunks, shards, compressor, scale_factors, resolved_method, budget
    )

    def opened(part: _Part) -> contextlib.AbstractContextManager[InputImage]:
        return open_input(part.source, axes=axes, series=part.series, memory_budget=budget)

    with contextlib.ExitStack() as inputs:
        image = inputs.enter_context(opened(layout.parts[0]))
        arguments, omero = _image_arguments(image, resolved_fmt, options)
        if dry_run:
            # Planned, not computed: no task graph, so any size of input costs the same.
            group = planned_image(image.data, **arguments)
            info = _dry_run_info(
                group, resolved_fmt, image.axes, image.units, image.scale, omero, arguments["name"]
            )
            if len(layout.parts) > 1:
                info[layout.kind] = [part.path for part in layout.parts]  # each planned alike
            return ConversionResult(os.fspath(output), image, info, 0.0, True, budget)
        expected = _nominal_bytes(image)  # plans an S3 upload's parts
        for part in layout.parts[1:]:  # every image is checked before anything is written
            with opened(part) as other:
                _image_arguments(other, resolved_fmt, options)
                expected += _nominal_bytes(other)
        start = time.perf_counter()

        def write_one(
            part: _Part, source: InputImage, target: str | zarr.Group, resuming: bool, what: str
        ) -> None:
            arguments, _ = _image_arguments(source, resolved_fmt, options)
            report = None if progress is None else (lambda p: progress(what, p))
            # A conversion killed after its pyramid was complete only needs its windows set.
            if not (resuming and _holds_image(target)):
                with contextlib.ExitStack() as levels:
                    stored = (
                        _stored_pyramid(part, source, axes, levels) if use_existing_levels else None
                    )
                    if stored is not None:
                        write_multiscale(
                            stored, target, resume=resuming, progress=report, **_copied(arguments)
                        )
                    else:
                        write_image(
                            source.data, target, progress=report, resume=resuming, **arguments
                        )
            _keep_as_files(
                source, target, with_ome_xml=layout.kind == "image" and layout.keep_ome_xml
            )
            # The label images of an OME-Zarr input go with it (see zarr_input.carry_labels).
            carry_labels(source, target, arguments, resume=resuming, progress=progress)
            windows_set = set_windows(target)
            _release_kept(target)
            if not windows_set:  # a coarsest level too large to keep while streaming
                warnings.warn(
                    ConversionWarning(
                        f"{output}: the channel windows are the pixel type's range: the coarsest "
                        "level is too large to read back from an archive streamed to object "
                        "storage; pass --scale-factors with more levels"
                    ),
                    stacklevel=2,
                )

        def write(target: str | zarr.Group, resuming: bool) -> None:
            if layout.kind == "image":
                write_one(layout.parts[0], image, target, resuming, "image")
                return
            root = open_group(target, mode="a", zarr_format=resolved_fmt.zarr_format)
            if layout.kind == "series":
                write_collection_start(root, resolved_fmt)
            for part in layout.parts:  # one image open at a time: a plate may have thousands
                with opened(part) as source:
                    what = f"series {part.path}" if layout.kind == "series" else part.path
                    write_one(part, source, root.require_group(part.path), resuming, what)
            if layout.kind == "series":
                write_collection_end(root, resolved_fmt, len(layout.parts), layout.ome_xml)
            else:
                assert layout.plate is not None
                write_plate_like(root, layout.plate, resolved_fmt)

        if remote is None:
            with local_output(output, overwrite=overwrite, resume=resume) as (target, resuming):
                write(target, resuming)
            written: Path | str = local_path(output, "output")
        elif remote_archive(remote) is not None:
            with open_ozx(remote, mode="w", expected_bytes=expected) as root:  # streamed
                write(root, False)
            written = remote
        else:
            with remote_output(remote, overwrite=overwrite, resume=resume) as resuming:
                write(remote, resuming)
            written = remote
        seconds = time.perf_counter() - start
    return ConversionResult(os.fspath(output), image, _described(written), seconds, False, budget)


def _release_kept(target: str | zarr.Group) -> None:
    """Let an archive streamed to S3 drop what it kept of the image at ``target`` for reading
    back: its windows are set, and the next image of a plate or collection needs the room."""
    if isinstance(target, zarr.Group) and isinstance(target.store, ArchiveStore):
        archive = target.store.archive
        if isinstance(archive, StreamedArchiveWriter):
            archive.release(target.path)


def _nominal_bytes(image: InputImage) -> int:
    """The uncompressed bytes of ``image`` and its pyramid (at most a third more)."""
    count = math.prod(int(n) for n in image.data.shape)
    return count * int(image.data.dtype.itemsize) * 4 // 3


def _described(written: Path | str) -> JSONDict:
    """describe() of the output; a collection's or plate's info also describes every image
    (``images``: each series, or each field of each well)."""
    info = describe(written)
    if info["kind"] == "bioformats2raw":
        collection = open_bioformats2raw(written)
        info["images"] = [
            describe_image(collection.image(path), path=path) for path in collection.series
        ]
    elif info["kind"] == "plate":
        plate = open_plate(written)
        info["images"] = [
            describe_image(plate.well(well.path).image(field), path=f"{well.path}/{field}")
            for well in plate.wells
            for field in plate.well(well.path).paths
        ]
    return info


@dataclass(frozen=True)
class _Part:
    """One image of a conversion: read from ``source`` (``series`` of a TIFF), written at
    ``path`` below the output's root (``""``: the root itself)."""

    source: str | os.PathLike[str]
    series: int
    path: str


@dataclass(frozen=True)
class _Layout:
    """What a conversion writes: one ``image``, a file's ``series`` (a bioformats2raw
    collection, with the file's OME-XML) or the fields of a ``plate``."""

    kind: str
    parts: list[_Part]
    ome_xml: str | None = None
    plate: Plate | None = None
    keep_ome_xml: bool = True
    """Whether an ``image`` keeps its input's OME-XML beside it."""


def _input_layout(input_path: str | os.PathLike[str], series: int | None) -> _Layout:
    """The images that converting ``input_path`` writes, and where."""
    plate = input_plate(input_path)
    if plate is not None:
        location = os.fspath(input_path).rstrip("/")
        fields = [
            f"{well.path}/{field}" for well in plate.wells for field in plate.well(well.path).paths
        ]
        if not fields:
            raise ConversionError(f"{input_path}: the plate has no field images to convert")
        return _Layout("plate", [_Part(f"{location}/{f}", 0, f) for f in fields], plate=plate)
    collection = input_collection(input_path)
    if collection is not None:  # an OME-Zarr collection: each series, the OME-XML kept
        paths, xml = collection
        location = os.fspath(input_path).rstrip("/")
        if not paths:
            raise ConversionError(f"{input_path}: the collection has no series to convert")
        if series is not None:
            if not 0 <= series < len(paths):
                raise InvalidParameterError(
                    Parameter("series"), f": {input_path} has series 0 to {len(paths) - 1}"
                )
            return _Layout("image", [_Part(f"{location}/{paths[series]}", 0, "")])
        return _Layout(
            "series", [_Part(f"{location}/{s}", 0, str(i)) for i, s in enumerate(paths)], xml
        )
    count, ome_xml = series_of(input_path)
    if series is not None:
        # One series of several: the file's OME-XML describes them all, so it is not kept
        # beside one image (its Image 0 would be another series).
        return _Layout("image", [_Part(input_path, series, "")], keep_ome_xml=count == 1)
    if count == 1:
        return _Layout("image", [_Part(input_path, 0, "")])
    return _Layout("series", [_Part(input_path, i, str(i)) for i in range(count)], ome_xml)


@dataclass(frozen=True)
class _ImageOptions:
    """What the caller of :func:`convert` asked of every image written."""

    scale: Mapping[str, float] | None
    units: str | Mapping[str, str] | None
    chunks: Sequence[int] | Mapping[str, int] | None
    shards: str | Sequence[int] | Mapping[str, int] | None
    compressor: Any
    scale_factors: str | Sequence[int] | Sequence[dict[str, int]]
    method: Methods
    budget: int


_ImagePlan = tuple[dict[str, Any], JSONDict]
"""write_image's arguments for one input image, and its omero metadata."""


def _image_arguments(image: InputImage, fmt: Format, options: _ImageOptions) -> _ImagePlan:
    """write_image's arguments for ``image`` (its pixel sizes and units overridden as asked)."""
    image.scale.update(pixel_sizes(options.scale, tuple(image.axes)))
    image.units.update(_resolve_units(options.units, image.axes))
    shape = tuple(int(n) for n in image.data.shape)
    # omezarr's default chunks, not the input's: TIFF strips can be a single row.
    base_chunks = default_chunks(shape, image.axes, image.data.dtype.itemsize)
    storage: dict[str, Any] = {
        "compressor": options.compressor,
        "chunks": _resolve_shape_option(options.chunks, "chunks", shape, image.axes, base_chunks),
    }
    if options.shards is not None:
        storage["shards"] = _resolve_shape_option(
            options.shards, "shards", shape, image.axes, storage["chunks"]
        )
    omero = omero_of(image)
    arguments: dict[str, Any] = {
        "scale_factors": (
            auto_scale_factors(shape, image.axes)
            if options.scale_factors == "auto"
            else list(options.scale_factors)
        ),
        "method": options.method,
        "fmt": fmt,
        "axes": image.axes,
        "storage_options": storage,
        "scale": dict(image.scale) or None,
        "axes_units": dict(image.units) or None,
        "memory_budget": options.budget,
        "name": image.name or Path(image.path).name.split(".")[0],
        "metadata": _provenance(f"converted from {Path(image.path).name}", options.method),
    }
    if _original_json(image) is not None and not _kept_as_file(image):
        arguments["metadata"]["original_metadata"] = image.original_metadata
    arguments["omero"] = omero
    return arguments, omero


_ORIGINAL_INLINE = 64 * 1024
"""Original metadata up to this size (as JSON) goes into the multiscales ``metadata``; more
goes to ``OME/original_metadata.json`` beside it (metadata documents are read whole)."""


def _original_json(image: InputImage) -> str | None:
    """The input's original metadata as strict JSON; None if it has none, or holds what JSON
    cannot (a NaN, say: then it is left out with a note rather than failing the write)."""
    if not image.original_metadata:
        return None
    try:
        return json.dumps(image.original_metadata, allow_nan=False)
    except (TypeError, ValueError) as error:
        note = f"the file's original metadata is not kept: it is no strict JSON ({error})"
        if note not in image.notes:
            image.notes.append(note)
        return None


def _kept_as_file(image: InputImage) -> bool:
    document = _original_json(image)
    return document is not None and len(document) > _ORIGINAL_INLINE


def _keep_as_files(image: InputImage, target: str | zarr.Group, *, with_ome_xml: bool) -> None:
    """Keep what the input says of itself that is not NGFF: its OME-XML as
    ``OME/METADATA.ome.xml`` (the bioformats2raw convention; a collection keeps it at its
    root instead) and original metadata too large for the multiscales ``metadata``."""
    xml = image.ome_xml if with_ome_xml else None
    large = image.original_metadata if _kept_as_file(image) else None
    if xml is None and large is None:
        return
    group = open_group(target, mode="a")
    prefix = f"{group.path}/" if group.path else ""
    if xml is not None:
        write_key(group.store, f"{prefix}OME/METADATA.ome.xml", xml.encode("utf-8"))
    if large is not None:
        document = json.dumps(large, indent=1).encode("utf-8")
        write_key(group.store, f"{prefix}OME/original_metadata.json", document)
        write_ngff_attrs(
            group,
            {"multiscales": _with_original_file(read_ngff_attrs(group).get("multiscales"))},
        )


def _with_original_file(multiscales: Any) -> Any:
    """``multiscales`` whose first entry's ``metadata`` names the original metadata file."""
    if isinstance(multiscales, list) and multiscales and isinstance(multiscales[0], dict):
        first = dict(multiscales[0])
        first["metadata"] = {
            **first.get("metadata", {}),
            "original_metadata": "OME/original_metadata.json",
        }
        return [first, *multiscales[1:]]
    return multiscales


_TIFF_KINDS = frozenset({"OME-TIFF", "ImageJ TIFF", "Aperio SVS", "TIFF"})


def _stored_pyramid(
    part: _Part, image: InputImage, axes: str | None, stack: contextlib.ExitStack
) -> list[Any] | None:
    """The levels the TIFF of ``part`` stores, if they make a pyramid NGFF can describe
    (each level's y and x the previous one's divided by a whole factor, rounded either way,
    its other axes level 0's); None, with a note saying why, otherwise."""
    if image.kind not in _TIFF_KINDS:
        image.notes.append(f"{image.kind} inputs store no levels: the pyramid is computed")
        return None
    levels = stack.enter_context(tiff_levels(part.source, series=part.series, axes=axes))
    if len(levels) < 2:
        image.notes.append("the file stores no pyramid: the pyramid is computed")
        return None
    for index, (larger, smaller) in enumerate(itertools.pairwise(levels), start=1):
        problem = _not_a_downsampling(tuple(larger.shape), tuple(smaller.shape), image.axes)
        if problem is not None:
            image.notes.append(
                f"the file's level {index} {tuple(smaller.shape)} {problem}: the pyramid is "
                "computed instead"
            )
            return None
    image.notes.append(f"the file's {len(levels)} levels are copied, not computed")
    return levels


def _not_a_downsampling(larger: tuple[int, ...], smaller: tuple[int, ...], axes: str) -> str | None:
    """Why ``smaller`` is no whole-factor downsampling of ``larger`` in y and x (None if it is):
    each of y and x divided by a whole factor (rounded down or up), one of them by more than 1,
    every other axis unchanged."""
    if len(larger) != len(smaller):
        return "has other axes than the level before"
    shrinks = False
    for letter, big, small in zip(axes, larger, smaller, strict=True):
        if letter not in "yx":
            if big != small:
                return f"changes axis {letter}"
            continue
        candidates = {big // small, -(-big // small)} if small else set()
        if not any(f >= 1 and small in (big // f, -(-big // f)) for f in candidates):
            return f"is no whole-factor reduction of {big} pixels along {letter}"
        shrinks = shrinks or small < big
    return None if shrinks else "is no smaller than the level before"


def _copied(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """write_image's ``arguments`` for write_multiscale: the levels are the file's."""
    copied = {k: v for k, v in arguments.items() if k not in ("scale_factors", "method")}
    metadata = dict(copied["metadata"])
    metadata["description"] = f"{metadata['description']}; levels copied from the file"
    metadata.pop("method", None)
    copied["metadata"] = metadata
    return copied


def _provenance(description: str, method: Methods) -> JSONDict:
    """The multiscales ``metadata`` entry: how the pyramid was made, and by what."""
    from .. import __version__

    return {
        "description": description,
        "method": f"omezarr.scale.{method.value}",
        "version": __version__,
    }
