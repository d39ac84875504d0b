"""asl-edge collect --source SRC --out mysigns/: record your own samples of each letter (issue 14)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asl_edge.apps.options import add_view_options
from asl_edge.runtime.live.collect import (
    CollectConfig,
    ViewOptions,
    collect,
    model_letters,
    parse_letters,
)
from asl_edge.runtime.live.collect.loop import summary_lines
from asl_edge.runtime.live.collect.session import STEADY_THRESHOLD
from asl_edge.runtime.live.sources import CaptureOptions, parse_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True,
                        help="0 or /dev/video0 (USB camera), csi://0 (Jetson CSI camera), rtsp://..., a video "
                             "file or an image folder")
    parser.add_argument("--out", type=Path, default=Path("mysigns"),
                        help="dataset folder; running again adds to it (default: mysigns)")
    parser.add_argument("--letters", default=None,
                        help="letters to record, e.g. A,M,N,T (default: every letter the bundled landmark model "
                             "knows)")
    parser.add_argument("--samples", type=int, default=10, help="samples per letter this session (default: 10)")
    parser.add_argument("--countdown", type=float, default=3.0, metavar="SECONDS",
                        help="time to form the handshape before recording starts (default: 3)")
    parser.add_argument("--interval", type=float, default=0.5, metavar="SECONDS",
                        help="at most one sample per this many seconds (default: 0.5)")
    parser.add_argument("--steady", type=float, default=STEADY_THRESHOLD, metavar="PALMS",
                        help="record only while the landmarks moved less than this many palm sizes over 0.3 s "
                             f"(default: {STEADY_THRESHOLD})")
    parser.add_argument("--no-frames", action="store_true",
                        help="privacy: store hand crops and landmarks only, no full frames")
    parser.add_argument("--hand-models", default="full", choices=("full", "lite"),
                        help="bundled MediaPipe hand models (default: full)")
    parser.add_argument("--provider", default="auto", choices=("auto", "tensorrt", "cuda", "cpu"),
                        help="ONNX Runtime execution provider for the hand models (default: the best available)")
    parser.add_argument("--width", type=int, default=None, help="capture width (camera default if not given)")
    parser.add_argument("--height", type=int, default=None, help="capture height")
    parser.add_argument("--fps", type=float, default=None,
                        help="capture rate; for image folders the rate the images stand for (default: 10)")
    add_view_options(parser)


def run(args: argparse.Namespace) -> int:
    letters = parse_letters(args.letters) if args.letters is not None else model_letters()
    config = CollectConfig(letters, args.samples, args.countdown, args.interval, args.steady)
    source = parse_source(args.source, CaptureOptions(args.width, args.height, args.fps))
    source.open()  # fail on a bad source before loading models or writing anything
    print(f"source: {source.describe()}")
    print(f"collecting {config.samples} samples of {', '.join(letters)} into {args.out}"
          f"{' (no full frames)' if args.no_frames else ''}", flush=True)
    view = ViewOptions(window=not args.no_window, web=args.web, host=args.host, port=args.port, save=args.save)
    result, writer = collect(source, args.out, config, store_frames=not args.no_frames, view=view,
                             hand_models=args.hand_models, provider=args.provider,
                             log=lambda line: print(line, flush=True))
    for line in summary_lines(result, writer):
        print(line)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
