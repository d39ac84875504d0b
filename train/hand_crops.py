"""Hand-crop datasets: the box around the found hand of every training photo, as an image-folder dataset.

`python -m asl_edge.train.hand_crops --data A --data B --out crops/` writes `crops/<class>/<dataset>-<photo>.png`
(64x64, left hands mirrored to right ones, as the runtime's chain feeds a crop model) for the photos of the
TRAINING part of each folder (the stratified split `asl-edge train` makes with the same seed and fraction),
so `asl-edge train --data crops/` trains an image classifier on hand crops that never saw the held-out
photos. The landmarks come from the cached hand stage (`asl_edge.runtime.hand.extract`); the crop is the
chain's own `hand_crop`. Photos without a found hand are left out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2

from asl_edge.artifacts import ensure_writable_dir
from asl_edge.datasets import DEFAULT_SPLIT_SEED, DEFAULT_VAL_FRACTION, read_image, stratified_split
from asl_edge.errors import AslEdgeError
from asl_edge.runtime.hand.chain import hand_crop
from asl_edge.runtime.hand.extract import load_landmark_dataset

CROP_SIZE = 64  # larger than the 40x40 default model input, so training's resize and augmentation have pixels


def write_hand_crops(folders: Sequence[str], out: Path, val_fraction: float = DEFAULT_VAL_FRACTION,
                     seed: int = DEFAULT_SPLIT_SEED) -> dict[str, int]:
    """Write the crops; returns how many each folder gave."""
    out = ensure_writable_dir(out)
    written: dict[str, int] = {}
    for folder in folders:
        data = load_landmark_dataset(folder)
        _, val = stratified_split(data.labels, val_fraction, seed)
        held_out = set(val.tolist())
        count = 0
        for i, path in enumerate(data.paths):
            if i in held_out or not data.found[i]:
                continue
            image = read_image(path)
            if image is None:
                continue
            crop = hand_crop(image, data.landmarks[i], float(data.handedness[i]))
            target = out / data.classes[data.labels[i]]
            target.mkdir(exist_ok=True)
            small = cv2.resize(crop, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
            if not cv2.imwrite(str(target / f"{Path(folder).name}-{Path(path).stem}.png"), small):
                raise AslEdgeError(f"cannot write crops into {target}; check the disk and permissions")
            count += 1
        written[folder] = count
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asl_edge.train.hand_crops", description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", required=True, help="folder of class folders (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the crop dataset")
    parser.add_argument("--val-fraction", type=float, default=DEFAULT_VAL_FRACTION,
                        help="held-out share left out (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SPLIT_SEED,
                        help="split seed, as for asl-edge train (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        for folder, count in write_hand_crops(args.data, args.out, args.val_fraction, args.seed).items():
            print(f"{folder}: {count} hand crops")
    except AslEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote {args.out}; train on it with asl-edge train --data {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
