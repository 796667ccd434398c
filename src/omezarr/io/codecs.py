"""Compressors: omezarr's measured default and translation between zarr v2 and v3 codecs.

Users pass numcodecs compressors (zarr v2 style) or ``zarr.codecs`` codecs (zarr v3) to
either format; this module turns them into what the target zarr format needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numcodecs
import numcodecs.abc
import numcodecs.zarr3
from zarr.abc.codec import BytesBytesCodec
from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec
from zarr.codecs.blosc import BloscCname, BloscShuffle

__all__ = [
    "DEFAULT_BLOCKSIZE",
    "DEFAULT_CLEVEL",
    "DEFAULT_CNAME",
    "compressors_for",
    "default_compressors",
]

DEFAULT_CNAME = "zstd"
"""Blosc's inner codec in omezarr's default (see benchmarks/RESULTS.md for the measurement)."""
DEFAULT_CLEVEL = 1
"""Blosc's level in omezarr's default."""
DEFAULT_BLOCKSIZE = 512 * 1024
"""Blosc's block size in omezarr's default, in bytes. Blosc's automatic choice for low levels
(16–32 KiB) makes zstd slower and the output larger; 512 KiB blocks at level 1 encode about
25 % faster than level 2 at the automatic size, with smaller output (benchmarks/RESULTS.md)."""

_SHUFFLE_NAMES = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}
_SHUFFLE_CODES = {name: code for code, name in _SHUFFLE_NAMES.items()}


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
            codec.shuffle if codec.shuffle in _SHUFFLE_NAMES else 1
        )  # AUTOSHUFFLE → byte shuffle
        return BloscCodec(
            cname=BloscCname(codec.cname),
            clevel=codec.clevel,
            shuffle=BloscShuffle(_SHUFFLE_NAMES[shuffle]),
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


def _to_v2(codec: Any) -> numcodecs.abc.Codec:
    if isinstance(codec, numcodecs.abc.Codec):
        return codec
    if isinstance(codec, BloscCodec):
        shuffle = codec.shuffle.value if codec.shuffle is not None else "shuffle"
        return numcodecs.Blosc(
            cname=codec.cname.value,
            clevel=codec.clevel,
            shuffle=_SHUFFLE_CODES[shuffle],
            blocksize=codec.blocksize,
        )
    if isinstance(codec, ZstdCodec):
        return numcodecs.Zstd(level=codec.level, checksum=codec.checksum)
    if isinstance(codec, GzipCodec):
        return numcodecs.GZip(level=codec.level)
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
