"""Feeding frames to the pipeline: a capture thread for live sources, in-order reading for files.

A live camera produces frames whether or not the pipeline keeps up; queueing them would hand out ever
older frames. The capture thread therefore holds one slot with the newest frame and overwrites it.
When the camera is lost (unplugged, stream down) it is reopened with exponential back-off, and
`status` says so for the overlay, so the app keeps running and tells the user what is going on. A stream
that stalls (connection open, no data) blocks the thread inside read(); the watchdog in `status` notices
from the pipeline's thread that no frame has come for `stall_s` seconds and says "no frames for N s" at
once, and the capture's read timeout (CaptureOptions.read_timeout_s) then ends the read so the thread
reconnects.
Files and folders are read in the caller's thread, every frame in order, so results are reproducible.
"""

from __future__ import annotations

import abc
import threading
import time
from dataclasses import dataclass

from asl_edge.errors import SourceError
from asl_edge.runtime.live.frames import Frame, FrameSource

DEFAULT_STALL_S = 2.0  # a live source silent this long is reported (cameras send 5 to 60 frames a second)


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnect attempts: initial, initial*factor, ... capped at maximum (seconds)."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 8.0

    def delay(self, attempt: int) -> float:
        return min(self.maximum, self.initial * self.factor ** attempt)


class FrameFeed(abc.ABC):
    """What the pipeline reads: next() gives a frame or None (nothing yet, or the end: see `ended`)."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.ended = False

    @abc.abstractmethod
    def next(self, timeout: float) -> Frame | None: ...

    @property
    def status(self) -> str:
        """One line for the overlay while something is wrong; empty when all is well."""
        return ""

    def status_for(self, frame: Frame | None) -> str:
        """The status to show with what next() just returned: a frame's as it was read, else the current one."""
        return self.status

    @property
    def ended_early(self) -> str | None:
        """What cut a file short (a truncated video), once it has ended; else None."""
        return None

    def close(self) -> None:
        self.source.close()


class SequentialFeed(FrameFeed):
    """Reads a file or folder in order in the caller's thread; the end of the stream ends the run."""

    def next(self, timeout: float) -> Frame | None:
        if self.ended:
            return None
        frame = self.source.read()
        if frame is None:
            self.ended = True
        return frame

    @property
    def ended_early(self) -> str | None:
        return self.source.ended_early if self.ended else None


class CaptureThread(FrameFeed):
    """Reads a live source in a background thread into a one-frame slot; reconnects with back-off; reports
    a source that has sent nothing for `stall_s` seconds (the watchdog, see the module docstring)."""

    def __init__(self, source: FrameSource, backoff: Backoff | None = None, stall_s: float = DEFAULT_STALL_S) -> None:
        super().__init__(source)
        self.backoff = backoff or Backoff()
        self.stall_s = stall_s
        self.stalls = 0  # times the watchdog found the source silent for stall_s
        self._last_frame_at = time.monotonic()  # or when the source was (re)opened
        self._stalled = False
        self.frames_captured = 0
        self.frames_dropped = 0  # overwritten before the pipeline took them: the pipeline is slower
        self.reconnects = 0
        self._latest: Frame | None = None
        self._fresh = False
        self._status = ""
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"capture {source.uri}", daemon=True)

    def start(self) -> CaptureThread:
        self._last_frame_at = time.monotonic()
        self._thread.start()
        return self

    @property
    def status(self) -> str:
        """The thread's own status (lost, reconnecting), else "no frames for N s" once nothing has come for
        stall_s seconds, else "" (all is well)."""
        with self._changed:
            if self._status:
                return self._status
            silent = time.monotonic() - self._last_frame_at
            if silent < self.stall_s:
                return ""
            if not self._stalled:
                self._stalled = True
                self.stalls += 1
        return f"no frames for {int(silent)} s"

    def status_for(self, frame: Frame | None) -> str:
        # A frame came from a working source, even if the thread has lost the camera since it was read.
        return self.status if frame is None else ""

    def next(self, timeout: float) -> Frame | None:
        """The newest frame not handed out yet; None if none arrives within `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._fresh or self._error is not None or self._stop.is_set(),
                                   timeout)
            if self._error is not None:
                # A bug in the capture thread belongs to the caller, with its traceback.
                raise self._error
            if not self._fresh:
                return None
            self._fresh = False
            return self._latest

    def close(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        super().close()

    # -- the thread ------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    self._reconnect()
                    continue
                with self._changed:
                    if self._fresh:
                        self.frames_dropped += 1
                    self._latest, self._fresh = frame, True
                    # The first frame after a reopen, not the reopen, proves the camera is back: clearing
                    # the status with it means whoever sees "" also finds a frame from after the loss.
                    self._status = ""
                    self._last_frame_at, self._stalled = time.monotonic(), False
                    self.frames_captured += 1
                    self._changed.notify_all()
        except BaseException as exc:  # handed to the pipeline thread, which re-raises it
            with self._changed:
                self._error = exc
                self._changed.notify_all()

    def _reconnect(self) -> None:
        self.source.close()
        attempt = 0
        while not self._stop.is_set():
            delay = self.backoff.delay(attempt)
            self._set_status(f"{self.source.kind} lost - reconnecting in {delay:g} s")
            if self._stop.wait(delay):
                return
            # Opening a network stream can take up to its open timeout: say what is going on meanwhile.
            self._set_status(f"{self.source.kind} lost - connecting to {self.source.uri}")
            try:
                self.source.open()
            except SourceError:
                attempt += 1
                continue
            with self._changed:
                self._last_frame_at = time.monotonic()  # the watchdog counts from the reopen
            self.reconnects += 1
            return

    def _set_status(self, text: str) -> None:
        with self._changed:
            self._status = text
            self._changed.notify_all()


def open_feed(source: FrameSource, backoff: Backoff | None = None, stall_s: float = DEFAULT_STALL_S) -> FrameFeed:
    """Open the source unless it is (raising SourceError now if it cannot be), and start the right feed."""
    if not source.is_open:
        source.open()
    if source.live:
        return CaptureThread(source, backoff, stall_s).start()
    return SequentialFeed(source)
