"""J and Z from the trajectory (runtime/live/motion.py) on real clips of fingerspelling-dev, through the real
hand stage: a drawn J and Z are found, with their time span; a held I and a held pointing index never are;
a left hand (the clip mirrored) reads the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asl_edge.runtime.hand.extract import VideoLandmarks, video_landmarks
from asl_edge.runtime.live.motion import MotionLetter, MotionLetters

LETTERS = Path(__file__).resolve().parents[3] / "shared" / "data" / "fingerspelling-dev" / "letters"


@pytest.fixture(scope="module")
def clips() -> dict[str, VideoLandmarks]:
    if not LETTERS.is_dir():
        pytest.skip(f"fingerspelling-dev not found at {LETTERS}")
    # J and Z drawn by cse535-s4; I and D (a held pointing index) by the same signer, held still.
    return {name: video_landmarks(LETTERS / f"{name}.mp4") for name in ("J_s4", "Z_s4", "I_s4", "D_s4")}


def detect(clip: VideoLandmarks, mirror_width: float | None = None) -> list[MotionLetter]:
    detector, found = MotionLetters(), []
    landmarks, handedness = clip.landmarks, clip.handedness
    if mirror_width is not None:  # what the hand stage reports for the mirrored frames: a left hand
        landmarks = landmarks * np.array([-1.0, 1.0, 1.0]) + np.array([mirror_width, 0.0, 0.0])
        handedness = 1.0 - handedness
    for points, right, hand, t in zip(landmarks, handedness, clip.found, clip.times, strict=True):
        result = detector.update(points if hand else None, float(right), float(t))
        if result is not None:
            found.append(result)
    return found


@pytest.mark.slow
def test_drawn_j_and_z_are_found_once_with_their_time_span(clips: dict[str, VideoLandmarks]) -> None:
    for letter in "JZ":
        clip = clips[f"{letter}_s4"]
        found = detect(clip)
        assert [m.letter for m in found] == [letter]
        stroke = found[0]
        assert clip.times[0] <= stroke.start < stroke.end <= clip.times[-1]
        assert 0.3 <= stroke.end - stroke.start <= 1.5  # a stroke, not the whole clip
        assert 0.0 < stroke.score <= 1.0


@pytest.mark.slow
def test_a_left_hand_draws_the_same_letters(clips: dict[str, VideoLandmarks]) -> None:
    for letter in "JZ":
        assert [m.letter for m in detect(clips[f"{letter}_s4"], mirror_width=640.0)] == [letter]


@pytest.mark.slow
def test_a_held_i_or_pointing_index_is_never_j_or_z(clips: dict[str, VideoLandmarks]) -> None:
    for name in ("I_s4", "D_s4"):
        assert clips[name].found.mean() > 0.8  # the hand is there all along: the detector saw it and said nothing
        assert detect(clips[name]) == []
        assert detect(clips[name], mirror_width=640.0) == []


def synthetic_j(gap_s: float) -> list[MotionLetter | None]:
    """An I hand (palm 50 px) moving down 4 palm sizes in 0.6 s, then after `gap_s` without a hand sideways
    2 palm sizes and up 1: a J's hook, with the rule's own geometry rather than a clip's."""
    detector = MotionLetters()
    hand = np.zeros((21, 3), np.float32)
    hand[[5, 9, 13, 17], 1] = -50.0
    hand[20] = (0.0, -100.0, 0.0)  # only the little finger out: the I shape
    hand[[8, 12, 16]] = (0.0, -40.0, 0.0)
    results = [detector.update(hand + np.array([0.0, 10.0 * k, 0.0]), 1.0, 0.03 * k) for k in range(21)]
    results.append(detector.update(None, 1.0, 0.6 + gap_s / 2))
    results += [detector.update(hand + np.array([10.0 * k, 200.0 - 5.0 * k, 0.0]), 1.0, 0.6 + gap_s + 0.03 * k)
                for k in range(1, 11)]
    return results


def test_a_gap_without_a_hand_breaks_the_trajectory() -> None:
    found = [r for r in synthetic_j(gap_s=0.1) if r is not None]  # a short dropout (blur) is bridged
    assert [r.letter for r in found] == ["J"]
    assert all(r is None for r in synthetic_j(gap_s=0.5))  # two fragments, neither a J
