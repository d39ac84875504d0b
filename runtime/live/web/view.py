"""The headless output: a small web page with the live annotated stream and the spelled text.

For a dev kit reached over SSH: `WebView` serves on 127.0.0.1 by default (forward the port with
`ssh -L 8080:127.0.0.1:8080 jetson`), standard library only. The pipeline calls `publish` for every rendered
frame; that only stores the newest frame and state. A separate thread encodes JPEGs, at most `max_fps` a second
and only while someone watches the stream, so the pipeline never waits for the network or the encoder.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import queue
import sys
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from asl_edge.errors import AslEdgeError
from asl_edge.runtime.live.state import LiveState
from asl_edge.runtime.live.web.newest import Newest
from asl_edge.runtime.live.web.server import WebViewServer, load_page

# What /state says before the first frame: an empty LiveState, frame -1.
INITIAL_STATE: dict[str, Any] = LiveState(status="waiting for the first frame", frame_index=-1).to_dict()


class WebView:
    """Serves `/` (the page), `/stream.mjpg` (MJPEG), `/state` (JSON) and `/events` (Server-Sent Events); with
    `commands`, also `POST /command/<name>` for each name (the page's buttons), read back with `take_command`.

    page: which page of runtime/live/web/ `/` serves (index.html: the live view; collect.html: collect)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, max_fps: float = 15.0,
                 jpeg_quality: int = 80, page: str = "index.html", commands: tuple[str, ...] = ()) -> None:
        if not 0 <= port <= 65535:
            raise AslEdgeError(f"web view port {port} is out of range; choose --port between 1 and 65535 "
                               "(0 picks a free one)")
        if max_fps <= 0:
            raise AslEdgeError(f"web view frame rate must be positive, got {max_fps}")
        if not 1 <= jpeg_quality <= 100:
            raise AslEdgeError(f"JPEG quality must be between 1 and 100, got {jpeg_quality}")
        self.host = host
        self.port = port
        self.page = page
        self.commands = commands
        self._posted: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._min_interval = 1.0 / max_fps
        self._jpeg_params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        self._new_holders()
        self._viewers = 0
        self._viewers_changed = threading.Condition()
        self._server: WebViewServer | None = None
        self._threads: list[threading.Thread] = []
        self._url: str | None = None
        self.frames_encoded = 0

    def _new_holders(self) -> None:
        self.frames: Newest[np.ndarray | None] = Newest(None)
        self.jpegs: Newest[bytes] = Newest(b"")
        self.states: Newest[str] = Newest(json.dumps(INITIAL_STATE))

    @property
    def url(self) -> str:
        """The page's address on this machine (loopback for a wildcard host); kept after `stop`."""
        if self._url is None:
            raise RuntimeError("the web view has not been started")
        return self._url

    def start(self) -> str:
        """Bind and serve in background threads; returns the page's URL (with the real port when port=0)."""
        if self._server is not None:
            return self.url
        if self.frames.closed:
            self._new_holders()
        self._server = WebViewServer(self.host, self.port, self, load_page(self.page))
        port = self._server.server_address[1]
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        self._url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
        if not _is_loopback(self.host):
            print(f"warning: the web view listens on {self.host or 'all interfaces'} port {port}: "
                  "anyone on the network can watch the camera stream", file=sys.stderr)
        self._threads = [threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                          name="web-view-server", daemon=True),
                         threading.Thread(target=self._encode_loop, name="web-view-encoder", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self.url

    def publish(self, frame_bgr: np.ndarray, state: dict[str, Any]) -> None:
        """Offer the newest rendered frame and pipeline state; returns at once, dropping anything older."""
        if not (isinstance(frame_bgr, np.ndarray) and frame_bgr.dtype == np.uint8 and frame_bgr.ndim in (2, 3)):
            raise TypeError("publish expects a uint8 image array (H x W x 3 BGR or H x W gray)")
        self.states.put(json.dumps(state, default=_json_value, separators=(",", ":")))
        # A copy, because the caller may draw on its buffer again; it lets a viewer who connects later
        # still get the latest frame.
        self.frames.put(frame_bgr.copy())

    def post_command(self, name: str) -> bool:
        """Queue a command the page posted; False for a name this view does not take."""
        if name not in self.commands:
            return False
        self._posted.put(name)
        return True

    def take_command(self) -> str | None:
        """The oldest posted command not taken yet, or None."""
        try:
            return self._posted.get_nowait()
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Stop serving; open streams end, waiting threads wake. Safe to call twice."""
        for holder in (self.frames, self.jpegs, self.states):
            holder.close()
        with self._viewers_changed:
            self._viewers_changed.notify_all()  # the encoder may be waiting for a viewer
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._threads = []

    def __enter__(self) -> WebView:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Count one stream viewer for as long as the block runs; frames are encoded only while there is one."""
        with self._viewers_changed:
            self._viewers += 1
            self._viewers_changed.notify_all()
        try:
            yield
        finally:
            with self._viewers_changed:
                self._viewers -= 1

    def _encode_loop(self) -> None:
        frames = self.frames
        encoded = 0  # number of the last frame encoded; frames published while nobody watched stay pending
        next_due = 0.0
        while not frames.closed:
            with self._viewers_changed:
                if not self._viewers_changed.wait_for(lambda: self._viewers > 0 or frames.closed, timeout=1.0):
                    continue
            number, _ = frames.wait_newer(encoded, timeout=0.5)
            if number == encoded or frames.closed:
                continue
            delay = next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            number, frame = frames.get()  # the newest again, after the wait
            if frame is None:
                continue
            started = time.monotonic()
            ok, buffer = cv2.imencode(".jpg", frame, self._jpeg_params)
            if ok:
                self.jpegs.put(buffer.tobytes())
                self.frames_encoded += 1
            encoded = number
            next_due = started + self._min_interval


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json_value(value: object) -> object:
    """numpy scalars and arrays as plain JSON values (the pipeline's probabilities are numpy floats)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"state value of type {type(value).__name__} is not JSON serialisable")


__all__ = ["INITIAL_STATE", "WebView"]
