"""`asl-edge export` of a landmarks run: damaged feature files, options it has no use for and a missing
calib_features.npz are one error line each (the file, what is wrong, a fix that works), and nothing is written."""

from __future__ import annotations

import shlex
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from asl_edge.apps.cli import main
from asl_edge.train.landmarks import CALIB_FEATURES, VAL_FEATURES

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

RUN_FILES = ("checkpoint.pt", "metrics.json", VAL_FEATURES, CALIB_FEATURES)


@pytest.fixture
def run(landmark_run: Path, tmp_path: Path) -> Path:
    """A copy of the trained run folder, for a test to damage."""
    folder = tmp_path / "run"
    folder.mkdir()
    for name in RUN_FILES:
        shutil.copy(landmark_run / name, folder / name)
    return folder


def listing(folder: Path) -> list[str]:
    """Every name in `folder`, hidden ones (staging folders, locks) included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith("asl-edge export: error: "), err
    return err


def save(path: Path, **arrays: np.ndarray) -> None:
    with path.open("wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def without_features(path: Path) -> None:
    save(path, feats=np.zeros((2, 111), np.float32), labels=np.zeros(2, np.int64))


def label_outside_the_classes(path: Path) -> None:
    save(path, features=np.zeros((1, 111), np.float32), labels=np.array([7]))


def no_rows(path: Path) -> None:
    save(path, features=np.zeros((0, 111), np.float32), labels=np.zeros(0, np.int64))


def nan_features(path: Path) -> None:
    features = np.zeros((3, 111), np.float32)
    features[1, 5] = np.nan
    save(path, features=features, labels=np.zeros(3, np.int64))


def other_feature_count(path: Path) -> None:
    save(path, features=np.zeros((3, 50), np.float32), labels=np.zeros(3, np.int64))


def fractional_labels(path: Path) -> None:
    save(path, features=np.zeros((2, 111), np.float32), labels=np.array([0.5, 1.0]))


def labels_for_other_rows(path: Path) -> None:
    save(path, features=np.zeros((3, 111), np.float32), labels=np.zeros(2, np.int64))


def a_npy_array(path: Path) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.zeros((3, 111), np.float32))


def a_corrupt_member(path: Path) -> None:
    """A zip whose directory reads but whose 'features' member fails its CRC check."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("features.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    data[start] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGES: list[tuple[str, Callable[[Path], None], str]] = [
    (VAL_FEATURES, truncated, "is not an .npz archive"),
    (VAL_FEATURES, without_features, "holds no 'features' array (it holds: feats, labels)"),
    (VAL_FEATURES, label_outside_the_classes, "holds labels outside the model's 3 classes (0 to 2): 7"),
    (VAL_FEATURES, no_rows, "holds no feature vectors (0 rows)"),
    (VAL_FEATURES, nan_features, "holds NaN or infinite values in 1 of its 3 feature vectors"),
    (VAL_FEATURES, other_feature_count, "holds features of shape (3, 50) (float32), not the model's (N, 111)"),
    (VAL_FEATURES, fractional_labels, "holds labels of type float64, not integer class indices"),
    (VAL_FEATURES, labels_for_other_rows, "holds labels of shape (2,) for 3 feature vectors"),
    (VAL_FEATURES, a_npy_array, "is not an .npz archive"),
    (VAL_FEATURES, a_corrupt_member, "cannot be read as an .npz archive (BadZipFile"),
    (CALIB_FEATURES, truncated, "is not an .npz archive"),
    (CALIB_FEATURES, no_rows, "holds no feature vectors (0 rows)"),
    (CALIB_FEATURES, nan_features, "holds NaN or infinite values"),
    (CALIB_FEATURES, label_outside_the_classes, "holds labels outside the model's 3 classes"),
]


@pytest.mark.parametrize(("name", "damage", "problem"), DAMAGES,
                         ids=[f"{name.split('_')[0]}-{damage.__name__}" for name, damage, _ in DAMAGES])
