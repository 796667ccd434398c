"""Where bytes live: stores, paths and URLs, layout, codecs, chunk files and locks."""
