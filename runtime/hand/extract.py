"""Landmarks of a whole dataset, extracted once with the runtime's own hand stage and cached.

Training a landmark classifier reads these; `asl-edge eval` runs the same `HandTracker` per photo, so the
features a model is trained on are the features it sees at run time. Photos are still images cropped
around the hand, so detection runs per photo (no tracking) on the photo padded by `PHOTO_PAD` (photos.py: the
policy every command shares).

A folder of one-letter video clips (`labels.csv` with columns `file,letter[,signer,motion,...]`, e.g.
fingerspelling-dev/letters) is read the way `asl-edge run` reads a video: frame by frame with tracking, at the
container's timestamps. Its samples are the frames where the letter is formed (`formed_frames`: a steady hand
away from the clip's raise and lowering, decided from the landmarks alone, never from a classifier or the
label), every `VIDEO_FRAME_STEP`-th of them; clips whose `motion` is "yes" (a J or Z being drawn) are left
out, since their frames are a stroke, not a handshape.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from asl_edge.artifacts import atomic_write, cache_dir, ensure_writable_dir
from asl_edge.datasets import check_dataset_path, class_folders, class_images, folder_images, read_image
from asl_edge.errors import AslEdgeError, DataError
from asl_edge.landmark_features import PALM_MCPS
from asl_edge.progress import Progress
from asl_edge.runtime.hand.clip_labels import read_clip_labels
from asl_edge.runtime.hand.collected import MANIFEST_FILE
from asl_edge.runtime.hand.models import NUM_LANDMARKS
from asl_edge.runtime.hand.photos import PHOTO_PAD, tracker_config
from asl_edge.runtime.hand.tracker import HandTracker
from asl_edge.spec import ASL_LETTERS

CACHE_VERSION = 1
VIDEO_LABELS = "labels.csv"
# Consecutive frames of a held letter are near-copies: every third keeps the variety at a third of the cost.
VIDEO_FRAME_STEP = 3
# formed_frames: fingertips slower than this (palm sizes per second, median over 7 frames) = a held hand; the
# clips' holds move at 0.1-0.3, a hand being raised or changing shape at 1-5.
STEADY_SPEED = 0.5
# ... and the first and last tenth of the frames with a hand are the raise and the lowering, not the letter.
FORMED_TRIM = 0.1
# A clip whose landmarks jitter (a folded hand the landmark model is unsure of) may never fall under
# STEADY_SPEED; then its steadiest share of frames stands for the held letter.
FORMED_MIN_SHARE = 0.3


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
    classes = [folder.name for folder in class_folders(root)]
    paths, labels = [], []
    for index, name in enumerate(classes):
        images = class_images(root / name)
        paths += images
        labels += [index] * len(images)
    return classes, paths, labels


def _warn_unreadable(root: Path, unreadable: Sequence[str]) -> None:
    """Like datasets.load_image_folder: one warning listing them (paths within `root`); they count as photos
    without a hand."""
    if unreadable:
        print(f"warning: {len(unreadable)} unreadable image(s) in {root} skipped: {', '.join(unreadable[:10])}"
              f"{' ...' if len(unreadable) > 10 else ''}", file=sys.stderr)


def check_cache_writable(folder: Path) -> None:
    """Before minutes of extraction, not after: the landmark cache folder can take its file (a cache that is
    only read, every file there already, is never checked)."""
    try:
        ensure_writable_dir(folder)
    except AslEdgeError as exc:
        raise DataError(f"{exc} (the landmark cache: pass --landmark-cache DIR or set ASL_EDGE_CACHE to a folder "
                        "you can write)") from None


def _fingerprint(paths: Sequence[Path], variant: str) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION} {variant} pad={PHOTO_PAD}".encode())
    for path in paths:
        try:
            stat = path.stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:  # a broken link or a link loop: read (and reported) as an unreadable photo
            size = mtime = -1
        # fsencode: a file name that is not valid UTF-8 (a Latin-1 zip) keeps its bytes
        digest.update(os.fsencode(path.name) + f":{size}:{mtime}\n".encode())
    return digest.hexdigest()[:16]


def load_landmark_dataset(path: str | os.PathLike[str], cache: Path | None = None,
                          variant: str = "full") -> LandmarkDataset:
    """A folder of class folders -> its LandmarkDataset, from the cache when the photos are unchanged.

    The cache file (`<cache>/<folder name>-<fingerprint>.npz`, default `$ASL_EDGE_CACHE/landmarks`) is keyed
    by the file names, sizes and times, the hand model variant and the padding, and written atomically.
    """
    root = Path(path)
    if (root / MANIFEST_FILE).is_file():
        raise DataError(f"{root} is an `asl-edge collect` folder ({MANIFEST_FILE}); fine-tune a model on it with "
                        f"`asl-edge train --init-from asl_edge/assets/asl_landmarks.onnx --data {root}`")
    if is_video_folder(root):
        photos = [p.name for p in root.iterdir() if p.is_dir() and folder_images(p)]
        if photos:
            raise DataError(f"{root} holds both clips ({VIDEO_LABELS}) and photo class folders ({', '.join(photos[:3])}"
                            f"{' ...' if len(photos) > 3 else ''}); one of them would be left out: put them in two "
                            "folders and pass each with --data")
        return load_video_letters(root, cache, variant)
    classes, paths, labels = list_class_folders(root)
    key = _fingerprint(paths, variant)
    cache_file = Path(cache or cache_dir("landmarks")) / f"{root.resolve().name}-{key}.npz"
    if cache_file.is_file():
        with np.load(cache_file) as data:
            # said again on every run that reads them, not only the one that found them
            _warn_unreadable(root, json.loads(str(data["unreadable"])) if "unreadable" in data else [])
            return LandmarkDataset(data["landmarks"], data["handedness"], data["found"], np.asarray(labels, np.int64),
                                   tuple(classes), tuple(str(p) for p in paths))
    check_cache_writable(cache_file.parent)
    tracker = HandTracker(config=tracker_config(photos=True, variant=variant))
    unreadable: list[str] = []

    def read(file: Path) -> np.ndarray | None:
        image = read_image(file)
        if image is None:
            unreadable.append(str(file.relative_to(root)))
        return image

    landmarks, handedness, found = extract_landmarks((read(file) for file in paths), len(paths), tracker, root.name)
    _warn_unreadable(root, unreadable)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(cache_file) as handle:
        np.savez_compressed(handle, landmarks=landmarks, handedness=handedness, found=found,
                            source=json.dumps({"folder": str(root.resolve()), "variant": variant, "pad": PHOTO_PAD}),
                            unreadable=json.dumps(unreadable))
    return LandmarkDataset(landmarks, handedness, found, np.asarray(labels, np.int64), tuple(classes),
                           tuple(str(p) for p in paths))


# -- video clips -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoLandmarks:
    """One clip through the hand stage: times (N,) float64 seconds of container time, landmarks (N, 21, 3)
    float32 frame pixels (zeros where no hand), handedness (N,) float32 P(right hand), found (N,) bool."""

    times: np.ndarray
    landmarks: np.ndarray
    handedness: np.ndarray
    found: np.ndarray


def video_landmarks(path: str | os.PathLike[str], tracker: HandTracker | None = None) -> VideoLandmarks:
    """Every frame of a video file through the hand stage with tracking, as `asl-edge run` plays it."""
    tracker = tracker or HandTracker()
    tracker.reset()
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DataError(f"cannot open video {path}; check the file plays (ffprobe) or remove it")
    times: list[float] = []
    landmarks, handedness, found = [], [], []
    reported = float(capture.get(cv2.CAP_PROP_FPS))
    step = 1.0 / reported if 0 < reported < 1000 else 1.0 / 30
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            t = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            # OpenCV 4.5 (JetPack 5's, the oldest lane's) reports 0 for the last frames of some MP4s: a time that
            # does not increase is one nominal frame after the previous (runtime/live/frame_clock.py does the
            # same, with more care, for `run`).
            times.append(t if not times or t > times[-1] else times[-1] + step)
            hand = tracker.process(frame)
            landmarks.append(hand.landmarks if hand is not None else np.zeros((NUM_LANDMARKS, 3), np.float32))
            handedness.append(hand.handedness if hand is not None else 0.0)
            found.append(hand is not None)
    finally:
        capture.release()
    points = np.asarray(landmarks, np.float32).reshape(-1, NUM_LANDMARKS, 3)  # (0, 21, 3) for an empty clip
    return VideoLandmarks(np.asarray(times, np.float64), points, np.asarray(handedness, np.float32),
                          np.asarray(found, bool))


def formed_frames(clip: VideoLandmarks, steady: float = STEADY_SPEED, trim: float = FORMED_TRIM,
                  min_share: float = FORMED_MIN_SHARE) -> np.ndarray:
    """(N,) bool: the frames where a held letter is formed, from the landmarks alone: a hand is found, the
    frame is not among the first or last `trim` of the frames with a hand, and its landmarks move less than
    `steady` palm sizes per second (median over 7 frames; in the image plane, central difference) or, where
    fewer than `min_share` of those frames do, no faster than the steadiest `min_share` of them."""
    n = len(clip.times)
    found = np.asarray(clip.found, bool)
    points = np.asarray(clip.landmarks, np.float64)[:, :, :2]
    palm = np.linalg.norm(points[:, list(PALM_MCPS)] - points[:, :1], axis=-1).mean(axis=1)
    speed = np.full(n, np.inf)
    for i in range(n):
        a, b = max(i - 1, 0), min(i + 1, n - 1)
        if b > a and found[a] and found[b] and found[i] and palm[i] > 0:
            dt = max(clip.times[b] - clip.times[a], 1e-3)
            speed[i] = np.linalg.norm(points[b] - points[a], axis=-1).mean() / palm[i] / dt
    smooth = np.array([np.median(speed[max(0, i - 3):i + 4]) for i in range(n)]) if n else speed
    middle = found.copy()
    with_hand = np.flatnonzero(found)
    if len(with_hand):
        cut = int(trim * len(with_hand))
        middle[:with_hand[0] + cut] = False
        middle[with_hand[-1] - cut + 1:] = False
    formed = middle & (smooth < steady)
    if middle.any() and formed.sum() < min_share * middle.sum():
        formed = middle & (smooth <= np.quantile(smooth[middle], min_share))
    return formed


def is_video_folder(path: str | os.PathLike[str]) -> bool:
    """A folder of one-letter clips: it holds `labels.csv` naming video files."""
    return (Path(path) / VIDEO_LABELS).is_file()


def read_video_labels(root: Path) -> list[dict[str, str]]:
    """The rows of `root/labels.csv` (file, letter, optional signer and motion) as dicts of those columns,
    checked by `clip_labels.read_clip_labels` (every file present and listed once, a letter A-Z per clip,
    lower case read as upper), plus: a `letter` column, not `word`. `file` is as written, relative to `root`."""
    if not (root / VIDEO_LABELS).is_file():
        raise DataError(f"{root} has no {VIDEO_LABELS}; pass a folder of one-letter clips listed in a {VIDEO_LABELS} "
                        "with the columns file,letter (and optionally signer,motion)")
    clips = read_clip_labels(root, ASL_LETTERS, option="--data", speller="a letter classifier (A-Z)")
    if clips[0].kind != "letter":
        raise DataError(f"{root / VIDEO_LABELS} has a `word` column: training reads one-letter clips (columns "
                        "file,letter); score word clips with `asl-edge eval --videos` instead")
    return [{"file": str(clip.path.relative_to(root)), "letter": clip.truth, "signer": clip.signer,
             "motion": clip.motion} for clip in clips]


def load_video_letters(path: str | os.PathLike[str], cache: Path | None = None, variant: str = "full",
                       step: int = VIDEO_FRAME_STEP) -> LandmarkDataset:
    """A folder of one-letter clips -> a LandmarkDataset of their formed frames (module docstring). Every
    frame's landmarks are cached (like photos'), so choosing frames again never reruns the hand stage. `paths`
    are `<clip file>#<frame index>`; every sample has a hand (`found` all True)."""
    root = Path(path)
    rows = [row for row in read_video_labels(root) if (row.get("motion") or "").strip().lower() != "yes"]
    if not rows:
        raise DataError(f"{root / VIDEO_LABELS} names only clips that draw a motion (motion=yes); landmark training "
                        "needs clips of held letters")
    clips = load_video_clips(root, [row["file"] for row in rows], cache, variant)
    classes = sorted({row["letter"] for row in rows})
    landmarks, handedness, labels, paths = [], [], [], []
    for row, clip in zip(rows, clips, strict=True):
        keep = np.flatnonzero(formed_frames(clip))[::step]
        landmarks.append(clip.landmarks[keep])
        handedness.append(clip.handedness[keep])
        labels.append(np.full(len(keep), classes.index(row["letter"]), np.int64))
        paths += [f"{root / row['file']}#{i}" for i in keep]
    label_array = np.concatenate(labels)
    return LandmarkDataset(np.concatenate(landmarks).reshape(-1, NUM_LANDMARKS, 3), np.concatenate(handedness),
                           np.ones(len(label_array), bool), label_array, tuple(classes), tuple(paths))


def load_video_clips(root: Path, files: Sequence[str], cache: Path | None = None,
                     variant: str = "full") -> list[VideoLandmarks]:
    """`files` of `root` through the hand stage (`video_landmarks`), every frame, cached in one npz per set of
    clips (keyed like photos: names, sizes, times, hand models, and the tracker's settings; "signing hand":
    since the highest hand is the one tracked)."""
    paths = [root / name for name in files]
    key = _fingerprint(paths, f"{variant} video {tracker_config(False, variant)!r} signing hand")
    cache_file = Path(cache or cache_dir("landmarks")) / f"{root.resolve().name}-{key}.npz"
    if cache_file.is_file():
        with np.load(cache_file) as data:
            bounds = np.concatenate([[0], np.cumsum(data["frames"])])
            return [VideoLandmarks(*(data[k][a:b] for k in ("times", "landmarks", "handedness", "found")))
                    for a, b in itertools.pairwise(bounds)]
    check_cache_writable(cache_file.parent)
    tracker = HandTracker(config=tracker_config(photos=False, variant=variant))
    started = time.monotonic()
    clips = []
    with Progress(len(paths), f"landmarks: {root.name}", unit="clip") as progress:
        for file in paths:
            clips.append(video_landmarks(file, tracker))
            progress.update()
    print(f"landmarks: {root.name} {len(paths)} clips, {sum(len(c.times) for c in clips)} frames in "
          f"{time.monotonic() - started:.0f} s", file=sys.stderr)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(cache_file) as handle:
        np.savez_compressed(handle, frames=np.array([len(c.times) for c in clips]),
                            times=np.concatenate([c.times for c in clips]),
                            landmarks=np.concatenate([c.landmarks for c in clips]),
                            handedness=np.concatenate([c.handedness for c in clips]),
                            found=np.concatenate([c.found for c in clips]),
                            source=json.dumps({"folder": str(root.resolve()), "variant": variant}))
    return clips
