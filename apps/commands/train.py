"""`asl-edge train`: train a classifier; every option has a default (the built-in recipe)."""

from __future__ import annotations

import argparse
from dataclasses import fields

from asl_edge.apps.options import add_out, add_seed, default_data_dir
from asl_edge.train.config import TrainConfig  # torch-free until a config is validated

DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    data = parser.add_argument_group("data")
    data.add_argument("--data", default=str(default_data_dir()),
                      help="folder with one sub-folder per class, or a Sign Language MNIST .csv "
                           "(default: %(default)s)")
    data.add_argument("--val", default=None,
                      help="explicit validation folder or .csv (default: a stratified split of --data)")
    data.add_argument("--val-fraction", type=float, default=d["val_fraction"],
                      help="share of each class held out for validation (default: %(default)s)")
    add_seed(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--arch", default=d["arch"],
                       help="aslcnn, mobilenet_v3_small or resnet18 (default: %(default)s)")
    model.add_argument("--image-size", type=int, default=d["image_size"],
                       help="input side in pixels (default: %(default)s)")
    model.add_argument("--color", default=d["color"], choices=("gray", "rgb"),
                       help="input colour (default: %(default)s)")
    model.add_argument("--weights", default=None,
                       help="'imagenet' (download) or a local torchvision state_dict file (torchvision models)")
    aug = parser.add_argument_group("augmentation")
    aug.add_argument("--augment", default=d["augment"],
                     help="preset: none, light, medium, heavy; see `asl-edge augment` (default: %(default)s)")
    aug.add_argument("--hflip", action="store_true", help="also mirror images (left- and right-handed signers)")
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, default=d["epochs"], help="at most this many epochs (default: %(default)s)")
    opt.add_argument("--batch-size", type=int, default=d["batch_size"], help="per process (default: %(default)s)")
    opt.add_argument("--lr", type=float, default=d["lr"], help="peak AdamW learning rate (default: %(default)s)")
    opt.add_argument("--weight-decay", type=float, default=d["weight_decay"], help="(default: %(default)s)")
    opt.add_argument("--schedule", default=d["schedule"], choices=("cosine", "onecycle"), help="(default: %(default)s)")
    opt.add_argument("--label-smoothing", type=float, default=d["label_smoothing"], help="(default: %(default)s)")
    opt.add_argument("--patience", type=int, default=d["patience"],
                     help="stop after this many epochs without a better validation loss; 0: never "
                          "(default: %(default)s)")
    run = parser.add_argument_group("run")
    add_out(parser, "runs/default", "the run: checkpoint.pt, last.pt, metrics.json, plots")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run from OUT/last.pt")
    run.add_argument("--device", default=d["device"], choices=("auto", "cpu", "cuda"), help="(default: %(default)s)")
    run.add_argument("--workers", type=int, default=d["workers"],
                     help="data loader processes for augmentation (default: %(default)s)")
    run.add_argument("--threads", type=int, default=d["threads"],
                     help="torch CPU threads for the model; 0: torch's default less one per worker "
                          "(default: %(default)s)")
    run.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")


def run(args: argparse.Namespace) -> int:
    from asl_edge.train.loop import fit

    config = TrainConfig(
        data=args.data, val=args.val, out=args.out, arch=args.arch, image_size=args.image_size, color=args.color,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        schedule=args.schedule, label_smoothing=args.label_smoothing, augment=args.augment, hflip=args.hflip,
        seed=args.seed, val_fraction=args.val_fraction, patience=args.patience,
        workers=args.workers, threads=args.threads,
        device=args.device, weights=args.weights, resume=args.resume, amp=not args.no_amp)
    fit(config)
    return 0
