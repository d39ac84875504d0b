"""The evaluation report a training run and `asl-edge eval` both write into a folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asl_edge.artifacts import atomic_write_json, atomic_write_text, ensure_writable_dir
from asl_edge.metrics import ClassificationReport
from asl_edge.train.plots import plot_confusion, plot_curves

METRICS, PER_CLASS, CONFUSION, CURVES = "metrics.json", "per_class.md", "confusion.png", "curves.png"


def write_report(folder: str | Path, report: ClassificationReport, extra: dict[str, Any] | None = None,
                 history: Sequence[dict[str, float]] | None = None, title: str = "") -> Path:
    """metrics.json (top-1/top-3, confusion, per-class precision/recall/F1 and `extra`), per_class.md,
    confusion.png, and curves.png when a training history is given."""
    out = ensure_writable_dir(folder)
    atomic_write_json(out / METRICS, {**(extra or {}), **report.to_dict()})
    header = f"# {title}\n\ntop-1 {report.top1:.4f}, top-3 {report.top3:.4f}, {int(report.support.sum())} images\n\n"
    atomic_write_text(out / PER_CLASS, header + report.per_class_markdown())
    plot_confusion(report.confusion, report.classes, out / CONFUSION,
                   title=f"{title}: top-1 {report.top1:.3f}" if title else "")
    if history:
        plot_curves(history, out / CURVES, title=title)
    return out
