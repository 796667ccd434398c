"""The one place that picks how bytes move: which sink a level writes to, where tasks run.

Sinks: a level array on a local disk whose layout omezarr can encode itself gets a
:class:`~omezarr.io.chunkio.DirectChunkWriter` (whole chunks and shards written as files,
direct I/O where the disk allows); any other array (remote stores, memory, layouts zarr-python
alone knows) gets an :class:`ArraySink`, which writes through zarr-python.

Executors: ``compute=True`` runs the tasks in this process's threads, or on the workers of an
active ``dask.distributed`` client when there is one; ``compute=False`` returns one
``dask.delayed`` object that writes every task and then calls ``finish``.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..io.chunkio import direct_writer
from .box import Box
from .plan import PyramidPlan
from .run import delayed_tasks, run_plan
from .sinks import ArraySink, ChunkSink
from .targets import LevelTarget, Progress

__all__ = ["EngineRun", "Executor", "execute", "level_sink", "pick_executor"]


def level_sink(array: Any) -> ChunkSink:
    """The sink for ``array``: direct chunk files where its store and layout allow, else
    zarr-python.

    Parameters
    ----------
    array : zarr.Array or array-like
        A level array, created.

    Returns
    -------
    ChunkSink
        A :class:`~omezarr.io.chunkio.DirectChunkWriter` for a little-endian local zarr array
        whose codecs omezarr encodes itself, else an :class:`ArraySink`.

    Examples
    --------
    >>> import numpy as np
    >>> level_sink(np.zeros((4, 4)))
    ArraySink(array=array(...))
    """
    direct = direct_writer(array)
    return direct if direct is not None else ArraySink(array)


class Executor(Enum):
    """Where the tasks of a write run."""

    THREADS = "threads"
    DISTRIBUTED = "distributed"
    DELAYED = "delayed"


def active_client() -> Any:
    """The active ``dask.distributed`` client, if distributed is imported and one is active."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_client

    try:
        return get_client()
    except ValueError:
        return None


def pick_executor(compute: bool | None) -> Executor:
    """``compute`` (the writers' argument) and the environment to an executor.

    Parameters
    ----------
    compute : bool or None
        True: run now (on an active ``dask.distributed`` client's workers if there is one,
        else in threads); False or None: build a ``dask.delayed`` object.

    Returns
    -------
    Executor

    Examples
    --------
    >>> pick_executor(False)
    <Executor.DELAYED: 'delayed'>
    """
    if not compute:
        return Executor.DELAYED
    return Executor.THREADS if active_client() is None else Executor.DISTRIBUTED


@dataclass(frozen=True)
class EngineRun:
    """One engine run: a source, the levels written from it, its plan, and which tasks to
    skip (a resumed write)."""

    source: Any
    targets: Sequence[LevelTarget]
    plan: PyramidPlan
    skip: Callable[[Box], bool] | None = None


def execute(
    runs: Sequence[EngineRun],
    finish: Callable[..., None],
    compute: bool | None,
    progress: Callable[[Progress], None] | None = None,
) -> list[Any]:
    """Run every task of ``runs``, then ``finish()``; or return the delayed object doing so.

    Parameters
    ----------
    runs : sequence of EngineRun
        The engine runs of one write (one for a pyramid, one per level of a given pyramid).
    finish : callable
        Called once every task has written (the metadata that advertises the image).
    compute : bool or None
        As for :func:`pick_executor`.
    progress : callable, optional
        Called with a :class:`Progress` after every region, on the threads executor only.

    Returns
    -------
    list
        ``[]`` when computed, else one ``dask.delayed`` object that writes everything and then
        calls ``finish``.
    """
    executor = pick_executor(compute)
    if executor is Executor.THREADS:
        for run in runs:
            run_plan(run.source, run.targets, run.plan, progress, run.skip)
        finish()
        return []
    import dask

    tasks = [
        task for run in runs for task in delayed_tasks(run.source, run.targets, run.plan, run.skip)
    ]
    finished = dask.delayed(finish, pure=False)(
        *tasks, dask_key_name=f"omezarr-metadata-{uuid.uuid4().hex}"
    )
    if executor is Executor.DISTRIBUTED:
        active_client().compute(finished).result()
        return []
    return [finished]
