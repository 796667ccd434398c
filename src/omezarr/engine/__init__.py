"""The pyramid write engine: one pass over the input, every level written, memory bounded.

The engine knows arrays, regions and bytes, not NGFF. Given a source (anything with
``shape``, ``dtype`` and ``__getitem__``), the zarr arrays of every level (already created)
and one resampler per level, it

* splits level 0 into *tasks*: boxes aligned so that every chunk or shard of every level is
  owned by exactly one task (tasks never share a chunk or shard, so they may run in any
  order, in threads, or on ``dask.distributed`` workers);
* walks each task in *regions* aligned with level 0's chunk/shard grid, in Z order (so a
  coarse chunk assembled from several regions is completed before the walk moves on), reading
  each region
  (plus the halo a method needs) once and computing from it every level's pixels that the
  region owns, each level from the previous level's pixels (over what the region owns plus
  what the next levels' halos need, so the result does not depend on the regions); with a
  halo, an output belongs to the region holding the last input it depends on, so regions
  read only behind them and only thin strips of earlier input chunks are kept, and a read
  that spans several input chunks is handed to the resampler as its pieces (a
  :class:`~omezarr.pyramid.Mosaic`), copied only tile by tile where a tile crosses them;
* writes level 0 straight from the region and gathers coarser levels in per-chunk (or
  per-shard) buffers that are written, whole, the moment they are complete.

Memory is bounded by the region size, the partly filled buffers a task holds at once (the
planner simulates the walk to know them) and the number of tasks running at once, all chosen
from ``memory_budget``.

Modules: ``box`` (index boxes, grids, Z order), ``targets`` (what is written, progress),
``memory`` (the budget), ``plan`` (tasks and regions), ``walk`` (region ownership and coarse
units), ``sources`` (reading the input), ``run`` (executing a plan), ``sinks`` (where write units
go) and ``backends``, the one place that picks a level's sink (direct chunk files or
zarr-python) and where tasks run (threads, dask delayed, a ``dask.distributed`` cluster).
"""

from __future__ import annotations

from .memory import DEFAULT_MEMORY_BUDGET, MEMORY_BUDGET_ENV, memory_budget_from, prime_malloc
from .plan import PyramidPlan, plan_pyramid
from .run import delayed_tasks, run_plan
from .targets import LevelTarget, Progress, Resampler
from .walk import task_write_units

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "MEMORY_BUDGET_ENV",
    "LevelTarget",
    "Progress",
    "PyramidPlan",
    "Resampler",
    "delayed_tasks",
    "memory_budget_from",
    "plan_pyramid",
    "prime_malloc",
    "run_plan",
    "task_write_units",
]
