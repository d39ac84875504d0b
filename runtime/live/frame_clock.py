"""Frame times from a video container's presentation times, which are the truth wherever they move forward.

Containers do not always give one increasing time per frame: a variable-rate H.264 MP4 can repeat a
presentation time (CAP_PROP_POS_MSEC the same for two frames), reordered or damaged streams step back, a
stream without times gives none (OpenCV reports 0), and a concatenated file can restart its clock. The
old rule stamped such a frame one *nominal* interval after the previous stamp and then kept every later
frame above it, so a synthetic stamp carried forward: in a 60 fps stretch of a file whose average rate was
24 fps each frame ran another 25 ms ahead, 2.9 s in all (issue 21 item 9), and the speller saw letters held
for a third of their real time.

Here every estimate is anchored to the container's latest time (its high-water mark), never to the
previous stamp: a frame whose container time does not pass that mark is stamped `behind` local frame
intervals after it (the interval between the last two times that moved forward, at most the nominal one),
and the first frame whose container time moves forward again is stamped exactly that time. So a repeated
time costs at most one frame of error and never accumulates; a file without times runs at its nominal
rate; stamps always increase (by at least MIN_STEP_S); a time more than REBASE_S behind the mark is a new
clock (a restarted or concatenated stream), continued from the last stamp instead of being frozen under it.
"""

from __future__ import annotations

import math

# Stamps strictly increase: a frame never gets its predecessor's time (the speller measures holds in time).
# Far below any real frame interval (a 1,000 fps camera's is 1 ms).
MIN_STEP_S = 1e-4
# A container time this far below the latest one is not jitter or a repeat but a clock that started again.
REBASE_S = 1.0


class ContainerClock:
    """Feed each frame's container time in seconds (None or NaN when it has none) to `stamp`, in order;
    it returns the frame's time, 0 for the first frame. `nominal_interval_s`: 1 / the file's nominal rate."""

    def __init__(self, nominal_interval_s: float) -> None:
        if not nominal_interval_s > 0:
            raise ValueError(f"nominal interval {nominal_interval_s} must be positive")
        self.nominal_interval_s = nominal_interval_s
        self.reset()

    def reset(self) -> None:
        self._offset: float | None = None  # added to container times; set by the first frame that has one
        self._high = 0.0  # the latest container time seen (offset applied): the anchor of every estimate
        self._increment: float | None = None  # the container's last forward step, the local frame interval
        self._behind = 0  # frames since the container time last passed _high
        self._last: float | None = None  # the previous stamp

    def stamp(self, position_s: float | None) -> float:
        if position_s is not None and math.isfinite(position_s):
            stamp = self._from_container(position_s)
        else:
            stamp = self._estimate()
        if self._last is not None:
            stamp = max(stamp, self._last + MIN_STEP_S)
        self._last = stamp
        return stamp

    def _from_container(self, position_s: float) -> float:
        if self._offset is None:
            # The first frame with a time sits where the frames before it (without one) left off.
            estimate = self._estimate() if self._last is not None else 0.0
            self._offset, self._high, self._behind = estimate - position_s, estimate, 0
            return estimate
        t = position_s + self._offset
        if t < self._high - REBASE_S and self._last is not None:
            # A restarted clock: this frame follows the last stamp by a local interval, later ones keep its pace.
            resumed = self._last + self._interval()
            self._offset += resumed - t
            t = resumed
        if t > self._high:
            self._increment, self._high, self._behind = t - self._high, t, 0
            return t
        return self._estimate()

    def _estimate(self) -> float:
        """No usable container time for this frame: `behind` local intervals after the container's latest time."""
        if self._last is None:
            return 0.0
        self._behind += 1
        return self._high + self._behind * self._interval()

    def _interval(self) -> float:
        # The container's own recent pace (a 60 fps stretch of a 24 fps file steps 1/60 s), never more than the
        # nominal interval: a forward jump (a pause in the recording) is not a frame interval.
        return min(self._increment or self.nominal_interval_s, self.nominal_interval_s)
