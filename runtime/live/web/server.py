"""The web view's HTTP side: one threaded standard-library server and the handler of its routes: four GET routes
and, for pages with buttons (collect), `POST /command/<name>`."""

from __future__ import annotations

import socket
import socketserver
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from asl_edge.errors import AslEdgeError

if TYPE_CHECKING:
    from asl_edge.runtime.live.web.view import WebView

BOUNDARY = "frame"
KEEPALIVE_S = 10.0  # an SSE comment this often lets proxies and the handler notice a closed tab
EVENT_INTERVAL_S = 0.1  # state changes every frame; ten updates a second is plenty for a person
WRITE_TIMEOUT_S = 30.0
COMMAND_PREFIX = "/command/"
MAX_POST_BYTES = 4096  # a client that stops reading is dropped after this long
# What both pages (index.html, collect.html) share, served beside them: the dev kit may have no internet.
SHARED_FILES = {"/common.css": ("common.css", "text/css; charset=utf-8"),
                "/common.js": ("common.js", "text/javascript; charset=utf-8")}


def load_page(name: str = "index.html") -> bytes:
    """A page or a file the pages share, shipped as package data (runtime/live/web/*.html, common.css/js)."""
    try:
        return resources.files("asl_edge.runtime.live.web").joinpath(name).read_bytes()
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise AslEdgeError(f"the web view's page is missing from the installed package ({exc}); "
                           "reinstall asl-edge") from None


class WebViewServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its WebView and turns bind failures into one-line errors."""

    daemon_threads = True
    allow_reuse_port = False  # two servers sharing a port would split the viewers between them

    def __init__(self, host: str, port: int, view: WebView, page: bytes) -> None:
        self.view = view
        self.page = page
        self.shared = {path: (load_page(name), content_type) for path, (name, content_type) in SHARED_FILES.items()}
        if ":" in host:
            self.address_family = socket.AF_INET6
        try:
            super().__init__((host, port), WebViewHandler)
        except OSError as exc:  # also socket.gaierror for a host name that does not resolve
            reason = exc.strerror or str(exc)
            raise AslEdgeError(f"cannot serve the web view on {host or '*'}:{port}: {reason}; choose another "
                               "--port (0 picks a free one) or --host") from None

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's full DNS name, which can hang on an offline dev kit.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class WebViewHandler(BaseHTTPRequestHandler):
    server: WebViewServer
    timeout = WRITE_TIMEOUT_S
    ROUTES: ClassVar[dict[str, Callable[[WebViewHandler], None]]]

    def do_GET(self) -> None:
        route = self.ROUTES.get(urlsplit(self.path).path)
        try:
            if route is None:
                self.send_error(404, "not found: the web view serves /, /stream.mjpg, /state and /events")
            else:
                route(self)
        except (ConnectionError, TimeoutError):
            pass  # the viewer closed the tab or stopped reading; nothing to report

    def do_POST(self) -> None:
        # Only JSON posts: a browser must ask (CORS preflight, which this server never grants) before sending one
        # from another site's page, so no other page open in the user's browser can press the buttons.
        path = urlsplit(self.path).path
        name = path.removeprefix(COMMAND_PREFIX)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, MAX_POST_BYTES))
        try:
            if not path.startswith(COMMAND_PREFIX) or name not in self.server.view.commands:
                self.send_error(404, f"not found: this page takes {', '.join(self.server.view.commands) or 'no'} "
                                f"commands at {COMMAND_PREFIX}<name>")
            elif self.headers.get_content_type() != "application/json":
                self.send_error(415, "post commands as application/json")
            else:
                self.server.view.post_command(name)
                self._send_body("application/json", b'{"ok":true}')
        except (ConnectionError, TimeoutError):
            pass

    def log_message(self, message_format: str, *args: object) -> None:
        pass  # the pipeline's console shows the pipeline, not one line per request

    def _send_body(self, content_type: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _send_stream_headers(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()

    def page(self) -> None:
        self._send_body("text/html; charset=utf-8", self.server.page)

    def shared_file(self) -> None:
        body, content_type = self.server.shared[urlsplit(self.path).path]
        self._send_body(content_type, body)

    def state(self) -> None:
        _, state = self.server.view.states.get()
        self._send_body("application/json", state.encode())

    def stream(self) -> None:
        jpegs = self.server.view.jpegs
        self._send_stream_headers(f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        # Each part ends with the next boundary, so a browser shows a frame as soon as it has arrived
        # instead of when the following one starts (which may never come once the clip ends).
        self.wfile.write(f"--{BOUNDARY}\r\n".encode())
        with self.server.view.watching():
            sent = 0
            while True:
                number, jpeg = jpegs.wait_newer(sent, timeout=KEEPALIVE_S)
                if jpegs.closed:
                    return
                if number == sent:
                    continue
                part_header = f"Content-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                self.wfile.write(part_header + jpeg + f"\r\n--{BOUNDARY}\r\n".encode())
                sent = number

    def events(self) -> None:
        states = self.server.view.states
        self._send_stream_headers("text/event-stream")
        self.wfile.write(b"retry: 2000\n\n")
        sent = -1  # so the current state goes out at once
        while True:
            number, state = states.wait_newer(sent, timeout=KEEPALIVE_S)
            if states.closed:
                return
            if number == sent:
                self.wfile.write(b": keepalive\n\n")
                continue
            self.wfile.write(f"id: {number}\ndata: {state}\n\n".encode())
            sent = number
            time.sleep(EVENT_INTERVAL_S)


WebViewHandler.ROUTES = {
    "/": WebViewHandler.page,
    "/index.html": WebViewHandler.page,
    "/state": WebViewHandler.state,
    "/stream.mjpg": WebViewHandler.stream,
    "/events": WebViewHandler.events,
    **{path: WebViewHandler.shared_file for path in SHARED_FILES},
}
