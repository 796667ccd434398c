"""Recognising an input file by its bytes and opening it with the reader for its kind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..io.storage import archive_member, local_path, remote_url
from .errors import ConversionError
from .picture import _open_picture
from .source import InputImage, _arrange, _check_user_axes, _default_axes
from .tiff import _open_tiff
from .vendor import VENDOR_KINDS, open_vendor, vendor_kind, vendor_series
from .zarr_input import _open_zarr

__all__ = [
    "open_input",
    "series_of",
]

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a ZIP archive: a single-file OME-Zarr (.ozx)


def _detect_kind(path: Path) -> str:
    if path.is_dir():
        if any((path / name).exists() for name in ("zarr.json", ".zarray", ".zgroup")):
            return "zarr"
        raise ConversionError(f"{path}: a directory that is no zarr array or group")
    with path.open("rb") as handle:
        head = handle.read(16)
    vendor = vendor_kind(head, path)
    if vendor is not None:
        return vendor
    if head.startswith(_TIFF_MAGIC):
        return "tiff"
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_PNG_MAGIC):
        return "PNG"
    if head.startswith(_JPEG_MAGIC):
        return "JPEG"
    if head.startswith(_ZIP_MAGIC) or path.suffix.lower() == ".ozx":
        return "zarr"  # read through a ZIP store, which names what is wrong with the archive
    raise ConversionError(
        f"{path}: unsupported format (expected TIFF/OME-TIFF, .npy, PNG, JPEG, Zeiss CZI, "
        "Nikon ND2, Leica LIF/LOF, a zarr array or a single-file OME-Zarr)"
    )


@contextlib.contextmanager
def open_input(
    path: str | os.PathLike[str],
    *,
    axes: str | None = None,
    series: int = 0,
    memory_budget: int | None = None,
) -> Iterator[InputImage]:
    """Open an input lazily, detecting its format from its first bytes (not its name).

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF / OME-TIFF / ImageJ TIFF, a ``.npy`` file, a PNG or JPEG picture, a Zeiss CZI,
        Nikon ND2 or Leica LIF/LOF file (with the extras ``czi``, ``nd2``, ``lif``), a zarr
        array or an OME-Zarr image (its full-resolution level): a local path or a ``file://``
        URL.
        Zarr arrays and OME-Zarr images may also be remote URLs (``s3://``, ``http(s)://``;
        credentials and endpoint as for :func:`omezarr.io.storage.open_group`); other formats
        must be local.
    axes : str, optional
        The input's axes in the file's order (e.g. ``"yxc"``, ``"zcyx"``), overriding what the
        file says; letters of ``tczyx``. Guessed for 3-D (zyx) and 4-D (czyx) arrays that do
        not say.
    series : int, default 0
        The image series of a multi-series file: a TIFF series, a CZI scene, an ND2 XY
        position, a LIF image (or one tile of a LIF tile scan).
    memory_budget : int, optional
        Bytes: a PNG or JPEG (decoded whole) that would take more is refused before it is
        decoded; default ``$OMEZARR_MEMORY_BUDGET`` or 256 MiB.

    Yields
    ------
    InputImage
        Valid until the context exits (TIFF files stay open until then).

    Raises
    ------
    FileNotFoundError
        If a local ``path`` does not exist.
    ConversionError
        For unsupported or unreadable inputs, and URLs that hold no zarr array or image.
    ConnectionError, PermissionError
        If a remote URL cannot be reached or refuses access.
    InvalidParameterError
        A ValueError: for ``axes`` or ``series`` that do not fit the input (its
        ``parameter`` says which).

    Examples
    --------
    >>> with open_input("cells.ome.tif") as image:  # doctest: +SKIP
    ...     image.axes, image.scale, image.channel_names
    ('czyx', {'x': 0.2, 'y': 0.2, 'z': 1.0}, ['DAPI', 'GFP'])
    """
    url = remote_url(path)
    if url is not None:
        yield _open_zarr(url, axes)
        return
    source = local_path(path, "input_path")
    inside_archive = archive_member(source) is not None  # "plate.ozx/A/1/0"
    if not source.exists() and not inside_archive:
        raise FileNotFoundError(f"{path}: no such file or directory")
    kind = "zarr" if inside_archive else _detect_kind(source)
    with contextlib.ExitStack() as stack:
        if kind == "tiff":
            image = _open_tiff(source, series, axes, stack)
        elif kind == "npy":
            try:
                array = np.load(source, mmap_mode="r", allow_pickle=False)
            except Exception as error:
                raise ConversionError(f"{path}: not a readable .npy file: {error}") from None
            notes: list[str] = []
            letters = (
                _check_user_axes(axes, array.ndim) if axes else _default_axes(array.ndim, notes)
            )
            image = _arrange(source, "NumPy", array, letters, notes)
        elif kind == "zarr":
            image = _open_zarr(source, axes)
        elif kind in VENDOR_KINDS:
            image = open_vendor(kind, source, series, axes, stack)
        else:
            image = _open_picture(source, kind, axes, memory_budget)
        yield image


def series_of(path: str | os.PathLike[str]) -> tuple[int, str | None]:
    """How many image series the input at ``path`` holds, and its OME-XML (if it has any).

    TIFF files, CZI files (scenes), ND2 files (XY positions) and LIF files (images, and the
    tiles of tile scans) may hold several series; any other input (or one that cannot be read,
    or whose reader is not installed: it is refused with its reason when opened) counts as
    one. Of the vendor files only an ND2 has OME-XML (made by the nd2 package).

    Examples
    --------
    >>> series_of("cells.npy")  # doctest: +SKIP
    (1, None)
    """
    if remote_url(path) is not None:
        return 1, None
    source = local_path(path, "input_path")
    try:
        kind = _detect_kind(source)
        if kind in VENDOR_KINDS:
            return vendor_series(kind, source)
        if kind != "tiff":
            return 1, None
        import tifffile

        with tifffile.TiffFile(source) as tiff:
            return len(tiff.series) or 1, tiff.ome_metadata if tiff.is_ome else None
    except Exception:  # refused with its reason when it is opened
        return 1, None
