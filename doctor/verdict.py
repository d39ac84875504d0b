"""`asl-edge doctor`'s verdict: which checks a job needs (a table, REQUIRED, not code in the checks), the
checks run against this machine's facts, and the report, as text and as a JSON record.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import asdict
from typing import Any

from asl_edge.doctor.checks import CHECKS
from asl_edge.doctor.context import FAIL, OK, WARN, CheckResult, Context, Facts, source_kind

JOBS = ("train", "export", "build", "run", "benchmark")
_BASE = frozenset({"python", "numpy", "opencv"})
# job -> the checks whose failure means the job cannot run here.
REQUIRED: dict[str, frozenset[str]] = {
    "train": _BASE | {"torch", "torchvision", "cache"},
    "export": _BASE | {"torch", "onnx", "onnxruntime"},
    "build": _BASE | {"tensorrt", "nvidia-gpu"},
    "run": _BASE | {"inference-backend"},
    "benchmark": _BASE | {"inference-backend"},
}
# source kind -> extra checks a run or benchmark from that source needs.
REQUIRED_BY_SOURCE: dict[str, frozenset[str]] = {
    "camera": frozenset({"camera", "opencv-v4l2"}),
    "csi": frozenset({"opencv-gstreamer"}),
    "file": frozenset({"source"}),
}


def required_checks(job: str, source: str | None = None) -> frozenset[str]:
    required = REQUIRED[job]
    kind = source_kind(source)
    if job in ("run", "benchmark") and kind in REQUIRED_BY_SOURCE:
        required |= REQUIRED_BY_SOURCE[kind]
    return required


def diagnose(job: str = "run", source: str | None = None, facts: Facts | None = None) -> list[CheckResult]:
    """Run every check that applies here; a failure the job does not need becomes a warning."""
    ctx = Context(job=job, source=source, facts=facts or Facts())
    required = required_checks(job, source)
    results = []
    for name, check in CHECKS.items():
        finding = check(ctx)
        if finding is None:
            continue
        status, detail = finding.status, finding.detail
        if status == FAIL and name not in required:
            status, detail = WARN, f"{detail} (not needed to {job})"
        results.append(CheckResult(name, status, detail, finding.fix if status != OK else "", name in required))
    return results


def blocking(results: list[CheckResult]) -> list[CheckResult]:
    return [result for result in results if result.status == FAIL]


def format_report(job: str, results: list[CheckResult], source: str | None = None) -> str:
    width = max(len(result.name) for result in results)
    target = f"asl-edge {job}" + (f" --source {source}" if source else "")
    lines = [f"asl-edge doctor: can this machine run `{target}`?"]
    for result in results:
        label = "FAIL" if result.status == FAIL else result.status
        lines.append(f"  {label:<4}  {result.name:<{width}}  {result.detail}")
        if result.fix:
            indent = " " * (width + 10)
            lines.append(textwrap.fill(f"fix: {result.fix}", width=max(60, 110 - len(indent)) + len(indent),
                                       initial_indent=indent, subsequent_indent=indent + "     "))
    failed = blocking(results)
    warnings = sum(result.status == WARN for result in results)
    if failed:
        names = ", ".join(result.name for result in failed)
        lines.append(f"verdict: {job} cannot run here: {names} failed (see the fix lines)")
    else:
        lines.append(f"verdict: ready to {job}" + (f" ({warnings} warning{'s' * (warnings != 1)})" if warnings else ""))
    return "\n".join(lines)


def report_dict(job: str, results: list[CheckResult], facts: Facts, source: str | None = None) -> dict[str, Any]:
    return {"job": job, "source": source, "ready": not blocking(results), "host": os.uname().nodename,
            "checks": [asdict(result) for result in results], "system": facts.as_dict()}
