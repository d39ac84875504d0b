"""asl-edge run --source SOURCE --model MODEL: the live letter recogniser (camera, stream, video, images)."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from asl_edge.apps.options import (
    PIPELINE_DEFAULTS,
    add_backend_options,
    add_hand_options,
    add_source_options,
    add_spec_option,
    add_spelling_options,
    add_view_options,
    announce_decoder,
    backend_kwargs,
    check_view_options,
    motion_from_args,
    open_source,
    source_from_args,
    spec_from_args,
    start_suggester,
)
from asl_edge.apps.overwrites import refuse_overwrites
from asl_edge.benchmark.soak import SoakMonitor
from asl_edge.errors import AslEdgeError, DataError
from asl_edge.onnx_header import sidecar_spec_path
from asl_edge.runtime.backends import Backend, backend_for, load_backend
from asl_edge.runtime.hand.chain import open_chain
from asl_edge.runtime.hand.models import ASSETS
from asl_edge.runtime.hand.models import BUNDLED_LANDMARK_MODEL as DEFAULT_MODEL
from asl_edge.runtime.live.display import Sink, VideoFileSink, WebSink, close_sinks, open_sinks
from asl_edge.runtime.live.events import EventWriter, SpellingEvent
from asl_edge.runtime.live.frames import FrameSource
from asl_edge.runtime.live.latency import format_summary
from asl_edge.runtime.live.motion_profile import find_profile
from asl_edge.runtime.live.pipeline import PipelineConfig, PipelineResult, Suggest, run_pipeline
from asl_edge.runtime.live.sources import LoopingSource
from asl_edge.runtime.live.spelling import Commit
from asl_edge.runtime.live.transcript import StreamTranscript, Transcript

if TYPE_CHECKING:
    from concurrent.futures import Future

    from asl_edge.runtime.live.suggest import Suggestion, WordSuggester


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_options(parser)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="model.onnx, model.engine or checkpoint.pt (default: the bundled hand-landmark model)")
    add_spec_option(parser)
    add_backend_options(parser)
    parser.add_argument("--roi-size", type=float, default=PIPELINE_DEFAULTS.roi_size,
                        help="side of the fixed square box (--hand off, or the fallback's view) as a fraction of the "
                             "frame's shorter side (default: %(default)s)")
    parser.add_argument("--roi-offset", type=float, nargs=2, default=(0.0, 0.0), metavar=("X", "Y"),
                        help="move the box right/down by these fractions of the frame (default: 0 0, centred)")
    add_hand_options(parser)
    add_spelling_options(parser)
    add_view_options(parser)
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--soak", type=float, default=None, metavar="SECONDS",
                        help="memory soak check: play the source (a file or folder loops) for SECONDS without a "
                             "window and report RSS after the warm-up and at the end, and the growth per 100k frames")


def config_from_args(args: argparse.Namespace, roi_size: float | None = None) -> PipelineConfig:
    return PipelineConfig(roi_size=roi_size if roi_size is not None else args.roi_size,
                          roi_offset=tuple(getattr(args, "roi_offset", (0.0, 0.0))),
                          decoder=args.decoder, threshold=args.threshold, hold_s=args.hold, window=args.smooth,
                          max_frames=getattr(args, "max_frames", None), motion=motion_from_args(args, args.model))


def print_commit(commit: Commit) -> None:
    """One line per commit with only the new letter (or space/del), so a day-long log grows linearly."""
    print(f"commit: {commit.label}", flush=True)


def print_word_events(events: EventWriter | None) -> Callable[[SpellingEvent], None]:
    """An on_event callback: each ended word and its suggestion on the console (the raw letters first, the
    suggestion beside them), and every event to --events."""

    suggested_for: list[str | None] = [None]  # the raw word of the last suggestion (it comes just before its end)

    def on_event(event: SpellingEvent) -> None:
        if event.type == "suggestion":
            print(f"word: {event.raw} (suggested: {event.label}, {event.confidence:.0%})", flush=True)
            suggested_for[0] = event.raw
        elif event.type == "word_end":
            if suggested_for[0] != event.label:
                print(f"word: {event.label}", flush=True)
            suggested_for[0] = None
        if events is not None:
            events(event)

    return on_event


def suggestion_source(future: Future[WordSuggester] | None) -> Suggest | None:
    """The pipeline's suggester: none until the background build is done (a few seconds), then its answers."""
    if future is None:
        return None

    def suggest(raw: str) -> Suggestion | None:
        return future.result().suggest(raw) if future.done() else None

    return suggest


