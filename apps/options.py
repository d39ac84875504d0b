"""Option groups shared by several commands, defined once."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future

    from asl_edge.runtime.live.motion import MotionConfig
    from asl_edge.runtime.live.motion_profile import MotionProfile
    from asl_edge.runtime.live.suggest import WordSuggester
    from asl_edge.spec import ModelSpec

from asl_edge.errors import DataError, MissingDependencyError
from asl_edge.runtime.backends import BACKENDS
from asl_edge.runtime.backends.onnxruntime_backend import PROVIDER_ORDER
from asl_edge.runtime.hand.models import VARIANTS as HAND_VARIANTS
from asl_edge.runtime.live.decoding import DECODERS, SpellingConfig
from asl_edge.runtime.live.frames import FLIP_CODES, CaptureOptions, FrameSource
from asl_edge.runtime.live.pipeline import PipelineConfig
from asl_edge.runtime.live.sources import parse_source
from asl_edge.train.config import DEVICES

# The live view's defaults, defined once in PipelineConfig (and the Speller it configures).
PIPELINE_DEFAULTS = PipelineConfig()


def default_data_dir() -> Path:
    """The development dataset: $ASL_EDGE_DATA, else ../shared/data/asl-alphabet-mini from the checkout."""
    return Path(os.environ.get("ASL_EDGE_DATA", "../shared/data/asl-alphabet-mini"))


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="random seed for splits, sampling and init")


def add_out(parser: argparse.ArgumentParser, default: str, what: str) -> None:
    parser.add_argument("--out", type=Path, default=Path(default), help=f"folder for {what} (default: {default})")


# -- the model's spec (run, eval, benchmark, build) ---------------------------------------------------------
SPEC_HELP = ("ModelSpec JSON for a model without asl-edge metadata (labels, size, layout, normalisation; write one "
             "with `asl-edge spec MODEL.onnx`). Precedence: --spec, then MODEL.spec.json beside the model, then "
             "the spec embedded by `asl-edge export`")


def add_spec_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path, default=None, metavar="SPEC.json", help=SPEC_HELP)


def spec_from_args(args: argparse.Namespace) -> ModelSpec | None:
    """The --spec file's ModelSpec, or None to let the model's sidecar or embedded spec decide."""
    from asl_edge.onnx_header import load_spec_file

    path = getattr(args, "spec", None)
    return None if path is None else load_spec_file(path)


# -- backends (run, demo, benchmark) ------------------------------------------------------------------
def add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="auto", choices=("auto", *BACKENDS),
                        help="inference backend (default: from the model file: .onnx, .engine/.plan, .pt)")
    add_provider_option(parser)
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="PyTorch backend device (default: cuda when available)")


def add_provider_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--provider", default="auto", choices=("auto", *PROVIDER_ORDER),
                        help="ONNX Runtime execution provider (default: the best one available)")


def backend_kwargs(args: argparse.Namespace, model: str | os.PathLike[str]) -> dict[str, object]:
    """The options of add_backend_options that the chosen backend takes."""
    from asl_edge.runtime.backends import backend_for

    name = backend_for(model) if args.backend == "auto" else args.backend
    return {"onnxruntime": {"provider": args.provider}, "pytorch": {"device": args.device}}.get(name, {})


# -- the live view (run, demo) ------------------------------------------------------------------------
def add_spelling_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, outputs: bool = True) -> None:
    """The decoder's options (run, demo, eval --videos); with `outputs`, --transcript and --events too."""
    parser.add_argument("--decoder", default=PIPELINE_DEFAULTS.decoder, choices=DECODERS,
                        help="fingerspelling: letters as people sign them, at natural (0.15-0.4 s a letter) and "
                             "teaching speed, doubled letters by re-forming or sliding; hold: a letter counts once "
                             "held still for --hold seconds above --threshold (posed letters, one at a time); "
                             "auto: fingerspelling with the hand stage, hold for the fixed box (default: auto)")
    parser.add_argument("--threshold", type=float, default=PIPELINE_DEFAULTS.threshold,
                        help="--decoder hold: smoothed confidence a letter needs to count (default: %(default)s)")
    parser.add_argument("--hold", type=float, default=PIPELINE_DEFAULTS.hold_s, metavar="SECONDS",
                        help="--decoder hold: how long a letter must be held to be added to the text "
                             "(default: %(default)s)")
    parser.add_argument("--smooth", type=int, default=PIPELINE_DEFAULTS.window, metavar="FRAMES",
                        help="--decoder hold: average the probabilities of this many recent frames "
                             "(default: %(default)s)")
    parser.add_argument("--words", type=Path, default=None, metavar="FILE",
                        help="your own names and words for the word suggestions, one per line with an optional "
                             "count (they rank above English words); suggestions come from symspellpy's English "
                             "frequency list plus these, shown beside the raw letters, never instead of them")
    parser.add_argument("--no-suggest", action="store_true", help="no word suggestions")
    parser.add_argument("--motion-profile", default=None, metavar="FILE",
                        help="your own J and Z thresholds (the motion.json `asl-edge train --init-from` fits from the "
                             "strokes collect recorded), or none for the defaults (default: MODEL.motion.json beside "
                             "the model, else motion.json in its folder or, for an engine, beside the ONNX file it "
                             "was built from, else the defaults)")
    if not outputs:
        return
    parser.add_argument("--transcript", type=Path, default=None, metavar="FILE",
                        help="append the whole spelled text to this file as it is spelled (the screen keeps "
                             "only the last 256 characters), or - for standard output (each line once final: "
                             "at a clear or the end of the run)")
    parser.add_argument("--events", default=None, metavar="FILE",
                        help="write one JSON line per letter, word end and word suggestion (type, time, label, "
                             "confidence), after a run_start line, to FILE (appended) or - (standard output), "
                             "flushed as they happen")


