"""The fingerspelling decoder: letters as signers make them, at teaching speed and at natural speed.

A fluent signer holds each handshape for 0.15-0.4 s and moves straight on; a teacher holds it for seconds.
The per-frame classifier is mostly right while a letter is held and flickers while the hand changes shape,
so the decoder keeps *leaky votes*: each frame with a hand adds its duration (seconds of source time) to
its top letter, and every vote decays with the time constant `memory` x pace. A letter is committed when

- its votes reach `evidence` x pace seconds (it has led for that long, recently),
- it leads the runner-up by `lead` times (two letters taking turns, as R and U do on some hands, commit
  neither), and
- the classifier's mean probability over its votes is at least `min_confidence`.

*Pace* is the signer's own tempo: the median time recent letters of the word stayed the top reading after
they were committed (the letter held now included), clamped to `PACE_RANGE`; each word starts at `pace_s`.
Scaling the time constants with it is what lets one set of defaults read 0.2 s letters and 3 s letters: at
teaching speed the 0.3-0.6 s glimpses of other letters while the hand moves on fall far short of the evidence a
3 s letter sets; at natural speed the evidence shrinks to a few frames.

A committed letter is *locked*: holding it longer adds nothing. The same letter is committed again only
after a release, the ways signers double a letter:

- re-forming it: the handshape departs from the held one by `reform` (mean landmark distance, palm
  sizes) on frames that no longer read as the letter, for `depart_hold` x pace seconds (as long as a
  letter needs to be read: a shorter departure is a flicker of a jittering small hand);
- sliding or bouncing it: the hand's centre moves `slide` hand sizes from where the letter was held
  (its place follows a slow drift with the same time constant as the votes); the letter then has to
  earn its evidence again;
- the hand leaving the frame for `leave_s` seconds; gone for `word_gap_s`, it also ends the word (a space).

Nothing else (a long hold, a wobble, jittering landmarks) releases it. The locked letter is also released,
not doubled, once the hand has *moved on*: another letter has `moved_on` x pace of votes and leads the
locked letter's by `lead`. Two letters taking turns after it (R and U on some hands) still commit neither,
but when the held letter comes back after them it is spelled again (W-E-R-E with the R unreadable: WEE, not WE).

Before a word's first letter the pace is unknown and assumed fluent (`pace_s`), so a slow signer's hand
settling into the first handshape can commit a glimpse (an N for 0.2 s before a held M). A word's first letter
is therefore judged again when the second letter's hold is over: held for less than GLIMPSE of it, while the
classifier read the second letter for WAVERING of its span, it is taken back (two `del` commits and the second
letter again). Only the first letter, never a doubled one, and only once the second is complete, so a fluent
word's short first letter before a long final hold (A-T) stays.

A different letter committed while the handshape is still the one the last letter was committed on (within
SAME_SHAPE) is the classifier changing its mind about one handshape, as it does for a signer it never saw (A
and T in turn on one fist, O-C-O, R then U): it *replaces* the last letter (a `del` commit, then it) instead of
adding one. A letter needs a new handshape to be a new letter; a double letter still needs a release.

`finish` (the stream ended) commits a letter still forming at the end when it has a held reading's votes
(GLIMPSE x pace) and meets the other rules: a clip cut during its last letter.

J and Z are motions: `motion.MotionLetters` reads them from the fingertip's trajectory (with `motion=True`)
and commits them when the stroke ends. A J begins as a held I, a Z as a pointing index, so a letter of that
shape committed just before the stroke is taken back (a `del` commit, then the J or Z). The classifier's own
J and Z classes still read a held end pose, the way some signers show them. The numbers that chose this
design and its defaults are in docs/decoding.md.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from asl_edge.errors import AslEdgeError
from asl_edge.runtime.live.decoding import Decoder
from asl_edge.runtime.live.motion import MotionConfig, MotionLetter, MotionLetters
from asl_edge.runtime.live.spelling import MAX_GAP_S, TEXT_LIMIT, Commit, keep_tail
from asl_edge.spec import DELETE, NOTHING, SPACE

WRIST, MIDDLE_MCP = 0, 9
PACE_RANGE = (0.15, 3.0)  # seconds per letter: the fastest fluent letters to a slow teaching hold
PACE_HISTORY = 5  # letters behind the pace's median
DEFAULT_PACE_S = 0.4  # before the first letter: natural speed
DEFAULT_EVIDENCE = 0.3
DEFAULT_MEMORY = 0.5
DEFAULT_LEAD = 2.0
DEFAULT_MIN_CONFIDENCE = 0.2
DEFAULT_REFORM = 0.5
DEFAULT_DEPART_HOLD = DEFAULT_EVIDENCE  # a departure shorter than a letter's evidence is a flicker, not a re-form
DEFAULT_MOVED_ON = 0.2
DEFAULT_SLIDE = 0.7
DEFAULT_LEAVE_S = 0.2  # the hand gone this long: the same letter may follow (it was re-formed)
DEFAULT_WORD_GAP_S = 1.0  # the hand gone this long ends the word
# A word's first letter is committed at the assumed DEFAULT_PACE_S. Held for less than this share of the
# next letter's hold, it was a glimpse while a slow signer's hand settled; the share a held reading needs in
# `video_eval.READ_FRACTION` too.
GLIMPSE = 0.25
# ... and only when the classifier read the second letter for this share of the first letter's reading span (one
# stray frame at a boundary is no settling hand: a tenth of a 0.33 s span is one frame at 30 fps).
WAVERING = 0.1
FIRST_READS_KEPT = 900  # frames (30 s at 30 fps) of readings kept for that test
# A J starts from a held I and a Z from a pointing index: a letter of its start shape committed this long before
# the stroke began (or during it) was the stroke's beginning, and the motion letter replaces it.
MOTION_STARTS = {"J": ("I", "Y"), "Z": ("D", "G", "X", "L")}
MOTION_LEAD_S = 0.5
# A different letter committed while the handshape is still the one the last letter was committed on (mean
# landmark distance in palm sizes, `shape_distance`) is the classifier changing its mind about one handshape, not
# a new letter: it replaces the last letter. Measured on held-out signers' one-letter clips (tools/letters_loso.py
# folds' readings): such flickers (A/T in turn on one fist, O->C->O, R->U) commit at 0.004-0.031; letters of
# correctly spelled words commit at 0.069 and more from the letter before (recorded and 6.7x speed).
SAME_SHAPE = 0.045
# ... as long as the hand stayed there: a frame this far from it (a re-form, a letter passed through unread) ends
# the chance of a correction.
MOVED_SHAPE = 2 * SAME_SHAPE
MOTION_WINDOW_S = 0.1  # the view's "moving": handshape change over this much time
MOVING_SHAPE_RATE = 0.6  # palm sizes per second of mean landmark change


def palm_frame(landmarks: np.ndarray) -> np.ndarray:
    """(21, 3) landmarks in pixels -> (21, 2) positions relative to the wrist, in palm sizes (the wrist to
    middle-finger MCP distance), so handshapes compare at any distance from the camera."""
    xy = landmarks[:, :2].astype(np.float64)
    size = max(float(np.linalg.norm(xy[MIDDLE_MCP] - xy[WRIST])), 1e-6)
    return (xy - xy[WRIST]) / size


def shape_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance (palm sizes) between the landmarks of two `palm_frame` handshapes."""
    d = a - b
    return float(np.sqrt(np.einsum("ij,ij->i", d, d)).sum()) / len(d)


