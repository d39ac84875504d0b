"""`asl-edge collect`: a guided session that records a signer's own samples of each letter (issue 14).

For each letter it shows the letter and its handshape (handshapes.py), counts down, then records samples while a
hand is found and held steady (session.py), into the dataset of runtime/hand/collected.py, in an OpenCV window, on
the `--web` page (web/collect.html) or, with neither, printing plain progress lines. `collect()` is the command
without its argument parsing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asl_edge.errors import DataError
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.hand.chain import open_hand_models
from asl_edge.runtime.hand.collected import CollectedSamples, CollectedWriter, hand_model_record
from asl_edge.runtime.hand.compare import predict_samples
from asl_edge.runtime.hand.models import BUNDLED_LANDMARK_MODEL
from asl_edge.runtime.hand.photos import tracker_config
from asl_edge.runtime.hand.strokes import stroke_notes
from asl_edge.runtime.hand.tracker import HandTracker
from asl_edge.runtime.live.collect.loop import COMMAND_KEYS, CollectResult, CollectState, run_collect
from asl_edge.runtime.live.collect.review import LetterReview, review_letters
from asl_edge.runtime.live.collect.session import CollectConfig, CollectSession
from asl_edge.runtime.live.display import Sink, VideoFileSink, WebSink, WindowSink, close_sinks, has_display
from asl_edge.runtime.live.frames import FrameSource
from asl_edge.runtime.live.handshapes import HANDSHAPES

WEB_PAGE = "collect.html"
WEB_LINGER_S = 1.0  # the page's last update (finished, samples saved) goes out before the server stops


# The non-letter labels of the ASL Alphabet classes (asl-alphabet-mini): not handshapes collect can prompt for.
NON_LETTER_LABELS = ("del", "space", "nothing")


def parse_letters(text: str) -> tuple[str, ...]:
    """"A,M,N,T" (or "amnt", or "A M N") -> ("A", "M", "N", "T"); DataError for anything but A-Z."""
    parts = [part for part in text.replace(",", " ").split() if part]
    words = [part for part in parts if part.lower() in NON_LETTER_LABELS]
    if words:  # else "del" would read as the shorthand for D, E, L
        raise DataError(f"--letters {text!r}: collect prompts for the handshapes of the letters A-Z; "
                        f"{', '.join(words)} is not one of them, e.g. --letters A,M,N,T")
    letters = tuple(part.upper() for part in (parts if len(parts) > 1 else list(parts[0]) if parts else []))
    unknown = [letter for letter in letters if letter not in HANDSHAPES]
    if not letters or unknown:
        raise DataError(f"--letters {text!r}: give letters A-Z separated by commas, e.g. --letters A,M,N,T")
    return letters


def model_letters(model: str | os.PathLike[str] = BUNDLED_LANDMARK_MODEL) -> tuple[str, ...]:
    """The letters (A-Z) among a model's labels, in its label order: what collect asks for by default. J and Z are
    recorded as strokes (session.py)."""
    with load_backend(model) as backend:
        return tuple(label for label in backend.spec.labels if label in HANDSHAPES)


@dataclass(frozen=True)
class ViewOptions:
    """Where the session is shown: window (when a display exists), the web page (host, port), a video file."""

    window: bool = True
    web: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    save: str | os.PathLike[str] | None = None


def open_collect_sinks(view: ViewOptions, fps: float) -> list[Sink[CollectState]]:
    sinks: list[Sink[CollectState]] = []
    try:
        if view.window and has_display():
            sinks.append(WindowSink("asl-edge collect"))
        if view.web:
            sinks.append(WebSink(view.host, view.port, page=WEB_PAGE, commands=COMMAND_KEYS))
        if view.save is not None:
            sinks.append(VideoFileSink(view.save, fps))
    except BaseException:
        close_sinks(sinks)
        raise
    return sinks


def collect(source: FrameSource, out: str | os.PathLike[str], config: CollectConfig, store_frames: bool = True,
            view: ViewOptions | None = None, hand_models: str = "full", provider: str = "auto",
            hand_backend: str = "auto", log: Callable[[str], None] = print) -> tuple[CollectResult, CollectedWriter]:
    """Run a collect session from an opened-or-not source into `out` (created, or resumed when it holds a
    dataset). Returns the result and the writer (whose `samples` are the whole dataset now)."""
    view = view or ViewOptions(window=False)
    models = None
    try:
        with load_backend(BUNDLED_LANDMARK_MODEL) as classifier:
            models = open_hand_models(classifier, hand_models, provider, hand_backend, log)
        tracker = HandTracker(models, tracker_config(source.photos, hand_models))
        if not source.is_open:
            source.open()
        # The views first: a port in use or a bad --save path fails before the folder gets a session entry.
        sinks = open_collect_sinks(view, source.nominal_fps or 30.0)
        try:
            writer = CollectedWriter(Path(out), store_frames, {
                "source": source.describe(),
                "hand_models": hand_model_record(models.paths, hand_models, models.describe()),
                "settings": {"letters": list(config.letters), "samples": config.samples,
                             "countdown_s": config.countdown_s, "interval_s": config.interval_s,
                             "steady_palms": config.steady, "steady_window_s": config.window_s}})
        except BaseException:
            close_sinks(sinks)
            raise
        for sink in sinks:
            if isinstance(sink, WebSink):
                log(f"web view: {sink.url}")
        if not sinks and source.live:
            log("no window or page: press Ctrl-C to finish (every sample is saved as it is taken); --web serves "
                "the collect page")
        for note in stroke_notes(writer.folder):
            log(f"note: {note}")
        orphans = writer.orphans()
        if orphans:
            log(f"note: {len(orphans)} sample images in {writer.folder} have no landmarks row (a session killed "
                "while saving); they are left in place")
        try:
            # Someone watching gets a file played at its own pace; a recording alone goes flat out.
            watched = any(not isinstance(sink, VideoFileSink) for sink in sinks)
            result = run_collect(source, tracker, writer, CollectSession(config), sinks, log, realtime=watched,
                                 predict=bundled_reading)
            result.reviews = review(writer)
            if any(isinstance(sink, WebSink) for sink in sinks):
                time.sleep(WEB_LINGER_S)
        finally:
            close_sinks(sinks)
    finally:
        source.close()
        if models is not None:
            models.close()
    return result, writer


def bundled_reading(samples: CollectedSamples) -> np.ndarray:
    """(N,) the bundled landmark model's label of each sample: review.py's second opinion."""
    with load_backend(BUNDLED_LANDMARK_MODEL) as classifier:
        return predict_samples(classifier, samples)


def review(writer: CollectedWriter) -> list[LetterReview]:
    """How sure each letter of the dataset is (review.py), with the bundled model's reading as a second opinion."""
    samples = writer.samples
    if not len(samples):
        return []
    return review_letters(samples, writer.manifest.get("flagged") or {}, bundled_reading(samples))


__all__ = ["CollectConfig", "CollectResult", "ViewOptions", "collect", "model_letters", "parse_letters"]
