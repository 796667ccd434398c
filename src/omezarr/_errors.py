"""Errors that name the parameter at fault, which each caller spells its own way (a leaf).

A message is text and :class:`Parameter` parts. ``str()`` spells each parameter as a Python
caller writes it (``units``, ``fmt='0.5'``); the command line spells the same message with its
options (``--units``, ``--format 0.5``) through :meth:`ParameterMessage.spelled`, so neither
has to parse the other's wording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "InvalidParameterError",
    "InvalidParameterTypeError",
    "MistypedParameterError",
    "Parameter",
    "ParameterMessage",
    "python_spelling",
]


@dataclass(frozen=True)
class Parameter:
    """A parameter of a library function, named in a message.

    Attributes
    ----------
    name : str
        The Python parameter name (``"units"``, ``"fmt"``, ``"overwrite"``).
    value : object, optional
        A value the message suggests giving it (``"0.5"``, ``True``); None when the message
        only names the parameter.
    """

    name: str
    value: object = None


Spelling = Callable[[Parameter], str]
"""How a caller writes a :class:`Parameter` in a message."""


def python_spelling(parameter: Parameter) -> str:
    """A parameter as a Python caller writes it.

    Examples
    --------
    >>> python_spelling(Parameter("units")), python_spelling(Parameter("fmt", "0.5"))
    ('units', "fmt='0.5'")
    >>> python_spelling(Parameter("overwrite", True))
    'overwrite=True'
    """
    return parameter.name if parameter.value is None else f"{parameter.name}={parameter.value!r}"


class ParameterMessage(Exception):
    """An exception or warning whose message is made of text and :class:`Parameter` parts.

    Parameters
    ----------
    *parts : str or Parameter
        The message in order; a single string is a message that names no parameter.

    Attributes
    ----------
    parameter : str or None
        The Python name of the first parameter the message names (the one to change), or None.

    Examples
    --------
    >>> error = ParameterMessage(Parameter("units"), ": axes ['q'] are not among the axes 'yx'")
    >>> str(error), error.parameter
    ("units: axes ['q'] are not among the axes 'yx'", 'units')
    >>> error.spelled(lambda parameter: "--" + parameter.name)
    "--units: axes ['q'] are not among the axes 'yx'"
    """

    def __init__(self, *parts: str | Parameter) -> None:
        self.parts = parts
        self.parameter: str | None = next(
            (part.name for part in parts if isinstance(part, Parameter)), None
        )
        super().__init__(self.spelled(python_spelling))

    def spelled(self, spelling: Spelling) -> str:
        """The message with each parameter written by ``spelling``."""
        return "".join(part if isinstance(part, str) else spelling(part) for part in self.parts)

    def __reduce__(self) -> tuple[type[ParameterMessage], tuple[str | Parameter, ...]]:
        # Rebuilt from its parts (not from the spelled message), so that an error pickled
        # between processes (the distributed backend) keeps its parameter.
        return type(self), self.parts


class InvalidParameterError(ParameterMessage, ValueError):
    """A ValueError naming the parameter whose value does not fit the input or the other
    arguments."""


class InvalidParameterTypeError(ParameterMessage, TypeError):
    """A TypeError naming the parameter given a value of the wrong type."""


class MistypedParameterError(InvalidParameterError, InvalidParameterTypeError):
    """A parameter given a value of the wrong type where the reference API raises ValueError
    (``wells=None``, ``datasets="s0"``): both a ValueError and a TypeError, so that code
    written for either library keeps catching it.

    Examples
    --------
    >>> error = MistypedParameterError(Parameter("wells"), ": expected a list, not NoneType")
    >>> isinstance(error, ValueError), isinstance(error, TypeError), error.parameter
    (True, True, 'wells')
    """
