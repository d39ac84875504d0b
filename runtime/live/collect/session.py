"""The guided session of `asl-edge collect` as a state machine on frame time: which letter, counting down or
recording, and when a frame becomes a sample. No I/O: `loop.py` feeds it frames and writes what it asks for.

For each letter: a countdown of `countdown_s` seconds (time to form the handshape), then recording: a sample is
taken on a frame where a hand is found and steady (`SteadyGate`), at most one per `interval_s`, until `samples`
are taken; then the next letter. Times are the frames' own timestamps (a video file's position, a camera's
capture time), so a file gives the same samples on every run.

Two guards keep a letter's samples its own (issue 21 item 1: played a recording of held letters, collect took
218 of 240 samples of the previous letter's hand, because a hand held still across a change of prompt stayed
"steady"):
- moving on: a new prompt records only after evidence that the signer moved on since it appeared: the hand
  left (no hand for LEFT_S) or its shape changed (shapes.CHANGED) from the one the previous letter ended on;
- coming back to the letter: once a letter has a sample this session, a hand that leaves (LEFT_S) and comes back
  is taken as that letter again only if its shape is within shapes.CHANGED of one of the letter's samples (a
  recording whose signer went on to the next letter before this one had its samples). While the hand stays in
  view its shape may drift or be re-formed: a signer's own variation of a letter can exceed CHANGED.

J and Z are motions: their sample is a stroke, not a frame. While one of them records, every frame goes to a
`MotionLetters` with collect's thresholds (motion_profile.COLLECT_MOTION: looser than the live defaults, since the
point is to learn this signer's stroke), and when it sees the letter asked for drawn, `update` returns True with
`stroke` holding the trajectory from STROKE_LEAD_S before the stroke's start to STROKE_TAIL_S after the frame
that completed it. The two guards above do
not apply to them: a drawn stroke is itself the evidence that the signer is signing the new prompt (J starts from
I's hand, so a J right after I would otherwise wait for the hand to leave).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

from asl_edge.errors import DataError
from asl_edge.runtime.hand.strokes import STROKE_LETTERS, Stroke
from asl_edge.runtime.live.collect.shapes import CHANGED, handshape, shape_distance
from asl_edge.runtime.live.handshapes import HANDSHAPES
from asl_edge.runtime.live.motion import MotionLetter, MotionLetters
from asl_edge.runtime.live.motion_profile import COLLECT_MOTION

WRIST, MIDDLE_MCP = 0, 9
# Steady: the 21 landmarks moved on average less than 0.06 palm sizes (the wrist-to-middle-knuckle distance) against
# every frame of the last 0.3 s. Measured with the bundled full hand models on the test video (photos held still,
# palm ~120 px at 640x480): the landmark noise of a still hand stays <= 0.02; windows that still hold the frame of a
# new pose read 0.06-0.25. Physiological tremor (well under a centimetre against a ~10 cm palm) fits in the margin;
# not measured here (no camera on this machine), so --steady can loosen it.
STEADY_THRESHOLD = 0.06
STEADY_WINDOW_S = 0.3
# Frame times of files are index / fps: 2.7 - 1.7 is 1.0000000000000002 but 0.3 * 3 is 0.8999999999999999, so
# durations are compared with this slack and "after 1 s" means the same frame however the product rounds.
TIME_EPS = 1e-6
# No hand for this long after a prompt appeared: the signer lowered the hand, i.e. moved on. Longer than a few
# frames the hand stage misses while a hand is in view (3 frames at 10 fps, 8 at 30).
LEFT_S = 0.25
# A stroke's file starts this long before the stroke itself: replayed through MotionLetters, the detector then sees
# the hand settle into the letter's shape first, as it does in live spelling.
STROKE_LEAD_S = 0.3
# ... and ends this long after the frame where collect's detector saw it (or at the first frame without a hand):
# that detector's looser thresholds fire while the last leg of a Z or the hook of a J is still being drawn.
STROKE_TAIL_S = 0.3


def palm_size(landmarks: np.ndarray) -> float:
    """Wrist-to-middle-MCP distance of (21, 3) pixel landmarks, in pixels: the unit of steadiness, so the
    threshold holds for a hand near or far from the camera."""
    return float(np.linalg.norm(landmarks[MIDDLE_MCP, :2] - landmarks[WRIST, :2]))


class SteadyGate:
    """Movement of a hand over the last `window_s` seconds of frame time, in palm sizes.

    `update(t, landmarks)` returns the largest mean landmark displacement between this frame and any frame of the
    window, divided by this frame's palm size; None until a hand has been seen for a whole window (a lost hand, or
    time going backwards, starts over)."""

    def __init__(self, window_s: float = STEADY_WINDOW_S) -> None:
        self.window_s = window_s
        self._history: deque[tuple[float, np.ndarray]] = deque()

    def reset(self) -> None:
        self._history.clear()

    def update(self, t: float, landmarks: np.ndarray | None) -> float | None:
        if landmarks is None or (self._history and t < self._history[-1][0]):
            self.reset()
            if landmarks is None:
                return None
        assert landmarks is not None
        points = landmarks[:, :2].astype(np.float32)
        self._history.append((t, points))
        # Keep one frame at or before the window's start: it proves the window is covered.
        while len(self._history) >= 2 and self._history[1][0] <= t - self.window_s + TIME_EPS:
            self._history.popleft()
        if self._history[0][0] > t - self.window_s + TIME_EPS:
            return None
        size = max(palm_size(landmarks), 1.0)
        return max(float(np.linalg.norm(old - points, axis=1).mean()) for _, old in self._history) / size


@dataclass(frozen=True)
class CollectConfig:
    """letters: what to prompt, in order; samples: new samples per letter this session; countdown_s, interval_s,
    steady (palm sizes), window_s: see the module docstring and SteadyGate."""

    letters: tuple[str, ...]
    samples: int = 10
    countdown_s: float = 3.0
    interval_s: float = 0.5
    steady: float = STEADY_THRESHOLD
    window_s: float = STEADY_WINDOW_S

    def __post_init__(self) -> None:
        if not self.letters:
            raise DataError("no letters to collect; pass --letters A,B,C")
        unknown = [letter for letter in self.letters if letter not in HANDSHAPES]
        if unknown:
            raise DataError(f"unknown letter(s) {', '.join(unknown)}: --letters takes A-Z separated by commas, "
                            "e.g. --letters A,M,N,T")
        if len(set(self.letters)) != len(self.letters):
            raise DataError(f"--letters {','.join(self.letters)} names a letter twice; name each once")
        for name, value, low in (("--samples", self.samples, 1), ("--countdown", self.countdown_s, 0),
                                 ("--interval", self.interval_s, 0), ("--steady", self.steady, 1e-6)):
            if not value >= low:
                raise DataError(f"{name} {value} must be at least {low:g}")


def hold_needed_s(config: CollectConfig) -> float:
    """How long a signer in a recording should hold each letter: the steady window, then one sample per interval,
    plus a second for the hand stage to settle. The countdown is not in it: it starts when the previous letter
    has its samples, while that letter is still held, and runs on through the gap between letters."""
    return config.window_s + (config.samples - 1) * config.interval_s + 1.0


@dataclass
class CollectSession:
    """Where the session is. Feed every frame to `update`; when it returns True, store the sample and call
    `recorded` with its id. `redo`, `skip` and `finish` are the user's keys and buttons."""

    config: CollectConfig
    index: int = 0  # into config.letters; len(letters) once done
    phase: str = "countdown"  # then "recording"; "done" at the end
    counts: dict[str, int] = field(default_factory=dict)  # samples taken this session per letter
    motion: float | None = None  # the last frame's SteadyGate value
    hand_seen: bool = False  # the last frame had a hand
    finished_by: str = ""  # once done: "all letters", "finish" (the user), or what the caller set ("end of source")
    _phase_start: float | None = None
    _last_sample: float | None = None
    _taken: list[tuple[str, str, np.ndarray]] = field(default_factory=list)  # (letter, id, shape) in order
    _gate: SteadyGate = field(init=False)
    _shape: np.ndarray | None = None  # the last frame's handshape (shapes.handshape), None without a hand
    _moved_from: np.ndarray | None = None  # the shape the last letter ended on, until the signer moves on
    _gone_since: float | None = None  # frame time since when no hand has been seen
    _came_back: bool = False  # the hand left while this letter had samples; cleared when it returns in its shape
    changed_early: set[str] = field(default_factory=set)  # letters whose hand changed shape before they were done
    stroke: Stroke | None = None  # set by `update` when it returns True for a motion letter: the stroke to store
    misread: str | None = None  # the other motion letter, when the last stroke drawn read as it
    # prompt -> the other motion letter drawn at it, kept past the prompt (misread is cleared with it) for the end
    # notes: a headless run never shows the status line that says so
    misreads: dict[str, str] = field(default_factory=dict)
    _strokes: MotionLetters | None = None  # while a motion letter records
    _trail: deque[tuple[float, np.ndarray | None, float]] = field(default_factory=deque)  # (t, landmarks, hand)
    _pending: tuple[MotionLetter, float] | None = None  # a stroke seen, and when: recording its tail

    def __post_init__(self) -> None:
        self._gate = SteadyGate(self.config.window_s)
        self.counts = {letter: 0 for letter in self.config.letters}

    @property
    def done(self) -> bool:
        return self.phase == "done"

    @property
    def letter(self) -> str | None:
        return None if self.done else self.config.letters[self.index]

    @property
    def drawing(self) -> bool:
        """The letter asked for is a motion (J, Z): its samples are strokes."""
        return self.letter in STROKE_LETTERS

    @property
    def steady(self) -> bool:
        return self.motion is not None and self.motion < self.config.steady

    @property
    def waiting_to_move_on(self) -> bool:
        """The prompt changed while the hand still showed the previous letter's shape: nothing is recorded until it
        leaves or changes."""
        return self._moved_from is not None and not self.done and not self.drawing

    @property
    def off_shape(self) -> bool:
        """The hand came back after leaving, in a shape unlike any of this letter's samples (it is not taken)."""
        shapes = self._letter_shapes()
        return (not self.drawing and self._came_back and self._shape is not None and bool(shapes)
                and float(shape_distance(self._shape, np.stack(shapes)).min()) > CHANGED)

    def countdown_left(self, t: float) -> float:
        """Seconds of countdown left at frame time t (0 outside the countdown)."""
        if self.phase != "countdown" or self._phase_start is None:
            return self.config.countdown_s if self.phase == "countdown" else 0.0
        return max(0.0, self.config.countdown_s - (t - self._phase_start))

    def update(self, t: float, landmarks: np.ndarray | None, handedness: float = 1.0) -> bool:
        """One frame at time t (seconds) with the hand's (21, 3) landmarks or None and its handedness (P(right));
        True: take this frame now, or for a motion letter store `stroke`."""
        self.stroke = None
        self.hand_seen = landmarks is not None
        self.motion = self._gate.update(t, landmarks)
        self._shape = None if landmarks is None else handshape(landmarks)[0]
        self._watch_for_moving_on(t)
        if self.done:
            return False
        if self._came_back and self._shape is not None and not self.off_shape:
            self._came_back = False  # the letter's own shape again: in view from here on, it may drift
        if self._phase_start is None or t < self._phase_start:
            self._phase_start = t
        if self.phase == "countdown" and t - self._phase_start + TIME_EPS >= self.config.countdown_s:
            self.phase, self._phase_start = "recording", t
        if self.drawing:
            return self.phase == "recording" and self._update_stroke(t, landmarks, handedness)
        if self.phase == "recording" and self.steady and not self.waiting_to_move_on and self.off_shape:
            self.changed_early.add(self.config.letters[self.index])
        if self.phase != "recording" or not self.steady or self.waiting_to_move_on or self.off_shape:
            return False
        return self._last_sample is None or t - self._last_sample + TIME_EPS >= self.config.interval_s

    def _update_stroke(self, t: float, landmarks: np.ndarray | None, handedness: float) -> bool:
        if self._strokes is None:  # recording just started: strokes drawn during the countdown do not count
            self._strokes, self.misread, self._pending = MotionLetters(COLLECT_MOTION), None, None
            self._trail.clear()
        self._trail.append((t, None if landmarks is None else np.asarray(landmarks, np.float32), handedness))
        while self._trail and self._trail[0][0] < t - COLLECT_MOTION.window_s - STROKE_LEAD_S - STROKE_TAIL_S:
            self._trail.popleft()
        found = self._strokes.update(landmarks, handedness, t)
        if self._pending is not None:
            pending, seen_at = self._pending
            if t - seen_at + TIME_EPS < STROKE_TAIL_S and landmarks is not None:
                return False
            self._pending = None
            self.stroke = self._stroke(pending)
            return True
        if found is None:
            return False
        if found.letter != self.letter:
            self.misread = found.letter
            if self.letter is not None:
                self.misreads[self.letter] = found.letter
            return False
        self.misread, self._pending = None, (found, t)
        return False

    def _stroke(self, found: MotionLetter) -> Stroke:
        frames = [frame for frame in self._trail if frame[0] >= found.start - STROKE_LEAD_S - TIME_EPS]
        return Stroke(
            found.letter, np.array([f[0] for f in frames], np.float64),
            np.stack([f[1] if f[1] is not None else np.zeros((21, 3), np.float32) for f in frames]),
            np.array([f[2] if f[1] is not None else 0.0 for f in frames], np.float32),
            np.array([f[1] is not None for f in frames]), found.start, found.end,
            thresholds=asdict(COLLECT_MOTION))

    def _watch_for_moving_on(self, t: float) -> None:
        if self._shape is not None:
            self._gone_since = None
            if self._moved_from is not None and float(shape_distance(self._shape, self._moved_from)) > CHANGED:
                self._moved_from = None  # formed another shape
            return
        if self._gone_since is None or t < self._gone_since:
            self._gone_since = t
        if t - self._gone_since + TIME_EPS >= LEFT_S:
            self._moved_from = None  # the hand left
            self._came_back = bool(self._letter_shapes())

    def recorded(self, t: float, sample_id: str) -> None:
        """The sample `update` asked for was stored under `sample_id`."""
        letter = self.config.letters[self.index]
        self.counts[letter] += 1
        self._taken.append((letter, sample_id, self._shape if self._shape is not None else np.zeros((21, 3))))
        self._last_sample = t
        if self.counts[letter] >= self.config.samples:
            self._next_letter()

    def redo(self) -> str | None:
        """Forget the last sample of the session (returning its id for the caller to delete) and go back to its
        letter with a fresh countdown; None when there is nothing to redo."""
        if not self._taken:
            return None
        letter, sample_id, _ = self._taken.pop()
        self.counts[letter] -= 1
        self.index, self.finished_by = self.config.letters.index(letter), ""
        self._restart("countdown")
        self._moved_from = None  # back to a letter the signer is redoing: the hand may show it already
        return sample_id

    def skip(self) -> None:
        if not self.done:
            self._next_letter()

    def finish(self) -> None:
        self.finished_by = self.finished_by or "finish"
        self._restart("done")

    def progress(self) -> list[tuple[str, int, int]]:
        """(letter, samples taken this session, samples asked) for every letter."""
        return [(letter, self.counts[letter], self.config.samples) for letter in self.config.letters]

    def countdown_display(self, t: float) -> int:
        """The whole seconds to show during the countdown (3, 2, 1)."""
        return math.ceil(self.countdown_left(t))

    def _letter_shapes(self) -> list[np.ndarray]:
        """The shapes of this session's samples of the current letter."""
        return [shape for taken, _, shape in self._taken if taken == self.letter]

    def _next_letter(self) -> None:
        # The new prompt waits for the signer to move on from what the hand shows now (if it shows anything).
        self._moved_from = self._shape
        self.index += 1
        if self.index >= len(self.config.letters):
            self.finished_by = self.finished_by or "all letters"
            self._restart("done")
        else:
            self._restart("countdown")

    def _restart(self, phase: str) -> None:
        self.phase, self._phase_start, self._last_sample = phase, None, None
        self._came_back = False
        self._strokes, self.misread, self._pending = None, None, None
