"""J and Z from the hand's trajectory: the two ASL letters that are motions, not handshapes (numpy only).

J is the I handshape (only the little finger out) whose little fingertip draws a hook: down, then curving
sideways and up. Z is the pointing index finger drawing a Z: a sideways stroke, a diagonal stroke down and back,
a sideways stroke again. A single frame cannot tell a J from an I or a Z from a pointing index, so the
landmark classifier's J and Z classes (trained on photos of one moment of the motion) are not enough; this
detector reads the last `window_s` seconds of landmarks instead.

Per frame, `MotionLetters.update(landmarks, handedness, timestamp)` takes
  landmarks   (21, 3) float, MediaPipe hand landmarks in frame pixels (x right, y down, z relative depth), or
              None when no hand was found in that frame;
  handedness  float, the probability that the hand is a right hand in the unmirrored frame (the hand stage's);
  timestamp   float, the frame's own time in seconds (source time, never a frame count),
and returns a `MotionLetter` (letter "J" or "Z", start and end time in seconds of the stroke it saw, score
0..1: 0.5 just over every threshold, 1 at twice them) on the first frame where the stroke meets every rule
below (so `end` <= that frame's time), else None. Each stroke is reported once: the next report must start
after `end` + `refractory_s`. `reset()` forgets the trajectory (a new source, a cut). No I/O, no clock of its
own; 0.7 ms a frame on this project's busy 2-core CPU (load 10; the hand chain takes about 40).

How it decides (all distances in palm sizes: the median over the window of the mean wrist-to-MCP distance, so the hand's
distance from the camera does not matter; x is negated for left hands, so a left hand's J is a right hand's
mirror image and reads the same):
- the handshape over the frames of the stroke: the share of frames in the I shape (little finger extended,
  index/middle/ring folded) for J, in the pointing shape (index extended, middle/ring/little folded) for Z;
  a finger is extended when its tip is more than `extended` times as far from the wrist as its MCP joint
  (3-D, so a finger turned towards the camera still counts), folded under `folded`;
- J: the little fingertip descends at least `j_descent` from the highest point before its lowest point, then
  rises at least `j_rise` and moves sideways at least `j_side` after it;
- Z: the index fingertip's x, read with a hysteresis of `z_hysteresis`, reverses direction twice: three legs
  of at least `z_leg`, the middle one going down at least `z_drop` and the outer two more sideways than
  vertical. Either drawing direction is accepted, so a Z mirrored by a selfie camera still counts;
- a still hand never moves its fingertip that far, so a held I or pointing index (or the held end pose of a
  J or Z) is never reported: that stays the classifier's job.

The thresholds are about half the smallest stroke in the motion clips of `fingerspelling-dev/letters`
(signers cse535-s4 and easi: J descents 2.6-3.8 palm sizes, Z legs 2.0-3.5): thresholds taken from one of the
two signers alone still find all 6 strokes of the other, and none fires on the 150 other letter clips or the
41 word clips, also with the clips played 2-7x faster (README, "J and Z").
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from asl_edge.landmark_features import PALM_MCPS, WRIST

INDEX_TIP, PINKY_TIP = 8, 20
# (tip, MCP) of index, middle, ring and little finger.
_FINGERS = ((8, 5), (12, 9), (16, 13), (20, 17))


class MotionLetter(NamedTuple):
    """A J or Z seen in the trajectory: the letter, start and end time of its stroke (s), score 0..1."""

    letter: str
    start: float
    end: float
    score: float


@dataclass(frozen=True)
class MotionConfig:
    """Thresholds of `MotionLetters` (distances in palm sizes, times in seconds; see the module docstring)."""

    window_s: float = 1.5  # how much trajectory a stroke may span
    max_gap_s: float = 0.3  # a longer run without a hand breaks the trajectory
    refractory_s: float = 0.3  # after a report, no other report starts before its end + this
    extended: float = 1.35  # tip/MCP distance ratio from the wrist over which a finger is extended
    folded: float = 1.15  # ... under which it is folded
    min_shape: float = 0.5  # share of the stroke's frames that must show the letter's handshape
    j_descent: float = 1.5
    j_rise: float = 0.3
    j_side: float = 0.5
    z_hysteresis: float = 0.35
    z_leg: float = 1.0
    z_drop: float = 0.6


class _Sample(NamedTuple):
    t: float
    index_tip: tuple[float, float]  # pixels, x negated for left hands
    pinky_tip: tuple[float, float]  # likewise
    palm: float  # palm size, pixels
    i_shape: bool
    pointing: bool


_TIPS = np.array([tip for tip, _ in _FINGERS])
_MCPS = np.array([mcp for _, mcp in _FINGERS])
_PALM = np.array(PALM_MCPS)


def _sample(landmarks: np.ndarray, handedness: float, t: float, config: MotionConfig) -> _Sample | None:
    points = np.asarray(landmarks, dtype=np.float64)
    rel = points - points[WRIST]
    reach = np.sqrt(np.einsum("ij,ij->i", rel, rel))  # 3-D distance of every landmark from the wrist
    palm = float(reach[_PALM].sum()) / len(_PALM)
    if not np.isfinite(palm) or palm <= 1e-6:
        return None
    ratio = reach[_TIPS] / np.maximum(reach[_MCPS], 1e-6)
    extended, folded = ratio > config.extended, ratio < config.folded
    sign = -1.0 if handedness < 0.5 else 1.0
    index_tip = (sign * float(points[INDEX_TIP, 0]), float(points[INDEX_TIP, 1]))
    pinky_tip = (sign * float(points[PINKY_TIP, 0]), float(points[PINKY_TIP, 1]))
    return _Sample(t, index_tip, pinky_tip, palm,
                   i_shape=bool(extended[3] and folded[:3].all()),
                   pointing=bool(extended[0] and folded[1:].all()))


def _j_measure(track: np.ndarray) -> tuple[float, float, float, int, int, int] | None:
    """(descent, rise, side, first, lowest, last) of the J hook in a (N, 2) little-fingertip track (y down), in
    the track's units; None when its lowest point is at either end (no hook)."""
    y = track[:, 1]
    low = int(np.argmax(y))
    if low == 0 or low == len(y) - 1:
        return None
    top = int(np.argmin(y[:low]))
    descent = float(y[low] - y[top])
    after = track[low:]
    end = low + int(np.argmin(after[:, 1]))
    rise = float(y[low] - y[end])
    side = float(np.max(np.abs(after[:, 0] - track[low, 0])))
    last = max(end, low + int(np.argmax(np.abs(after[:, 0] - track[low, 0]))))
    return descent, rise, side, top, low, last


