"""From per-frame probabilities to spelled text: temporal smoothing and a hold-to-commit speller.

Pure logic over numpy arrays and timestamps, so a video file spells the same word however fast the
machine processes it: hold times are measured in source time (the frame timestamps), not wall time.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    def reset(self) -> None:
        self._filled = 0
        self._next = 0
        self._sum[:] = 0.0

    def update(self, probs: np.ndarray) -> np.ndarray:
        """The smoothed vector after adding `probs`; a buffer owned by the smoother (copy to keep it)."""
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


class Commit(NamedTuple):
    """One edit of the text: the label that was held, and the text after it."""

    label: str
    text: str
    timestamp: float


class Speller:
    """Adds a letter once the smoothed top label has stayed at or above `threshold` for `hold_s` seconds.

    - `nothing` (and any frame below the threshold) never edits the text; it lets the hand "leave".
    - `space` adds one space (never a leading or double one); `del` removes the last character.
    - A label that was just committed is locked: holding it longer adds nothing. The lock is released
      once something else (another label, `nothing`, or no confident label) has lasted `release_s`
      seconds, so a double letter needs the hand to leave or change between the two, and a one-frame
      flicker does not count as leaving.
    """

    def __init__(self, labels: Sequence[str], threshold: float = DEFAULT_THRESHOLD, hold_s: float = DEFAULT_HOLD_S,
                 release_s: float = DEFAULT_RELEASE_S) -> None:
        if not 0.0 < threshold <= 1.0:
            raise AslEdgeError(f"confidence threshold (--threshold) {threshold} must be in (0, 1]")
        if hold_s < 0:
            raise AslEdgeError(f"hold time (--hold) {hold_s} s must not be negative")
        if release_s < 0:
            raise AslEdgeError(f"release time {release_s} s must not be negative")
        self.labels = tuple(labels)
        self.threshold = threshold
        self.hold_s = hold_s
        self.release_s = release_s
        self.text = ""
        self.candidate: str | None = None  # the confident label of the current run, or None
        self.confidence = 0.0
        self._run_start = 0.0
        self._run_length = 0.0
        self._locked: str | None = None

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
        if candidate != self.candidate or timestamp < self._run_start:
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
        self.text = self._edit(self.text, candidate)
        return Commit(candidate, self.text, timestamp)

    @staticmethod
    def _edit(text: str, label: str) -> str:
        if label == SPACE:
            return text if not text or text.endswith(" ") else text + " "
        if label == DELETE:
            return text[:-1]
        return text + label