class FingerspellingDecoder(Decoder):
    """Commits letters from leaky, pace-scaled votes; see the module docstring for the rules.

    labels: the classifier's labels; `nothing`, `space` and `del` are never spelled (fingerspelling ends a
    word by dropping the hand). Times are seconds of source time; `evidence`, `memory` and `depart_hold`
    are fractions of the pace. Raises AslEdgeError for values that cannot work."""

    def __init__(self, labels: Sequence[str], evidence: float = DEFAULT_EVIDENCE, memory: float = DEFAULT_MEMORY,
                 lead: float = DEFAULT_LEAD, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                 reform: float = DEFAULT_REFORM, depart_hold: float = DEFAULT_DEPART_HOLD,
                 moved_on: float = DEFAULT_MOVED_ON, slide: float = DEFAULT_SLIDE, leave_s: float = DEFAULT_LEAVE_S,
                 word_gap_s: float = DEFAULT_WORD_GAP_S, pace_s: float = DEFAULT_PACE_S, motion: bool = True,
                 max_chars: int = TEXT_LIMIT, on_scroll: Callable[[str], None] | None = None,
                 motion_config: MotionConfig | None = None) -> None:
        for name, value in (("evidence", evidence), ("memory", memory), ("reform", reform), ("slide", slide),
                            ("moved-on votes", moved_on),
                            ("leave time", leave_s), ("word gap", word_gap_s), ("pace", pace_s)):
            if not value > 0:
                raise AslEdgeError(f"fingerspelling decoder: {name} {value} must be positive")
        if lead < 1:
            raise AslEdgeError(f"fingerspelling decoder: lead {lead} must be at least 1")
        if not 0 <= min_confidence < 1:
            raise AslEdgeError(f"fingerspelling decoder: minimum confidence {min_confidence} must be in [0, 1)")
        if max_chars < 1:
            raise AslEdgeError(f"text limit {max_chars} must be at least 1 character")
        self.labels = tuple(labels)
        self.evidence, self.memory, self.lead, self.min_confidence = evidence, memory, lead, min_confidence
        self.reform, self.depart_hold, self.slide, self.leave_s = reform, depart_hold, slide, leave_s
        self.moved_on = moved_on
        self.word_gap_s = word_gap_s
        self.max_chars, self.on_scroll = max_chars, on_scroll
        self.scrolled = 0  # characters that scrolled off the front of `text`
        # With the trajectory reading J and Z, the classifier's J and Z classes (photos of one moment of the
        # motion) would fire on a still I or pointing index: they are never spelled from a single frame then.
        motion_letters = tuple(MOTION_STARTS) if motion else ()
        unspellable = (NOTHING, SPACE, DELETE, *motion_letters)
        self._spellable = np.array([label not in unspellable for label in self.labels])
        self._votes = np.zeros(len(self.labels), np.float64)  # seconds each label led, decaying
        self._mass = np.zeros(len(self.labels), np.float64)  # the same, weighted by the label's probability
        self._pace, self._default_pace = pace_s, pace_s
        self._held_times: deque[float] = deque(maxlen=PACE_HISTORY)
        self._text = ""
        self._previous: float | None = None  # the last frame's time
        self._hand_seen: float | None = None  # the last time a hand was seen
        self._word_open = False  # letters were spelled since the last word end
        self._motion: deque[tuple[float, np.ndarray]] = deque()  # recent (time, shape) for the phase
        self._phase = "no hand"
        self._letter: int | None = None
        self._confidence = 0.0
        self._probs: np.ndarray | None = None
        # The locked letter, when it was committed, its handshape and place (following slow drift).
        self._locked: int | None = None
        self._committed_at = 0.0
        self._held = 0.0
        self._locked_shape: np.ndarray | None = None
        self._committed_shape: np.ndarray | None = None  # the handshape the last letter was committed on
        self._anchor: np.ndarray | None = None
        self._anchor_size = 1.0
        self._departed_since: float | None = None
        self._departed = False  # the handshape left the locked letter's for depart_hold x pace: back is a re-form
        # motion_config: a signer's own J/Z thresholds (a motion profile, motion_profile.py), else the defaults.
        self._motion_letters = MotionLetters(motion_config) if motion else None
        # When the letters at the end of `text` were committed (up to the last space), for taking them back.
        self._letter_times: deque[float] = deque(maxlen=PACE_HISTORY)
        self._last_held = 0.0  # the last time the last committed letter was the top reading
        self._stroke_shapes: set[int] = set()  # a motion letter's end poses, not letters until a release
        # The word's first two commits while the first one's glimpse test is pending (GLIMPSE).
        self._provisional: list[Commit] | None = []
        # (time, top letter, seconds) of each frame until the first letter is no longer held (_note_first_reads).
        self._first_reads: deque[tuple[float, int, float]] = deque(maxlen=FIRST_READS_KEPT)
        self._geometry: tuple[np.ndarray, np.ndarray, float] | None = None  # the last hand's shape, centre, size

    # -- the Decoder interface --------------------------------------------------------------------------
    def update(self, probs: np.ndarray, landmarks: np.ndarray | None, handedness: float,
               timestamp: float) -> list[Commit]:
        dt = self._step(timestamp)
        self._probs = probs
        if landmarks is None or not np.isfinite(landmarks).all():
            return self._no_hand(timestamp)
        if not np.isfinite(probs).all():
            return []  # no usable reading: the frame adds nothing (the next one's duration covers it)
        self._hand_seen = timestamp
        stroke = None if self._motion_letters is None else self._motion_letters.update(landmarks, handedness, timestamp)
        shape = palm_frame(landmarks)
        xy = landmarks[:, :2]
        centre = xy.sum(axis=0) / len(xy)
        size = max(float((xy.max(axis=0) - xy.min(axis=0)).max()), 1e-6)  # steadier than the palm as fingers fold
        self._phase = self._moving_or_holding(timestamp, shape)
        self._geometry = (shape, centre, size)
        if self._committed_shape is not None and shape_distance(shape, self._committed_shape) >= MOVED_SHAPE:
            self._committed_shape = None  # the hand left the last letter's handshape: what comes is a new letter
        decay = float(np.exp(-dt / (self.memory * self._pace)))
        self._votes *= decay
        self._mass *= decay
        top = int(np.argmax(np.where(self._spellable, probs, -1.0)))
        self._letter, self._confidence = top, float(probs[top])
        if self._locked is not None:
            self._check_release(timestamp, top, shape, centre, size, decay)
        self._votes[top] += dt
        self._mass[top] += self._confidence * dt
        self._note_first_reads(top, timestamp, dt)
        if top == self._locked:
            self._last_held = timestamp
            self._update_pace(timestamp - self._committed_at)
            self._locked_shape = 0.8 * self._locked_shape + 0.2 * shape if self._locked_shape is not None else shape
        if stroke is not None and stroke.letter in self.labels:
            return self._commit_stroke(stroke, timestamp, top, shape, centre, size)
        return self._maybe_commit(timestamp, shape, centre, size)

    def finish(self, timestamp: float) -> list[Commit]:
        """The stream ended while a letter may still be forming (a clip cut during its last letter): the leading
        letter is committed if it has a held reading's votes (GLIMPSE x pace) and meets the other rules, and is
        then held like any commit."""
        best = self._leader(GLIMPSE)  # no votes when the last frame had no hand
        if best is None or self._geometry is None:
            return []
        return self._commit(best, timestamp, *self._geometry)  # locked: a second call, or more frames, add nothing

    def clear(self) -> None:
        self._text = ""
        self._locked = None
        self._committed_shape = None
        self._provisional = None
        self._letter_times.clear()  # a J or Z stroke has nothing left to take back

    @property
    def text(self) -> str:
        return self._text

    @property
    def letter(self) -> str | None:
        return None if self._letter is None else self.labels[self._letter]

    @property
    def confidence(self) -> float:
        return self._confidence

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def progress(self) -> float:
        if self._letter is None or self._letter == self._locked:
            return 0.0
        return min(1.0, float(self._votes[self._letter]) / (self.evidence * self._pace))

    @property
    def pace(self) -> float:
        """Seconds per letter the decoder currently assumes (see the module docstring)."""
        return self._pace

    @property
    def smoothed(self) -> np.ndarray | None:
        return self._probs

    # -- the rules --------------------------------------------------------------------------------------
    def _step(self, timestamp: float) -> float:
        """Seconds this frame stands for: 0 for the first frame, after a gap of MAX_GAP_S or a jump back."""
        previous, self._previous = self._previous, timestamp
        if previous is None or not 0 <= timestamp - previous <= MAX_GAP_S:
            self._votes[:] = 0.0
            self._mass[:] = 0.0
            self._motion.clear()
            return 0.0
        return timestamp - previous

    def _moving_or_holding(self, timestamp: float, shape: np.ndarray) -> str:
        """The view's phase: "moving" while the handshape changes faster than MOVING_SHAPE_RATE."""
        motion = self._motion
        motion.append((timestamp, shape))
        while len(motion) > 2 and motion[1][0] <= timestamp - MOTION_WINDOW_S:
            motion.popleft()
        then, then_shape = motion[0]
        if then >= timestamp:
            return "holding"
        rate = shape_distance(shape, then_shape) / (timestamp - then)
        return "moving" if rate > MOVING_SHAPE_RATE else "holding"

    def _no_hand(self, timestamp: float) -> list[Commit]:
        if self._motion_letters is not None:
            self._motion_letters.update(None, 0.5, timestamp)
        self._phase, self._letter, self._confidence = "no hand", None, 0.0
        self._votes[:] = 0.0
        self._mass[:] = 0.0
        self._motion.clear()
        if self._hand_seen is None or timestamp - self._hand_seen < self.leave_s:
            return []
        self._release()
        self._stroke_shapes = set()
        self._committed_shape = None  # the hand left: what it forms next is a new letter
        if not self._word_open or timestamp - self._hand_seen < self.word_gap_s:
            return []
        # A new word may come at any speed (a slow demonstration, then a fluent name): it starts at the assumed
        # pace, as a session does, and its first letter is judged the same way.
        self._held_times.clear()
        self._pace = self._default_pace
        self._provisional = []
        self._first_reads.clear()
        self._word_open = False
        self._letter_times.clear()
        self._append(" ")
        return [Commit(SPACE, timestamp, 1.0)]

    def _check_release(self, timestamp: float, top: int, shape: np.ndarray, centre: np.ndarray, size: float,
                       decay: float) -> None:
        """Release the locked letter when it is re-formed or slid (module docstring)."""
        assert self._locked_shape is not None and self._anchor is not None
        # Only frames that no longer read as the letter count: landmarks of some handshapes (M, N) jitter.
        if top != self._locked and shape_distance(shape, self._locked_shape) >= self.reform:
            if self._departed_since is None:
                self._departed_since = timestamp
            elif timestamp - self._departed_since >= self.depart_hold * self._pace:
                self._departed = True
        else:
            self._departed_since = None
            if top == self._locked and self._departed:
                # Re-formed: departed and back. Released when back, not when it left, so the held letter's
                # votes still weigh against the readings on the way to the next letter (U turning into P
                # reads G on the way).
                locked = self._locked
                self._release()
                self._votes[locked] = 0.0  # the letter again once it has earned its evidence anew
                self._mass[locked] = 0.0
                return
        if np.linalg.norm(centre - self._anchor) >= self.slide * self._anchor_size:
            self._release()  # slid or bounced: the same letter again once it has earned its evidence anew
            self._votes[:] = 0.0
            self._mass[:] = 0.0
            return
        others = np.where(self._spellable, self._votes, 0.0)
        others[self._locked] = 0.0
        if others.max() >= max(self.moved_on * self._pace, self.lead * self._votes[self._locked]):
            # Moved on: another letter leads the held one as a letter leads to commit. Two letters taking turns
            # (R and U on some hands) still commit neither, but the held letter may follow them again.
            self._release()
        elif top == self._locked:
            follow = 1.0 - decay
            self._anchor = (1.0 - follow) * self._anchor + follow * centre
            self._anchor_size = (1.0 - follow) * self._anchor_size + follow * size

    def _update_pace(self, held: float) -> None:
        """The signer's pace: the median time recent letters were held, the letter held now included."""
        self._held = min(max(held, PACE_RANGE[0]), PACE_RANGE[1])
        self._pace = statistics.median([*self._held_times, self._held])

    def _release(self) -> None:
        self._locked, self._locked_shape, self._anchor, self._departed_since = None, None, None, None
        self._departed = False

    def _leader(self, evidence: float) -> int | None:
        """The letter the votes commit: the most voted, with `evidence` x pace seconds of votes, `lead` times the
        runner-up's and a mean probability of at least `min_confidence`; not the locked letter or a stroke's end
        pose. None when no letter qualifies."""
        votes = self._votes
        best = int(np.argmax(votes))
        runner_up = float(np.partition(votes, -2)[-2]) if len(votes) > 1 else 0.0
        if (best == self._locked or best in self._stroke_shapes or votes[best] < evidence * self._pace
                or votes[best] < self.lead * runner_up
                or self._mass[best] < self.min_confidence * votes[best]):
            return None
        return best

    def _maybe_commit(self, timestamp: float, shape: np.ndarray, centre: np.ndarray, size: float) -> list[Commit]:
        best = self._leader(self.evidence)
        if best is None:
            return []
        return self._commit(best, timestamp, shape, centre, size)

    def _commit(self, best: int, timestamp: float, shape: np.ndarray, centre: np.ndarray,
                size: float) -> list[Commit]:
        """Spell and lock `best`: the letter held until now joins the pace, a word's first letter may be judged;
        or, on the handshape the last letter was committed on (SAME_SHAPE), `best` replaces that letter."""
        commit = Commit(self.labels[best], timestamp, float(self._mass[best] / self._votes[best]))
        self._stroke_shapes = set()
        if self._corrects(best, shape):
            if self._provisional:
                self._provisional[-1] = commit  # the first-letter test judges the letter that stands
            # The letter stands where the replaced one did: its hold, its time (a J/Z stroke's take-back) and
            # the handshape it is compared with.
            commits = [self._take_back(timestamp, commit.confidence)]
            self._lock(best, timestamp, shape, centre, size, started=self._committed_at)
        else:
            commits = []
            if self._locked is not None or self._word_open:
                self._held_times.append(min(max(self._held, PACE_RANGE[0]), PACE_RANGE[1]))
                commits = self._judge_first_letter(timestamp)
            if self._provisional is not None:
                self._provisional.append(commit)
            self._lock(best, timestamp, shape, centre, size)
        self._append(commit.label)
        return [*commits, commit]

    def _note_first_reads(self, top: int, timestamp: float, dt: float) -> None:
        """Until a word's first letter is no longer held: each frame's reading, for `_wavered`."""
        provisional = self._provisional
        if provisional is None or len(provisional) > 1 or (provisional and self._locked is None):
            return
        self._first_reads.append((timestamp, top, dt))

    def _wavered(self, first: int, second: int) -> bool:
        """Whether the classifier read `second` for at least WAVERING of the first letter's reading span (its
        first to its last frame): the hand settling into the second letter's shape, not one stray frame."""
        times = [t for t, top, _ in self._first_reads if top == first]
        if not times:
            return False
        span = [(top, dt) for t, top, dt in self._first_reads if times[0] <= t <= times[-1]]
        total = sum(dt for _, dt in span)
        return total > 0 and sum(dt for top, dt in span if top == second) >= WAVERING * total

    def _judge_first_letter(self, timestamp: float) -> list[Commit]:
        """Once the second letter's hold is over: a word's first letter, committed at the assumed pace,
        is taken back when it was held for less than GLIMPSE of the second letter's hold and the classifier
        wavered to the second letter while reading the first (`_wavered`: a slow signer's hand settling into
        the second letter's shape; a first letter read cleanly stays, however long the signer then pauses on
        the second). The second letter is spelled again after the two deletes."""
        if self._provisional is None or len(self._provisional) < 2 or len(self._held_times) < 2:
            return []
        (first, second), self._provisional = self._provisional, None
        held_first, held_second = self._held_times[-2], self._held_times[-1]
        if (first.label == second.label or held_first >= GLIMPSE * held_second
                or not self._wavered(self.labels.index(first.label), self.labels.index(second.label))
                or not self._text.endswith(first.label + second.label)):
            return []  # a double letter is no glimpse of itself
        commits = [self._take_back(timestamp, first.confidence), self._take_back(timestamp, first.confidence)]
        self._append(second.label)
        self._letter_times.append(second.timestamp)
        del self._held_times[-2]
        self._pace = statistics.median(self._held_times)
        return [*commits, Commit(second.label, timestamp, second.confidence)]

    def _corrects(self, best: int, shape: np.ndarray) -> bool:
        """Whether committing `best` now is a correction of the last letter (SAME_SHAPE): a letter was spelled
        since the hand came, `best` is another letter, and the handshape has not changed since it was spelled."""
        last, label = self._text[-1:], self.labels[best]
        # Not back to the letter before it either: that would double a letter without a release.
        return (self._committed_shape is not None and last.isalpha() and last != label
                and self._text[-2:-1] != label and shape_distance(shape, self._committed_shape) < SAME_SHAPE)

    def _take_back(self, timestamp: float, confidence: float) -> Commit:
        self._text = self._text[:-1]
        self._letter_times.pop()
        return Commit(DELETE, timestamp, confidence)

    def _lock(self, label: int, timestamp: float, shape: np.ndarray, centre: np.ndarray, size: float,
              started: float | None = None) -> None:
        """Hold `label` from now; a correction (`started`: the replaced letter's commit time) keeps that time and
        the handshape the replaced letter was committed on."""
        self._locked, self._committed_at, self._held = label, timestamp if started is None else started, 0.0
        if started is None:
            self._committed_shape = shape
        self._locked_shape, self._anchor, self._anchor_size = shape, centre, size
        self._departed_since, self._departed = None, False
        self._word_open = True
        self._letter_times.append(self._committed_at)
        self._last_held = timestamp

    def _commit_stroke(self, stroke: MotionLetter, timestamp: float, top: int, shape: np.ndarray,
                       centre: np.ndarray, size: float) -> list[Commit]:
        """A J or Z drawn: taken back the stroke's start shape if it was just committed, then the motion letter.
        What the hand holds at the stroke's end is locked, so its end pose adds nothing."""
        commits = []
        self._provisional = None
        starts = MOTION_STARTS[stroke.letter]
        # Letters read while the stroke was drawn were its frames, not letters; so was the start shape held
        # just before it (within the signer's pace).
        while self._letter_times and self._letter_times[-1] >= stroke.start:
            commits.append(self._take_back(timestamp, stroke.score))
        if self._letter_times and self._last_held >= stroke.start - MOTION_LEAD_S and self._text[-1:] in starts:
            commits.append(self._take_back(timestamp, stroke.score))
        self._votes[:] = 0.0
        self._mass[:] = 0.0
        self._lock(top, timestamp, shape, centre, size)
        self._committed_shape = None  # a stroke is read from motion: the still end pose corrects nothing
        # The end pose (a J's little finger, a Z's index) reads as the start shape or the letter's own class.
        self._stroke_shapes = {i for i, label in enumerate(self.labels) if label in (*starts, stroke.letter)}
        self._held_times.append(min(max(stroke.end - stroke.start, PACE_RANGE[0]), PACE_RANGE[1]))
        self._append(stroke.letter)
        return [*commits, Commit(stroke.letter, timestamp, stroke.score)]

    def _append(self, chars: str) -> None:
        self._text, cut = keep_tail(self._text + chars, self.max_chars, self.on_scroll)
        self.scrolled += cut
