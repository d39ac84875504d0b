"""The warnings recorded with a benchmark: a busy machine, a Jetson below MAXN or with unlocked clocks."""

from __future__ import annotations

from typing import Any

from asl_edge.benchmark.environment import environment_warnings


def jetson_record(power_mode: str, clocks_locked: bool | None, load: float) -> dict[str, Any]:
    return {"jetson": {"model": "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", "l4t": "36.4.3",
                       "jetpack": "6.2", "power_mode": power_mode, "power_mode_id": 0, "clocks_locked": clocks_locked},
            "load_average": {"before": [load, load, load], "after": [load, load, load]}}


def test_unlocked_clocks_and_low_power_mode_warn() -> None:
    warnings = environment_warnings(jetson_record("15W", False, 0.1), cores=6)
    assert len(warnings) == 2
    assert warnings[0].startswith("Jetson power mode: 15W") and "nvpmodel" in warnings[0]
    assert warnings[1].startswith("Jetson clocks: not locked") and "sudo jetson_clocks" in warnings[1]


def test_a_tuned_idle_jetson_has_no_warning() -> None:
    assert environment_warnings(jetson_record("MAXN_SUPER", True, 0.5), cores=6) == []


def test_busy_machine_warns_once() -> None:
    record = {"jetson": None, "load_average": {"before": [4.5, 4.0, 3.0], "after": [5.0, 4.0, 3.0]}}
    warnings = environment_warnings(record, cores=2)
    assert len(warnings) == 1 and "load average 4.50 on 2 cores" in warnings[0]
    assert environment_warnings({"jetson": None, "load_average": {"before": [0.2] * 3}}, cores=2) == []
