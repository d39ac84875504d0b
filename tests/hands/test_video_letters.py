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


@pytest.mark.parametrize(("rows", "message"), [
    (["file,letter", "a.mp4,1"], r"line 2: letter '1' of a\.mp4 is not one a letter classifier"),
    (["file,letter", "a.mp4,AB"], r"line 2: letter 'AB' of a\.mp4 is not one letter"),
    (["file,letter", "a.mp4"], r"line 2: the letter of a\.mp4 is empty"),  # a short row
    (["file,letter", "a.mp4,A", "b.mp4,B", "a.mp4,B"], r"line 4: a\.mp4 is listed again \(first on line 2\)"),
    (["file,word", "a.mp4,AB"], r"has a `word` column: training reads one-letter clips.*eval --videos"),
    (["file,letter"], r"lists no clips"),
])
def test_bad_rows_of_labels_csv_are_one_data_error_naming_the_line(tmp_path: Path, rows: list[str],
                                                                   message: str) -> None:
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"not decoded: the rows are checked first")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=message):
        read_video_labels(tmp_path)


def test_labels_csv_from_a_spreadsheet_reads_lower_case_letters_as_capitals(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4").write_bytes(b"x")
    # A UTF-8 byte-order mark, CRLF line ends and spaces after the commas, as spreadsheets write them.
    (tmp_path / "labels.csv").write_bytes("\ufefffile, letter, signer\r\na.mp4, a, s1\r\nb.mp4,B,s2\r\n".encode())
    rows = read_video_labels(tmp_path)
    assert [(r["file"], r["letter"], r["signer"]) for r in rows] == [("a.mp4", "A", "s1"), ("b.mp4", "B", "s2")]


def test_a_folder_of_clips_and_photo_class_folders_is_refused_not_half_read(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "labels.csv").write_text("file,letter\na.mp4,A\n")
    (tmp_path / "B").mkdir()
    (tmp_path / "B" / "1.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match=r"holds both clips \(labels\.csv\) and photo class folders \(B\).*two folders"):
        load_landmark_dataset(tmp_path, tmp_path / "cache")


def test_a_collect_folder_given_to_plain_training_points_at_init_from(tmp_path: Path) -> None:
    (tmp_path / "collect.json").write_text("{}")
    with pytest.raises(DataError, match=r"is an `asl-edge collect` folder.*train --init-from"):
        load_landmark_dataset(tmp_path, tmp_path / "cache")


def test_an_empty_class_folder_is_refused_not_made_a_class_nothing_can_learn(tmp_path: Path) -> None:
    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "1.jpg").write_bytes(b"x")
    (tmp_path / "D").mkdir()
    with pytest.raises(DataError, match=r"class folder .*D holds no images"):
        load_landmark_dataset(tmp_path, tmp_path / "cache")


def test_a_cache_that_cannot_be_written_is_refused_before_the_hand_stage_runs(tmp_path: Path) -> None:
    (tmp_path / "photos" / "A").mkdir(parents=True)
    (tmp_path / "photos" / "A" / "1.jpg").write_bytes(b"never decoded: refused first")
    blocked = tmp_path / "cache-is-a-file"
    blocked.write_text("")
    with pytest.raises(DataError, match=r"it is a file.*the landmark cache: pass --landmark-cache DIR or set "
                                        r"ASL_EDGE_CACHE"):
        load_landmark_dataset(tmp_path / "photos", blocked)
