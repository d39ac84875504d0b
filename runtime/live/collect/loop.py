"""The collect loop: frames -> hand stage -> session -> samples on disk -> drawn prompt -> window / web page.

`run_collect` is `asl-edge collect` without its command line. Samples are written the moment the session asks for
them (runtime/hand/collected.py, atomic), so Ctrl-C, a closed window or a killed process keeps every sample taken.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asl_edge.errors import DataError
from asl_edge.runtime.hand.collected import CollectedSamples, CollectedWriter
from asl_edge.runtime.hand.photos import no_hand_advice
from asl_edge.runtime.hand.strokes import STROKE_LETTERS
from asl_edge.runtime.hand.tracker import HandTracker
from asl_edge.runtime.live.capture import open_feed
from asl_edge.runtime.live.collect.overlay import draw_collect, status_line
from asl_edge.runtime.live.collect.review import LetterReview, flag_look_alikes
from asl_edge.runtime.live.collect.session import CollectSession, hold_needed_s
from asl_edge.runtime.live.display import Sink, WindowSink
from asl_edge.runtime.live.frames import FrameSource
from asl_edge.runtime.live.handshapes import HANDSHAPES
from asl_edge.runtime.live.pipeline import FpsMeter, Pacer

# The window's keys; the web page's buttons post the command names and arrive as the same keys.
COMMAND_KEYS = {"redo": ord("r"), "skip": ord("s"), "finish": ord("q")}
KEY_ESC = 27
WAITING_NOTE_S = 5.0  # frame-time seconds between "still waiting" lines while a letter gets no sample


@dataclass
class CollectState:
    """What the collect page shows after each frame (`to_dict` is its JSON contract)."""

    letter: str | None
    description: str
    phase: str
    countdown: int
    status: str
    progress: list[tuple[str, int, int]]
    samples: int  # taken this session
    frame_index: int
    fps: float

    def to_dict(self) -> dict[str, Any]:
        return {"letter": self.letter, "description": self.description, "phase": self.phase,
                "countdown": self.countdown, "status": self.status,
                "progress": [[letter, taken, asked] for letter, taken, asked in self.progress],
                "samples": self.samples, "frame_index": self.frame_index, "fps": round(self.fps, 2)}


def collect_state(session: CollectSession, t: float, frame_index: int, fps: float) -> CollectState:
    letter, samples = session.letter, sum(session.counts.values())
    status = f"finished ({session.finished_by}): {samples} samples saved" if session.done else status_line(session, t)
    return CollectState(letter, HANDSHAPES.get(letter or "", ""), session.phase, session.countdown_display(t),
                        status, session.progress(), samples, frame_index, fps)


@dataclass
class CollectResult:
    """frames read, frames with a hand, samples written this session, why it stopped ("all letters", "finish",
    "end of source", "interrupt"), wall-clock seconds, and notes for the user."""

    frames: int
    hand_frames: int
    samples: int
    finished_by: str
    wall_s: float
    notes: list[str] = field(default_factory=list)
    reviews: list[LetterReview] = field(default_factory=list)  # per letter of the dataset, once reviewed


def run_collect(source: FrameSource, tracker: HandTracker, writer: CollectedWriter, session: CollectSession,
                sinks: Sequence[Sink[CollectState]] = (), log: Callable[[str], None] = print,
                realtime: bool = False, frame_timeout_s: float = 0.5,
                predict: Callable[[CollectedSamples], np.ndarray] | None = None) -> CollectResult:
    """Run the session over the source until every letter has its samples, finish (q, Esc, the page's button), the
    source's end or Ctrl-C. Closes the source and the writer, not the sinks. `realtime`: play files at their own
    pace (someone is watching). `predict`: the bundled model's label per sample, which decides which of two
    look-alike samples is flagged (review.flag_look_alikes). DataError when the source ended without showing a
    hand in any frame."""
    feed = open_feed(source)
    pacer, fps = Pacer(realtime and not source.live), FpsMeter()
    frames = hand_frames = 0
    started = time.perf_counter()
    announced: tuple[str | None, str] = (None, "")
    waiting_since: float | None = None
    last: tuple[np.ndarray, float, int] | None = None  # the last clean frame, its time and index, for the final view
    keys = any(isinstance(sink, WindowSink) for sink in sinks)  # the keys line is for a window's keyboard
    shown: tuple[np.ndarray, CollectState] | None = None  # the last drawn frame and its state
    lost = ""  # the live source's trouble, once logged
    # A source that ends before any letter's recording took nothing because of the countdown, not an unsteady hand.
    reached_recording = False
    try:
        while not session.done:
            frame = feed.next(frame_timeout_s)
            if frame is None:
                if feed.ended:
                    session.finished_by = session.finished_by or "end of source"
                    break
                # A live source with nothing new yet; the capture thread reconnects a lost camera and says so.
                if feed.status and feed.status != lost:
                    log(f"source: {feed.status}")
                lost = feed.status
                if shown is not None:
                    for sink in sinks:  # keep the window's keys (q) and the page's buttons working meanwhile
                        _apply_key(sink.show(shown[0], shown[1]), session, writer, log)
                continue
            lost = ""
            pacer.wait(frame.timestamp)
            t = frame.timestamp
            hand = tracker.process(frame.image)
            frames += 1
            hand_frames += hand is not None
            letter = session.letter
            if (session.update(t, None if hand is None else hand.landmarks, 1.0 if hand is None else hand.handedness)
                    and letter is not None and hand):
                stroke = session.stroke
                if stroke is not None:
                    height, width = frame.image.shape[:2]
                    sample_id = writer.add_stroke(letter, stroke, (width, height))
                    what = f"{sample_id}, a stroke of {stroke.end - stroke.start:.2f} s"
                else:
                    sample_id = writer.add(letter, frame.image, hand)  # before drawing: the frame is stored clean
                    what = sample_id
                session.recorded(t, sample_id)
                log(f"{letter}: {session.counts[letter]}/{session.config.samples} ({what})")
                waiting_since = t
            reached_recording = reached_recording or session.phase == "recording"
            if (session.letter, session.phase) != announced:
                announced = (session.letter, session.phase)
                waiting_since = t
                if session.letter is not None:
                    log(_announcement(session))
            elif session.phase == "recording" and waiting_since is not None and t - waiting_since >= WAITING_NOTE_S:
                log(f"{session.letter}: waiting - {status_line(session, t)}")
                waiting_since = t
            if sinks:
                last = (frame.image.copy(), t, frame.index)
                image = draw_collect(frame.image, session, hand, t, interactive=keys)
                state = collect_state(session, t, frame.index, fps.tick(time.perf_counter()))
                shown = (image, state)
                for sink in sinks:
                    _apply_key(sink.show(image, state), session, writer, log)
    except KeyboardInterrupt:
        session.finished_by = "interrupt"
    finally:
        ended_on = session.letter  # finish() clears it
        session.finish()
        notes = [feed.ended_early] if feed.ended_early else []
        short = [(letter, taken, asked) for letter, taken, asked in session.progress() if taken < asked]
        in_countdown = bool(hand_frames and not reached_recording and session.finished_by == "end of source")
        # A video ending mid-letter (the countdown can take a short clip's whole letter) is not an error, nor a
        # session finished or interrupted early (skipped letters included): the note says how to fill them in.
        stopped = {"end of source": "the source ended", "finish": "finished",
                   "interrupt": "interrupted"}.get(session.finished_by)
        if short and stopped:
            notes.append(f"{stopped} before {', '.join(f'{k} ({t}/{a})' for k, t, a in short)} had their "
                         f"samples; run collect again with --letters {','.join(k for k, _, _ in short)} to add them"
                         + (" (a shorter --countdown suits a recorded video)"
                            if stopped == "the source ended" and not source.live and session.config.countdown_s > 0
                            and not in_countdown else ""))
        early = [letter for letter, _, _ in short if letter in session.changed_early]
        if early:
            notes.append(f"the hand held a steady, different handshape before {', '.join(early)} had "
                         f"{'its' if len(early) == 1 else 'their'} samples, so it was not taken as "
                         f"{'that letter' if len(early) == 1 else 'those letters'}; in a recording hold each letter "
                         f"at least {hold_needed_s(session.config):.1f} s ((--samples - 1) x --interval + 1.3 s), "
                         "with an empty frame or a lowered hand between letters")
        # Nothing recorded at a J or Z prompt: the note after the loop says what was and was not drawn.
        drew_nothing = bool(hand_frames and not writer.added and session.finished_by == "end of source"
                            and ended_on in STROKE_LETTERS)
        # A stroke of the other letter at a prompt is not taken; only the status line says so while it happens.
        notes += [f"a {other} stroke was seen at the {letter} prompt and not taken as {letter} ({HANDSHAPES[letter]})"
                  for letter, _, _ in short if (other := session.misreads.get(letter)) is not None
                  and not (drew_nothing and letter == ended_on)]
        feed.close()
        try:
            if writer.added:  # what this session added may look like another letter's samples: say so on disk
                samples = writer.samples
                writer.flag(flag_look_alikes(samples, predict(samples) if predict is not None else None))
        finally:
            writer.close()
    if last is not None:
        # The end, shown once: the window and the page say the session is over and what was saved.
        image, t, index = last
        for sink in sinks:
            sink.show(draw_collect(image, session, None, t, interactive=False), collect_state(session, t, index, 0.0))
    if frames and not hand_frames and session.finished_by == "end of source":
        raise DataError(f"no hand seen in any of the {frames} frames of {source.describe()}: "
                        f"{no_hand_advice(tracker.config)}; then run collect again")
    if not frames:
        raise DataError(f"{source.describe()} gave no frames; check the source with `asl-edge run --source ...`")
    if in_countdown:
        notes.append(f"the source ended during the countdown of the first letter ({ended_on}, --countdown "
                     f"{session.config.countdown_s:g} s), so no letter reached recording; pass a shorter --countdown"
                     + (f", e.g. --countdown 0 for {'an image folder' if source.photos else 'a recorded video'}"
                        if not source.live else ""))
    elif drew_nothing and ended_on is not None:
        other = session.misreads.get(ended_on)
        notes.append(f"a hand was seen in {hand_frames} frames but no {ended_on} stroke was seen while {ended_on} was "
                     f"asked for ({HANDSHAPES[ended_on]})"
                     + (f"; a {other} stroke was seen instead, and is not taken as {ended_on}" if other else "")
                     + "; recording starts after the countdown, so a recording of a stroke needs --countdown 0 or a "
                     "pause before it")
    elif hand_frames and not writer.added and session.finished_by == "end of source":
        notes.append(f"a hand was seen in {hand_frames} frames but never held steady for "
                     f"{session.config.window_s:g} s (--steady)"
                     + ("; in an image folder each photo is one frame at --fps, so a pose needs that long of "
                        "consecutive frames" if source.photos else ""))
    return CollectResult(frames, hand_frames, len(writer.added), session.finished_by,
                         time.perf_counter() - started, notes)


def _announcement(session: CollectSession) -> str:
    letter = session.letter or ""
    if session.phase == "countdown":
        return (f"letter {letter}: {HANDSHAPES[letter]} - recording in {session.config.countdown_s:g} s "
                f"({session.counts[letter]}/{session.config.samples})")
    if session.drawing:
        return f"{letter}: recording - draw the letter ({HANDSHAPES[letter]})"
    return f"{letter}: recording - hold the sign steady"


def _apply_key(key: int | None, session: CollectSession, writer: CollectedWriter,
               log: Callable[[str], None]) -> None:
    """The window's keys and the page's buttons: r redo the last sample, s skip the letter, q or Esc finish."""
    if key == COMMAND_KEYS["redo"]:
        sample_id = session.redo()
        if sample_id is not None:
            writer.remove(sample_id)
            log(f"redo: removed {sample_id}")
    elif key == COMMAND_KEYS["skip"]:
        skipped = session.letter
        session.skip()
        log(f"{skipped}: skipped")
    elif key in (COMMAND_KEYS["finish"], KEY_ESC):
        session.finish()


def summary_lines(result: CollectResult, writer: CollectedWriter) -> list[str]:
    """What the command prints at the end: this session, then the whole dataset."""
    counts = writer.samples.counts()
    strokes = writer.manifest.get("strokes") or {}
    flagged = sum(review.flagged for review in result.reviews)
    return [f"collected {result.samples} samples in {result.frames} frames ({result.hand_frames} with a hand), "
            f"{result.wall_s:.1f} s, stopped by {result.finished_by}",
            f"dataset {writer.folder}: {len(writer.samples)} samples, "
            + (", ".join(f"{label} {n}" for label, n in counts.items()) or "none yet")
            + (f"; strokes {', '.join(f'{label} {n}' for label, n in sorted(strokes.items()))}" if strokes else "")
            + (f"; {flagged} flagged, left out of training" if flagged else ""),
            *(f"  {review.line()}" for review in result.reviews)]

