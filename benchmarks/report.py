"""Summaries, markdown tables and the issue-4 target checks for benchmark runs."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from writers import COMPETITORS

__all__ = [
    "FLOOR",
    "MIB",
    "OME_ZARR_DEFAULT",
    "RunResult",
    "Summary",
    "TargetCheck",
    "as_json",
    "check_targets",
    "render_markdown",
    "render_size_table",
    "render_targets",
    "summarise",
]

MIB: Final = 2**20
OME_ZARR_DEFAULT: Final = "ome-zarr/resize"
FLOOR: Final = "floor/block_mean@zstd0"


@dataclass
class RunResult:
    """One timed write of one writer on one input, as measured by the parent process."""

    size: str
    writer: str
    repeat: int
    status: str
    """``ok``, ``error``, ``timeout`` or ``not available``."""
    seconds: float | None = None
    """Wall time of the write call alone, measured in the child."""
    peak_rss_mib: float | None = None
    """Peak resident memory of the child during the write (includes interpreter and input)."""
    rss_before_mib: float | None = None
    """Resident memory of the child just before the write."""
    process_peak_rss_mib: float | None = None
    """Peak resident memory of the child over its whole life (``wait4`` rusage)."""
    bytes_on_disk: int | None = None
    files: int | None = None
    codec: str | None = None
    chunks: list[int] | None = None
    problems: list[str] = field(default_factory=list)
    """Output checks that failed (level count, shapes, level-0 pixels)."""
    message: str = ""


@dataclass
class Summary:
    """All repeats of one writer on one input."""

    size: str
    writer: str
    status: str
    runs: int
    median_s: float | None = None
    min_s: float | None = None
    max_s: float | None = None
    peak_rss_mib: float | None = None
    rss_before_mib: float | None = None
    bytes_on_disk: int | None = None
    codec: str | None = None
    chunks: list[int] | None = None
    problems: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def library(self) -> str:
        return self.writer.split("/", 1)[0]

    @property
    def method(self) -> str:
        return self.writer.split("/", 1)[1].split("@", 1)[0]

    @property
    def timed(self) -> bool:
        return self.median_s is not None


def summarise(results: Iterable[RunResult]) -> list[Summary]:
    """Group runs by (size, writer), keeping first-seen order; medians over successful runs."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.size, result.writer), []).append(result)
    summaries = []
    for (size, writer), runs in groups.items():
        ok = [r for r in runs if r.status == "ok" and r.seconds is not None]
        failed = [r for r in runs if r.status != "ok"]
        summary = Summary(size, writer, failed[0].status if failed else "ok", len(runs))
        summary.message = "; ".join(sorted({r.message for r in failed if r.message}))
        summary.problems = sorted({p for r in runs for p in r.problems})
        if ok:
            times = [r.seconds for r in ok if r.seconds is not None]
            summary.median_s = statistics.median(times)
            summary.min_s, summary.max_s = min(times), max(times)
            summary.peak_rss_mib = _max_or_none(r.peak_rss_mib for r in ok)
            summary.rss_before_mib = _median_or_none(r.rss_before_mib for r in ok)
            sizes = [r.bytes_on_disk for r in ok if r.bytes_on_disk is not None]
            summary.bytes_on_disk = int(statistics.median(sizes)) if sizes else None
            summary.codec, summary.chunks = ok[0].codec, ok[0].chunks
            if failed:  # some repeats worked: say so rather than hide the failures
                summary.status = f"ok ({len(ok)}/{len(runs)})"
        summaries.append(summary)
    return summaries


