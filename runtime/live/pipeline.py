"""The live loop: capture -> [hand stage] -> preprocess -> infer -> smooth, spell -> overlay -> sinks, timed per stage.

With a HandChain the hand is found anywhere in the frame (palm detection, then tracking) and the classifier
reads its landmarks or the box around it; without one, the classifier reads the fixed box.

`run_pipeline` is the whole app without its command line: give it a FrameSource, a Backend, a config
and sinks; it returns the spelled text and per-stage latency statistics.

Nothing grows per frame, so an always-on run holds flat memory: latency percentiles cover a fixed window
of recent frames (latency.py), the text keeps its tail (spelling.TEXT_LIMIT characters; the whole text can
go to a Transcript file) and the result keeps the last COMMITS_KEPT commits (with a count of all).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from asl_edge.errors import AslEdgeError
from asl_edge.preprocess import DEFAULT_ROI_FRACTION, Roi, preprocess
from asl_edge.runtime.backends.base import Backend
from asl_edge.runtime.hand.chain import HandChain
from asl_edge.runtime.hand.photos import no_hand_advice
from asl_edge.runtime.live.capture import DEFAULT_STALL_S, Backoff, open_feed
from asl_edge.runtime.live.decoding import DECODERS, Decoder, SpellingConfig, hand_inputs, make_decoder
from asl_edge.runtime.live.display import Sink
from asl_edge.runtime.live.events import SpellingEvent
from asl_edge.runtime.live.frames import FrameSource
from asl_edge.runtime.live.latency import DEFAULT_WINDOW, StageTimer
from asl_edge.runtime.live.motion import MotionConfig
from asl_edge.runtime.live.overlay import Overlay
from asl_edge.runtime.live.spelling import (
    DEFAULT_HOLD_S,
    DEFAULT_RELEASE_S,
    DEFAULT_THRESHOLD,
    Commit,
)
from asl_edge.runtime.live.state import LiveState
from asl_edge.runtime.live.transcript import Transcript

if TYPE_CHECKING:
    from asl_edge.runtime.live.suggest import Suggestion
from asl_edge.spec import SPACE

# A word suggester: the raw letters of one word -> the likely word (suggest.WordSuggester.suggest), or None.
Suggest = Callable[[str], "Suggestion | None"]

STAGES = ("capture", "preprocess", "infer", "postprocess", "render")
HAND_STAGES = ("capture", "detect", "landmarks", "preprocess", "infer", "postprocess", "render")
KEY_CLEAR = {ord("c")}
KEY_QUIT = {ord("q"), 27}  # 27: Esc
BLANK_SIZE = (480, 640)  # shown with the status until a camera delivers its first frame
FPS_SMOOTHING = 0.1
COMMITS_KEPT = 100  # the most recent commits a PipelineResult holds (commit_count counts them all)


@dataclass(frozen=True)
class PipelineConfig:
    roi_size: float = DEFAULT_ROI_FRACTION  # side of the square ROI as a fraction of the frame's shorter side
    roi_offset: tuple[float, float] = (0.0, 0.0)  # shift right/down as fractions of the frame size
    decoder: str = DECODERS[0]  # see decoding.DECODERS; "hold" uses threshold, hold_s, release_s, smoothing, window
    threshold: float = DEFAULT_THRESHOLD
    hold_s: float = DEFAULT_HOLD_S
    release_s: float = DEFAULT_RELEASE_S
    smoothing: str = "mean"
    window: int = 5
    max_frames: int | None = None
    frame_timeout_s: float = 0.5  # how long to wait for a live frame before redrawing the status
    realtime: bool = False  # play files and folders at their frame rate (for a viewer) instead of at full speed
    backoff: Backoff = field(default_factory=Backoff)
    stall_s: float = DEFAULT_STALL_S  # a live source silent this long is reported ("no frames for N s")
    max_seconds: float | None = None  # stop after this much wall time (soak runs)
    latency_window: int | None = DEFAULT_WINDOW  # frames behind the latency percentiles; None: every frame
    motion: MotionConfig | None = None  # the fingerspelling decoder's J/Z thresholds (a motion profile); None: defaults

    def __post_init__(self) -> None:
        self.spelling  # noqa: B018 (the hold decoder's settings are checked whatever the decoder)
        if self.decoder not in DECODERS:
            raise AslEdgeError(f"--decoder {self.decoder!r}: choose one of {', '.join(DECODERS)}")
        if not 0.05 <= self.roi_size <= 1.0:
            raise AslEdgeError(f"ROI size (--roi-size) {self.roi_size} must be between 0.05 and 1 (of the frame)")
        if any(not -0.5 <= v <= 0.5 for v in self.roi_offset):
            raise AslEdgeError(f"ROI offset (--roi-offset) {self.roi_offset} must be within -0.5..0.5 of the frame")
        if self.max_frames is not None and self.max_frames < 1:
            raise AslEdgeError(f"--max-frames {self.max_frames} must be at least 1")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise AslEdgeError(f"run time {self.max_seconds} s must be positive")
        if self.stall_s <= 0:
            raise AslEdgeError(f"stall time {self.stall_s} s must be positive")

    def roi_for(self, width: int, height: int) -> Roi:
        return Roi.centered_square(width, height, self.roi_size, *self.roi_offset)

    def make_decoder(self, labels: Sequence[str], hand_stage: bool = True,
                     on_scroll: Callable[[str], None] | None = None) -> Decoder:
        return make_decoder(self.decoder, labels, self.spelling, hand_stage, on_scroll, self.motion)

    @property
    def spelling(self) -> SpellingConfig:
        return SpellingConfig(self.threshold, self.hold_s, self.release_s, self.window, self.smoothing)


@dataclass
class PipelineResult:
    text: str  # the spelled text's last spelling.TEXT_LIMIT characters (all of it with a Transcript)
    frames: int
    commits: Sequence[Commit]  # the last COMMITS_KEPT
    stages: StageTimer
    wall_s: float
    notes: list[str] = field(default_factory=list)
    stopped_by: str = "end"  # end, max-frames, max-seconds, key, interrupt
    commit_count: int = 0  # every commit of the run
    hand_frames: int | None = None  # frames where the hand stage found a hand; None without the hand stage
    photos: bool = False  # the hand stage treated frames as photos (runtime/hand/photos.py)
    ended_early: str | None = None  # what cut a video file short (truncated or damaged), when something did

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


def top_k(probs: np.ndarray, labels: Sequence[str], k: int = 3) -> list[tuple[str, float]]:
    order = np.argsort(probs)[::-1][:k]
    return [(labels[i], float(probs[i])) for i in order]


class FpsMeter:
    """Frames per second from the wall-clock interval between frames, smoothed."""

    def __init__(self) -> None:
        self.fps = 0.0
        self._last: float | None = None

    def tick(self, now: float) -> float:
        if self._last is not None and now > self._last:
            rate = 1.0 / (now - self._last)
            self.fps = rate if self.fps == 0 else (1 - FPS_SMOOTHING) * self.fps + FPS_SMOOTHING * rate
        self._last = now
        return self.fps


class Pacer:
    """Holds file frames back to their position in the file (for a viewer); live frames pass at once."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._origin: tuple[float, float] | None = None  # (frame timestamp, wall time) of the first frame

    def wait(self, timestamp: float) -> float:
        """Sleep until the frame is due; returns the seconds slept."""
        if not self.enabled:
            return 0.0
        now = time.perf_counter()
        if self._origin is None:
            self._origin = (timestamp, now)
        delay = (timestamp - self._origin[0]) - (now - self._origin[1])
        if delay <= 0:
            return 0.0
        time.sleep(delay)
        return delay


