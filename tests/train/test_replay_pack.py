"""Replay packs (issue 14 on the Jetson): `asl-edge train --init-from MODEL --write-replay PACK.npz` packs the start
model's training landmarks and split; personalising with `--replay-data PACK.npz` replays exactly what the photo
folders replay, without the photos or the hand models. The replay data is asl-letters-multi (real photos through the
real hand stage, its landmark cache warm after the first run); the person's samples are real hands from it too."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from asl_edge.apps.cli import main
from asl_edge.artifacts import sha256_file
from asl_edge.runtime.hand.collected import LANDMARKS_FILE
from tests.conftest import REPO

MULTI = REPO.parent / "shared" / "data" / "asl-letters-multi"
BUNDLED = REPO / "asl_edge" / "assets" / "asl_landmarks.onnx"


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not MULTI.is_dir():
        pytest.skip(f"{MULTI} is needed (the replay data)")
    path = tmp_path_factory.mktemp("pack") / "multi.npz"
    assert main(["train", "--init-from", str(BUNDLED), "--replay-data", str(MULTI), "--write-replay", str(path)]) == 0
    return path


def test_pack_stacks_exactly_what_the_folders_stack(pack: Path) -> None:
    from asl_edge.train.landmarks import load_landmark_sets, stack_landmark_sets
    from asl_edge.train.replay_pack import read_replay_pack

    folders = load_landmark_sets([str(MULTI)])
    packed, split, meta = read_replay_pack(pack)
    assert [name for name, _ in packed] == [str(MULTI)] and (split.val_fraction, split.seed) == (0.2, 0)
    assert meta["start_sha256"] == sha256_file(BUNDLED) and meta["sources"][0]["photos"] == len(folders[0][1].labels)
    classes = list(folders[0][1].classes)
    a = stack_landmark_sets(folders, classes, [1.0], 0.2, 0, progress=lambda _: None)
    b = stack_landmark_sets(packed, classes, [1.0], 0.2, 0, progress=lambda _: None)
    for field in ("landmarks", "handedness", "labels", "weights", "dataset", "held_out"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert a.held_out.sum() > 100 and (~a.held_out).sum() > 400  # both parts are really there
    # Small enough to copy with the model: ~0.15 MB for 720 photos.
    assert pack.stat().st_size < 400_000


def _signs(folder: Path) -> Path:
    """A collect folder of real hands: 4 samples each of 5 letters from asl-letters-multi's photos."""
    from asl_edge.train.landmarks import load_landmark_sets

    ds = load_landmark_sets([str(MULTI)])[0][1]
    rows = [i for letter in "INTUV" for i in np.flatnonzero((ds.labels == ds.classes.index(letter)) & ds.found)[:4]]
    folder.mkdir()
    labels = np.array([ds.classes[ds.labels[i]] for i in rows])
    np.savez(folder / LANDMARKS_FILE, landmarks=ds.landmarks[rows], handedness=ds.handedness[rows], labels=labels,
             ids=np.array([f"{label}-{n}" for n, label in enumerate(labels)]),
             frame_size=np.full((len(rows), 2), 400, np.int32))
    return folder


def test_personalising_from_the_pack_matches_the_folders_without_photos_or_hand_models(
        pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signs = _signs(tmp_path / "signs")
    tiny = ["--data", str(signs), "--epochs", "2", "--export", "none"]
    assert main(["train", "--init-from", str(BUNDLED), "--replay-data", str(MULTI), "--out", str(tmp_path / "a"),
                 *tiny]) == 0
    # The pack run cannot reach the hand stage (its import fails) nor decode a photo.
    monkeypatch.setitem(sys.modules, "asl_edge.runtime.hand.extract", None)
    monkeypatch.setattr("cv2.imread", lambda *_: pytest.fail("a photo was read"))
    assert main(["train", "--init-from", str(BUNDLED), "--replay-data", str(pack), "--out", str(tmp_path / "b"),
                 *tiny]) == 0
    a, b = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("a", "b"))
    for key in ("replay_train_samples", "replay_held_out_samples", "original_held_out_top1", "user_held_out_top1",
                "user_held_out_per_letter", "replay_datasets"):
        assert a[key] == b[key], key
    assert a["replay_held_out_samples"] > 100
    for name in ("val_features.npz", "calib_features.npz"):
        with np.load(tmp_path / "a" / name) as x, np.load(tmp_path / "b" / name) as y:
            for key in x.files:
                np.testing.assert_array_equal(x[key], y[key], err_msg=f"{name}:{key}")


def _one_error_line(capsys: pytest.CaptureFixture[str], *words: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ": error: " in err[0], err
    assert all(word in err[0] for word in words), err


def test_a_corrupt_or_foreign_pack_is_one_error_line(pack: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    signs = _signs(tmp_path / "signs")
    run = ["train", "--init-from", str(BUNDLED), "--data", str(signs), "--out", str(tmp_path / "r"), "--export",
           "none", "--replay-data"]
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(pack.read_bytes()[:5000])
    assert main([*run, str(truncated)]) != 0
    _one_error_line(capsys, "truncated.npz", "not a readable replay pack", "--write-replay")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, landmarks=np.zeros((3, 21, 3), np.float32))
    assert main([*run, str(foreign)]) != 0
    _one_error_line(capsys, "foreign.npz", "--write-replay")
    with np.load(pack) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays["meta"]))
    other = tmp_path / "other-split.npz"
    np.savez(other, **{**arrays, "meta": np.array(json.dumps({**meta, "split": {**meta["split"], "seed": 7}}))})
    assert main([*run, str(other)]) != 0
    _one_error_line(capsys, "another split", "seed=7", "--write-replay")
    # A pack of another model's training data (here a folder the bundled model never recorded) is refused: its
    # "held-out" part would be reported as never trained on, and its letters taught to the start model.
    alien = tmp_path / "alien.npz"
    np.savez(alien, **{**arrays, "meta": np.array(json.dumps({**meta, "datasets": ["/somewhere/my-videos"]}))})
    assert main([*run, str(alien)]) != 0
    _one_error_line(capsys, "alien.npz", "my-videos", "was trained on", "--replay-data")
    assert main([*run, str(tmp_path / "gone.npz")]) != 0
    _one_error_line(capsys, "gone.npz", "does not exist")
    assert main([*run, str(pack), "--replay-data", str(MULTI)]) != 0
    _one_error_line(capsys, "one replay pack")
    assert not (tmp_path / "r" / "checkpoint.pt").exists()
    write = ["train", "--init-from", str(BUNDLED), "--replay-data", str(MULTI), "--write-replay"]
    assert main([*write, str(tmp_path / "pack.txt")]) != 0
    _one_error_line(capsys, "--write-replay", "FILE.npz")
    assert main([*write, str(tmp_path / "no-such-folder" / "pack.npz")]) != 0
    _one_error_line(capsys, "cannot write", "no-such-folder")
    assert main(["train", "--init-from", str(BUNDLED), "--replay-data", str(pack), "--write-replay",
                 str(tmp_path / "again.npz")]) != 0
    _one_error_line(capsys, "--write-replay packs photo folders")
    assert not list(tmp_path.glob("*.txt")) and not (tmp_path / "again.npz").exists()
