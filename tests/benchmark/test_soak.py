"""The soak check: RSS read from /proc, frames counted by the real pipeline, a leak shows up as growth."""

from __future__ import annotations

import mmap
import re
import subprocess
import sys
from pathlib import Path

import pytest

from asl_edge.benchmark.soak import GROWTH_TARGET_BYTES, SoakMonitor, rss_bytes
from asl_edge.errors import AslEdgeError
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.live.pipeline import PipelineConfig, run_pipeline
from asl_edge.runtime.live.sources import LoopingSource, parse_source
from asl_edge.runtime.live.state import LiveState
from tests.conftest import REPO
from tests.live.helpers import write_counter_video

DEFAULT_MODEL = REPO / "asl_edge" / "assets" / "asl_default.onnx"
# The leaking run keeps 256 KiB every 10th frame (25.6 KiB a frame) in fresh anonymous mappings, written so
# they become resident: malloc could instead reuse pages that earlier tests freed but the heap still holds.
LEAK_EVERY, LEAK_BLOCK = 10, 256 * 1024
LEAK_BYTES = LEAK_BLOCK // LEAK_EVERY


def vm_rss() -> int:
    """VmRSS from /proc/self/status: the same quantity as statm's resident pages, read another way."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def test_rss_is_this_process_resident_memory() -> None:
    before = rss_bytes()
    assert abs(before - vm_rss()) < 1024 * 1024
    # A fresh anonymous mapping, touched page by page: 64 MiB newly resident (a bytearray could reuse heap pages
    # that earlier tests left resident, and grow the count by less).
    ballast = mmap.mmap(-1, 64 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    assert rss_bytes() - before > 60 * 1024 * 1024
    ballast.close()


def test_soak_options_are_checked() -> None:
    with pytest.raises(AslEdgeError, match="--soak 0 must be a positive number of seconds"):
        SoakMonitor(0)
    with pytest.raises(AslEdgeError, match="warm-up 5 s must be shorter than --soak 5"):
        SoakMonitor(5, warmup_s=5)


@pytest.mark.slow
def test_a_short_soak_counts_frames_and_sees_a_leak(tmp_path: Path) -> None:
    video = write_counter_video(tmp_path / "loop.avi", 20, size=(160, 120))
    kept: list[mmap.mmap] = []

    def soak(seconds: float, leak: bool) -> tuple[SoakMonitor, int]:
        monitor = SoakMonitor(seconds, warmup_s=1.0)

        def on_frame(state: LiveState) -> None:
            if leak and state.frame_index % LEAK_EVERY == 0:
                block = mmap.mmap(-1, LEAK_BLOCK)  # what a list growing per frame does
                block.write(b"x" * LEAK_BLOCK)
                kept.append(block)
            monitor(state)

        with load_backend(DEFAULT_MODEL, provider="cpu") as backend:
            result = run_pipeline(LoopingSource(parse_source(str(video))), backend,
                                  PipelineConfig(max_seconds=seconds), on_frame=on_frame)
        assert result.stopped_by == "max-seconds"
        return monitor, result.frames

    monitor, frames = soak(3.0, leak=False)
    report = monitor.report
    assert report.frames == frames > 40  # the looping clip played more than twice
    assert 0 < report.start_frames < report.end_frames <= frames and report.samples >= 2
    assert 10 * 2**20 < report.rss_start <= report.rss_peak and report.rss_end <= report.rss_peak
    assert abs(report.rss_end - rss_bytes()) < 64 * 2**20  # the same process, measured moments ago
    leaking, _ = soak(3.0, leak=True)
    growth = leaking.report.growth_per_100k
    assert growth is not None and growth > 0.5 * LEAK_BYTES * 100_000 > GROWTH_TARGET_BYTES
    assert leaking.report.passed is False and any("ABOVE the 1 MB target" in line for line in leaking.report.lines())
    for block in kept:
        block.close()


@pytest.mark.slow
def test_run_soak_reports_rss_and_growth(tmp_path: Path) -> None:
    video = write_counter_video(tmp_path / "loop.avi", 20, size=(160, 120))
    result = subprocess.run([sys.executable, "-m", "asl_edge", "run", "--source", str(video), "--model",
                             str(DEFAULT_MODEL), "--hand", "off", "--soak", "4"],
                            capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "source: looping video file" in out
    total = re.search(r"^(\d+) frames in [\d.]+ s .*stopped by max-seconds$", out, re.M)
    soak = re.search(r"^soak: (\d+) frames in 4 s; RSS measured after 0.8 s of warm-up \((\d+) frames\)$", out, re.M)
    assert total and soak and total.group(1) == soak.group(1) and int(soak.group(2)) > 0
    rss = re.search(r"^soak: RSS ([\d.]+) MiB at the start, ([\d.]+) MiB at the end \(peak ([\d.]+) MiB\) over "
                    r"(\d+) frames", out, re.M)
    assert rss and 10 < float(rss.group(1)) <= float(rss.group(3)) and int(rss.group(4)) > 0
    assert re.search(r"^soak: growth [+-][\d.]+ MB per 100k frames \((within|ABOVE) the 1 MB target\)", out, re.M)