def print_status_changes(describe: str) -> Callable[[str], None]:
    """An on_status callback: one line when a problem starts, changes kind, or ends (not one per second of
    "no frames for N s": lines that differ only in their numbers are the same kind)."""
    last = [""]

    def on_status(status: str) -> None:
        kind = re.sub(r"\d+(\.\d+)?", "#", status)
        if kind == last[0]:
            return
        if status:
            print(f"status: {status}", file=sys.stderr, flush=True)
        elif last[0]:
            print(f"status: frames from {describe} again", file=sys.stderr, flush=True)
        last[0] = kind

    return on_status


def print_result(result: PipelineResult) -> None:
    print(format_summary(result.stages.summary()))
    print(f"{result.frames} frames in {result.wall_s:.1f} s ({result.fps:.1f} FPS), stopped by {result.stopped_by}")
    if result.hand_frames is not None:
        how = "each a photo, padded and searched on its own" if result.photos else "tracked from frame to frame"
        print(f"hand found in {result.hand_frames} of {result.frames} frames ({how})")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"spelled: {result.text!r}")


def watched(sinks: list[Sink]) -> bool:
    """Someone is watching (window or web page): play files at their own pace rather than flat out."""
    return any(not isinstance(sink, VideoFileSink) for sink in sinks)


def open_backend(args: argparse.Namespace) -> Backend:
    """The model on the chosen backend. TensorRT takes an engine, or an ONNX file whose engine is built for this
    GPU first (or reused from the engine cache), through the benchmark's path (export.trt_builder)."""
    spec = spec_from_args(args)
    if args.backend == "tensorrt" or (args.backend == "auto" and backend_for(args.model) == "tensorrt"):
        from asl_edge.export.trt_builder import tensorrt_backend

        return tensorrt_backend(args.model, log=lambda line: print(line, file=sys.stderr, flush=True), spec=spec)
    return load_backend(args.model, args.backend, spec, **backend_kwargs(args, args.model))


def run_live(args: argparse.Namespace, source: FrameSource, config: PipelineConfig, default_fps: float,
             announce: Callable[[Backend], None], soak: SoakMonitor | None = None) -> PipelineResult:
    """Load the model, open the outputs, run the pipeline over an opened source, close everything and print
    the summary (and the soak report). Shared by `run` and `demo`."""
    if args.events == "-" or str(args.transcript) == "-":
        # Standard output carries the JSON lines (or the transcript) alone, so `--events - | jq` works; the
        # rest goes to stderr.
        stdout = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            return _run_live(args, source, config, default_fps, announce, soak, stdout)
    return _run_live(args, source, config, default_fps, announce, soak, sys.stdout)


def _run_live(args: argparse.Namespace, source: FrameSource, config: PipelineConfig, default_fps: float,
              announce: Callable[[Backend], None], soak: SoakMonitor | None, stdout: TextIO) -> PipelineResult:
    transcript: Transcript | None = None
    events: EventWriter | None = None
    to_stdout = str(args.transcript) == "-"
    try:
        if to_stdout and args.events == "-":
            raise DataError("--events - and --transcript - both want standard output; send one of them to a "
                            "file, e.g. --transcript spelled.txt")
        inputs: list[tuple[str, object]] = [(f"--{name.replace('_', '-')}", getattr(args, name, None))
                                             for name in ("model", "spec", "words", "crop_model")]
        if getattr(args, "fallback", None) not in (None, "auto", "none"):  # (the bundled one is in ASSETS)
            inputs.append(("--fallback", args.fallback))
        inputs += [("the spec beside the model", sidecar_spec_path(args.model)),
                   ("the motion profile", find_profile(args.model, getattr(args, "motion_profile", None)))]
        refuse_overwrites([("--save", args.save), ("--events", args.events), ("--transcript", args.transcript)],
                          [("--source", source.uri), *inputs], protected=ASSETS)
        if args.transcript is not None:
            # A bad path fails before the model loads.
            transcript = StreamTranscript(stdout) if to_stdout else Transcript(args.transcript)
        if args.events is not None:
            events = EventWriter(args.events, stdout)
        suggester = start_suggester(args)
        backend = open_backend(args)
    except BaseException:
        source.close()
        close_outputs(transcript, events, run_failed=True)
        raise
    run_failed = True
    try:
        result = _run_loaded(args, source, config, default_fps, announce, soak, backend, transcript, events,
                             suggestion_source(suggester))
        run_failed = False
    finally:
        close_outputs(transcript, events, run_failed)
    return result


