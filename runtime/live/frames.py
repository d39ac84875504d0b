"""What every frame source shares: the Frame record, the capture options and the FrameSource interface.

Time: each Frame carries the source's own time in seconds, which is what hold, release and pacing measure
(see spelling.py). Video files give their container timestamps, live sources the monotonic clock at the
moment the frame was grabbed, image folders a fixed rate (DEFAULT_FOLDER_FPS, or --fps).

Orientation: `flip` mirrors frames at capture, before anything looks at them, so the hand stage, the
classifier, the overlay and any saved video all see the corrected image.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from types import TracebackType

import cv2
import numpy as np

from asl_edge.errors import SourceError

DEFAULT_FOLDER_FPS = 10.0  # the rate an image folder stands for unless --fps says otherwise
DEFAULT_OPEN_TIMEOUT_S = 10.0  # a network stream that has not answered by then is reported and retried
DEFAULT_READ_TIMEOUT_S = 5.0  # a network stream silent this long is closed and reopened

# --flip name -> cv2.flip code (1: around the vertical axis, i.e. left-right; 0: up-down; -1: both)
FLIP_CODES: dict[str, int | None] = {"none": None, "horizontal": 1, "vertical": 0, "both": -1}


@dataclass(frozen=True)
class Frame:
    """A decoded BGR image (H x W x 3 uint8), its time in seconds and its index in the stream.

    `timestamp` is the container's presentation time for a video file (0 at the first frame), the monotonic
    clock (time.monotonic()) when the frame was grabbed for a live source, index / fps for an image folder."""

    image: np.ndarray
    timestamp: float
    index: int


@dataclass(frozen=True)
class CaptureOptions:
    """Requested frame size and rate (None leaves the device's or file's own), the flip applied at capture,
    and the network timeouts in seconds (FFmpeg and GStreamer captures of rtsp://, http://, ...).

    `fps` on a video file overrides its timestamps (frame index / fps), for files whose timing is wrong.
    Raises SourceError for values that cannot work."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None
    flip: str = "none"
    open_timeout_s: float = DEFAULT_OPEN_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S

    def __post_init__(self) -> None:
        for name in ("width", "height", "fps"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise SourceError(f"--{name} {value} must be a finite positive number")
        if self.flip not in FLIP_CODES:
            raise SourceError(f"unknown --flip '{self.flip}'; choose one of {', '.join(FLIP_CODES)}")
        for name in ("open_timeout_s", "read_timeout_s"):
            if getattr(self, name) <= 0:
                raise SourceError(f"{name.replace('_', ' ')} {getattr(self, name)} must be positive")

    def orient(self, image: np.ndarray) -> np.ndarray:
        """The image as --flip asks (a new array when flipped, the same one otherwise)."""
        code = FLIP_CODES[self.flip]
        return image if code is None else cv2.flip(image, code)


class FrameSource(abc.ABC):
    """open() raises SourceError when the source cannot be opened; read() returns None when no frame
    came (end of a file; a lost camera or stream); a source can be closed and opened again."""

    live: bool = False
    kind: str = "source"
    photos: bool = False  # each frame a still photo: the hand stage's photo policy (runtime/hand/photos.py)

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

    @property
    def ended_early(self) -> str | None:
        """After the end: why it came before the source's own end (a truncated file), else None."""
        return None

    def describe(self) -> str:
        return f"{self.kind} {self.uri}"

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