def run_pipeline(source: FrameSource, backend: Backend, config: PipelineConfig | None = None,
                 sinks: Sequence[Sink] = (), on_frame: Callable[[LiveState], None] | None = None,
                 chain: HandChain | None = None, on_commit: Callable[[Commit], None] | None = None,
                 on_status: Callable[[str], None] | None = None,
                 transcript: Transcript | None = None, suggest: Suggest | None = None,
                 on_event: Callable[[SpellingEvent], None] | None = None) -> PipelineResult:
    """Run until the source ends, max_frames, max_seconds, a quit key or Ctrl-C; closes the source, not the
    sinks or the transcript.

    With `chain` (whose classifier is `backend`) the hand stage finds the hand; the fixed box is then only
    where the chain's fallback model looks when no hand is found. `on_commit` is called with each commit,
    `on_status` whenever the status line changes (to "" when all is well again), `transcript` receives
    the whole spelled text. `suggest` gives the word suggestion shown beside the raw letters (never instead
    of them); `on_event` receives a SpellingEvent per letter, word end and suggestion."""
    config = config or PipelineConfig()
    spec = backend.spec
    if chain is None and spec.inputs == "landmarks":
        raise AslEdgeError("this model reads hand landmarks, so it needs the hand stage: pass a HandChain "
                           "(asl_edge.runtime.hand.chain.open_chain), or use an image model for the fixed box")
    words = WordTracker(suggest, on_event)
    decoder = config.make_decoder(spec.labels, chain is not None, transcript.scroll if transcript is not None else None)
    timer = StageTimer(HAND_STAGES if chain else STAGES, config.latency_window)
    state, commits, fps = LiveState(), deque[Commit](maxlen=COMMITS_KEPT), FpsMeter()
    overlay, blank = Overlay(None), np.zeros((*BLANK_SIZE, 3), np.uint8)
    state.hand_stage = chain is not None
    frames, commit_count, stopped_by, last_time = 0, 0, "end", 0.0

    def clear_text() -> None:
        if transcript is not None:  # cleared from the screen, not from the record
            transcript.end_line(decoder.text, words.suggested_text(decoder.text))
        decoder.clear()
        state.text = ""

    def take(new_commits: list[Commit]) -> None:
        nonlocal commit_count
        for commit in new_commits:
            commits.append(commit)
            commit_count += 1
            if transcript is not None:
                transcript.update(decoder.text)
            if on_commit is not None:
                on_commit(commit)
            state.suggestion = words.after(commit, decoder.text)

    def set_status(status: str) -> None:
        if status != state.status and on_status is not None:
            on_status(status)
        state.status = status

    feed = open_feed(source, config.backoff, config.stall_s)
    pacer = Pacer(config.realtime and not source.live)
    started = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            if config.max_seconds is not None and t0 - started >= config.max_seconds:
                stopped_by = "max-seconds"
                break
            frame = feed.next(config.frame_timeout_s)
            # Read together with the frame: the capture thread may lose the camera while this one is processed.
            status = feed.status_for(frame)
            t1 = time.perf_counter()
            if frame is None:
                if feed.ended:
                    break
                # A live source with nothing new: keep the sinks alive and tell the user why.
                set_status(status)
                state.letter, state.hold, state.hand, state.phase = None, 0.0, None, "no hand"
                blank.fill(0)
                if _show(blank, state, overlay, sinks, clear_text) == "quit":
                    stopped_by = "key"
                    break
                continue
            slept = pacer.wait(frame.timestamp)
            last_time = frame.timestamp
            t0, t1 = t0 + slept, t1 + slept  # the wait is no stage's time
            if frame.image.shape != blank.shape or overlay.roi is None:
                # The first frame, or a camera that came back with another size.
                blank = np.zeros_like(frame.image)
                overlay = Overlay(config.roi_for(blank.shape[1], blank.shape[0]))
            if chain is None:
                tensor = preprocess(frame.image, spec, overlay.roi)
                t2 = time.perf_counter()
                probs = backend.infer(tensor[None])[0]
                landmarks, handedness = hand_inputs(None)
                hand_ms: tuple[float, ...] = ()
            else:
                out = chain.classify(frame.image, overlay.roi)
                probs, state.hand = out.probs, out.hand
                landmarks, handedness = hand_inputs(out.hand)
                times = chain.tracker.times
                hand_ms = (times.detect_ms, times.landmarks_ms)
                t2 = t1  # the chain's preprocessing (features or a crop) is counted with infer
            t3 = time.perf_counter()
            take(decoder.update(probs, landmarks, handedness, frame.timestamp))
            state.text, state.confidence, state.hold = decoder.text, decoder.confidence, decoder.progress
            state.letter, state.phase = decoder.letter, decoder.phase
            smoothed = decoder.smoothed
            state.top3 = top_k(probs if smoothed is None else smoothed, spec.labels)
            set_status(status)
            state.frame_index, state.fps = frame.index, fps.tick(t3)
            t4 = time.perf_counter()
            action = _show(frame.image, state, overlay, sinks, clear_text)
            t5 = time.perf_counter()
            if chain is None:
                stage_ms = tuple(s * 1000.0 for s in (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4))
            else:
                stage_ms = ((t1 - t0) * 1000.0, *hand_ms, 0.0, (t3 - t1) * 1000.0 - sum(hand_ms),
                            (t4 - t3) * 1000.0, (t5 - t4) * 1000.0)
            for stage, ms in zip(list(timer.stats), stage_ms, strict=True):
                timer.add(stage, ms)
            state.stages_ms = timer.last()
            frames += 1
            if on_frame is not None:
                on_frame(state)
            if action == "quit" or (config.max_frames is not None and frames >= config.max_frames):
                stopped_by = "key" if action == "quit" else "max-frames"
                break
    except KeyboardInterrupt:
        stopped_by = "interrupt"
    finally:
        ended_early, played_out = feed.ended_early, stopped_by == "end" and feed.ended and frames > 0
        feed.close()
        if played_out:  # a file played to its end: the letter it ended in may count
            take(decoder.finish(last_time))
        words.finish(decoder.text, last_time)
        if transcript is not None:
            transcript.end_line(decoder.text, words.suggested_text(decoder.text))
    notes = []
    if chain is not None and frames and chain.tracker.times.hands == 0:
        notes.append(f"no hand found in any frame: {no_hand_advice(chain.tracker.config)}; --hand off classifies the "
                     "fixed box instead")
    return PipelineResult(decoder.text, frames, commits, timer, time.perf_counter() - started, notes, stopped_by,
                          commit_count, None if chain is None else chain.tracker.times.hands,
                          chain is not None and chain.tracker.config.pad > 0, ended_early)


