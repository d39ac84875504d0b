"""`asl-edge train`: train a classifier; every option has a default (the built-in recipe)."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asl_edge.apps.options import add_out, add_seed, default_data_dir
from asl_edge.datasets import HeldOutSplit
from asl_edge.spec import COLORS, INPUT_KINDS
from asl_edge.train.config import DEVICES, SCHEDULES, ConfigError, TrainConfig  # torch-free until validated

if TYPE_CHECKING:
    from asl_edge.runtime.live.motion_profile import MotionProfile


# PersonaliseConfig's defaults without importing torch (asl_edge.train.personalise needs it); a test checks they match.
class PersonaliseDefaults:
    epochs, lr, holdout, user_share, distill, anchor, weight_decay = 30, 1e-3, 0.3, 0.5, 1.0, 1e-2, 0.0


DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(TrainConfig)}
# The landmark MLP's recipe (asl_edge.train.landmarks.LandmarkTrainConfig; kept here so --help stays torch-free).
LANDMARK_EPOCHS, LANDMARK_BATCH, LANDMARK_WEIGHT_DECAY = 200, 256, 1e-2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    data = parser.add_argument_group("data")
    data.add_argument("--data", action="append", default=None,
                      help="folder with one sub-folder per class, or a Sign Language MNIST .csv; with --input "
                           "landmarks give it once per dataset to train on several (classes: the sorted union) "
                           f"(default: {default_data_dir()})")
    data.add_argument("--input", default=None, choices=INPUT_KINDS,
                      help="what the classifier reads: image pixels, or the hand stage's 21 landmarks "
                           "(a small MLP, arch landmark_mlp) (default: image; landmarks with --init-from)")
    data.add_argument("--dataset-weight", type=float, action="append", default=None,
                      help="--input landmarks: loss weight of each --data's samples, in order (default: 1 each)")
    data.add_argument("--landmark-cache", default=None,
                      help="--input landmarks: folder caching the extracted landmarks (default: the hand stage's)")
    data.add_argument("--val", default=None,
                      help="explicit validation folder or .csv (default: a stratified split of --data)")
    data.add_argument("--val-fraction", type=float, default=d["val_fraction"],
                      help="share of each class held out for validation (default: %(default)s)")
    add_seed(parser)
    mine = parser.add_argument_group("personalise (fine-tune a landmarks model on your own signs)")
    mine.add_argument("--init-from", default=None, metavar="MODEL",
                      help="start from this landmarks model (checkpoint.pt, run folder or FP32 .onnx, e.g. "
                           "asl_edge/assets/asl_landmarks.onnx) and fine-tune it on --data, a folder written by "
                           "`asl-edge collect`")
    mine.add_argument("--replay-data", action="append", default=None, metavar="FOLDER|PACK.npz",
                      help="original training data mixed in so other letters are not forgotten: once per folder, "
                           "or one replay pack written by --write-replay (no photos or hand models needed) "
                           "(default: the bundled replay pack when it fits the start model, else the datasets the "
                           "start model records)")
    mine.add_argument("--write-replay", default=None, metavar="PACK.npz",
                      help="instead of personalising, write the start model's replay data (its training "
                           "datasets' landmarks and split) to this one file, to copy with the model to the Jetson")
    mine.add_argument("--holdout", type=float, default=PersonaliseDefaults.holdout,
                      help="share of each letter's samples, the last recorded, kept for `asl-edge eval --compare` "
                           "(default: %(default)s)")
    mine.add_argument("--user-share", type=float, default=PersonaliseDefaults.user_share,
                      help="your samples' share of the training loss, the rest is the replay data "
                           "(default: %(default)s)")
    mine.add_argument("--distill", type=float, default=PersonaliseDefaults.distill,
                      help="keep the start model's answers on the replay data: weight of the distillation term, "
                           "0 turns it off (default: %(default)s)")
    mine.add_argument("--anchor", type=float, default=PersonaliseDefaults.anchor,
                      help="keep the weights near the start model's: L2-SP strength, 0 turns it off "
                           "(default: %(default)s)")
    mine.add_argument("--export", default="all", metavar="PRECISIONS",
                      help="after personalising, export these precisions into --out (as `asl-edge export`), or "
                           "'none' (default: %(default)s)")
    model = parser.add_argument_group("model")
    model.add_argument("--arch", default=d["arch"],
                       help="aslcnn, mobilenet_v3_small or resnet18 (default: %(default)s)")
    model.add_argument("--image-size", type=int, default=d["image_size"],
                       help="input side in pixels (default: %(default)s)")
    model.add_argument("--color", default=d["color"], choices=COLORS,
                       help="input colour (default: %(default)s)")
    model.add_argument("--weights", default=None,
                       help="'imagenet' (download, or torch.hub's cache offline), a local torchvision state_dict "
                            "file, or 'none' (random init; the default) (torchvision models)")
    aug = parser.add_argument_group("augmentation")
    aug.add_argument("--augment", default=d["augment"],
                     help="preset: none, light, medium, heavy; see `asl-edge augment` (default: %(default)s)")
    aug.add_argument("--hflip", action="store_true", help="also mirror images (left- and right-handed signers)")
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, default=None,
                     help=f"at most this many epochs (default: {d['epochs']}; {LANDMARK_EPOCHS} for landmarks, "
                          f"{PersonaliseDefaults.epochs} with --init-from)")
    opt.add_argument("--batch-size", type=int, default=None,
                     help=f"per process (default: {d['batch_size']}; {LANDMARK_BATCH} for landmarks)")
    opt.add_argument("--lr", type=float, default=None,
                     help=f"peak AdamW learning rate (default: {d['lr']}; {PersonaliseDefaults.lr} with --init-from)")
    opt.add_argument("--weight-decay", type=float, default=None,
                     help=f"AdamW weight decay (default: {d['weight_decay']}; "
                          f"{LANDMARK_WEIGHT_DECAY:g} with --input landmarks; 0 with --init-from, where --anchor "
                          "pulls the weights toward the start model's instead of toward zero)")
    opt.add_argument("--schedule", default=d["schedule"], choices=SCHEDULES, help="(default: %(default)s)")
    opt.add_argument("--label-smoothing", type=float, default=d["label_smoothing"], help="(default: %(default)s)")
    opt.add_argument("--patience", type=int, default=None,
                     help="stop after this many epochs without a better validation loss; 0: never "
                          f"(default: {d['patience']}; 0 for landmarks, which keep the best epoch anyway)")
    run = parser.add_argument_group("run")
    add_out(parser, "runs/default", "the run: checkpoint.pt, last.pt, metrics.json, plots")
    run.add_argument("--resume", action="store_true",
                     help="continue the training in OUT from OUT/last.pt (image models); without it, or "
                          "--exist-ok, an OUT that already holds a training is refused")
    run.add_argument("--exist-ok", action="store_true",
                     help="OUT already holds a training: move its files to OUT/previous-N/ (nothing is deleted) "
                          "and start a new one")
    run.add_argument("--device", default=d["device"], choices=DEVICES, help="(default: %(default)s)")
    run.add_argument("--workers", type=int, default=d["workers"],
                     help="data loader processes for augmentation (default: %(default)s)")
    run.add_argument("--threads", type=int, default=d["threads"],
                     help="torch CPU threads for the model; 0: torch's default less one per worker, 1 with "
                          "--init-from (default: %(default)s)")
    run.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")


def check_paths(args: argparse.Namespace) -> None:
    """What needs no torch, checked before torch is imported (7-14 s on a small board): the datasets exist
    and --out can be a run folder."""
    from asl_edge.datasets import check_dataset_path, check_out_outside_datasets

    # (--resume without --data trains on the run's recorded dataset: _resumed finds it in last.pt)
    for data in args.data or ([] if args.resume else [str(default_data_dir())]):
        check_dataset_path(data, csv_ok=args.input in (None, "image"), option="--data")
    if args.val is not None:
        check_dataset_path(args.val, option="--val")
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {args.out} is a file; name a folder for the run")
    check_out_outside_datasets(args.out, [*((d, "--data") for d in args.data or []),
                                          *([(args.val, "--val")] if args.val is not None else [])])


def _claim(args: argparse.Namespace, resumable: bool) -> Any:
    """Lock OUT and apply the one-training rule before any slow import or data loading. Under torchrun only
    rank 0 writes, so only it claims the folder."""
    import contextlib
    import os

    from asl_edge.run_folder import claim_training_folder

    if args.resume and args.exist_ok:
        raise ConfigError("--resume continues the training in --out and --exist-ok moves it aside; choose one")
    if os.environ.get("RANK", "0") != "0":
        return contextlib.nullcontext()
    return claim_training_folder(args.out, args.resume, args.exist_ok, resumable)


def _report_archive(previous: Any) -> None:
    if previous is not None:
        print(f"moved the previous run's files to {previous}", flush=True)


def run(args: argparse.Namespace) -> int:
    if args.init_from is not None:
        if args.input == "image":
            raise ConfigError("--init-from fine-tunes a landmarks model; drop --input image")
        return run_personalise(args)
    check_paths(args)
    if args.weights is not None and args.weights.lower() == "none":
        args.weights = None
    if args.input == "landmarks":
        return run_landmarks(args)
    # --exist-ok moves the old run aside on the claim: the options are checked first (it costs the torch import
    # before the lock), so a typo fails with the folder as it was. Otherwise the cheap claim comes first.
    config = _image_config(args) if args.exist_ok else None
    with _claim(args, resumable=True) as previous:
        _report_archive(previous)
        from asl_edge.train.loop import fit

        fit(config or _image_config(args))
        return 0


def _image_config(args: argparse.Namespace) -> TrainConfig:
    """The image training's TrainConfig from the options (validated: ConfigError names the bad one)."""
    d = DEFAULTS
    lr = float(d["lr"]) if args.lr is None else args.lr
    if args.data and len(args.data) > 1:
        raise ConfigError("several --data folders need --input landmarks; image training reads one dataset")
    if args.dataset_weight:
        raise ConfigError("--dataset-weight applies to --input landmarks only")
    data = args.data[0] if args.data else str(default_data_dir())
    epochs = int(d["epochs"]) if args.epochs is None else args.epochs
    batch_size = int(d["batch_size"]) if args.batch_size is None else args.batch_size
    patience = int(d["patience"]) if args.patience is None else args.patience
    config = TrainConfig(
        data=data, val=args.val, out=args.out, arch=args.arch, image_size=args.image_size, color=args.color,
        epochs=epochs, batch_size=batch_size, lr=lr,
        weight_decay=float(d["weight_decay"]) if args.weight_decay is None else args.weight_decay,
        schedule=args.schedule, label_smoothing=args.label_smoothing, augment=args.augment, hflip=args.hflip,
        seed=args.seed, val_fraction=args.val_fraction, patience=patience,
        workers=args.workers, threads=args.threads,
        device=args.device, weights=args.weights, resume=args.resume, amp=not args.no_amp, exist_ok=args.exist_ok)
    return _resumed(config, args) if args.resume else config


