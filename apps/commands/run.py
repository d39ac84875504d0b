"""asl-edge run --source SOURCE --model MODEL: the live letter recogniser (camera, stream, video, images)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from asl_edge.apps.options import (
    PIPELINE_DEFAULTS,
    add_backend_options,
    add_hand_options,
    add_source_options,
    add_spelling_options,
    add_view_options,
    backend_kwargs,
    source_from_args,
)
from asl_edge.runtime.backends import Backend, backend_for, load_backend
from asl_edge.runtime.hand.chain import open_chain
from asl_edge.runtime.hand.models import BUNDLED_LANDMARK_MODEL as DEFAULT_MODEL
from asl_edge.runtime.live.display import Sink, VideoFileSink, WebSink, close_sinks, open_sinks
from asl_edge.runtime.live.latency import format_summary
from asl_edge.runtime.live.pipeline import PipelineConfig, PipelineResult, run_pipeline
from asl_edge.runtime.live.sources import FrameSource
from asl_edge.runtime.live.state import LiveState


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_options(parser)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="model.onnx, model.engine or checkpoint.pt (default: the bundled hand-landmark model)")
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


def config_from_args(args: argparse.Namespace, roi_size: float | None = None) -> PipelineConfig:
    return PipelineConfig(roi_size=roi_size if roi_size is not None else args.roi_size,
                          roi_offset=tuple(getattr(args, "roi_offset", (0.0, 0.0))),
                          threshold=args.threshold, hold_s=args.hold, window=args.smooth,
                          max_frames=getattr(args, "max_frames", None))


def print_text_changes() -> Callable[[LiveState], None]:
    """An on_frame callback printing the text whenever it changes (what a headless user sees)."""
    last = [""]

    def on_frame(state: LiveState) -> None:
        if state.text != last[0]:
            last[0] = state.text
            print(f"text: {state.text!r}", flush=True)

    return on_frame


def print_result(result: PipelineResult) -> None:
    print(format_summary(result.stages.summary()))
    print(f"{result.frames} frames in {result.wall_s:.1f} s ({result.fps:.1f} FPS), stopped by {result.stopped_by}")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"spelled: {result.text!r}")


def watched(sinks: list[Sink]) -> bool:
    """Someone is watching (window or web page): play files at their own pace rather than flat out."""
    return any(not isinstance(sink, VideoFileSink) for sink in sinks)


def open_backend(args: argparse.Namespace) -> Backend:
    """The model on the chosen backend. TensorRT takes an engine, or an ONNX file whose engine is built for this
    GPU first (or reused from the engine cache), through the benchmark's path (export.trt_builder)."""
    if args.backend == "tensorrt" or (args.backend == "auto" and backend_for(args.model) == "tensorrt"):
        from asl_edge.export.trt_builder import tensorrt_backend

        return tensorrt_backend(args.model, log=lambda line: print(line, file=sys.stderr, flush=True))
    return load_backend(args.model, args.backend, **backend_kwargs(args, args.model))


def run_live(args: argparse.Namespace, source: FrameSource, config: PipelineConfig, default_fps: float,
             announce: Callable[[Backend], None]) -> PipelineResult:
    """Load the model, open the outputs, run the pipeline over an opened source, close everything and print
    the summary. Shared by `run` and `demo`."""
    try:
        backend = open_backend(args)
    except BaseException:
        source.close()
        raise
    try:
        chain = open_chain(backend, args.hand, args.hand_models, args.fallback, getattr(args, "provider", "auto"),
                           crop_model=args.crop_model, crop_weight=args.crop_weight,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
    except BaseException:
        backend.close()
        source.close()
        raise
    announce(backend)
    if chain is not None:
        fallback = f", fallback {chain.fallback.describe()} on the fixed box" if chain.fallback else ""
        print(f"hand stage: MediaPipe palm detection + landmarks ({args.hand_models}) on "
              f"{chain.tracker.models.describe()}"
              f"{fallback}")
    with backend:
        try:
            sinks = open_sinks(window=not args.no_window, web=args.web, host=args.host, port=args.port,
                               save=args.save, fps=source.nominal_fps or default_fps)
        except BaseException:
            source.close()
            raise
        for sink in sinks:
            if isinstance(sink, WebSink):
                print(f"web view: {sink.url}", flush=True)
        if not sinks:
            print("no display: showing nothing (use --web to watch in a browser, --save to record)")
        try:
            result = run_pipeline(source, backend, replace(config, realtime=watched(sinks)), sinks,
                                  on_frame=print_text_changes(), chain=chain)
        finally:
            close_sinks(sinks)
            if chain is not None:
                chain.close()
    print_result(result)
    return result


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    source = source_from_args(args)
    source.open()  # fail on a bad source before loading a model or binding a port

    def announce(backend: Backend) -> None:
        print(f"model: {args.model} ({backend.describe()}, {backend.spec.num_classes} labels)")
        print(f"source: {source.describe()}")

    run_live(args, source, config, 30.0, announce)
    return 0
