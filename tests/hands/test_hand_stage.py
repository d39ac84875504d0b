"""The hand stage on real photographs: anchors, decoding, NMS, crops, detection anywhere in a frame,
left hands, tracking, and that it runs with torch, TensorFlow and mediapipe all unimportable."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.runtime.hand import HandTracker, RotatedRect, TrackerConfig
from asl_edge.runtime.hand.anchors import ssd_anchors
from asl_edge.runtime.hand.palm import decode, search_tiles, weighted_nms
from tests.conftest import REPO, run_without_torch

MULTI = REPO.parent / "shared" / "data" / "asl-letters-multi"
WORDS = REPO.parent / "shared" / "data" / "fingerspelling-dev" / "words"


@pytest.fixture(scope="module")
def tracker() -> HandTracker:
    return HandTracker(config=TrackerConfig(track=False, pad=0.25))


def _photo(letter: str, index: int = 0) -> np.ndarray:
    if not MULTI.is_dir():
        pytest.skip(f"shared dataset not found at {MULTI}")
    path = sorted((MULTI / letter).glob("*.jpg"))[index]
    image = cv2.imread(str(path))
    assert image is not None
    return image


def test_anchors_follow_the_palm_detector_layout() -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (2016, 2)
    # 24x24 grid, 2 anchors per cell, then 12x12 with 6 per cell; centres at (i + 0.5) / grid.
    np.testing.assert_allclose(anchors[0], [0.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[1152], [0.5 / 12, 0.5 / 12])
    np.testing.assert_allclose(anchors[-1], [11.5 / 12, 11.5 / 12])


def test_decode_and_weighted_nms_merge_overlapping_boxes() -> None:
    regressors = np.zeros((2016, 18), np.float32)
    scores = np.full(2016, -10.0, np.float32)
    regressors[[0, 1], 2:4] = 20.0  # two 20-pixel boxes on the same first anchor
    regressors[1, 0] = 2.0  # the second shifted right by 2 px
    scores[[0, 1]] = [3.0, 1.0]
    boxes, keypoints, probs = decode(regressors, scores, min_score=0.5)
    assert boxes.shape == (2, 4) and keypoints.shape == (2, 7, 2)
    centre = 0.5 / 24 * 192
    np.testing.assert_allclose(boxes[0], [centre - 10, centre - 10, centre + 10, centre + 10], atol=1e-4)
    merged = weighted_nms(boxes, keypoints, probs)
    assert len(merged) == 1
    weight = probs[1] / probs.sum()
    assert merged[0][0][0] == pytest.approx(centre - 10 + 2 * weight, abs=1e-4)
    assert merged[0][2] == pytest.approx(probs[0])


def test_rotated_crop_maps_back_to_the_image() -> None:
    rect = RotatedRect(100.0, 80.0, 60.0, 60.0, math.radians(30))
    points = np.array([[0, 0], [224, 224], [112, 112]], np.float32)
    back = rect.to_image(points, 224)
    np.testing.assert_allclose(back[2], [100, 80], atol=1e-3)
    np.testing.assert_allclose(back[:2], rect.corners()[[0, 2]], atol=1e-3)


@pytest.mark.parametrize("letter", ["A", "L", "Y"])
def test_hand_found_anywhere_in_a_frame(letter: str) -> None:
    photo = cv2.resize(_photo(letter), (300, 300))
    frame = np.full((480, 640, 3), 40, np.uint8)
    frame[175:475, 335:635] = photo  # bottom right, off the centre
    hand = HandTracker(config=TrackerConfig(track=False)).process(frame)
    assert hand is not None
    x0, y0, x1, y1 = hand.box
    assert 320 <= x0 < x1 <= 640 and 160 <= y0 < y1 <= 480
    assert hand.landmarks.shape == (21, 3) and hand.presence >= 0.5


def test_mirrored_hand_flips_handedness_and_landmarks(tracker: HandTracker) -> None:
    photo = _photo("L", 1)
    tracker.reset()
    hand = tracker.process(photo)
    tracker.reset()
    mirrored = tracker.process(cv2.flip(photo, 1))
    assert hand is not None and mirrored is not None
    assert (hand.handedness >= 0.5) != (mirrored.handedness >= 0.5)
    width = photo.shape[1]
    error = np.abs((width - mirrored.landmarks[:, 0]) - hand.landmarks[:, 0])
    assert np.median(error) < 0.05 * width


def test_tracking_skips_the_palm_detector() -> None:
    photo = _photo("B", 2)
    frame = cv2.copyMakeBorder(photo, 100, 100, 100, 100, cv2.BORDER_CONSTANT)
    tracking = HandTracker(config=TrackerConfig(track=True))
    hands = [tracking.process(frame) for _ in range(5)]
    assert all(hand is not None for hand in hands)
    assert tracking.times.detections == 1
    assert [hand.tracked for hand in hands if hand] == [False, True, True, True, True]
    assert tracking.process(np.zeros_like(frame)) is None


def test_search_tiles_cover_every_small_hand() -> None:
    for height, width in ((640, 360), (480, 640), (1080, 1920), (100, 100), (720, 20)):
        tiles = search_tiles(height, width)
        side = tiles[0][2]
        assert side == (max(height, width) + 1) // 2
        assert all(x >= 0 and y >= 0 and (x + side <= width or x == 0) and (y + side <= height or y == 0)
                   for x, y, _ in tiles)
        # Any box a quarter of the long side wide lies whole inside one tile.
        quarter = max(height, width) // 4
        for bx in range(0, max(1, width - quarter), 7):
            for by in range(0, max(1, height - quarter), 7):
                assert any(x <= bx and y <= by and bx + min(quarter, width) <= x + side
                           and by + min(quarter, height) <= y + side for x, y, _ in tiles), (height, width, bx, by)
    assert search_tiles(640, 360) == [(0, 0, 320), (40, 0, 320), (0, 160, 320), (40, 160, 320), (0, 320, 320),
                                      (40, 320, 320)]


def test_a_small_hand_is_found_by_the_search_tiles() -> None:
    """A student fingerspelling ME at arm's length on a phone (portrait, 360x640): the hand is ~25 pixels,
    too small for the palm detector on the whole frame, and found in a tile within the first frames."""
    frames = _clip_frames("ME_s3.mp4", 30)
    whole_frame = HandTracker(config=TrackerConfig(tiles=0))
    assert [whole_frame.process(frame) for frame in frames] == [None] * len(frames)
    tiled = HandTracker(whole_frame.models)
    hands = [tiled.process(frame) for frame in frames]
    found = [i for i, hand in enumerate(hands) if hand is not None]
    # A tile every third frame without a palm, six tiles: found within 18 frames.
    assert found and found[0] < TrackerConfig().tiles * len(search_tiles(*frames[0].shape[:2]))
    assert all(hands[i] is not None for i in range(found[0], len(frames)))  # then tracked
    last = hands[found[-1]]
    assert last is not None
    x0, y0, x1, y1 = last.box  # the raised fist left of the face, about (110, 310)
    assert 80 < (x0 + x1) / 2 < 140 and 280 < (y0 + y1) / 2 < 340 and x1 - x0 < 50
    # Without tracking (photos) there is no second look.
    assert HandTracker(whole_frame.models, TrackerConfig(track=False)).process(frames[0]) is None


def _clip_frames(name: str, count: int) -> list[np.ndarray]:
    clip = WORDS / name
    if not clip.is_file():
        pytest.skip(f"fingerspelling-dev not found at {WORDS}")
    capture = cv2.VideoCapture(str(clip))
    frames = [capture.read()[1] for _ in range(count)]
    capture.release()
    return frames


def test_the_raised_hand_is_tracked_not_the_resting_one() -> None:
    """HIS: the student signs with the right hand raised at the shoulder (wrist about 0.55 of the frame
    height) while the left hangs at the waist (about 0.9), both in view from the first frame."""
    frames = _clip_frames("HIS_s2.mp4", 40)
    tracker = HandTracker()
    wrists = [hand.landmarks[0, 1] / frame.shape[0] if hand else np.nan
              for frame, hand in ((f, tracker.process(f)) for f in frames)]
    assert np.nanmax(wrists) < 0.7 and not np.isnan(wrists).any()


def test_a_hand_raised_while_the_other_is_tracked_takes_over() -> None:
    frames = _clip_frames("HIS_s2.mp4", 40)
    hidden = []
    for frame in frames[:10]:  # the signing hand not yet in view: only the resting hand can be found
        masked = frame.copy()
        masked[200:480, :200] = 0
        hidden.append(masked)
    tracker = HandTracker()
    hands = [tracker.process(frame) for frame in hidden + frames[10:]]
    heights = [hand.landmarks[0, 1] / 640 if hand else np.nan for hand in hands]
    assert all(height > 0.8 for height in heights[:10])  # the resting hand, tracked
    recheck = TrackerConfig().recheck_frames
    assert all(height < 0.7 for height in heights[10 + recheck:])  # within one recheck, the raised one
    never = HandTracker(tracker.models, TrackerConfig(recheck_frames=0))
    assert all(hand is not None and hand.landmarks[0, 1] / 640 > 0.8
               for hand in (never.process(frame) for frame in hidden + frames[10:]))


def test_no_hand_in_an_empty_frame(tracker: HandTracker) -> None:
    tracker.reset()
    assert tracker.process(np.zeros((480, 640, 3), np.uint8)) is None


def test_hand_stage_runs_without_torch_tensorflow_or_mediapipe(tmp_path: Path) -> None:
    photo = _photo("A")
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    code = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "mediapipe", "tflite_runtime"):
            raise ImportError(name + " is blocked for this test")
sys.meta_path.insert(0, _Block())
import cv2
from asl_edge.runtime.hand import HandTracker, TrackerConfig
hand = HandTracker(config=TrackerConfig(track=False, pad=0.25)).process(cv2.imread(sys.argv[1]))
assert hand is not None
assert not any(m.split(".")[0] in ("torch", "tensorflow", "mediapipe") for m in sys.modules)
print("ok", hand.landmarks.shape)
"""
    result = run_without_torch(code, str(tmp_path / "a.png"))
    assert result.returncode == 0, result.stderr
    assert "ok (21, 3)" in result.stdout


def test_dataset_landmarks_warn_about_unreadable_photos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from asl_edge.runtime.hand.extract import load_landmark_dataset

    for letter in ("A", "B"):
        (tmp_path / "data" / letter).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "data" / letter / "ok.jpg"), _photo(letter))
    (tmp_path / "data" / "A" / "broken.jpg").write_bytes(b"not a jpeg")
    data = load_landmark_dataset(tmp_path / "data", tmp_path / "cache")
    assert data.classes == ("A", "B") and len(data) == 3
    err = capsys.readouterr().err
    assert "warning: 1 unreadable image(s)" in err and "broken.jpg" in err
    assert not data.found[0]  # broken.jpg sorts first in A
    again = load_landmark_dataset(tmp_path / "data", tmp_path / "cache")  # from the cache, same arrays
    assert (again.found == data.found).all() and np.array_equal(again.landmarks, data.landmarks)
