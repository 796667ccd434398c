"""Imported once by the fork server of :func:`_crash_worker.forkserver_context`, never by tests.

A child forked from a server that has only imported omezarr still spends most of a write
warming up: importing numba and what a write imports lazily, loading the compiled resampling
loops from numba's cache, importing pytest (the children re-run the parent's ``__main__``).
That took ~0.6 s of a ~0.75 s image write in every child, so most random kills landed before
the first chunk. This module does each kind of work the children do once, in the server, so
that every child starts warm and a write takes as long in a child as it does in-process; the
children still write, and are killed, for real.

A failure here only leaves the children cold: it never stops the server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading


def _warm_up() -> None:
    import pytest  # noqa: F401 - the children import the parent's __main__, which imports it

    import _crash_worker as worker
    from omezarr import upgrade
    from omezarr.reader import open_image
    from omezarr.tools.verify import verify
    from omezarr.validate import validate

    directory = tempfile.mkdtemp(prefix="omezarr-forkserver-warm-up-")
    try:
        for version in ("0.5", "0.4"):
            image = f"{directory}/image-{version}.zarr"
            worker.write_test_image(image, version)
            worker.overwrite_test_image(image, version)
            worker.write_test_labels(image, version)
            worker.write_test_plate(f"{directory}/plate-{version}.zarr", version)
            validate(image)
            open_image(image)
        verify(f"{directory}/image-0.5.zarr")
        upgrade(f"{directory}/image-0.5.zarr", "0.6")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        # Fork from a server that runs no other thread, as before: stop zarr's event loop (a
        # child would reset it anyway) and let the threads of its executors end.
        from zarr.core.sync import cleanup_resources

        cleanup_resources()
        for thread in threading.enumerate():
            if thread is not threading.main_thread():
                thread.join(timeout=5)


def _restore_environment() -> None:
    """Take this folder off ``PYTHONPATH`` again (this process's path keeps it), so that the
    children inherit the parent's environment."""
    here = os.path.dirname(os.path.realpath(__file__))
    entries = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if entries and entries[0] == here:
        rest = os.pathsep.join(entries[1:])
        if rest:
            os.environ["PYTHONPATH"] = rest
        else:
            del os.environ["PYTHONPATH"]


_restore_environment()
with contextlib.suppress(Exception):  # only the children's start-up time depends on it
    _warm_up()
