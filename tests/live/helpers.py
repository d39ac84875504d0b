"""Small real media for runtime tests: videos whose frames say their own index, and a recording sink."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from asl_edge.runtime.live.state import LiveState

STEP = 4  # grey level per frame index; survives MJPG compression when read back by rounding


def write_counter_video(path: Path, frames: int, size: tuple[int, int] = (64, 48), fps: float = 10.0) -> Path:
    """An MJPG .avi (or mp4v .mp4) whose frame i is flat grey STEP * i."""
    codec = "mp4v" if path.suffix == ".mp4" else "MJPG"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (STEP * i) % 256, np.uint8))
    writer.release()
    return path


def counter_of(image: np.ndarray) -> int:
    """The frame index a counter-video frame shows."""
    return round(float(image.mean()) / STEP)


class RecordingSink:
    """A real sink that keeps copies of what it was shown (for tests and for --save-like checks)."""

    def __init__(self, keys: dict[int, int] | None = None) -> None:
        self.states: list[dict[str, object]] = []
        self.frames: list[np.ndarray] = []
        self.keys = keys or {}  # shown-frame number -> key code to return
        self.closed = False

    def show(self, frame: np.ndarray, state: LiveState) -> int | None:
        self.states.append(state.to_dict())
        self.frames.append(frame.copy())
        return self.keys.get(len(self.states))

    def close(self) -> None:
        self.closed = True