def test_a_damaged_feature_file_is_one_error_naming_it_and_the_fix(
        run: Path, name: str, damage: Callable[[Path], None], problem: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    damage(run / name)
    before = listing(run)
    err = one_error_line(["export", str(run), "--precision", "all"], capsys)
    assert f"{run / name} (" in err and problem in err, err
    assert f"retrain the run into a new folder with the command that made it: `asl-edge train --input landmarks " \
           f"--data mini --epochs 3 --out {run}-retrained`" in err, err
    # INT8 is what calib_features.npz is for: exporting without it is a second way out.
    assert ("or leave int8 out of --precision (e.g. --precision fp32,fp16)" in err) == (name == CALIB_FEATURES)
    assert listing(run) == before  # no ONNX file, no report, no staging folder, no lock


def test_a_damaged_calibration_file_does_not_stop_an_export_without_int8(
        run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The fix the calib_features.npz errors offer besides retraining."""
    truncated(run / CALIB_FEATURES)
    assert main(["export", str(run), "--precision", "fp32,fp16"]) == 0
    assert {"model.onnx", "model.fp16.onnx"} <= set(listing(run)) and "model.int8.onnx" not in listing(run)


@pytest.mark.parametrize(("options", "named"), [
    (["--data", "{dataset}"], "--data does not apply"),
    (["--data", "{missing}"], "--data does not apply"),  # not "does not exist": it is not used at all
    (["--val", "{dataset}"], "--val does not apply"),
    (["--val-fraction", "1.5"], "--val-fraction does not apply"),
    (["--seed", "7"], "--seed does not apply"),
    (["--data", "{missing}", "--val-fraction", "1.5", "--seed", "7"], "--data, --val-fraction and --seed do not apply"),
    (["--precision", "int8", "--calib-images", "1"], "--calib-images does not apply"),
    (["--precision", "int8", "--calib-images", "100000"], "--calib-images does not apply"),
    (["--precision", "all", "--calib-images", "580"], "--calib-images does not apply"),  # the default, but given
])
def test_options_a_landmarks_run_has_no_use_for_are_refused(
        run: Path, tmp_path: Path, options: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "photos"
    (dataset / "A").mkdir(parents=True)
    argv = [o.format(dataset=dataset, missing=tmp_path / "nothere") for o in options]
    before = listing(run)
    err = one_error_line(["export", str(run), *argv], capsys)
    assert f"{named} to a landmarks run, which the export scores on the held-out feature vectors its training " \
           f"recorded ({run / VAL_FEATURES})" in err, err
    assert err.endswith("; leave them out" if " do not " in named else "; leave it out"), err
    assert ("calibrates INT8" in err) == ("--calib-images" in options)
    assert listing(run) == before and listing(dataset) == ["A"]


def test_the_calibration_options_that_apply_to_a_landmarks_run_still_work(
        run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(run), "--precision", "int8", "--calib-method", "minmax", "--int8-reduce-range",
                 "--calib-percentile", "99.9"]) == 0
    assert "calibrating INT8 (minmax, " in capsys.readouterr().out
    assert (run / "model.int8.onnx").is_file()


@pytest.mark.parametrize("precision", ["int8", "fp16,int8", "fp32,int8"])
def test_int8_named_without_calibration_features_is_an_error(
        run: Path, precision: str, capsys: pytest.CaptureFixture[str]) -> None:
    (run / CALIB_FEATURES).unlink()
    before = listing(run)
    err = one_error_line(["export", str(run), "--precision", precision], capsys)
    assert f"{run / CALIB_FEATURES} (the training-split feature vectors INT8 is calibrated on) is missing; " \
           "retrain the run into a new folder" in err, err
    assert "before INT8 support" not in err  # what is missing, not a guess at why
    assert err.endswith("or leave int8 out of --precision (e.g. --precision fp32,fp16)"), err
    assert listing(run) == before
    # That way out works.
    assert main(["export", str(run), "--precision", "fp32,fp16"]) == 0
    assert (run / "model.fp16.onnx").is_file() and not (run / "model.int8.onnx").exists()


def test_all_without_calibration_features_skips_int8_with_a_note(
        run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run / CALIB_FEATURES).unlink()
    assert main(["export", str(run), "--precision", "all"]) == 0
    out = capsys.readouterr().out
    note = next(line for line in out.splitlines() if "skipping INT8" in line)
    assert f"{run / CALIB_FEATURES} is missing (the training-split feature vectors INT8 is calibrated on); " \
           "retrain the run into a new folder" in note and "before INT8 support" not in note
    assert {"model.onnx", "model.fp16.onnx"} <= set(listing(run)) and "model.int8.onnx" not in listing(run)


def test_the_retrain_command_of_the_message_makes_a_run_that_exports(
        tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The fix is not just text: the command the error names, run as it stands where the training ran, writes a
    run whose export succeeds (real photos, the real hand stage)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASL_EDGE_CACHE", str(tmp_path / "cache"))
    for letter in "ABC":
        (tmp_path / "photos" / letter).mkdir(parents=True)
        for photo in sorted((data_dir / letter).glob("*.jpg"))[:6]:
            shutil.copy(photo, tmp_path / "photos" / letter / photo.name)
    assert main(["train", "--input", "landmarks", "--data", "photos", "--out", "run", "--epochs", "2"]) == 0
    truncated(tmp_path / "run" / VAL_FEATURES)
    err = one_error_line(["export", "run", "--precision", "int8"], capsys)
    command = err.split("`")[1]
    assert command == "asl-edge train --input landmarks --data photos --epochs 2 --out run-retrained"
    assert "as training saw it" not in err  # from where training ran, the command works as it stands
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # from another folder, `--data photos` names nothing: said so
    moved = one_error_line(["export", "../run", "--precision", "int8"], capsys)
    assert "photos as training saw it: run the command from the folder training ran in" in moved
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(command)[1:]) == 0
    assert main(["export", "run-retrained", "--precision", "int8"]) == 0
    assert (tmp_path / "run-retrained" / "model.int8.onnx").is_file()
