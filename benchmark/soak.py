"""Soak check: does an always-on run hold flat memory? (`asl-edge run --soak SECONDS`)

The run plays its source (looping a file or folder) through the real pipeline for SECONDS of wall time.
After a warm-up (allocator pools, ONNX Runtime arenas, caches and the fixed-size windows fill up) the
process's resident set size is read from /proc/self/statm, then again about once a second until the
end; the report gives RSS at the start and end of the measured part and the growth per 100,000 frames.
The target is at most 1 MB per 100k frames (about 26 MB a day at 30 FPS), so an 8 GB Jetson that shares
its memory with the GPU can run for months.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from asl_edge.errors import AslEdgeError
from asl_edge.runtime.live.state import LiveState

STATM = Path("/proc/self/statm")
GROWTH_TARGET_BYTES = 1_000_000  # per 100k frames
SAMPLE_EVERY_S = 1.0
MAX_WARMUP_S = 60.0


def rss_bytes() -> int:
    """This process's resident set size in bytes: /proc/self/statm's second field (pages) x the page size.
    Raises AslEdgeError where there is no /proc (not Linux)."""
    try:
        resident_pages = int(STATM.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        raise AslEdgeError("--soak reads memory from /proc/self/statm, which this system does not have "
                           "(Linux only)") from None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def default_warmup(seconds: float) -> float:
    """A fifth of the soak, at most a minute."""
    return min(MAX_WARMUP_S, seconds / 5.0)


@dataclass
class SoakReport:
    """RSS (bytes) at the end of the warm-up and at the last sample, the frames in between and in all."""

    seconds: float
    warmup_s: float
    frames: int = 0  # every frame the pipeline processed
    start_frames: int = 0  # frames done when the start RSS was read
    end_frames: int = 0  # frames done when the end RSS was read
    rss_start: int = 0
    rss_end: int = 0
    rss_peak: int = 0
    samples: int = 0
    measured_s: float = 0.0
    elapsed_s: float = 0.0  # first frame to last: shorter than `seconds` when the run was stopped early

    @property
    def measured_frames(self) -> int:
        return self.end_frames - self.start_frames

    @property
    def growth_per_100k(self) -> float | None:
        """Bytes of RSS growth per 100,000 frames after warm-up; None before two samples."""
        if self.samples < 2 or self.measured_frames <= 0:
            return None
        return (self.rss_end - self.rss_start) / self.measured_frames * 100_000

    @property
    def passed(self) -> bool | None:
        growth = self.growth_per_100k
        return None if growth is None else growth <= GROWTH_TARGET_BYTES

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "measured_frames": self.measured_frames, "growth_per_100k": self.growth_per_100k,
                "target_per_100k": GROWTH_TARGET_BYTES, "passed": self.passed}

    def lines(self) -> list[str]:
        mib = 1024 * 1024
        fps = self.measured_frames / self.measured_s if self.measured_s > 0 else 0.0
        stopped = "" if self.elapsed_s >= self.seconds - 1 else f" (stopped early, of {self.seconds:g} s)"
        out = [f"soak: {self.frames} frames in {self.elapsed_s:.0f} s{stopped}; RSS measured after "
               f"{self.warmup_s:g} s of warm-up ({self.start_frames} frames)"]
        growth = self.growth_per_100k
        if growth is None:
            out.append("soak: too short to measure (fewer than two RSS samples after the warm-up); pass a longer "
                       "--soak")
            return out
        out.append(f"soak: RSS {self.rss_start / mib:.1f} MiB at the start, {self.rss_end / mib:.1f} MiB at the end "
                   f"(peak {self.rss_peak / mib:.1f} MiB) over {self.measured_frames} frames ({fps:.0f} FPS)")
        verdict = "within" if self.passed else "ABOVE"
        out.append(f"soak: growth {growth / 1e6:+.3f} MB per 100k frames ({verdict} the 1 MB target); "
                   f"{growth * 30 * 86400 / 100_000 / 1e6:+.1f} MB a day at 30 FPS")
        return out


class SoakMonitor:
    """An on_frame callback for run_pipeline that samples RSS after the warm-up; `report` holds the result."""

    def __init__(self, seconds: float, warmup_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic, read_rss: Callable[[], int] = rss_bytes) -> None:
        if seconds <= 0:
            raise AslEdgeError(f"--soak {seconds:g} must be a positive number of seconds")
        warmup = default_warmup(seconds) if warmup_s is None else warmup_s
        if not 0 <= warmup < seconds:
            raise AslEdgeError(f"soak warm-up {warmup:g} s must be shorter than --soak {seconds:g}")
        self.report = SoakReport(seconds, warmup)
        self._clock = clock
        self._read_rss = read_rss
        read_rss()  # fail before the run on a system without /proc
        self._started: float | None = None
        self._start_time = 0.0
        self._next_sample = 0.0

    def __call__(self, state: LiveState) -> None:
        now = self._clock()
        report = self.report
        report.frames += 1
        if self._started is None:
            self._started = now
        report.elapsed_s = now - self._started
        if now - self._started < report.warmup_s or now < self._next_sample:
            return
        rss = self._read_rss()
        if report.samples == 0:
            report.rss_start, report.start_frames, self._start_time = rss, report.frames, now
        report.rss_end, report.end_frames, report.measured_s = rss, report.frames, now - self._start_time
        report.rss_peak = max(report.rss_peak, rss)
        report.samples += 1
        self._next_sample = now + SAMPLE_EVERY_S
