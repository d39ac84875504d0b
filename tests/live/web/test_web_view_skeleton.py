"""The web view in a real headless Chromium while the pipeline runs the hand chain: the streamed frames carry the
hand skeleton (red landmark dots on green lines) where the hand is, and the page shows the detect/landmarks times."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.hand.chain import open_chain
from asl_edge.runtime.live.display import WebSink
from asl_edge.runtime.live.pipeline import PipelineConfig, PipelineResult, run_pipeline
from asl_edge.runtime.live.sources import parse_source
from asl_edge.runtime.live.state import LiveState
from tests.live.conftest import ClipMaker, make_clip, val_photos
from tests.live.web.conftest import WAIT_MS, save_screenshot
from tests.live.web.test_web_view_browser import page, stream_region

__all__ = ["make_clip", "page", "val_photos"]  # fixtures from the browser and runtime tests

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[3]
LANDMARK_MODEL = REPO / "asl_edge" / "assets" / "asl_landmarks.onnx"


def overlay_body(shown: np.ndarray) -> np.ndarray:
    """The streamed frame without the overlay's panels (letter and stage times at the top, the text bar below)."""
    height = shown.shape[0]
    return shown[round(height * 160 / 480):height - round(height * 60 / 480)]


def left_red_pixels(shown: np.ndarray) -> int:
    body = overlay_body(shown)
    return int(red_dot_mask(body[:, :body.shape[1] // 2]).sum())


def red_dot_mask(image: np.ndarray) -> np.ndarray:
    """Pixels of the overlay's RED (40, 40, 230) BGR after JPEG and the browser's scaling: strongly red, not skin."""
    b, g, r = (image[..., channel].astype(int) for channel in range(3))
    return (r > 170) & (g < 110) & (b < 110) & (r - np.maximum(g, b) > 100)


def green_line_mask(image: np.ndarray) -> np.ndarray:
    """Pixels of the overlay's GREEN (80, 220, 80) BGR lines (and the hand box, which is drawn in the same colour)."""
    b, g, r = (image[..., channel].astype(int) for channel in range(3))
    return (g > 170) & (r < 140) & (b < 140) & (g - np.maximum(r, b) > 60)


def test_stream_shows_the_hand_skeleton_and_hand_stage_times(page: Any, make_clip: ClipMaker,
                                                             tmp_path: Path) -> None:
    if not LANDMARK_MODEL.is_file():
        pytest.skip(f"the bundled landmark classifier is not built ({LANDMARK_MODEL.name})")
    # The hand sits off-centre on the left half of the frame.
    clip = make_clip("L", roi_size=0.5, roi_offset=(-0.2, 0.0), frames_per_letter=24)
    source = parse_source(clip.path)
    source.open()
    sink = WebSink(host="127.0.0.1", port=0)
    held, screenshot_taken = threading.Event(), threading.Event()
    hand_frames = [0]  # consecutive frames with a hand found
    outcome: dict[str, Any] = {}

    def hold_on_the_letter(state: LiveState) -> None:
        # Once the letter is spelled with the hand in view, the pipeline waits (its last published frame and
        # state stay on the page) until the screenshot is taken, so the test does not race the clip's end.
        # Chromium shows an MJPEG part only once the next one starts, so the image on the page is the frame
        # before: hold where that one had the hand too.
        hand_frames[0] = hand_frames[0] + 1 if state.hand is not None else 0
        if not held.is_set() and state.text == "L" and hand_frames[0] >= 2:
            held.set()
            screenshot_taken.wait(timeout=30)

    def run() -> None:
        try:
            with load_backend(LANDMARK_MODEL, provider="cpu") as classifier:
                chain = open_chain(classifier, fallback="none")
                assert chain is not None
                # realtime: the clip plays at its frame rate, as a camera would deliver it.
                outcome["result"] = run_pipeline(source, classifier, PipelineConfig(realtime=True), [sink],
                                                 on_frame=hold_on_the_letter, chain=chain)
        except BaseException as exc:  # handed to the test's thread, which re-raises it
            outcome["error"] = exc

    pipeline = threading.Thread(target=run, daemon=True)
    try:
        page.goto(sink.url, wait_until="domcontentloaded")  # "load" waits for the stream
        page.wait_for_function("document.getElementById('link').textContent === 'live'", timeout=WAIT_MS)
        pipeline.start()
        page.wait_for_function("document.getElementById('text').textContent === 'L'", timeout=WAIT_MS)
        assert held.wait(timeout=5), "the page shows L but the pipeline did not spell it with a hand in view"
        page.wait_for_function("document.getElementById('stream').naturalWidth > 0", timeout=WAIT_MS)
        # The stage times over SSE include the hand chain's two stages.
        page.wait_for_function("['detect', 'landmarks'].every(stage => "
                               "document.getElementById('stages').textContent.includes(stage))", timeout=WAIT_MS)
        stages = page.text_content("#stages")
        # The MJPEG image trails the state by a frame or, on a busy machine, by more: the pipeline holds on the
        # letter until the screenshot is taken, so wait for the held frame to arrive.
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            page.wait_for_timeout(250)
            screenshot = save_screenshot(page, tmp_path / "web_view_skeleton.png")
            if left_red_pixels(stream_region(page, screenshot)) > 300 or time.monotonic() > deadline:
                break
        artifacts = os.environ.get("ASL_EDGE_ARTIFACTS")
        print(f"\nweb view screenshot with the hand skeleton: {tmp_path / 'web_view_skeleton.png'}"
              + (f" (copied to {Path(artifacts) / 'web_view_skeleton.png'})" if artifacts else ""))
    finally:
        screenshot_taken.set()
        pipeline.join(timeout=30)
        sink.close()
    assert not pipeline.is_alive(), "the pipeline did not finish the clip"
    if "error" in outcome:
        raise outcome["error"]
    result: PipelineResult = outcome["result"]
    assert result.text == "L"
    assert "detect" in stages and "landmarks" in stages, stages

    shown = stream_region(page, screenshot)
    width = shown.shape[1]
    body = overlay_body(shown)
    red, green = red_dot_mask(body), green_line_mask(body)
    left, right = red[:, :width // 2], red[:, width // 2:]
    # 21 dots of radius 3 are a few hundred pixels at 640x480; without the skeleton there are none.
    assert int(left.sum()) > 300, f"no red landmark dots on the left half ({int(left.sum())} pixels)"
    assert int(left.sum()) > 4 * int(right.sum()), (int(left.sum()), int(right.sum()))
    assert int(green[:, :width // 2].sum()) > 300, "no green skeleton lines on the left half"
