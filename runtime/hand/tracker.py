"""Detect once, then track: MediaPipe's `hand_landmark_tracking_cpu.pbtxt` for one hand.

Frame in (BGR uint8, H x W x 3), `Hand` out. While a hand is tracked, the landmarks of frame t give
the crop of frame t+1 (`hand_landmark_landmarks_to_roi.pbtxt`: landmarks 0,1,2,3,5,6,9,10,13,14,17,18,
rotation from the wrist to the mean of the middle MCP and the midpoint of the index and ring MCPs,
scale 2.0, shift_y -0.1, square_long); the palm detector runs only when no hand is tracked or the
landmark model's presence drops below `min_presence`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from asl_edge.preprocess import as_uint8_image
from asl_edge.runtime.hand.geometry import RotatedRect, bounding_rect, rotation_to_upright
from asl_edge.runtime.hand.models import LANDMARK_INPUT_SIZE, HandModels
from asl_edge.runtime.hand.palm import WRIST_KEYPOINT, PalmDetection, detect_palms, letterbox, search_tiles

TRACKING_LANDMARKS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)
TRACK_SCALE, TRACK_SHIFT_Y = 2.0, -0.1
WRIST, INDEX_MCP, MIDDLE_MCP, RING_MCP = 0, 5, 9, 13
# The 21-point hand skeleton (MediaPipe's HAND_CONNECTIONS), for drawing.
HAND_CONNECTIONS = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11),
                    (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19),
                    (19, 20))


@dataclass(frozen=True)
class TrackerConfig:
    """min_detection: palm score threshold (MediaPipe's min_detection_confidence, 0.5); min_presence:
    landmark presence to keep a hand (min_tracking_confidence, 0.5); track: reuse the last landmarks'
    region (False = detect on every frame, MediaPipe's static_image_mode); pad: border added around the
    frame before detection as a fraction of its size (still photos cropped tightly to the hand need ~0.25,
    the palm detector wants context); variant: bundled model pair, "full" or "lite"; tiles: while tracking,
    every this-many-th frame whose whole view shows no palm (0: never) also searches one `palm.search_tiles`
    square, the next square each time, so a small hand is found within tiles x 6 frames (0.6 s at 30 fps for
    a portrait phone frame) at the cost of one more detection on a third of the frames without a hand (off
    without tracking: a photo is one frame and gets no second look); recheck_frames: while a hand is tracked,
    the palm detector runs on every this-many-th frame to look for a hand raised above it (0: never; see
    `HandTracker`)."""

    min_detection: float = 0.5
    min_presence: float = 0.5
    track: bool = True
    pad: float = 0.0
    variant: str = "full"
    tiles: int = 3
    recheck_frames: int = 15


@dataclass
class Hand:
    """One hand in frame pixels. landmarks: (21, 3) float32, x right and y down in pixels, z relative depth
    at the x scale (smaller = nearer the camera); handedness: probability of a right hand as seen in the
    unmirrored frame; region: the rotated crop the landmarks came from; box: (x0, y0, x1, y1) around the landmarks."""

    landmarks: np.ndarray
    presence: float
    handedness: float
    region: RotatedRect
    tracked: bool

    @property
    def box(self) -> tuple[float, float, float, float]:
        return landmark_box(self.landmarks)

    @property
    def is_right(self) -> bool:
        return self.handedness >= 0.5


def landmark_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) pixels around (21, 3) landmarks."""
    x0, y0 = landmarks[:, :2].min(axis=0)
    x1, y1 = landmarks[:, :2].max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


@dataclass
class HandTimes:
    """Milliseconds spent in the last frame's palm detection and landmark model runs (0 when skipped)."""

    detect_ms: float = 0.0
    landmarks_ms: float = 0.0
    detections: int = 0  # frames on which the palm detector ran
    frames: int = 0
    hands: int = 0  # frames with a hand found


def tracking_region(landmarks: np.ndarray) -> RotatedRect:
    """The next frame's crop from this frame's (21, 3) landmarks (`HandLandmarksToRectCalculator`)."""
    points = landmarks[list(TRACKING_LANDMARKS), :2]
    towards = ((landmarks[INDEX_MCP, :2] + landmarks[RING_MCP, :2]) / 2 + landmarks[MIDDLE_MCP, :2]) / 2
    rotation = rotation_to_upright(landmarks[WRIST, :2], towards)
    return bounding_rect(points, rotation).transformed(TRACK_SCALE, TRACK_SHIFT_Y)


class HandTracker:
    """One hand per frame, tracked across frames. Call `process(frame)`; `reset()` between unrelated images.

    With tracking (video), the hand is the *signing* hand: a fingerspeller raises it to the shoulder while
    the other hangs at the waist or rests, and both are often in view. Of the palms the detector finds, the one
    whose wrist is highest in the frame is taken; while a hand is tracked, every `recheck_frames`-th frame the
    detector runs again and a palm clear of the tracked hand, its wrist higher by a palm's height, takes over
    (the signer raised the other hand, or tracking had started on the resting one). MediaPipe's one-hand
    graph keeps the first hand it found; with a hand resting in view that is a fist read as E, N, T or S for
    the whole clip.
    """

    def __init__(self, models: HandModels | None = None, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.models = models or HandModels.bundled(self.config.variant)
        self.times = HandTimes()
        self._region: RotatedRect | None = None
        self._empty_frames = 0  # frames whose whole view showed no palm: which search tile comes next
        self._tracked_frames = 0  # frames tracked since the palm detector last ran

    def reset(self) -> None:
        self._region = None
        self._empty_frames = 0
        self._tracked_frames = 0

    def process(self, frame_bgr: np.ndarray) -> Hand | None:
        """A BGR (or gray) uint8 frame -> the hand, or None when no hand is found."""
        rgb = _to_rgb(frame_bgr)
        pad = round(self.config.pad * max(rgb.shape[:2]))
        if pad:
            rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        self.times.frames += 1
        self.times.detect_ms = self.times.landmarks_ms = 0.0
        hand = None
        tracked = self._region is not None and self.config.track
        if tracked and self._region is not None:
            hand = self._landmarks(rgb, self._region, tracked=True)
            self._tracked_frames += 1
            if hand is not None and 0 < self.config.recheck_frames <= self._tracked_frames:
                hand = self._raised_above(rgb, hand)
        if hand is None:
            hand = self._acquire(rgb)
        self._region = tracking_region(hand.landmarks) if hand is not None else None
        self.times.hands += hand is not None
        if hand is not None and pad:
            hand.landmarks[:, :2] -= pad
            region = hand.region
            hand.region = RotatedRect(region.cx - pad, region.cy - pad, region.width, region.height, region.rotation)
            self._region = None if self.config.pad else self._region
        return hand

    def _acquire(self, rgb: np.ndarray) -> Hand | None:
        """A hand from the palm detector: the highest palm whose landmarks are present (two tried at most)."""
        for palm in self._detect(rgb)[:2]:
            hand = self._landmarks(rgb, palm.hand_region(), tracked=False)
            if hand is not None:
                return hand
        return None

    def _raised_above(self, rgb: np.ndarray, hand: Hand) -> Hand:
        """`hand`, or a hand found clear of it with its wrist at least a palm's height higher (class docstring)."""
        x0, y0, x1, y1 = hand.box
        wrist_y = float(hand.landmarks[WRIST, 1])
        for palm in self._detect(rgb, tiles=False):
            px0, py0, px1, py1 = palm.box
            clear = px1 < x0 or px0 > x1 or py1 < y0 or py0 > y1
            if clear and float(palm.keypoints[WRIST_KEYPOINT, 1]) < wrist_y - (py1 - py0):
                raised = self._landmarks(rgb, palm.hand_region(), tracked=False)
                if raised is not None:
                    return raised
        return hand

    def _detect(self, rgb: np.ndarray, tiles: bool = True) -> list[PalmDetection]:
        """Palms in the whole frame (or, finding none while tracking, in the next search tile): while tracking,
        highest wrist first (the signing hand); a photo's by score, as MediaPipe's static mode takes them."""
        started = time.perf_counter()
        palms = self._detect_in(rgb, 0, 0)
        if not palms and tiles and self.config.tiles > 0 and self.config.track:
            empty, self._empty_frames = self._empty_frames, self._empty_frames + 1
            if empty % self.config.tiles == 0:  # the first empty frame searches, then every tiles-th
                search = search_tiles(*rgb.shape[:2])
                x, y, side = search[empty // self.config.tiles % len(search)]
                palms = self._detect_in(rgb[y:y + side, x:x + side], x, y)
        self.times.detect_ms += (time.perf_counter() - started) * 1000
        self.times.detections += 1
        self._tracked_frames = 0
        if not self.config.track:
            return palms
        return sorted(palms, key=lambda palm: float(palm.keypoints[WRIST_KEYPOINT, 1]))

    def _detect_in(self, rgb: np.ndarray, x: int, y: int) -> list[PalmDetection]:
        """The palms in `rgb`, a view whose top-left corner is (x, y) in the frame, in frame pixels."""
        tensor, fit = letterbox(rgb)
        regressors, scores = self.models.detect(tensor)
        return detect_palms(regressors, scores, fit.offset(x, y), self.config.min_detection)

    def _landmarks(self, rgb: np.ndarray, region: RotatedRect, tracked: bool) -> Hand | None:
        started = time.perf_counter()
        crop = region.crop(rgb, LANDMARK_INPUT_SIZE)
        tensor = crop.astype(np.float32).transpose(2, 0, 1)[None] * np.float32(1 / 255)
        out = self.models.landmarks(tensor)
        self.times.landmarks_ms += (time.perf_counter() - started) * 1000
        if out.presence < self.config.min_presence:
            return None
        # The model assumes a mirrored (selfie) image: its "left" score is a right hand in an unmirrored frame.
        return Hand(region.to_image(out.landmarks, LANDMARK_INPUT_SIZE), out.presence, out.handedness, region, tracked)


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    frame = as_uint8_image(frame)
    if frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
