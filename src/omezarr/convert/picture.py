"""PNG and JPEG inputs read through Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ConversionError
from .source import InputImage, _arrange, _check_user_axes, _import_optional


def _open_picture(path: Path, kind: str, axes: str | None) -> InputImage:
    pil = _import_optional("PIL.Image", "Pillow", f"{kind} files")
    try:
        with pil.open(path) as picture:
            if picture.mode == "P":
                picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
            pixels = np.asarray(picture)
    except Exception as error:
        raise ConversionError(
            f"{path}: not a readable {kind}: {type(error).__name__}: {error}"
        ) from None
    letters = _check_user_axes(axes, pixels.ndim) if axes else ("yx" if pixels.ndim == 2 else "yxc")
    image = _arrange(path, kind, pixels, letters)
    if pixels.ndim == 3 and "c" in image.axes and pixels.shape[2] in (3, 4) and not axes:
        image.channel_names = ["red", "green", "blue", "alpha"][: pixels.shape[2]]
        image.channel_colors = ["FF0000", "00FF00", "0000FF", "FFFFFF"][: pixels.shape[2]]
    return image
