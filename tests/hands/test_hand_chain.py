"""The bundled hand chain end to end on clips of held-out photos: the hand off-centre, a mirrored (left)
hand, the skeleton drawn, detect/landmarks timed, and `asl-edge eval` through the chain."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from asl_edge.runtime.backends import Backend, load_backend
from asl_edge.runtime.hand.chain import open_chain
from asl_edge.runtime.live.pipeline import HAND_STAGES, PipelineConfig, run_pipeline
from asl_edge.runtime.live.sources import parse_source
from tests.live.conftest import ClipMaker
from tests.live.helpers import RecordingSink

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
LANDMARK_MODEL = REPO / "asl_edge" / "assets" / "asl_landmarks.onnx"


@pytest.fixture(scope="module")
def classifier() -> Iterator[Backend]:
    with load_backend(LANDMARK_MODEL, provider="cpu") as opened:
        yield opened


@pytest.mark.parametrize("mirror", [False, True], ids=["right-hand", "left-hand"])
def test_spells_with_the_hand_off_centre(classifier, make_clip: ClipMaker, mirror: bool) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("ACE", roi_size=0.55, roi_offset=(0.2, 0.15), mirror=mirror)
    chain = open_chain(classifier, fallback="none")
    assert chain is not None
    sink = RecordingSink()
    result = run_pipeline(parse_source(clip.path), classifier, PipelineConfig(), [sink], chain=chain)
    assert result.text == "ACE"
    assert list(result.stages.summary()) == list(HAND_STAGES)
    # The palm detector ran on a fraction of the frames: the rest were tracked.
    assert 0 < chain.tracker.times.detections < clip.frames / 2
    stages = sink.states[-1]["stages_ms"]
    assert isinstance(stages, dict) and set(stages) == set(HAND_STAGES)


def test_skeleton_is_drawn_where_the_hand_is(classifier, make_clip: ClipMaker) -> None:  # type: ignore[no-untyped-def]
    clip = make_clip("L", roi_size=0.5, roi_offset=(-0.2, 0.0))
    chain = open_chain(classifier, fallback="none")
    assert chain is not None
    sink = RecordingSink()
    run_pipeline(parse_source(clip.path), classifier, PipelineConfig(), [sink], chain=chain)
    plain = parse_source(clip.path)
    plain.open()
    raw = [frame.image for frame in iter(plain.read, None)]
    plain.close()
    # A frame with the hand: red landmark dots appear only around the photo on the left half.
    index = clip.gap_frames + clip.frames_per_letter // 2
    changed = np.abs(sink.frames[index].astype(int) - raw[index].astype(int)).sum(axis=2) > 60
    changed[:160] = False  # the letter panel and the stage times at the top
    changed[-60:] = False  # the text bar
    _, xs = np.nonzero(changed)
    assert xs.size > 200 and np.median(xs) < raw[index].shape[1] / 2


def test_eval_runs_the_chain_and_reports_hands_found(tmp_path: Path, small_image_folder: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "asl_edge", "eval", str(LANDMARK_MODEL), "--data",
                             str(small_image_folder), "--out", str(tmp_path / "eval")],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "hand found in" in result.stdout and "per letter:" in result.stdout
    # Hand found per letter too (issue 21 item 7): on the console, in metrics.json and per_class.md.
    line = next(row for row in result.stdout.splitlines() if "hand found per letter:" in row)
    assert [cell.split()[0] for cell in line.split(":", 1)[1].split(",")] == ["A", "B", "C", "L", "nothing"]
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    per_letter = metrics["per_letter"]
    assert sum(row["hand_found"] for row in per_letter.values()) == metrics["hand_found"]
    assert all(0 <= row["hand_found"] <= row["photos"] == 12 for row in per_letter.values())
    # The palm detector finds no hand where there is none: the 'nothing' photos are where it misses most.
    assert per_letter["nothing"]["hand_found"] < per_letter["L"]["hand_found"]
    assert "| hand found |" in (tmp_path / "eval" / "per_class.md").read_text()


def test_eval_compare_scores_two_models_side_by_side_on_a_photo_folder(tmp_path: Path,
                                                                        small_image_folder: Path) -> None:
    """Issue 21 item 6: --compare on any labelled photo folder, both models through the same hand chain."""
    image_model = REPO / "asl_edge" / "assets" / "asl_default.onnx"
    out = tmp_path / "compare"
    result = subprocess.run([sys.executable, "-m", "asl_edge", "eval", str(LANDMARK_MODEL), "--compare",
                             str(image_model), "--data", str(small_image_folder), "--hand", "on", "--out", str(out)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "compare.json").read_text())
    assert report["models"] == ["asl_landmarks.onnx", "asl_default.onnx"] and report["samples"] == 60
    assert set(report["per_letter"]) == {"A", "B", "C", "L", "nothing"}
    for row in report["per_letter"].values():
        assert row["samples"] == 12 and 0 <= row["hand_found"] <= 1
    # Landmarks read the found hand far better than the fixed-box image model does on its box.
    assert report["top1"]["asl_landmarks.onnx"] > report["top1"]["asl_default.onnx"] + 0.2, result.stdout
    assert "hand found" in result.stdout.splitlines()[1]
    # The chart needs matplotlib, a workstation extra (a Jetson, the oldest lane): without it, one line says so.
    assert ((out / "compare.png").is_file() and (out / "compare.png").stat().st_size > 1000) or \
        "no plot: " in result.stdout
    # A checkpoint or a folder without class folders is one error line each, naming the fix.
    for extra, words in ((["--compare", str(tmp_path / "run" / "checkpoint.pt")], ["does not exist"]),
                         (["--compare", str(image_model), "--shift", "light"], ["--shift"])):
        bad = subprocess.run([sys.executable, "-m", "asl_edge", "eval", str(LANDMARK_MODEL), "--data",
                              str(small_image_folder), *extra], capture_output=True, text=True, timeout=120,
                             check=False)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode != 0 and len(lines) == 1 and ": error: " in lines[0], bad.stderr
        assert all(word in lines[0] for word in words), lines


def test_fusion_mixes_landmark_and_crop_probabilities(classifier) -> None:  # type: ignore[no-untyped-def]
    import cv2

    from asl_edge.runtime.hand.chain import HandChain
    from asl_edge.runtime.hand.tracker import HandTracker, TrackerConfig

    photo = cv2.imread(str(sorted((REPO.parent / "shared" / "data" / "asl-letters-multi" / "L").glob("*.jpg"))[1]))
    assert photo is not None
    tracker = HandTracker(config=TrackerConfig(track=False, pad=0.25))
    with load_backend(REPO / "asl_edge" / "assets" / "asl_default.onnx", provider="cpu") as crop_model:
        alone = HandChain(tracker, classifier).classify(photo)
        tracker.reset()
        crop_only = HandChain(tracker, classifier, crop_model=crop_model, crop_weight=1.0).classify(photo)
        tracker.reset()
        fused = HandChain(tracker, classifier, crop_model=crop_model, crop_weight=0.25).classify(photo)
    assert alone.source == "landmarks" and fused.source == crop_only.source == "fusion"
    np.testing.assert_allclose(fused.probs, 0.75 * alone.probs + 0.25 * crop_only.probs, atol=1e-6)
    assert not np.allclose(alone.probs, crop_only.probs)
