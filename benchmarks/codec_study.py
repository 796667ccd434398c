"""Codec study: encode/decode speed per core and compression ratio on microscopy-like chunks.

Measures the candidates for omezarr's default codec on the synthetic data of ``data.py``
(``uint16`` chunks of 1024×1024 by default), one thread, best of ``--repeats`` passes.
zarr v3's ``bytes`` codec is a no-op for little-endian ``uint16`` on this machine, so encoding
a chunk with a numcodecs compressor is exactly what a zarr v3 writer does per chunk.

Example::

    python benchmarks/codec_study.py --chunks 16 --side 1024
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import numcodecs
import numcodecs.blosc
import numpy as np
from numcodecs.abc import Codec

import data

__all__ = ["CANDIDATES", "CodecResult", "main", "measure"]

BENCH_DIR: Final = Path(__file__).resolve().parent


def _blosc(cname: str, clevel: int, shuffle: int, blocksize: int = 0) -> Callable[[], Codec]:
    return lambda: numcodecs.Blosc(cname=cname, clevel=clevel, shuffle=shuffle, blocksize=blocksize)


CANDIDATES: Final[tuple[tuple[str, Callable[[], Codec]], ...]] = (
    ("zstd(0) — zarr v3 default", lambda: numcodecs.Zstd(level=0)),
    ("zstd(1)", lambda: numcodecs.Zstd(level=1)),
    ("zstd(3)", lambda: numcodecs.Zstd(level=3)),
    *(
        (f"blosc zstd {level} {label}", _blosc("zstd", level, shuffle))
        for level in range(1, 6)
        for label, shuffle in (
            ("byte-shuffle", numcodecs.Blosc.SHUFFLE),
            ("bit-shuffle", numcodecs.Blosc.BITSHUFFLE),
        )
    ),
    *(
        (
            f"blosc zstd {level} byte-shuffle {size // 1024}K blocks",
            _blosc("zstd", level, numcodecs.Blosc.SHUFFLE, size),
        )
        for level in (1, 2)
        for size in (256 * 1024, 512 * 1024, 1024 * 1024)
    ),
    ("blosc lz4 5 byte-shuffle", _blosc("lz4", 5, numcodecs.Blosc.SHUFFLE)),
    ("blosc lz4 5 bit-shuffle", _blosc("lz4", 5, numcodecs.Blosc.BITSHUFFLE)),
    ("blosc lz4hc 5 byte-shuffle", _blosc("lz4hc", 5, numcodecs.Blosc.SHUFFLE)),
    ("blosc lz4hc 5 bit-shuffle", _blosc("lz4hc", 5, numcodecs.Blosc.BITSHUFFLE)),
)


@dataclass(frozen=True)
class CodecResult:
    """Speed and ratio of one codec on the sample chunks."""

    label: str
    config: str
    ratio: float
    """Raw bytes / encoded bytes."""
    encode_mib_s: float
    decode_mib_s: float
    """Both per core, in MiB of raw data per second."""


def measure(label: str, codec: Codec, chunks: list[np.ndarray], repeats: int) -> CodecResult:
    """Encode and decode every chunk ``repeats`` times on one thread; keep the best pass.

    Parameters
    ----------
    label : str
        Name for the report.
    codec : numcodecs.abc.Codec
        The compressor.
    chunks : list of numpy.ndarray
        Contiguous chunks to encode.
    repeats : int
        Number of passes over all chunks.

    Returns
    -------
    CodecResult
    """
    raw_mib = sum(c.nbytes for c in chunks) / 2**20
    best_encode = best_decode = float("inf")
    encoded: list[bytes] = []
    for _ in range(repeats):
        start = time.perf_counter()
        encoded = [codec.encode(chunk) for chunk in chunks]
        best_encode = min(best_encode, time.perf_counter() - start)
        start = time.perf_counter()
        decoded = [codec.decode(blob) for blob in encoded]
        best_decode = min(best_decode, time.perf_counter() - start)
    restored = np.frombuffer(decoded[0], dtype=chunks[0].dtype).reshape(chunks[0].shape)
    if not np.array_equal(restored, chunks[0]):
        raise RuntimeError(f"{label} does not round-trip")
    return CodecResult(
        label=label,
        config=str(codec),
        ratio=sum(c.nbytes for c in chunks) / sum(len(b) for b in encoded),
        encode_mib_s=raw_mib / best_encode,
        decode_mib_s=raw_mib / best_decode,
    )


def render(results: list[CodecResult], description: str) -> str:
    """Markdown table of ``results`` with a line describing the sample."""
    lines = [
        f"Codec study on {description}; one thread, best pass.",
        "",
        "| codec | ratio | encode MiB/s per core | decode MiB/s per core |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r.label} | {r.ratio:.3f} | {r.encode_mib_s:.0f} | {r.decode_mib_s:.0f} |"
        for r in results
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--chunks", type=int, default=16, help="number of sample chunks (default 16)"
    )
    parser.add_argument(
        "--side", type=int, default=1024, help="chunk height and width (default 1024)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="passes per codec, best kept (default 3)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    parser.add_argument(
        "--results-dir", default=str(BENCH_DIR / "results"), help="where the table goes"
    )
    args = parser.parse_args(argv)
    if args.chunks < 1 or args.side < 16 or args.repeats < 1:
        parser.error("--chunks and --repeats must be ≥ 1 and --side ≥ 16")

    # One thread per codec call, so the numbers are per core and Blosc's own pool stays out.
    numcodecs.blosc.use_threads = False
    numcodecs.blosc.set_nthreads(1)
    chunks = data.sample_planes(args.chunks, args.side, args.seed)
    description = (
        f"{args.chunks} synthetic microscopy chunks of {args.side}×{args.side} uint16 "
        f"(seed {args.seed}), numcodecs {numcodecs.__version__}"
    )
    results = [measure(label, factory(), chunks, args.repeats) for label, factory in CANDIDATES]
    table = render(results, description)
    print(table)
    out = Path(args.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"codecs-{datetime.now().strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(table + "\n")
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
