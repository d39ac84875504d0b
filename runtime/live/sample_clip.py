"""Spelling clips from labelled photos: each letter's photo held inside the ROI for a while, `nothing`
photos between letters. The demo's bundled clip and the end-to-end tests are made this way from
held-out validation photos, so the runtime is tested on images the model never trained on.

    python -m asl_edge.runtime.live.sample_clip --data ../shared/data/asl-alphabet-mini --word CAB \\
        --out asl_edge/assets/sample_clip.mp4
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from asl_edge.artifacts import atomic_write_json
from asl_edge.datasets import HeldOutSplit, LabelledImages
from asl_edge.errors import DataError
from asl_edge.preprocess import DEFAULT_ROI_FRACTION, Roi
from asl_edge.runtime.live.display import VIDEO_CODECS
from asl_edge.spec import NOTHING, SPACE

BACKGROUND_BGR = (64, 64, 64)


@dataclass(frozen=True)
class SpellingClip:
    """What a clip shows, for the demo and tests: the word, timing and where the hand is."""

    path: str
    word: str
    frames: int
    fps: float
    frame_size: tuple[int, int]
    roi: tuple[int, int, int, int]
    roi_size: float
    frames_per_letter: int
    gap_frames: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = Path(self.path).name
        return data


def label_for(char: str) -> str:
    return SPACE if char == " " else char.upper()


def images_by_label(data: LabelledImages, labels: Sequence[str]) -> dict[str, list[np.ndarray]]:
    """The images of each wanted label, in dataset order."""
    out: dict[str, list[np.ndarray]] = {}
    for label in dict.fromkeys(labels):
        if label not in data.classes:
            raise DataError(f"the dataset has no class '{label}' to build a clip from")
        index = data.classes.index(label)
        out[label] = [img for img, y in zip(data.images, data.labels, strict=True) if y == index]
    return out


def spelling_segments(images_for_letters: Mapping[str, Sequence[np.ndarray]], word: str,
                      frame_size: tuple[int, int] = (640, 480), roi_size: float = DEFAULT_ROI_FRACTION,
                      roi_offset: tuple[float, float] = (0.0, 0.0), mirror: bool = False
                      ) -> tuple[list[tuple[str, np.ndarray]], Roi]:
    """The still frames of a spelling clip, in order: `nothing`, then each character of `word` followed by
    `nothing` again, as (label, BGR frame of frame_size (w, h)) pairs, and the ROI they were drawn in.

    Photos are scaled into the ROI square (Roi.centered_square with roi_size, moved by roi_offset as fractions
    of the frame) of a plain frame; a repeated letter uses the label's next photo; `mirror` flips each photo
    left-right (a right hand becomes a left hand). Raises DataError for an empty word or missing photos."""
    if not word:
        raise DataError("the clip needs a word with at least one letter")
    needed = [label_for(c) for c in word] + [NOTHING]
    missing = [label for label in needed if not images_for_letters.get(label)]
    if missing:
        raise DataError(f"no images for '{missing[0]}' to build the clip for '{word}'")
    width, height = frame_size
    roi = Roi.centered_square(width, height, roi_size, *roi_offset)
    used: dict[str, int] = {}

    def frame_with(label: str) -> np.ndarray:
        photos = images_for_letters[label]
        photo = photos[used.get(label, 0) % len(photos)]
        used[label] = used.get(label, 0) + 1
        if photo.ndim == 2:
            photo = cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR)
        if mirror:
            photo = cv2.flip(photo, 1)
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = BACKGROUND_BGR
        frame[roi.y:roi.y + roi.height, roi.x:roi.x + roi.width] = cv2.resize(
            photo, (roi.width, roi.height), interpolation=cv2.INTER_LINEAR)
        return frame

    segments = [(NOTHING, frame_with(NOTHING))]
    for char in word:
        segments += [(label_for(char), frame_with(label_for(char))), (NOTHING, frame_with(NOTHING))]
    return segments, roi


def make_spelling_clip(images_for_letters: Mapping[str, Sequence[np.ndarray]], word: str,
                       out_path: str | os.PathLike[str], frame_size: tuple[int, int] = (640, 480),
                       roi_size: float = DEFAULT_ROI_FRACTION, frames_per_letter: int = 12, gap_frames: int = 6,
                       fps: float = 10.0, roi_offset: tuple[float, float] = (0.0, 0.0),
                       mirror: bool = False) -> SpellingClip:
    """Write a constant-rate video of spelling_segments(): `nothing` for gap_frames, then each character of
    `word` held for frames_per_letter, each followed by `nothing` again."""
    if frames_per_letter < 1 or gap_frames < 1 or fps <= 0:
        raise DataError("frames_per_letter and gap_frames must be at least 1 and fps positive")
    path = Path(out_path)
    codec = VIDEO_CODECS.get(path.suffix.lower())
    if codec is None:
        raise DataError(f"cannot write a clip as {path.name}: use one of {', '.join(sorted(VIDEO_CODECS))}")
    segments, roi = spelling_segments(images_for_letters, word, frame_size, roi_size, roi_offset, mirror)
    width, height = frame_size
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter.fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise DataError(f"cannot write {path}: OpenCV has no {codec} encoder here")
    frames = 0
    try:
        for label, image in segments:
            for _ in range(gap_frames if label == NOTHING else frames_per_letter):
                writer.write(image)
                frames += 1
    finally:
        writer.release()
    os.replace(partial, path)
    return SpellingClip(str(path), word, frames, fps, (width, height), tuple(roi), roi_size,  # type: ignore[arg-type]
                        frames_per_letter, gap_frames)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="build a spelling clip from held-out validation photos")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (one folder per class)")
    parser.add_argument("--word", required=True)
    parser.add_argument("--out", type=Path, required=True, help="clip file (.mp4 or .avi); a .json card beside it")
    parser.add_argument("--frames-per-letter", type=int, default=12)
    parser.add_argument("--gap-frames", type=int, default=6)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    args = parser.parse_args(argv)
    _, val = HeldOutSplit((str(args.data),)).load()  # the split training validates on by default
    images = images_by_label(val, [label_for(c) for c in args.word] + [NOTHING])
    clip = make_spelling_clip(images, args.word, args.out, tuple(args.size), frames_per_letter=args.frames_per_letter,
                              gap_frames=args.gap_frames, fps=args.fps)
    atomic_write_json(args.out.with_suffix(".json"), clip.to_dict())
    print(f"wrote {args.out} ({clip.frames} frames, {args.out.stat().st_size / 1024:.0f} KiB) spelling {clip.word!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