# What a run was started with and --resume continues with (last.pt records the whole TrainConfig); --epochs may
# differ, to train on. Workers, threads, device and AMP are this machine's business, taken from the command line.
RUN_RECIPE = ("data", "val", "arch", "image_size", "color", "batch_size", "lr", "weight_decay", "schedule",
              "label_smoothing", "augment", "hflip", "seed", "val_fraction", "patience", "weights")


def _resumed(config: TrainConfig, args: argparse.Namespace) -> TrainConfig:
    """`config` with the recorded settings of the run in --out for every RUN_RECIPE option left out (and --epochs,
    when left out); ConfigError naming any option given with another value than the run's, or an --epochs the run
    has done already. (A resumed run had taken the defaults for what was left out: 50 epochs for a run started with
    1, `medium` augmentation without the flip for one started with `heavy --hflip`.) An option whose parser default
    is a value (--arch, --augment, ...) counts as left out when given with that default value."""
    import os

    from asl_edge.train.checkpoint import load_checkpoint

    last = Path(config.out) / "last.pt"
    if not last.is_file():
        return config  # the training loop says there is nothing to resume
    saved = load_checkpoint(last)
    state = saved.resume_state or {}
    recorded = state.get("config") or {}
    if not recorded:  # written before the settings were recorded: the command line is all there is
        return config
    if args.epochs is not None and args.epochs <= saved.epoch:
        raise ConfigError(f"--epochs {args.epochs}: {config.out} has done {saved.epoch} epochs already; give more "
                          "to train on, or leave --epochs out to finish the run's own")
    started_in = state.get("cwd") or os.getcwd()  # the folder its relative paths were given from
    given_as_none = {"data", "val", "batch_size", "lr", "weight_decay", "patience", "weights", "epochs"}
    taken: dict[str, Any] = {}
    differ = []
    for name in (*RUN_RECIPE, "epochs"):
        if name not in recorded:
            continue
        mine, theirs = getattr(config, name), recorded[name]
        cli = {"data": args.data, "val": args.val, "weights": args.weights}.get(name, getattr(args, name, None))
        left_out = cli is None if name in given_as_none else mine == DEFAULTS.get(name)
        same = mine == theirs
        if name in ("data", "val") and theirs is not None:
            theirs = os.path.join(started_in, theirs)
            if not os.path.exists(theirs):
                if left_out:
                    raise ConfigError(f"the run's {name} folder {theirs} is gone; pass where it is now with --{name}")
                continue  # the dataset moved: the folder given is where it is now
            same = mine is not None and os.path.realpath(mine) == os.path.realpath(theirs)
        if left_out:
            taken[name] = theirs
        elif not same and name != "epochs":
            option = "--" + name.replace("_", "-")
            differ.append(f"{option} {mine} (the run: {theirs})")
    if differ:
        raise ConfigError(f"--resume continues {config.out} with the settings it was started with, and "
                          f"{', '.join(differ)} differ; leave them out (only --epochs may change), or start a new "
                          "run with --exist-ok or another --out")
    print(f"resuming {config.out} with its recorded settings: "
          + ", ".join(f"{name} {value}" for name, value in taken.items()), flush=True)
    return replace(config, **taken)


