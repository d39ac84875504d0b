"""`asl-edge augment`: a PNG grid of augmented samples, to see what a preset (or a shift) does."""

from __future__ import annotations

import argparse
from pathlib import Path

from asl_edge.apps.options import add_seed, default_data_dir
from asl_edge.train.config import SHIFT_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=str(default_data_dir()),
                        help="folder of class folders or Sign Language MNIST .csv (default: %(default)s)")
    parser.add_argument("--preset", default="medium", help="training preset: none, light, medium, heavy "
                                                           "(default: %(default)s)")
    parser.add_argument("--shift", default=None, choices=SHIFT_NAMES,
                        help="show an evaluation shift instead of a training preset")
    parser.add_argument("--hflip", action="store_true", help="include horizontal flips")
    parser.add_argument("--rows", type=int, default=6, help="sample images, one per row (default: %(default)s)")
    parser.add_argument("--columns", type=int, default=7, help="augmented copies per image (default: %(default)s)")
    parser.add_argument("--size", type=int, default=128, help="side the images are shown at (default: %(default)s)")
    add_seed(parser)
    parser.add_argument("--out", type=Path, default=Path("augment.png"), help="PNG file (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from asl_edge.datasets import check_dataset_path, check_out_outside_datasets
    from asl_edge.train.grid import check_grid_path, write_augmentation_grid

    check_grid_path(args.out)  # cheap checks before torch and the photos are loaded (seconds)
    check_dataset_path(args.data, option="--data")
    check_out_outside_datasets(args.out, [(args.data, "--data")], example="augment.png")

    path = write_augmentation_grid(args.data, args.out, preset=args.preset, shift=args.shift, hflip=args.hflip,
                                   rows=args.rows, columns=args.columns, size=args.size, seed=args.seed)
    print(f"wrote {path}")
    return 0
