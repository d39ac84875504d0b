"""`asl-edge eval --videos FOLDER`: spelling measured on a folder of clips with a labels.csv.

The clips go through the chain `run` opens (palm detection, landmarks with tracking, the classifier, the
fallback) and the decoder `run` spells with, one fresh decoder per clip. Only the command line lives here:
runtime/live/video_eval.py scores, runtime/live/video_report.py formats.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from asl_edge.apps.options import (
    PIPELINE_DEFAULTS,
    add_spelling_options,
    announce_decoder,
    motion_profile_from_args,
    spec_from_args,
    spelling_config,
    start_suggester,
)
from asl_edge.errors import AslEdgeError, DataError, ModelError
from asl_edge.runtime.hand.models import BUNDLED_LANDMARK_MODEL
from asl_edge.runtime.live.video_eval import Suggest

if TYPE_CHECKING:
    from concurrent.futures import Future

    from asl_edge.runtime.hand.chain import HandChain
    from asl_edge.runtime.hand.clip_labels import ClipLabel
    from asl_edge.runtime.live.suggest import WordSuggester
    from asl_edge.runtime.live.video_eval import VideoEvaluation

SPELLING_FILES = ("spelling.json", "spelling.md", "spelling.png")
# Beyond these a replay says nothing about signing (a letter held for microseconds or for minutes), and the
# extremes overflow the replayed clock.
SPEED_RANGE = (0.1, 20.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("spelling on video (--videos)")
    group.add_argument("--videos", type=Path, default=None, metavar="FOLDER",
                       help="score spelling on the clips of FOLDER, listed in FOLDER/labels.csv (`file,word,...` "
                            "or `file,letter,...`, optional `signer`); MODEL defaults to the bundled "
                            "landmark model")
    group.add_argument("--speed", type=float, default=1.0, metavar="F",
                       help="replay the clips F times faster (timestamps divided by F, every frame kept), e.g. "
                            "6.7 for fluent signing from slow recordings (default: 1)")
    group.add_argument("--stride", type=int, default=1, metavar="N",
                       help="decode only every N-th frame, as a device that runs below the camera's rate "
                            "(default: 1)")
    group.add_argument("--max-frames", type=int, default=None, metavar="N",
                       help="read only the first N frames of each clip (before --stride), for a quick check; "
                            "the truth is still the whole word, so expect a lower accuracy (default: all)")
    add_spelling_options(group, outputs=False)


def check_unused(args: argparse.Namespace) -> None:
    """Without --videos the spelling options would be ignored silently: refuse them."""
    defaults = {"speed": 1.0, "stride": 1, "max_frames": None, "threshold": PIPELINE_DEFAULTS.threshold,
                "hold": PIPELINE_DEFAULTS.hold_s, "smooth": PIPELINE_DEFAULTS.window}
    used = [name for name, value in defaults.items() if getattr(args, name) != value]
    if used:
        raise DataError(f"--{used[0].replace('_', '-')} is for spelling on video; add --videos FOLDER or drop it")


def run(args: argparse.Namespace) -> int:
    """Check everything cheap (labels.csv, options, --out), load the model and the chain, score, write."""
    from asl_edge.artifacts import output_dir
    from asl_edge.datasets import check_out_outside_datasets
    from asl_edge.runtime.backends import load_backend
    from asl_edge.runtime.hand.chain import open_chain
    from asl_edge.runtime.hand.clip_labels import read_clip_labels

    if not SPEED_RANGE[0] <= args.speed <= SPEED_RANGE[1]:  # NaN fails too
        raise DataError(f"--speed {args.speed} must be between {SPEED_RANGE[0]:g} and {SPEED_RANGE[1]:g} (e.g. 6.7 "
                        "for fluent signing from slow recordings, 0.5 for half speed)")
    if args.stride < 1:
        raise DataError(f"--stride {args.stride} must be at least 1")
    if args.max_frames is not None and args.max_frames < 1:
        raise DataError(f"--max-frames {args.max_frames} must be at least 1 (or leave it out to read whole clips)")
    for name in ("data", "compare"):
        if getattr(args, name, None) is not None:
            raise DataError(f"--{name} and --videos score different things; run them as two commands")
    if args.split != "auto":
        raise DataError("--split picks photos of a dataset; drop it with --videos (every clip is scored)")
    if args.shift != "none":
        raise DataError("--shift is for photos; drop it with --videos")
    model = Path(args.model) if args.model is not None else BUNDLED_LANDMARK_MODEL
    if not model.exists():
        raise ModelError(f"model {model} does not exist; pass an .onnx / .engine file or a training run folder's "
                         "model.onnx (or none: the bundled landmark model)")
    if args.out is not None:
        check_out_outside_datasets(args.out, [(args.videos, "--videos")], example="runs/spelling")
        check_report_paths(args.out)
    suggester = start_suggester(args)  # a bad --words fails here; the English list loads while clips decode
    backend = load_backend(model, spec=spec_from_args(args))
    try:
        clips = read_clip_labels(args.videos, backend.spec.labels)  # every bad row before any clip is decoded
        chain = open_chain(backend, args.hand, args.hand_models, args.fallback, crop_model=args.crop_model,
                           crop_weight=args.crop_weight, log=lambda line: print(line, file=sys.stderr, flush=True))
    except BaseException:
        backend.close()
        raise
    if chain is None:
        backend.close()
        raise ModelError(f"{model} reads a fixed box, not the hand; --videos scores the hand chain: pass a "
                         "landmarks model or --hand on")
    try:
        if args.out is None:
            return _score(args, model, clips, chain, suggester)
        with output_dir(args.out):
            return _score(args, model, clips, chain, suggester)
    finally:
        chain.close()


def check_report_paths(out: Path) -> None:
    """Before any clip is decoded: each report file of --out is absent or a file a rename can replace (a folder
    named spelling.png would otherwise fail the run after the whole decode)."""
    for name in SPELLING_FILES:
        path = out / name
        if path.exists() and not path.is_file():
            what = "a folder" if path.is_dir() else "not a regular file"
            raise DataError(f"{path} is {what}, and --out writes its report file {name} there; move it away or "
                            "pick another --out")


def word_of(suggester: Future[WordSuggester]) -> Suggest:
    """The scorer's suggester: raw letters -> the suggested word or None (waits for the English list once)."""

    def suggest(raw: str) -> str | None:
        found = suggester.result().suggest(raw)
        return None if found is None else found.word

    return suggest


