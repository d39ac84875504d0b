"""Fixtures for the web view: a real photograph as a camera-sized frame, a running view, a frame publisher, and a
headless Chromium (playwright) for the page tests."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from asl_edge.runtime.live.web.view import WebView

CHROMIUM = os.environ.get("ASL_EDGE_CHROMIUM", "/usr/bin/chromium")
# Needed on a closed network: no GPU, no sandbox as root, and nothing that phones home at start-up.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 15_000


@pytest.fixture(scope="session")
def photo_frame(data_dir: Path) -> np.ndarray:
    """A real photograph of the letter C, decoded with OpenCV and scaled to a 640x480 camera frame."""
    image = cv2.imread(str(sorted((data_dir / "C").glob("*.jpg"))[0]))
    assert image is not None
    return cv2.resize(image, (640, 480), interpolation=cv2.INTER_LINEAR)


@pytest.fixture
def view() -> Iterator[WebView]:
    with WebView(port=0) as web_view:
        yield web_view


def annotate(photo: np.ndarray, text: str, frame_index: int) -> np.ndarray:
    """What the overlay does, roughly: the spelled text and a frame counter drawn on the photograph."""
    frame = photo.copy()
    cv2.rectangle(frame, (0, 420), (640, 480), (0, 0, 0), thickness=-1)
    cv2.putText(frame, f"{text} #{frame_index}", (12, 465), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (80, 220, 120), 2)
    return frame


def state_for(text: str, frame_index: int) -> dict[str, object]:
    letter = text[-1] if text else None
    # A word suggestion once the word has three letters (a made-up one: only the page is under test here).
    return {"text": text, "letter": letter, "confidence": np.float32(0.87), "phase": "holding",
            "suggestion": "CAT" if len(text) >= 3 else None, "top3": [[letter or "nothing", 0.87],
            ["E", 0.08], ["O", 0.03]], "fps": 15.0, "stages_ms": {"capture": 1.2, "infer": 4.5},
            "status": f"frame {frame_index}", "frame_index": frame_index}


class Publisher:
    """Publishes annotated frames from a background thread, like the pipeline loop, stepping through texts.

    With `hold`, it stays on the first text until `release()`, so a test can first wait for its page to load.
    """

    def __init__(self, view: WebView, photo: np.ndarray, texts: Sequence[str], fps: float = 15.0,
                 frames_per_text: int = 8, hold: bool = False) -> None:
        self.view, self.photo, self.texts = view, photo, list(texts)
        self.interval, self.frames_per_text = 1.0 / fps, frames_per_text
        self._released = threading.Event()
        if not hold:
            self._released.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def release(self) -> None:
        self._released.set()

    def _run(self) -> None:
        frame_index, step = 0, 0
        while not self._stop.is_set():
            # After the last text the loop keeps publishing it, as a live camera keeps sending frames.
            text = self.texts[min(step // self.frames_per_text, len(self.texts) - 1)]
            self.view.publish(annotate(self.photo, text, frame_index), state_for(text, frame_index))
            frame_index += 1
            step += self._released.is_set()
            time.sleep(self.interval)

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make browser` (Debian's chromium) or set ASL_EDGE_CHROMIUM")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package drives the browser")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def save_screenshot(page: Any, path: Path) -> np.ndarray:
    """A PNG of the page at `path`, copied to $ASL_EDGE_ARTIFACTS when set; returns the decoded image."""
    png = page.screenshot(path=str(path), full_page=True)
    artifacts = os.environ.get("ASL_EDGE_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image
