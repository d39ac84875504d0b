"""The timing loop and its statistics on known data: a fake clock makes every call's latency known."""

from __future__ import annotations

import numpy as np
import pytest

from asl_edge.benchmark.timing import TimingPlan, measure
from asl_edge.errors import AslEdgeError


class SteppingClock:
    """perf_counter stand-in: each call() advances time by the next duration; reading the clock costs 0."""

    def __init__(self, durations_ms: list[float]) -> None:
        self.now = 0.0
        self.durations = list(durations_ms)
        self.calls = 0

    def __call__(self) -> float:
        return self.now

    def call(self) -> None:
        self.now += self.durations[self.calls % len(self.durations)] / 1000.0
        self.calls += 1


def test_fixed_count_statistics_are_exact() -> None:
    durations = [1.0, 2.0, 3.0, 4.0, 10.0]
    clock = SteppingClock(durations)
    plan = TimingPlan(warmup_s=0.0, warmup_iterations=5, iterations=100)
    timing = measure(clock.call, batch=8, plan=plan, clock=clock)
    assert timing.warmup_calls == 5 and timing.calls == 100 and clock.calls == 105
    values = np.array(durations * 20)
    summary = timing.host.summary()
    assert summary["min"] == pytest.approx(1.0) and summary["max"] == pytest.approx(10.0)
    assert summary["mean"] == pytest.approx(4.0)
    for q in (50, 90, 99):
        assert summary[f"p{q}"] == pytest.approx(np.percentile(values, q))
    assert summary["min"] <= summary["p50"] <= summary["p90"] <= summary["p99"] <= summary["max"]
    # 100 calls of 8 samples in 0.4 s of timed calls.
    assert timing.total_s == pytest.approx(0.4)
    assert timing.throughput == pytest.approx(800 / 0.4)
    assert summary["cv"] == pytest.approx(values.std() / values.mean())
    assert timing.warnings() and "cv 79%" in timing.warnings()[0]


def test_duration_mode_and_warmup_by_time() -> None:
    clock = SteppingClock([2.0])
    plan = TimingPlan(warmup_s=0.05, warmup_iterations=3, duration_s=0.1, min_iterations=10)
    timing = measure(clock.call, batch=1, plan=plan, clock=clock)
    assert timing.warmup_calls == 25  # 50 ms of 2 ms calls outlasts the 3-call minimum
    assert timing.calls == 50  # until 100 ms have passed
    assert timing.host.summary()["cv"] == pytest.approx(0.0)
    assert timing.warnings() == []
    assert timing.to_dict()["latency_ms"]["p50"] == pytest.approx(2.0)


def test_slow_calls_still_get_the_minimum_count() -> None:
    clock = SteppingClock([500.0])
    timing = measure(clock.call, batch=1, plan=TimingPlan(warmup_s=0.0, warmup_iterations=0, duration_s=0.1,
                                                          min_iterations=4), clock=clock)
    assert timing.calls == 4


def test_gpu_times_are_recorded_per_call() -> None:
    clock = SteppingClock([3.0])
    gpu = iter(float(i) for i in range(100))
    timing = measure(clock.call, 1, TimingPlan(warmup_s=0, warmup_iterations=0, iterations=10), lambda: next(gpu),
                     clock=clock)
    assert timing.gpu is not None and timing.gpu.values.tolist() == [float(i) for i in range(10)]
    assert timing.to_dict()["gpu_ms"]["max"] == 9.0


@pytest.mark.parametrize("kwargs", [{"iterations": 0}, {"duration_s": 0}, {"warmup_s": -1}])
def test_bad_plans_are_user_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(AslEdgeError):
        TimingPlan(**kwargs)  # type: ignore[arg-type]