def run_landmarks(args: argparse.Namespace) -> int:
    """Train the landmark MLP on every --data folder's landmarks (extracted by the hand stage, cached)."""
    from pathlib import Path

    from asl_edge.train.landmarks import LandmarkTrainConfig, check_dataset_weights, fit_landmarks, load_landmark_sets

    if args.val is not None:
        raise ConfigError("--val is for image training; landmark training holds out --val-fraction of each --data")
    if args.resume:
        raise ConfigError("--resume is for image training; landmark training restarts (it takes about a minute): "
                          "use --exist-ok to keep the old run aside, or a new --out")
    folders = args.data or [str(default_data_dir())]
    weights = tuple(args.dataset_weight or ())
    if weights:
        check_dataset_weights(weights, len(folders))
    epochs = LANDMARK_EPOCHS if args.epochs is None else args.epochs
    batch_size = LANDMARK_BATCH if args.batch_size is None else args.batch_size
    if epochs < 1 or batch_size < 2:
        raise ConfigError("invalid training option epochs/batch-size: need at least 1 epoch and 2 per batch")
    lr = float(DEFAULTS["lr"]) if args.lr is None else args.lr
    decay = {} if args.weight_decay is None else {"weight_decay": args.weight_decay}
    config = LandmarkTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, label_smoothing=args.label_smoothing,
                                 val_fraction=args.val_fraction, seed=args.seed, dataset_weights=weights,
                                 patience=0 if args.patience is None else args.patience, **decay)
    cache = Path(args.landmark_cache) if args.landmark_cache else None
    with _claim(args, resumable=False) as previous:
        _report_archive(previous)
        fit_landmarks(load_landmark_sets(folders, cache), args.out, config)
    return 0


