"""`asl-edge eval`: score a checkpoint or model file on a dataset, optionally under a shift."""

from __future__ import annotations

import argparse
from pathlib import Path

from asl_edge.apps.options import add_seed, default_data_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="checkpoint.pt, a training run folder, or an .onnx / .engine file")
    parser.add_argument("--data", default=str(default_data_dir()),
                        help="folder of class folders or Sign Language MNIST .csv (default: %(default)s)")
    parser.add_argument("--split", default="auto", choices=("auto", "val", "all"),
                        help="val: the training run's held-out split; all: every image; auto: val when --data "
                             "is the training dataset, else all (default: %(default)s)")
    parser.add_argument("--shift", default="none", choices=("none", "light", "heavy"),
                        help="score under a fixed-seed shift of light, framing, background, blur and noise "
                             "(default: %(default)s)")
    add_seed(parser)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for metrics.json, per_class.md and confusion.png (default: print only)")


def run(args: argparse.Namespace) -> int:
    from asl_edge.train.evaluation import evaluate_model
    from asl_edge.train.report import write_report

    result = evaluate_model(args.model, args.data, split=args.split, shift=args.shift, shift_seed=args.seed)
    shift = f", shift {result.shift} (seed {args.seed})" if result.shift else ""
    title = f"{result.spec.arch} on {args.data} [{result.split}{shift}]"
    print(f"{title}: top-1 {result.report.top1:.4f}, top-3 {result.report.top3:.4f} on {result.images} images")
    if args.out is not None:
        write_report(args.out, result.report, {"model": str(args.model), "data": str(args.data),
                                               "split": result.split, "shift": result.shift,
                                               "shift_seed": args.seed}, title=title)
        print(f"report written to {args.out}")
    return 0
