"""Frame sources behind one interface, named by URI (after jetson-utils' videoSource).

    0, /dev/video0, v4l2:///dev/video0   USB/V4L2 webcam (OpenCV's V4L2 backend on Linux)
    csi://0                              Jetson CSI camera through nvarguscamerasrc (GStreamer)
    rtsp://host:8554/stream              network stream (GStreamer when OpenCV has it, else FFmpeg)
    clip.mp4, file:///path/clip.avi      video file
    folder/, photo.jpg                   image folder (sorted; each image one frame) or one image

Live sources (cameras, streams) stamp frames with the monotonic clock and are read by a capture thread
that keeps only the newest frame; files and folders are read in order, every frame, stamped with their
position in the video, so a run over a file is deterministic.
"""

from __future__ import annotations

import abc
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from asl_edge.datasets import IMAGE_SUFFIXES
from asl_edge.errors import SourceError
from asl_edge.machine import opencv_build

DEFAULT_FOLDER_FPS = 10.0
DEFAULT_CSI_SIZE = (1280, 720)
DEFAULT_CSI_FPS = 30.0


@dataclass(frozen=True)
class Frame:
    """A decoded BGR image, its time in seconds (video position for files, monotonic for live
    sources) and its index in the stream."""

    image: np.ndarray
    timestamp: float
    index: int


