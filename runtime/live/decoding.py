"""The fingerspelling decoder's interface: per-frame letter probabilities and the hand in, committed letters out.

A decoder sits between the hand chain and the text. Each frame it receives the classifier's probabilities
(num_labels,) float32, the hand's landmarks (21, 3) float32 in frame pixels (x right, y down, z relative depth
at the x scale) or None when no hand was found, the hand's handedness (probability of a right hand in the
unmirrored frame) and the frame's own time in seconds (see frames.py). It returns the commits that frame
caused. Time constants are seconds of source time, never frame counts, so a decoder behaves the same from
10 to 60 fps and whether the machine keeps up or not.

`HoldDecoder` is the hold-to-commit speller (a letter held still for `hold_s`); `FingerspellingDecoder`
(fingerspelling.py), the default, reads signing at natural and at teaching speed.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from asl_edge.errors import AslEdgeError
from asl_edge.runtime.live.spelling import (
    DEFAULT_HOLD_S,
    DEFAULT_RELEASE_S,
    DEFAULT_THRESHOLD,
    Commit,
    Smoother,
    Speller,
)
from asl_edge.spec import NOTHING

if TYPE_CHECKING:
    from asl_edge.runtime.hand.tracker import Hand
    from asl_edge.runtime.live.motion import MotionConfig

PHASES = ("no hand", "moving", "holding")
NEUTRAL_HANDEDNESS = 0.5  # what a decoder is told about handedness when there is no hand
# auto: fingerspelling behind the hand stage; hold for the fixed box, where no landmarks tell a hand from none
DECODERS = ("auto", "fingerspelling", "hold")  # the names make_decoder knows (the CLI's --decoder choices)
DEFAULT_DECODER = "auto"


def hand_inputs(hand: Hand | None) -> tuple[np.ndarray | None, float]:
    """What `Decoder.update` is told of a frame's hand: its (21, 3) landmarks and handedness, or (None,
    NEUTRAL_HANDEDNESS) without one."""
    return (None, NEUTRAL_HANDEDNESS) if hand is None else (hand.landmarks, hand.handedness)


class Decoder(abc.ABC):
    """Committed text from a stream of frames. `text` keeps the spelled text's tail (spelling.TEXT_LIMIT)."""

    labels: tuple[str, ...]

    @abc.abstractmethod
    def update(self, probs: np.ndarray, landmarks: np.ndarray | None, handedness: float,
               timestamp: float) -> list[Commit]:
        """One frame in; the commits it caused (usually none), oldest first."""

    def finish(self, timestamp: float) -> list[Commit]:
        """The stream ended at `timestamp`: commit whatever a letter in progress has earned (default: nothing)."""
        return []

    @abc.abstractmethod
    def clear(self) -> None:
        """Empty the text (the view's `c` key); what is being signed goes on."""

    @property
    @abc.abstractmethod
    def text(self) -> str: ...

    @property
    @abc.abstractmethod
    def letter(self) -> str | None:
        """The letter the decoder currently sees (None: no hand, nothing confident)."""

    @property
    @abc.abstractmethod
    def confidence(self) -> float:
        """0..1: how sure the decoder is of `letter`."""

    @property
    def phase(self) -> str:
        """One of PHASES: what the hand is doing now."""
        return "no hand"

    @property
    def progress(self) -> float:
        """0..1: how far `letter` is towards being committed (the overlay's ring)."""
        return 0.0

    @property
    def smoothed(self) -> np.ndarray | None:
        """The probabilities behind `letter` (num_labels,), for the top-3 display; None before the first frame."""
        return None