def run_personalise(args: argparse.Namespace) -> int:
    """Fine-tune --init-from on the --data collect folder with the replay data mixed in, then export."""
    from pathlib import Path

    if args.write_replay is not None:
        return _write_replay(args)
    if not args.data or len(args.data) != 1:
        raise ConfigError("--init-from needs exactly one --data: the folder `asl-edge collect` wrote, e.g. "
                          "--data mysigns/")
    if args.val is not None or args.dataset_weight:
        raise ConfigError("--val and --dataset-weight are not used with --init-from; see --holdout and --user-share")
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {args.out} is a file; name a folder for the run")
    if args.resume:
        raise ConfigError("--resume is for image training; --init-from fine-tunes anew: use --exist-ok to keep the "
                          "old run aside, or a new --out")
    # A collect folder is the person's samples: given as the start model or as replay data it would otherwise fail
    # with a message about a missing checkpoint.pt, or about --data that was already given.
    for option, folder in (("--init-from", args.init_from), *(("--replay-data", r) for r in args.replay_data or ())):
        if (Path(folder) / "collect.json").is_file():
            fix = ("start from a model, e.g. --init-from asl_edge/assets/asl_landmarks.onnx" if option == "--init-from"
                   else "the replay data is the start model's training photos or pack (leave --replay-data out for "
                        "its default)")
            raise ConfigError(f"{option} {folder} is an `asl-edge collect` folder (your samples, for --data); {fix}")
    # Before the claim: --exist-ok would move the start model (or mix a run into the samples) before it is read.
    start_run = Path(args.init_from) if Path(args.init_from).is_dir() else Path(args.init_from).parent
    if args.out.resolve() in (start_run.resolve(), Path(args.data[0]).resolve()):
        what = ("your samples (--data)" if args.out.resolve() == Path(args.data[0]).resolve()
                else "the folder of the start model (--init-from)")
        raise ConfigError(f"--out {args.out} is {what}; writing the run there would overwrite or mix files - "
                          "name a new folder, e.g. --out runs/mine2")
    import sys

    from asl_edge.runtime.hand.strokes import stroke_notes
    from asl_edge.runtime.live.motion_profile import fit_profile

    # Before the claim and the training: a damaged stroke file fails in a second, with the folders as they were.
    motion = fit_profile(args.data[0])
    for note in stroke_notes(args.data[0]):
        print(f"note: {note}", file=sys.stderr)
    with _claim(args, resumable=False) as previous:
        _report_archive(previous)
        return _personalise_claimed(args, motion)


