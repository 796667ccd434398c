"""What an OME-Zarr hierarchy holds, as JSON-ready data and as a text tree (``omezarr info``).

:func:`describe` reads metadata and array headers only (plus, with ``stats``, the coarsest
level of each image); :func:`format_description` turns its result into the tree the command
line prints. Both work for images, label images, ``labels`` groups, plates, wells and
bioformats2raw collections.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import dask
import dask.threaded
import numpy as np
import zarr

from ..io.codecs import BLOSC_SHUFFLE_NAMES
from ..io.storage import GroupLike, group_zarr_format
from ..io.units import decoding
from ..read import Bioformats2Raw, Image, LabelImage, Labels, Plate, Scene, Well, open_ome_zarr
from ..types import JSONDict

__all__ = [
    "LEVEL_COLUMNS",
    "coarsest_statistics",
    "codec_name",
    "describe",
    "describe_image",
    "describe_level",
    "format_bytes",
    "format_description",
    "format_levels",
    "format_shape",
    "format_table",
    "level_table",
    "level_totals",
    "size_text",
    "summary_lines",
]


# --------------------------------------------------------------------------- small formatters


def format_bytes(count: float) -> str:
    """A byte count for humans, in binary units.

    Examples
    --------
    >>> format_bytes(512), format_bytes(3 * 2**20), format_bytes(500 * 2**10)
    ('512 B', '3.0 MiB', '500 KiB')
    """
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1000 or unit == "TiB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_shape(shape: Sequence[int] | None, times: str = "×") -> str:
    """``(2, 64, 64)`` as ``2×64×64``; ``—`` for None.

    Examples
    --------
    >>> format_shape((2, 64, 64))
    '2×64×64'
    """
    if shape is None:
        return "—" if times == "×" else "-"
    return times.join(str(int(n)) for n in shape)


def _codec_label(codec: Any) -> str:
    """One codec (zarr v3 or numcodecs) as ``name[:level]``."""
    config: Mapping[str, Any]
    if hasattr(codec, "to_dict"):  # zarr v3 codecs
        described = codec.to_dict()
        name = str(described.get("name", type(codec).__name__))
        config = described.get("configuration", {}) or {}
    elif hasattr(codec, "get_config"):  # numcodecs
        config = dict(codec.get_config())
        name = str(config.pop("id", type(codec).__name__))
    else:
        return type(codec).__name__
    name = name.removeprefix("numcodecs.")
    if name == "blosc":
        shuffle = config.get("shuffle")
        # numcodecs stores the shuffle as a code, zarr v3 by name.
        shuffle_name = (
            BLOSC_SHUFFLE_NAMES.get(shuffle, shuffle) if isinstance(shuffle, int) else shuffle
        )
        label = f"blosc-{config.get('cname', 'lz4')}:{config.get('clevel', 5)}"
        return label if shuffle_name in ("shuffle", None) else f"{label}:{shuffle_name}"
    level = config.get("level", config.get("clevel", config.get("acceleration")))
    return name if level is None else f"{name}:{level}"


def codec_name(compressors: Sequence[Any] | None) -> str:
    """The compressors of an array in the notation of ``omezarr convert --compressor``.

    Examples
    --------
    >>> from zarr.codecs import BloscCodec, ZstdCodec
    >>> codec_name([BloscCodec(cname="zstd", clevel=1, shuffle="shuffle")])
    'blosc-zstd:1'
    >>> codec_name([ZstdCodec(level=3)]), codec_name(())
    ('zstd:3', 'none')
    """
    if not compressors:
        return "none"
    return "+".join(_codec_label(codec) for codec in compressors)


# --------------------------------------------------------------------------- describing


def _ratio(raw: int, stored: int) -> float | None:
    return round(raw / stored, 2) if stored > 0 else None


def describe_level(
    array: zarr.Array, path: str, scale: Sequence[float], *, stored: bool = True
) -> JSONDict:
    """One resolution level as JSON-ready data.

    Parameters
    ----------
    array : zarr.Array
        The level's array.
    path : str
        Its path in the image group.
    scale : sequence of float
        Its pixel size per axis.
    stored : bool, default True
        Measure the bytes it occupies in its store (lists its chunks); False gives None,
        for levels only planned.

    Returns
    -------
    dict
        ``path``, ``shape``, ``dtype``, ``chunks``, ``shards`` (None when unsharded),
        ``compressor`` (as :func:`codec_name`), ``scale``, ``bytes`` (uncompressed),
        ``stored_bytes`` and ``compression_ratio``.
    """
    raw = int(array.nbytes)
    stored_bytes = int(array.nbytes_stored()) if stored else None
    return {
        "path": path,
        "shape": [int(n) for n in array.shape],
        "dtype": str(array.dtype),
        "chunks": [int(n) for n in array.chunks],
        "shards": None if array.shards is None else [int(n) for n in array.shards],
        "compressor": codec_name(array.compressors),
        "scale": [float(s) for s in scale],
        "bytes": raw,
        "stored_bytes": stored_bytes,
        "compression_ratio": None if stored_bytes is None else _ratio(raw, stored_bytes),
    }


def level_totals(levels: Sequence[Mapping[str, Any]]) -> JSONDict:
    """``bytes``, ``stored_bytes`` and ``compression_ratio`` summed over levels."""
    raw = sum(int(level["bytes"]) for level in levels)
    if any(level["stored_bytes"] is None for level in levels):
        return {"bytes": raw, "stored_bytes": None, "compression_ratio": None}
    stored = sum(int(level["stored_bytes"]) for level in levels)
    return {"bytes": raw, "stored_bytes": stored, "compression_ratio": _ratio(raw, stored)}


def _number(value: Any) -> int | float:
    """A NumPy scalar as a JSON number (ints stay ints)."""
    item = np.asarray(value).item()
    if isinstance(item, bool):
        return int(item)
    if isinstance(item, float) and not math.isfinite(item):
        return float(item)
    return item if isinstance(item, int) else round(float(item), 4)


def coarsest_statistics(image: Image) -> list[tuple[Any, Any, float]]:
    """(min, max, mean) of the coarsest level, one per channel (one in all without a c axis).

    Reads the coarsest level only, block by block, so it is cheap and memory stays bounded.
    """
    image.check_decodable(len(image.levels) - 1)
    level = image.levels[-1]
    if "c" in image.axis_letters:  # "C" too: NGFF axis names may be upper case
        axis = image.axis_letters.index("c")
        others = tuple(i for i in range(level.ndim) if i != axis)
        reductions = (level.min(axis=others), level.max(axis=others))
        means = level.mean(axis=others, dtype=np.float64)
    else:
        reductions = (level.min()[None], level.max()[None])
        means = level.mean(dtype=np.float64)[None]
    # The scheduler is passed as a function: naming or defaulting one imports distributed.
    with decoding(f"{image.group.store_path}/{image.paths[-1]}"):
        lows, highs, averages = dask.compute(*reductions, means, scheduler=dask.threaded.get)
    return [(low, high, float(mean)) for low, high, mean in zip(lows, highs, averages, strict=True)]


def _statistics(image: Image) -> JSONDict:
    """min, max and mean of the coarsest level, overall and per channel when there are several."""
    per_channel = coarsest_statistics(image)
    result: JSONDict = {
        "level": image.paths[-1],
        "min": _number(min(low for low, _, _ in per_channel)),
        "max": _number(max(high for _, high, _ in per_channel)),
        "mean": _number(sum(mean for _, _, mean in per_channel) / len(per_channel)),
    }
    if len(per_channel) > 1:
        names = _channel_labels(image)
        result["channels"] = [
            {"label": names[c], "min": _number(lo), "max": _number(hi), "mean": _number(mu)}
            for c, (lo, hi, mu) in enumerate(per_channel)
        ]
    return result


def _channel_labels(image: Image) -> list[str]:
    letters = image.axis_letters
    count = image.levels[0].shape[letters.index("c")] if "c" in letters else 1
    channels = _omero_channels(image)
    return [
        str(channels[c].get("label")) if c < len(channels) and channels[c].get("label") else f"c{c}"
        for c in range(count)
    ]


def _omero_channels(image: Image) -> list[Mapping[str, Any]]:
    channels = (image.omero or {}).get("channels")
    if not isinstance(channels, list):
        return []
    return [c if isinstance(c, Mapping) else {} for c in channels]


def describe_image(image: Image, *, path: str = ".", stats: bool = False) -> JSONDict:
    """An image (or label image) and its levels, as JSON-ready data.

    Parameters
    ----------
    image : Image or LabelImage
        As returned by :func:`omezarr.reader.open_image`.
    path : str, default "."
        The image's path inside the described hierarchy.
    stats : bool, default False
        Add min/max/mean of the coarsest level (per channel too).

    Returns
    -------
    dict
        ``kind`` ("image" or "label"), ``path``, ``name``, ``version``, ``zarr_format``,
        ``axes``, ``channels`` (label and colour from omero), ``levels`` (path, shape, dtype,
        chunks, shards, compressor, scale, bytes, stored_bytes, compression_ratio), the
        image's totals ``bytes``/``stored_bytes``/``compression_ratio``, ``labels`` (label
        images described alike) and ``statistics`` when asked for.
    """
    levels = []
    for level_path, scale in zip(image.paths, image.scales, strict=True):
        array = image.group[level_path]
        assert isinstance(array, zarr.Array)
        levels.append(describe_level(array, level_path, scale))
    info: JSONDict = {
        "kind": "label" if isinstance(image, LabelImage) else "image",
        "path": path,
        "name": image.name,
        "version": image.version,
        "zarr_format": group_zarr_format(image.group),
        "axes": [dict(axis) for axis in image.axes],
        "levels": levels,
        **level_totals(levels),
    }
    channels = _omero_channels(image)
    if channels:
        info["channels"] = [
            {key: channel[key] for key in ("label", "color") if key in channel}
            for channel in channels
        ]
    if stats:
        info["statistics"] = _statistics(image)
    if image.label_names:
        info["labels"] = [
            describe_image(label, path=_join(path, f"labels/{name}"), stats=stats)
            for name, label in image.labels().items()
        ]
    return info


def _join(base: str, path: str) -> str:
    return path if base in (".", "") else f"{base}/{path}"


def _describe_plate(plate: Plate, stats: bool) -> JSONDict:
    wells = []
    first_image: JSONDict | None = None
    for entry in plate.wells:
        well = plate.well(entry.path)
        wells.append(
            {
                "path": entry.path,
                "row": entry.row,
                "column": entry.column,
                "fields": len(well.images),
            }
        )
        if first_image is None and well.images:
            first_image = describe_image(
                well.image(0), path=f"{entry.path}/{well.paths[0]}", stats=stats
            )
    info: JSONDict = {
        "kind": "plate",
        "name": plate.name,
        "version": plate.version,
        "zarr_format": group_zarr_format(plate.group),
        "rows": list(plate.rows),
        "columns": list(plate.columns),
        "wells": wells,
        "field_count": plate.field_count,
        "acquisitions": len(plate.acquisitions),
    }
    if first_image is not None:
        info["first_image"] = first_image
    return info


def describe(target: GroupLike, *, stats: bool = False) -> JSONDict:
    """What the OME-Zarr node at ``target`` holds, as JSON-ready data.

    Parameters
    ----------
    target : str, os.PathLike, zarr.Group or zarr store
        An image, label image, ``labels`` group, plate, well or bioformats2raw collection.
    stats : bool, default False
        Add min/max/mean of each image's coarsest level (reads that level only).

    Returns
    -------
    dict
        ``target`` (as given) and ``kind`` plus, for images, what :func:`describe_image`
        gives; for plates ``rows``, ``columns``, ``wells`` (path, row, column, fields),
        ``field_count``, ``acquisitions`` and ``first_image``; for wells ``fields`` and
        ``first_image``; for ``labels`` groups ``labels``; for bioformats2raw ``series``
        and ``first_image``; for 0.6 scenes ``coordinate_systems``, ``series`` (the image
        paths) and ``first_image``.

    Raises
    ------
    FileNotFoundError
        If a local ``target`` does not exist.
    ValueError
        If it holds no OME-Zarr, or its metadata is malformed.

    Examples
    --------
    >>> info = describe("image.ome.zarr")  # doctest: +SKIP
    >>> info["kind"], [level["shape"] for level in info["levels"]]  # doctest: +SKIP
    ('image', [[2, 32, 256, 256], [2, 32, 128, 128]])
    """
    node = open_ome_zarr(target)
    info: JSONDict
    if isinstance(node, Image):
        info = describe_image(node, stats=stats)
    elif isinstance(node, Plate):
        info = _describe_plate(node, stats)
    elif isinstance(node, Well):
        info = {"kind": "well", "version": node.version, "fields": node.paths}
        if node.images:
            info["first_image"] = describe_image(node.image(0), path=node.paths[0], stats=stats)
    elif isinstance(node, Labels):
        info = {
            "kind": "labels",
            "version": node.version,
            "labels": [
                describe_image(label, path=name, stats=stats)
                for name, label in node.labels().items()
            ],
        }
    elif isinstance(node, Scene):
        info = {
            "kind": "scene",
            "version": "0.6",
            "coordinate_systems": node.coordinate_systems,
            "series": node.image_paths,
        }
        if node.image_paths:
            first = node.image_paths[0]
            info["first_image"] = describe_image(node.image(first), path=first, stats=stats)
    else:
        assert isinstance(node, Bioformats2Raw)
        info = {"kind": "bioformats2raw", "version": node.version, "series": node.series}
        if node.series:
            info["first_image"] = describe_image(node.image(0), path=node.series[0], stats=stats)
    return {"target": str(target), **info}


# --------------------------------------------------------------------------- text


def format_table(
    rows: Sequence[Sequence[str]], right: Sequence[int] = (), gap: str = "  "
) -> list[str]:
    """Rows of cells as lines with aligned columns; columns in ``right`` are right-aligned.

    Examples
    --------
    >>> format_table([["level", "bytes"], ["s0", "12"], ["s1", "3"]], right=[1])
    ['level  bytes', 's0        12', 's1         3']
    """
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        gap.join(
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


LEVEL_COLUMNS = ("level", "shape", "dtype", "chunks", "shards", "raw", "stored", "ratio")
"""The columns of :func:`level_table`; the last three are numbers (right-aligned)."""


def level_table(info: Mapping[str, Any], *, ascii_only: bool = False) -> list[list[str]]:
    """A header row and one row per level of an image description (see :data:`LEVEL_COLUMNS`).

    Levels only planned (``stored_bytes`` None) have no stored and ratio columns.
    """
    times = "x" if ascii_only else "×"
    planned = info.get("stored_bytes") is None
    rows = [list(LEVEL_COLUMNS[:-2] if planned else LEVEL_COLUMNS)]
    for level in info["levels"]:
        row = [
            level["path"],
            format_shape(level["shape"], times),
            level["dtype"],
            format_shape(level["chunks"], times),
            format_shape(level["shards"], times),
            format_bytes(level["bytes"]),
        ]
        if not planned:
            ratio = level["compression_ratio"]
            row.append(format_bytes(level["stored_bytes"]))
            row.append("-" if ratio is None else f"{ratio:.1f}{times}")
        rows.append(row)
    return rows


def format_levels(info: Mapping[str, Any], *, ascii_only: bool = False) -> list[str]:
    """:func:`level_table` as aligned lines (byte counts and ratios right-aligned)."""
    table = level_table(info, ascii_only=ascii_only)
    return format_table(table, right=range(5, len(table[0])))


def size_text(info: Mapping[str, Any], *, ascii_only: bool = False) -> str:
    """``10.5 MiB → 4.9 MiB (2.1×), blosc-zstd:1``: an image's bytes, raw and stored, and codec."""
    times, arrow = ("x", "->") if ascii_only else ("×", "→")
    codecs = " / ".join(sorted({level["compressor"] for level in info["levels"]}))
    if info.get("stored_bytes") is None:
        return f"{format_bytes(info['bytes'])} uncompressed, {codecs}"
    ratio = info["compression_ratio"]
    ratio_text = "" if ratio is None else f" ({ratio:.1f}{times})"
    return (
        f"{format_bytes(info['bytes'])} {arrow} {format_bytes(info['stored_bytes'])}"
        f"{ratio_text}, {codecs}"
    )


