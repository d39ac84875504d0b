"""Photo folders as they come from phones, zips and copies: every command that reads photos reads the same ones.

A folder of real photos gets what real folders hold: a file name that is not valid UTF-8 (a Latin-1 zip),
an empty file, a text file named .jpg, a broken link, a link loop, macOS's ._NAME metadata files and
__MACOSX folder, a .gif. `train --input landmarks`, `eval` of the landmark chain and `run --source` each
read the good photos, skip the unreadable ones with a warning naming them, and neither crash nor treat the
metadata as classes or photos.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.datasets import folder_images, read_image
from tests.conftest import REPO

LANDMARK_MODEL = REPO / "asl_edge" / "assets" / "asl_landmarks.onnx"
# Training needs torch, which the oldest lane (like a Jetson runtime) has none of; reading photos does not.
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="training needs torch (this lane has none, like a Jetson runtime)")
LATIN1_NAME = b"caf\xe9.jpg"  # "café.jpg" as a Latin-1 zip stores it: not valid UTF-8


def asl_edge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asl_edge", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "ASL_EDGE_PROGRESS": "plain"}, check=False)


def copy_photos(data_dir: Path, target: Path, letter: str, count: int) -> list[Path]:
    target.mkdir(parents=True)
    photos = []
    for photo in sorted((data_dir / letter).glob("*.jpg"))[:count]:
        photos.append(target / photo.name)
        shutil.copy(photo, photos[-1])
    return photos


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """Classes A, B, L of 4 real photos each, plus the odd files of the module docstring."""
    root = tmp_path_factory.mktemp("odd") / "photos"
    for letter in "ABL":
        copy_photos(data_dir, root / letter, letter, 4)
    a = root / "A"
    os.rename(os.fsencode(a / sorted(os.listdir(a))[0]), os.fsencode(a) + b"/" + LATIN1_NAME)
    (a / "empty.jpg").write_bytes(b"")
    (a / "notes.jpg").write_text("not a photo")
    (a / "broken.jpg").symlink_to(root / "nowhere.jpg")
    (a / "loop.jpg").symlink_to(a / "loop.jpg")
    shutil.copy(root / "B" / sorted(os.listdir(root / "B"))[0], a / "._photo.jpg")  # metadata, not a photo
    (a / "animation.gif").write_bytes(b"GIF89a")
    (root / "__MACOSX" / "A").mkdir(parents=True)
    (root / "__MACOSX" / "A" / "._x.jpg").write_bytes(b"\x00\x05\x16\x07")
    return root


UNREADABLE = ("empty.jpg", "notes.jpg", "broken.jpg", "loop.jpg")


def test_read_image_reads_a_latin1_name_and_turns_every_unreadable_file_into_none(odd_folder: Path) -> None:
    a = odd_folder / "A"
    photo = read_image(os.fsdecode(os.fsencode(a) + b"/" + LATIN1_NAME))
    assert photo is not None and photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
    for name in UNREADABLE:
        assert read_image(a / name) is None, name
    assert read_image(a) is None  # a folder
    listed = {p.name for p in folder_images(a)}
    assert "._photo.jpg" not in listed and "animation.gif" not in listed
    assert set(UNREADABLE) <= listed  # kept, so the readers' warnings name them


def test_read_image_gray_and_alpha_photos_come_back_bgr(tmp_path: Path, data_dir: Path) -> None:
    photo = read_image(sorted((data_dir / "A").glob("*.jpg"))[0])
    assert photo is not None
    cv2.imwrite(str(tmp_path / "gray.png"), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "alpha.png"), cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA))
    for name in ("gray.png", "alpha.png"):
        image = read_image(tmp_path / name)
        assert image is not None and image.shape == photo.shape, name


def test_eval_of_the_landmark_chain_skips_unreadable_photos_like_every_reader(odd_folder: Path,
                                                                               tmp_path: Path) -> None:
    result = asl_edge("eval", str(LANDMARK_MODEL), "--data", str(odd_folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "error:" not in result.stderr
    warning = next(line for line in result.stderr.splitlines() if "unreadable image" in line)
    assert "skipped 4 unreadable image(s)" in warning
    assert all(name in warning for name in UNREADABLE) and "caf" not in warning
    assert "animation.gif" in result.stderr  # a format it does not read is named, not skipped unseen
    assert "__MACOSX" not in result.stdout
    assert "on 12 photos" in result.stdout  # the Latin-1 named photo is read; the macOS metadata is not


@needs_torch
def test_landmark_training_reads_the_same_photos_and_names_the_skipped_ones(odd_folder: Path,
                                                                            tmp_path: Path) -> None:
    result = asl_edge("train", "--input", "landmarks", "--data", str(odd_folder), "--out", str(tmp_path / "run"),
                      "--epochs", "1", "--landmark-cache", str(tmp_path / "cache"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warning = next(line for line in result.stderr.splitlines() if "unreadable image" in line)
    assert all(f"A/{name}" in warning for name in UNREADABLE)  # with the class folder: A/x.jpg, not x.jpg
    assert "16 samples" in result.stdout  # 12 photos + the 4 unreadable files; no ._ file, no __MACOSX class
    assert '"__MACOSX"' not in (tmp_path / "run" / "metrics.json").read_text()
    again = asl_edge("train", "--input", "landmarks", "--data", str(odd_folder), "--out", str(tmp_path / "run2"),
                     "--epochs", "1", "--landmark-cache", str(tmp_path / "cache"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "photos in" in result.stderr and "photos in" not in again.stderr  # read from the cache ...
    assert warning in again.stderr.splitlines()  # ... which still names the files it skipped


@needs_torch
def test_landmark_training_refuses_a_letter_with_no_hand_found(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "photos"
    for letter in "AB":
        copy_photos(data_dir, root / letter, letter, 4)
    (root / "C").mkdir()
    for index in range(4):
        cv2.imwrite(str(root / "C" / f"wall{index}.jpg"), np.full((200, 200, 3), 128, np.uint8))
    result = asl_edge("train", "--input", "landmarks", "--data", str(root), "--out", str(tmp_path / "run"),
                      "--epochs", "1", "--landmark-cache", str(tmp_path / "cache"), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "no sample of C has a hand" in errors[0] and "whole hand is in view" in errors[0]
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_run_on_a_folder_skips_an_empty_photo(odd_folder: Path, tmp_path: Path) -> None:
    result = asl_edge("run", "--source", str(odd_folder / "A"), "--no-window", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "warning: skipped unreadable image" in result.stderr and "empty.jpg" in result.stderr
    assert "4 frames" in result.stdout  # three copied photos and the Latin-1 named one


def test_run_on_a_folder_of_class_folders_names_one_to_pass(odd_folder: Path, tmp_path: Path) -> None:
    result = asl_edge("run", "--source", str(odd_folder), "--no-window", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "holds folders of images" in errors[0]
    assert f"--source {odd_folder / 'A'}" in errors[0]


def test_run_on_a_folder_of_only_unreadable_files_is_an_error_before_the_model_loads(odd_folder: Path,
                                                                                     tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in UNREADABLE[:2]:
        shutil.copy(odd_folder / "A" / name, broken / name)
    (broken / "clip.gif").write_bytes(b"GIF89a")
    result = asl_edge("run", "--source", str(broken), "--no-window", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "model:" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "none of its 2 image file(s) can be read (empty.jpg, notes.jpg" in errors[0]
    assert "clip.gif" in result.stderr  # named as a format not read


def test_eval_of_the_landmark_chain_refuses_a_letter_none_of_whose_photos_open(odd_folder: Path,
                                                                                tmp_path: Path) -> None:
    data = tmp_path / "photos"
    shutil.copytree(odd_folder / "B", data / "B")
    shutil.copytree(odd_folder / "L", data / "L")
    (data / "C").mkdir()
    shutil.copy(odd_folder / "A" / "notes.jpg", data / "C" / "notes.jpg")
    result = asl_edge("eval", str(LANDMARK_MODEL), "--data", str(data), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "no photo of C can be read" in errors[0]