def _j_score(track: np.ndarray, config: MotionConfig) -> tuple[float, int, int, int]:
    """(score, first, lowest, last) of the J hook in a (N, 2) little-fingertip track (y down); score 0 if none."""
    measured = _j_measure(track)
    if measured is None:
        return 0.0, 0, 0, 0
    descent, rise, side, top, low, last = measured
    ratios = (descent / config.j_descent, rise / config.j_rise, side / config.j_side)
    if min(ratios) < 1.0:
        return 0.0, 0, 0, 0
    return float(min(1.0, min(ratios) / 2.0)), top, low, last


def _legs(x: np.ndarray, hysteresis: float) -> list[tuple[int, int]]:
    """The legs of a zigzag through x: (start, end) index pairs between turning points, where a turning point
    is an extreme that x then leaves by at least `hysteresis` (so jitter never splits a stroke)."""
    turns: list[int] = []
    direction, high, low, extreme = 0, 0, 0, 0
    for i in range(1, len(x)):
        if direction == 0:  # no stroke yet: wait until x spans the hysteresis, the later extreme gives the way
            high = i if x[i] > x[high] else high
            low = i if x[i] < x[low] else low
            if x[high] - x[low] >= hysteresis:
                direction, turns, extreme = (1, [low], high) if high > low else (-1, [high], low)
        elif (x[i] - x[extreme]) * direction > 0:
            extreme = i
        elif (x[extreme] - x[i]) * direction >= hysteresis:
            turns.append(extreme)
            direction, extreme = -direction, i
    if direction != 0:
        turns.append(extreme)
    return list(itertools.pairwise(turns))


def _z_legs(track: np.ndarray, config: MotionConfig) -> list[tuple[list[float], float, int, int]]:
    """Every run of three legs of a (N, 2) index-fingertip track whose outer legs are more sideways than vertical:
    ([|dx| of each leg], the middle leg's dy (down > 0), first index, last index)."""
    legs = _legs(track[:, 0], config.z_hysteresis)
    found = []
    for first, middle, last in zip(legs, legs[1:], legs[2:], strict=False):
        dx = [float(track[b, 0] - track[a, 0]) for a, b in (first, middle, last)]
        dy = [float(track[b, 1] - track[a, 1]) for a, b in (first, middle, last)]
        if abs(dy[0]) < abs(dx[0]) and abs(dy[2]) < abs(dx[2]):
            found.append(([abs(v) for v in dx], dy[1], first[0], last[1]))
    return found


def _z_score(track: np.ndarray, config: MotionConfig) -> tuple[float, int, int]:
    """(score, first, last) of the best Z in a (N, 2) index-fingertip track; score 0 if none."""
    best = (0.0, 0, 0)
    for dx, drop, first, last in _z_legs(track, config):
        ratios = (*(leg / config.z_leg for leg in dx), drop / config.z_drop)
        if min(ratios) >= 1.0:
            score = float(min(1.0, min(ratios) / 2.0))
            if score > best[0]:
                best = (score, first, last)
    return best