def motion_profile_from_args(args: argparse.Namespace, model: str | os.PathLike[str]) -> MotionProfile | None:
    """The motion profile of --motion-profile or the one beside the model (one line says which), else None."""
    from asl_edge.runtime.live.motion_profile import NO_PROFILE, profile_for

    option = getattr(args, "motion_profile", None)
    profile = profile_for(model, option)
    if profile is None:
        if option == NO_PROFILE:  # asked for: confirm it, since a profile beside the model is now ignored
            print(f"motion profile: {NO_PROFILE} (default thresholds)", flush=True)
        return None
    print(f"motion profile: {profile.path} ({profile.describe()})", flush=True)
    return profile


def motion_from_args(args: argparse.Namespace, model: str | os.PathLike[str]) -> MotionConfig | None:
    """The J/Z thresholds of `motion_profile_from_args`, else None (the defaults)."""
    profile = motion_profile_from_args(args, model)
    return None if profile is None else profile.config


def start_suggester(args: argparse.Namespace) -> Future[WordSuggester] | None:
    """The word suggester of --words / --no-suggest, built in the background (None with --no-suggest, or without
    symspellpy, saying so in one line). A bad --words file fails here, and so does --words without symspellpy."""
    if args.no_suggest:
        if args.words is not None:
            raise DataError("--words gives suggestions and --no-suggest turns them off; drop one of them")
        return None
    from asl_edge.runtime.live.suggest import load_in_background

    try:
        import symspellpy  # noqa: F401
    except ImportError:
        if args.words is not None:
            raise MissingDependencyError("symspellpy", "word suggestions (--words)",
                                         "pip install symspellpy, or drop --words") from None
        print("note: no word suggestions: symspellpy is not installed (pip install symspellpy)", file=sys.stderr)
        return None
    return load_in_background(args.words)


def announce_decoder(args: argparse.Namespace, hand_stage: bool) -> str:
    """Print which decoder runs (and a note when hold-only options were given to another); returns its name."""
    from asl_edge.runtime.live.decoding import resolve_decoder

    name = resolve_decoder(args.decoder, hand_stage)
    given = [option for option, value, default in (("--threshold", args.threshold, PIPELINE_DEFAULTS.threshold),
                                                   ("--hold", args.hold, PIPELINE_DEFAULTS.hold_s),
                                                   ("--smooth", args.smooth, PIPELINE_DEFAULTS.window))
             if value != default]
    print(f"decoder: {name}" + (" (natural and teaching speed; --decoder hold for posed letters)"
                                if name == "fingerspelling" else ""), flush=True)
    if given and name != "hold":
        print(f"note: {', '.join(given)} set the hold decoder only; the {name} decoder takes its time from the "
              "signer's pace (add --decoder hold to use them)", file=sys.stderr, flush=True)
    return name


