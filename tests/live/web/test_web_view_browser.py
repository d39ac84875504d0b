"""The web view in a real headless Chromium: the MJPEG stream renders and the spelled text updates live."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from asl_edge.apps.commands.demo import DEFAULT_CLIP, DEFAULT_MODEL, read_card
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.hand.chain import open_chain
from asl_edge.runtime.live.display import WebSink
from asl_edge.runtime.live.pipeline import PipelineConfig, PipelineResult, run_pipeline
from asl_edge.runtime.live.sources import parse_source
from asl_edge.runtime.live.state import LiveState
from asl_edge.runtime.live.web.view import WebView
from tests.live.web.conftest import WAIT_MS, Publisher, save_screenshot

pytestmark = pytest.mark.browser


# Records every distinct value #text takes, so the test sees the updates, not only where they ended.
RECORD_TEXT = """
window.seenTexts = [];
document.addEventListener("DOMContentLoaded", () => {
  const text = document.getElementById("text");
  new MutationObserver(() => {
    const value = text.textContent;
    if (value && value !== window.seenTexts.at(-1)) window.seenTexts.push(value);
  }).observe(text, { childList: true, characterData: true, subtree: true });
});
"""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    new_page = context.new_page()
    new_page.add_init_script(RECORD_TEXT)
    yield new_page
    context.close()


def stream_region(page: Any, screenshot: np.ndarray) -> np.ndarray:
    box = page.locator("#stream").bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    x, y, width, height = (round(box[key]) for key in ("x", "y", "width", "height"))
    return screenshot[y:y + height, x:x + width]


def test_stream_renders_and_spelled_text_updates(page: Any, photo_frame: np.ndarray, tmp_path: Path) -> None:
    with WebView(port=0) as view, Publisher(view, photo_frame, ["C", "CA", "CAB"], hold=True) as publisher:
        page.goto(view.url, wait_until="domcontentloaded")
        page.wait_for_function("document.getElementById('stream').naturalWidth > 0", timeout=WAIT_MS)
        assert page.eval_on_selector("#stream", "image => [image.naturalWidth, image.naturalHeight]") == [640, 480]
        page.wait_for_function("document.getElementById('text').textContent === 'C'", timeout=WAIT_MS)
        assert not page.is_visible("#suggestion")  # no suggestion yet: nothing shown beside the raw letters
        publisher.release()
        page.wait_for_function("document.getElementById('text').textContent === 'CAB'", timeout=WAIT_MS)
        assert page.evaluate("window.seenTexts") == ["C", "CA", "CAB"]
        assert page.text_content("#letter") == "B"
        assert page.text_content("#confidence") == "87%"
        assert page.text_content("#phase") == "holding"
        assert page.is_visible("#suggestion") and page.text_content("#suggestion") == "CAT"
        assert page.text_content("#text") == "CAB"  # the raw letters stay, beside the suggestion
        assert page.text_content("#status").startswith("frame ")
        assert page.text_content("#link") == "live"  # state came over Server-Sent Events
        screenshot = save_screenshot(page, tmp_path / "web_view.png")

    shown = stream_region(page, screenshot)
    assert float(shown.std()) > 20, "the stream area of the screenshot is blank"
    # The rendered stream is the published photograph (top part; the bottom band holds the annotation).
    shown = cv2.resize(shown, (640, 480), interpolation=cv2.INTER_AREA)
    assert float(np.abs(shown[:400].astype(int) - photo_frame[:400]).mean()) < 20


def test_page_falls_back_to_polling_without_server_sent_events(page: Any, photo_frame: np.ndarray) -> None:
    page.route("**/events", lambda route: route.abort())
    with WebView(port=0) as view, Publisher(view, photo_frame, ["H", "HI"], hold=True) as publisher:
        page.goto(view.url, wait_until="domcontentloaded")
        page.wait_for_function("document.getElementById('text').textContent === 'H'", timeout=WAIT_MS)
        publisher.release()
        page.wait_for_function("document.getElementById('text').textContent === 'HI'", timeout=WAIT_MS)
        assert page.text_content("#link") == "live (polling)"
        # Readable on a phone: the layout stacks and nothing scrolls sideways.
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        stream, text = page.locator("#stream").bounding_box(), page.locator("#text").bounding_box()
        assert stream["width"] <= 390 and text["y"] > stream["y"] + stream["height"]


def spell_in_browser(page: Any, model: Path, clip: Path, screenshot: Path) -> tuple[PipelineResult, list[str]]:
    """Run the real pipeline over `clip` with the web sink while the page watches; returns the pipeline's result
    and the texts the page showed. The pipeline is paced to 30 frames a second, as a camera would deliver them."""
    card = read_card(clip)
    source = parse_source(str(clip))
    source.open()
    sink = WebSink(port=0)
    outcome: dict[str, Any] = {}

    def pace(state: LiveState) -> None:
        time.sleep(1 / 30)

    def run() -> None:
        try:
            with load_backend(model) as backend:
                config = PipelineConfig(roi_size=float(card.get("roi_size", 0.6)))  # type: ignore[arg-type]
                # The bundled model reads hand landmarks: run it behind the hand stage, as `asl-edge demo` does.
                chain = open_chain(backend)
                outcome["result"] = run_pipeline(source, backend, config, [sink], on_frame=pace, chain=chain)
        except BaseException as exc:  # handed to the test's thread, which re-raises it
            outcome["error"] = exc

    try:
        page.goto(sink.url, wait_until="domcontentloaded")  # "load" waits for the stream
        page.wait_for_function("document.getElementById('link').textContent === 'live'", timeout=WAIT_MS)
        pipeline = threading.Thread(target=run, daemon=True)
        pipeline.start()
        pipeline.join(timeout=60)
        assert not pipeline.is_alive(), "the pipeline did not finish the clip within 60 s"
        if "error" in outcome:
            raise outcome["error"]
        result: PipelineResult = outcome["result"]
        # The sink is still serving the last frame and state: the page must end on the pipeline's text.
        page.wait_for_function("text => document.getElementById('text').textContent === text", arg=result.text,
                               timeout=WAIT_MS)
        page.wait_for_function("document.getElementById('stream').naturalWidth > 0", timeout=WAIT_MS)
        frame_size = card["frame_size"]
        assert isinstance(frame_size, list)
        assert page.eval_on_selector("#stream", "image => image.naturalWidth") == frame_size[0]
        image = save_screenshot(page, screenshot)
        assert float(stream_region(page, image).std()) > 20, "the stream area of the screenshot is blank"
        return result, page.evaluate("window.seenTexts")
    finally:
        sink.close()


def test_real_pipeline_spells_the_demo_clip_in_the_browser(page: Any, tmp_path: Path) -> None:
    if not (DEFAULT_MODEL.is_file() and DEFAULT_CLIP.is_file()):
        pytest.skip(f"the bundled demo model and clip are not built ({DEFAULT_MODEL.name}, {DEFAULT_CLIP.name})")
    word = str(read_card(DEFAULT_CLIP)["word"])
    result, seen = spell_in_browser(page, DEFAULT_MODEL, DEFAULT_CLIP, tmp_path / "web_view_pipeline.png")
    assert result.text.strip() == word
    # The page followed the spelling live, one committed letter at a time, not only its end.
    assert seen == [result.text[:length] for length in range(1, len(result.text) + 1)]
