"""Latency statistics without torch: per-stage timings of the live pipeline, reused by the benchmark.

Samples are kept in a growing float64 buffer (amortised doubling, no per-sample Python objects), so
adding one costs well under a microsecond and percentiles are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

SUMMARY_KEYS = ("count", "mean", "min", "p50", "p90", "p99", "max", "std", "cv")


class LatencyStats:
    """Milliseconds of one stage: add(ms) per sample, summary() at the end."""

    def __init__(self, capacity: int = 1024) -> None:
        self._values = np.empty(max(1, capacity), np.float64)
        self._count = 0

    def add(self, ms: float) -> None:
        if self._count == len(self._values):
            self._values = np.concatenate([self._values, np.empty_like(self._values)])
        self._values[self._count] = ms
        self._count += 1

    def extend(self, values: Iterable[float]) -> None:
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return self._count

    @property
    def values(self) -> np.ndarray:
        return self._values[:self._count]

    @property
    def last(self) -> float:
        return float(self._values[self._count - 1]) if self._count else 0.0

    def summary(self) -> dict[str, float]:
        """count, mean, min, p50, p90, p99, max, std (population) and cv (std / mean) in ms; zeros when empty."""
        if not self._count:
            return dict.fromkeys(SUMMARY_KEYS, 0.0)
        values = self.values
        mean = float(values.mean())
        std = float(values.std())
        p50, p90, p99 = (float(v) for v in np.percentile(values, (50, 90, 99)))
        return {"count": float(self._count), "mean": mean, "min": float(values.min()), "p50": p50, "p90": p90,
                "p99": p99, "max": float(values.max()), "std": std, "cv": std / mean if mean > 0 else 0.0}


class StageTimer:
    """Named LatencyStats, one per pipeline stage, in the order the stages were first timed. The pipeline
    adds each frame's stage times itself (`add`): a stage's clock excludes the pacing wait and splits the
    hand stage's time into its parts, which a context manager around each stage could not."""

    def __init__(self, stages: Iterable[str] = ()) -> None:
        self.stats: dict[str, LatencyStats] = {name: LatencyStats() for name in stages}

    def add(self, stage: str, ms: float) -> None:
        stats = self.stats.get(stage)
        if stats is None:
            stats = self.stats[stage] = LatencyStats()
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
