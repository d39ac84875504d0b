"""asl-edge collect --source SRC --out mysigns/: record your own samples of each letter (issue 14)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from asl_edge.apps.options import (
    HAND_VARIANTS,
    add_provider_option,
    add_source_options,
    add_view_options,
    check_view_options,
    open_source,
    source_from_args,
)
from asl_edge.apps.overwrites import refuse_overwrites
from asl_edge.errors import DataError
from asl_edge.runtime.live.collect import (
    CollectConfig,
    ViewOptions,
    collect,
    model_letters,
    parse_letters,
)
from asl_edge.runtime.live.collect.loop import summary_lines

DEFAULTS = CollectConfig(("A",))  # the session's defaults, defined once in CollectConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_options(parser)
    parser.add_argument("--out", type=Path, default=Path("mysigns"),
                        help="dataset folder; running again adds to it (default: %(default)s)")
    parser.add_argument("--letters", default=None,
                        help="letters to record, e.g. A,M,N,T (default: every letter the bundled landmark model "
                             "knows; J and Z are recorded as strokes: draw them)")
    parser.add_argument("--samples", type=int, default=DEFAULTS.samples,
                        help="samples per letter this session (default: %(default)s)")
    parser.add_argument("--countdown", type=float, default=DEFAULTS.countdown_s, metavar="SECONDS",
                        help="time to form the handshape before recording starts (default: %(default)s)")
    parser.add_argument("--interval", type=float, default=DEFAULTS.interval_s, metavar="SECONDS",
                        help="at most one sample per this many seconds (default: %(default)s)")
    parser.add_argument("--steady", type=float, default=DEFAULTS.steady, metavar="PALMS",
                        help=f"record only while the landmarks moved less than this many palm sizes over "
                             f"{DEFAULTS.window_s:g} s (default: %(default)s)")
    parser.add_argument("--no-frames", action="store_true",
                        help="privacy: store hand crops and landmarks only, no full frames")
    parser.add_argument("--hand-models", default="full", choices=HAND_VARIANTS,
                        help="bundled MediaPipe hand models (default: %(default)s)")
    add_provider_option(parser)
    add_view_options(parser)


def run(args: argparse.Namespace) -> int:
    check_view_options(args)
    letters = parse_letters(args.letters) if args.letters is not None else model_letters()
    config = CollectConfig(letters, args.samples, args.countdown, args.interval, args.steady)
    source = source_from_args(args)
    refuse_overwrites([("--save", args.save)], [("--source", source.uri)])
    if args.save is not None and Path(os.path.realpath(args.save)).is_relative_to(os.path.realpath(args.out)):
        # The folder holds what collect writes, and a video saved over landmarks.npz or collect.json loses them.
        folder = Path(os.path.realpath(args.out))
        beside = os.path.relpath(folder.parent / f"{folder.name}-session.mp4")  # outside it, even for --out .
        raise DataError(f"--save {args.save} is inside the collect folder {args.out}, which holds the samples "
                        f"only; save the video beside it, e.g. --save {beside}")
    open_source(source)  # fail on a bad source before loading models or writing anything
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