def spelling_config(args: argparse.Namespace) -> SpellingConfig:
    """The SpellingConfig of add_spelling_options' flags."""
    return SpellingConfig(threshold=args.threshold, hold_s=args.hold, window=args.smooth)


def add_flip_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flip", default="none", choices=tuple(FLIP_CODES),
                        help="mirror frames at capture: horizontal for a front (selfie) camera that mirrors, or "
                             "to show a left hand as the right hand an image model was trained on; vertical or "
                             "both for a camera mounted upside down (a CSI camera flips in nvvidconv, at no CPU "
                             "cost) (default: none)")


WEB_HOST, WEB_PORT = "127.0.0.1", 8080


def check_view_options(args: argparse.Namespace) -> None:
    """--host and --port without --web are refused (they were ignored: no page, and no word of why); with it, the
    ones not given take their defaults. Call before anything opens."""
    given = [f"--{name} {shlex.quote(str(getattr(args, name)))}" for name in ("host", "port")
             if getattr(args, name) is not None]
    if given and not args.web:
        raise DataError(f"{' and '.join(given)} set the web page's address, but there is no page without --web; add "
                        "--web")
    args.host = WEB_HOST if args.host is None else args.host
    args.port = WEB_PORT if args.port is None else args.port


def add_view_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--web", action="store_true", help="serve the annotated stream and text on a web page")
    parser.add_argument("--host", default=None,
                        help=f"--web page address (default: {WEB_HOST}, this machine only; 0.0.0.0 for the network)")
    parser.add_argument("--port", type=int, default=None,
                        help=f"--web page port (default: {WEB_PORT}; 0 picks a free one)")
    parser.add_argument("--save", type=Path, default=None, metavar="VIDEO",
                        help="also write the annotated frames to a video file (.mp4 or .avi)")
    parser.add_argument("--no-window", action="store_true", help="never open a window, even with a display")


# -- sources (run, collect) -------------------------------------------------------------------------
def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True,
                        help="0 or /dev/video0 (USB camera), csi://0 (Jetson CSI camera), rtsp://..., a video "
                             "file or an image folder")
    parser.add_argument("--width", type=int, default=None, help="capture width (camera default if not given)")
    parser.add_argument("--height", type=int, default=None, help="capture height")
    parser.add_argument("--fps", type=float, default=None,
                        help="capture rate; for image folders the rate the images stand for (default: 10); for "
                             "a video file, replaces its own timestamps with frame / FPS")
    add_flip_option(parser)


def source_from_args(args: argparse.Namespace) -> FrameSource:
    """The (not yet opened) source of add_source_options."""
    return parse_source(args.source, CaptureOptions(args.width, args.height, args.fps, flip=args.flip))


def open_source(source: FrameSource) -> None:
    """Open it, saying so first when that can take a while (cameras and network streams)."""
    if source.live:
        print(f"connecting to {source.describe()} ...", flush=True)
    source.open()


# -- the hand stage (run, demo, eval) -----------------------------------------------------------------
def add_hand_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hand", default="auto", choices=("auto", "on", "off"),
                        help="find the hand anywhere in the frame (palm detection, landmarks, tracking); off: "
                             "classify the fixed box instead; auto: on for a landmarks model (default: auto)")
    parser.add_argument("--hand-models", default="full", choices=HAND_VARIANTS,
                        help="bundled MediaPipe hand models: full (more accurate) or lite (faster) (default: full)")
    parser.add_argument("--fallback", default="auto", metavar="MODEL",
                        help="image model for frames where no hand is found, reading the fixed box; 'none' for "
                             "no fallback (default: auto, the bundled image model when the classifier reads landmarks)")
    parser.add_argument("--crop-model", default=None, metavar="MODEL",
                        help="image model trained on hand crops, fused with a landmarks classifier (late fusion)")
    parser.add_argument("--crop-weight", type=float, default=0.5,
                        help="the crop model's share of the fused probabilities, 0..1 (default: 0.5)")
