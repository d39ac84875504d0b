"""The capture thread: newest frame only, reconnect with back-off when a live source fails, status text.

The live source is a real OpenCV capture (FFmpeg) of a real video file: when the file ends or disappears,
reads fail exactly as they do for an unplugged camera, and reopening fails until it is back.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import pytest

from asl_edge.runtime.live.capture import Backoff, CaptureThread, SequentialFeed, open_feed
from asl_edge.runtime.live.frames import Frame
from asl_edge.runtime.live.opencv_sources import CameraSource
from asl_edge.runtime.live.sources import parse_source
from tests.live.helpers import counter_of, write_counter_video

FAST = Backoff(initial=0.05, factor=2.0, maximum=0.2)


def live_file(path: Path) -> CameraSource:
    return CameraSource(f"test-camera:{path.name}", str(path), cv2.CAP_FFMPEG)


def wait_until(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.005)
    return False


def test_backoff_grows_and_caps() -> None:
    assert [Backoff(0.5, 2.0, 4.0).delay(a) for a in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_files_are_read_in_order_in_the_callers_thread(tmp_path: Path) -> None:
    feed = open_feed(parse_source(str(write_counter_video(tmp_path / "v.avi", 5))))
    assert isinstance(feed, SequentialFeed)
    frames = [feed.next(0.1) for _ in range(6)]
    assert [f.index for f in frames if f] == [0, 1, 2, 3, 4] and frames[5] is None and feed.ended
    assert feed.ended_early is None
    feed.close()


def test_a_slow_consumer_gets_the_newest_frame_not_a_queue(tmp_path: Path) -> None:
    # Long enough that a starved test thread (a loaded CI machine) still finds it playing: once the file ends,
    # the reconnected capture restarts at frame 0 while the indices go on.
    video = write_counter_video(tmp_path / "v.avi", 4000)
    feed = open_feed(live_file(video), FAST)
    assert isinstance(feed, CaptureThread)
    try:
        first = feed.next(5.0)
        assert first is not None
        assert wait_until(lambda: feed.frames_captured > first.index + 20)
        newest = feed.next(5.0)
        assert newest is not None and newest.index > first.index + 20  # old frames were dropped, not queued
        assert feed.frames_dropped > 0
        assert counter_of(newest.image) == newest.index % 64  # grey level wraps at 256 = 64 * STEP
        assert newest.timestamp >= first.timestamp  # monotonic clock for live sources
        again = feed.next(0.0)
        assert again is None or again.index > newest.index  # never the same frame twice
    finally:
        feed.close()


def test_lost_source_is_reopened_with_backoff_and_reported(tmp_path: Path) -> None:
    video = write_counter_video(tmp_path / "camera.avi", 20)
    away = tmp_path / "unplugged.avi"
    source = live_file(video)
    feed = CaptureThread(source, FAST)
    source.open()
    statuses: list[str] = []
    feed.start()
    try:
        assert feed.next(5.0) is not None
        video.rename(away)  # unplug: the reader hits the end, reopening fails until the file is back
        deadline = time.monotonic() + 10.0
        while "0.2 s" not in feed.status and time.monotonic() < deadline:
            statuses.append(feed.status)
            time.sleep(0.005)
        assert feed.status == "camera lost - reconnecting in 0.2 s"  # 0.05, 0.1, 0.2: back-off capped
        assert "camera lost - reconnecting in 0.05 s" in statuses or "camera lost - reconnecting in 0.1 s" in statuses
        reconnects = feed.reconnects
        away.rename(video)  # plug back in
        assert wait_until(lambda: feed.reconnects > reconnects and feed.status == "")
        frame = feed.next(5.0)
        assert isinstance(frame, Frame) and frame.index >= 20  # indices keep counting across reconnects
    finally:
        feed.close()
    assert not source.is_open


def test_a_frame_keeps_the_status_it_was_captured_under(tmp_path: Path) -> None:
    video = write_counter_video(tmp_path / "camera.avi", 5)
    source = live_file(video)
    feed = CaptureThread(source, FAST)
    source.open()
    video.rename(tmp_path / "unplugged.avi")  # the open capture still reads all 5 frames, then reopening fails
    feed.start()
    try:
        assert wait_until(lambda: feed.status.startswith("camera lost"))
        last = feed.next(0.0)  # the newest frame was captured before the loss and not taken yet
        assert last is not None and last.index == 4
        assert feed.status_for(last) == "" and feed.status.startswith("camera lost")
        assert feed.next(0.0) is None and feed.status_for(None) == feed.status
    finally:
        feed.close()


def test_a_bug_in_the_capture_thread_reaches_the_caller(tmp_path: Path) -> None:
    class BrokenSource(CameraSource):
        def read(self) -> Frame | None:
            raise ZeroDivisionError("a bug")

    source = BrokenSource("broken", str(write_counter_video(tmp_path / "v.avi", 3)), cv2.CAP_FFMPEG)
    feed = open_feed(source, FAST)
    with pytest.raises(ZeroDivisionError):
        feed.next(5.0)
    feed.close()
