"""What the live pipeline knows after each frame: the one state the overlay, the web view and tests read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asl_edge.runtime.hand.tracker import Hand

# The keys of LiveState.to_dict(), the web view's contract.
STATE_KEYS = ("text", "letter", "confidence", "phase", "suggestion", "top3", "fps", "stages_ms", "status",
              "frame_index")


@dataclass
class LiveState:
    text: str = ""  # spelled so far
    letter: str | None = None  # the letter the decoder sees now (None: no hand / unsure)
    confidence: float = 0.0  # the decoder's confidence in `letter`
    phase: str = "no hand"  # what the hand does: decoding.PHASES ("no hand", "moving", "holding")
    suggestion: str | None = None  # the likely word for the word being spelled (beside the raw letters)
    top3: list[tuple[str, float]] = field(default_factory=list)
    fps: float = 0.0
    stages_ms: dict[str, float] = field(default_factory=dict)  # the previous frame's stage times
    status: str = ""  # e.g. "camera lost - reconnecting in 2 s"; empty when all is well
    frame_index: int = 0
    hold: float = 0.0  # overlay only: 0..1 progress of the current letter towards being committed
    # overlay only: the hand the hand stage found (landmarks, box), None without one or without a hand stage
    hand: Hand | None = None
    hand_stage: bool = False  # overlay only: the hand stage runs, so "no hand" is worth saying

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able dict the web view publishes (exactly STATE_KEYS)."""
        return {
            "text": self.text,
            "letter": self.letter,
            "confidence": round(float(self.confidence), 4),
            "phase": self.phase,
            "suggestion": self.suggestion,
            "top3": [[label, round(float(prob), 4)] for label, prob in self.top3],
            "fps": round(float(self.fps), 2),
            "stages_ms": {name: round(float(ms), 3) for name, ms in self.stages_ms.items()},
            "status": self.status,
            "frame_index": int(self.frame_index),
        }
