"""Smoother and Speller on synthetic probability sequences with explicit timestamps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asl_edge.errors import AslEdgeError
from asl_edge.runtime.live.spelling import MAX_GAP_S, Smoother, Speller
from asl_edge.runtime.live.transcript import Transcript

LABELS = ("A", "B", "C", "del", "nothing", "space")


def onehot(label: str, confidence: float = 0.95) -> np.ndarray:
    probs = np.full(len(LABELS), (1 - confidence) / (len(LABELS) - 1), np.float32)
    probs[LABELS.index(label)] = confidence
    return probs


def spell(sequence: list[tuple[str, int]], fps: float = 10.0, **options: Any) -> tuple[str, Speller]:
    """Feed (label, frames) runs at `fps`; a label of '?' is an unsure frame (flat probabilities)."""
    speller = Speller(LABELS, **options)
    index = 0
    for label, count in sequence:
        for _ in range(count):
            probs = np.full(len(LABELS), 1 / len(LABELS), np.float32) if label == "?" else onehot(label)
            speller.update(probs, index / fps)
            index += 1
    return speller.text, speller


def test_letter_is_added_only_after_the_hold_time() -> None:
    assert spell([("A", 5)], hold_s=0.5)[0] == ""  # 0.0..0.4 s: held 0.4 s
    assert spell([("A", 6)], hold_s=0.5)[0] == "A"  # 0.0..0.5 s


def test_holding_longer_adds_the_letter_once() -> None:
    assert spell([("A", 60)])[0] == "A"


def test_repeated_letter_needs_the_hand_to_leave_first() -> None:
    assert spell([("A", 8), ("nothing", 4), ("A", 8)])[0] == "AA"
    assert spell([("A", 8), ("?", 4), ("A", 8)])[0] == "AA"  # hand out of the box: no confident label
    assert spell([("A", 8), ("B", 8), ("A", 8)])[0] == "ABA"


def test_a_flicker_shorter_than_the_release_time_is_not_leaving() -> None:
    assert spell([("A", 8), ("nothing", 1), ("A", 8)], release_s=0.15)[0] == "A"


def test_low_confidence_and_nothing_never_add_text() -> None:
    assert spell([("nothing", 50), ("?", 50)])[0] == ""
    speller = Speller(LABELS, threshold=0.97)
    for i in range(20):
        speller.update(onehot("A", 0.95), i / 10)
    assert speller.text == "" and speller.candidate is None and speller.confidence == pytest.approx(0.95)


def test_space_and_delete_edit_the_text() -> None:
    sequence = [("A", 8), ("nothing", 3), ("space", 8), ("nothing", 3), ("space", 8), ("nothing", 3), ("B", 8),
                ("nothing", 3), ("C", 8), ("nothing", 3), ("del", 8)]
    assert spell(sequence)[0] == "A B"  # no double space; del removed C
    assert spell([("space", 8), ("del", 8)])[0] == ""  # no leading space; del on empty text is harmless


def test_hold_is_measured_in_frame_time_not_frame_count() -> None:
    # The same 0.7 s of "A" at 30 FPS and at 5 FPS both commit; 0.4 s at 30 FPS does not.
    assert spell([("A", 22)], fps=30)[0] == "A"
    assert spell([("A", 4)], fps=5)[0] == "A"
    assert spell([("A", 12)], fps=30)[0] == ""


def test_hold_progress_and_clear() -> None:
    speller = Speller(LABELS, hold_s=1.0)
    speller.update(onehot("A"), 0.0)
    speller.update(onehot("A"), 0.5)
    assert speller.hold_progress == pytest.approx(0.5)
    speller.update(onehot("A"), 1.0)
    assert speller.text == "A" and speller.hold_progress == 0.0  # locked: nothing more to wait for
    speller.clear()
    assert speller.text == ""


def test_timestamps_going_back_restart_the_hold() -> None:
    speller = Speller(LABELS, hold_s=0.5)
    speller.update(onehot("A"), 10.0)
    speller.update(onehot("A"), 0.1)  # a reconnected camera or a looped file
    speller.update(onehot("A"), 0.4)
    assert speller.text == ""
    speller.update(onehot("A"), 0.6)
    assert speller.text == "A"


@pytest.mark.parametrize("options", [{"threshold": 0.0}, {"threshold": 1.5}, {"hold_s": -1.0}, {"release_s": -0.1},
                                     {"max_chars": 0}])
def test_bad_speller_options_are_user_errors(options: dict[str, Any]) -> None:
    with pytest.raises(AslEdgeError):
        Speller(LABELS, **options)


def test_mean_smoother_averages_the_last_window() -> None:
    smoother = Smoother(3, window=2)
    np.testing.assert_allclose(smoother.update(np.array([1, 0, 0], np.float32)), [1, 0, 0])
    np.testing.assert_allclose(smoother.update(np.array([0, 1, 0], np.float32)), [0.5, 0.5, 0])
    np.testing.assert_allclose(smoother.update(np.array([0, 0, 1], np.float32)), [0, 0.5, 0.5])
    smoother.reset()
    np.testing.assert_allclose(smoother.update(np.array([0, 0, 1], np.float32)), [0, 0, 1])


def test_mean_smoother_matches_a_plain_moving_average() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(6), size=200).astype(np.float32)
    smoother = Smoother(6, window=5)
    for i, p in enumerate(probs):
        expected = probs[max(0, i - 4):i + 1].mean(axis=0)
        np.testing.assert_allclose(smoother.update(p), expected, atol=1e-5)


def test_ema_smoother() -> None:
    smoother = Smoother(2, window=3, method="ema")  # alpha 0.5
    np.testing.assert_allclose(smoother.update(np.array([1, 0], np.float32)), [1, 0])
    np.testing.assert_allclose(smoother.update(np.array([0, 1], np.float32)), [0.5, 0.5])
    np.testing.assert_allclose(smoother.update(np.array([0, 1], np.float32)), [0.25, 0.75])


def test_smoothing_suppresses_a_single_wrong_frame() -> None:
    speller, smoother = Speller(LABELS, threshold=0.6), Smoother(len(LABELS), window=5)
    frames = ["A"] * 4 + ["B"] + ["A"] * 4
    for i, label in enumerate(frames):
        speller.update(smoother.update(onehot(label)), i / 10)
    assert speller.text == "A"


@pytest.mark.parametrize("options", [{"window": 0}, {"method": "median"}])
def test_bad_smoother_options_are_user_errors(options: dict[str, object]) -> None:
    with pytest.raises(AslEdgeError):
        Smoother(4, **options)  # type: ignore[arg-type]


def test_hold_is_measured_in_frame_time_whatever_the_frame_rate() -> None:
    # 0.6 s of A at 5 FPS (4 frames) is held; 0.4 s at 30 FPS (13 frames) is not.
    speller = Speller(LABELS, hold_s=0.5)
    times = [0.0, 0.2, 0.4, 0.6]
    assert [speller.update(onehot("A"), t) for t in times][-1] is not None
    fast = Speller(LABELS, hold_s=0.5)
    assert all(fast.update(onehot("A"), i / 30) is None for i in range(13))


def test_a_gap_between_frames_restarts_the_hold_and_the_smoothing_window() -> None:
    speller = Speller(LABELS, hold_s=0.5)
    speller.update(onehot("A"), 0.0)
    speller.update(onehot("A"), 0.4)
    # The stream stalled; the first frame after the gap does not complete a hold that began before it.
    assert speller.update(onehot("A"), 0.4 + MAX_GAP_S + 0.1) is None and speller.text == ""
    smoother = Smoother(2, window=3)
    smoother.update(np.array([1, 0], np.float32), 0.0)
    np.testing.assert_allclose(smoother.update(np.array([0, 1], np.float32), 0.1), [0.5, 0.5])
    np.testing.assert_allclose(smoother.update(np.array([0, 1], np.float32), 0.1 + MAX_GAP_S + 0.1), [0, 1])


def test_text_keeps_its_tail_and_the_transcript_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "spelled.txt"
    path.write_text("an earlier run")  # kept; this run starts on its own line
    transcript = Transcript(path)
    speller = Speller(LABELS, hold_s=0.0, release_s=0.0, max_chars=4, on_scroll=transcript.scroll)
    t, full = 0.0, ""
    for label in ["A", "B", "C", "A", "B", "del", "C", "C", "A"]:
        for step in ("nothing", label):  # leave between letters so repeats count
            t += 0.1
            if speller.update(onehot(step), t) is not None:
                transcript.update(speller.text)
        full = full[:-1] if label == "del" else full + label
        assert len(speller.text) <= 4 and full.endswith(speller.text)
        assert path.read_text() == "an earlier run\n" + full  # on disk after every commit: nothing lost
    assert speller.text == "ACCA" and speller.scrolled == 3  # A, B, C scrolled off
    transcript.close(speller.text)
    assert path.read_text() == "an earlier run\nABCACCA\n"
    with pytest.raises(AslEdgeError, match="is a folder"):
        Transcript(tmp_path)
