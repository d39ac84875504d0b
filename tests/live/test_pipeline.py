"""End to end: clips of held-out photos through the real pipeline (OpenCV decoding, ONNX Runtime, spelling)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.live.capture import Backoff
from asl_edge.runtime.live.display import VideoFileSink, WebSink
from asl_edge.runtime.live.opencv_sources import CameraSource
from asl_edge.runtime.live.pipeline import STAGES, PipelineConfig, run_pipeline
from asl_edge.runtime.live.sources import parse_source
from asl_edge.runtime.live.state import STATE_KEYS, LiveState
from asl_edge.runtime.live.transcript import Transcript
from tests.live.conftest import ClipMaker
from tests.live.helpers import RecordingSink

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend(default_model: Path):  # type: ignore[no-untyped-def]
    with load_backend(default_model, provider="cpu") as opened:
        yield opened


def test_spells_the_word_of_a_held_out_clip(backend, make_clip: ClipMaker) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("CAB")
    sink = RecordingSink()
    result = run_pipeline(parse_source(clip.path), backend, PipelineConfig(), [sink])
    assert result.text == "CAB"
    assert [c.label for c in result.commits] == ["C", "A", "B"]
    assert result.frames == clip.frames == len(sink.states) and result.stopped_by == "end"
    summary = result.stages.summary()
    assert list(summary) == list(STAGES) and all(row["count"] == clip.frames for row in summary.values())
    assert all(tuple(state) == STATE_KEYS for state in sink.states)
    assert sink.states[-1]["text"] == "CAB" and sink.states[-1]["frame_index"] == clip.frames - 1
    held_c = sink.states[6 + 8]  # mid-way through the C run (after 6 frames of `nothing`)
    assert held_c["letter"] == "C" and held_c["top3"][0][0] == "C"  # type: ignore[index]
    assert sink.states[2]["letter"] is None  # `nothing` shows no letter
    # The overlay drew the ROI box on the frames that were shown.
    x, y, _, h = clip.roi
    assert tuple(sink.frames[14][y + h // 2, x]) == (80, 220, 80)


def test_repeated_letters_need_the_hand_to_leave(backend, make_clip: ClipMaker) -> None:  # type: ignore[no-untyped-def]
    look = make_clip("LOOK", name="look.mp4")
    assert run_pipeline(parse_source(look.path), backend).text == "LOOK"
    # Held three times as long without leaving: still one letter each.
    long_hold = make_clip("LOK", name="long.mp4", frames_per_letter=36)
    assert run_pipeline(parse_source(long_hold.path), backend).text == "LOK"


def test_hold_uses_video_time_so_speed_does_not_matter(backend, make_clip: ClipMaker) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("CAB")

    class SlowSink(RecordingSink):
        def show(self, frame: np.ndarray, state: LiveState) -> int | None:
            time.sleep(0.004)
            return super().show(frame, state)

    fast = run_pipeline(parse_source(clip.path), backend)
    slow = run_pipeline(parse_source(clip.path), backend, sinks=[SlowSink()])
    assert fast.commits == slow.commits and [c.timestamp for c in fast.commits] == pytest.approx(
        [c.timestamp for c in slow.commits])
    # And a longer hold time than the clip's letters last spells nothing.
    assert run_pipeline(parse_source(clip.path), backend, PipelineConfig(hold_s=1.5)).text == ""


def test_truncated_video_ends_cleanly_with_a_note(backend, make_clip: ClipMaker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("CAB", name="clip.avi")
    data = Path(clip.path).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) * 2 // 3])  # two thirds of the bytes: C and A are in, B is not
    result = run_pipeline(parse_source(str(cut)), backend)
    assert 0 < result.frames < clip.frames and result.stopped_by == "end"
    assert result.text == "CA"
    assert not result.notes and result.ended_early is not None
    assert f"of {clip.frames} frames (truncated or damaged file?)" in result.ended_early


def test_keys_clear_the_text_and_quit(backend, make_clip: ClipMaker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("CAB")
    first_a = 6 + 18 + 6  # the frame after which A is on screen
    sink = RecordingSink(keys={first_a: ord("c"), first_a + 20: ord("q")})
    transcript = Transcript(tmp_path / "spelled.txt")
    result = run_pipeline(parse_source(clip.path), backend, sinks=[sink], transcript=transcript)
    transcript.close()
    assert result.stopped_by == "key" and result.frames == first_a + 20
    assert result.text == "A"  # C was cleared; quit before B
    assert result.commit_count == 2 and [c.label for c in result.commits] == ["C", "A"]
    # The transcript keeps what was cleared from the screen, each cleared text on its own line.
    assert (tmp_path / "spelled.txt").read_text() == "C\nA\n"


def test_max_frames(backend, make_clip: ClipMaker) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("CAB")
    result = run_pipeline(parse_source(clip.path), backend, PipelineConfig(max_frames=10))
    assert result.frames == 10 and result.stopped_by == "max-frames"


def test_live_source_lost_mid_run_shows_status_and_recovers(backend, make_clip: ClipMaker,  # type: ignore[no-untyped-def]
                                                           tmp_path: Path) -> None:
    clip = make_clip("C", name="camera.avi", frames_per_letter=10, gap_frames=2)
    camera = Path(clip.path)
    source = CameraSource("test-camera", str(camera), cv2.CAP_FFMPEG)
    away = tmp_path / "unplugged.avi"

    class PluggingSink(RecordingSink):
        """Unplugs the camera after a few frames, plugs it back once the status told the user."""

        def show(self, frame: np.ndarray, state: LiveState) -> int | None:
            super().show(frame, state)
            if state.frame_index >= 3 and not away.exists() and not self.unplugged_at:
                camera.rename(away)  # reading and reopening fail until it is back
                self.unplugged_at = len(self.states)
            elif self.unplugged_at and away.exists() and state.status:
                away.rename(camera)
            return ord("q") if len(self.states) > 400 else None  # a safety net, never reached when it works

        unplugged_at = 0

    sink = PluggingSink()
    config = PipelineConfig(max_frames=40, frame_timeout_s=0.05, backoff=Backoff(0.05, 2.0, 0.2))
    result = run_pipeline(source, backend, config, [sink])
    after_unplug = [str(s["status"]) for s in sink.states[sink.unplugged_at:]]
    assert sink.unplugged_at and any(s.startswith("camera lost - reconnecting in ") for s in after_unplug)
    assert result.frames == 40 and result.stopped_by == "max-frames"  # it kept going after the reconnect
    assert after_unplug[-1] == "" and camera.exists()
    # While no frame comes, the sinks still get the status (on a blank frame, with no letter).
    assert any(s["status"] and s["letter"] is None for s in sink.states)


def test_web_view_serves_the_pipeline_state(backend, make_clip: ClipMaker) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("CAB")
    web = WebSink(port=0)
    seen: list[dict[str, object]] = []

    def on_frame(state: LiveState) -> None:
        if state.frame_index == clip.frames - 1:
            with urllib.request.urlopen(web.url + "state", timeout=5) as response:
                seen.append(json.loads(response.read()))

    try:
        assert web.url.startswith("http://127.0.0.1:")
        result = run_pipeline(parse_source(clip.path), backend, sinks=[web], on_frame=on_frame)
    finally:
        web.close()
    assert result.text == "CAB"
    assert seen and seen[0]["text"] == "CAB" and seen[0]["frame_index"] == clip.frames - 1


def test_annotated_video_is_saved_atomically(backend, make_clip: ClipMaker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("CAB")
    out = tmp_path / "annotated.mp4"
    sink = VideoFileSink(out, fps=10.0)
    run_pipeline(parse_source(clip.path), backend, sinks=[sink])
    assert not out.exists() and list(tmp_path.glob(".annotated.partial.mp4"))  # only the partial file so far
    sink.close()
    assert not list(tmp_path.glob(".annotated.partial.mp4"))
    with parse_source(str(out)) as saved:
        frames = list(iter(saved.read, None))
    assert len(frames) == clip.frames and frames[0].image.shape == (480, 640, 3)


def test_realtime_plays_a_file_at_its_frame_rate(backend, make_clip: ClipMaker) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("C", frames_per_letter=4, gap_frames=2, fps=20.0)  # 8 frames: 0.35 s from first to last
    result = run_pipeline(parse_source(clip.path), backend, PipelineConfig(realtime=True))
    assert result.frames == 8 and result.wall_s >= 0.34
    # The waiting is not charged to any stage.
    assert result.stages.summary()["capture"]["mean"] * 8 < 0.2 * result.wall_s * 1000
