"""What the command line prints: exit codes, one-line errors, progress, tables of levels."""

from __future__ import annotations

import contextlib
import re
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

from .flags import user_message

__all__ = [
    "CommandError",
]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 2."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(text: str) -> str:
    r"""``text`` with control characters (escape sequences above all) shown, not obeyed.

    Names, labels and units come from files anyone can write; printed raw, an escape sequence
    in them could rewrite the terminal's title, hide lines or worse. Newlines and tabs stay.

    Examples
    --------
    >>> terminal_text("cells\x1b]0;pwned\x07 ok")
    'cells\\x1b]0;pwned\\x07 ok'
    """
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _can_print(text: str) -> bool:
    """Whether stdout's encoding can show ``text`` (box drawing, ✓, ×)."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _mark(ok: bool) -> str:
    """✓ or ✗, or plain words where the terminal cannot show them."""
    symbol = "✓" if ok else "✗"
    return symbol if _can_print(symbol) else ("OK" if ok else "FAIL")


# --------------------------------------------------------------------------- convert, demo, info
# rich is optional: on terminals it draws the progress bar and the level tables; without it, or
# when output is redirected, the same information is printed as plain text. Everything heavy
# is imported inside the run functions so that `omezarr --help` stays fast.


def _rich_console(stream: Any) -> Any:
    """A rich Console writing to ``stream`` if rich is installed and ``stream`` is a terminal."""
    if not getattr(stream, "isatty", lambda: False)():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=stream)


class _ProgressDisplay:
    """Write progress on stderr: a rich bar (bytes, throughput, ETA) on terminals, a plain
    updating line without rich, nothing when stderr is redirected or ``enabled`` is False.

    Called as ``display(what, progress)`` with an :class:`omezarr.engine.Progress`, from the
    writer's threads.
    """

    def __init__(self, enabled: bool) -> None:
        self.console = _rich_console(sys.stderr) if enabled else None
        self.plain = enabled and self.console is None and sys.stderr.isatty()
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, float] = {}

    def __enter__(self) -> _ProgressDisplay:
        if self.console is not None:
            from rich import progress as bars

            self.bar = bars.Progress(
                bars.TextColumn("{task.description}"),
                bars.BarColumn(),
                bars.DownloadColumn(binary_units=True),
                bars.TransferSpeedColumn(),
                bars.TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.stop()
        elif self.started:
            print(file=sys.stderr)

    def __call__(self, what: str, progress: Any) -> None:
        if self.bar is not None:
            if what not in self.tasks:
                self.tasks[what] = self.bar.add_task(what, total=progress.bytes_total)
            self.bar.update(self.tasks[what], completed=progress.bytes_done)
        elif self.plain:
            now = time.perf_counter()
            start = self.started.setdefault(what, now)
            print(f"\r{_progress_line(what, progress, now - start)}", end="", file=sys.stderr)


def _progress_line(what: str, progress: Any, seconds: float) -> str:
    """``image:  45%  12.0 MiB of 26.0 MiB  5.0 MiB/s  ETA 3 s``: the plain progress line."""
    from ..tools.describe import format_bytes

    done, total = progress.bytes_done, max(1, progress.bytes_total)
    rate = done / seconds if seconds > 0 else 0.0
    eta = f"ETA {(total - done) / rate:.0f} s" if rate > 0 else "ETA ?"
    return (
        f"{what}: {100 * done / total:3.0f}%  {format_bytes(done)} of {format_bytes(total)}  "
        f"{format_bytes(rate)}/s  {eta}   "
    )


def _print_levels(title: str, info: Any) -> None:
    """The level table of an image: a rich Table on terminals, aligned text otherwise."""
    from ..tools.describe import LEVEL_COLUMNS, format_levels, level_table

    console = _rich_console(sys.stdout)
    if console is None:
        print(terminal_text(title))
        for line in format_levels(info, ascii_only=not _can_print("×—")):
            print(terminal_text(f"  {line}"))
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = level_table(info)
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    for header in rows[0]:
        numeric = LEVEL_COLUMNS.index(header) >= 5
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    for row in rows[1:]:
        table.add_row(*(Text(terminal_text(str(cell))) for cell in row))  # Text: no markup
    console.print(table)


def _print_images(info: Any) -> None:
    """Axes, channels and size of an image, its level table, and those of its label images."""
    from ..tools.describe import size_text, summary_lines

    ascii_only = not _can_print("×·→")
    for line in summary_lines(info, ascii_only=ascii_only):
        print(terminal_text(line))
    _print_levels("levels", info)
    for label in info.get("labels", []):
        print(terminal_text(f"{label['path']}: {size_text(label, ascii_only=ascii_only)}"))
        _print_levels(f"{label['path']} levels", label)


def _print_written(result: Any) -> int:
    """After a write: bytes, time and throughput, then the validation verdict (exit code)."""
    from ..tools.describe import format_bytes
    from ..validate import validate

    images = [
        image
        for top in result.info.get("images", [result.info])  # a collection: every series
        for image in (top, *top.get("labels", []))
    ]
    raw = sum(image["bytes"] for image in images)
    stored = sum(image["stored_bytes"] for image in images)
    times = "×" if _can_print("×") else "x"
    ratio = f" ({raw / stored:.1f}{times} smaller)" if stored else ""
    print(
        f"wrote {format_bytes(raw)} as {format_bytes(stored)}{ratio} in {result.seconds:.2f} s "
        f"({format_bytes(raw / max(result.seconds, 1e-6))}/s)"
    )
    report = validate(result.output)
    print(f"{_mark(report.valid)} {report.summary()}")
    if report.format():
        print(report.format())
    return EXIT_OK if report.valid else EXIT_INVALID


@contextlib.contextmanager
def _user_errors(missing: str) -> Iterator[None]:
    """Errors a user can fix become a :class:`CommandError`; warnings become one line each.

    ``missing`` is the message for a FileNotFoundError. Parameters that the library's messages
    name are spelled as the command line's options (:func:`omezarr.cli.flags.user_message`).
    """
    from ..convert import ConversionError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except FileNotFoundError as exc:
            raise CommandError(missing) from exc
        except KeyError as exc:
            raise CommandError(str(exc.args[0]) if exc.args else "KeyError") from exc
        except (ConversionError, ValueError, TypeError, OSError) as exc:
            raise CommandError(user_message(exc) or type(exc).__name__) from exc
        finally:
            for warning in caught:
                print(f"omezarr: warning: {user_message(warning.message)}", file=sys.stderr)
