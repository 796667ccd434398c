"""Hostile input: every bad argument of every public writer is refused cleanly, writing nothing.

For each writer argument a hypothesis strategy draws values that are wrong (wrong type, out of
range, inconsistent with the other arguments, not storable as JSON, …). Each must end in a
ValueError or TypeError whose message names the argument (or the part of it at fault) —
never another exception — and nothing may be written: a new target does not exist afterwards,
an existing one is byte-identical. Every distinct input is counted; the count is printed
("hostile inputs exercised: N") and must reach 200.

Bad metadata documents are written into otherwise valid groups: the validator must report a
violation and never raise, omezarr's reader must raise ValueError or read the image. Malformed
hierarchies (missing arrays, wrong dtypes, broken chunks, absurd shapes and chunk sizes,
deeply nested and huge JSON) are inspected by the validator, the reader and verify in a child
process that must finish within a generous time limit and answer with a report (or, for the
reader, a ValueError).
"""

from __future__ import annotations

import json
import shutil
import uuid
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _crash_worker as worker
from _reliability import file_bytes, wait_for
from omezarr.format import FormatV01, FormatV02, FormatV03
from omezarr.reader import open_image
from omezarr.validate import validate
from omezarr.writer import (
    add_metadata,
    write_image,
    write_label_metadata,
    write_labels,
    write_multiscale,
    write_multiscale_labels,
    write_multiscales_metadata,
    write_plate_metadata,
    write_well_metadata,
)

EXERCISED: dict[str, set[str]] = defaultdict(set)
"""Distinct hostile inputs (their repr) per case, counted across the module."""

MINIMUM_INPUTS = 200


class Opaque:
    """An object that is no array, no JSON value and no callable."""

    def __repr__(self) -> str:
        return "Opaque()"


