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
    """Annotated frames into a video file, written beside the target and renamed into place on close once it
    reads back, so an interrupted run or a full disk never leaves a half-written file under the real name."""

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
                self._partial.unlink(missing_ok=True)
                raise self._open_error()
            self._size = size
        if size != self._size:
            frame = cv2.resize(frame, self._size)
        self._writer.write(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        self.frames_written += 1
        return None

    def _open_error(self) -> AslEdgeError:
        """Why the encoder did not start: a folder that takes no more bytes (FFmpeg writes the container's
        header at once, so a drive that filled up since __init__ shows here), else no encoder for the
        container in this OpenCV."""
        try:
            with tempfile.TemporaryFile(dir=self.path.parent) as probe:
                probe.write(bytes(64 * 1024))
                probe.flush()
                os.fsync(probe.fileno())
        except OSError as exc:
            return write_error(self.path, exc, what="video ")
        return AslEdgeError(f"cannot write video {self.path}: OpenCV has no encoder for {self.path.suffix} here; "
                            "try --save out.avi")

    def close(self) -> None:
        """Finish the file and rename it into place once it reads back whole; else remove it and raise
        AslEdgeError, leaving any earlier file at the path as it was."""
        if self._writer is None:
            return
        self._writer.release()  # writes the container's index last (an MP4's moov atom)
        self._writer = None
        try:
            problem = unreadable_video(self._partial, self.frames_written)
            if problem is not None:
                raise AslEdgeError(f"the video {self.path} could not be written: {problem} (disk full?); free "
                                   "space on that drive or --save somewhere else")
            os.replace(self._partial, self.path)
        except BaseException as exc:
            self._partial.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise write_error(self.path, exc, what="video ") from exc
            raise


def unreadable_video(path: Path, frames: int) -> str | None:
    """Why a video just written with `frames` frames does not read back, or None when it does.

    OpenCV's writers ignore failed writes, so a full disk shows only here: an MP4 or MOV whose index never
    reached the disk does not open; an AVI or MKV cut short opens and decodes its first frames, but not its
    last. FFmpeg seeks to the last frame exactly in every container of VIDEO_CODECS; another backend's seek
    may land elsewhere, so without FFmpeg only the first frame is checked. (Reading every frame instead would
    take minutes after a long recording.)"""
    ffmpeg = cv2.CAP_FFMPEG in cv2.videoio_registry.getBackends()  # hasBackend is newer than some JetPacks
    # FFmpeg alone, when there: a file it cannot open would otherwise go on to OpenCV's own MJPEG reader,
    # which prints its complaints about a cut AVI to the console
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG if ffmpeg else cv2.CAP_ANY)
    try:
        if not capture.isOpened():
            return "the file does not open"
        if not capture.read()[0]:
            return "the file holds no readable frame"
        if ffmpeg and frames > 1 and not (capture.set(cv2.CAP_PROP_POS_FRAMES, frames - 1) and capture.read()[0]):
            return f"its last frame (of {frames}) does not read back"
    finally:
        capture.release()
    return None


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
    """Close every sink, even when one fails (a video that could not be written), then raise the first
    failure: the window and the web server still go away."""
    failure: BaseException | None = None
    for sink in sinks:
        try:
            sink.close()
        except BaseException as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