def _score(args: argparse.Namespace, model: Path, clips: list[ClipLabel], chain: HandChain,
           suggester: Future[WordSuggester] | None) -> int:
    from asl_edge.progress import Progress
    from asl_edge.runtime.live.decoding import make_decoder
    from asl_edge.runtime.live.video_eval import ClipResult, evaluate_videos
    from asl_edge.runtime.live.video_report import clip_line, settings, summary_lines

    labels = chain.labels
    config = spelling_config(args)
    profile = motion_profile_from_args(args, model)
    motion = None if profile is None else profile.config
    args.decoder = announce_decoder(args, hand_stage=True)
    how = settings(args.decoder, args.speed, args.stride, args.max_frames)
    title = f"spelling of {args.videos} by {model.name} [{how}]"
    print(f"{title}: {len(clips)} clip{'s' if len(clips) != 1 else ''}")
    suggest = None if suggester is None else word_of(suggester)
    with Progress(len(clips), "spelling clips", unit="clip") as bar:
        def on_clip(result: ClipResult) -> None:
            print(clip_line(result), flush=True)
            bar.update()

        evaluation = evaluate_videos(clips, chain, lambda: make_decoder(args.decoder, labels, config, motion=motion),
                                     args.decoder, args.speed, args.stride, suggest, PIPELINE_DEFAULTS.roi_for, on_clip,
                                     args.max_frames)
    if not evaluation.scored:
        raise AslEdgeError(f"no clip of {args.videos} could be decoded (first: {evaluation.failed[0].error}); "
                           "check that the files are videos OpenCV reads (H.264 .mp4)")
    for line in summary_lines(evaluation):
        print(line)
    if args.out is not None:
        # The English list has loaded by now when any clip was suggested for; a word count is then free.
        loaded = suggester.result() if suggester is not None and suggester.done() else None
        _write(args.out, evaluation, title, {"model": str(model), "videos": str(args.videos),
                                             "threshold": args.threshold, "hold_s": args.hold,
                                             "smooth": args.smooth,
                                             "motion_profile": None if profile is None else str(profile.path),
                                             "words_file": None if args.words is None else str(args.words),
                                             "suggester_words": None if loaded is None else loaded.word_count})
        print(f"report written to {args.out}")
    if evaluation.failed:
        # After the report: the other clips are scored and written; the exit code still says a row failed.
        bad = evaluation.failed[0].label
        raise DataError(f"{len(evaluation.failed)} of {len(clips)} clips could not be decoded (first: {bad.file}, "
                        f"labels.csv line {bad.line}; listed above as not scored); re-encode them (H.264 .mp4) or "
                        "remove their rows")
    return 0


def _write(out: Path, evaluation: VideoEvaluation, title: str, context: dict[str, object]) -> None:
    """spelling.json, spelling.md and (when matplotlib is there) the per-letter PNG, all rendered before any is
    written and then written as one: a failure leaves none of them from this run."""
    import json

    from asl_edge.artifacts import atomic_write_files
    from asl_edge.errors import MissingDependencyError
    from asl_edge.runtime.live.video_report import markdown, plot_series, to_dict

    files = {out / "spelling.json": (json.dumps(to_dict(evaluation, context), indent=2, sort_keys=True)
                                     + "\n").encode(),
             out / "spelling.md": markdown(evaluation, title).encode()}
    try:
        from asl_edge.train.plots import grouped_bars_png

        letters, series = plot_series(evaluation)
        files[out / "spelling.png"] = grouped_bars_png(letters, series, ylabel="share", title=title)
    except MissingDependencyError as exc:
        print(f"no plot: {exc}")
    atomic_write_files(files)
