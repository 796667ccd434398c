"""The command line's option for each library parameter: the one table that maps them.

The library's errors name Python parameters (``units``, ``fmt='0.5'``); the command line says
the same with its options (``--units``, ``--format 0.5``). The conversion modules are imported
only when an error is spelled, so that ``omezarr --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .._errors import Parameter

__all__ = ["FLAGS", "flag", "flag_spelling", "user_message"]

FLAGS: Final[Mapping[str, str]] = {
    "fmt": "--format",
    "axes": "--axes",
    "scale": "--scale",
    "units": "--units",
    "scale_factors": "--scale-factors",
    "method": "--method",
    "chunks": "--chunks",
    "shards": "--shards",
    "compressor": "--compressor",
    "overwrite": "--overwrite",
    "resume": "--resume",
    "memory_budget": "--memory",
    "series": "--series",
    "use_existing_levels": "--use-existing-levels",
    "dry_run": "--dry-run",
}
"""The option of ``omezarr convert`` (and ``demo``) for each parameter of
:func:`omezarr.convert.convert`."""


def flag(parameter: str) -> str:
    """The option for the Python parameter ``parameter``.

    Examples
    --------
    >>> flag("fmt"), flag("memory_budget")
    ('--format', '--memory')
    """
    return FLAGS[parameter]


def flag_spelling(parameter: Parameter) -> str:
    """A parameter as the command line writes it: ``--units``, ``--format 0.5``, ``--overwrite``.

    A parameter without an option keeps its Python spelling.

    Examples
    --------
    >>> from omezarr.convert import Parameter
    >>> flag_spelling(Parameter("fmt", "0.5")), flag_spelling(Parameter("overwrite", True))
    ('--format 0.5', '--overwrite')
    """
    from .._errors import python_spelling

    option = FLAGS.get(parameter.name)
    if option is None:
        return python_spelling(parameter)
    if parameter.value is None or parameter.value is True:  # True: a switch, given alone
        return option
    return f"{option} {parameter.value}"


def user_message(problem: BaseException | str) -> str:
    """The text of an error or warning (or a warning's text) for the command line, with the
    parameters that the library names spelled as options.

    Examples
    --------
    >>> from omezarr.convert import InvalidParameterError, Parameter
    >>> user_message(InvalidParameterError(Parameter("units"), ": 'furlong' is no unit"))
    "--units: 'furlong' is no unit"
    >>> user_message(ValueError("plain"))
    'plain'
    """
    from .._errors import ParameterMessage

    if isinstance(problem, ParameterMessage):
        return problem.spelled(flag_spelling)
    return str(problem)