IMAGE = np.arange(256, dtype=np.uint8).reshape(16, 16)
LABELS = (np.arange(256, dtype=np.uint16).reshape(16, 16) // 40).astype(np.uint16)
SCALE = [{"type": "scale", "scale": [1.0, 1.0]}]
DATASETS = [{"path": "s0", "coordinateTransformations": SCALE}]

# ------------------------------------------------------------------------------ strategies

opaque = st.builds(Opaque)
numbers = st.one_of(
    st.integers(-10, 10), st.floats(allow_nan=True, allow_infinity=True), st.complex_numbers()
)
scalar_junk = st.one_of(numbers, st.binary(max_size=3), opaque)
"""Neither None, string, list nor dict."""
short_text = st.text(alphabet="abcAB1-/ .", max_size=4)
non_dict = st.one_of(
    scalar_junk, st.text(min_size=1, max_size=4), st.lists(st.integers(), min_size=1, max_size=3)
)
non_list = st.one_of(
    scalar_junk, st.dictionaries(st.text(max_size=2), st.integers(), max_size=2), opaque
)
non_bool = st.one_of(
    st.integers(), st.floats(), st.text(max_size=3), st.lists(st.booleans(), max_size=2), opaque
)
not_json = st.one_of(opaque, st.complex_numbers(max_magnitude=2), st.binary(min_size=1, max_size=3))
"""Values zarr cannot store in JSON metadata."""


def _bad_dtype_array(dtype: str) -> np.ndarray:
    return np.zeros((4, 4), dtype=dtype)


bad_images = st.one_of(
    st.none(),
    scalar_junk,
    st.text(max_size=3),
    st.lists(st.lists(st.integers(0, 3), max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sampled_from([0, 1, 6, 7]).map(lambda ndim: np.zeros((2,) * ndim, np.uint8)),
    st.sampled_from(
        ["complex64", "complex128", "object", "U2", "S2", "datetime64[s]", "timedelta64[s]", "V2"]
    ).map(_bad_dtype_array),
    st.sampled_from([(0, 4), (4, 0), (0, 0), (2, 0, 3)]).map(lambda s: np.zeros(s, np.uint8)),
)
bad_labels = st.one_of(
    bad_images,
    st.sampled_from(["float32", "float64", "float16"]).map(_bad_dtype_array),
)
bad_groups = st.one_of(
    st.none(),
    scalar_junk,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.just(""),
    st.sampled_from(["http", "https", "HTTP", "Https"]).flatmap(
        lambda scheme: st.integers(1, 9).map(lambda n: f"{scheme}://127.0.0.1:{n}/x.zarr")
    ),
)
bad_scale_factors = st.one_of(
    scalar_junk,
    st.text(min_size=1, max_size=3),
    st.lists(
        st.one_of(
            st.integers(max_value=0),
            st.floats(allow_nan=True),
            st.text(max_size=2),
            st.booleans(),
            st.none(),
            st.lists(st.integers(1, 3), max_size=2),
        ),
        min_size=1,
        max_size=3,
    ),
    st.integers(3, 9).map(lambda f: [f, f - 1]),
    st.lists(
        st.fixed_dictionaries(
            {"x": st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=2))}
        ),
        min_size=1,
        max_size=2,
    ),
)
METHOD_NAMES = {"resize", "nearest", "local_mean", "zoom"}
bad_methods = st.one_of(
    st.text(max_size=10).filter(lambda s: s.strip().lower() not in METHOD_NAMES and s != ""),
    st.integers(),
    st.lists(st.sampled_from(sorted(METHOD_NAMES)), min_size=1, max_size=2),
    opaque,
)
KNOWN_VERSIONS = ("0.1", "0.2", "0.3", "0.4", "0.5")
bad_metadata_formats = st.one_of(
    st.integers(),
    st.floats().filter(lambda f: str(f) not in KNOWN_VERSIONS),
    st.text(max_size=4).filter(lambda s: s not in KNOWN_VERSIONS),
    st.lists(st.integers(), max_size=2),
    opaque,
)
"""Formats no writer accepts (the metadata writers still write 0.1 to 0.3)."""
bad_formats = st.one_of(
    bad_metadata_formats, st.sampled_from([FormatV01(), FormatV02(), FormatV03()])
)
"""Formats the pixel writers refuse: unknown ones and those whose writing was removed."""
bad_axes = st.one_of(
    scalar_junk,
    st.text(alphabet="tczyx", min_size=0, max_size=5).filter(lambda s: len(s) != 2),
    st.sampled_from(["xx", "yy", "cx", "tx", "ct", "tc", "cc"]),
    st.lists(st.one_of(st.integers(), st.none(), opaque), min_size=2, max_size=2),
    st.lists(
        st.fixed_dictionaries({"type": st.sampled_from(["space", "time"])}), min_size=2, max_size=2
    ),
    st.tuples(
        st.fixed_dictionaries(
            {
                "name": st.just("y"),
                "type": st.one_of(st.integers(), st.sampled_from(["spaces", "", "Space1"])),
            }
        ),
        st.just({"name": "x", "type": "space"}),
    ).map(list),
    st.tuples(
        st.just({"name": "y", "type": "space"}),
        st.fixed_dictionaries(
            {
                "name": st.just("x"),
                "type": st.just("space"),
                "unit": st.one_of(st.integers(), opaque),
            }
        ),
    ).map(list),
)
positive = st.floats(0.1, 10)
bad_scale_values = st.one_of(
    st.lists(positive, min_size=0, max_size=1),
    st.lists(positive, min_size=3, max_size=4),
    st.tuples(
        st.one_of(st.floats(max_value=0), st.just(float("nan")), st.text(max_size=2)), positive
    ).map(list),
)
bad_level_transform = st.one_of(
    st.just([]),
    bad_scale_values.map(lambda s: [{"type": "scale", "scale": s}]),
    st.just([{"type": "translation", "translation": [0.0, 0.0]}]),
    st.text(max_size=4).map(lambda t: [{"type": t, "scale": [1.0, 1.0]}] if t != "scale" else [t]),
    scalar_junk.map(lambda junk: [junk]),
)
bad_transformations = st.one_of(
    scalar_junk,
    st.lists(st.just(SCALE), min_size=0, max_size=1),
    st.lists(st.just(SCALE), min_size=3, max_size=4),
    st.tuples(bad_level_transform, st.just([{"type": "scale", "scale": [2.0, 2.0]}])).map(list),
    st.tuples(st.just(SCALE), bad_level_transform).map(list),
)
bad_storage_options = st.one_of(
    scalar_junk,
    st.text(min_size=1, max_size=3),
    # One entry for two levels; an empty list is no options, and entries after the last
    # level are never looked at (as in the reference), so only the levels' entries are bad.
    st.lists(st.just({}), min_size=1, max_size=1),
    st.lists(st.just({"chunks": 0}), min_size=2, max_size=4),
    st.fixed_dictionaries(
        {
            "chunks": st.one_of(
                st.integers(max_value=0),
                st.tuples(st.integers(max_value=0), st.integers(1, 8)),
                st.text(min_size=1, max_size=3).filter(lambda s: s != "auto"),
                st.tuples(st.floats(0.5, 4.5).filter(lambda f: not f.is_integer()), st.just(4)),
                opaque,
            )
        }
    ),
    st.fixed_dictionaries(
        {"chunks": st.just((4, 4)), "shards": st.sampled_from([(6, 6), (4, 2), (5, 8), (3, 3)])}
    ),
    st.dictionaries(
        st.text(alphabet="abdegqz", min_size=1, max_size=6), st.integers(), min_size=1, max_size=2
    ),
    st.one_of(
        st.fixed_dictionaries({"compressors": st.one_of(st.integers(), st.text(min_size=1))}),
        st.fixed_dictionaries({"fill_value": st.text(alphabet="xyz", min_size=1, max_size=3)}),
        st.fixed_dictionaries({"filters": st.integers()}),
        st.fixed_dictionaries({"config": st.integers(1, 9)}),
    ),
)
bad_pixel_scale = st.one_of(
    scalar_junk,
    st.text(min_size=1, max_size=3),
    st.lists(positive, min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(["q", "c", "t", "X"]), positive, min_size=1),
    st.fixed_dictionaries(
        {
            "x": st.one_of(
                st.floats(max_value=0),
                st.just(float("nan")),
                st.just(float("inf")),
                st.text(max_size=2),
                st.booleans(),
                st.none(),
            )
        }
    ),
)
bad_units = st.one_of(
    scalar_junk,
    st.text(min_size=1, max_size=3),
    st.lists(st.text(max_size=3), min_size=1, max_size=2),
    # Units of axes the image lacks are ignored with a warning, as by the reference; units of
    # the wrong type are refused.
    st.dictionaries(st.sampled_from(["x", "y"]), st.one_of(st.integers(), opaque), min_size=1),
    st.fixed_dictionaries({"x": st.one_of(st.integers(), st.lists(st.text(max_size=2)), opaque)}),
)
bad_memory_budgets = st.one_of(
    st.integers(max_value=16 * 2**20 - 1),
    st.floats(),
    st.text(alphabet="abcxyzKMG!-", min_size=1, max_size=4),
    st.sampled_from(["12X", "-5G", "inf", "nan", "1K", "15M", "-inf", "1e400"]),
    st.lists(st.integers(), max_size=2),
    st.booleans(),
)
non_callables = st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2))
bad_windows = st.one_of(
    non_dict,
    st.dictionaries(st.sampled_from(["min", "max", "start", "end"]), st.integers(0, 9), max_size=3),
    st.fixed_dictionaries(
        {
            "min": st.just(0),
            "max": st.one_of(st.text(max_size=2), st.none(), st.just(float("nan"))),
            "start": st.just(0),
            "end": st.just(1),
        }
    ),
    st.integers(1, 9).map(lambda m: {"min": m, "max": m - 1, "start": 0, "end": 1}),
)
bad_channels = st.one_of(
    non_dict,
    st.fixed_dictionaries({"color": st.one_of(st.text(max_size=5), st.integers())}).filter(
        lambda c: not (isinstance(c["color"], str) and len(c["color"]) == 6)
    ),
    st.fixed_dictionaries({"window": bad_windows}),
)
bad_omero = st.one_of(
    non_dict,
    st.dictionaries(st.sampled_from(["rdefs", "name", "id"]), st.integers(), max_size=2),
    st.fixed_dictionaries({"channels": st.one_of(st.none(), scalar_junk, st.text(min_size=1))}),
    st.fixed_dictionaries({"channels": st.lists(bad_channels, min_size=1, max_size=2)}),
)
bad_extra_metadata = st.one_of(
    st.dictionaries(st.sampled_from(["foo", "acquisition", "info"]), not_json, min_size=1),
    st.fixed_dictionaries({"metadata": st.fixed_dictionaries({"omero": st.none()})}),
    st.fixed_dictionaries({"metadata": st.dictionaries(st.just("k"), not_json, min_size=1)}),
    st.fixed_dictionaries({"version": st.text(max_size=3)}),
)
bad_label_names = st.one_of(
    st.just(""),
    st.text(alphabet="ab/", min_size=1, max_size=4).filter(lambda s: "/" in s),
    scalar_junk,
    st.none(),
    st.lists(st.text(max_size=2), max_size=2),
)
bad_rgba = st.one_of(
    st.lists(st.integers(0, 255), min_size=0, max_size=3),
    st.lists(st.integers(0, 255), min_size=5, max_size=6),
    st.lists(st.one_of(st.integers(256, 999), st.integers(-9, -1)), min_size=4, max_size=4),
    st.lists(st.floats(0.1, 0.9), min_size=4, max_size=4),
    st.text(max_size=4),
)
bad_colors = st.one_of(
    non_list,
    st.just([]),
    st.lists(non_dict, min_size=1, max_size=2),
    st.lists(st.fixed_dictionaries({"rgba": st.just([0, 0, 0, 255])}), min_size=1, max_size=1),
    st.lists(
        st.fixed_dictionaries({"label-value": st.integers(0, 5), "rgba": bad_rgba}), min_size=1
    ),
    st.lists(
        st.fixed_dictionaries(
            {"label-value": st.one_of(st.text(max_size=2), st.none()), "rgba": st.just([0] * 4)}
        ),
        min_size=1,
        max_size=1,
    ),
    st.integers(0, 5).map(
        lambda v: [{"label-value": v, "rgba": [0] * 4}, {"label-value": v, "rgba": [1] * 4}]
    ),
)
bad_properties = st.one_of(
    non_list,
    st.just([]),
    st.lists(non_dict, min_size=1, max_size=2),
    st.lists(st.dictionaries(st.just("area"), st.integers(), min_size=1), min_size=1, max_size=1),
    st.lists(
        st.fixed_dictionaries({"label-value": st.one_of(st.floats(0.1, 0.9), st.text(max_size=2))}),
        min_size=1,
        max_size=1,
    ),
    st.integers(0, 5).map(lambda v: [{"label-value": v}, {"label-value": v}]),
    st.lists(
        st.fixed_dictionaries({"label-value": st.just(1), "x": not_json}), min_size=1, max_size=1
    ),
)
bad_label_metadata = st.one_of(
    non_dict,
    st.fixed_dictionaries({"colors": bad_colors}),
    st.fixed_dictionaries({"properties": bad_properties}),
    st.fixed_dictionaries({"source": st.one_of(non_dict, st.none(), st.just({"image": 3}))}),
    st.dictionaries(st.sampled_from(["note", "origin"]), not_json, min_size=1),
)
bad_pyramids = st.one_of(
    st.just([]),
    non_list.filter(lambda v: not isinstance(v, dict)),
    st.text(max_size=3),
    st.lists(st.one_of(scalar_junk, st.none(), st.text(max_size=2)), min_size=1, max_size=2),
    st.sampled_from(["grows", "dtype", "ndim", "baddtype", "junk"]).map(
        lambda kind: {
            "grows": [IMAGE, np.zeros((32, 32), np.uint8)],
            "dtype": [IMAGE, np.zeros((8, 8), np.uint16)],
            "ndim": [IMAGE, np.zeros((8,), np.uint8)],
            "baddtype": [np.zeros((4, 4), np.complex64)],
            "junk": [IMAGE, Opaque()],
        }[kind]
    ),
)
bad_datasets = st.one_of(
    non_list,
    st.just([]),
    st.lists(non_dict, min_size=1, max_size=2),
    st.lists(st.dictionaries(st.just("name"), st.text(max_size=2)), min_size=1, max_size=1),
    st.lists(st.fixed_dictionaries({"path": st.one_of(st.integers(), st.just(""), st.none())})),
    st.just([{"path": "s0"}]),
    st.lists(
        st.fixed_dictionaries(
            {"path": st.just("s0"), "coordinateTransformations": bad_level_transform}
        ),
        min_size=1,
        max_size=1,
    ),
    st.just([DATASETS[0], DATASETS[0]]),
)
bad_names = st.one_of(
    st.just([]),
    non_list.filter(lambda v: not isinstance(v, dict)),
    st.text(min_size=1, max_size=3),
    st.lists(st.text(alphabet="-_ ./", min_size=1, max_size=3), min_size=1, max_size=2),
    st.lists(st.one_of(st.integers(), st.none(), opaque), min_size=1, max_size=2),
    st.sampled_from(["A", "B", "1"]).map(lambda n: [n, n]),
)
bad_wells = st.one_of(
    st.just([]),
    non_list.filter(lambda v: not isinstance(v, dict)),
    st.sampled_from(["A/1"]),
    st.lists(
        st.sampled_from(["A1", "A/", "/1", "B/1", "A/2", "A/1/0", "a/1", "A//1", ""]),
        min_size=1,
        max_size=2,
    ),
    st.lists(st.one_of(st.integers(), st.none(), opaque), min_size=1, max_size=2),
    st.just(["A/1", "A/1"]),
    st.lists(
        st.fixed_dictionaries(
            {"path": st.just("A/1"), "rowIndex": st.integers(1, 5), "columnIndex": st.just(0)}
        ),
        min_size=1,
        max_size=1,
    ),
    st.just([{"path": "A/1"}]),
)
bad_acquisitions = st.one_of(
    non_list.filter(lambda v: not isinstance(v, dict)),
    st.lists(non_dict, min_size=1, max_size=2),
    st.just([{}]),
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.one_of(
                    st.integers(max_value=-1), st.text(max_size=2), st.booleans(), st.floats()
                )
            }
        ),
        min_size=1,
        max_size=1,
    ),
    st.integers(0, 9).map(lambda i: [{"id": i}, {"id": i}]),
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.just(0),
                "maximumfieldcount": st.one_of(st.integers(max_value=0), st.text(max_size=2)),
            }
        ),
        min_size=1,
        max_size=1,
    ),
    st.lists(
        st.fixed_dictionaries({"id": st.just(0), "name": st.integers()}), min_size=1, max_size=1
    ),
    st.lists(st.fixed_dictionaries({"id": st.just(0), "note": not_json}), min_size=1, max_size=1),
)
bad_field_counts = st.one_of(
    st.integers(max_value=0), st.floats(), st.text(max_size=3), st.booleans(), opaque
)
non_string_names = st.one_of(scalar_junk, st.lists(st.text(max_size=2), max_size=2))
bad_well_images = st.one_of(
    st.just([]),
    non_list.filter(lambda v: not isinstance(v, dict)),
    # A string names one field per character, as in the reference: bad when one repeats.
    st.sampled_from("0123456789").map(lambda c: c * 2),
    st.lists(st.text(alphabet="-_ ./", min_size=1, max_size=3), min_size=1, max_size=2),
    st.lists(st.one_of(st.integers(), st.none(), opaque), min_size=1, max_size=2),
    st.just([{}]),
    st.lists(st.fixed_dictionaries({"path": st.one_of(st.integers(), st.none())}), min_size=1),
    st.lists(
        st.fixed_dictionaries(
            {"path": st.just("0"), "acquisition": st.one_of(st.text(max_size=2), st.floats())}
        ),
        min_size=1,
        max_size=1,
    ),
    st.just(["0", "0"]),
    st.lists(
        st.fixed_dictionaries({"path": st.just("0"), "note": not_json}), min_size=1, max_size=1
    ),
)
bad_label_lookups = st.one_of(
    st.just(""),
    non_string_names,
    st.none(),
    st.sampled_from(["missing", "cells2", "../cells", "s0", "."]),
)
unstorable_metadata = st.dictionaries(st.sampled_from(["note", "extra"]), not_json, min_size=1)
bad_add_metadata = st.one_of(st.none(), non_dict, unstorable_metadata)

