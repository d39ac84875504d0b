"""--flip: frames are mirrored at capture (files, folders, cameras; CSI cameras in nvvidconv), so a
mirrored clip spells its word with the fixed-box image model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.errors import SourceError
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.live.frames import FLIP_CODES, CaptureOptions
from asl_edge.runtime.live.pipeline import run_pipeline
from asl_edge.runtime.live.sources import CSI_FLIP_METHODS, csi_pipeline, parse_source
from tests.conftest import REPO
from tests.live.conftest import ClipMaker


def asymmetric_image() -> np.ndarray:
    image = np.zeros((48, 64, 3), np.uint8)
    image[:10, :20] = (255, 0, 0)  # a blue block top left
    return image


@pytest.mark.parametrize(("flip", "corner"), [("none", (0, 0)), ("horizontal", (0, 63)), ("vertical", (47, 0)),
                                              ("both", (47, 63))])
def test_files_and_folders_are_flipped_at_capture(tmp_path: Path, flip: str, corner: tuple[int, int]) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), asymmetric_image())
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    writer.write(asymmetric_image())
    writer.release()
    for uri in (folder, video):
        with parse_source(str(uri), CaptureOptions(flip=flip)) as source:
            frame = source.read()
        assert frame is not None
        assert frame.image[corner][0] > 200 and frame.image[corner][1:].max() < 60  # the blue block moved there


def test_csi_cameras_flip_in_nvvidconv() -> None:
    assert set(CSI_FLIP_METHODS) == set(FLIP_CODES)
    # nvvidconv flip-method: 0 none, 2 rotate 180 (= both), 4 horizontal flip, 6 vertical flip
    for method in CSI_FLIP_METHODS.values():
        assert f" ! nvvidconv flip-method={method} ! " in csi_pipeline(0, 1280, 720, 30, method)
    assert [CSI_FLIP_METHODS[n] for n in ("none", "horizontal", "vertical", "both")] == [0, 4, 6, 2]
    with pytest.raises(SourceError, match="unknown --flip 'sideways'; choose one of none, horizontal, vertical, both"):
        CaptureOptions(flip="sideways")


@pytest.mark.slow
def test_a_mirrored_clip_spells_its_word_with_flip_horizontal(default_model: Path, make_clip: ClipMaker) -> None:
    clip = make_clip("CAB", name="mirrored.mp4", mirror=True)  # a left hand, or a front camera's mirror image
    with load_backend(default_model, provider="cpu") as backend:
        flipped = run_pipeline(parse_source(clip.path, CaptureOptions(flip="horizontal")), backend)
        as_is = run_pipeline(parse_source(clip.path), backend)
    assert flipped.text == "CAB"
    assert as_is.text != "CAB"  # the image model was trained on right hands


@pytest.mark.slow
def test_run_flip_option(default_model: Path, make_clip: ClipMaker) -> None:
    clip = make_clip("CAB", name="mirrored.mp4", mirror=True)
    result = subprocess.run([sys.executable, "-m", "asl_edge", "run", "--source", clip.path, "--model",
                             str(default_model), "--hand", "off", "--no-window", "--flip", "horizontal"],
                            capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "flipped horizontal" in result.stdout and "spelled: 'CAB'" in result.stdout
