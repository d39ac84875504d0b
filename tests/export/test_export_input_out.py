"""`asl-edge export --out` inside a dataset it knows (its --data, --val, or what the checkpoint records it was
trained on) is refused before anything is written there: the next training would read it back."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from asl_edge.apps.cli import main
from asl_edge.train.checkpoint import load_checkpoint, save_checkpoint
from asl_edge.train.landmarks import CALIB_FEATURES, VAL_FEATURES

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def tree(folder: Path) -> list[str]:
    """Every path under `folder`, hidden ones (locks, staging folders) included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and err.startswith("asl-edge export: error: "), err
    return err


def copy_dataset(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize("inside", ["", "A", "new"])
def test_out_inside_the_recorded_training_data_of_an_image_run_is_refused(
        trained_checkpoint: Path, small_image_folder: Path, inside: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The checkpoint records small_image_folder; without --data the export uses (and must not write into) it."""
    before = tree(small_image_folder)
    out = small_image_folder / inside if inside else small_image_folder
    err = refused(["export", str(trained_checkpoint), "--out", str(out)], capsys)
    assert f"--out {out} is inside the dataset {small_image_folder} (the checkpoint's training data): what is " \
           "written there would be read back as photos or classes by the next run; name a path outside it, e.g. " \
           f"--out {trained_checkpoint.parent}" in err, err
    assert tree(small_image_folder) == before


def test_out_inside_the_data_given_is_refused(trained_checkpoint: Path, small_image_folder: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = copy_dataset(small_image_folder, tmp_path / "photos")
    before = tree(data)
    err = refused(["export", str(trained_checkpoint), "--data", str(data), "--out", str(data / "L")], capsys)
    assert f"--out {data / 'L'} is inside the dataset {data} (--data)" in err, err
    assert tree(data) == before


def test_the_suggested_out_works(trained_checkpoint: Path, small_image_folder: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The run folder the message suggests is outside the datasets: exporting there succeeds (into a copy of the
    run, so the shared one stays as it is)."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(trained_checkpoint, run / "checkpoint.pt")
    err = refused(["export", str(run), "--out", str(small_image_folder / "A")], capsys)
    suggested = err.rsplit("--out ", 1)[1]
    assert suggested == str(run)
    assert main(["export", str(run), "--out", suggested]) == 0
    assert (run / "model.onnx").is_file()


def landmark_run_recording(landmark_run: Path, folder: Path, dataset: Path) -> Path:
    """A copy of the landmarks run whose checkpoint records `dataset` as its training data."""
    folder.mkdir()
    for name in ("metrics.json", VAL_FEATURES, CALIB_FEATURES):
        shutil.copy(landmark_run / name, folder / name)
    loaded = load_checkpoint(landmark_run / "checkpoint.pt")
    trained_on = {**loaded.spec.trained_on, "datasets": [str(dataset)], "dataset": str(dataset)}
    save_checkpoint(folder / "checkpoint.pt", loaded.model, replace(loaded.spec, trained_on=trained_on))
    return folder


def test_out_inside_the_recorded_training_data_of_a_landmarks_run_is_refused(
        landmark_run: Path, small_image_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = copy_dataset(small_image_folder, tmp_path / "photos")
    run = landmark_run_recording(landmark_run, tmp_path / "run", data)
    before = tree(data)
    err = refused(["export", str(run), "--precision", "all", "--out", str(data / "B")], capsys)
    assert f"--out {data / 'B'} is inside the dataset {data} (the checkpoint's training data)" in err, err
    assert tree(data) == before


def test_a_recorded_dataset_that_is_gone_is_not_checked(
        landmark_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gone = tmp_path / "moved-away"
    run = landmark_run_recording(landmark_run, tmp_path / "run", gone)
    out = gone / "exports"  # inside where the dataset was: nothing is there to spoil
    assert main(["export", str(run), "--out", str(out)]) == 0
    assert (out / "model.onnx").is_file()
