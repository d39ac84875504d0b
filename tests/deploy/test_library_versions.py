"""The library versions a Jetson really has (issue 18): OpenCV 4.x beside 5.x, and the oldest lane's pins
(constraints-oldest.txt) kept equal to what pyproject.toml declares as the minimum."""

import os
import re
from importlib import metadata
from pathlib import Path

import cv2
import pytest

from asl_edge.apps.cli import OPENCV_LOG_LEVEL_ERROR, OPENCV_LOG_LEVEL_INFO, set_opencv_log_level

REPO = Path(__file__).resolve().parents[2]


def _opencv_log_level() -> int:
    logging_module = getattr(cv2.utils, "logging", None)  # 5.x; 4.x has cv2.getLogLevel only
    getter = logging_module.getLogLevel if logging_module is not None else getattr(cv2, "getLogLevel")  # noqa: B009
    return int(getter())


def test_opencv_log_level_is_set_on_this_opencv() -> None:
    """The call every command makes first: it crashed on every 4.x binding (cv2.utils.logging is 5.x only)."""
    before = _opencv_log_level()
    try:
        set_opencv_log_level(OPENCV_LOG_LEVEL_INFO)
        assert _opencv_log_level() == OPENCV_LOG_LEVEL_INFO
        set_opencv_log_level(OPENCV_LOG_LEVEL_ERROR)
        assert _opencv_log_level() == OPENCV_LOG_LEVEL_ERROR
    finally:
        set_opencv_log_level(before)


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def _declared_minimums() -> dict[str, str]:
    """name -> minimum of the installed asl-edge's requirements, the core ones and the `jetson` extra's."""
    minimums = {}
    for requirement in metadata.requires("asl-edge") or []:
        match = re.match(r"([A-Za-z0-9_.-]+)>=([0-9.]+)(?:;\s*extra\s*==\s*['\"](\w+)['\"])?$", requirement)
        if match and match.group(3) in (None, "jetson"):
            minimums[match.group(1).lower()] = match.group(2)
    return minimums


def test_declared_minimums_are_the_oldest_lanes_pins() -> None:
    """pyproject's minimums for what the runtime needs (core and `jetson`) are what the oldest lane tests."""
    pins = _pins(REPO / "constraints-oldest.txt")
    declared = _declared_minimums()
    for name in ("numpy", "opencv-python-headless", "onnxruntime"):
        # a wheel's fourth number (4.5.5.64) is its packaging build; the declared minimum names the release
        assert pins[name].startswith(declared[name]), f"{name}: declared >={declared[name]}, lane tests {pins[name]}"


@pytest.mark.skipif(os.environ.get("ASL_EDGE_LANE") != "oldest", reason="only in the oldest lane (make test-oldest)")
def test_oldest_lane_runs_its_pins_without_torch() -> None:
    """The lane tests what it says: its constraints' versions are the ones imported, and torch is absent."""
    for name, version in _pins(REPO / "constraints-oldest.txt").items():
        assert metadata.version(name) == version, name
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("torch")
