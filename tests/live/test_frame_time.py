"""Frame time: video files keep their container timestamps, so a variable-frame-rate clip spells its word.

The clips are real Matroska files with per-frame presentation timestamps (tests/live/helpers.py
write_timed_video) and an H.264 MP4 made by the ffmpeg command line, decoded by OpenCV's FFmpeg backend; the
letters are held-out photos.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.live.frame_clock import ContainerClock
from asl_edge.runtime.live.frames import CaptureOptions
from asl_edge.runtime.live.opencv_sources import VideoFileSource
from asl_edge.runtime.live.pipeline import run_pipeline
from asl_edge.runtime.live.sample_clip import spelling_segments
from asl_edge.runtime.live.sources import LoopingSource, parse_source
from asl_edge.spec import NOTHING
from tests.live.helpers import STEP, container_times, counter_of, ffmpeg, write_counter_video, write_timed_video

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


def test_a_repeated_time_in_a_60_fps_stretch_of_an_h264_mp4_never_runs_ahead(tmp_path: Path) -> None:
    """Issue 21 item 9: 2 s at 60 fps then 8 s at 15 fps (24 fps on average, what the container reports), H.264 in
    MP4, frame 5 given frame 4's presentation time. The old stamps put frame 5 one nominal 1/24 s after frame 4
    and every later 60 fps frame another 25 ms ahead: 2.9 s ahead at the end of the 60 fps stretch."""
    parts = []
    for name, rate, seconds in (("fast", 60, 2), ("slow", 15, 8)):
        parts.append(tmp_path / f"{name}.mp4")
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={rate}:duration={seconds}", "-c:v", "libx264",
               "-bf", "0", "-pix_fmt", "yuv420p", "-video_track_timescale", "15360", str(parts[-1]))
    (tmp_path / "parts.txt").write_text("".join(f"file {part.name}\n" for part in parts))
    clip = tmp_path / "vfr.mp4"
    # setts: frame 5 takes its predecessor's presentation time; decode times move 2 ticks of 60 fps back so
    # that every presentation time stays at or after its decode time, as MP4 requires.
    ffmpeg("-f", "concat", "-i", str(tmp_path / "parts.txt"), "-c", "copy",
           "-bsf:v", "setts=pts=if(eq(N\\,5)\\,PREV_INPTS\\,PTS):dts=DTS-512", str(clip))
    container = np.array(container_times(clip))
    true = np.concatenate([np.arange(120) / 60, 2 + np.arange(120) / 15])  # when each frame was really shown
    assert len(container) == 240 and container[5] == container[4]  # the file repeats a time, as intended

    with parse_source(str(clip)) as source:
        assert source.nominal_fps == pytest.approx(24.0)
        stamps = np.array([frame.timestamp for frame in iter(source.read, None)])
    assert len(stamps) == 240 and (np.diff(stamps) > 0).all()
    frame = np.where(true < 2, 1 / 60, 1 / 15)  # the length of a frame where each one is
    # OpenCV 4.5's FFmpeg backend (JetPack 5's; the oldest lane) reports CAP_PROP_POS_MSEC two frames ahead of
    # the frame just read in this file: a constant lead that never grows, which durations do not see.
    lead = 2 * frame if tuple(int(v) for v in cv2.__version__.split(".")[:2]) < (4, 6) else 0 * frame
    assert (np.abs(stamps - (container - container[0])) <= frame + lead + 1e-3).all()  # within a frame of it
    assert (np.abs(stamps - true) < lead + 1e-3).all()  # and the repeated frame put where it really was


def test_times_that_repeat_step_back_restart_or_are_missing_stay_with_the_container() -> None:
    clock = ContainerClock(1 / 24)
    # Repeats at 60 fps: one local interval after the container's latest time, never a nominal 1/24 s.
    assert [clock.stamp(t / 60) for t in (0, 1, 2, 2, 2, 5)] == pytest.approx([0, 1 / 60, 2 / 60, 3 / 60, 4 / 60,
                                                                           5 / 60])
    clock.reset()
    # Reordered times stepping back: anchored to the container's latest time, so the error never builds up.
    times = np.array([0, 2, 1, 3, 2, 6, 5, 7, 30, 29, 31, 30, 33]) / 30
    stamps = np.array([clock.stamp(t) for t in times])
    ahead = stamps - np.maximum.accumulate(times)
    assert (np.diff(stamps) > 0).all() and (ahead >= 0).all() and (ahead <= 1 / 24 + 1e-9).all()
    assert stamps[-1] == pytest.approx(33 / 30)
    clock.reset()
    # No time at all (OpenCV reports 0 for a frame without one): the nominal rate.
    assert [clock.stamp(0.0) for _ in range(4)] == pytest.approx([0, 1 / 24, 2 / 24, 3 / 24])
    clock.reset()
    assert [clock.stamp(None) for _ in range(2)] + [clock.stamp(5.0), clock.stamp(5.1)] == pytest.approx(
        [0, 1 / 24, 2 / 24, 2 / 24 + 0.1])
    clock.reset()
    # A clock that starts again (two files joined): continued from the last stamp at the local pace.
    assert [clock.stamp(t) for t in (10.0, 10.1, 10.2, 0.0, 0.1)] == pytest.approx([0, 0.1, 0.2, 0.2 + 1 / 24,
                                                                                   0.3 + 1 / 24])


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