class WordTracker:
    """The word being spelled: its suggestion after each commit, and the events of letters and word ends."""

    def __init__(self, suggest: Suggest | None, on_event: Callable[[SpellingEvent], None] | None) -> None:
        self.suggest, self.on_event = suggest, on_event
        self.suggestion: str | None = None  # for the word being spelled, or the one that just ended
        self.suggested: dict[str, str] = {}  # raw word -> its suggestion, for the words that ended

    def after(self, commit: Commit, text: str) -> str | None:
        """The suggestion to show after `commit` turned the text into `text`."""
        ended = commit.label == SPACE
        word = text.rstrip(" ").rsplit(" ", 1)[-1] if ended else text.rsplit(" ", 1)[-1]
        if not ended:
            self._emit(SpellingEvent("letter", commit.timestamp, commit.label, commit.confidence))
            found = self.suggest(word) if self.suggest is not None and word else None
            self.suggestion = None if found is None else found.word
            return self.suggestion
        found = self.suggest(word) if self.suggest is not None and word else None
        # Only the words still in the (bounded) text are kept, so memory stays flat over a day-long run.
        self.suggested = {w: self.suggested[w] for w in text.split(" ") if w in self.suggested}
        if found is not None:  # before the word's end, so a reader of the word end has its suggestion already
            self._emit(SpellingEvent("suggestion", commit.timestamp, found.word, found.score, raw=word))
            self.suggested[word] = found.word
        self._emit(SpellingEvent("word_end", commit.timestamp, word, commit.confidence))
        return self.suggestion

    def suggested_text(self, text: str) -> str | None:
        """`text` with each word that had a suggestion replaced by it, or None when no word had one."""
        words = text.split(" ")
        replaced = [self.suggested.get(word, word) for word in words]
        return " ".join(replaced) if replaced != words else None

    def finish(self, text: str, timestamp: float) -> None:
        """The stream ended: the word being spelled (if any) ends too."""
        if text and not text.endswith(" "):
            self.after(Commit(SPACE, timestamp), text)

    def _emit(self, event: SpellingEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)


def _show(image: np.ndarray, state: LiveState, overlay: Overlay, sinks: Sequence[Sink],
          clear_text: Callable[[], None]) -> str | None:
    overlay.draw(image, state)
    action = None
    for sink in sinks:
        key = sink.show(image, state)
        if key in KEY_CLEAR:
            clear_text()
        elif key in KEY_QUIT:
            action = "quit"
    return action
