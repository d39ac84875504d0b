"""asl-edge demo: spell the word of the bundled sample clip with the bundled model; no camera, no download."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asl_edge.apps.commands.run import config_from_args, run_live
from asl_edge.apps.options import (
    add_backend_options,
    add_flip_option,
    add_hand_options,
    add_spelling_options,
    add_view_options,
    check_view_options,
)
from asl_edge.artifacts import read_json
from asl_edge.errors import DataError
from asl_edge.preprocess import DEFAULT_ROI_FRACTION
from asl_edge.runtime.backends import Backend
from asl_edge.runtime.hand.models import ASSETS, BUNDLED_LANDMARK_MODEL
from asl_edge.runtime.live.frames import CaptureOptions
from asl_edge.runtime.live.sources import parse_source

# The bundled chain: MediaPipe hand stage -> landmark classifier, with asl_default.onnx (fixed box) as the
# fallback for frames where no hand is found.
DEFAULT_MODEL = BUNDLED_LANDMARK_MODEL
DEFAULT_CLIP = ASSETS / "sample_clip.mp4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model (default: the bundled one)")
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP,
                        help="spelling clip with a .json card beside it (default: the bundled one)")
    add_backend_options(parser)
    add_flip_option(parser)
    add_hand_options(parser)
    add_spelling_options(parser)
    add_view_options(parser)


def read_card(clip: Path) -> dict[str, object]:
    if not clip.is_file():
        raise DataError(f"--clip {clip} does not exist; pass a spelling clip with a .json card beside it, or leave "
                        "--clip out for the bundled one")
    card = clip.with_suffix(".json")
    data = read_json(card, "the clip's card", "build the clip with python -m asl_edge.runtime.live.sample_clip")
    if not isinstance(data, dict) or not isinstance(data.get("word"), str):
        raise DataError(f"{card} names no word")
    return data


def run(args: argparse.Namespace) -> int:
    check_view_options(args)
    card = read_card(args.clip)
    word = str(card["word"])
    config = config_from_args(args, roi_size=float(card.get("roi_size", DEFAULT_ROI_FRACTION)))  # type: ignore[arg-type]
    source = parse_source(str(args.clip), CaptureOptions(flip=args.flip))
    source.open()

    def announce(backend: Backend) -> None:
        print(f"model: {args.model.name} ({backend.describe()}); clip: {args.clip.name} signs {word!r}")

    result = run_live(args, source, config, 10.0, announce)
    if result.stopped_by == "interrupt":  # Ctrl-C is the user stopping the demo, not the demo failing
        print(f"demo: interrupted after spelling {result.text.strip()!r}", file=sys.stderr)
        return 130
    if result.text.strip() != word:
        print(f"demo: expected {word!r} but spelled {result.text!r}")
        return 1
    print(f"demo: spelled {word!r} correctly")
    return 0
