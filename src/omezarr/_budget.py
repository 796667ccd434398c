"""The memory budget: its default, its environment variable, and reading it (a leaf).

Every package that holds data bounds itself by this one number: the writers and the engine
plan within it, and the readers refuse a chunk that would not fit in it before decoding it.
"""

from __future__ import annotations

import os

from ._errors import InvalidParameterError, InvalidParameterTypeError, Parameter

__all__ = ["DEFAULT_MEMORY_BUDGET", "MEMORY_BUDGET_ENV", "memory_budget_from"]

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
