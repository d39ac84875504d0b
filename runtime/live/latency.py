"""Latency statistics without torch: per-stage timings of the live pipeline, reused by the benchmark.

A live run never ends, so LatencyStats holds flat memory: running totals over every sample (count, mean,
min, max, std via Welford's online algorithm, Knuth TAOCP vol. 2, 4.2.2) and a fixed ring buffer of the
last `window` samples for the percentiles. A finite measurement (the benchmark's timed loops) passes
window=None and keeps every sample, so its percentiles are exact. Adding one sample costs well under a
microsecond and allocates nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

SUMMARY_KEYS = ("count", "mean", "min", "p50", "p90", "p99", "max", "std", "cv")
DEFAULT_WINDOW = 4096  # frames behind the live percentiles: about 2 minutes at 30 FPS, 32 KiB per stage


class LatencyStats:
    """Milliseconds of one stage: add(ms) per sample, summary() at any time.

    window: how many recent samples the percentiles (p50/p90/p99) are taken over; None keeps every sample
    (for finite measurements only: memory then grows with the samples, doubling its buffer)."""

    def __init__(self, window: int | None = DEFAULT_WINDOW) -> None:
        if window is not None and window < 1:
            raise ValueError(f"latency window {window} must be at least 1 sample")
        self.window = window
        self._values = np.empty(window if window is not None else 1024, np.float64)
        self._count = 0
        self._mean = 0.0
        self._m2 = 0.0  # sum of squared differences from the mean (Welford)
        self._min = math.inf
        self._max = -math.inf
        self._last = 0.0

    def add(self, ms: float) -> None:
        if self.window is None:
            if self._count == len(self._values):
                self._values = np.concatenate([self._values, np.empty_like(self._values)])
            self._values[self._count] = ms
        else:
            self._values[self._count % self.window] = ms
        self._count += 1
        delta = ms - self._mean
        self._mean += delta / self._count
        self._m2 += delta * (ms - self._mean)
        self._min, self._max, self._last = min(self._min, ms), max(self._max, ms), ms

    def extend(self, values: Iterable[float]) -> None:
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        """Every sample ever added (the percentiles may cover fewer: see `values`)."""
        return self._count

    @property
    def values(self) -> np.ndarray:
        """The samples the percentiles are taken over, oldest first: all of them with window=None, else the
        last min(count, window)."""
        if self.window is None or self._count <= self.window:
            return self._values[:self._count]
        start = self._count % self.window
        return np.concatenate([self._values[start:], self._values[:start]])

    @property
    def last(self) -> float:
        return self._last

    def summary(self) -> dict[str, float]:
        """count, mean, min, max, std (population) and cv (std / mean) over every sample, and p50/p90/p99 over
        `values`, in ms; zeros when empty."""
        if not self._count:
            return dict.fromkeys(SUMMARY_KEYS, 0.0)
        std = math.sqrt(max(0.0, self._m2 / self._count))
        p50, p90, p99 = (float(v) for v in np.percentile(self.values, (50, 90, 99)))
        return {"count": float(self._count), "mean": self._mean, "min": self._min, "p50": p50, "p90": p90,
                "p99": p99, "max": self._max, "std": std, "cv": std / self._mean if self._mean > 0 else 0.0}


class StageTimer:
    """Named LatencyStats, one per pipeline stage, in the order the stages were first timed. The pipeline
    adds each frame's stage times itself (`add`): a stage's clock excludes the pacing wait and splits the
    hand stage's time into its parts, which a context manager around each stage could not."""

    def __init__(self, stages: Iterable[str] = (), window: int | None = DEFAULT_WINDOW) -> None:
        self.window = window
        self.stats: dict[str, LatencyStats] = {name: LatencyStats(window) for name in stages}

    def add(self, stage: str, ms: float) -> None:
        stats = self.stats.get(stage)
        if stats is None:
            stats = self.stats[stage] = LatencyStats(self.window)
        stats.add(ms)

    def last(self) -> dict[str, float]:
        return {name: stats.last for name, stats in self.stats.items()}

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: stats.summary() for name, stats in self.stats.items()}


def format_summary(summary: Mapping[str, Mapping[str, float]], columns: tuple[str, ...] = (
        "mean", "p50", "p90", "p99")) -> str:
    """A small fixed-width table: one row per stage, milliseconds."""
    width = max([len("stage"), *(len(name) for name in summary)])
    lines = [f"{'stage':<{width}}  {'frames':>6}  " + "  ".join(f"{c + ' ms':>8}" for c in columns)]
    for name, row in summary.items():
        cells = "  ".join(f"{row[c]:8.2f}" for c in columns)
        lines.append(f"{name:<{width}}  {int(row['count']):>6}  {cells}")
    return "\n".join(lines)
