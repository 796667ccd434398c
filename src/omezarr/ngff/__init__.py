"""Facts about OME-NGFF, pure: versions, axes, documents and their lenient parsing.

Modules: ``format`` (the versions), ``axes`` (axes, units, pixel sizes), ``documents``
(building and checking documents), ``parse`` (lenient parsing for readers). Nothing here
imports storage or pixel code.
"""