# ---------------------------------------------------------------------------------- cases


NEW = "new"
"""The writer creates its target: after a refusal it must not exist."""
EXISTING = "existing"
"""The writer changes an existing image (labels): after a refusal it is byte-identical."""
EXTRA = "**metadata"
"""The argument name of values passed as further keyword arguments."""

PYRAMID = [IMAGE, IMAGE[::2, ::2].copy()]
LABEL_PYRAMID = [LABELS, LABELS[::2, ::2].copy()]

WRITERS: dict[str, tuple[Callable[..., Any], dict[str, Any], str, str]] = {
    # name: (writer, valid arguments but the group, NEW or EXISTING, group below the target)
    "write_image": (write_image, {"image": IMAGE, "scale_factors": [2]}, NEW, ""),
    "write_multiscale": (write_multiscale, {"pyramid": PYRAMID}, NEW, ""),
    "write_labels": (
        write_labels,
        {"labels": LABELS, "name": "cells2", "scale_factors": [2]},
        EXISTING,
        "",
    ),
    "write_multiscale_labels": (
        write_multiscale_labels,
        {"pyramid": LABEL_PYRAMID, "name": "cells2"},
        EXISTING,
        "",
    ),
    "write_multiscales_metadata": (
        write_multiscales_metadata,
        {"datasets": DATASETS, "axes": "yx"},
        NEW,
        "",
    ),
    "write_plate_metadata": (
        write_plate_metadata,
        {"rows": ["A"], "columns": ["1"], "wells": ["A/1"]},
        NEW,
        "",
    ),
    "write_well_metadata": (write_well_metadata, {"images": ["0"]}, NEW, ""),
    "write_label_metadata": (write_label_metadata, {"name": "cells"}, EXISTING, "/labels"),
    "add_metadata": (add_metadata, {"metadata": {"note": "x"}}, NEW, ""),
}


