"""Drawing the live state onto a frame: hand skeleton and box (or the fixed ROI box) with the letter's progress,
letter, confidence, top-3, whether the hand is holding or moving, spelled text, word suggestion, FPS, stage
times and status.

Everything is drawn in place with OpenCV primitives on the frame itself; panels are darkened by halving
their pixels in place (no blending copies), so one 640x480 frame costs a fraction of a millisecond.
"""

from __future__ import annotations

import cv2
import numpy as np

from asl_edge.preprocess import Roi
from asl_edge.runtime.hand.tracker import HAND_CONNECTIONS, Hand
from asl_edge.runtime.live.state import LiveState

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)
GREEN = (80, 220, 80)
YELLOW = (60, 220, 240)
GREY = (180, 180, 180)
RED = (40, 40, 230)
STAGE_ABBREVIATIONS = {"capture": "cap", "detect": "det", "landmarks": "lmk", "preprocess": "pre", "infer": "inf",
                       "postprocess": "post",
                       "render": "draw"}
TEXT_CHARS_SHOWN = 28


def darken(frame: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """Halve the pixels of a rectangle in place: the dim panel behind overlay text."""
    region = frame[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)]
    np.right_shift(region, 1, out=region)


class Overlay:
    """Draws on frames of one size; the layout scales with the frame height (designed at 480)."""

    def __init__(self, roi: Roi | None) -> None:
        self.roi = roi

    def draw(self, frame: np.ndarray, state: LiveState) -> np.ndarray:
        height, width = frame.shape[:2]
        k = height / 480.0
        line = max(1, round(k))
        # Top left: the current letter, its confidence and the top-3.
        darken(frame, 0, 0, round(170 * k), round(172 * k))
        letter = state.letter or "-"
        cv2.putText(frame, letter, (round(10 * k), round(60 * k)), FONT, 1.8 * k, WHITE, 2 * line, cv2.LINE_AA)
        cv2.putText(frame, f"{state.confidence:4.0%}", (round(110 * k), round(55 * k)), FONT, 0.7 * k, WHITE,
                    line, cv2.LINE_AA)
        for row, (label, prob) in enumerate(state.top3[:3]):
            cv2.putText(frame, f"{label:<8}{prob:5.2f}", (round(10 * k), round((90 + 22 * row) * k)), FONT,
                        0.55 * k, GREY, line, cv2.LINE_AA)
        # Top right: FPS and the previous frame's stage times.
        x_right = width - round(150 * k)
        rows = 1 + len(state.stages_ms)
        darken(frame, x_right - round(6 * k), 0, width, round((10 + 20 * rows) * k))
        cv2.putText(frame, f"FPS {state.fps:5.1f}", (x_right, round(22 * k)), FONT, 0.55 * k, WHITE, line,
                    cv2.LINE_AA)
        for row, (stage, ms) in enumerate(state.stages_ms.items(), start=1):
            name = STAGE_ABBREVIATIONS.get(stage, stage[:5])
            cv2.putText(frame, f"{name:<5}{ms:6.1f} ms", (x_right, round((22 + 20 * row) * k)), FONT, 0.5 * k,
                        GREY, line, cv2.LINE_AA)
        # Bottom: the spelled text, its tail when long, with a cursor; the word suggestion above it, never
        # instead of it (fingerspelling is for names and new words).
        panel = 48 + (26 if state.suggestion else 0)
        darken(frame, 0, height - round(panel * k), width, height)
        text = state.text[-TEXT_CHARS_SHOWN:] + "_"
        cv2.putText(frame, text, (round(12 * k), height - round(14 * k)), FONT, 1.0 * k, WHITE, 2 * line,
                    cv2.LINE_AA)
        if state.suggestion:
            cv2.putText(frame, f"word? {state.suggestion}", (round(12 * k), height - round(52 * k)), FONT, 0.6 * k,
                        YELLOW, line, cv2.LINE_AA)
        if state.hand_stage:
            self._draw_hand(frame, state, k, line)
        else:
            self._draw_roi(frame, state, k)  # after the panels, so none of them dims it
        if state.status:
            self._draw_status(frame, state.status, k, line)
        return frame

    def _draw_roi(self, frame: np.ndarray, state: LiveState, k: float) -> None:
        if self.roi is None:
            return
        x, y, w, h = self.roi
        colour = GREEN if state.letter else GREY
        cv2.rectangle(frame, (x, y), (x + w - 1, y + h - 1), colour, max(2, round(2 * k)))
        if state.hold > 0:
            bar_y = min(frame.shape[0] - 1, y + h + round(4 * k))
            cv2.rectangle(frame, (x, bar_y), (x + round((w - 1) * min(state.hold, 1.0)), bar_y + round(6 * k)),
                          YELLOW, -1)

    @staticmethod
    def _draw_hand(frame: np.ndarray, state: LiveState, k: float, line: int) -> None:
        """The hand skeleton and its box, with the hold bar under the box; "no hand" when there is none."""
        if state.hand is None:
            cv2.putText(frame, "no hand", (round(10 * k), round(162 * k)), FONT, 0.55 * k, YELLOW, line, cv2.LINE_AA)
            return
        cv2.putText(frame, state.phase, (round(10 * k), round(162 * k)), FONT, 0.55 * k,
                    GREEN if state.phase == "holding" else YELLOW, line, cv2.LINE_AA)
        colour = GREEN if state.letter else GREY
        x0, _, x1, y1 = draw_hand(frame, state.hand, colour, k, line)
        if state.hold > 0:
            bar_y = min(frame.shape[0] - 1, y1 + round(4 * k))
            cv2.rectangle(frame, (x0, bar_y), (x0 + round((x1 - x0) * min(state.hold, 1.0)), bar_y + round(6 * k)),
                          YELLOW, -1)

    @staticmethod
    def _draw_status(frame: np.ndarray, status: str, k: float, line: int) -> None:
        height, width = frame.shape[:2]
        (text_w, text_h), _ = cv2.getTextSize(status, FONT, 0.7 * k, 2 * line)
        y_mid = height // 2
        cv2.rectangle(frame, (0, y_mid - text_h - round(12 * k)), (width, y_mid + round(12 * k)), RED, -1)
        cv2.putText(frame, status, (max(4, (width - text_w) // 2), y_mid), FONT, 0.7 * k, WHITE, 2 * line,
                    cv2.LINE_AA)


def draw_hand(frame: np.ndarray, hand: Hand, colour: tuple[int, int, int], k: float = 1.0,
              line: int = 1) -> tuple[int, int, int, int]:
    """Draw a hand's skeleton, landmarks and box in place (k: scale of a 480-line frame); returns the box
    (x0, y0, x1, y1) in pixels."""
    points = np.round(hand.landmarks[:, :2]).astype(np.int32)
    for a, b in HAND_CONNECTIONS:
        cv2.line(frame, tuple(points[a]), tuple(points[b]), colour, max(1, round(2 * k)), cv2.LINE_AA)
    for point in points:
        cv2.circle(frame, tuple(point), max(2, round(3 * k)), RED, -1, cv2.LINE_AA)
    x0, y0, x1, y1 = (round(v) for v in hand.box)
    cv2.rectangle(frame, (x0, y0), (x1, y1), colour, line)
    return x0, y0, x1, y1
