"""A stalled stream (socket open, no data) is reported within seconds and the run recovers.

A real MJPEG-over-HTTP server (http.server in a thread) feeds the real capture code (OpenCV's FFmpeg
backend through parse_source and the capture thread): it streams, stalls with the connection open, then
either resumes on the same connection or stays silent until the capture's read timeout reconnects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.runtime.live.capture import DEFAULT_STALL_S, Backoff, CaptureThread, open_feed
from asl_edge.runtime.live.frames import DEFAULT_READ_TIMEOUT_S, CaptureOptions
from asl_edge.runtime.live.sources import parse_source
from tests.conftest import REPO
from tests.live.helpers import STEP, counter_of

FRAME_INTERVAL_S = 0.05


class StallingServer(ThreadingHTTPServer):
    """/stream.mjpg: the first connection streams until `go` is set (it is unless a test clears it), then sends
    `first` frames, goes silent for `pause_s` seconds with the socket open, sends `first` more, then goes silent
    for good; later connections stream without end.

    The pause lies midway between the stall report (DEFAULT_STALL_S, 2 s) and the read timeout
    (DEFAULT_READ_TIMEOUT_S, 5 s), so a loaded machine has 1.5 s of slack either way: a client that reads
    the frames before the pause late sees a shorter silence, one that is slow to notice frames a longer one."""

    daemon_threads = True

    def __init__(self, first: int = 10, pause_s: float = 3.5) -> None:
        self.first, self.pause_s = first, pause_s
        self.connections = 0
        self.closing = threading.Event()
        self.go = threading.Event()
        self.go.set()
        super().__init__(("127.0.0.1", 0), StallingHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/stream.mjpg"


class StallingHandler(BaseHTTPRequestHandler):
    server: StallingServer

    def log_message(self, message_format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.connections += 1
        first_connection = self.server.connections == 1
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            waited = 0
            # A client that opens the stream and only reads it later (run opens the source before it loads
            # the model) would find the first stall already buffered: the script starts when it reads.
            while first_connection and not self.server.go.is_set() and not self.server.closing.is_set():
                self.send_frame(waited)
                waited += 1
            sent = 0
            while not self.server.closing.is_set():
                if first_connection and sent == self.server.first:
                    self.server.closing.wait(self.server.pause_s)  # stalled: connection open, no data
                if first_connection and sent == 2 * self.server.first:
                    self.server.closing.wait()  # silent until the test ends
                    return
                self.send_frame(sent)
                sent += 1
        except (ConnectionError, TimeoutError):
            pass

    def send_frame(self, counter: int) -> None:
        ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), (STEP * counter) % 256, np.uint8))
        assert ok
        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                         + jpeg.tobytes() + b"\r\n")
        time.sleep(FRAME_INTERVAL_S)


@pytest.fixture
def server() -> Iterator[StallingServer]:
    server = StallingServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()


def wait_for(feed: CaptureThread, condition: str, timeout: float) -> float:
    """Read frames and watch the status until `condition` holds; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        frame = feed.next(0.1)
        status = feed.status_for(frame)
        if (condition == "stalled" and status.startswith("no frames for ")) or (
                condition == "flowing" and frame is not None and status == ""):
            return time.monotonic() - started
    raise AssertionError(f"not {condition} within {timeout} s (status {feed.status!r})")


@pytest.mark.slow
def test_a_stall_is_reported_within_3_s_and_the_stream_recovers(server: StallingServer) -> None:
    source = parse_source(server.url, CaptureOptions())
    assert DEFAULT_STALL_S < server.pause_s < DEFAULT_READ_TIMEOUT_S
    assert source.live
    feed = open_feed(source, Backoff(0.05, 2.0, 0.2))
    assert isinstance(feed, CaptureThread) and feed.stall_s == DEFAULT_STALL_S
    try:
        wait_for(feed, "flowing", 5.0)
        while feed.frames_captured < server.first:  # the first burst, up to the stall
            feed.next(0.5)
        # 1. A stall shorter than the read timeout: reported, then frames flow again on the same connection.
        assert wait_for(feed, "stalled", 5.0) < 3.0
        assert feed.stalls == 1 and feed.reconnects == 0
        wait_for(feed, "flowing", 5.0)
        assert feed.reconnects == 0 and server.connections == 1
        # 2. Silent for good: reported, the read times out after 5 s, the capture reconnects, frames flow.
        assert wait_for(feed, "stalled", 5.0) < 3.0
        wait_for(feed, "flowing", 10.0)
        assert feed.reconnects == 1 and server.connections == 2 and feed.stalls == 2
        frame = feed.next(2.0)
        assert frame is not None and frame.index > 2 * server.first  # indices keep counting
        assert counter_of(frame.image) < 64  # a real decoded frame of the new connection
    finally:
        feed.close()


@pytest.mark.slow
def test_run_says_connecting_and_prints_the_stall_and_the_recovery(server: StallingServer, default_model: Path,
                                                                   tmp_path: Path) -> None:
    server.go.clear()  # the stalls start once run reads frames, however long its model takes to load
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr, subprocess.Popen(
            [sys.executable, "-m", "asl_edge", "run", "--source", server.url, "--model", str(default_model),
             "--hand", "off", "--no-window", "--max-frames", "60"],
            stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}) as process:  # each line as run prints it
        assert process.stdout is not None
        stdout = []
        watchdog = threading.Timer(120, process.kill)  # a hung run ends the read loop below
        watchdog.start()
        try:
            for line in process.stdout:
                stdout.append(line)
                if line.startswith("no display:"):  # printed as the pipeline starts reading
                    server.go.set()
            assert process.wait() == 0, stderr_path.read_text()
        finally:
            watchdog.cancel()
    output, errors = "".join(stdout), stderr_path.read_text()
    assert f"connecting to camera {server.url} ..." in output
    statuses = [line for line in errors.splitlines() if line.startswith("status: ")]
    # One line per kind of trouble (not one per second), and one when frames come back.
    assert statuses[:2] == ["status: no frames for 2 s", f"status: frames from camera {server.url} again"]
    assert "status: no frames for 2 s" in statuses[2:]  # the second stall, which ends in a reconnect
    assert statuses[-1] == f"status: frames from camera {server.url} again"
    assert "60 frames" in output and "stopped by max-frames" in output
    assert server.connections == 2