def call_writer(writer: str, target: str, argument: str, value: Any) -> None:
    """Call ``writer`` on ``target`` with valid arguments but ``argument``, which is ``value``."""
    function, valid, _, below = WRITERS[writer]
    kwargs = {"group": target + below, **valid}
    if argument == EXTRA:
        kwargs.update(value)
    else:
        kwargs[argument] = value
    function(**kwargs)


LABEL_METADATA_PARTS = ("label_metadata", "colors", "properties", "source")

CASES: list[tuple[str, str, Any, tuple[str, ...]]] = [
    # (writer, argument, strategy, names the message may use for the argument)
    ("write_image", "image", bad_images, ("image",)),
    ("write_image", "group", bad_groups, ("group",)),
    ("write_image", "scale_factors", bad_scale_factors, ("scale_factors",)),
    ("write_image", "method", bad_methods, ("method",)),
    ("write_image", "scaler", non_dict, ("scaler",)),
    ("write_image", "fmt", bad_formats, ("fmt",)),
    ("write_image", "axes", bad_axes, ("axes",)),
    (
        "write_image",
        "coordinate_transformations",
        bad_transformations,
        ("coordinate_transformations",),
    ),
    ("write_image", "storage_options", bad_storage_options, ("storage_options",)),
    ("write_image", "compute", non_bool, ("compute",)),
    ("write_image", "scale", bad_pixel_scale, ("scale",)),
    ("write_image", "axes_units", bad_units, ("axes_units",)),
    ("write_image", "overwrite", non_bool, ("overwrite",)),
    ("write_image", "resume", non_bool, ("resume",)),
    ("write_image", "memory_budget", bad_memory_budgets, ("memory_budget",)),
    ("write_image", "progress", non_callables, ("progress",)),
    ("write_image", "omero", bad_omero, ("omero",)),
    ("write_image", EXTRA, bad_extra_metadata, ("metadata", "omero")),
    ("write_multiscale", "pyramid", bad_pyramids, ("pyramid",)),
    ("write_multiscale", "axes", bad_axes, ("axes",)),
    ("write_multiscale", "storage_options", bad_storage_options, ("storage_options",)),
    ("write_multiscale", "scale", bad_pixel_scale, ("scale",)),
    ("write_multiscale", "fmt", bad_formats, ("fmt",)),
    ("write_multiscale", EXTRA, bad_extra_metadata, ("metadata", "omero")),
    ("write_labels", "labels", bad_labels, ("labels",)),
    ("write_labels", "name", bad_label_names, ("name",)),
    ("write_labels", "label_metadata", bad_label_metadata, LABEL_METADATA_PARTS),
    ("write_labels", "scale_factors", bad_scale_factors, ("scale_factors",)),
    ("write_labels", "method", bad_methods, ("method",)),
    ("write_labels", "axes", bad_axes, ("axes",)),
    ("write_labels", "storage_options", bad_storage_options, ("storage_options",)),
    ("write_labels", "fmt", bad_formats, ("fmt",)),
    ("write_labels", "overwrite", non_bool, ("overwrite",)),
    ("write_multiscale_labels", "pyramid", bad_pyramids, ("pyramid",)),
    ("write_multiscale_labels", "name", bad_label_names, ("name",)),
    ("write_multiscale_labels", "label_metadata", bad_label_metadata, LABEL_METADATA_PARTS),
    ("write_multiscales_metadata", "datasets", bad_datasets, ("datasets",)),
    ("write_multiscales_metadata", "axes", bad_axes, ("axes", "datasets")),
    ("write_multiscales_metadata", "axes_units", bad_units, ("axes_units",)),
    ("write_multiscales_metadata", "fmt", bad_metadata_formats, ("fmt",)),
    ("write_multiscales_metadata", "omero", bad_omero, ("omero",)),
    ("write_multiscales_metadata", EXTRA, bad_extra_metadata, ("metadata", "omero")),
    ("write_plate_metadata", "rows", bad_names, ("rows",)),
    ("write_plate_metadata", "columns", bad_names, ("columns",)),
    ("write_plate_metadata", "wells", bad_wells, ("wells",)),
    ("write_plate_metadata", "acquisitions", bad_acquisitions, ("acquisitions",)),
    ("write_plate_metadata", "field_count", bad_field_counts, ("field_count",)),
    ("write_plate_metadata", "name", non_string_names, ("name",)),
    ("write_plate_metadata", "fmt", bad_metadata_formats, ("fmt",)),
    ("write_plate_metadata", "merge", non_bool, ("merge",)),
    ("write_well_metadata", "images", bad_well_images, ("images",)),
    ("write_well_metadata", "fmt", bad_metadata_formats, ("fmt",)),
    ("write_label_metadata", "name", bad_label_lookups, ("name",)),
    ("write_label_metadata", "colors", bad_colors, ("colors",)),
    ("write_label_metadata", "properties", bad_properties, ("properties",)),
    ("write_label_metadata", "source", st.one_of(non_dict, st.just({"image": 3})), ("source",)),
    ("write_label_metadata", EXTRA, unstorable_metadata, ("metadata",)),
    ("write_label_metadata", "fmt", bad_metadata_formats, ("fmt",)),
    ("add_metadata", "metadata", bad_add_metadata, ("metadata",)),
    ("add_metadata", "fmt", bad_metadata_formats, ("fmt",)),
]


