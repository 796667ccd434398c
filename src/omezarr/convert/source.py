"""An input image as the converter sees it: lazy pixels, axes, physical sizes and notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..io.layout import input_chunks
from .errors import ConversionError, InvalidParameterError, Parameter

__all__ = [
    "NGFF_AXIS_ORDER",
    "InputImage",
]

NGFF_AXIS_ORDER = "tczyx"
"""The order axes are written in: time, channel, then space (z, y, x)."""


# --------------------------------------------------------------------------- lazy inputs


class _Source:
    """A lazy input in NGFF axis order: reads (and transposes) only the regions asked for.

    Errors while reading become :class:`ConversionError` naming the input, so that a corrupt
    file is reported as such rather than as a failure of the writer.
    """

    def __init__(self, inner: Any, order: Sequence[int], path: str) -> None:
        self.inner = inner
        self.order = tuple(order)  # output axis i is inner axis order[i]
        self.path = path
        self.shape = tuple(int(inner.shape[i]) for i in self.order)
        self.dtype = np.dtype(inner.dtype)
        chunks = input_chunks(inner)
        self.chunks = None if chunks is None else tuple(chunks[i] for i in self.order)
        self.ndim = len(self.shape)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        if not isinstance(key, tuple) or len(key) != self.ndim:
            raise TypeError("internal: a source is read with one slice per axis")
        inner_key: list[slice] = [slice(None)] * self.ndim
        for out_axis, inner_axis in enumerate(self.order):
            inner_key[inner_axis] = key[out_axis]
        try:
            block = self.inner[tuple(inner_key)]
            if hasattr(block, "compute") and not isinstance(block, np.ndarray):
                import dask

                # Synchronous: the engine's threads already read regions in parallel.
                block = block.compute(scheduler=dask.get)
            block = np.asarray(block)
        except Exception as error:
            raise ConversionError(
                f"{self.path}: cannot read pixels: {type(error).__name__}: {error}"
            ) from error
        return block.transpose(self.order) if self.order != tuple(range(self.ndim)) else block


@dataclass
class InputImage:
    """An opened input: lazy pixels in NGFF axis order and what the file says about them.

    Attributes
    ----------
    path : str
        The input as given.
    kind : str
        ``"OME-TIFF"``, ``"ImageJ TIFF"``, ``"Aperio SVS"``, ``"TIFF"``, ``"NumPy"``, ``"PNG"``,
        ``"JPEG"``, ``"zarr array"`` or ``"OME-Zarr"``.
    data : array-like
        Shape, dtype and ``__getitem__`` with one slice per axis, in :attr:`axes` order.
    source_axes : str
        The axes as the file orders them (``"YXS"``, ``"TZCYX"``, ``"yxc"``).
    axes : str
        The axes written, in NGFF order (``"czyx"``).
    scale : dict of str to float
        Physical pixel sizes found in the file.
    units : dict of str to str
        NGFF units found in the file.
    channel_names, channel_colors : list of str or None
        One name / hex ``RRGGBB`` colour per channel, when the file has them.
    name : str or None
        The image name in the file.
    notes : list of str
        What was guessed or dropped, for the user.
    ome_xml : str or None
        The input's OME-XML as the file holds it (OME-TIFF), for the writer to keep.
    original_metadata : dict
        What else the file says of itself, JSON-ready (arrays as lists, bytes as base64
        text), for the writer to keep: for a TIFF its text tags (``"ImageDescription"``
        unless it is the OME-XML, ``"Software"``, ``"DateTime"`` …) and the metadata of the
        format tifffile recognised (``"imagej"``, ``"svs"``, ``"micromanager"`` …).
    """

    path: str
    kind: str
    data: Any
    source_axes: str
    axes: str
    scale: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    channel_names: list[str] | None = None
    channel_colors: list[str] | None = None
    name: str | None = None
    notes: list[str] = field(default_factory=list)
    ome_xml: str | None = None
    original_metadata: dict[str, Any] = field(default_factory=dict)


def _import_optional(module: str, package: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConversionError(
            f"reading {what} needs {package}: pip install 'omezarr[convert]'"
        ) from None


def _guess_axes(letters: str, notes: list[str]) -> str:
    """Map file axis letters (tifffile's TCZYXS…, or user letters) to NGFF names."""
    mapped: list[str | None] = []
    for letter in letters:
        lower = letter.lower()
        if lower in NGFF_AXIS_ORDER:
            mapped.append(lower)
        elif lower == "s":
            mapped.append("c" if "c" not in letters.lower() else None)
        else:
            mapped.append(None)
    for i, name in enumerate(mapped):
        if name is None:
            free = next((a for a in "ztc" if a not in mapped), None)
            if free is None:
                raise ConversionError(
                    f"cannot map axis {letters[i]!r} of {letters!r} to t, c, z, y or x; pass ",
                    Parameter("axes"),
                )
            mapped[i] = free
            notes.append(f"axis {letters[i]!r} taken as {free!r} (pass --axes to change)")
    return "".join(str(name) for name in mapped)


def _check_user_axes(axes: str, ndim: int) -> str:
    axes = axes.strip().lower()
    if len(axes) != ndim or len(set(axes)) != ndim or any(a not in NGFF_AXIS_ORDER for a in axes):
        raise InvalidParameterError(
            Parameter("axes"),
            f": expected {ndim} distinct letters of 'tczyx' for {ndim}-D input, not {axes!r}",
        )
    return axes


def _default_axes(ndim: int, notes: list[str]) -> str:
    if ndim < 2 or ndim > 5:
        raise ConversionError(f"OME-Zarr images have 2 to 5 dimensions, this input has {ndim}")
    axes = NGFF_AXIS_ORDER[-ndim:] if ndim != 4 else "czyx"
    if ndim in (3, 4):
        notes.append(f"axes guessed as {axes} (pass --axes to change)")
    return axes


def _arrange(
    path: Path | str, kind: str, array: Any, letters: str, notes: list[str] | None = None
) -> InputImage:
    """The :class:`InputImage` of ``array`` whose axes are ``letters``, reordered for NGFF."""
    notes = [] if notes is None else notes
    if not 2 <= array.ndim <= 5:
        raise ConversionError(
            f"{path}: OME-Zarr images have 2 to 5 dimensions, this input has {array.ndim} ({letters})"
        )
    names = _guess_axes(letters, notes)
    order = sorted(range(len(names)), key=lambda i: NGFF_AXIS_ORDER.index(names[i]))
    axes = "".join(names[i] for i in order)
    if axes != names:
        notes.append(f"axes {letters} reordered to {axes}")
    return InputImage(
        path=str(path),
        kind=kind,
        data=_Source(array, order, str(path)),
        source_axes=letters,
        axes=axes,
        notes=notes,
    )
