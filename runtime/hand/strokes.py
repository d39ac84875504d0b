"""A recorded J or Z stroke: the hand's trajectory while the signer drew the letter, as `asl-edge collect` stores it.

J and Z are motions, so their samples are trajectories, not frames. One stroke is one file in the collect folder,
beside the photo samples' folders:

    OUT/strokes/<LETTER>/<id>.stroke.npz    (numpy .npz, no pickles; every write atomic)
      format      0-d str  "asl-edge-stroke"
      version     0-d int  1 (a reader refuses any other, and any non-integer)
      letter      0-d str  "J" or "Z"
      times       (N,) float64  each frame's own time, seconds of source time, increasing
      landmarks   (N, 21, 3) float32  the hand stage's landmarks in frame pixels (`Hand.landmarks`; zeros where
                                      no hand was found)
      handedness  (N,) float32  probability of a right hand (`Hand.handedness`; 0 where no hand)
      found       (N,) bool     whether the frame had a hand
      stroke      (2,) float64  start and end time of the stroke as collect's detector saw it (within times)
      source      0-d str  the collect source it came from
      frame_size  (2,) int32   width, height of the frames
      thresholds  0-d str  JSON: the detector thresholds collect recorded it with (runtime/live/motion.py)

The trajectory runs from a little before the stroke's start to the frame that completed it, so replaying it through
`MotionLetters` sees the whole stroke. It lives in the hand stage's package beside `collected.py`, which writes it
and which training reads.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asl_edge.artifacts import atomic_write
from asl_edge.errors import DataError
from asl_edge.runtime.hand.models import NUM_LANDMARKS

STROKE_FORMAT = "asl-edge-stroke"
STROKE_VERSION = 1
STROKES_DIR = "strokes"
STROKE_SUFFIX = ".stroke.npz"
STROKE_LETTERS = ("J", "Z")
_ARRAYS = ("format", "version", "letter", "times", "landmarks", "handedness", "found", "stroke", "source",
           "frame_size", "thresholds")


@dataclass(frozen=True)
class Stroke:
    """One recorded stroke (see the module docstring for the fields' shapes and units)."""

    letter: str
    times: np.ndarray
    landmarks: np.ndarray
    handedness: np.ndarray
    found: np.ndarray
    start: float
    end: float
    source: str = ""
    frame_size: tuple[int, int] = (0, 0)
    thresholds: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.times)


def stroke_path(folder: str | os.PathLike[str], letter: str, sample_id: str) -> Path:
    return Path(folder) / STROKES_DIR / letter / f"{sample_id}{STROKE_SUFFIX}"


