"""The benchmark's picture: latency distributions per row (box plots of every timed call) and the
pipeline's stages. matplotlib is a workstation package, imported only here and only when drawing; without
it (a Jetson runtime image) the PNG is skipped with a one-line note.
"""

from __future__ import annotations

import io
import os
from typing import Any

from asl_edge.artifacts import atomic_write_bytes
from asl_edge.benchmark.models import importable
from asl_edge.benchmark.timing import BenchmarkResult


def box_style(matplotlib_version: str) -> dict[str, Any]:
    """Horizontal box plots with p1..p99 whiskers; matplotlib 3.10 renamed vert=False to orientation."""
    major, minor = (int(part) for part in matplotlib_version.split(".")[:2])
    direction = {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}
    return {**direction, "whis": (1, 99), "showfliers": True, "flierprops": {"markersize": 2, "alpha": 0.4}}


def write_latency_plot(result: BenchmarkResult, path: str | os.PathLike[str]) -> str | None:
    """Write the PNG; returns a note instead when matplotlib is not installed."""
    if not importable("matplotlib"):
        return "no plot: matplotlib is not installed (pip install matplotlib)"
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    batches = sorted({t.batch for row in result.rows for t in row.timings})
    panels = [("engine latency per call", batch) for batch in batches]
    has_pipeline = result.pipeline is not None
    count = len(panels) + int(has_pipeline)
    figure, axes = plt.subplots(count, 1, squeeze=False, figsize=(9, 0.8 + count * (0.6 + 0.35 * max(
        5, len(result.rows)))))
    for axis, (title, batch) in zip(axes[:, 0], panels, strict=False):
        rows = [(row.key, row.timing(batch)) for row in result.rows]
        shown = [(name, timing) for name, timing in rows if timing is not None]
        axis.boxplot([timing.host.values for _, timing in shown], **box_style(matplotlib.__version__))
        axis.set_yticks(range(1, len(shown) + 1), [name for name, _ in shown])
        axis.set_xscale("log")
        axis.set_xlabel("ms (log scale); whiskers p1..p99")
        axis.set_title(f"{title}, batch {batch}")
        axis.grid(axis="x", which="both", alpha=0.3)
        axis.invert_yaxis()  # the first row on top, as in the table
    if result.pipeline is not None:
        axis = axes[-1][0]
        pipeline = result.pipeline
        named = [*pipeline.stages.items(), ("capture-to-label", pipeline.capture_to_label),
                 ("runtime overhead", pipeline.overhead)]
        axis.boxplot([stats.values for _, stats in named], **box_style(matplotlib.__version__))
        axis.set_yticks(range(1, len(named) + 1), [name for name, _ in named])
        axis.set_xscale("log")
        axis.set_xlabel("ms per frame (log scale)")
        width, height = pipeline.frame_size
        axis.set_title(f"pipeline stages, {width}x{height} frames")
        axis.grid(axis="x", which="both", alpha=0.3)
        axis.invert_yaxis()  # the first row on top, as in the table
    figure.suptitle(f"asl-edge benchmark: {os.path.basename(os.path.normpath(result.model))}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return None
