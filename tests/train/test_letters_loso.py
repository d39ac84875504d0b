"""tools/letters_loso.py: its spelled table (a still J/Z end pose is not scored), its folds (on made-up landmarks:
no hand stage) and its bad input, refused before the hand stage starts and leaving no --out behind."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from asl_edge.train.landmarks import LandmarkSet

TOOL = Path(__file__).resolve().parents[2] / "tools" / "letters_loso.py"


@pytest.fixture(scope="module")
def loso() -> ModuleType:
    spec = importlib.util.spec_from_file_location("letters_loso", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clip(file: str, truth: str, spelled: str | None, motion: str = "") -> dict[str, object]:
    return {"file": file, "truth": truth, "spelled": spelled, "motion": motion}


def test_spelled_table_counts_spelled_and_only_and_leaves_still_end_poses_out(loso: ModuleType) -> None:
    spelled = {
        "s1": [clip("A_s1.mp4", "A", "A"), clip("N_s1.mp4", "N", "MNM"),
               clip("J_s1.mp4", "J", "", "held end pose only")],
        "s4": [clip("J_s4.mp4", "J", "J", "yes"), clip("M_s4.mp4", "M", "E"), clip("Z_s4.mp4", "Z", None, "yes")],
    }
    table = loso.spelling_markdown(spelled)
    assert "| s1 | 2 | 2 (100%) | 1 (50%) | 1 |" in table  # N inside MNM is spelled, not only it; the still J is out
    assert "| s4 | 3 | 1 (33%) | 1 (33%) | 0 |" in table  # a drawn J and Z are scored; an undecodable clip is wrong
    assert "| all | 5 | 3 (60%) | 2 (40%) | 1 |" in table
    assert "| N | 1 | 1 | 0 |" in table and "| J | 1 | 1 | 1 |" in table
    assert "N_s1.mp4 N->MNM" in table and "Z_s4.mp4 Z->(nothing)" in table and "J_s1.mp4" not in table


def test_an_unknown_signer_or_a_folder_without_labels_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "A_x.mp4").write_bytes(b"")
    (tmp_path / "labels.csv").write_text("file,letter,signer\nA_x.mp4,A,x\n")
    for args in (["--video", str(tmp_path), "--signers", "nobody"], ["--video", str(tmp_path / "none")]):
        result = subprocess.run([sys.executable, str(TOOL), *args, "--out", str(tmp_path / "run")], check=False,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.fixture
def letters(tmp_path: Path) -> Path:
    """A video folder of two signers' clips (empty files: every test here stops before the hand stage reads one)."""
    folder = tmp_path / "letters"
    folder.mkdir()
    rows = ["file,letter,signer,motion"]
    for signer in ("s1", "s2"):
        for letter in "AB":
            (folder / f"{letter}_{signer}.mp4").write_bytes(b"")
            rows.append(f"{letter}_{signer}.mp4,{letter},{signer},")
    (folder / "J_s1.mp4").write_bytes(b"")
    (folder / "labels.csv").write_text("\n".join([*rows, "J_s1.mp4,J,s1,yes"]) + "\n")
    return folder


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    for letter in "AB":
        (folder / letter).mkdir(parents=True)
        (folder / letter / "1.jpg").write_bytes(b"")
    return folder


