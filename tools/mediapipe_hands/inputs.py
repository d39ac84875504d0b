"""Step 3: real inputs: photographs, letterboxed palm-detector frames and MediaPipe-style hand crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mediapipe_hands.common import LANDMARK_SIZE, LETTERS, PALM_SIZE, PHOTO_SETS, ConversionError

try:
    import cv2
    import numpy as np
except ImportError:  # main() names what to install
    pass


# --- 3. Real inputs -----------------------------------------------------------------------------------

def photo_paths(data: Path, per_letter: int) -> list[Path]:
    paths: list[Path] = []
    for name in PHOTO_SETS:
        folder = data / name
        if not folder.is_dir():
            raise ConversionError(f"photographs not found at {folder}; pass --data to the folder holding {name}")
        for letter in LETTERS:
            paths += sorted((folder / letter).glob("*.jpg"))[:per_letter]
    return paths


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConversionError(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@dataclass
class Letterbox:
    image: np.ndarray          # uint8 RGB, size x size
    scale: float               # model pixels per source pixel
    offset: tuple[float, float]  # (x, y) of the source's top-left corner in model pixels


def letterbox(image: np.ndarray, size: int) -> Letterbox:
    """Fit the whole image into size x size keeping its aspect ratio, zero border (MediaPipe's
    ImageToTensorCalculator, keep_aspect_ratio: true, border_mode: BORDER_ZERO)."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = round(w * scale), round(h * scale)
    out = np.zeros((size, size, 3), np.uint8)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return Letterbox(out, scale, (float(x0), float(y0)))


def palm_anchors() -> np.ndarray:
    """(2016, 2) anchor centres, normalised: SsdAnchorsCalculator with palm_detection_cpu.pbtxt's options
    (num_layers 4, strides 8,16,16,16, aspect_ratios 1.0, fixed_anchor_size: true, offsets 0.5): a 24x24
    grid with 2 anchors per cell, then a 12x12 grid with 6 (the three stride-16 layers merged)."""
    centres = []
    for grid, per_cell in ((24, 2), (12, 6)):
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -100.0, 100.0)))


def hand_crop(photo: np.ndarray, pad: tuple[int, int], box: Letterbox, regressors: np.ndarray,
              scores: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The landmark model's 224x224 input cut from `photo` around the top palm detection, as MediaPipe's
    palm_detection_detection_to_roi.pbtxt does: rotation from keypoint 0 (wrist) to 2 (middle-finger MCP),
    target 90 degrees; RectTransformation scale 2.6, shift_y -0.5, square_long; BORDER_REPLICATE."""
    best = int(np.argmax(scores))
    reg = regressors[best] / PALM_SIZE
    ax, ay = anchors[best]

    def to_photo(x: float, y: float) -> tuple[float, float]:
        """Normalised position in the letterboxed 192 frame -> photo pixels."""
        return ((x * PALM_SIZE - box.offset[0]) / box.scale - pad[0],
                (y * PALM_SIZE - box.offset[1]) / box.scale - pad[1])

    cx, cy = to_photo(reg[0] + ax, reg[1] + ay)
    width, height = reg[2] * PALM_SIZE / box.scale, reg[3] * PALM_SIZE / box.scale
    wx, wy = to_photo(reg[4] + ax, reg[5] + ay)
    mx, my = to_photo(reg[8] + ax, reg[9] + ay)
    rotation = np.pi / 2 - np.arctan2(-(my - wy), mx - wx)
    rotation = rotation - 2 * np.pi * np.floor((rotation + np.pi) / (2 * np.pi))
    cos, sin = np.cos(rotation), np.sin(rotation)
    # shift_y -0.5 of the box height along the rotated y axis, then a square of 2.6 x the longer side.
    cx, cy = cx + 0.5 * height * sin, cy - 0.5 * height * cos
    side = 2.6 * max(width, height)
    # Affine map from crop pixels to photo pixels: crop x runs along (cos, sin), crop y along (-sin, cos).
    k = side / LANDMARK_SIZE
    to_src = np.array([[k * cos, -k * sin, 0.0], [k * sin, k * cos, 0.0]])
    to_src[:, 2] = [cx, cy] - to_src[:, :2] @ [LANDMARK_SIZE / 2, LANDMARK_SIZE / 2]
    return cv2.warpAffine(photo, to_src, (LANDMARK_SIZE, LANDMARK_SIZE),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
