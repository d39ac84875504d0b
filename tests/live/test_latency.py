"""LatencyStats and StageTimer: exact percentiles, growth past the initial capacity, formatting."""

from __future__ import annotations

import numpy as np
import pytest

from asl_edge.runtime.live.latency import SUMMARY_KEYS, LatencyStats, StageTimer, format_summary


def test_summary_matches_numpy() -> None:
    values = np.random.default_rng(1).gamma(2.0, 3.0, size=2500)
    stats = LatencyStats(window=None)  # keeps every sample: exact percentiles
    stats.extend(values.tolist())
    summary = stats.summary()
    assert tuple(summary) == SUMMARY_KEYS
    assert summary["count"] == 2500
    assert summary["mean"] == pytest.approx(values.mean())
    assert summary["min"] == pytest.approx(values.min()) and summary["max"] == pytest.approx(values.max())
    for q in (50, 90, 99):
        assert summary[f"p{q}"] == pytest.approx(np.percentile(values, q))
    assert summary["std"] == pytest.approx(values.std())
    assert summary["cv"] == pytest.approx(values.std() / values.mean())
    assert stats.last == pytest.approx(values[-1])


def test_empty_summary_is_zeros() -> None:
    assert LatencyStats().summary() == dict.fromkeys(SUMMARY_KEYS, 0.0)


def test_stage_timer_keeps_stage_order_and_adds_new_stages() -> None:
    timer = StageTimer(("capture", "infer"))
    timer.add("infer", 2.0)
    timer.add("render", 0.5)
    timer.add("capture", 1.0)
    assert list(timer.summary()) == ["capture", "infer", "render"]
    assert timer.last() == {"capture": 1.0, "infer": 2.0, "render": 0.5}
    table = format_summary(timer.summary())
    assert table.splitlines()[0].split()[:2] == ["stage", "frames"]
    assert "infer" in table and "2.00" in table