@pytest.fixture(scope="module")
def existing_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image with a label image ``cells``: what the label writers write into."""
    path = tmp_path_factory.mktemp("hostile") / "image.zarr"
    write_image(IMAGE, str(path), scale_factors=[2])
    write_labels(LABELS, str(path), name="cells", scale_factors=[2])
    return path


@pytest.fixture(scope="module", autouse=True)
def count_inputs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how many distinct hostile inputs the module exercised; require 200 of them."""
    yield
    total = sum(len(inputs) for inputs in EXERCISED.values())
    line = f"hostile inputs exercised: {total} (in {len(EXERCISED)} cases)"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + line)
    # Only a full run of the module can be held to the total (not a -k selection).
    if {case for case in EXERCISED if case.startswith("writer:")} == {
        f"writer:{w}.{a}" for w, a, _, _ in CASES
    } and {"document", "hierarchy"} <= set(EXERCISED):
        assert total >= MINIMUM_INPUTS, line


def _refused(call: Callable[[], None], names: tuple[str, ...]) -> BaseException:
    """Run ``call``; it must raise ValueError or TypeError naming one of ``names``."""
    with warnings.catch_warnings():
        # Deprecated arguments (scaler, coordinate_transformations) warn before refusing.
        warnings.simplefilter("ignore")
        try:
            call()
        except (ValueError, TypeError) as error:
            message = str(error)
            assert any(name in message for name in names), (
                f"{type(error).__name__} does not name {names}: {message!r}"
            )
            return error
    raise AssertionError("the bad value was accepted")