@dataclass(frozen=True)
class CaptureOptions:
    """Requested frame size and rate; None leaves the device's or file's own."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None

    def __post_init__(self) -> None:
        for name in ("width", "height", "fps"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise SourceError(f"--{name} {value} must be positive")


class FrameSource(abc.ABC):
    """open() raises SourceError when the source cannot be opened; read() returns None when no frame
    came (end of a file; a lost camera or stream); a source can be closed and opened again."""

    live: bool = False
    kind: str = "source"

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @abc.abstractmethod
    def open(self) -> None: ...

    @abc.abstractmethod
    def read(self) -> Frame | None: ...

    def close(self) -> None:  # noqa: B027 - most sources have something to release, not all
        """Release the device or file."""

    @property
    @abc.abstractmethod
    def is_open(self) -> bool: ...

    @property
    def nominal_fps(self) -> float | None:
        """The rate frames are produced at, when known."""
        return None

    def describe(self) -> str:
        return f"{self.kind} {self.uri}"

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


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

    def _open_hint(self) -> str:
        return "check the path or address"

    def _configure(self, capture: Any) -> None:
        """Apply size and rate requests before the first read (cameras only)."""

    def open(self) -> None:
        self.close()
        target, api = self._target()
        capture = cv2.VideoCapture(target, api)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {self.describe()}: {self._open_hint()}")
        self._configure(capture)
        self._capture = capture

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def _grab(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        if not ok or image is None or image.size == 0:
            return None
        return np.asarray(image)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class CameraSource(OpenCvSource):
    """A live camera or stream: V4L2 device, CSI pipeline, RTSP/HTTP URL. Frames carry the monotonic
    time they were received."""

    live = True
    kind = "camera"

    def __init__(self, uri: str, target: str | int, api: int = cv2.CAP_ANY,
                 options: CaptureOptions | None = None, hint: str = "is it connected and not in use?") -> None:
        super().__init__(uri, options)
        self.target = target
        self.api = api
        self.hint = hint

    def _target(self) -> tuple[str | int, int]:
        return self.target, self.api

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
        image = self._grab()
        if image is None:
            return None
        frame = Frame(image, time.monotonic(), self._index)
        self._index += 1
        return frame


class VideoFileSource(OpenCvSource):
    """A video file read in order; each frame is stamped with its position (index / fps)."""

    kind = "video file"

    def __init__(self, uri: str, path: Path, options: CaptureOptions | None = None) -> None:
        super().__init__(uri, options)
        self.path = path
        self._fps = 0.0
        self.frame_count = 0

    def _target(self) -> tuple[str | int, int]:
        return str(self.path), cv2.CAP_ANY

    def _open_hint(self) -> str:
        return "not a readable video (unsupported codec or a truncated/corrupt file?)"

    def open(self) -> None:
        super().open()
        reported = float(self._capture.get(cv2.CAP_PROP_FPS))
        self._fps = self.options.fps or (reported if 0 < reported < 1000 else DEFAULT_FOLDER_FPS)
        self.frame_count = max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        self._index = 0

    @property
    def nominal_fps(self) -> float | None:
        return self._fps or None

    def read(self) -> Frame | None:
        image = self._grab()
        if image is None:
            return None
        frame = Frame(image, self._index / self._fps, self._index)
        self._index += 1
        return frame

    @property
    def frames_read(self) -> int:
        return self._index


class ImageFolderSource(FrameSource):
    """Images in name order, one frame each, stamped index / fps. Unreadable files are skipped with a
    warning (a folder of camera captures often holds a stray file)."""

    kind = "image folder"

    def __init__(self, uri: str, files: Sequence[Path], options: CaptureOptions | None = None) -> None:
        super().__init__(uri)
        self.files = list(files)
        self.options = options or CaptureOptions()
        self._fps = self.options.fps or DEFAULT_FOLDER_FPS
        self._position = 0
        self._index = 0
        self._open = False

    def open(self) -> None:
        if not self.files:
            raise SourceError(f"cannot open {self.describe()}: it holds no images "
                              f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        self._position = 0
        self._index = 0
        self._open = True

    def close(self) -> None:
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def nominal_fps(self) -> float | None:
        return self._fps

    def read(self) -> Frame | None:
        while self._open and self._position < len(self.files):
            path = self.files[self._position]
            self._position += 1
            image = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR) if path.is_file() else None
            if image is None:
                print(f"warning: skipped unreadable image {path}", file=sys.stderr)
                continue
            image = self._fit(image)
            frame = Frame(image, self._index / self._fps, self._index)
            self._index += 1
            return frame
        return None

    def _fit(self, image: np.ndarray) -> np.ndarray:
        # Images of one folder may differ in size; --width/--height make every frame the same.
        width, height = self.options.width, self.options.height
        if width and height and image.shape[:2] != (height, width):
            return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return image


# -- URI parsing -----------------------------------------------------------------------------------

def csi_pipeline(sensor_id: int, width: int, height: int, fps: float, flip_method: int = 0) -> str:
    """The GStreamer pipeline for a Jetson CSI camera: Argus capture into NVMM memory, converted by
    the VIC (nvvidconv) to BGRx, then to BGR for OpenCV; the appsink keeps only the newest buffer."""
    return (f"nvarguscamerasrc sensor-id={sensor_id} ! "
            f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, format=(string)NV12, "
            f"framerate=(fraction){round(fps)}/1 ! "
            f"nvvidconv flip-method={flip_method} ! video/x-raw, format=(string)BGRx ! "
            "videoconvert ! video/x-raw, format=(string)BGR ! "
            "appsink drop=true max-buffers=1 sync=false")


def rtsp_pipeline(url: str, latency_ms: int = 200) -> str:
    """A GStreamer pipeline for an RTSP stream; decodebin picks the hardware decoder where one exists
    (nvv4l2decoder on a Jetson)."""
    return (f"rtspsrc location={url} latency={latency_ms} ! decodebin ! videoconvert ! "
            "video/x-raw, format=(string)BGR ! appsink drop=true max-buffers=1 sync=false")


_NO_GSTREAMER = ("this OpenCV is built without GStreamer; on a Jetson use JetPack's python3-opencv "
                 "(not opencv-python from pip)")


def _v4l2_source(uri: str, device: str, options: CaptureOptions) -> FrameSource:
    target: str | int = int(device) if device.isdigit() else device
    if isinstance(target, str) and not os.path.exists(target):
        raise SourceError(f"camera device {target} does not exist; list cameras with `v4l2-ctl --list-devices`")
    api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
    return CameraSource(uri, target, api, options,
                        hint="is the camera connected, not used by another program, and readable by you "
                             "(group 'video')?")


def _csi_source(uri: str, rest: str, options: CaptureOptions) -> FrameSource:
    if not rest.isdigit():
        raise SourceError(f"bad CSI camera URI {uri}: expected csi://N with N the sensor id, e.g. csi://0")
    if not opencv_build().has_gstreamer:
        raise SourceError(f"cannot open CSI camera {uri}: {_NO_GSTREAMER}")
    width = options.width or DEFAULT_CSI_SIZE[0]
    height = options.height or DEFAULT_CSI_SIZE[1]
    pipeline = csi_pipeline(int(rest), width, height, options.fps or DEFAULT_CSI_FPS)
    return CameraSource(uri, pipeline, cv2.CAP_GSTREAMER, options,
                        hint="is the camera connected, and is nvargus-daemon running "
                             "(sudo systemctl restart nvargus-daemon)?")


def _stream_source(uri: str, _rest: str, options: CaptureOptions) -> FrameSource:
    hint = "is the address right and the stream up?"
    if uri.startswith(("rtsp://", "rtsps://")) and opencv_build().has_gstreamer:
        return CameraSource(uri, rtsp_pipeline(uri), cv2.CAP_GSTREAMER, options, hint)
    return CameraSource(uri, uri, cv2.CAP_FFMPEG, options, hint)


def _path_source(uri: str, path_text: str, options: CaptureOptions) -> FrameSource:
    path = Path(path_text).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return ImageFolderSource(uri, files, options)
    if not path.exists():
        raise SourceError(f"source {uri} does not exist: pass a camera (0, /dev/video0, csi://0), "
                          "an rtsp:// URL, a video file or an image folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource(uri, [path], options)
    return VideoFileSource(uri, path, options)


SourceFactory = Callable[[str, str, CaptureOptions], FrameSource]

# URI scheme -> factory(uri, rest after "scheme://", options)
SCHEMES: dict[str, SourceFactory] = {
    "v4l2": _v4l2_source,
    "csi": _csi_source,
    "rtsp": _stream_source,
    "rtsps": _stream_source,
    "http": _stream_source,
    "https": _stream_source,
    "rtmp": _stream_source,
    "file": _path_source,
}


# What each factory reads, for the machine checks (asl-edge doctor --source).
SOURCE_KINDS: dict[SourceFactory, str] = {_v4l2_source: "camera", _csi_source: "csi", _stream_source: "stream",
                                          _path_source: "file"}


def _route(uri: str | int) -> tuple[str, SourceFactory, str]:
    """(the URI stripped, its factory, the part the factory reads) — the one reading of a source URI."""
    text = str(uri).strip()
    if not text:
        raise SourceError("empty source: pass a camera (0, /dev/video0, csi://0), a URL, a video or a folder")
    scheme, sep, rest = text.partition("://")
    if sep:
        factory = SCHEMES.get(scheme.lower())
        if factory is None:
            raise SourceError(f"unknown source scheme '{scheme}://'; known: "
                              f"{', '.join(s + '://' for s in SCHEMES)}")
        return text, factory, rest
    if text.isdigit() or text.startswith("/dev/video"):
        return text, _v4l2_source, text
    return text, _path_source, text


def parse_source(uri: str | int, options: CaptureOptions | None = None) -> FrameSource:
    """The FrameSource a URI names (see the module docstring); not opened yet."""
    text, factory, rest = _route(uri)
    return factory(text, rest, options or CaptureOptions())


def source_kind(uri: str | int) -> str:
    """camera (V4L2 index or device), csi (Argus through GStreamer), stream (rtsp://, rtsps://, rtmp://,
    http(s)://) or file. Raises SourceError for an empty URI or an unknown scheme."""
    return SOURCE_KINDS[_route(uri)[1]]


def probe_source(uri: str | int, options: CaptureOptions | None = None) -> tuple[FrameSource, tuple[int, int]]:
    """Open a source, decode its first frame and close it again: (the source, the frame's (width, height)).
    Raises SourceError when it cannot be opened or gives no frame (an empty, truncated or undecodable
    file). Cheap for files and folders; callers check a --video or --source before long work."""
    source = parse_source(uri, options)
    with source:
        frame = source.read()
    if frame is None:
        raise SourceError(f"{source.describe()} opened but gave no frame (empty, truncated or an unsupported "
                          "codec?); check it plays, or re-encode it: ffmpeg -i IN -c:v libx264 OUT.mp4")
    height, width = frame.image.shape[:2]
    return source, (width, height)
