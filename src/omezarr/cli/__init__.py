"""The ``omezarr`` command line: one small function pair per subcommand.

To add a subcommand, write ``_add_NAME_arguments(parser)`` and ``_run_NAME(args) -> int`` in
``commands`` and list them in ``main._COMMANDS``. A run function returns the exit code; it raises
:class:`CommandError` for problems the user can fix (bad arguments, unreadable paths), which
:func:`main` prints as one line on stderr with exit code 2. What is printed lives in ``output``.
"""

from __future__ import annotations

from .main import main
from .output import CommandError

__all__ = ["CommandError", "main"]
