"""The bundled hand chain end to end on clips of held-out photos: the hand off-centre, a mirrored (left)
hand, the skeleton drawn, detect/landmarks timed, and `asl-edge eval` through the chain."""

from __future__ import annotations

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
    assert (tmp_path / "eval" / "metrics.json").is_file()


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
