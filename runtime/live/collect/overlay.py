"""Drawing a collect session onto the frame: the letter to sign and its handshape, the countdown, what the session
waits for (a hand, stillness), the hand skeleton, a progress bar per letter and the keys.

Same conventions as the live overlay (runtime/live/overlay.py): in place, OpenCV primitives, panels darkened by
halving their pixels, the layout scaled from a 480-line frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from asl_edge.runtime.hand.tracker import Hand
from asl_edge.runtime.live.collect.session import CollectSession
from asl_edge.runtime.live.handshapes import HANDSHAPES
from asl_edge.runtime.live.overlay import FONT, GREEN, GREY, WHITE, YELLOW, darken, draw_hand

KEYS_HELP = "r redo  s skip  q finish"
DESCRIPTION_CHARS = 52  # per line at 480 lines: the description wraps onto two lines


def status_line(session: CollectSession, t: float) -> str:
    """What the session is waiting for, in words (also the web page's status)."""
    if session.done:
        return "finished"
    if session.phase == "countdown":
        return f"get ready: recording in {session.countdown_display(t)}"
    if session.drawing:
        if not session.hand_seen:
            return "show your hand to the camera"
        if session.misread:
            return f"that read as {session.misread}: draw {session.letter}"
        return f"recording: draw {session.letter}"
    # What stops a sample, first match wins.
    waits = ((session.waiting_to_move_on, "still the last letter's handshape: lower your hand or form this letter"),
             (not session.hand_seen, "show your hand to the camera"),
             (session.off_shape, "not the shape of this letter's samples so far: form it again (r redoes a sample)"),
             (not session.steady, "hold still"))
    return next((text for blocked, text in waits if blocked), "recording")


def wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def draw_collect(frame: np.ndarray, session: CollectSession, hand: Hand | None, t: float,
                 interactive: bool = True) -> np.ndarray:
    """Draw the session's state on a BGR frame in place; `interactive` adds the keys line."""
    height, width = frame.shape[:2]
    k = height / 480.0
    line = max(1, round(k))
    if hand is not None:
        draw_hand(frame, hand, GREEN if session.steady else GREY, k, line)
    letter = session.letter
    # Top: the prompt.
    darken(frame, 0, 0, width, round(92 * k))
    if letter is not None:
        cv2.putText(frame, letter, (round(10 * k), round(70 * k)), FONT, 2.4 * k, WHITE, 3 * line, cv2.LINE_AA)
        for row, text in enumerate(wrap(HANDSHAPES[letter], DESCRIPTION_CHARS)[:2]):
            cv2.putText(frame, text, (round(90 * k), round((32 + 26 * row) * k)), FONT, 0.6 * k, WHITE, line,
                        cv2.LINE_AA)
    status = status_line(session, t)
    colour = GREEN if status.startswith("recording") else YELLOW
    cv2.putText(frame, status, (round(90 * k), round(84 * k)), FONT, 0.55 * k, colour, line, cv2.LINE_AA)
    if session.phase == "countdown":
        number = str(session.countdown_display(t))
        (text_w, text_h), _ = cv2.getTextSize(number, FONT, 4.0 * k, 6 * line)
        cv2.putText(frame, number, ((width - text_w) // 2, (height + text_h) // 2), FONT, 4.0 * k, YELLOW,
                    6 * line, cv2.LINE_AA)
    _draw_progress(frame, session, k, line, interactive)
    return frame


def _draw_progress(frame: np.ndarray, session: CollectSession, k: float, line: int, interactive: bool) -> None:
    """One cell per letter along the bottom: the letter over a bar filled by samples taken / asked."""
    height, width = frame.shape[:2]
    progress = session.progress()
    panel = round((60 if interactive else 42) * k)
    darken(frame, 0, height - panel, width, height)
    cell = width / max(len(progress), 1)
    for i, (name, taken, asked) in enumerate(progress):
        x0, x1 = round(i * cell + 2), round((i + 1) * cell - 2)
        current = name == session.letter
        cv2.putText(frame, name, (x0 + 2, height - panel + round(18 * k)), FONT, 0.5 * k,
                    YELLOW if current else WHITE, line, cv2.LINE_AA)
        bar_y = height - panel + round(26 * k)
        cv2.rectangle(frame, (x0, bar_y), (x1, bar_y + round(8 * k)), GREY, 1)
        filled = x0 + round((x1 - x0) * min(taken / asked, 1.0))
        if taken:
            cv2.rectangle(frame, (x0, bar_y), (filled, bar_y + round(8 * k)), GREEN, -1)
    if interactive:
        cv2.putText(frame, KEYS_HELP, (round(8 * k), height - round(8 * k)), FONT, 0.45 * k, GREY, line,
                    cv2.LINE_AA)

