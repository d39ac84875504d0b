"""Landmarks of a whole image-folder dataset, extracted once with the runtime's own hand stage and cached.

Training a landmark classifier reads these; `asl-edge eval` runs the same `HandTracker` per photo, so the
features a model is trained on are the features it sees at run time. Photos are still images cropped
around the hand, so detection runs per photo (no tracking) on the photo padded by `PHOTO_PAD` (photos.py: the
policy every command shares).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from asl_edge.artifacts import atomic_write, cache_dir
from asl_edge.datasets import IMAGE_SUFFIXES, check_dataset_path
from asl_edge.errors import DataError
from asl_edge.progress import Progress
from asl_edge.runtime.hand.models import NUM_LANDMARKS
from asl_edge.runtime.hand.photos import PHOTO_PAD, tracker_config
from asl_edge.runtime.hand.tracker import HandTracker

CACHE_VERSION = 1


@dataclass(frozen=True)
class LandmarkDataset:
    """Per photo: landmarks (N, 21, 3) float32 in image pixels (zeros where no hand was found), handedness
    (N,) float32 probability of a right hand, found (N,) bool, labels (N,) int64 into classes, paths."""

    landmarks: np.ndarray
    handedness: np.ndarray
    found: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    paths: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.paths)


def extract_landmarks(images: Iterable[np.ndarray | None], count: int, tracker: HandTracker | None = None,
                      label: str = "images") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` BGR photos (None for an unreadable one) -> (landmarks (N, 21, 3), handedness (N,), found (N,)),
    each photo on its own, with progress (asl_edge.progress)."""
    tracker = tracker or HandTracker(config=tracker_config(photos=True))
    landmarks = np.zeros((count, NUM_LANDMARKS, 3), np.float32)
    handedness = np.zeros(count, np.float32)
    found = np.zeros(count, bool)
    started = time.monotonic()
    with Progress(count, f"landmarks: {label}", unit="photo") as progress:
        for i, image in enumerate(images):
            tracker.reset()
            hand = tracker.process(image) if image is not None else None
            if hand is not None:
                landmarks[i], handedness[i], found[i] = hand.landmarks, hand.handedness, True
            progress.set_postfix(hand_found=f"{found[:i + 1].mean():.0%}")
            progress.update()
    print(f"landmarks: {label} {count} photos in {time.monotonic() - started:.0f} s, hand found in "
          f"{found.mean() if count else 0:.1%}", file=sys.stderr)
    return landmarks, handedness, found


def list_class_folders(root: Path) -> tuple[list[str], list[Path], list[int]]:
    """(classes sorted by name, image paths sorted per class, class index of each) of a folder of class folders."""
    root = check_dataset_path(root, csv_ok=False)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"dataset folder {root} has no class sub-folders; expected e.g. {root}/A/*.jpg")
    paths, labels = [], []
    for index, name in enumerate(classes):
        for path in sorted((root / name).iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(path)
                labels.append(index)
    return classes, paths, labels


def _fingerprint(paths: Sequence[Path], variant: str) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION} {variant} pad={PHOTO_PAD}".encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def load_landmark_dataset(path: str | os.PathLike[str], cache: Path | None = None,
                          variant: str = "full") -> LandmarkDataset:
    """A folder of class folders -> its LandmarkDataset, from the cache when the photos are unchanged.

    The cache file (`<cache>/<folder name>-<fingerprint>.npz`, default `$ASL_EDGE_CACHE/landmarks`) is keyed
    by the file names, sizes and times, the hand model variant and the padding, and written atomically.
    """
    root = Path(path)
    classes, paths, labels = list_class_folders(root)
    key = _fingerprint(paths, variant)
    cache_file = Path(cache or cache_dir("landmarks")) / f"{root.resolve().name}-{key}.npz"
    if cache_file.is_file():
        with np.load(cache_file) as data:
            return LandmarkDataset(data["landmarks"], data["handedness"], data["found"], np.asarray(labels, np.int64),
                                   tuple(classes), tuple(str(p) for p in paths))
    tracker = HandTracker(config=tracker_config(photos=True, variant=variant))
    unreadable: list[str] = []

    def read(file: Path) -> np.ndarray | None:
        image = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if image is None:
            unreadable.append(file.name)
        return image

    landmarks, handedness, found = extract_landmarks((read(file) for file in paths), len(paths), tracker, root.name)
    if unreadable:
        # Like datasets.load_image_folder: one warning listing them; they count as photos without a hand.
        print(f"warning: {len(unreadable)} unreadable image(s) in {root} skipped: {', '.join(unreadable[:10])}"
              f"{' ...' if len(unreadable) > 10 else ''}", file=sys.stderr)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(cache_file) as handle:
        np.savez_compressed(handle, landmarks=landmarks, handedness=handedness, found=found,
                            source=json.dumps({"folder": str(root.resolve()), "variant": variant, "pad": PHOTO_PAD}))
    return LandmarkDataset(landmarks, handedness, found, np.asarray(labels, np.int64), tuple(classes),
                           tuple(str(p) for p in paths))