def close_outputs(transcript: Transcript | None, events: EventWriter | None, run_failed: bool) -> None:
    """Close --transcript and --events, the second even when the first fails. After a failed run a file it
    created and left empty is removed, and the run's own error is the one reported, not a second one of
    closing (the same full drive, typically)."""
    failure: AslEdgeError | None = None
    for output in (transcript, events):
        try:
            if output is not None:
                output.close(run_failed=run_failed)
        except AslEdgeError as exc:
            failure = failure or exc
    if failure is not None and not run_failed:
        raise failure


def _run_loaded(args: argparse.Namespace, source: FrameSource, config: PipelineConfig, default_fps: float,
                announce: Callable[[Backend], None], soak: SoakMonitor | None, backend: Backend,
                transcript: Transcript | None, events: EventWriter | None, suggest: Suggest | None) -> PipelineResult:
    try:
        chain = open_chain(backend, args.hand, args.hand_models, args.fallback, getattr(args, "provider", "auto"),
                           photos=source.photos, crop_model=args.crop_model, crop_weight=args.crop_weight,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
    except BaseException:
        backend.close()
        source.close()
        raise
    announce(backend)
    decoder = announce_decoder(args, chain is not None)
    if chain is not None:
        fallback = f", fallback {chain.fallback.describe()} on the fixed box" if chain.fallback else ""
        print(f"hand stage: MediaPipe palm detection + landmarks ({args.hand_models}) on "
              f"{chain.tracker.models.describe()}"
              f"{fallback}")
    with backend:
        try:
            if events is not None:
                events.run_start(source.uri, decoder, str(args.model))
            sinks = open_sinks(window=not args.no_window and soak is None, web=args.web, host=args.host,
                               port=args.port, save=args.save, fps=source.nominal_fps or default_fps)
        except BaseException:
            source.close()
            raise
        for sink in sinks:
            if isinstance(sink, WebSink):
                print(f"web view: {sink.url}", flush=True)
        if not sinks:
            print("no display: showing nothing (use --web to watch in a browser, --save to record)", flush=True)
        try:
            realtime = watched(sinks) and soak is None  # a soak runs flat out to count many frames
            result = run_pipeline(source, backend, replace(config, realtime=realtime), sinks, on_frame=soak,
                                  chain=chain, on_commit=None if soak else print_commit,
                                  on_status=print_status_changes(source.describe()), transcript=transcript,
                                  suggest=suggest, on_event=print_word_events(events))
        finally:
            try:
                close_sinks(sinks)  # raises when the --save video could not be written
            finally:
                if chain is not None:
                    chain.close()
    print_result(result)
    if soak is not None:
        for line in soak.report.lines():
            print(line)
    return result


def run(args: argparse.Namespace) -> int:
    check_view_options(args)
    config = config_from_args(args)
    soak = SoakMonitor(args.soak) if args.soak is not None else None
    source = source_from_args(args)
    if soak is not None:
        config = replace(config, max_seconds=args.soak)
        if not source.live:
            source = LoopingSource(source)
    open_source(source)  # fail on a bad source before loading a model or binding a port

    def announce(backend: Backend) -> None:
        print(f"model: {args.model} ({backend.describe()}, {backend.spec.num_classes} labels)")
        print(f"source: {source.describe()}" + (f", flipped {args.flip}" if args.flip != "none" else ""))

    result = run_live(args, source, config, 30.0, announce, soak)
    if result.ended_early:
        # What was spelled is out already (and in --transcript/--events); the exit status says it is not the
        # whole video, so a script spelling files does not take a part for the whole.
        raise DataError(f"{result.ended_early}: spelled up to there only (above); copy the file again from where "
                        "it came from (an interrupted copy or recording?), or re-encode what is left (ffmpeg -i IN "
                        "-c:v libx264 OUT.mp4) to spell just that")
    return 0
