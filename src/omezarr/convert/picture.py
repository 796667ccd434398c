"""PNG and JPEG inputs: Pillow reads them, imagecodecs the PNGs whose depth Pillow would cut."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._budget import memory_budget_from
from .errors import ConversionError, Parameter
from .source import InputImage, _arrange, _check_user_axes, _import_optional

_BYTES_PER_SAMPLE = {"I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4}
"""Bytes of a sample in NumPy of each Pillow mode that has more than one."""

_CHANNELS: dict[str, tuple[tuple[str, str], ...]] = {
    "LA": (("grey", "FFFFFF"), ("alpha", "FFFFFF")),
    "RGB": (("red", "FF0000"), ("green", "00FF00"), ("blue", "0000FF")),
    "RGBA": (("red", "FF0000"), ("green", "00FF00"), ("blue", "0000FF"), ("alpha", "FFFFFF")),
    "CMYK": (("cyan", "00FFFF"), ("magenta", "FF00FF"), ("yellow", "FFFF00"), ("black", "FFFFFF")),
}
"""The name and colour of each sample of a picture, by its layout (named as Pillow's modes)."""

_PNG_LAYOUTS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
"""The layout of a PNG decoded by imagecodecs, by its samples per pixel."""

_WITH_ALPHA = {"L": "LA", "RGB": "RGBA"}
"""The layout that a PNG's transparent colour (its tRNS chunk) becomes, as an alpha sample."""

_DESCRIPTIONS = {"L": "grey", "I": "grey", "LA": "grey+alpha", "RGB": "RGB", "RGBA": "RGBA"}
"""How a layout is named in messages."""


@dataclass(frozen=True)
class _Decoding:
    """How one picture is decoded, decided from its header before any pixel is.

    Attributes
    ----------
    layout : str
        The samples of a pixel once decoded, named as Pillow's modes (``"RGBA"``).
    samples : int
        Samples per pixel once decoded.
    sample_bytes : int
        Bytes per sample in NumPy.
    frames : int
        Frames decoded (an animated PNG's, along t); 1 for a still picture.
    with_imagecodecs : bool
        True for a PNG of 16 bits per sample that Pillow would decode into 8.
    """

    layout: str
    samples: int
    sample_bytes: int
    frames: int
    with_imagecodecs: bool

    def decoded_bytes(self, width: int, height: int) -> int:
        return width * height * self.samples * self.sample_bytes * self.frames


def _png_rawmode(picture: Any) -> str:
    """How a PNG stores its samples, as Pillow names it (``"RGB;16B"`` for 48-bit RGB): its
    mode names what Pillow decodes them into, which for 16-bit colour is 8 bits."""
    tile = picture.tile[0] if picture.tile else None
    rawmode = tile[3] if tile is not None and len(tile) > 3 else None
    return rawmode if isinstance(rawmode, str) else str(picture.mode)


def _plan_decoding(pil: Any, picture: Any, kind: str) -> _Decoding:
    """The layout, size and decoder of ``picture``, opened by Pillow (its header only)."""
    keyed = "transparency" in picture.info  # a transparent colour or palette entry
    frames = int(getattr(picture, "n_frames", 1)) if kind == "PNG" else 1
    if kind == "PNG":
        rawmode = _png_rawmode(picture)
        stored = rawmode.split(";")[0]  # "I" (grey), "LA", "RGB", "RGBA", "P", "L", "1"
        # Pillow keeps 16 bits of plain grey only ("I;16"); colour, grey+alpha and a
        # transparent colour of 16-bit grey come out as 8 bits (or none).
        if ";16" in rawmode and (not picture.mode.startswith("I") or keyed):
            layout = _PNG_LAYOUTS[pil.getmodebands(stored) + (1 if keyed else 0)]
            return _Decoding(layout, len(layout), 2, frames, with_imagecodecs=True)
    mode = str(picture.mode)
    if mode == "P":
        layout = "RGBA" if keyed else "RGB"
    elif keyed and mode in _WITH_ALPHA:
        layout = _WITH_ALPHA[mode]
    else:
        layout = mode
    samples = pil.getmodebands(layout)
    return _Decoding(layout, samples, _BYTES_PER_SAMPLE.get(layout, 1), frames, False)


def _decode_with_pillow(picture: Any, decoding: _Decoding) -> np.ndarray:
    """Every frame of ``picture`` in ``decoding.layout``; a still picture without a t axis."""
    frames = []
    for index in range(decoding.frames):
        picture.seek(index)
        frame = picture if picture.mode == decoding.layout else picture.convert(decoding.layout)
        pixels = np.asarray(frame)
        if picture.mode == "I" and ";16" in _png_rawmode(picture):
            pixels = pixels.astype(np.uint16)  # older Pillow: 16-bit grey as 32-bit "I"
        frames.append(pixels)
    return frames[0] if decoding.frames == 1 else np.stack(frames)


def _decode_with_imagecodecs(path: Path, decoding: _Decoding) -> np.ndarray:
    what = f"{path} (a 16-bit {_DESCRIPTIONS.get(decoding.layout, decoding.layout)} PNG"
    codecs = _import_optional(
        "imagecodecs", "imagecodecs", f"{what}, which Pillow cannot read whole)"
    )
    data = path.read_bytes()
    pixels = codecs.apng_decode(data) if decoding.frames > 1 else codecs.png_decode(data)
    return np.asarray(pixels)


def _open_picture(
    path: Path, kind: str, axes: str | None, memory_budget: int | None = None
) -> InputImage:
    """A PNG or JPEG picture, decoded whole: every bit of every sample, its samples (grey,
    alpha, red, green, blue, cyan, …) along c, an animated PNG's frames along t."""
    pil = _import_optional("PIL.Image", "Pillow", f"{kind} files")
    budget = memory_budget_from(memory_budget)
    # Pillow's own bomb check uses a fixed pixel count; the budget decides here instead (its
    # limit is lifted to the budget while this file is opened, then put back).
    limit = pil.MAX_IMAGE_PIXELS
    pil.MAX_IMAGE_PIXELS = budget
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pil.DecompressionBombWarning)  # checked below
            with pil.open(path) as picture:  # reads the header only
                width, height = picture.size
                decoding = _plan_decoding(pil, picture, kind)
                needed = decoding.decoded_bytes(width, height)
                if needed > budget // 2:  # decoded once by the decoder, once more into NumPy
                    frames = f" x {decoding.frames} frames" if decoding.frames > 1 else ""
                    raise ConversionError(
                        f"{path}: a {width}x{height}{frames} {kind} ({picture.mode}) takes "
                        f"{needed / 2**20:,.0f} MiB to decode, more than half the memory budget of "
                        f"{budget / 2**20:,.0f} MiB; raise ",
                        Parameter("memory_budget"),
                        " to convert it",
                    )
                pictures = int(getattr(picture, "n_frames", 1))
                if kind != "PNG" and pictures > 1:  # e.g. an MPO file's preview images
                    notes.append(f"the first of the {pictures} pictures in the file converted")
                if decoding.with_imagecodecs:
                    pixels = _decode_with_imagecodecs(path, decoding)
                else:
                    pixels = _decode_with_pillow(picture, decoding)
    except ConversionError:
        raise
    except pil.DecompressionBombError as error:  # beyond even the budget's pixel count
        raise ConversionError(
            f"{path}: too large to decode within the memory budget ({error})"
        ) from None
    except Exception as error:
        raise ConversionError(
            f"{path}: not a readable {kind}: {type(error).__name__}: {error}"
        ) from None
    finally:
        pil.MAX_IMAGE_PIXELS = limit
    animated = decoding.frames > 1
    if axes:
        letters = _check_user_axes(axes, pixels.ndim)
    else:
        still_axes = "yx" if pixels.ndim == (3 if animated else 2) else "yxc"
        letters = ("t" if animated else "") + still_axes
    if animated:
        notes.append(f"the {decoding.frames} frames of the animated PNG along {letters[0]}")
    image = _arrange(path, kind, pixels, letters, notes)
    channels = _CHANNELS.get(decoding.layout)
    # Samples named only where they became the c axis (not when --axes made them z).
    if channels is not None and letters[-1] == "c" and pixels.shape[-1] == len(channels):
        image.channel_names = [name for name, _ in channels]
        image.channel_colors = [color for _, color in channels]
    return image
