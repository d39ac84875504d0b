"""The web view's HTTP side with a real client: page, /state, /events, the MJPEG stream, errors."""

from __future__ import annotations

import http.client
import json
import re
import socket
import statistics
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest

from asl_edge.errors import AslEdgeError
from asl_edge.runtime.live.web.view import INITIAL_STATE, WebView
from tests.conftest import run_without_torch
from tests.live.web.conftest import Publisher, annotate, state_for


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def connect(url: str, path: str) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    connection.request("GET", path)
    return connection.getresponse()


def read_mjpeg_part(response: http.client.HTTPResponse, boundary: str) -> bytes:
    """One JPEG from a multipart/x-mixed-replace body; the reader stands just after a boundary line."""
    headers = {}
    while (line := response.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    assert headers["content-type"] == "image/jpeg"
    jpeg = response.read(int(headers["content-length"]))
    assert response.readline() == b"\r\n"
    assert response.readline() == f"--{boundary}\r\n".encode()
    return jpeg


def open_stream(url: str) -> tuple[http.client.HTTPResponse, str]:
    response = connect(url, "/stream.mjpg")
    assert response.status == 200
    content_type = response.headers["Content-Type"]
    match = re.fullmatch(r"multipart/x-mixed-replace; boundary=(\S+)", content_type)
    assert match, content_type
    boundary = match.group(1)
    assert response.readline() == f"--{boundary}\r\n".encode()
    return response, boundary


def read_event(response: http.client.HTTPResponse) -> dict[str, object]:
    """The next `data:` event from a Server-Sent Events body, skipping comments and the retry field."""
    while True:
        line = response.readline()
        assert line, "the event stream ended"
        if line.startswith(b"data: "):
            event: dict[str, object] = json.loads(line[len(b"data: "):])
            return event


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return image


def looks_like(image: np.ndarray, photo: np.ndarray) -> bool:
    """Same photograph, allowing for JPEG loss and the annotation band at the bottom."""
    return image.shape == photo.shape and float(np.abs(image[:400].astype(int) - photo[:400]).mean()) < 6


def test_page_is_served_without_external_assets(view: WebView) -> None:
    status, content_type, body = get(view.url)
    page = body.decode()
    assert status == 200 and content_type.startswith("text/html")
    for element in ("stream", "text", "letter", "status", "confidence", "top3", "fps", "stages"):
        assert f'id="{element}"' in page
    assert 'src="/stream.mjpg"' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page must work offline"


def test_state_before_the_first_frame(view: WebView) -> None:
    status, content_type, body = get(view.url + "state")
    assert status == 200 and content_type == "application/json"
    assert json.loads(body) == INITIAL_STATE


def test_state_is_the_latest_published(view: WebView, photo_frame: np.ndarray) -> None:
    view.publish(photo_frame, state_for("C", 0))
    view.publish(photo_frame, state_for("CA", 1))
    state = json.loads(get(view.url + "state")[2])
    assert state["text"] == "CA" and state["letter"] == "A" and state["frame_index"] == 1
    assert state["confidence"] == pytest.approx(0.87)  # a numpy float32 published as a JSON number
    assert state["top3"][0] == ["A", pytest.approx(0.87)]


def test_events_push_each_new_state(view: WebView, photo_frame: np.ndarray) -> None:
    view.publish(photo_frame, state_for("C", 0))
    response = connect(view.url, "/events")
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    assert read_event(response)["text"] == "C"
    view.publish(photo_frame, state_for("CAB", 1))
    event = read_event(response)
    assert event["text"] == "CAB" and event["frame_index"] == 1
    response.close()


def test_stream_sends_decodable_newest_frames(view: WebView, photo_frame: np.ndarray) -> None:
    response, boundary = open_stream(view.url)
    with Publisher(view, photo_frame, ["C", "CA", "CAB"], fps=30):
        frames = [decode(read_mjpeg_part(response, boundary)) for _ in range(3)]
    response.close()
    assert all(looks_like(frame, photo_frame) for frame in frames)
    # The annotation band changes with the frame counter: these are successive frames, not one repeated.
    bands = [frame[420:].astype(int) for frame in frames]
    assert np.abs(bands[0] - bands[-1]).mean() > 0.5


def test_frames_are_encoded_only_while_watched(view: WebView, photo_frame: np.ndarray) -> None:
    view.publish(annotate(photo_frame, "C", 0), state_for("C", 0))
    time.sleep(0.3)
    assert view.frames_encoded == 0
    # A viewer who arrives after the last frame still gets it.
    response, boundary = open_stream(view.url)
    assert looks_like(decode(read_mjpeg_part(response, boundary)), photo_frame)
    assert view.frames_encoded == 1
    response.close()


def test_encoding_is_limited_to_max_fps(photo_frame: np.ndarray) -> None:
    with WebView(port=0, max_fps=5) as view:
        response, _ = open_stream(view.url)
        started = time.monotonic()
        with Publisher(view, photo_frame, ["C"], fps=60):
            time.sleep(1.0)
        elapsed = time.monotonic() - started
        response.close()
    assert 1 <= view.frames_encoded <= 5 * elapsed + 2


def test_publish_does_not_encode_in_the_callers_thread(view: WebView, photo_frame: np.ndarray) -> None:
    response, _ = open_stream(view.url)  # a viewer, so frames are encoded (in the encoder thread)
    costs = []
    for index in range(40):
        started = time.perf_counter()
        view.publish(photo_frame, state_for("C", index))
        costs.append(time.perf_counter() - started)
    response.close()
    assert statistics.median(costs) < 0.005


def test_publish_rejects_what_is_not_an_image(view: WebView) -> None:
    with pytest.raises(TypeError, match="uint8 image"):
        view.publish(np.zeros((4, 4, 3), np.float32), state_for("C", 0))


def test_unknown_path_is_404(view: WebView) -> None:
    status, _, body = get(view.url + "nope")
    assert status == 404 and b"/stream.mjpg" in body


def test_stop_ends_open_streams(photo_frame: np.ndarray) -> None:
    view = WebView(port=0)
    view.start()
    view.publish(photo_frame, state_for("C", 0))
    stream, boundary = open_stream(view.url)
    read_mjpeg_part(stream, boundary)
    events = connect(view.url, "/events")
    read_event(events)
    started = time.monotonic()
    view.stop()
    # Both bodies end (a hang would hit the client's timeout) with nothing more than the last event's blank line.
    assert stream.read() == b"" and events.read() == b"\n"
    assert time.monotonic() - started < 5
    view.stop()  # twice is harmless


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AslEdgeError) as error:
            WebView(port=port).start()
    message = str(error.value)
    assert str(port) in message and "--port" in message and "\n" not in message


def test_out_of_range_port_is_refused() -> None:
    with pytest.raises(AslEdgeError, match="--port"):
        WebView(port=70000)


def test_listening_beyond_this_machine_warns(capsys: pytest.CaptureFixture[str]) -> None:
    with WebView(host="0.0.0.0", port=0) as view:
        assert get(view.url + "state")[0] == 200
    warning = capsys.readouterr().err
    assert warning.startswith("warning:") and "anyone on the network" in warning
    assert view.url.startswith("http://127.0.0.1:")  # a URL this machine's own browser can open


def test_loopback_is_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    with WebView(port=0):
        pass
    assert capsys.readouterr().err == ""


def test_web_view_runs_without_torch() -> None:
    result = run_without_torch(
        "import json, sys, urllib.request, numpy as np\n"
        "from asl_edge.runtime.live.web.view import WebView\n"
        "with WebView(port=0) as view:\n"
        "    view.publish(np.zeros((48, 64, 3), np.uint8), {'text': 'HI'})\n"
        "    print(json.loads(urllib.request.urlopen(view.url + 'state').read())['text'])\n"
        "print('torch' in sys.modules)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["HI", "False"]
