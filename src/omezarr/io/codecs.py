"""Compressors: omezarr's measured default and translation between zarr v2 and v3 codecs.

Users pass numcodecs compressors (zarr v2 style) or ``zarr.codecs`` codecs (zarr v3) to
either format; this module turns them into what the target zarr format needs, and tells the
direct chunk writer (:mod:`omezarr.io.chunkio`) which numcodecs codec encodes like a v3 one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import numcodecs
import numcodecs.abc
import numcodecs.zarr3
from zarr.abc.codec import BytesBytesCodec
from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec
from zarr.codecs.blosc import BloscCname, BloscShuffle

__all__ = [
    "BLOSC_SHUFFLE_CODES",
    "BLOSC_SHUFFLE_NAMES",
    "DEFAULT_BLOCKSIZE",
    "DEFAULT_CLEVEL",
    "DEFAULT_CNAME",
    "compressors_for",
    "default_compressors",
    "numcodecs_equivalent",
]

DEFAULT_CNAME = "zstd"
"""Blosc's inner codec in omezarr's default (see benchmarks/RESULTS.md for the measurement)."""
DEFAULT_CLEVEL = 1
"""Blosc's level in omezarr's default."""
DEFAULT_BLOCKSIZE = 512 * 1024
"""Blosc's block size in omezarr's default, in bytes. Blosc's automatic choice for low levels
(16–32 KiB) makes zstd slower and the output larger (benchmarks/RESULTS.md, "Figures behind
the code" and "Codec study")."""

BLOSC_SHUFFLE_NAMES: Final[Mapping[int, str]] = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}
"""numcodecs' Blosc shuffle codes and their names in zarr v3 (``BloscShuffle``)."""
BLOSC_SHUFFLE_CODES: Final[Mapping[str, int]] = {
    name: code for code, name in BLOSC_SHUFFLE_NAMES.items()
}
"""The numcodecs Blosc shuffle code of each zarr v3 shuffle name."""


def default_compressors(zarr_format: int) -> list[Any]:
    """omezarr's default: Blosc zstd level 1, byte shuffle, 512 KiB blocks, for zarr v2 or v3."""
    if zarr_format == 2:
        return [
            numcodecs.Blosc(
                cname=DEFAULT_CNAME,
                clevel=DEFAULT_CLEVEL,
                shuffle=numcodecs.Blosc.SHUFFLE,
                blocksize=DEFAULT_BLOCKSIZE,
            )
        ]
    return [
        BloscCodec(
            cname=BloscCname(DEFAULT_CNAME),
            clevel=DEFAULT_CLEVEL,
            shuffle=BloscShuffle.shuffle,
            blocksize=DEFAULT_BLOCKSIZE,
        )
    ]


def _to_v3(codec: Any) -> BytesBytesCodec:
    if isinstance(codec, BytesBytesCodec):
        return codec
    if isinstance(codec, numcodecs.Blosc):
        shuffle = (
            codec.shuffle if codec.shuffle in BLOSC_SHUFFLE_NAMES else 1
        )  # AUTOSHUFFLE → byte shuffle
        return BloscCodec(
            cname=BloscCname(codec.cname),
            clevel=codec.clevel,
            shuffle=BloscShuffle(BLOSC_SHUFFLE_NAMES[shuffle]),
            blocksize=codec.blocksize,
        )
    if isinstance(codec, numcodecs.Zstd):
        return ZstdCodec(level=codec.level, checksum=bool(getattr(codec, "checksum", False)))
    if isinstance(codec, numcodecs.GZip):
        return GzipCodec(level=codec.level)
    if isinstance(codec, numcodecs.abc.Codec):
        wrapper = getattr(numcodecs.zarr3, type(codec).__name__, None)
        if wrapper is not None:
            return cast(BytesBytesCodec, wrapper(**_config(codec)))
    raise TypeError(
        "compressors: expected zarr.codecs codecs (e.g. BloscCodec) or numcodecs compressors, "
        f"not {type(codec).__name__}"
    )


def _config(codec: numcodecs.abc.Codec) -> dict[str, Any]:
    config = dict(codec.get_config())
    config.pop("id", None)
    return config


def numcodecs_equivalent(codec: Any) -> numcodecs.abc.Codec | None:
    """The numcodecs compressor that encodes exactly like the zarr v3 codec ``codec``.

    Parameters
    ----------
    codec : zarr.codecs codec
        A bytes-to-bytes codec of zarr v3.

    Returns
    -------
    numcodecs.abc.Codec or None
        For Blosc, Zstd and Gzip; None for any other codec. A Blosc codec's ``typesize`` is
        not carried over: numcodecs takes the element size from the buffer it encodes.

    Examples
    --------
    >>> numcodecs_equivalent(ZstdCodec(level=3))
    Zstd(level=3)
    >>> numcodecs_equivalent("not a codec") is None
    True
    """
    if isinstance(codec, BloscCodec):
        shuffle = codec.shuffle.value if codec.shuffle is not None else "shuffle"
        return numcodecs.Blosc(
            cname=codec.cname.value,
            clevel=codec.clevel,
            shuffle=BLOSC_SHUFFLE_CODES[shuffle],
            blocksize=codec.blocksize,
        )
    if isinstance(codec, ZstdCodec):
        return numcodecs.Zstd(level=codec.level, checksum=codec.checksum)
    if isinstance(codec, GzipCodec):
        return numcodecs.GZip(level=codec.level)
    return None


def _to_v2(codec: Any) -> numcodecs.abc.Codec:
    if isinstance(codec, numcodecs.abc.Codec):
        return codec
    equivalent = numcodecs_equivalent(codec)
    if equivalent is not None:
        return equivalent
    raise TypeError(
        f"compressor: {type(codec).__name__} has no zarr v2 equivalent; use a numcodecs compressor "
        "(e.g. numcodecs.Blosc) for OME-NGFF 0.4"
    )


def compressors_for(value: Any, zarr_format: int) -> list[Any] | None:
    """The ``compressors`` argument of :func:`zarr.create_array` for ``value``.

    ``value`` may be one codec, a list of codecs, None (no compression) or ``"default"``
    (omezarr's default). zarr v2 takes at most one compressor.

    Raises
    ------
    TypeError
        For objects that are not codecs.
    ValueError
        For more than one compressor with zarr v2.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value == "default":
            return default_compressors(zarr_format)
        raise ValueError(
            f"compressors: expected a codec, a list of codecs, None or 'default', not {value!r}"
        )
    codecs = list(value) if isinstance(value, Sequence) else [value]
    if zarr_format == 2:
        if len(codecs) > 1:
            raise ValueError("compressors: zarr v2 (OME-NGFF 0.4) takes a single compressor")
        return [_to_v2(c) for c in codecs]
    return [_to_v3(c) for c in codecs]