@pytest.mark.parametrize(
    ("writer", "argument", "strategy", "names"),
    CASES,
    ids=[f"{w}-{a}" for w, a, _, _ in CASES],
)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_bad_writer_argument_is_refused_naming_it_and_writing_nothing(
    writer: str,
    argument: str,
    strategy: Any,
    names: tuple[str, ...],
    data: st.DataObject,
    tmp_path: Path,
    existing_image: Path,
) -> None:
    value = data.draw(strategy, label=argument)
    EXERCISED[f"writer:{writer}.{argument}"].add(repr(value))
    kind = WRITERS[writer][2]
    directory = tmp_path / uuid.uuid4().hex
    directory.mkdir()
    target = directory / "image.zarr"
    if kind == EXISTING:
        shutil.copytree(existing_image, target)
    before = file_bytes(directory)
    _refused(lambda: call_writer(writer, str(target), argument, value), names)
    assert file_bytes(directory) == before, "a refused write changed files"
    if kind == NEW:
        assert list(directory.iterdir()) == [], "a refused write created something"


def test_an_empty_group_path_never_writes_into_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for writer in WRITERS:
        _refused(lambda writer=writer: call_writer(writer, "", "group", ""), ("group",))
    assert list(tmp_path.iterdir()) == []


def test_refusals_before_any_write_leave_an_existing_image_unchanged(
    tmp_path: Path, existing_image: Path
) -> None:
    target = tmp_path / "image.zarr"
    shutil.copytree(existing_image, target)
    before = file_bytes(target)
    for argument, value in (("storage_options", {"fill_value": "abc"}), ("omero", {"x": Opaque()})):
        _refused(
            lambda a=argument, v=value: call_writer("write_image", str(target), a, v),
            (argument, "metadata"),
        )
    _refused(
        lambda: write_labels(LABELS, str(target), name="cells", label_metadata={"n": Opaque()}),
        ("label_metadata",),
    )
    assert file_bytes(target) == before


