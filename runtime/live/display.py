"""Where annotated frames go: an OpenCV window, the web view, a video file.

Each sink has show(frame, state) -> key code or None, and close(). The window returns the keys pressed, the web
view the keys of the buttons clicked on its page (`commands`); the pipeline maps them ('c' clears the text, 'q' or
Esc quits), `collect` its own. `state` is anything with `to_dict()` (LiveState for run, the collect state).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np

from asl_edge.artifacts import write_error
from asl_edge.errors import AslEdgeError
from asl_edge.machine import opencv_build

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class ViewState(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


StateT_contra = TypeVar("StateT_contra", bound=ViewState, contravariant=True)


class Sink(Protocol[StateT_contra]):
    def show(self, frame: np.ndarray, state: StateT_contra) -> int | None: ...

    def close(self) -> None: ...


def opencv_has_gui() -> bool:
    """Whether this OpenCV can open windows (opencv-python-headless cannot)."""
    return opencv_build().has_gui


def has_display() -> bool:
    """A window can be shown: a GUI-enabled OpenCV and, on Linux, an X11 or Wayland display."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return opencv_has_gui()


class WindowSink:
    def __init__(self, title: str = "asl-edge") -> None:
        if not opencv_has_gui():
            raise AslEdgeError("this OpenCV has no window support (opencv-python-headless); use --web, "
                               "or install opencv-python / JetPack's python3-opencv")
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)

    def show(self, frame: np.ndarray, state: object) -> int | None:
        cv2.imshow(self.title, frame)
        key = cv2.waitKey(1)
        return None if key < 0 else key & 0xFF

    def close(self) -> None:
        cv2.destroyWindow(self.title)


class WebSink:
    """The headless view: a page on http://host:port/ streaming the annotated frames and the state.

    page: the page served at / (a file of runtime/live/web/); commands: button name -> the key code `show`
    returns once the page posts that command (one per call, in the order clicked)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, page: str = "index.html",
                 commands: Mapping[str, int] | None = None) -> None:
        from asl_edge.runtime.live.web.view import WebView

        self.commands = dict(commands or {})
        self.view: Any = WebView(host=host, port=port, page=page, commands=tuple(self.commands))
        self.url: str = self.view.start()

    def show(self, frame: np.ndarray, state: ViewState) -> int | None:
        self.view.publish(frame, state.to_dict())
        command = self.view.take_command()
        return None if command is None else self.commands[command]

    def close(self) -> None:
        self.view.stop()


class VideoFileSink:
    """Annotated frames into a video file, written beside the target and renamed into place on close,
    so an interrupted run never leaves a half-written file under the real name."""

    def __init__(self, path: str | os.PathLike[str], fps: float) -> None:
        self.path = Path(path)
        codec = VIDEO_CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise AslEdgeError(f"cannot save video as {self.path.name}: use one of "
                               f"{', '.join(sorted(VIDEO_CODECS))}")
        if not self.path.parent.is_dir():
            what = "is a file" if self.path.parent.exists() else "does not exist"
            raise AslEdgeError(f"cannot save video {self.path}: folder {self.path.parent} {what}; "
                               "pass a path inside an existing folder")
        try:  # a read-only or full folder is found now, not blamed on the encoder at the first frame
            with tempfile.NamedTemporaryFile(dir=self.path.parent, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        self.fps = fps if fps > 0 else 30.0
        self._fourcc = cv2.VideoWriter.fourcc(*codec)
        # OpenCV picks the container from the extension, so the temporary name keeps it.
        self._partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._writer: Any = None
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def show(self, frame: np.ndarray, state: object) -> int | None:
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self._partial), self._fourcc, self.fps, size)
            if not self._writer.isOpened():
                self._writer = None
                raise AslEdgeError(f"cannot write video {self.path}: OpenCV has no encoder for "
                                   f"{self.path.suffix} here; try --save out.avi")
            self._size = size
        if size != self._size:
            frame = cv2.resize(frame, self._size)
        self._writer.write(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        self.frames_written += 1
        return None

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        os.replace(self._partial, self.path)


def open_sinks(window: bool, web: bool = False, host: str = "127.0.0.1", port: int = 8080,
               save: str | os.PathLike[str] | None = None, fps: float = 30.0) -> list[Sink]:
    """The sinks a run asked for; the window only where a display exists. The caller closes them."""
    sinks: list[Sink] = []
    try:
        if window and has_display():
            sinks.append(WindowSink())
        if web:
            sinks.append(WebSink(host, port))
        if save is not None:
            sinks.append(VideoFileSink(save, fps))
    except BaseException:
        close_sinks(sinks)
        raise
    return sinks


def close_sinks(sinks: list[Sink]) -> None:
    for sink in sinks:
        sink.close()
