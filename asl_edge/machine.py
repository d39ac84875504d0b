"""Parsers of the machine facts more than one layer reads: the Jetson Linux release (`/etc/nv_tegra_release`)
and what this OpenCV was built with (`cv2.getBuildInformation()`).

They live here, below the runtime, because the engine manifest (runtime.backends.tensorrt), the video
sources and windows (runtime.live) and the machine checks (doctor) all need them; the parsers only the
machine checks need are in asl_edge.doctor.parsers. Each parser takes the text and returns a value, or
None when the text is not of the expected form, so they are tested on real sample output on any machine.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

L4T_RELEASE_FILE = "/etc/nv_tegra_release"

# L4T release -> JetPack release, for the releases this toolkit targets (NVIDIA's JetPack archive).
JETPACK_BY_L4T = {
    "36.4.4": "6.2.1",
    "36.4.3": "6.2",
    "36.4.0": "6.1",
    "36.3.0": "6.0",
    "36.2.0": "6.0 DP",
    "35.6.0": "5.1.4",
    "35.5.0": "5.1.3",
    "35.4.1": "5.1.2",
    "35.3.1": "5.1.1",
}


@dataclass(frozen=True)
class L4TRelease:
    major: int
    minor: int
    patch: int
    board: str | None = None

    @property
    def version(self) -> str:
        """'36.4.3'"""
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def tag(self) -> str:
        """'R36.4.3', as engine manifests record it."""
        return f"R{self.version}"

    @property
    def jetpack(self) -> str | None:
        return JETPACK_BY_L4T.get(self.version)


def parse_nv_tegra_release(text: str) -> L4TRelease | None:
    """`/etc/nv_tegra_release`: "# R36 (release), REVISION: 4.3, GCID: ..., BOARD: generic, ..."."""
    match = re.search(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    board = re.search(r"BOARD:\s*([\w.-]+)", text)
    return L4TRelease(int(match[1]), int(match[2]), int(match[3] or 0), board[1] if board else None)


def read_l4t_release(path: str | os.PathLike[str] = L4T_RELEASE_FILE) -> L4TRelease | None:
    """The Jetson Linux release of this machine; None off a Jetson (no such file) or when unreadable."""
    try:
        return parse_nv_tegra_release(Path(path).read_text(errors="replace"))
    except OSError:
        return None


@dataclass(frozen=True)
class OpenCvBuild:
    """What `cv2.getBuildInformation()` says about video I/O and windows: the text after each key, e.g.
    "YES (1.20.3)" or "NO"; None where the line is absent."""

    gstreamer: str | None
    v4l2: str | None
    ffmpeg: str | None
    gui: str | None = None  # "GTK3", "QT5", "NONE" (opencv-python-headless)

    @staticmethod
    def _yes(value: str | None) -> bool:
        return bool(value and value.upper().startswith("YES"))

    @property
    def has_gstreamer(self) -> bool:
        return self._yes(self.gstreamer)

    @property
    def has_v4l2(self) -> bool:
        return self._yes(self.v4l2)

    @property
    def has_ffmpeg(self) -> bool:
        return self._yes(self.ffmpeg)

    @property
    def has_gui(self) -> bool:
        """Whether this OpenCV can open windows (the headless wheels say GUI: NONE)."""
        return self.gui is not None and self.gui.strip().upper() not in ("NONE", "NO")


def _build_line(text: str, key: str) -> str | None:
    match = re.search(rf"^\s*{key}:[ \t]*(\S.*?)\s*$", text, re.MULTILINE | re.IGNORECASE)
    return match[1] if match else None


def parse_opencv_build(text: str) -> OpenCvBuild:
    """The "Video I/O" and "GUI" lines of `cv2.getBuildInformation()`."""
    return OpenCvBuild(gstreamer=_build_line(text, "GStreamer"), v4l2=_build_line(text, "v4l/v4l2"),
                       ffmpeg=_build_line(text, "FFMPEG"), gui=_build_line(text, "GUI"))


@functools.cache
def opencv_build() -> OpenCvBuild:
    """This process's OpenCV build (parsed once)."""
    import cv2

    return parse_opencv_build(cv2.getBuildInformation())