class _Tree:
    """Lines of a tree drawn with box characters (or ASCII)."""

    def __init__(self, ascii_only: bool) -> None:
        self.ascii_only = ascii_only
        self.lines: list[str] = []
        self.branch, self.last, self.pipe = (
            ("|- ", "`- ", "|  ") if ascii_only else ("├─ ", "└─ ", "│  ")
        )

    def add(self, prefix: str, is_last: bool, text: str) -> str:
        """Add ``text`` below ``prefix``; return the prefix for its children."""
        self.lines.append(prefix + (self.last if is_last else self.branch) + text)
        return prefix + ("   " if is_last else self.pipe)

    def block(self, prefix: str, lines: Sequence[str]) -> None:
        """Add lines (a table) under ``prefix`` without branches."""
        self.lines.extend(f"{prefix}  {line}".rstrip() for line in lines)


def _heading(info: Mapping[str, Any], what: str) -> str:
    parts = [f"OME-Zarr {info.get('version') or '?'} {what}"]
    if info.get("name"):
        parts.append(f'"{info["name"]}"')
    if info.get("zarr_format"):
        parts.append(f"(zarr v{info['zarr_format']})")
    return " ".join(parts)


def _axes_text(info: Mapping[str, Any], sep: str) -> str:
    scale = info["levels"][0]["scale"] if info.get("levels") else []
    parts = []
    for i, axis in enumerate(info["axes"]):
        text = str(axis.get("name"))
        kind = axis.get("type")
        if kind in ("space", "time") and i < len(scale):
            text += f" {scale[i]:g}" + (f" {axis['unit']}" if axis.get("unit") else "")
        else:
            text += f" ({kind or 'custom'})"
        parts.append(text)
    return sep.join(parts)


