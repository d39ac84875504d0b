"""Sinks: display detection, the window's refusal on a headless OpenCV, video file naming rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asl_edge.errors import AslEdgeError
from asl_edge.runtime.live.display import VideoFileSink, WindowSink, has_display, open_sinks, opencv_has_gui
from asl_edge.runtime.live.sources import parse_source
from asl_edge.runtime.live.state import LiveState


def test_no_display_without_x11_or_wayland(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not has_display()
    assert open_sinks(window=True) == []  # headless: no window, and no error


@pytest.mark.skipif(opencv_has_gui(), reason="this OpenCV can open windows")
def test_window_on_headless_opencv_says_what_to_do() -> None:
    with pytest.raises(AslEdgeError, match=r"no window support.*--web"):
        WindowSink()


def test_video_sink_rejects_unknown_formats_and_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(AslEdgeError, match=r"cannot save video as out\.gif"):
        VideoFileSink(tmp_path / "out.gif", 10.0)
    with pytest.raises(AslEdgeError, match="does not exist"):
        VideoFileSink(tmp_path / "missing" / "out.mp4", 10.0)


def test_video_sink_writes_frames_resized_to_the_first_size(tmp_path: Path) -> None:
    sink = VideoFileSink(tmp_path / "out.avi", 0)  # no rate known: 30 FPS
    for value, size in ((10, (48, 64)), (200, (96, 128))):
        sink.show(np.full((*size, 3), value, np.uint8), LiveState())
    sink.close()
    with parse_source(str(tmp_path / "out.avi")) as source:
        frames = list(iter(source.read, None))
        assert source.nominal_fps == 30.0
    assert [f.image.shape for f in frames] == [(48, 64, 3)] * 2
    assert abs(float(frames[1].image.mean()) - 200) < 3