def write_stroke(path: Path, stroke: Stroke) -> None:
    """Write one stroke file atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        np.savez(handle, format=np.array(STROKE_FORMAT), version=np.array(STROKE_VERSION),
                 letter=np.array(stroke.letter), times=np.asarray(stroke.times, np.float64),
                 landmarks=np.asarray(stroke.landmarks, np.float32),
                 handedness=np.asarray(stroke.handedness, np.float32), found=np.asarray(stroke.found, bool),
                 stroke=np.array([stroke.start, stroke.end], np.float64), source=np.array(stroke.source),
                 frame_size=np.array(stroke.frame_size, np.int32), thresholds=np.array(json.dumps(stroke.thresholds)))


def stroke_fix(path: str | os.PathLike[str]) -> str:
    """How to replace a broken stroke file: delete it and record its letter again into the same collect folder
    (the letter and the folder read from where collect files it, strokes/<LETTER>/; J,Z and a placeholder folder
    when it lies elsewhere)."""
    file = Path(path)
    letter = file.parent.name if file.parent.name in STROKE_LETTERS else ",".join(STROKE_LETTERS)
    out = file.parent.parent.parent if file.parent.parent.name == STROKES_DIR else Path("mysigns")
    return (f"delete it and record {letter} again: asl-edge collect --source 0 --out {out} --letters {letter} "
            "(or --source CLIP.mp4 for a recording)")


def _version_problem(value: np.ndarray, fix: str) -> str | None:
    """Why a stroke file's version is not one this asl-edge reads, and what to do; None when it is. Only an
    integer counts: "1" or 1.0 is not something collect writes, and no version below 1 ever existed."""
    if value.shape != () or value.dtype.kind not in "iu":
        return f"has no valid version (an integer; this asl-edge writes {STROKE_VERSION}); {fix}"
    version = int(value)
    if version < 1:
        return f"is stroke format version {version}, not a stroke file this asl-edge wrote; {fix}"
    if version > STROKE_VERSION:
        return (f"is stroke format version {version}, newer than this asl-edge reads ({STROKE_VERSION}); upgrade "
                f"asl-edge, or {fix}")
    return None


def read_stroke(path: str | os.PathLike[str]) -> Stroke:
    """One stroke file; DataError naming the file (and what to do) when it is unreadable, foreign, newer or
    inconsistent."""
    fix = stroke_fix(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in _ARRAYS if name not in data.files]
            if missing:
                raise DataError(f"{path} is not an asl-edge stroke file (no {', '.join(missing)}); {fix}")
            arrays = {name: data[name] for name in _ARRAYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError):
        # Random bytes make numpy fall back to unpickling and then suggest allow_pickle=True, which would run
        # whatever the file holds; a truncated npz is a BadZipFile or EOFError; a plain .npy has no `.files`.
        raise DataError(f"{path} is not a readable stroke file (not an .npz written by asl-edge collect); "
                        f"{fix}") from None
    if str(arrays["format"]) != STROKE_FORMAT:
        raise DataError(f"{path} is not an asl-edge stroke file (format {str(arrays['format'])!r}); {fix}")
    problem = _version_problem(arrays["version"], fix)
    if problem is not None:
        raise DataError(f"{path} {problem}")
    letter = str(arrays["letter"])
    times, found = arrays["times"].astype(np.float64), arrays["found"].astype(bool)
    landmarks, handedness = arrays["landmarks"].astype(np.float32), arrays["handedness"].astype(np.float32)
    n = len(times)
    problem = None
    if letter not in STROKE_LETTERS:
        problem = f"letter {letter!r} is not J or Z"
    elif times.ndim != 1 or landmarks.shape != (n, NUM_LANDMARKS, 3) or handedness.shape != (n,) \
            or found.shape != (n,) or arrays["stroke"].shape != (2,):
        problem = (f"its arrays do not match: times {times.shape}, landmarks {landmarks.shape}, handedness "
                   f"{handedness.shape}, found {found.shape}")
    elif n < 2:
        problem = f"it holds {n} frame{'s' if n != 1 else ''}, and a stroke is a trajectory of at least 2"
    elif not found.any():
        problem = "it holds no frame with a hand"
    elif not (np.isfinite(times).all() and np.isfinite(landmarks).all() and (np.diff(times) > 0).all()):
        problem = "its times or landmarks are not finite, or its times do not increase"
    if problem is not None:
        raise DataError(f"{path}: {problem}; {fix}")
    try:
        thresholds = json.loads(str(arrays["thresholds"]))
    except ValueError:
        thresholds = {}
    start, end = (float(v) for v in arrays["stroke"])
    width, height = (int(v) for v in arrays["frame_size"])
    return Stroke(letter, times, landmarks, handedness, found, start, end, str(arrays["source"]), (width, height),
                  thresholds if isinstance(thresholds, dict) else {})


def stroke_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The stroke files of a collect folder, J's then Z's, each letter's in recording order (file name)."""
    root = Path(folder) / STROKES_DIR
    return [path for letter in STROKE_LETTERS for path in sorted((root / letter).glob(f"*{STROKE_SUFFIX}"))]


def stroke_notes(folder: str | os.PathLike[str]) -> list[str]:
    """One line per entry of OUT/strokes/ that is not a J or Z folder: nothing reads it, and a user who filed
    strokes of another letter there should hear so rather than find them silently left out."""
    root = Path(folder) / STROKES_DIR
    if not root.is_dir():
        return []
    return [f"{path} is ignored: only {' and '.join(STROKE_LETTERS)} are drawn letters with strokes "
            f"({STROKES_DIR}/{'/, '.join(STROKE_LETTERS)}/); the other letters are photo samples"
            for path in sorted(root.iterdir()) if path.name not in STROKE_LETTERS]


def read_strokes(folder: str | os.PathLike[str]) -> list[tuple[Path, Stroke]]:
    """Every stroke of a collect folder with its path; DataError naming the first unreadable one, or one filed
    under the other letter's folder."""
    strokes = []
    for path in stroke_files(folder):
        stroke = read_stroke(path)
        if stroke.letter != path.parent.name:
            raise DataError(f"{path} holds a {stroke.letter} stroke but is filed under {path.parent.name}; move it "
                            f"to {path.parent.parent / stroke.letter} or delete it")
        strokes.append((path, stroke))
    return strokes
