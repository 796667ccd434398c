"""The converter's errors and warnings; they name parameters (see :mod:`omezarr._errors`)."""

from __future__ import annotations

from .._errors import (
    InvalidParameterError,
    InvalidParameterTypeError,
    Parameter,
    ParameterMessage,
    python_spelling,
)

__all__ = [
    "ConversionError",
    "ConversionWarning",
    "InvalidParameterError",
    "InvalidParameterTypeError",
    "Parameter",
    "ParameterMessage",
    "python_spelling",
]


class ConversionError(ParameterMessage):
    """An input that cannot be converted, or an output that cannot be written; the message
    names the path or parameter and is meant for the user as it is."""


class ConversionWarning(ParameterMessage, RuntimeWarning):
    """A RuntimeWarning of a conversion, naming the parameter that helps (e.g. ``resume``)."""