class MotionLetters:
    """Detects J and Z strokes in a stream of hand landmarks (module docstring: inputs, units, rules).

    Pure and stateful like the decoders: no I/O, time from the caller. `update` once per frame, in time order;
    `reset` forgets the trajectory (a new source, a cut)."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._samples: deque[_Sample] = deque()
        self._last_hand = -np.inf
        self._quiet_until = -np.inf

    def reset(self) -> None:
        self._samples.clear()
        self._last_hand = -np.inf
        self._quiet_until = -np.inf

    def update(self, landmarks: np.ndarray | None, handedness: float, timestamp: float) -> MotionLetter | None:
        """One frame in; the J or Z whose stroke this frame completes, else None."""
        config = self.config
        if landmarks is None:
            if timestamp - self._last_hand > config.max_gap_s:
                self._samples.clear()
            return None
        sample = _sample(landmarks, handedness, timestamp, config)
        if sample is None:
            return None
        if timestamp - self._last_hand > config.max_gap_s:
            self._samples.clear()
        self._last_hand = timestamp
        self._samples.append(sample)
        while self._samples and self._samples[0].t < timestamp - config.window_s:
            self._samples.popleft()
        if len(self._samples) < 5:
            return None
        samples = [s for s in self._samples if s.t > self._quiet_until]
        if len(samples) < 5 or not self._far_enough(samples):
            return None
        found = self._detect(samples)
        if found is not None:
            self._quiet_until = found.end + config.refractory_s
        return found

    def _far_enough(self, samples: list[_Sample]) -> bool:
        """Whether either fingertip moved far enough for a stroke at all: the little fingertip's height range
        at least a J's descent, or the index tip's sideways range at least a Z leg. Measured in the window's
        smallest palm size, which never under-reads `_detect`'s median scale, so no stroke is skipped; most
        frames (no finger drawing anything) stop here, at a fraction of `_detect`'s cost."""
        config = self.config
        palm = min(s.palm for s in samples)
        ys = [s.pinky_tip[1] for s in samples]
        if max(ys) - min(ys) >= config.j_descent * palm:
            return True
        xs = [s.index_tip[0] for s in samples]
        return max(xs) - min(xs) >= config.z_leg * palm

    def _detect(self, samples: list[_Sample]) -> MotionLetter | None:
        config = self.config
        times = np.array([s.t for s in samples])
        # One scale for the whole window: dividing each frame by its own palm size would turn a palm that
        # looks a little larger (the hand turning) into a jump of the fingertip.
        scale = float(np.median([s.palm for s in samples]))
        candidates = []
        # The handshape is judged over the stroke's own frames, not the whole window: at natural speed the
        # window also holds the letters before and after it.
        # For J also over the hook from the lowest point on: a little finger folding away (I to N, say) drops
        # its tip too, but leaves the I shape, and a J keeps it through the hook.
        score, a, low, b = _j_score(np.array([s.pinky_tip for s in samples]) / scale, config)
        i_shape = np.array([s.i_shape for s in samples])
        if score > 0 and min(i_shape[a:b + 1].mean(), i_shape[low:b + 1].mean()) >= config.min_shape:
            candidates.append(MotionLetter("J", float(times[a]), float(times[b]), score))
        score, a, b = _z_score(np.array([s.index_tip for s in samples]) / scale, config)
        if score > 0 and np.mean([s.pointing for s in samples[a:b + 1]]) >= config.min_shape:
            candidates.append(MotionLetter("Z", float(times[a]), float(times[b]), score))
        return max(candidates, key=lambda m: m.score) if candidates else None


def stroke_measures(letter: str, times: np.ndarray, landmarks: np.ndarray, handedness: np.ndarray,
                    found: np.ndarray, config: MotionConfig | None = None) -> dict[str, float] | None:
    """How large a recorded J or Z stroke is, measured as `MotionLetters` measures it: J -> descent, rise, side;
    Z -> leg (the shortest of the three legs' sideways extent) and drop (the middle leg's descent); all in palm
    sizes (the trajectory's median), plus duration_s, the stroke's span in seconds. None when the trajectory
    holds no such stroke shape at all (too few frames, no hook, not three legs).

    times (N,) seconds; landmarks (N, 21, 3) frame pixels; handedness (N,); found (N,) bool: frames with a hand
    (the others are skipped, as the detector skips frames without one). Personalisation fits a signer's
    thresholds from these (runtime/live/motion_profile.py)."""
    config = config or MotionConfig()
    samples = [s for s in (_sample(points, float(right), float(t), config)
                           for points, right, hand, t in zip(landmarks, handedness, found, times, strict=True)
                           if hand) if s is not None]
    if len(samples) < 5:
        return None
    scale = float(np.median([s.palm for s in samples]))
    stamps = [s.t for s in samples]
    if letter == "J":
        measured = _j_measure(np.array([s.pinky_tip for s in samples]) / scale)
        if measured is None:
            return None
        descent, rise, side, top, _, last = measured
        return {"descent": descent, "rise": rise, "side": side, "duration_s": stamps[last] - stamps[top]}
    if letter == "Z":
        zs = _z_legs(np.array([s.index_tip for s in samples]) / scale, config)
        if not zs:
            return None
        # The run of legs the detector would score best: the largest margin over the thresholds.
        dx, drop, first, last = max(zs, key=lambda z: min(min(z[0]) / config.z_leg, z[1] / config.z_drop))
        return {"leg": min(dx), "drop": drop, "duration_s": stamps[last] - stamps[first]}
    raise ValueError(f"{letter!r} is not a motion letter (J or Z)")
