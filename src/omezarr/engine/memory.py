"""The memory budget (read in omezarr._budget) and priming glibc's allocator for chunk buffers."""

from __future__ import annotations

import ctypes
import functools
import os
import sys

from .._budget import DEFAULT_MEMORY_BUDGET, MEMORY_BUDGET_ENV, memory_budget_from

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "MEMORY_BUDGET_ENV",
    "memory_budget_from",
    "prime_malloc",
]

_MALLOC_PRIME_BYTES = 16 * 2**20


@functools.cache
def prime_malloc() -> bool:
    """Let glibc's ``malloc`` serve blocks of up to 16 MiB from its heaps.

    Returns
    -------
    bool
        True if done (once per process; False elsewhere than glibc on Linux).

    Notes
    -----

    glibc maps every block above its *mmap threshold* (128 KiB at start) as fresh pages and
    unmaps it when freed, and raises the threshold to the size of a freed mapped block (up to
    32 MiB) to stop doing so for blocks of that size. Every chunk a compressor encodes is a
    new buffer of about the chunk's size; when nothing larger has been freed before, each is
    mapped, filled page by page and unmapped again: page faults that cost a large share of a
    write's time (benchmarks/RESULTS.md, "Figures behind the code"). Freeing one 16 MiB
    block once does what glibc would do on its own once a large enough block is freed (and
    sets its trim threshold to 32 MiB). Nothing changes elsewhere than glibc, nor where the
    thresholds were set (``mallopt``, ``MALLOC_TRIM_THRESHOLD_``, which dask.distributed's
    workers set, or ``GLIBC_TUNABLES``): glibc then keeps the values it was given.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):  # type: ignore[union-attr]
            return False
        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free.argtypes = [ctypes.c_void_p]
    except (AttributeError, OSError, ValueError):
        return False
    block = libc.malloc(_MALLOC_PRIME_BYTES)
    if not block:
        return False
    libc.free(block)
    return True
