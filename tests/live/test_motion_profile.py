"""J and Z as strokes (issue "Letters on video" item 3): collect stores a drawn J or Z as its landmark trajectory,
personalisation fits the signer's J/Z thresholds from those strokes (runtime/live/motion_profile.py), and `run`
reads the profile beside the model.

Real data: the motion clips of fingerspelling-dev/letters (J and Z drawn by cse535-s4 and easi) through the real hand
stage, turned into strokes by collect's own session in a temporary folder; the still clips of the same signers
(a held I, a pointing index: D, X, L) are what the fitted thresholds must never read as J or Z.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from asl_edge.apps.cli import main
from asl_edge.errors import DataError
from asl_edge.runtime.hand.collected import LANDMARKS_FILE, CollectedWriter
from asl_edge.runtime.hand.extract import VideoLandmarks, video_landmarks
from asl_edge.runtime.hand.models import BUNDLED_LANDMARK_MODEL
from asl_edge.runtime.hand.strokes import read_stroke, read_strokes, stroke_files
from asl_edge.runtime.hand.tracker import HandTracker
from asl_edge.runtime.live.collect.session import CollectConfig, CollectSession
from asl_edge.runtime.live.handshapes import HANDSHAPES
from asl_edge.runtime.live.motion import MotionConfig, MotionLetters
from asl_edge.runtime.live.motion_profile import (
    COLLECT_MOTION,
    DEFAULTS,
    FITTED,
    PROFILE_FILE,
    fit_profile,
    load_profile,
)

LETTERS = Path(__file__).resolve().parents[3] / "shared" / "data" / "fingerspelling-dev" / "letters"
SIGNERS = ("s4", "easi")
STILL = ("I", "D", "X", "L")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips() -> dict[str, VideoLandmarks]:
    if not LETTERS.is_dir():
        pytest.skip(f"fingerspelling-dev not found at {LETTERS}")
    tracker = HandTracker()
    names = [f"{letter}_{signer}" for signer in SIGNERS for letter in ("J", "Z", *STILL)]
    return {name: video_landmarks(LETTERS / f"{name}.mp4", tracker) for name in names}


def collect_strokes(clip: VideoLandmarks, letter: str, out: Path, source: str) -> int:
    """The clip's frames through collect's session and writer (the hand stage already ran): strokes written."""
    session = CollectSession(CollectConfig((letter,), samples=1, countdown_s=0.0))
    writer = CollectedWriter(out, store_frames=False, session={"source": source})
    try:
        for points, right, hand, t in zip(clip.landmarks, clip.handedness, clip.found, clip.times, strict=True):
            if session.update(float(t), points if hand else None, float(right)) and session.stroke is not None:
                session.recorded(float(t), writer.add_stroke(letter, session.stroke, (640, 480)))
            if session.done:
                break
    finally:
        writer.close()
    return session.counts[letter]


@pytest.fixture(scope="module")
def mysigns(clips: dict[str, VideoLandmarks], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Per signer, a collect folder holding the J and Z strokes collect takes from their motion clips."""
    folders = {}
    for signer in SIGNERS:
        folder = tmp_path_factory.mktemp(f"mysigns-{signer}")
        for letter in "JZ":
            assert collect_strokes(clips[f"{letter}_{signer}"], letter, folder, f"{letter}_{signer}.mp4") == 1
        folders[signer] = folder
    return folders


def detect(clip: VideoLandmarks, config: MotionConfig) -> list[str]:
    detector, found = MotionLetters(config), []
    for points, right, hand, t in zip(clip.landmarks, clip.handedness, clip.found, clip.times, strict=True):
        result = detector.update(points if hand else None, float(right), float(t))
        if result is not None:
            found.append(result.letter)
    return found


def test_collect_from_a_clip_stores_a_stroke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not LETTERS.is_dir():
        pytest.skip(f"fingerspelling-dev not found at {LETTERS}")
    out = tmp_path / "mysigns"
    assert main(["collect", "--source", str(LETTERS / "J_s4.mp4"), "--out", str(out), "--letters", "J",
                 "--samples", "1", "--countdown", "0", "--no-window"]) == 0
    printed = capsys.readouterr().out
    assert HANDSHAPES["J"] == "draw J: the I handshape, little finger hooks down and up"
    assert f"J: recording - draw the letter ({HANDSHAPES['J']})" in printed
    files = stroke_files(out)
    assert [path.parent.name for path in files] == ["J"] and files[0].name.endswith(".stroke.npz")
    stroke = read_stroke(files[0])
    assert stroke.letter == "J" and stroke.landmarks.shape == (len(stroke), 21, 3)
    assert (np.diff(stroke.times) > 0).all() and stroke.found.mean() > 0.9
    assert stroke.times[0] <= stroke.start < stroke.end <= stroke.times[-1]
    assert 0.3 <= stroke.end - stroke.start <= 1.5  # the stroke, not the whole 3.5 s clip
    assert stroke.source.endswith("J_s4.mp4") and stroke.frame_size[0] > 0
    assert stroke.thresholds["j_descent"] == COLLECT_MOTION.j_descent
    manifest = json.loads((out / "collect.json").read_text())
    assert manifest["strokes"] == {"J": 1} and manifest["samples"] == 0
    assert not (out / LANDMARKS_FILE).exists()  # a stroke is not a photo sample: training's rows are untouched