def _personalise_claimed(args: argparse.Namespace, motion: MotionProfile | None = None) -> int:
    import time
    from pathlib import Path

    from asl_edge.artifacts import ensure_writable_dir
    from asl_edge.errors import DataError
    from asl_edge.runtime.hand.collected import LANDMARKS_FILE, read_collected
    from asl_edge.train.onnx_init import load_start_model
    from asl_edge.train.personalise import PersonaliseConfig, personalise
    from asl_edge.train.replay_sources import ReplaySource

    started = time.monotonic()
    if motion is not None and not (Path(args.data[0]) / LANDMARKS_FILE).is_file():
        raise DataError(f"{args.data[0]} holds J and Z strokes but no still-letter samples, and personalising "
                        "fine-tunes the model on those; record a few letters too (`asl-edge collect --source 0 "
                        f"--out {args.data[0]} --letters A,B,C`), then run this again")
    user = read_collected(args.data[0])
    _, spec = load_start_model(args.init_from)
    replay = ReplaySource.resolve(args.replay_data or [], args.init_from, HeldOutSplit.recorded(spec.trained_on))
    config = PersonaliseConfig(
        epochs=PersonaliseDefaults.epochs if args.epochs is None else args.epochs,
        batch_size=LANDMARK_BATCH if args.batch_size is None else args.batch_size,
        lr=PersonaliseDefaults.lr if args.lr is None else args.lr, label_smoothing=args.label_smoothing,
        weight_decay=PersonaliseDefaults.weight_decay if args.weight_decay is None else args.weight_decay,
        holdout=args.holdout, user_share=args.user_share, distill=args.distill, anchor=args.anchor, seed=args.seed,
        threads=args.threads or 1)
    if config.epochs < 1 or config.batch_size < 2:
        raise ConfigError("invalid training option epochs/batch-size: need at least 1 epoch and 2 per batch")
    ensure_writable_dir(args.out)  # before loading the replay data and training, not after
    print(replay.describe(), flush=True)
    cache = Path(args.landmark_cache) if args.landmark_cache else None
    personalise(args.init_from, user, args.data[0], replay.load(cache), args.out, config)
    print(f"personalised in {time.monotonic() - started:.1f} s (loading included)")
    _write_motion_profile(args, motion)
    if args.export != "none":
        from asl_edge.export.pipeline import ExportOptions, export_all, parse_precisions

        report = export_all(args.out, args.out, ExportOptions(precisions=parse_precisions(args.export)),
                            progress=lambda message: print(f"- {message}", flush=True))
        print(report.console())
        print(f"use it: asl-edge run --source 0 --model {Path(args.out) / 'model.onnx'}; compare: asl-edge eval "
              f"{Path(args.out) / 'model.onnx'} --compare {args.init_from} --data {args.data[0]}")
    return 0


def _write_motion_profile(args: argparse.Namespace, motion: MotionProfile | None) -> None:
    """The J/Z thresholds fitted from the --data folder's strokes, beside the model (run, demo and eval --videos
    read it from there); without strokes none, and J and Z keep the defaults."""
    import sys
    from pathlib import Path

    from asl_edge.runtime.live.motion_profile import PROFILE_FILE, fit_notes

    if motion is None:
        print(f"no J or Z strokes in {args.data[0]}: J and Z keep the default thresholds (`asl-edge collect "
              "--letters J,Z` records them)")
        return
    path = motion.save(Path(args.out) / PROFILE_FILE)
    fitted = ", ".join(f"{name} {value:.2f}" for name, value in motion.thresholds.items())
    print(f"motion profile: {path}: {motion.describe()}; {fitted}")
    for note in fit_notes(motion):
        print(f"note: {note}", file=sys.stderr)


def _write_replay(args: argparse.Namespace) -> int:
    """--write-replay: the start model's training datasets' landmarks and split, packed into one file."""
    from pathlib import Path

    from asl_edge.train.onnx_init import load_start_model
    from asl_edge.train.replay_sources import write_start_model_pack

    _, spec = load_start_model(args.init_from)
    cache = Path(args.landmark_cache) if args.landmark_cache else None
    print(write_start_model_pack(args.init_from, HeldOutSplit.recorded(spec.trained_on), args.replay_data or [],
                                 args.write_replay, cache))
    return 0
