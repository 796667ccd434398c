"""Facts about OME-NGFF, pure: versions (``format``), axes (``axes``), building and checking
documents (``documents``). Nothing here imports storage or pixel code."""