def _statistics_table(statistics: Mapping[str, Any]) -> list[str]:
    rows = [["", "min", "max", "mean"]]
    for entry in statistics.get("channels", [{**statistics, "label": "all"}]):
        rows.append([str(entry["label"]), *(f"{entry[k]:.6g}" for k in ("min", "max", "mean"))])
    return format_table(rows, right=(1, 2, 3))


def summary_lines(info: Mapping[str, Any], *, ascii_only: bool = False) -> list[str]:
    """``axes: …``, ``channels: …`` (when known) and ``size: …`` lines of an image description."""
    sep = ", " if ascii_only else " · "
    lines = [f"axes: {_axes_text(info, sep)}"]
    if info.get("channels"):
        names = (
            str(c.get("label", "?")) + (f" #{c['color']}" if c.get("color") else "")
            for c in info["channels"]
        )
        lines.append(f"channels: {sep.join(names)}")
    lines.append(f"size: {size_text(info, ascii_only=ascii_only)}")
    return lines


def _image_tree(tree: _Tree, prefix: str, info: Mapping[str, Any]) -> None:
    items: list[tuple[str, Sequence[str]]] = [
        (line, []) for line in summary_lines(info, ascii_only=tree.ascii_only)
    ]
    items.append(("levels", format_levels(info, ascii_only=tree.ascii_only)))
    if "statistics" in info:
        statistics = info["statistics"]
        items.append((f"statistics of {statistics['level']}", _statistics_table(statistics)))
    labels = info.get("labels") or []
    if labels:
        items.append(("labels", []))
    for index, (text, block) in enumerate(items):
        child = tree.add(prefix, index == len(items) - 1, text)
        tree.block(child, block)
    for index, label in enumerate(labels):
        name = str(label["path"]).rsplit("/", 1)[-1]
        child = tree.add(
            prefix + "   ", index == len(labels) - 1, f"{name}: {_heading(label, 'label image')}"
        )
        _image_tree(tree, child, label)


