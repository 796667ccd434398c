"""The memory budget: parsing it, and priming glibc's allocator for chunk-sized buffers."""

from __future__ import annotations

import ctypes
import functools
import os
import sys

from .._errors import InvalidParameterError, InvalidParameterTypeError, Parameter

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "MEMORY_BUDGET_ENV",
    "memory_budget_from",
    "prime_malloc",
]

DEFAULT_MEMORY_BUDGET = 256 * 2**20
MEMORY_BUDGET_ENV = "OMEZARR_MEMORY_BUDGET"


_BUDGET = Parameter("memory_budget")


def memory_budget_from(value: int | str | None) -> int:
    """The memory budget in bytes from an argument, the environment, or the default.

    Parameters
    ----------
    value : int, str or None
        Bytes as an int, or a string such as ``"512M"``, ``"2G"`` or ``"1.5GiB"``; None reads
        ``$OMEZARR_MEMORY_BUDGET``, else :data:`DEFAULT_MEMORY_BUDGET` (256 MiB).

    Returns
    -------
    int
        The budget in bytes, at least 16 MiB.

    Raises
    ------
    TypeError
        For a bool or any other type.
    ValueError
        For text that is not a size, or a budget under 16 MiB (messages name ``memory_budget``).

    Examples
    --------
    >>> memory_budget_from("512M"), memory_budget_from(2**30)
    (536870912, 1073741824)
    """
    if value is None:
        value = os.environ.get(MEMORY_BUDGET_ENV)
        if value is None:
            return DEFAULT_MEMORY_BUDGET
    if isinstance(value, bool):
        raise InvalidParameterTypeError(
            _BUDGET, ": expected bytes as an int or a string such as '512M'"
        )
    if isinstance(value, int):
        budget = value
    elif isinstance(value, str):
        text = value.strip().upper().removesuffix("IB").removesuffix("B")
        units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
        scale = units.get(text[-1:], 1)
        number = text[:-1] if text[-1:] in units else text
        try:
            budget = int(float(number) * scale)
        except (ValueError, OverflowError):  # OverflowError: "inf"
            raise InvalidParameterError(
                _BUDGET, f": cannot read {value!r}; use bytes or e.g. '512M', '2G'"
            ) from None
    else:
        raise InvalidParameterTypeError(
            _BUDGET, f": expected an int or a string such as '512M', not {type(value).__name__}"
        )
    if budget < 16 * 2**20:
        raise InvalidParameterError(_BUDGET, f": at least 16 MiB is needed, got {budget} bytes")
    return budget


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
