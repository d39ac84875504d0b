"""Palm detection: letterbox a frame, decode the SSD outputs, weighted NMS, and the hand region.

Constants and algorithms from MediaPipe v0.10.14 (google-ai-edge/mediapipe):
- `modules/palm_detection/palm_detection_cpu.pbtxt`: ImageToTensor 192x192, keep aspect ratio, range
  [0, 1], zero border; TensorsToDetections with 7 keypoints, sigmoid scores clipped at 100, x/y/w/h
  scale 192; NonMaxSuppression 0.3 IoU, WEIGHTED.
- `modules/hand_landmark/palm_detection_detection_to_roi.pbtxt`: rotation from keypoint 0 (wrist) to
  keypoint 2 (middle-finger MCP), target 90 degrees; RectTransformation scale 2.6, shift_y -0.5, square_long.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from asl_edge.runtime.hand.anchors import PALM_INPUT_SIZE, ssd_anchors
from asl_edge.runtime.hand.geometry import RotatedRect, rotation_to_upright

NUM_KEYPOINTS = 7
SCORE_CLIP = 100.0
NMS_IOU = 0.3
ROI_SCALE, ROI_SHIFT_Y = 2.6, -0.5
WRIST_KEYPOINT, MIDDLE_MCP_KEYPOINT = 0, 2


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the square model input: scale and padding, in input pixels."""

    scale: float
    pad_x: float
    pad_y: float

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) points in model-input pixels -> frame pixels."""
        return (points - (self.pad_x, self.pad_y)) / self.scale

    def offset(self, x: int, y: int) -> Letterbox:
        """The fit of a crop whose top-left corner is (x, y) in the frame, mapping to frame pixels."""
        return Letterbox(self.scale, self.pad_x - x * self.scale, self.pad_y - y * self.scale)


def letterbox(image_rgb: np.ndarray, size: int = PALM_INPUT_SIZE) -> tuple[np.ndarray, Letterbox]:
    """An RGB uint8 (H, W, 3) frame -> float32 (1, 3, size, size) in [0, 1] with a black border, and the fit."""
    height, width = image_rgb.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = cv2.resize(image_rgb, (new_w, new_h),
                                                                   interpolation=cv2.INTER_AREA)
    tensor = canvas.astype(np.float32).transpose(2, 0, 1)[None] * np.float32(1 / 255)
    return tensor, Letterbox(scale, pad_x, pad_y)


def search_tiles(height: int, width: int) -> list[tuple[int, int, int]]:
    """The palm detector's second scale: (x, y, side) squares of half the frame's long side, overlapping by half
    a side, row by row, so any hand smaller than a quarter of the long side lies whole inside one of them.

    The whole frame letterboxed to 192 x 192 shrinks a 640-pixel frame 3.3x, and a hand under about 1/20 of the
    frame (a signer's whole body on a phone, a webcam across a room) falls below what the palm detector finds;
    a tile shows it twice as large. Not MediaPipe's: its graph detects on the whole frame only."""
    side = max(1, (max(height, width) + 1) // 2)

    def starts(extent: int) -> list[int]:
        if extent <= side:
            return [0]
        return sorted({*range(0, extent - side, side // 2), extent - side})

    return [(x, y, side) for y in starts(height) for x in starts(width)]


@dataclass(frozen=True)
class PalmDetection:
    """One palm in frame pixels: axis-aligned box (x0, y0, x1, y1), 7 keypoints (7, 2) and a score in [0, 1].

    Keypoints (MediaPipe's palm model): 0 wrist centre, 1 index MCP, 2 middle MCP, 3 ring MCP,
    4 pinky MCP, 5 thumb CMC, 6 thumb MCP.
    """

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    def hand_region(self) -> RotatedRect:
        """The rotated square crop the landmark model reads (palm box x2.6, moved towards the fingers)."""
        x0, y0, x1, y1 = self.box
        rotation = rotation_to_upright(self.keypoints[WRIST_KEYPOINT], self.keypoints[MIDDLE_MCP_KEYPOINT])
        palm = RotatedRect((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, rotation)
        return palm.transformed(ROI_SCALE, ROI_SHIFT_Y)


_ANCHORS = ssd_anchors()


def decode(regressors: np.ndarray, scores: np.ndarray, min_score: float,
           input_size: int = PALM_INPUT_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs (2016, 18) and (2016,) logits -> boxes (K, 4) x0y0x1y1, keypoints (K, 7, 2), scores (K,).

    Coordinates in model-input pixels; only anchors with sigmoid score >= min_score are kept.
    `TensorsToDetectionsCalculator::DecodeBoxes` with reverse_output_order (x before y).
    """
    probs = 1.0 / (1.0 + np.exp(-np.clip(scores, -SCORE_CLIP, SCORE_CLIP)))
    keep = np.flatnonzero(probs >= min_score)
    raw, anchors = regressors[keep] / input_size, _ANCHORS[keep]
    centre = raw[:, 0:2] + anchors
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1) * input_size
    keypoints = (raw[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None]) * input_size
    return boxes.astype(np.float32), keypoints.astype(np.float32), probs[keep].astype(np.float32)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box with (K, 4) boxes, x0y0x1y1."""
    low = np.maximum(box[:2], boxes[:, :2])
    high = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou_threshold: float = NMS_IOU) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-max suppression (`non_max_suppression_calculator.cc`).

    Best first: every remaining detection overlapping the best by more than `iou_threshold` is merged
    into it (box and keypoints averaged, weighted by score); the merged detection keeps the best score.
    """
    order = np.argsort(-scores, kind="stable")
    merged: list[tuple[np.ndarray, np.ndarray, float]] = []
    while order.size:
        overlaps = iou(boxes[order[0]], boxes[order])
        group = order[overlaps > iou_threshold]
        group = group if group.size else order[:1]
        weights = scores[group] / scores[group].sum()
        merged.append((np.tensordot(weights, boxes[group], axes=1),
                       np.tensordot(weights, keypoints[group], axes=1), float(scores[order[0]])))
        order = order[overlaps <= iou_threshold]
    return merged


def detect_palms(regressors: np.ndarray, scores: np.ndarray, fit: Letterbox,
                 min_score: float) -> list[PalmDetection]:
    """Model outputs of one frame -> palms in frame pixels, best first."""
    boxes, keypoints, probs = decode(regressors.reshape(-1, 4 + 2 * NUM_KEYPOINTS), scores.reshape(-1), min_score)
    palms = []
    for box, points, score in weighted_nms(boxes, keypoints, probs):
        corners = fit.to_image(box.reshape(2, 2)).ravel()
        palms.append(PalmDetection(corners.astype(np.float32), fit.to_image(points).astype(np.float32), score))
    return palms
