"""Sources that cv2.VideoCapture opens: live cameras and streams, and video files.

Live frames are stamped with the monotonic clock right after grab(), before the colour conversion of
retrieve(), so the stamp is when the frame arrived. File frames carry the container's presentation time
(CAP_PROP_POS_MSEC after each read), so a variable-frame-rate file keeps its real timing; where that time
repeats, steps back or is missing, frame_clock.py fills in without ever running ahead of the container.
"""

from __future__ import annotations

import abc
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from asl_edge.errors import SourceError
from asl_edge.runtime.live.frame_clock import ContainerClock
from asl_edge.runtime.live.frames import DEFAULT_FOLDER_FPS, CaptureOptions, Frame, FrameSource

# Backends whose open and read can block on a network: they take CAP_PROP_OPEN_TIMEOUT_MSEC and
# CAP_PROP_READ_TIMEOUT_MSEC (OpenCV's own default is 30 s for each).
NETWORK_APIS = (cv2.CAP_FFMPEG, cv2.CAP_GSTREAMER)


class OpenCvSource(FrameSource):
    """Anything cv2.VideoCapture opens: subclasses say what to open and with which API."""

    def __init__(self, uri: str, options: CaptureOptions | None = None) -> None:
        super().__init__(uri)
        self.options = options or CaptureOptions()
        self._capture: Any = None
        self._index = 0

    @abc.abstractmethod
    def _target(self) -> tuple[str | int, int]:
        """(filename, device index or pipeline; cv2.CAP_* API preference)."""

    def _open_params(self) -> list[int]:
        """cv2.VideoCapture open parameters (property, value, ...)."""
        return []

    def _open_hint(self) -> str:
        return "check the path or address"

    def _configure(self, capture: Any) -> None:
        """Apply size and rate requests before the first read (cameras only)."""

    def open(self) -> None:
        self.close()
        target, api = self._target()
        params = self._open_params()
        capture = cv2.VideoCapture(target, api, params) if params else cv2.VideoCapture(target, api)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {self.describe()}: {self._open_hint()}")
        self._configure(capture)
        self._capture = capture

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def _grab(self) -> tuple[np.ndarray, float] | None:
        """The next image, flipped as asked, and the monotonic time it was grabbed; None when none came."""
        if self._capture is None or not self._capture.grab():
            return None
        grabbed = time.monotonic()
        ok, image = self._capture.retrieve()
        if not ok or image is None or image.size == 0:
            return None
        return self.options.orient(np.asarray(image)), grabbed

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class CameraSource(OpenCvSource):
    """A live camera or stream: V4L2 device, CSI pipeline, RTSP/HTTP URL. Frames carry the monotonic
    time they were grabbed. Network backends (FFmpeg, GStreamer) get the options' open and read timeouts,
    so a stream that stops sending fails a read after read_timeout_s instead of OpenCV's 30 s."""

    live = True
    kind = "camera"

    def __init__(self, uri: str, target: str | int, api: int = cv2.CAP_ANY,
                 options: CaptureOptions | None = None, hint: str = "is it connected and not in use?") -> None:
        super().__init__(uri, options)
        self.target = target
        self.api = api
        self.hint = hint

    @property
    def network(self) -> bool:
        """Opened by a backend that can wait on a network (what the "connecting to" line is for)."""
        return self.api in NETWORK_APIS

    def _target(self) -> tuple[str | int, int]:
        return self.target, self.api

    def _open_params(self) -> list[int]:
        if not self.network:
            return []
        return [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, round(self.options.open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, round(self.options.read_timeout_s * 1000)]

    def _open_hint(self) -> str:
        return self.hint

    def _configure(self, capture: Any) -> None:
        if self.api == cv2.CAP_GSTREAMER:
            return  # the pipeline string already fixes size and rate
        if self.options.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.options.width)
        if self.options.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.options.height)
        if self.options.fps:
            capture.set(cv2.CAP_PROP_FPS, self.options.fps)
        # A driver-side queue would hand out old frames; the capture thread keeps the newest itself.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    @property
    def nominal_fps(self) -> float | None:
        if self.options.fps:
            return self.options.fps
        fps = float(self._capture.get(cv2.CAP_PROP_FPS)) if self._capture is not None else 0.0
        return fps if fps > 0 else None

    def read(self) -> Frame | None:
        grabbed = self._grab()
        if grabbed is None:
            return None
        frame = Frame(grabbed[0], grabbed[1], self._index)
        self._index += 1
        return frame


class VideoFileSource(OpenCvSource):
    """A video file read in order; each frame is stamped with its presentation time from the container
    (CAP_PROP_POS_MSEC after the read, minus the first frame's), so variable-frame-rate files keep their
    real timing. Where a container time repeats, steps back or is missing, `ContainerClock` stamps the frame
    from the container's latest time and its recent pace, so no stamp runs ahead of the container for more
    than a frame. --fps replaces the timestamps with index / fps."""

    kind = "video file"

    def __init__(self, uri: str, path: Path, options: CaptureOptions | None = None) -> None:
        super().__init__(uri, options)
        self.path = path
        self._fps = 0.0
        self._container_fps = DEFAULT_FOLDER_FPS  # the container's own rate (its timing, not --fps)
        self.frame_count = 0
        self.duration_s = 0.0  # the container's length (frame count / rate), 0 when unknown
        self._clock = ContainerClock(1.0 / DEFAULT_FOLDER_FPS)
        self._last = 0.0

    def _target(self) -> tuple[str | int, int]:
        return str(self.path), cv2.CAP_ANY

    def _open_hint(self) -> str:
        return "not a readable video (unsupported codec or a truncated/corrupt file?)"

    def open(self) -> None:
        super().open()
        reported = float(self._capture.get(cv2.CAP_PROP_FPS))
        known = reported if 0 < reported < 1000 else 0.0
        self._fps = self.options.fps or known or DEFAULT_FOLDER_FPS
        self._container_fps = known or DEFAULT_FOLDER_FPS
        self.frame_count = max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.duration_s = self.frame_count / known if known else 0.0
        self._index, self._last = 0, 0.0
        self._clock = ContainerClock(1.0 / self._container_fps)

    @property
    def nominal_fps(self) -> float | None:
        return self._fps or None

    def read(self) -> Frame | None:
        grabbed = self._grab()
        if grabbed is None:
            return None
        # The container's time is kept even under --fps: whether the file ended early is a question about it.
        self._last = self._clock.stamp(float(self._capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0)
        frame = Frame(grabbed[0], self._index / self.options.fps if self.options.fps else self._last, self._index)
        self._index += 1
        return frame

    @property
    def frames_read(self) -> int:
        return self._index

    @property
    def ended_early(self) -> str | None:
        """Fewer frames than the container announced, and (for a variable rate, whose count is only an
        estimate) the last one well before the container's end."""
        # (no frame at all from a file that announces some is cut short too: a copy cut inside its first frames)
        short = self._index < self.frame_count - 1
        if not short or (self.duration_s and self._last + 2.0 / self._container_fps >= self.duration_s):
            return None
        return (f"{self.describe()} ended after {self._index} of {self.frame_count} frames "
                "(truncated or damaged file?)")
