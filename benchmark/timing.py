"""The benchmark's measuring core, torch-free: the timing loop and the result records.

The method follows trtexec's: warm up for a time and a minimum number of calls (caches, allocators,
lazy kernel selection and CPU clocks settle), then time every call with perf_counter, either a fixed
number of calls or for a fixed duration, and report min/mean/p50/p90/p99/max, the throughput, and the
coefficient of variation (std / mean) with a warning when it is high, because a noisy measurement on a
busy or clock-scaling machine is not reproducible and must not be read as a property of the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from asl_edge.errors import AslEdgeError
from asl_edge.runtime.live.latency import LatencyStats

if TYPE_CHECKING:
    from asl_edge.benchmark.hand import HandBenchmark

SCHEMA_VERSION = 1
# Above this coefficient of variation a latency is flagged as unstable (trtexec warns in the same spirit).
CV_WARNING = 0.10


@dataclass(frozen=True)
class TimingPlan:
    """How long to warm up and how long to measure: a fixed count of calls when `iterations` is set,
    else `duration_s` of calls (at least `min_iterations`)."""

    warmup_s: float = 0.2
    warmup_iterations: int = 5
    iterations: int | None = None
    duration_s: float = 2.0
    min_iterations: int = 10
    cv_warning: float = CV_WARNING

    def __post_init__(self) -> None:
        if self.warmup_s < 0 or self.warmup_iterations < 0:
            raise AslEdgeError("--warmup must be 0 or more")
        if self.iterations is not None and self.iterations < 1:
            raise AslEdgeError(f"--iterations {self.iterations} must be at least 1")
        if not self.duration_s > 0:
            raise AslEdgeError(f"--duration {self.duration_s} must be positive")
        if self.min_iterations < 1:
            raise AslEdgeError("the minimum number of timed calls must be at least 1")

    def describe(self) -> str:
        measured = f"{self.iterations} calls" if self.iterations else (
            f"{self.duration_s:g} s (at least {self.min_iterations} calls)")
        return f"warm-up {self.warmup_s:g} s (at least {self.warmup_iterations} calls), then {measured}"

    def to_dict(self) -> dict[str, Any]:
        return {"warmup_s": self.warmup_s, "warmup_iterations": self.warmup_iterations,
                "iterations": self.iterations, "duration_s": self.duration_s, "min_iterations": self.min_iterations,
                "cv_warning": self.cv_warning}


@dataclass
class Timing:
    """The timed calls of one measurement: host latency per call (ms), GPU compute time per call when the
    backend reports one (CUDA events around the engine run), and the wall time of the whole loop."""

    batch: int
    host: LatencyStats
    gpu: LatencyStats | None
    total_s: float
    warmup_calls: int

    @property
    def calls(self) -> int:
        return len(self.host)

    @property
    def throughput(self) -> float:
        """Samples per second over the whole timed loop (batch x calls / wall time)."""
        return self.batch * self.calls / self.total_s if self.total_s > 0 else 0.0

    def warnings(self, cv_limit: float = CV_WARNING) -> list[str]:
        cv = self.host.summary()["cv"]
        if cv > cv_limit:
            return [f"batch {self.batch}: latency varies a lot (cv {cv:.0%} > {cv_limit:.0%}): the machine is busy "
                    "or its clocks are not locked, so these numbers may not repeat"]
        return []

    def to_dict(self, cv_limit: float = CV_WARNING) -> dict[str, Any]:
        return {"batch": self.batch, "calls": self.calls, "warmup_calls": self.warmup_calls,
                "total_s": self.total_s, "throughput": self.throughput, "latency_ms": self.host.summary(),
                "gpu_ms": self.gpu.summary() if self.gpu is not None else None, "warnings": self.warnings(cv_limit)}


def measure(call: Callable[[], object], batch: int, plan: TimingPlan, gpu_ms: Callable[[], float] | None = None,
            clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Warm up, then time `call` as `plan` says; `gpu_ms()` is read after each call when given."""
    started = clock()
    warmup_calls = 0
    while warmup_calls < plan.warmup_iterations or clock() - started < plan.warmup_s:
        call()
        warmup_calls += 1
    host = LatencyStats(window=None)  # a finite loop: keep every call for exact percentiles
    gpu = LatencyStats(window=None) if gpu_ms is not None else None
    begin = clock()
    while True:
        t0 = clock()
        call()
        t1 = clock()
        host.add((t1 - t0) * 1000.0)
        if gpu is not None and gpu_ms is not None:
            gpu.add(gpu_ms())
        if plan.iterations is not None:
            if len(host) >= plan.iterations:
                break
        elif len(host) >= plan.min_iterations and t1 - begin >= plan.duration_s:
            break
    return Timing(batch, host, gpu, clock() - begin, warmup_calls)


