"""From per-frame probabilities to spelled text: temporal smoothing and a hold-to-commit speller.

Pure logic over numpy arrays and timestamps, so a video file spells the same word however fast the
machine processes it: hold and release times are measured in source time (the frame timestamps: container
time for files, grab time for cameras; see frames.py), not wall time and not frame counts, so a
variable-frame-rate source holds a letter exactly as long as it was shown. A gap longer than MAX_GAP_S
between two frames (a stalled stream, a cut in a file) empties the smoothing window and restarts the
current hold: what came before the gap says nothing about what comes after it.

Memory is flat however long a run lasts: the text keeps its last `max_chars` characters (older ones
scroll off, to `on_scroll`, e.g. a transcript file) and a Commit holds only the label and its time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from asl_edge.errors import AslEdgeError
from asl_edge.spec import DELETE, NOTHING, SPACE

SMOOTHING_METHODS = ("mean", "ema")
# The speller's defaults (the CLI's --threshold and --hold read them through PipelineConfig): a letter counts at
# 60 % smoothed confidence held for half a second, and a run ends after 0.15 s of something else, i.e. about
# two frames at the 10-15 fps of the live view, so a single flickering frame does not end it.
DEFAULT_THRESHOLD = 0.6
DEFAULT_HOLD_S = 0.5
DEFAULT_RELEASE_S = 0.15
MAX_GAP_S = 1.0  # seconds without a frame that break smoothing and holding
TEXT_LIMIT = 256  # characters of spelled text kept (and editable with `del`); older ones scroll off


class Smoother:
    """Mean of the last `window` probability vectors, or an exponential moving average (method='ema',
    alpha = 2 / (window + 1), the EMA with the same centre of mass as the window)."""

    def __init__(self, num_classes: int, window: int = 5, method: str = "mean") -> None:
        if method not in SMOOTHING_METHODS:
            raise AslEdgeError(f"unknown smoothing '{method}'; choose one of {', '.join(SMOOTHING_METHODS)}")
        if window < 1:
            raise AslEdgeError(f"smoothing window (--smooth) {window} must be at least 1 frame")
        self.method = method
        self.window = window
        self.alpha = 2.0 / (window + 1)
        self._history = np.zeros((window, num_classes), np.float32)
        self._sum = np.zeros(num_classes, np.float64)
        self._out = np.zeros(num_classes, np.float32)
        self._filled = 0
        self._next = 0
        self._previous: float | None = None

    def reset(self) -> None:
        self._filled = 0
        self._next = 0
        self._sum[:] = 0.0

    def update(self, probs: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """The smoothed vector after adding `probs` (the frame's time in seconds, when given, lets a gap of
        more than MAX_GAP_S start a new window); a buffer owned by the smoother (copy to keep it)."""
        if timestamp is not None:
            if self._previous is not None and not 0 <= timestamp - self._previous <= MAX_GAP_S:
                self.reset()
            self._previous = timestamp
        if self.method == "ema":
            if self._filled == 0:
                self._out[:] = probs
                self._filled = 1
            else:
                self._out *= 1.0 - self.alpha
                self._out += self.alpha * probs
            return self._out
        # A running sum over a ring buffer: O(classes) per frame whatever the window.
        slot = self._history[self._next]
        if self._filled == self.window:
            self._sum -= slot
        else:
            self._filled += 1
        slot[:] = probs
        self._sum += slot
        self._next = (self._next + 1) % self.window
        np.divide(self._sum, self._filled, out=self._out, casting="unsafe")
        return self._out


def keep_tail(text: str, max_chars: int, on_scroll: Callable[[str], None] | None) -> tuple[str, int]:
    """`text`'s last `max_chars` characters, and how many were cut; the cut ones go to `on_scroll` first (a
    transcript keeps the whole text while memory stays flat)."""
    cut = max(0, len(text) - max_chars)
    if cut and on_scroll is not None:
        on_scroll(text[:cut])
    return text[cut:], cut


class Commit(NamedTuple):
    """One edit of the text: the label (a letter, `space` or `del`; `space` also when a word ends), the frame
    time (s) and the decoder's confidence in it (0..1)."""

    label: str
    timestamp: float
    confidence: float = 1.0