def _plate_tree(tree: _Tree, info: Mapping[str, Any]) -> None:
    times = "x" if tree.ascii_only else "×"
    rows, columns, wells = info["rows"], info["columns"], info["wells"]
    counts = sorted({int(well["fields"]) for well in wells})
    fields = (
        "no" if not counts else f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    )
    span = f"{rows[0]}-{rows[-1]} {times} {columns[0]}-{columns[-1]}" if rows and columns else ""
    tree.add("", False, f"layout: {len(rows)} rows {times} {len(columns)} columns ({span})")
    shown = ", ".join(well["path"] for well in wells[:12]) + (", ..." if len(wells) > 12 else "")
    tree.add("", False, f"wells: {len(wells)} ({shown}), {fields} fields each")
    last = "first_image" not in info
    tree.add("", last, f"acquisitions: {info['acquisitions']}")
    if not last:
        image = info["first_image"]
        child = tree.add("", True, f"first field {image['path']}: {_heading(image, 'image')}")
        _image_tree(tree, child, image)


def format_description(info: Mapping[str, Any], *, ascii_only: bool = False) -> str:
    """The tree ``omezarr info`` prints for a :func:`describe` result.

    Parameters
    ----------
    info : dict
        As returned by :func:`describe`.
    ascii_only : bool, default False
        Draw with ASCII instead of box-drawing characters (for terminals that lack them).

    Examples
    --------
    >>> print(format_description(describe("image.ome.zarr")))  # doctest: +SKIP
    image.ome.zarr: OME-Zarr 0.5 image "demo" (zarr v3)
    ├─ axes: c (channel) · z 0.5 micrometer · y 0.2 micrometer · x 0.2 micrometer
    ...
    """
    kind = info["kind"]
    tree = _Tree(ascii_only)
    what = {
        "label": "label image",
        "labels": "labels group",
        "bioformats2raw": "bioformats2raw collection",
    }
    tree.lines.append(f"{info['target']}: {_heading(info, what.get(kind, kind))}")
    if kind in ("image", "label"):
        _image_tree(tree, "", info)
    elif kind == "plate":
        _plate_tree(tree, info)
    elif kind == "labels":
        labels = info["labels"]
        for index, label in enumerate(labels):
            heading = f"{label['path']}: {_heading(label, 'label image')}"
            _image_tree(tree, tree.add("", index == len(labels) - 1, heading), label)
    else:
        listed = info["fields"] if kind == "well" else info["series"]
        noun = {"well": "fields", "scene": "images"}.get(kind, "series")
        if kind == "scene":
            tree.add("", False, f"coordinate systems: {', '.join(info['coordinate_systems'])}")
        tree.add("", "first_image" not in info, f"{noun}: {', '.join(listed) or 'none'}")
        if "first_image" in info:
            image = info["first_image"]
            child = tree.add("", True, f"{image['path']}: {_heading(image, 'image')}")
            _image_tree(tree, child, image)
    return "\n".join(tree.lines)