@dataclass
class BenchmarkRow:
    """One backend x precision: its file, accuracy on the evaluation set and a Timing per batch size."""

    backend: str
    precision: str
    device: str
    file: str
    size_bytes: int
    top1: float | None
    timings: list[Timing] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sha256: str | None = None  # of `file`: which bytes were measured
    checkpoint_sha256: str | None = None  # the checkpoint `file` is (PyTorch) or was exported from

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.precision}"

    def timing(self, batch: int) -> Timing | None:
        return next((t for t in self.timings if t.batch == batch), None)

    def warnings(self, cv_limit: float = CV_WARNING) -> list[str]:
        return [f"{self.key} {w}" for t in self.timings for w in t.warnings(cv_limit)]

    def to_dict(self, cv_limit: float = CV_WARNING) -> dict[str, Any]:
        return {"backend": self.backend, "precision": self.precision, "device": self.device, "file": self.file,
                "size_bytes": self.size_bytes, "top1": self.top1, "notes": list(self.notes),
                "sha256": self.sha256, "checkpoint_sha256": self.checkpoint_sha256,
                "timings": [t.to_dict(cv_limit) for t in self.timings]}


# What the pipeline's "runtime overhead" is: every stage except decoding and inference.
OVERHEAD_STAGES = ("preprocess", "postprocess", "render")
# From the moment a frame is decoded until its label is known (render draws it afterwards).
CAPTURE_TO_LABEL_STAGES = ("preprocess", "infer", "postprocess")


@dataclass
class PipelineMeasurement:
    """Frames of a video through the whole runtime: per-stage times and two derived per-frame times."""

    source: str
    model: str
    backend: str
    frame_size: tuple[int, int]
    stages: dict[str, LatencyStats]
    warmup_frames: int
    wall_s: float
    text: str = ""
    notes: list[str] = field(default_factory=list)

    def per_frame(self, stages: tuple[str, ...]) -> LatencyStats:
        """Per-frame sum of the named stages (every frame records every stage, so the samples line up)."""
        stats = LatencyStats(window=None)
        stats.extend(np.sum([self.stages[name].values for name in stages], axis=0).tolist())
        return stats

    @property
    def frames(self) -> int:
        return len(self.stages["infer"])

    @property
    def capture_to_label(self) -> LatencyStats:
        return self.per_frame(CAPTURE_TO_LABEL_STAGES)

    @property
    def overhead(self) -> LatencyStats:
        return self.per_frame(OVERHEAD_STAGES)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "model": self.model, "backend": self.backend,
                "frame_size": list(self.frame_size), "frames": self.frames, "warmup_frames": self.warmup_frames,
                "wall_s": self.wall_s, "fps": self.fps, "text": self.text, "notes": list(self.notes),
                "stages_ms": {name: stats.summary() for name, stats in self.stages.items()},
                "capture_to_label_ms": self.capture_to_label.summary(),
                "capture_to_label_stages": list(CAPTURE_TO_LABEL_STAGES),
                "overhead_ms": self.overhead.summary(), "overhead_stages": list(OVERHEAD_STAGES)}


@dataclass
class BenchmarkResult:
    """Everything one `asl-edge benchmark` run measured, and the machine it ran on."""

    model: str
    created: str
    settings: dict[str, Any]
    environment: dict[str, Any]
    evaluation: dict[str, Any] | None
    rows: list[BenchmarkRow] = field(default_factory=list)
    pipeline: PipelineMeasurement | None = None
    notes: list[str] = field(default_factory=list)
    environment_warnings: list[str] = field(default_factory=list)
    hand: HandBenchmark | None = None  # the hand chain's models and the whole chain per frame
    # The checkpoint's sha256, each measured file's identity and each skipped file's reason (ModelFiles).
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def cv_limit(self) -> float:
        return float(self.settings.get("timing", {}).get("cv_warning", CV_WARNING))

    def warnings(self) -> list[str]:
        return [*self.environment_warnings, *(w for row in self.rows for w in row.warnings(self.cv_limit)),
                *(self.hand.warnings(self.cv_limit) if self.hand is not None else [])]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "model": self.model, "created": self.created, "settings": self.settings,
                "environment": self.environment, "evaluation": self.evaluation,
                "rows": [row.to_dict(self.cv_limit) for row in self.rows],
                "pipeline": self.pipeline.to_dict() if self.pipeline is not None else None,
                "hand": self.hand.to_dict(self.cv_limit) if self.hand is not None else None,
                "provenance": self.provenance, "notes": list(self.notes), "warnings": self.warnings()}