# --------------------------------------------------------------- bad metadata documents


def _json_values(depth: int = 2) -> Any:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 300),
        st.floats(allow_nan=False),
        st.text(max_size=4),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.text(max_size=4), children, max_size=3),
        ),
        max_leaves=6,
    )


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``document`` (dict keys and list indices)."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


def _mutated(document: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    copy = json.loads(json.dumps(document))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    if action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == "delete":
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    return copy


@pytest.fixture(scope="module")
def valid_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("documents")
    images = {}
    for version in ("0.5", "0.4"):
        path = root / f"{version}.zarr"
        write_image(
            np.zeros((2, 16, 16), np.uint8),
            str(path),
            axes="cyx",
            scale_factors=[2],
            fmt=worker.fmt_of(version),
            omero={"channels": [{"color": "FF0000"}, {"color": "00FF00"}]},
        )
        write_labels(LABELS, str(path), name="cells", scale_factors=[2], fmt=worker.fmt_of(version))
        images[version] = path
    return images


def _attrs_file(path: Path) -> Path:
    return path / "zarr.json" if (path / "zarr.json").exists() else path / ".zattrs"


def _read_attrs(path: Path) -> Any:
    document = json.loads(_attrs_file(path).read_bytes())
    return document["attributes"] if (path / "zarr.json").exists() else document


def _write_attrs(path: Path, attrs: Any) -> None:
    if (path / "zarr.json").exists():
        document = json.loads((path / "zarr.json").read_bytes())
        document["attributes"] = attrs
        (path / "zarr.json").write_text(json.dumps(document))
    else:
        (path / ".zattrs").write_text(json.dumps(attrs))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_corrupted_metadata_document_gives_violations_or_a_reader_value_error_never_a_crash(
    data: st.DataObject, tmp_path: Path, valid_images: dict[str, Path]
) -> None:
    version = data.draw(st.sampled_from(["0.5", "0.4"]), label="version")
    node = data.draw(st.sampled_from(["", "labels", "labels/cells"]), label="node")
    target = tmp_path / uuid.uuid4().hex
    shutil.copytree(valid_images[version], target)
    attrs = _read_attrs(target / node)
    # zarr itself requires the attributes to be an object; that case is a malformed hierarchy.
    paths = [p for p in _paths(attrs) if p]
    path = data.draw(st.sampled_from(paths), label="path")
    action = data.draw(st.sampled_from(["replace", "delete"]))
    value = data.draw(_json_values(), label="value")
    corrupted = _mutated(attrs, path, action, value)
    EXERCISED["document"].add(repr((version, node, path, action, value)))
    _write_attrs(target / node, corrupted)
    report = validate(str(target))  # must not raise, whatever the document says
    try:
        image = open_image(str(target))
    except ValueError:
        opened = False
    else:
        opened = True
        assert image.levels
    if report.valid:
        assert opened, f"valid by validate, yet the reader refuses it: {report.format()}"


# ----------------------------------------------------------------- malformed hierarchies


def _edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_bytes())
    change(document)
    path.write_text(json.dumps(document))


