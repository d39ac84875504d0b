"""One-letter video clips as landmark training data (runtime/hand/extract.py: load_video_letters, formed_frames),
on real clips of fingerspelling-dev through the real hand stage."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from asl_edge.errors import DataError
from asl_edge.landmark_features import landmark_features
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.hand.extract import formed_frames, load_landmark_dataset, load_video_clips, read_video_labels
from asl_edge.runtime.hand.models import BUNDLED_LANDMARK_MODEL

LETTERS = Path(__file__).resolve().parents[3] / "shared" / "data" / "fingerspelling-dev" / "letters"


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real clips: a held B and L of cse535-s1 and a drawn J (motion) of cse535-s4."""
    if not LETTERS.is_dir():
        pytest.skip(f"fingerspelling-dev not found at {LETTERS}")
    root = tmp_path_factory.mktemp("letters")
    rows = ["file,letter,signer,motion,source", "B_s1.mp4,B,cse535-s1,,", "L_s1.mp4,L,cse535-s1,,",
            "J_s4.mp4,J,cse535-s4,yes,"]
    for row in rows[1:]:
        shutil.copy(LETTERS / row.split(",")[0], root)
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.slow
def test_a_clip_folder_gives_the_formed_frames_of_its_held_letters(clip_folder: Path, tmp_path: Path) -> None:
    data = load_landmark_dataset(clip_folder, tmp_path / "cache")
    assert data.classes == ("B", "L")  # the drawn J is a stroke, not a handshape: left out
    assert data.found.all() and len(data) == len(data.paths) == len(data.labels)
    per_clip = {name: sum(p.startswith(str(clip_folder / name)) for p in data.paths)
                for name in ("B_s1.mp4", "L_s1.mp4")}
    assert min(per_clip.values()) >= 15  # ~100 frames a clip, most of them held, every third kept

    # The frames chosen are the letter: the bundled classifier (trained on photos only) reads them as labelled.
    backend = load_backend(BUNDLED_LANDMARK_MODEL)
    probs = backend.infer(landmark_features(data.landmarks, data.handedness))
    predicted = np.array(backend.spec.labels)[probs.argmax(1)]
    assert (predicted == np.array(data.classes)[data.labels]).mean() > 0.9

    again = load_landmark_dataset(clip_folder, tmp_path / "cache")  # the hand stage is not run again
    assert np.array_equal(again.landmarks, data.landmarks) and again.paths == data.paths


@pytest.mark.slow
def test_formed_frames_leave_out_the_raise_the_lowering_and_frames_without_a_hand(clip_folder: Path,
                                                                                  tmp_path: Path) -> None:
    (clip,) = load_video_clips(clip_folder, ["J_s4.mp4"], tmp_path / "cache")
    assert clip.found.any() and len(clip.times) == len(clip.found)
    assert np.all(np.diff(clip.times) > 0)  # container time, seconds
    formed = formed_frames(clip)
    assert formed.any() and not (formed & ~clip.found).any()
    with_hand = np.flatnonzero(clip.found)
    assert not formed[with_hand[:len(with_hand) // 10]].any()  # the first tenth of the hand's frames: the raise


def test_a_folder_without_labels_csv_is_a_data_error_naming_the_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"has no labels\.csv.*file,letter"):
        read_video_labels(tmp_path)
