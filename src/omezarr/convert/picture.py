"""PNG and JPEG inputs read through Pillow."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .._budget import memory_budget_from
from .errors import ConversionError, Parameter
from .source import InputImage, _arrange, _check_user_axes, _import_optional

_BYTES_PER_SAMPLE = {"I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4}


def _decoded_bytes(width: int, height: int, mode: str, bands: int) -> int:
    """What Pillow (then NumPy) holds for a picture of ``mode``: a palette becomes RGB(A)."""
    return width * height * max(bands, 4 if mode == "P" else 1) * _BYTES_PER_SAMPLE.get(mode, 1)


def _open_picture(
    path: Path, kind: str, axes: str | None, memory_budget: int | None = None
) -> InputImage:
    pil = _import_optional("PIL.Image", "Pillow", f"{kind} files")
    budget = memory_budget_from(memory_budget)
    # Pillow's own bomb check uses a fixed pixel count; the budget decides here instead (its
    # limit is lifted to the budget while this file is opened, then put back).
    limit = pil.MAX_IMAGE_PIXELS
    pil.MAX_IMAGE_PIXELS = budget
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pil.DecompressionBombWarning)  # checked below
            with pil.open(path) as picture:  # reads the header only
                width, height = picture.size
                needed = _decoded_bytes(width, height, picture.mode, len(picture.getbands()))
                if needed > budget // 2:  # decoded once by Pillow, once more into NumPy
                    raise ConversionError(
                        f"{path}: a {width}x{height} {kind} ({picture.mode}) takes "
                        f"{needed / 2**20:,.0f} MiB to decode, more than half the memory budget of "
                        f"{budget / 2**20:,.0f} MiB; raise ",
                        Parameter("memory_budget"),
                        " to convert it",
                    )
                if picture.mode == "P":
                    picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
                pixels = np.asarray(picture)
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
    letters = _check_user_axes(axes, pixels.ndim) if axes else ("yx" if pixels.ndim == 2 else "yxc")
    image = _arrange(path, kind, pixels, letters)
    if pixels.ndim == 3 and "c" in image.axes and pixels.shape[2] in (3, 4) and not axes:
        image.channel_names = ["red", "green", "blue", "alpha"][: pixels.shape[2]]
        image.channel_colors = ["FF0000", "00FF00", "0000FF", "FFFFFF"][: pixels.shape[2]]
    return image