class Speller:
    """Adds a letter once the smoothed top label has stayed at or above `threshold` for `hold_s` seconds.

    - `nothing` (and any frame below the threshold) never edits the text; it lets the hand "leave".
    - `space` adds one space (never a leading or double one); `del` removes the last character.
    - A label that was just committed is locked: holding it longer adds nothing. The lock is released
      once something else (another label, `nothing`, or no confident label) has lasted `release_s`
      seconds, so a double letter needs the hand to leave or change between the two, and a one-frame
      flicker does not count as leaving.
    - `text` keeps the last `max_chars` characters; each character that scrolls off goes to `on_scroll`
      (if set) first, so a transcript can keep the whole text while memory stays flat.
    """

    def __init__(self, labels: Sequence[str], threshold: float = DEFAULT_THRESHOLD, hold_s: float = DEFAULT_HOLD_S,
                 release_s: float = DEFAULT_RELEASE_S, max_chars: int = TEXT_LIMIT,
                 on_scroll: Callable[[str], None] | None = None) -> None:
        if not 0.0 < threshold <= 1.0:
            raise AslEdgeError(f"confidence threshold (--threshold) {threshold} must be in (0, 1]")
        if not (hold_s >= 0 and math.isfinite(hold_s)):
            raise AslEdgeError(f"hold time (--hold) {hold_s} s must be a finite number of seconds, not negative")
        if release_s < 0:
            raise AslEdgeError(f"release time {release_s} s must not be negative")
        if max_chars < 1:
            raise AslEdgeError(f"text limit {max_chars} must be at least 1 character")
        self.labels = tuple(labels)
        self.threshold = threshold
        self.hold_s = hold_s
        self.release_s = release_s
        self.max_chars = max_chars
        self.on_scroll = on_scroll
        self.scrolled = 0  # characters that scrolled off the front of `text`
        self.text = ""
        self.candidate: str | None = None  # the confident label of the current run, or None
        self.confidence = 0.0
        self._run_start = 0.0
        self._run_length = 0.0
        self._locked: str | None = None
        self._previous: float | None = None

    def clear(self) -> None:
        self.text = ""
        self._locked = None

    @property
    def hold_progress(self) -> float:
        """0..1: how far the current candidate is towards being committed (0 when it cannot be)."""
        if self.candidate in (None, NOTHING, self._locked):
            return 0.0
        return 1.0 if self.hold_s == 0 else min(1.0, self._run_length / self.hold_s)

    def update(self, probs: np.ndarray, timestamp: float) -> Commit | None:
        top = int(np.argmax(probs))
        self.confidence = float(probs[top])
        candidate = self.labels[top] if self.confidence >= self.threshold else None
        gap = self._previous is not None and timestamp - self._previous > MAX_GAP_S
        self._previous = timestamp
        if candidate != self.candidate or timestamp < self._run_start or gap:
            self.candidate = candidate
            self._run_start = timestamp
        self._run_length = timestamp - self._run_start
        if self._locked is not None and candidate != self._locked and self._run_length >= self.release_s:
            self._locked = None
        if candidate is None or candidate in (NOTHING, self._locked):
            return None
        if self._run_length < self.hold_s:
            return None
        self._locked = candidate
        self.text, cut = keep_tail(self._edit(self.text, candidate), self.max_chars, self.on_scroll)
        self.scrolled += cut
        return Commit(candidate, timestamp, self.confidence)

    @staticmethod
    def _edit(text: str, label: str) -> str:
        if label == SPACE:
            return text if not text or text.endswith(" ") else text + " "
        if label == DELETE:
            return text[:-1]
        return text + label
