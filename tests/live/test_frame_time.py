"""Frame time: video files keep their container timestamps, so a variable-frame-rate clip spells its word.

The clips are real Matroska files with per-frame presentation timestamps (tests/live/helpers.py
write_timed_video), decoded by OpenCV's FFmpeg backend; the letters are held-out photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.live.frames import CaptureOptions
from asl_edge.runtime.live.opencv_sources import VideoFileSource
from asl_edge.runtime.live.pipeline import run_pipeline
from asl_edge.runtime.live.sample_clip import spelling_segments
from asl_edge.runtime.live.sources import LoopingSource, parse_source
from asl_edge.spec import NOTHING
from tests.live.helpers import STEP, counter_of, write_counter_video, write_timed_video

TICK = 1 / 30  # the files' time base: every timestamp is a whole number of ticks


def test_video_frames_carry_the_container_timestamps(tmp_path: Path) -> None:
    ticks = [0, 1, 2, 3, 9, 15, 21, 27, 28, 29, 60]  # 30 FPS, then 5 FPS, then 30, then a 1 s gap
    frames = [(np.full((48, 64, 3), STEP * i, np.uint8), t * TICK) for i, t in enumerate(ticks)]
    source = parse_source(str(write_timed_video(tmp_path / "vfr.mkv", frames)))
    assert isinstance(source, VideoFileSource)
    with source:
        read = list(iter(source.read, None))
        assert source.nominal_fps == 30.0  # what the container says; the frames say otherwise
    assert [counter_of(f.image) for f in read] == list(range(len(ticks)))
    assert [f.timestamp for f in read] == pytest.approx([t * TICK for t in ticks], abs=1e-3)
    assert source.ended_early is None  # fewer frames than 30 FPS x duration, but none missing


def test_fps_option_replaces_the_timestamps(tmp_path: Path) -> None:
    frames = [(np.zeros((48, 64, 3), np.uint8), t * TICK) for t in (0, 6, 12)]
    with parse_source(str(write_timed_video(tmp_path / "vfr.mkv", frames)), CaptureOptions(fps=10.0)) as source:
        assert [f.timestamp for f in iter(source.read, None)] == pytest.approx([0.0, 0.1, 0.2])


def test_a_looping_source_keeps_time_and_indices_increasing(tmp_path: Path) -> None:
    looping = LoopingSource(parse_source(str(write_counter_video(tmp_path / "v.avi", 3, fps=10.0))))
    with looping:
        frames = [looping.read() for _ in range(7)]
    assert [f.index for f in frames if f] == list(range(7)) and looping.passes == 2
    assert [f.timestamp for f in frames if f] == pytest.approx([i / 10 for i in range(7)])
    assert [counter_of(f.image) for f in frames if f] == [0, 1, 2, 0, 1, 2, 0]


@pytest.mark.slow
def test_a_variable_frame_rate_clip_spells_its_word(default_model: Path, val_photos: dict[str, list[np.ndarray]],
                                                    tmp_path: Path) -> None:
    # Each letter really lasts 1.2 s, recorded at 10, 30 and 7.5 FPS (a phone dropping its rate in dim
    # light); the `nothing` gaps last 0.6 s at 30 FPS. The container reports 30 FPS.
    segments, _ = spelling_segments(val_photos, "CAB")
    letter_ticks = iter([3, 1, 4])  # ticks between frames: 10, 30, 7.5 FPS
    frames, tick = [], 0
    for label, image in segments:
        step, length = (1, 18) if label == NOTHING else (next(letter_ticks), 36)
        for offset in range(0, length, step):
            frames.append((image, (tick + offset) * TICK))
        tick += length
    clip = write_timed_video(tmp_path / "cab_vfr.mkv", frames)
    assert len(frames) == 4 * 18 + 12 + 36 + 9
    with load_backend(default_model, provider="cpu") as backend:
        result = run_pipeline(parse_source(str(clip)), backend)
        assert result.text == "CAB" and result.frames == len(frames) and not result.notes
        # The old timing (frame index / the container's 30 FPS) makes C last 0.4 s and B 0.3 s, too short
        # to hold once the smoothing window has filled: only A is spelled.
        by_index = run_pipeline(parse_source(str(clip), CaptureOptions(fps=30.0)), backend)
        assert by_index.text == "A"
