"""The machine a benchmark ran on, recorded beside its numbers, and the warnings that make them suspect.

The facts come from `system_info.collect` (CPU, GPU, CUDA, TensorRT, ONNX Runtime, torch, Jetson module,
L4T, power mode, clocks); the Jetson judgements are doctor's own checks, so `asl-edge doctor` and the
benchmark warn about the same things in the same words. The load average is kept too: on a shared
machine it says how far the latencies can be trusted.
"""

from __future__ import annotations

import os
from typing import Any

from asl_edge.doctor import system_info
from asl_edge.doctor.checks import check_clocks, check_power_mode
from asl_edge.doctor.context import WARN, Context, Facts

# A 1-minute load average above this share of the cores means other work competed for the CPU.
BUSY_LOAD_PER_CORE = 0.5
JETSON_CHECKS = {"power mode": check_power_mode, "clocks": check_clocks}


def load_warning(load: tuple[float, ...], cores: int | None) -> str | None:
    if cores and load[0] > BUSY_LOAD_PER_CORE * cores:
        return (f"the machine was busy (load average {load[0]:.2f} on {cores} cores): other processes competed "
                "for the CPU, so latencies are higher and noisier than on an idle machine (measure when it is idle; "
                "--threads 1 keeps thread pools from fighting over the cores meanwhile)")
    return None


def environment_warnings(record: dict[str, Any], cores: int | None) -> list[str]:
    """Why the numbers measured on this machine may mislead: a busy CPU, a Jetson below its top power mode
    or with clocks left to scale (doctor's own checks)."""
    load = record.get("load_average") or {}
    busy = [w for w in (load_warning(tuple(load[k]), cores) for k in ("before", "after") if k in load)
            if w is not None]
    warnings = busy[:1]
    context = Context(job="benchmark", source=None, facts=Facts(known=record))
    for name, check in JETSON_CHECKS.items():
        finding = check(context)
        if finding is not None and finding.status == WARN:
            warnings.append(f"Jetson {name}: {finding.detail}; fix: {finding.fix}")
    return warnings


def environment_record(load_before: tuple[float, float, float]) -> tuple[dict[str, Any], list[str]]:
    """(the record, warnings about it); collected after measuring so torch's CUDA state is known."""
    record = system_info.collect(include_cameras=False)
    record["load_average"] = {"before": list(load_before), "after": list(os.getloadavg())}
    return record, environment_warnings(record, os.cpu_count())
