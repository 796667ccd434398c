"""``python -m omezarr``: the command line."""

from .cli import main

raise SystemExit(main())