def test_default_letters_include_j_and_z(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from asl_edge.runtime.live.collect import model_letters

    letters = model_letters()
    assert len(letters) == 26 and {"J", "Z", "I", "D"} <= set(letters)


def test_fitted_profile_reads_the_signers_strokes_and_never_their_still_letters(
        clips: dict[str, VideoLandmarks], mysigns: dict[str, Path]) -> None:
    for signer, folder in mysigns.items():
        profile = fit_profile(folder)
        assert profile is not None
        assert [(r.letter, r.read) for r in profile.strokes] == [("J", True), ("Z", True)]
        for name, (letter, key) in FITTED.items():  # the rule: half the smallest measure, within the bounds
            default, value = getattr(DEFAULTS, name), getattr(profile.config, name)
            sizes = [r.measures[key] for r in profile.strokes if r.letter == letter and r.measures]
            assert 0.6 * default - 1e-9 <= value <= min(1.5 * default, max(0.5 * min(sizes), 0.6 * default)) + 1e-9
            assert value <= min(sizes)  # never above what fires on the signer's own strokes
        for letter in "JZ":  # the whole clip, as live spelling sees it
            assert detect(clips[f"{letter}_{signer}"], profile.config) == [letter], (signer, letter)
        for letter in STILL:
            assert detect(clips[f"{letter}_{signer}"], profile.config) == [], (signer, letter)
        # Saved and read back: the same thresholds, with the strokes' names and hashes.
        path = profile.save(folder.parent / f"{signer}-{PROFILE_FILE}")
        loaded = load_profile(path)
        assert loaded.config == profile.config
        saved = json.loads(path.read_text())
        assert saved["format"] == "asl-edge-motion-profile" and saved["version"] == 1
        assert [s["file"].split("/")[:2] for s in saved["strokes"]] == [["strokes", "J"], ["strokes", "Z"]]
        assert all(len(s["sha256"]) == 64 for s in saved["strokes"])


def test_without_strokes_there_is_no_profile(tmp_path: Path) -> None:
    assert fit_profile(tmp_path) is None


def test_a_corrupt_stroke_file_is_one_error_line(mysigns: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mysigns"
    shutil.copytree(mysigns["s4"], folder)
    bad = stroke_files(folder)[1]
    bad.write_bytes(bad.read_bytes()[:200])  # truncated, as by a full disk
    with pytest.raises(DataError, match=bad.name):
        read_strokes(folder)
    out = tmp_path / "run"
    assert main(["train", "--init-from", str(BUNDLED_LANDMARK_MODEL), "--data", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("asl-edge train: error: ")
    assert str(bad) in err[0] and "delete it" in err[0]
    assert "Traceback" not in err[0] and not out.exists()  # refused before anything was written


def test_run_uses_the_profile_beside_the_model(mysigns: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    model = run_dir / "model.onnx"
    shutil.copyfile(BUNDLED_LANDMARK_MODEL, model)
    fitted = fit_profile(mysigns["s4"])
    assert fitted is not None
    fitted.save(tmp_path / "fitted.json")
    # Beside the model: a profile whose J needs a 10-palm descent, which no J of the clip has, so J is not spelled.
    strict = json.loads((tmp_path / "fitted.json").read_text())
    strict["thresholds"]["j_descent"] = 10.0
    (run_dir / PROFILE_FILE).write_text(json.dumps(strict))
    clip = str(LETTERS / "J_s4room.mp4")  # the same signer in another room
    command = ["run", "--source", clip, "--model", str(model), "--no-window", "--no-suggest"]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert f"motion profile: {run_dir / PROFILE_FILE} (" in printed
    assert "commit: J" not in printed
    assert main([*command, "--motion-profile", str(tmp_path / "fitted.json")]) == 0
    printed = capsys.readouterr().out
    assert f"motion profile: {tmp_path / 'fitted.json'} (" in printed and "spelled: 'J'" in printed
    (run_dir / PROFILE_FILE).write_text("{not json")
    assert main(command) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("asl-edge run: error: ") and str(run_dir / PROFILE_FILE) in err[0]
