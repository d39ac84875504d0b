"""Small real media for runtime tests: videos whose frames say their own index, a recording sink, and videos of a
signer holding photographed handshapes (for collect)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.conftest import REPO

# Evaluation only, with one exception (issue 14): collect's tests play a few of its photos as a signer at a camera.
MASSEY = Path(os.environ.get("ASL_EDGE_MASSEY", REPO.parent / "shared" / "data" / "massey-dev"))

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

    def show(self, frame: np.ndarray, state: Any) -> int | None:  # LiveState (run) or CollectState (collect)
        self.states.append(state.to_dict())
        self.frames.append(frame.copy())
        return self.keys.get(len(self.states))

    def close(self) -> None:
        self.closed = True


def canvas_of(photo: np.ndarray, size: tuple[int, int] = (640, 480), hand_height: int = 260) -> np.ndarray:
    """A tightly cropped hand photo scaled to `hand_height` and centred in a black camera-sized frame: the palm
    detector needs the context a real frame has around the hand."""
    height, width = photo.shape[:2]
    scale = hand_height / max(height, width)
    small = cv2.resize(photo, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    frame = np.zeros((size[1], size[0], 3), np.uint8)
    y, x = (size[1] - small.shape[0]) // 2, (size[0] - small.shape[1]) // 2
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    return frame


def write_signing_video(path: Path, photos: dict[str, list[np.ndarray]], fps: float = 10.0, hold_s: float = 0.6,
                        gap_s: float = 1.2, tail_s: float = 0.0) -> dict[str, list[np.ndarray]]:
    """A signer at a camera: for each letter in order, `gap_s` of an empty (black) frame, then each of its photos
    held still for `hold_s`; `tail_s` of empty frame at the end. MJPG .avi. Returns the frames shown per letter
    (to tell which letter a stored frame came from)."""
    size = (640, 480)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    shown: dict[str, list[np.ndarray]] = {}
    blank = np.zeros((size[1], size[0], 3), np.uint8)
    for letter, letter_photos in photos.items():
        for _ in range(round(gap_s * fps)):
            writer.write(blank)
        shown[letter] = [canvas_of(photo, size) for photo in letter_photos]
        for frame in shown[letter]:
            for _ in range(round(hold_s * fps)):
                writer.write(frame)
    for _ in range(round(tail_s * fps)):
        writer.write(blank)
    writer.release()
    return shown


def massey_photos(counts: dict[str, int], signer: str = "hand5") -> dict[str, list[np.ndarray]]:
    """The first `counts[letter]` massey-dev photos of one signer per letter, decoded (skips when absent)."""
    if not MASSEY.is_dir():
        pytest.skip(f"massey-dev not found at {MASSEY}; set ASL_EDGE_MASSEY")
    photos: dict[str, list[np.ndarray]] = {}
    for letter, count in counts.items():
        photos[letter] = []
        for path in sorted((MASSEY / letter).glob(f"{signer}_*"))[:count]:
            photo = cv2.imread(str(path))
            assert photo is not None, path
            photos[letter].append(photo)
        assert len(photos[letter]) == count, f"massey-dev has fewer than {count} photos of {letter} by {signer}"
    return photos


def photo_shown(image: np.ndarray, shown: dict[str, list[np.ndarray]]) -> tuple[str, int]:
    """(letter, photo index) of the write_signing_video frame a stored frame is (nearest by mean absolute
    difference)."""
    distances = {(letter, i): float(np.abs(image.astype(np.int16) - frame).mean())
                 for letter, frames in shown.items() for i, frame in enumerate(frames)}
    return min(distances, key=lambda key: distances[key])


def write_timed_video(path: Path, frames: list[tuple[np.ndarray, float]], time_base_fps: float = 30.0) -> Path:
    """A real variable-frame-rate file: each (BGR image, time in s) becomes one JPEG frame with its own
    presentation timestamp (in units of 1 / time_base_fps) in a Matroska (.mkv) container. OpenCV's FFmpeg
    writer takes the timestamps in raw mode (VIDEOWRITER_PROP_RAW_VIDEO: we hand it encoded JPEGs), and
    the container then reports time_base_fps as its rate, as a phone's VFR recording reports its nominal one."""
    if not hasattr(cv2, "VIDEOWRITER_PROP_RAW_VIDEO"):  # the writer's raw mode with PTS is newer than 4.5
        pytest.skip(f"OpenCV {cv2.__version__} cannot write the timed test clip (no VideoWriter raw mode with PTS); "
                    "the newest lane reads one")
    height, width = frames[0][0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter.fourcc(*"MJPG"), time_base_fps,
                             (width, height), [cv2.VIDEOWRITER_PROP_RAW_VIDEO, 1])
    assert writer.isOpened()
    for image, seconds in frames:
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        writer.set(cv2.VIDEOWRITER_PROP_PTS, round(seconds * time_base_fps))
        writer.write(jpeg.reshape(1, -1))
    writer.release()
    return path


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg command line (quiet, overwriting); skips the test where it is not installed (`make media`)."""
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (`make media` installs Debian's)")
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def container_times(path: Path) -> list[float]:
    """Each video frame's presentation time in seconds as ffprobe reads it from the container, in decode order."""
    import subprocess

    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time",
                          "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True).stdout
    return [float(line.strip(",")) for line in out.split()]


def write_held_letters_clip(path: Path, shots: list[tuple[np.ndarray | None, float]], fps: int = 10,
                            size: tuple[int, int] = (640, 480)) -> Path:
    """An H.264 MP4 made by the ffmpeg command line: each (frame, seconds) shown for that long, None an empty
    (black) frame, at a constant `fps`. Frames are placed as `canvas_of` does; a signer holding each letter."""
    stills = path.parent / f"{path.stem}-stills"
    stills.mkdir(exist_ok=True)
    blank = np.zeros((size[1], size[0], 3), np.uint8)
    lines = []
    for i, (frame, seconds) in enumerate(shots):
        still = stills / f"{i:04d}.png"
        cv2.imwrite(str(still), blank if frame is None else canvas_of(frame, size))
        lines += [f"file '{still}'", f"duration {seconds}"]
    lines.append(lines[-2])  # the concat demuxer needs the last file once more for its duration to count
    (stills / "list.txt").write_text("\n".join(lines) + "\n")
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(stills / "list.txt"), "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-r", str(fps), "-fps_mode", "cfr", str(path))
    return path
