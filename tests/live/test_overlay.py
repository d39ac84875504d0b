"""Overlay drawing, the state contract, and the cost of drawing one 640x480 frame."""

from __future__ import annotations

import json
import time

import numpy as np

from asl_edge.preprocess import Roi
from asl_edge.runtime.live.overlay import GREEN, GREY, RED, YELLOW, Overlay
from asl_edge.runtime.live.state import STATE_KEYS, LiveState


def sample_state(**changes: object) -> LiveState:
    state = LiveState(text="HELLO WORLD", letter="A", confidence=0.93, top3=[("A", 0.93), ("S", 0.04), ("E", 0.01)],
                      fps=29.7, stages_ms={"capture": 1.2, "preprocess": 0.2, "infer": 3.4, "postprocess": 0.05,
                                           "render": 0.4}, status="", frame_index=42, hold=0.5)
    for name, value in changes.items():
        setattr(state, name, value)
    return state


def test_state_dict_is_exactly_the_web_view_contract() -> None:
    data = sample_state().to_dict()
    assert tuple(data) == STATE_KEYS
    assert data["top3"] == [["A", 0.93], ["S", 0.04], ["E", 0.01]]
    assert json.loads(json.dumps(data)) == data
    assert LiveState().to_dict()["letter"] is None


def test_overlay_draws_box_hold_bar_panels_and_status() -> None:
    roi = Roi.centered_square(640, 480, 0.6)
    frame = np.full((480, 640, 3), 128, np.uint8)
    Overlay(roi).draw(frame, sample_state(status="camera lost - reconnecting in 2 s"))
    assert tuple(frame[roi.y + roi.height // 4, roi.x]) == GREEN  # left edge of the box (above the status band)
    bar_y = roi.y + roi.height + 6
    assert tuple(frame[bar_y, roi.x + 10]) == YELLOW and tuple(frame[bar_y, roi.x + roi.width - 10]) == (128,) * 3
    assert tuple(frame[240, 2]) == RED  # status band across the middle
    assert (frame[470, 300:600] == 64).any() and (frame[440:475, 10:200] > 200).any()  # darkened panel, text
    unsure = np.full((480, 640, 3), 128, np.uint8)
    Overlay(roi).draw(unsure, sample_state(letter=None, hold=0.0))
    assert tuple(unsure[roi.y + 10, roi.x]) == GREY
    assert tuple(unsure[bar_y, roi.x + 10]) == (128,) * 3


def test_overlay_costs_well_under_a_millisecond_per_frame() -> None:
    overlay, state = Overlay(Roi.centered_square(640, 480, 0.6)), sample_state()
    frame = np.full((480, 640, 3), 100, np.uint8)
    times = []
    for _ in range(300):
        start = time.perf_counter()
        overlay.draw(frame, state)
        times.append((time.perf_counter() - start) * 1000)
    # Typically ~0.1 ms; the bound leaves room for a busy shared CI machine.
    assert float(np.median(times)) < 2.0
