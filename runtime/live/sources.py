"""Frame sources named by URI (after jetson-utils' videoSource), image folders and looping.

    0, /dev/video0, v4l2:///dev/video0   USB/V4L2 webcam (OpenCV's V4L2 backend on Linux)
    csi://0                              Jetson CSI camera through nvarguscamerasrc (GStreamer)
    rtsp://host:8554/stream              network stream (GStreamer when OpenCV has it, else FFmpeg)
    http://host/stream.mjpg              MJPEG over HTTP and other FFmpeg-readable URLs
    clip.mp4, file:///path/clip.avi      video file
    folder/, photo.jpg                   image folder (numbers in names by value; each image one frame) or one image

Live sources (cameras, streams) stamp frames with the monotonic clock and are read by a capture thread
that keeps only the newest frame; files and folders are read in order, every frame, stamped with their
time in the video (container timestamps) or, for folders, index / fps, so a run over a file is deterministic.
The base types live in frames.py, the OpenCV captures in opencv_sources.py.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from asl_edge.datasets import IMAGE_SUFFIXES, folder_images, read_image, warn_other_images
from asl_edge.errors import SourceError
from asl_edge.machine import opencv_build
from asl_edge.runtime.live.frames import DEFAULT_FOLDER_FPS, CaptureOptions, Frame, FrameSource
from asl_edge.runtime.live.opencv_sources import CameraSource, VideoFileSource

DEFAULT_CSI_SIZE = (1280, 720)
DEFAULT_CSI_FPS = 30.0
# --flip name -> nvvidconv flip-method (0 none, 2 rotate 180 = both, 4 horizontal, 6 vertical; 1, 3, 5, 7
# rotate by 90 degrees or transpose), so a CSI camera is flipped by the VIC, not the CPU.
CSI_FLIP_METHODS = {"none": 0, "horizontal": 4, "vertical": 6, "both": 2}


class ImageFolderSource(FrameSource):
    """Images in the order given (a folder's: `natural_order`), one frame each, stamped index / fps (fps: --fps,
    else DEFAULT_FOLDER_FPS = 10, since photos carry no frame time). Unreadable files are skipped with a warning
    (a folder of camera captures often holds a stray file)."""

    kind = "image folder"
    photos = True

    def __init__(self, uri: str, files: Sequence[Path], options: CaptureOptions | None = None,
                 empty_hint: str = "") -> None:
        super().__init__(uri)
        self.files = list(files)
        self.empty_hint = empty_hint  # what to pass instead when the folder holds no images
        self.options = options or CaptureOptions()
        self._fps = self.options.fps or DEFAULT_FOLDER_FPS
        self._position = 0
        self._index = 0
        self._open = False

    def open(self) -> None:
        if not self.files:
            raise SourceError(f"cannot open {self.describe()}: it holds no images "
                              f"({', '.join(sorted(IMAGE_SUFFIXES))}){self.empty_hint}")
        # One image that decodes (the first, as a rule) before the model loads: a folder of only broken files
        # would otherwise run, warn about each and spell nothing with exit 0.
        if not any(read_image(path) is not None for path in self.files):
            names = ", ".join(path.name for path in self.files[:5]) + (" ..." if len(self.files) > 5 else "")
            raise SourceError(f"cannot open {self.describe()}: none of its {len(self.files)} image file(s) can be "
                              f"read ({names}: empty, damaged or not images); replace them with photos that open")
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
            image = read_image(path)
            if image is None:
                print(f"warning: skipped unreadable image {path}", file=sys.stderr)
                continue
            frame = Frame(self.options.orient(self._fit(image)), self._index / self._fps, self._index)
            self._index += 1
            return frame
        return None

    def _fit(self, image: np.ndarray) -> np.ndarray:
        # Images of one folder may differ in size; --width/--height make every frame the same.
        width, height = self.options.width, self.options.height
        if width and height and image.shape[:2] != (height, width):
            return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return image


class LoopingSource(FrameSource):
    """A file or folder played again from the start whenever it ends, for soak runs: indices and
    timestamps keep increasing across passes (each pass starts one nominal frame interval after the
    previous pass's last frame), so the pipeline sees one endless stream. `passes` counts completed plays."""

    def __init__(self, inner: FrameSource) -> None:
        if inner.live:
            raise SourceError(f"cannot loop {inner.describe()}: only files and image folders have an end to loop")
        super().__init__(inner.uri)
        self.inner = inner
        self.kind = f"looping {inner.kind}"
        self.photos = inner.photos
        self.passes = 0
        self._offset = 0.0
        self._index = 0
        self._last = 0.0

    def open(self) -> None:
        if not self.inner.is_open:
            self.inner.open()

    def close(self) -> None:
        self.inner.close()

    @property
    def is_open(self) -> bool:
        return self.inner.is_open

    @property
    def nominal_fps(self) -> float | None:
        return self.inner.nominal_fps

    def read(self) -> Frame | None:
        frame = self.inner.read()
        if frame is None:
            if self._index == 0 or not self.inner.is_open:
                return None  # an empty source or one closed under us: nothing to loop
            self.passes += 1
            self._offset = self._last + 1.0 / (self.inner.nominal_fps or DEFAULT_FOLDER_FPS)
            self.inner.close()
            self.inner.open()
            frame = self.inner.read()
            if frame is None:
                return None
        looped = Frame(frame.image, self._offset + frame.timestamp, self._index)
        self._index += 1
        self._last = looped.timestamp
        return looped


# -- URI parsing -----------------------------------------------------------------------------------

def csi_pipeline(sensor_id: int, width: int, height: int, fps: float, flip_method: int = 0) -> str:
    """The GStreamer pipeline for a Jetson CSI camera: Argus capture into NVMM memory, converted (and
    flipped: nvvidconv flip-method, see CSI_FLIP_METHODS) by the VIC to BGRx, then to BGR for OpenCV; the
    appsink keeps only the newest buffer."""
    return (f"nvarguscamerasrc sensor-id={sensor_id} ! "
            f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, format=(string)NV12, "
            f"framerate=(fraction){round(fps)}/1 ! "
            f"nvvidconv flip-method={flip_method} ! video/x-raw, format=(string)BGRx ! "
            "videoconvert ! video/x-raw, format=(string)BGR ! "
            "appsink drop=true max-buffers=1 sync=false")


def rtsp_pipeline(url: str, latency_ms: int = 200, tcp_timeout_s: float = 10.0) -> str:
    """A GStreamer pipeline for an RTSP stream; decodebin picks the hardware decoder where one exists
    (nvv4l2decoder on a Jetson). rtspsrc's tcp-timeout (microseconds) bounds a server that accepts the
    connection but never answers."""
    return (f"rtspsrc location={url} latency={latency_ms} tcp-timeout={round(tcp_timeout_s * 1e6)} ! "
            "decodebin ! videoconvert ! video/x-raw, format=(string)BGR ! appsink drop=true max-buffers=1 sync=false")


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
    pipeline = csi_pipeline(int(rest), width, height, options.fps or DEFAULT_CSI_FPS, CSI_FLIP_METHODS[options.flip])
    # The VIC has flipped the frames already; flipping again on the CPU would undo it.
    return CameraSource(uri, pipeline, cv2.CAP_GSTREAMER, replace(options, flip="none"),
                        hint="is the camera connected, and is nvargus-daemon running "
                             "(sudo systemctl restart nvargus-daemon)?")


def _stream_source(uri: str, _rest: str, options: CaptureOptions) -> FrameSource:
    hint = "is the address right and the stream up?"
    if uri.startswith(("rtsp://", "rtsps://")) and opencv_build().has_gstreamer:
        return CameraSource(uri, rtsp_pipeline(uri, tcp_timeout_s=options.open_timeout_s), cv2.CAP_GSTREAMER,
                            options, hint)
    return CameraSource(uri, uri, cv2.CAP_FFMPEG, options, hint)


def natural_order(path: Path) -> tuple[tuple[int | str, ...], str]:
    """Sort key for a file name: digit runs compare as numbers (f2 < f10; f02 and f2 tie on the number), the
    plain name breaks ties, so the order is total and zero-padded names keep theirs."""
    # Splitting on a captured group puts text at even and digit runs at odd places (an empty text where a
    # name starts or ends with digits), so two keys only ever compare str with str and int with int.
    runs = re.split(r"(\d+)", path.name)
    return tuple(int(run) if i % 2 else run for i, run in enumerate(runs)), path.name


def _path_source(uri: str, path_text: str, options: CaptureOptions) -> FrameSource:
    path = Path(path_text).expanduser()
    if path.is_dir():
        files = sorted(folder_images(path), key=natural_order)
        warn_other_images(path)
        inner = None if files else next((p for p in sorted(path.iterdir()) if p.is_dir() and folder_images(p)), None)
        hint = f"; it holds folders of images: pass one of them, e.g. --source {inner}" if inner else ""
        return ImageFolderSource(uri, files, options, empty_hint=hint)
    if not path.exists():
        raise SourceError(f"source {uri} does not exist: pass a camera (0, /dev/video0, csi://0), "
                          "an rtsp:// URL, a video file or an image folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        single = ImageFolderSource(uri, [path], options)
        single.kind = "image"
        return single
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
