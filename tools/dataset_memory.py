"""Peak memory of loading phone-sized photos for training, with and without shrinking at decode (issue 13).

    .venv/bin/python tools/dataset_memory.py [--photos 40] [--image-size 40]

Writes `--photos` synthetic 4032x3024 JPEGs (a 12 MP phone photo's size; smooth shapes plus noise, so
the files are realistic 2-4 MB JPEGs) into a temporary class folder, then loads them in a fresh Python
process per mode the way `asl-edge train` does (asl_edge.datasets.load_splits) and prints each
process's peak resident set size (getrusage ru_maxrss):

- full resolution: `max_side=None`, every photo kept decoded (36 MB each);
- training: `max_side = kept_side(--image-size)`, as train/loop.py loads them.

The README's "Memory" paragraph quotes its output.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

PHONE_SIZE = (4032, 3024)  # width, height of a 12 MP phone photo
CHILD = """
import resource, sys
from asl_edge.datasets import load_splits
max_side = None if sys.argv[2] == "none" else int(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
train, val = load_splits(sys.argv[1], max_side=max_side)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kept = sum(image.nbytes for image in train.images + val.images)
print(f"{before / 1024:.0f} {peak / 1024:.0f} {kept / 2**20:.1f} {train.images[0].shape[1]}x{train.images[0].shape[0]}")
"""


def write_photos(root: Path, count: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    width, height = PHONE_SIZE
    for index in range(count):
        label = root / ("A" if index % 2 == 0 else "B")
        label.mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 256, (height // 64, width // 64, 3), dtype=np.uint8)
        photo = cv2.resize(small, PHONE_SIZE, interpolation=cv2.INTER_CUBIC)
        photo = cv2.add(photo, rng.integers(0, 24, photo.shape, dtype=np.uint8))
        cv2.imwrite(str(label / f"photo_{index:03d}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])


def measure(folder: Path, max_side: int | None) -> tuple[float, float, float, str]:
    result = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(max_side or "none")],
                            capture_output=True, text=True, check=True)
    before, peak, kept, size = result.stdout.split()
    return float(before), float(peak), float(kept), size


def main() -> int:
    from asl_edge.datasets import kept_side

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40, help="synthetic 4032x3024 JPEGs (default: 40)")
    parser.add_argument("--image-size", type=int, default=40, help="the model's input side (default: 40, aslcnn)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="asl-edge-memory-") as tmp:
        folder = Path(tmp)
        print(f"writing {args.photos} synthetic {PHONE_SIZE[0]}x{PHONE_SIZE[1]} JPEGs ...", flush=True)
        write_photos(folder, args.photos)
        size_mb = sum(p.stat().st_size for p in folder.rglob("*.jpg")) / 2**20
        print(f"{args.photos} photos, {size_mb:.0f} MB of JPEG")
        for name, max_side in (("full resolution", None), ("training", kept_side(args.image_size))):
            before, peak, kept, shape = measure(folder, max_side)
            print(f"{name:>16} (max_side {max_side}): peak RSS {peak:.0f} MB (start {before:.0f} MB), "
                  f"images kept {kept:.1f} MB, each {shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
