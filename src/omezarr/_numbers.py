"""Number checks and integer arithmetic shared by every package (a leaf: imports nothing)."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["ceil_div", "is_finite_number", "is_int", "is_json_int"]


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), not a bool.

    Examples
    --------
    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def is_json_int(value: object) -> bool:
    """Whether ``value`` is a Python ``int`` (not a bool): an integer a JSON document may hold.

    NumPy integers are not: they are not JSON, and documents must be storable as they are.

    Examples
    --------
    >>> is_json_int(3), is_json_int(np.int64(3)), is_json_int(False)
    (True, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: object) -> bool:
    """Whether ``value`` is an int or float (not a bool) that is finite as a float.

    JSON integers have no size limit: ``10**400`` is a valid document value that no float can
    hold (``math.isfinite`` itself raises OverflowError on it), so it is not finite here.

    Examples
    --------
    >>> is_finite_number(2.5), is_finite_number(10**400), is_finite_number(float("nan"))
    (True, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def ceil_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded up, in integers (exact for any size).

    Examples
    --------
    >>> ceil_div(7, 2), ceil_div(8, 2), ceil_div(0, 5)
    (4, 4, 0)
    """
    return -(-numerator // denominator)
