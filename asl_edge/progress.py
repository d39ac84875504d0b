"""One progress helper for every long job: training epochs, evaluation, augmentation grids, landmark
extraction, INT8 calibration, image loading.

On a terminal it draws a tqdm bar (tqdm is a workstation extra; without it, plain lines are used). When
stderr is not a terminal (a log file, `nohup`, CI, a pipe) it prints plain lines instead: one when another
10 % is done (at most one per `min_interval_s`) and one at least every `every_s` seconds, never the
thousands of carriage-return updates a bar writes into a log file. Work that ends within `min_interval_s`
prints nothing at all, so quick runs and tests stay quiet.

    with Progress(len(paths), "evaluating") as bar:
        for path in paths:
            ...
            bar.update()

`ASL_EDGE_PROGRESS=plain|bar|off` overrides the choice (e.g. plain lines on a terminal for a screen recording).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any, TypeVar

T = TypeVar("T")

# A log callback: long jobs report milestones ("exporting FP32 ONNX") through one of these (default: print).
Log = Callable[[str], None]

MODES = ("auto", "bar", "plain", "off")


_warned: set[str] = set()


def mode_from_environment() -> str | None:
    """ASL_EDGE_PROGRESS, lower-cased, when it names a mode; None when unset or blank. A value that names none
    is said once per process (every command checks it as it starts) and counts as unset."""
    chosen = os.environ.get("ASL_EDGE_PROGRESS", "").strip()
    if chosen.lower() in MODES:
        return chosen.lower()
    if chosen and chosen not in _warned:
        _warned.add(chosen)
        print(f"warning: ASL_EDGE_PROGRESS={chosen!r} is not one of {', '.join(MODES)}; progress is shown as with "
              "auto (unset it or pick one)", file=sys.stderr)
    return None


def _mode(stream: IO[str], requested: str) -> str:
    mode = mode_from_environment() or requested.lower()
    if mode not in MODES:
        mode = "auto"
    if mode == "auto":
        isatty = getattr(stream, "isatty", None)
        mode = "bar" if isatty is not None and isatty() else "plain"
    if mode == "bar":
        try:
            import tqdm  # noqa: F401 - a workstation extra; a Jetson image may not have it
        except ImportError:
            mode = "plain"
    return mode


class Progress:
    """Progress of `total` steps (None: unknown), described by `desc`, on `file` (default: stderr).

    update(n) advances; set_postfix(key=value) adds figures (loss, accuracy) to the bar or the next line;
    close() (or leaving the `with` block) ends it with a summary line when any line was printed."""

    def __init__(self, total: int | None, desc: str, *, unit: str = "it", file: IO[str] | None = None,
                 every_s: float = 30.0, min_interval_s: float = 5.0, mode: str = "auto", leave: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.file = file if file is not None else sys.stderr
        self.every_s = every_s
        self.min_interval_s = min_interval_s
        self.count = 0
        self.lines = 0  # plain lines printed
        self._clock = clock
        self._start = self._last = clock()
        self._next_fraction = 0.1
        self._postfix: dict[str, Any] = {}
        self.mode = _mode(self.file, mode)
        self._bar: Any = None
        if self.mode == "bar":
            from tqdm import tqdm

            # delay: no bar at all for work that ends within a second.
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.file, leave=leave, dynamic_ncols=True,
                             delay=1.0)

    # -- reporting -------------------------------------------------------------------------------------
    def update(self, n: int = 1) -> None:
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "plain":
            self._maybe_line()

    def set_postfix(self, **figures: Any) -> None:
        self._postfix = figures
        if self._bar is not None:
            self._bar.set_postfix(figures, refresh=False)

    def elapsed(self) -> float:
        return self._clock() - self._start

    def _maybe_line(self) -> None:
        now = self._clock()
        since = now - self._last
        crossed = self.total is not None and self.total > 0 and self.count / self.total >= self._next_fraction
        if (crossed and since >= self.min_interval_s) or since >= self.every_s:
            self._line(now)
        if crossed:  # a step passed within min_interval_s is not printed late
            fraction = self.count / self.total if self.total else 0.0
            self._next_fraction = (int(fraction * 10) + 1) / 10

    def _line(self, now: float, final: bool = False) -> None:
        elapsed = now - self._start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        if self.total:
            done = f"{self.count}/{self.total} {self._units(self.total)} ({self.count / self.total:.0%})"
        else:
            done = f"{self.count} {self._units(self.count)}"
        parts = [f"{self.desc}: {done}", f"{elapsed:.0f} s", f"{rate:.3g} {self.unit}/s"]
        if not final and self.total and rate > 0:
            parts.append(f"about {(self.total - self.count) / rate:.0f} s left")
        if final:
            parts[0] += " done"
        parts += [f"{key} {value}" for key, value in self._postfix.items()]
        print(", ".join(parts), file=self.file, flush=True)
        self.lines += 1
        self._last = now

    def _units(self, n: int) -> str:
        """The unit for n of them: "1 clip", "3 clips", "2 batches" ("it" is tqdm's and stays as it is)."""
        if n == 1 or self.unit == "it":
            return self.unit
        return self.unit + ("es" if self.unit.endswith(("s", "sh", "ch", "x", "z")) else "s")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "plain" and (self.lines or self.elapsed() >= self.every_s):
            self._line(self._clock(), final=True)
        self.mode = "closed"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def track(items: Iterable[T], desc: str, total: int | None = None, **options: Any) -> Iterator[T]:
    """`items`, reporting progress as they are consumed (`total` default: len(items) when it has one)."""
    if total is None:
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    with Progress(total, desc, **options) as bar:
        for item in items:
            yield item
            bar.update()