def _max_or_none(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _median_or_none(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


# --------------------------------------------------------------------------- tables


def _fastest_competitor(rows: list[Summary]) -> Summary | None:
    timed = [r for r in rows if r.library in COMPETITORS and r.timed]
    return min(timed, key=lambda r: r.median_s or 0.0, default=None)


def _row(rows: list[Summary], writer: str) -> Summary | None:
    return next((r for r in rows if r.writer == writer and r.timed), None)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def render_size_table(
    size: str, rows: list[Summary], input_desc: str, input_mib: float, in_memory: bool
) -> str:
    """Markdown section for one input: a header line and one row per writer."""
    reference = _row(rows, OME_ZARR_DEFAULT)
    fastest = _fastest_competitor(rows)
    floor = _row(rows, FLOOR)
    lines = [
        f"### {size}: {input_desc}",
        "",
        f"Fastest competitor: {fastest.writer if fastest else '—'}. "
        "Speed-up columns are (their time) / (this row's time); '/ floor' is (this row's time) / "
        "(floor time). RSS is the writer process's peak during the write, interpreter and "
        "input included.",
        "",
        "| writer | method | codec | s0 chunks | runs | median s | min–max s | MiB/s | peak RSS MiB "
        "| RSS before MiB | peak − input MiB | on disk MiB | vs ome-zarr default | vs fastest "
        "competitor | / floor |",
        "|" + "---|" * 15,
    ]
    for row in rows:
        if not row.timed:
            reason = row.status + (f": {row.message}" if row.message else "")
            lines.append(
                f"| {row.writer} | {row.method} | — | — | {row.runs} | {reason} |" + " |" * 9
            )
            continue
        beyond_input = (
            row.peak_rss_mib - input_mib if in_memory and row.peak_rss_mib is not None else None
        )
        chunks = "×".join(map(str, row.chunks)) if row.chunks else "—"
        on_disk = row.bytes_on_disk / MIB if row.bytes_on_disk is not None else None
        cells = [
            row.writer + (" ⚠" if row.problems else ""),
            row.method,
            row.codec or "—",
            chunks,
            str(row.runs) if row.status == "ok" else row.status,  # e.g. "ok (2/3)"
            _fmt(row.median_s, ".2f"),
            f"{_fmt(row.min_s, '.2f')}–{_fmt(row.max_s, '.2f')}",
            _fmt(_ratio(input_mib, row.median_s), ".0f"),
            _fmt(row.peak_rss_mib, ".0f"),
            _fmt(row.rss_before_mib, ".0f"),
            _fmt(beyond_input, ".0f"),
            _fmt(on_disk, ".1f"),
            _fmt(_ratio(reference.median_s if reference else None, row.median_s), ".2f", "×"),
            _fmt(_ratio(fastest.median_s if fastest else None, row.median_s), ".2f", "×"),
            _fmt(_ratio(row.median_s, floor.median_s if floor else None), ".2f", "×"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    problems = [(r.writer, p) for r in rows for p in r.problems]
    if problems:
        lines += ["", "⚠ Output checks that failed:"]
        lines += [f"- {writer}: {problem}" for writer, problem in problems]
    return "\n".join(lines)


# --------------------------------------------------------------------------- targets


@dataclass
class TargetCheck:
    """One issue-4 target evaluated on one input (or across inputs)."""

    target: str
    size: str
    verdict: str
    """``PASS``, ``FAIL`` or ``N/A``."""
    detail: str


def _speed_target(
    target: str,
    size: str,
    ours: Summary | None,
    theirs: Summary | None,
    factor: float,
    extra: Callable[[Summary, Summary], tuple[bool, str]] | None = None,
) -> TargetCheck:
    """``ours`` must be at least ``factor`` times faster than ``theirs`` (plus ``extra``)."""
    if ours is None or theirs is None:
        missing = "omezarr row" if ours is None else "reference row"
        return TargetCheck(target, size, "N/A", f"{missing} not measured")
    speedup = _ratio(theirs.median_s, ours.median_s) or 0.0
    passed = speedup >= factor
    detail = (
        f"{ours.writer} {ours.median_s:.2f}s vs {theirs.writer} {theirs.median_s:.2f}s: "
        f"{speedup:.2f}× (need ≥{factor:g}×)"
    )
    if extra is not None:
        extra_ok, extra_detail = extra(ours, theirs)
        passed = passed and extra_ok
        detail += f"; {extra_detail}"
    return TargetCheck(target, size, "PASS" if passed else "FAIL", detail)


def _no_larger(ours: Summary, theirs: Summary) -> tuple[bool, str]:
    if ours.bytes_on_disk is None or theirs.bytes_on_disk is None:
        return False, "bytes on disk unknown"
    ratio = ours.bytes_on_disk / theirs.bytes_on_disk
    return ratio <= 1.0, f"on disk {ratio:.3f}× theirs (need ≤1×)"


def _size_targets(size: str, rows: list[Summary], input_mib: float, kind: str) -> list[TargetCheck]:
    checks = []
    reference = _row(rows, OME_ZARR_DEFAULT)
    fastest = _fastest_competitor(rows)
    floor = _row(rows, FLOOR)
    checks.append(
        _speed_target(
            "omezarr default ≥10× faster than ome-zarr default (resize)",
            size,
            _row(rows, "omezarr/resize"),
            reference,
            10,
        )
    )
    for method in ("nearest", "local_mean"):
        checks.append(
            _speed_target(
                f"omezarr {method} ≥3× faster than fastest competitor, output no larger",
                size,
                _row(rows, f"omezarr/{method}"),
                fastest,
                3,
                extra=_no_larger,
            )
        )
    checks.append(
        _speed_target(
            "equal codec: omezarr resize ≥5× faster than ome-zarr resize",
            size,
            _row(rows, "omezarr/resize@zstd0"),
            reference,
            5,
        )
    )
    for method in ("nearest", "local_mean"):
        ours = _row(rows, f"omezarr/{method}@zstd0")
        checks.append(
            _speed_target(
                f"equal codec: omezarr {method} ≥1.5× faster than fastest competitor",
                size,
                ours,
                fastest,
                1.5,
            )
        )
        if ours is None or floor is None:
            checks.append(
                TargetCheck(
                    f"equal codec: omezarr {method} ≤1.2× the floor",
                    size,
                    "N/A",
                    "row not measured",
                )
            )
        else:
            slowdown = _ratio(ours.median_s, floor.median_s) or float("inf")
            checks.append(
                TargetCheck(
                    f"equal codec: omezarr {method} ≤1.2× the floor",
                    size,
                    "PASS" if slowdown <= 1.2 else "FAIL",
                    f"{ours.median_s:.2f}s vs floor {floor.median_s:.2f}s: {slowdown:.2f}×",
                )
            )
    ours_rows = [
        r for r in rows if r.library == "omezarr" and r.timed and r.peak_rss_mib is not None
    ]
    worst = max(ours_rows, key=lambda r: r.peak_rss_mib or 0.0, default=None)
    if kind == "memory":
        target, limit = "memory: omezarr peak RSS ≤ input + 256 MiB", input_mib + 256
    else:
        target, limit = "memory: omezarr peak RSS ≤ 400 MiB on lazy input (default budget)", 400.0
    if worst is None or worst.peak_rss_mib is None:
        checks.append(TargetCheck(target, size, "N/A", "no omezarr row measured"))
    else:
        checks.append(
            TargetCheck(
                target,
                size,
                "PASS" if worst.peak_rss_mib <= limit else "FAIL",
                f"worst {worst.writer} {worst.peak_rss_mib:.0f} MiB (limit {limit:.0f} MiB)",
            )
        )
    return checks


def _scaling_target(small: str, large: str, rows: list[Summary]) -> TargetCheck:
    """omezarr's peak RSS on the largest lazy input is within 1.2× of that on the smallest."""
    target = "memory: omezarr peak RSS within 1.2× between lazy inputs"
    label = f"{small} → {large}"
    peaks: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.library == "omezarr" and row.timed and row.peak_rss_mib is not None:
            peaks.setdefault(row.writer, {})[row.size] = row.peak_rss_mib
    ratios = {w: p[large] / p[small] for w, p in peaks.items() if small in p and large in p}
    if not ratios:
        return TargetCheck(target, label, "N/A", "omezarr not measured on both inputs")
    writer, ratio = max(ratios.items(), key=lambda item: item[1])
    return TargetCheck(
        target,
        label,
        "PASS" if ratio <= 1.2 else "FAIL",
        f"worst {writer}: {peaks[writer][small]:.0f} → {peaks[writer][large]:.0f} MiB ({ratio:.2f}×)",
    )


def check_targets(summaries: list[Summary], inputs: dict[str, dict[str, Any]]) -> list[TargetCheck]:
    """Evaluate the issue-4 targets.

    Parameters
    ----------
    summaries : list of Summary
        Rows of every input.
    inputs : dict
        Per input name: ``{"mib": float, "kind": "memory" | "lazy"}``, in run order
        (lazy inputs are assumed to be listed from small to large).

    Returns
    -------
    list of TargetCheck
    """
    checks = []
    for size, info in inputs.items():
        rows = [s for s in summaries if s.size == size]
        checks += _size_targets(size, rows, info["mib"], info["kind"])
    lazy = sorted((info["mib"], size) for size, info in inputs.items() if info["kind"] == "lazy")
    if len(lazy) >= 2:
        checks.append(_scaling_target(lazy[0][1], lazy[-1][1], summaries))
    return checks


def render_targets(checks: list[TargetCheck]) -> str:
    """Markdown table of target verdicts."""
    lines = ["| verdict | target | input | detail |", "|---|---|---|---|"]
    lines += [f"| {c.verdict} | {c.target} | {c.size} | {c.detail} |" for c in checks]
    return "\n".join(lines)


def render_markdown(
    summaries: list[Summary],
    checks: list[TargetCheck],
    inputs: dict[str, dict[str, Any]],
    header: str,
) -> str:
    """The whole report: ``header``, one table per input, then the targets."""
    parts = [header]
    for size, info in inputs.items():
        rows = [s for s in summaries if s.size == size]
        parts.append(
            render_size_table(
                size, rows, info["description"], info["mib"], info["kind"] == "memory"
            )
        )
    parts.append("### Targets (issue 4)\n\n" + render_targets(checks))
    return "\n\n".join(parts) + "\n"


def as_json(summaries: list[Summary], checks: list[TargetCheck]) -> dict[str, Any]:
    """JSON-ready summaries and checks."""
    return {
        "summaries": [asdict(s) for s in summaries],
        "targets": [asdict(c) for c in checks],
    }
