"""Rotated rectangles in image pixels and the affine maps between a frame and a square model crop.

Frame: x right, y down, origin at the top-left pixel corner, units pixels. A `RotatedRect` is a centre,
a width and height, and a rotation in radians, positive clockwise on screen (the image y axis points
down), so rotation 0 is an upright hand. Source: MediaPipe's `RectTransformationCalculator`
(`mediapipe/calculators/util/rect_transformation_calculator.cc`) and `ImageToTensorCalculator`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


def normalize_radians(angle: float) -> float:
    """The same angle in [-pi, pi)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def rotation_to_upright(start: np.ndarray, end: np.ndarray, target_degrees: float = 90.0) -> float:
    """Rotation (radians) that turns the vector start->end (pixels) to point `target_degrees` above +x.

    MediaPipe's `DetectionsToRectsCalculator::ComputeRotation`: 90 degrees means the hand points up.
    """
    angle = math.radians(target_degrees) - math.atan2(-(float(end[1]) - float(start[1])),
                                                      float(end[0]) - float(start[0]))
    return normalize_radians(angle)


@dataclass(frozen=True)
class RotatedRect:
    """A rotated rectangle in image pixels: centre (cx, cy), size (width, height), rotation in radians."""

    cx: float
    cy: float
    width: float
    height: float
    rotation: float = 0.0

    def transformed(self, scale: float, shift_y: float, shift_x: float = 0.0) -> RotatedRect:
        """Shift along the rect's own axes (as fractions of its size), make it square on its long side,
        then scale it: MediaPipe's `RectTransformationCalculator` with `square_long: true`."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        dx, dy = self.width * shift_x, self.height * shift_y
        cx = self.cx + dx * cos - dy * sin
        cy = self.cy + dx * sin + dy * cos
        side = max(self.width, self.height) * scale
        return RotatedRect(cx, cy, side, side, self.rotation)

    def corners(self) -> np.ndarray:
        """(4, 2) float32 corners in image pixels: top-left, top-right, bottom-right, bottom-left of the rect."""
        half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * (self.width / 2, self.height / 2)
        return (half @ self._rotation_matrix().T + (self.cx, self.cy)).astype(np.float32)

    def _rotation_matrix(self) -> np.ndarray:
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        return np.array([[cos, -sin], [sin, cos]], np.float32)

    def crop_to_image(self, size: int) -> np.ndarray:
        """2x3 affine map from pixels of a `size` x `size` crop to image pixels."""
        linear = self._rotation_matrix() * np.float32(self.width / size)
        offset = np.array([self.cx, self.cy], np.float32) - linear @ np.array([size / 2, size / 2], np.float32)
        return np.hstack([linear, offset[:, None]]).astype(np.float32)

    def crop(self, image: np.ndarray, size: int, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
        """The rect cut out of `image` and turned upright, as a `size` x `size` image of the same dtype."""
        return cv2.warpAffine(image, self.crop_to_image(size), (size, size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border)

    def to_image(self, points: np.ndarray, size: int) -> np.ndarray:
        """(N, 2+) points in crop pixels -> image pixels; a third column (depth) is scaled like x."""
        matrix = self.crop_to_image(size)
        out = np.array(points, np.float32, copy=True)
        out[:, :2] = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
        if out.shape[1] > 2:
            out[:, 2] = points[:, 2] * np.float32(self.width / size)
        return out


def bounding_rect(points: np.ndarray, rotation: float) -> RotatedRect:
    """The smallest rect at `rotation` holding all (N, 2) image points.

    MediaPipe's `HandLandmarksToRectCalculator::NormalizedLandmarksToRect`, in pixels.
    """
    cos, sin = math.cos(-rotation), math.sin(-rotation)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    rel = points - centre
    projected = np.stack([rel[:, 0] * cos - rel[:, 1] * sin, rel[:, 0] * sin + rel[:, 1] * cos], axis=1)
    low, high = projected.min(axis=0), projected.max(axis=0)
    mid = (low + high) / 2
    cos_r, sin_r = math.cos(rotation), math.sin(rotation)
    cx = mid[0] * cos_r - mid[1] * sin_r + centre[0]
    cy = mid[0] * sin_r + mid[1] * cos_r + centre[1]
    width, height = high - low
    return RotatedRect(float(cx), float(cy), float(width), float(height), rotation)