def _absurd_shape(chunk: int) -> Callable[[Path], None]:
    def change(image: Path) -> None:
        def edit(meta: dict[str, Any]) -> None:
            meta["shape"] = [10**12, 10**12]
            meta["chunk_grid"]["configuration"]["chunk_shape"] = [chunk, chunk]

        _edit_json(image / "s0" / "zarr.json", edit)

    return change


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_attributes(image: Path) -> None:
    text = (image / "zarr.json").read_text()
    head, _, _ = text.rpartition("}")
    (image / "zarr.json").write_text(head + f', "deep": {_nested(10_000)}}}')


def _deep_multiscales(image: Path) -> None:
    text = (image / "zarr.json").read_text()
    (image / "zarr.json").write_text(
        text.replace('"multiscales": [', f'"multiscales": [{_nested(10_000)}, ', 1)
    )


def _huge_attribute(image: Path) -> None:
    _edit_json(image / "zarr.json", lambda m: m["attributes"]["ome"].update(big="x" * 50_000_000))


def _float_labels(image: Path) -> None:
    _edit_json(
        image / "labels" / "cells" / "s0" / "zarr.json", lambda m: m.update(data_type="float32")
    )


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


MALFORMED: dict[str, tuple[Callable[[Path], None], bool]] = {
    # name: (how to break the image, whether its pixels are broken — verify must say so)
    "missing level array": (lambda p: shutil.rmtree(p / "s1"), False),
    "missing chunk": (lambda p: (p / "s0" / "c" / "0" / "0").unlink(), True),
    "truncated chunk": (lambda p: _truncate(p / "s0" / "c" / "1" / "1"), True),
    "garbage chunk": (lambda p: (p / "s1" / "c" / "0" / "0").write_bytes(b"\xff" * 9), True),
    "wrong dtype level": (
        lambda p: _edit_json(p / "s1" / "zarr.json", lambda m: m.update(data_type="float64")),
        True,
    ),
    "float label image": (_float_labels, True),
    "truncated array metadata": (lambda p: _truncate(p / "s0" / "zarr.json"), False),
    "truncated group metadata": (lambda p: _truncate(p / "zarr.json"), False),
    "shape 1e12 x 1e12, chunks 1 x 1": (_absurd_shape(1), True),
    "shape 1e12 x 1e12, one chunk": (_absurd_shape(10**12), True),
    "10^4-deep attribute": (_deep_attributes, False),
    "10^4-deep multiscales": (_deep_multiscales, False),
    "50 MB attribute": (_huge_attribute, False),
    "attributes not an object": (
        lambda p: _edit_json(p / "zarr.json", lambda m: m.update(attributes=[])),
        False,
    ),
}


@pytest.fixture(scope="module")
def context() -> Any:
    return worker.forkserver_context()


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0.5 image (64 x 64, chunks 16 x 16, two levels) with a label image ``cells``."""
    path = tmp_path_factory.mktemp("hierarchy") / "image.zarr"
    options = {"chunks": (16, 16)}
    write_image(
        worker.image_pixels(0, (64, 64)), str(path), scale_factors=[2], storage_options=options
    )
    write_labels(LABELS, str(path), name="cells", scale_factors=[2], storage_options=options)
    return path


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_hierarchy_is_answered_in_bounded_time_with_a_clear_report(
    case: str, context: Any, tmp_path: Path, hierarchy: Path
) -> None:
    breaks, pixels_broken = MALFORMED[case]
    target = tmp_path / "image.zarr"
    shutil.copytree(hierarchy, target)
    breaks(target)
    EXERCISED["hierarchy"].add(case)
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=worker.inspect_hierarchy, args=(str(target), send))
    process.start()
    send.close()
    wait_for(process, timeout=60)  # bounded time: a hang fails here
    assert process.exitcode == 0
    answers = receive.recv()
    assert not answers["validate"].startswith("!"), answers["validate"]
    assert not answers["reader"].startswith("!"), answers["reader"]
    assert not answers["verify"].startswith("!"), answers["verify"]
    if pixels_broken:
        assert answers["verify"].startswith("problems") or answers["verify"].startswith(
            "ValueError"
        ), answers["verify"]
    if answers["validate"] == "valid" and not pixels_broken:
        assert answers["reader"].startswith("read"), answers
