"""The collect page in a real headless Chromium, driving a real `asl-edge collect --web` process: the prompt shows,
progress advances as samples are taken, redo/skip/finish buttons work, finish leaves the dataset on disk.

The video stands in for a signer at a camera (massey-dev photos: the one use issue 14 allows, see
tests/live/test_collect.py); the command plays it at its own pace because someone is watching.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from asl_edge.runtime.hand.collected import read_collected, sample_paths
from tests.conftest import REPO
from tests.live.helpers import massey_photos, photo_shown, write_signing_video
from tests.live.web.conftest import WAIT_MS, save_screenshot

pytestmark = pytest.mark.browser

START_S = 60  # model loading on a busy 2-core machine


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    new_page = context.new_page()
    yield new_page
    context.close()


@pytest.fixture
def signer_video(tmp_path: Path) -> tuple[Path, dict[str, list[np.ndarray]]]:
    """A: two photos; B: one photo; then 40 s without a hand, so nothing more is recorded while the test clicks."""
    photos = massey_photos({"A": 2, "B": 1})
    path = tmp_path / "signer.avi"
    return path, write_signing_video(path, photos, tail_s=40.0)


class CollectProcess:
    """`asl-edge collect --web --port 0` in the background; `url` once it serves, its output kept."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "asl_edge", "collect", *args], cwd=REPO,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._url = threading.Event()
        self.url = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("web view: "):
                self.url = line.removeprefix("web view: ").strip()
                self._url.set()

    def wait_url(self) -> str:
        assert self._url.wait(START_S), "collect never served its page:\n" + "\n".join(self.lines)
        return self.url

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def progress(page: Any, letter: str) -> str:
    return str(page.text_content(f"#progress li[data-letter='{letter}']")).strip()


def test_collect_page_prompts_advances_and_finishes(page: Any, signer_video: tuple[Path, dict[str, list[np.ndarray]]],
                                                    tmp_path: Path) -> None:
    video, shown = signer_video
    out = tmp_path / "mysigns"
    collect = CollectProcess(["--source", str(video), "--out", str(out), "--letters", "A,B,L", "--samples", "2",
                              "--countdown", "1", "--interval", "0.4", "--web", "--port", "0", "--no-window"])
    try:
        url = collect.wait_url()
        assert url.startswith("http://127.0.0.1:")  # this machine only, unless --host says otherwise
        page.goto(url, wait_until="domcontentloaded")
        # The prompt: the letter and its handshape, then the progress of each letter as samples are taken.
        page.wait_for_function("document.getElementById('letter').textContent === 'A'", timeout=WAIT_MS)
        assert "thumb" in page.text_content("#description")
        page.wait_for_function("document.querySelector(\"#progress li[data-letter='A']\")"
                               "?.textContent.startsWith('A 2/2')", timeout=WAIT_MS)
        page.wait_for_function("document.querySelector(\"#progress li[data-letter='B']\")"
                               "?.textContent.startsWith('B 1/2')", timeout=WAIT_MS)
        assert page.text_content("#letter") == "B"
        assert page.eval_on_selector("#stream", "image => image.naturalWidth") == 640
        save_screenshot(page, tmp_path / "collect_page.png")
        # Redo: B's sample is taken back (and its files deleted); the page shows B at 0 again.
        page.click("#redo")
        page.wait_for_function("document.querySelector(\"#progress li[data-letter='B']\")"
                               "?.textContent.startsWith('B 0/2')", timeout=WAIT_MS)
        # Skip: on to L.
        page.click("#skip")
        page.wait_for_function("document.getElementById('letter').textContent === 'L'", timeout=WAIT_MS)
        # Finish: the command ends (long before the video would) and the page says what was saved.
        page.click("#finish")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('finished')",
                               timeout=WAIT_MS)
        assert collect.wait(timeout=30) == 0
    finally:
        collect.kill()
    printed = "\n".join(collect.lines)
    assert "redo: removed B-" in printed and "B: skipped" in printed and "stopped by finish" in printed
    samples = read_collected(out)
    assert samples.counts() == {"A": 2}
    for sample_id in samples.ids:
        frame_path, crop_path = sample_paths(out, "A", str(sample_id))
        frame = cv2.imread(str(frame_path))
        assert frame is not None and crop_path.is_file() and photo_shown(frame, shown)[0] == "A"
    assert not list((out / "crops").glob("B/*.jpg"))
    manifest = json.loads((out / "collect.json").read_text())
    assert manifest["letters"] == {"A": 2} and manifest["sessions"][0]["samples"] == 2


def test_collect_page_buttons_refuse_other_sites(signer_video: tuple[Path, dict[str, list[np.ndarray]]],
                                                 tmp_path: Path) -> None:
    """A form on another site can only send form encodings: the server takes commands as JSON only."""
    video, _ = signer_video
    collect = CollectProcess(["--source", str(video), "--out", str(tmp_path / "out"), "--letters", "A",
                              "--web", "--port", "0", "--no-window"])
    try:
        url = collect.wait_url()
        form = urllib.request.Request(url + "command/finish", data=b"x=1", method="POST",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(form, timeout=10)
        assert refused.value.code == 415
        unknown = urllib.request.Request(url + "command/delete-everything", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(unknown, timeout=10)
        assert missing.value.code == 404
        finish = urllib.request.Request(url + "command/finish", data=b"{}", method="POST",
                                        headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(finish, timeout=10) as response:
            assert response.status == 200
        assert collect.wait(timeout=30) == 0
    finally:
        collect.kill()
    assert "stopped by finish" in "\n".join(collect.lines)
