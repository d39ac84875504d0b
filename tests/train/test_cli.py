"""The real command line: `python -m asl_edge train/eval/augment`, and one-line errors for bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def asl_edge(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asl_edge", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout, check=False)


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and message in lines[0], lines[0]


def test_train_then_eval_with_shift_then_augment(tmp_path: Path, small_image_folder: Path) -> None:
    out = tmp_path / "run"
    result = asl_edge("train", "--data", small_image_folder, "--out", out, "--arch", "aslcnn", "--image-size", "28",
                      "--color", "gray", "--epochs", "1", "--batch-size", "16")
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stdout and (out / "checkpoint.pt").is_file()
    top1 = json.loads((out / "metrics.json").read_text())["top1"]

    plain = asl_edge("eval", out, "--data", small_image_folder, "--out", tmp_path / "eval")
    assert plain.returncode == 0, plain.stderr
    assert "[val (0.2 stratified, seed 0)]" in plain.stdout and "on 10 images" in plain.stdout
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["top1"] == pytest.approx(top1)

    shifted = asl_edge("eval", out / "checkpoint.pt", "--data", small_image_folder, "--shift", "heavy",
                       "--split", "val")
    assert shifted.returncode == 0, shifted.stderr
    assert "shift heavy (seed 0)" in shifted.stdout and "on 10 images" in shifted.stdout

    grid = tmp_path / "grid.png"
    made = asl_edge("augment", "--data", small_image_folder, "--preset", "heavy", "--rows", "2", "--columns", "3",
                    "--out", grid)
    assert made.returncode == 0, made.stderr
    assert grid.read_bytes()[:4] == b"\x89PNG"


def _bad_csv(tmp_path: Path, row: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text("label," + ",".join(f"pixel{i}" for i in range(1, 785)) + "\n" + row + "\n")
    return path


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "does not exist"),
    ("columns", "wrong column count"),
    ("label", "label 25 out of range"),
    ("empty-class", "holds no images"),
    ("option", "invalid training option epochs"),
])
def test_bad_input_is_one_line_error(case: str, message: str, tmp_path: Path, small_image_folder: Path) -> None:
    data: Path = tmp_path / "missing"
    extra: list[str] = []
    if case == "columns":
        data = _bad_csv(tmp_path, "1," + ",".join(["0"] * 700))
    elif case == "label":
        data = _bad_csv(tmp_path, "25," + ",".join(["0"] * 784))
    elif case == "empty-class":
        data = tmp_path / "data"
        shutil.copytree(small_image_folder, data)
        (data / "Q").mkdir()
    elif case == "option":
        data, extra = small_image_folder, ["--epochs", "0"]
    result = asl_edge("train", "--data", data, "--out", tmp_path / "run", *extra)
    assert_one_line_error(result, message)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.parametrize("weights", [["nan", "1"], ["0", "0"]])
def test_landmark_training_refuses_bad_dataset_weights_before_reading_a_photo(
        weights: list[str], tmp_path: Path, small_image_folder: Path) -> None:
    cache = tmp_path / "cache"
    result = asl_edge("train", "--input", "landmarks", "--data", small_image_folder, "--data", small_image_folder,
                      *[arg for w in weights for arg in ("--dataset-weight", w)], "--landmark-cache", cache,
                      "--out", tmp_path / "run")
    assert_one_line_error(result, "not a finite number" if "nan" in weights else "every --dataset-weight is 0")
    assert not cache.exists()  # refused before the hand stage extracted (and cached) anything


@pytest.mark.parametrize(("extra", "message"), [
    (["--lr", "nan"], "invalid training option lr: nan must be a positive number"),
    (["--lr", "inf"], "invalid training option lr: inf must be a positive number"),
    (["--weight-decay", "nan"], "invalid training option weight_decay: nan must be a number >= 0"),
    (["--label-smoothing", "nan"], "invalid training option label_smoothing: nan must be in [0, 1)"),
])
@pytest.mark.parametrize("kind", ["image", "landmarks"])
def test_training_options_that_are_not_numbers_are_refused(kind: str, extra: list[str], message: str, tmp_path: Path,
                                                           small_image_folder: Path) -> None:
    """NaN and infinity fail every range check written as `not low <= x < high` (they had trained NaN models with
    exit 0, or ended in the optimizer's traceback); refused before a photo is read."""
    cache = tmp_path / "cache"
    result = asl_edge("train", "--input", kind, "--data", small_image_folder, "--landmark-cache", cache,
                      "--out", tmp_path / "run", "--epochs", "1", *extra)
    assert_one_line_error(result, message)
    assert not cache.exists() and not (tmp_path / "run" / "checkpoint.pt").exists()


def test_the_help_shows_the_landmark_recipe_it_trains_with() -> None:
    """--help stays torch-free, so train.py keeps its own copy of LandmarkTrainConfig's defaults."""
    from asl_edge.apps.commands.train import LANDMARK_BATCH, LANDMARK_EPOCHS, LANDMARK_WEIGHT_DECAY
    from asl_edge.train.landmarks import LandmarkTrainConfig

    config = LandmarkTrainConfig()
    recipe = (config.epochs, config.batch_size, config.weight_decay)
    assert recipe == (LANDMARK_EPOCHS, LANDMARK_BATCH, LANDMARK_WEIGHT_DECAY)


def test_unreadable_image_warns_once_and_trains(tmp_path: Path, small_image_folder: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(small_image_folder, data)
    (data / "A" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (data / "A" / "gone.jpg").symlink_to(tmp_path / "moved-away.jpg")  # a dangling link: unreadable, not unseen
    result = asl_edge("train", "--data", data, "--out", tmp_path / "run", "--image-size", "28", "--color", "gray",
                      "--epochs", "1", "--batch-size", "16")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "broken.jpg" in warnings[0] and "gone.jpg" in warnings[0]


def test_eval_of_missing_checkpoint_is_one_line_error(tmp_path: Path, small_image_folder: Path) -> None:
    assert_one_line_error(asl_edge("eval", tmp_path / "none.pt", "--data", small_image_folder), "does not exist")