@pytest.fixture
def no_extraction(loso: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def extract(*_: object) -> None:
        raise AssertionError("the hand stage started before the arguments were checked")

    monkeypatch.setattr(loso, "load_landmark_sets", extract)
    monkeypatch.setattr(loso, "load_video_letters", extract)


@pytest.mark.usefixtures("no_extraction")
@pytest.mark.parametrize(("args", "message"), [
    (["--epochs", "0"], "--epochs 0: train at least 1 epoch"),
    (["--epochs=-3"], "--epochs -3"),
    (["--video-weight=-1"], "--video-weight -1 is negative"),
    (["--video-weight", "nan"], "--video-weight nan is not a finite number"),
    (["--photo-weight", "1"], "1 --photo-weight for 0 --photos"),
    (["--photos", "PHOTOS", "--photo-weight", "1", "--photo-weight", "2"], "2 --photo-weight for 1 --photos"),
    (["--photos", "PHOTOS", "--photo-weight", "-2"], "--photo-weight -2 is negative"),
    (["--photos", "PHOTOS", "--photo-weight", "inf"], "--photo-weight inf is not a finite number"),
    (["--video-weight", "0"], "leave nothing to train on"),
    (["--photos", "PHOTOS", "--photo-weight", "0", "--video-weight", "0"], "leave nothing to train on"),
    (["--photos", "MISSING"], "does not exist"),
])
def test_bad_arguments_are_refused_before_the_hand_stage(loso: ModuleType, letters: Path, photos: Path,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         args: list[str], message: str) -> None:
    paths = {"PHOTOS": str(photos), "MISSING": str(tmp_path / "missing")}
    argv = ["--video", str(letters), *(paths.get(a, a) for a in args), "--out", str(tmp_path / "run")]
    assert loso.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.usefixtures("no_extraction")
@pytest.mark.parametrize(("photo_args", "message"), [
    ([], "holding out signer s2 leaves 1 clip(s) of other signers (A) and no --photos to train on"),
    (["--photos", "PHOTOS", "--photo-weight", "0"], "(A) and --photos weighted 0 to train on"),
])
def test_a_fold_with_fewer_than_two_letters_to_learn_is_refused_before_the_hand_stage(
        loso: ModuleType, letters: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        photo_args: list[str], message: str) -> None:
    (letters / "labels.csv").write_text("file,letter,signer\nA_s1.mp4,A,s1\nA_s2.mp4,A,s2\nB_s2.mp4,B,s2\n")
    argv = ["--video", str(letters), *(str(photos) if a == "PHOTOS" else a for a in photo_args)]
    assert loso.main([*argv, "--out", str(tmp_path / "run")]) == 2
    lines = capsys.readouterr().err.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0] and "pass --photos" in errors[0], lines
    # the folder's clips labels.csv now leaves out are named, not dropped unseen
    assert [line for line in lines if line not in errors] == [line for line in lines if line.startswith("note: ")]
    with pytest.raises(AssertionError, match="hand stage started"):  # s1's fold learns A and B from s2: it passes
        loso.main([*argv, "--signers", "s1", "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


@pytest.mark.usefixtures("no_extraction")
def test_out_must_be_a_folder_outside_the_data(loso: ModuleType, letters: Path, photos: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "outfile").write_text("mine")
    for out, message in [(tmp_path / "outfile", "is a file"), (tmp_path / "outfile" / "run", "is a file"),
                         (letters / "run", "inside the dataset"), (photos / "run", "inside the dataset")]:
        assert loso.main(["--video", str(letters), "--photos", str(photos), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert (tmp_path / "outfile").read_text() == "mine" and not (letters / "run").exists()


def test_a_user_sees_one_line_at_once_and_no_out_folder(tmp_path: Path) -> None:
    """Run as a user runs it: a two-clip folder without signers, and --epochs 0, each refused in seconds."""
    plain = tmp_path / "lv_plain"
    plain.mkdir()
    for name in ("A.mp4", "B.mp4"):
        (plain / name).write_bytes(b"")
    (plain / "labels.csv").write_text("file,letter\nA.mp4,A\nB.mp4,B\n")
    for args, message in [([], "names no signer"), (["--epochs", "0"], "--epochs 0")]:
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(TOOL), "--video", str(plain), *args, "--out",
                                 str(tmp_path / "lo_plain")], check=False, capture_output=True, text=True, timeout=120)
        assert time.monotonic() - started < 30  # refused before any training (minutes), however busy the machine
        assert result.returncode == 2 and result.stderr.count("error:") == 1 and message in result.stderr, \
            result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "lo_plain").exists()


def frames(video: Path, per_clip: dict[str, int]) -> LandmarkSet:
    """What load_video_letters gives for the clips of `video` (file -> number of formed frames): random hands."""
    rng = np.random.default_rng(0)
    files = [f for f, n in per_clip.items() for _ in range(n)]
    classes = sorted({f[0] for f in per_clip})
    return LandmarkSet(rng.uniform(0, 200, (len(files), 21, 3)).astype(np.float32), np.ones(len(files), np.float32),
                       np.ones(len(files), bool), np.array([classes.index(f[0]) for f in files], np.int64), classes,
                       [f"{video / f}#{i}" for i, f in enumerate(files)])


def test_folds_train_and_score_each_signer(loso: ModuleType, letters: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    clips = {f"{letter}_{signer}.mp4": 8 for signer in ("s1", "s2") for letter in "AB"}
    monkeypatch.setattr(loso, "load_video_letters", lambda _: frames(letters, clips))
    assert loso.main(["--video", str(letters), "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    report = json.loads((tmp_path / "run" / "loso.json").read_text())
    assert sorted(report) == ["s1", "s2"] and report["s1"]["A"]["clips"] == 1 and report["s2"]["B"]["frames"] == 8
    assert (tmp_path / "run" / "s1" / "checkpoint.pt").is_file()


@pytest.mark.parametrize(("clips", "message"), [
    # what only the hand stage knows: s2's B clip has no formed frame, so s1's fold has one letter to learn
    ({"A_s1.mp4": 3, "B_s1.mp4": 3, "A_s2.mp4": 3, "B_s2.mp4": 0},
     "holding out signer s1 leaves frames with a hand of fewer than 2 letters"),
    ({"A_s1.mp4": 0, "B_s1.mp4": 0, "A_s2.mp4": 3, "B_s2.mp4": 3}, "no clip of signer s1 has a frame with a"),
    # one frame per letter: nothing left to validate on (train/landmarks.py's own refusal, naming the fold)
    ({"A_s1.mp4": 1, "B_s1.mp4": 1, "A_s2.mp4": 1, "B_s2.mp4": 1},
     "the fold holding out signer s1: too few samples"),
])
def test_a_fold_without_enough_frames_is_one_line_and_leaves_no_out(loso: ModuleType, letters: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    clips: dict[str, int], message: str) -> None:
    monkeypatch.setattr(loso, "load_video_letters", lambda _: frames(letters, clips))
    out = tmp_path / "new" / "run"
    assert loso.main(["--video", str(letters), "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "new").exists()


def test_a_fold_with_no_other_signers_frames_trains_on_the_photos_alone(loso: ModuleType, letters: Path,
                                                                        photos: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    clips = {"A_s1.mp4": 4, "B_s1.mp4": 4, "A_s2.mp4": 0, "B_s2.mp4": 0}
    photo_set = frames(photos, {"A/1.jpg": 6, "B/1.jpg": 6})
    monkeypatch.setattr(loso, "load_video_letters", lambda _: frames(letters, clips))
    monkeypatch.setattr(loso, "load_landmark_sets", lambda folders: [(folders[0], photo_set)])
    argv = ["--video", str(letters), "--photos", str(photos), "--signers", "s1", "--epochs", "1"]
    assert loso.main([*argv, "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    assert "trains on the photos alone" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "loso.json").read_text())["s1"]["A"]["frames"] == 4