class HoldDecoder(Decoder):
    """Hold to commit: the smoothed top label above `threshold` for `hold_s` seconds is a letter (spelling.Speller).

    For posed letters held still, one at a time: teaching a letter, testing a handshape, a signer who holds
    each letter on purpose. It ignores the hand's motion."""

    def __init__(self, labels: Sequence[str], threshold: float = DEFAULT_THRESHOLD, hold_s: float = DEFAULT_HOLD_S,
                 release_s: float = DEFAULT_RELEASE_S, window: int = 5, smoothing: str = "mean",
                 on_scroll: Callable[[str], None] | None = None) -> None:
        self.labels = tuple(labels)
        self._smoother = Smoother(len(self.labels), window, smoothing)
        self._speller = Speller(self.labels, threshold, hold_s, release_s, on_scroll=on_scroll)
        self._smoothed: np.ndarray | None = None
        self._hand = False

    def update(self, probs: np.ndarray, landmarks: np.ndarray | None, handedness: float,
               timestamp: float) -> list[Commit]:
        self._hand = landmarks is not None
        self._smoothed = self._smoother.update(probs, timestamp)
        commit = self._speller.update(self._smoothed, timestamp)
        return [] if commit is None else [commit]

    def clear(self) -> None:
        self._speller.clear()

    @property
    def text(self) -> str:
        return self._speller.text

    @property
    def letter(self) -> str | None:
        candidate = self._speller.candidate
        return None if candidate == NOTHING else candidate

    @property
    def confidence(self) -> float:
        return self._speller.confidence

    @property
    def phase(self) -> str:
        return "holding" if self._hand and self.letter is not None else ("moving" if self._hand else "no hand")

    @property
    def progress(self) -> float:
        return self._speller.hold_progress

    @property
    def smoothed(self) -> np.ndarray | None:
        return self._smoothed


@dataclass(frozen=True)
class SpellingConfig:
    """The hold decoder's settings (the CLI's spelling options): `threshold` 0..1 of the smoothed
    probability, `hold_s` / `release_s` seconds of source time, `window` frames averaged, `smoothing` one of
    spelling.SMOOTHING_METHODS. The fingerspelling decoder takes its time constants from the signer's pace
    and needs none of them; they are checked whatever the decoder, so a typo never passes silently. Raises
    AslEdgeError for a value that cannot work."""

    threshold: float = DEFAULT_THRESHOLD
    hold_s: float = DEFAULT_HOLD_S
    release_s: float = DEFAULT_RELEASE_S
    window: int = 5
    smoothing: str = "mean"

    def __post_init__(self) -> None:
        # The hold decoder's own checks, with its messages.
        Smoother(1, self.window, self.smoothing)
        Speller(("A",), self.threshold, self.hold_s, self.release_s)


def resolve_decoder(mode: str, hand_stage: bool = True) -> str:
    """The decoder `mode` names: "auto" is fingerspelling behind the hand stage, else hold."""
    return ("fingerspelling" if hand_stage else "hold") if mode == "auto" else mode


def make_decoder(mode: str, labels: Sequence[str], config: SpellingConfig | None = None, hand_stage: bool = True,
                 on_scroll: Callable[[str], None] | None = None, motion: MotionConfig | None = None) -> Decoder:
    """A new decoder `mode` (one of DECODERS) for a classifier with `labels` (its output order); "auto" is the
    fingerspelling decoder when `hand_stage` gives it landmarks, else hold. `on_scroll` receives text that
    scrolls off the kept tail (a transcript); `motion` the J/Z thresholds (a motion profile's; None: the defaults).
    Raises AslEdgeError for an unknown mode."""
    config = config or SpellingConfig()
    mode = resolve_decoder(mode, hand_stage)
    if mode == "hold":
        return HoldDecoder(labels, config.threshold, config.hold_s, config.release_s, config.window,
                           config.smoothing, on_scroll=on_scroll)
    if mode == "fingerspelling":
        from asl_edge.runtime.live.fingerspelling import FingerspellingDecoder

        if not hand_stage:
            raise AslEdgeError("--decoder fingerspelling reads the hand's landmarks, which the fixed box (--hand off) "
                               "does not give; use --decoder hold (or auto) with the fixed box")

        return FingerspellingDecoder(labels, on_scroll=on_scroll, motion_config=motion)
    raise AslEdgeError(f"unknown decoder {mode!r}; choose one of {', '.join(DECODERS)}")
