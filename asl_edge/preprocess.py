"""The one preprocessing function: a BGR frame (any size, gray or colour) to a model input tensor.

Training's evaluation transform and the runtime both call `preprocess`, so what a model saw in
validation is exactly what it sees on the camera. Augmentation happens only in training, before this.
numpy and OpenCV only: it runs on a Jetson without PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import cv2
import numpy as np

from asl_edge.errors import DataError
from asl_edge.spec import ModelSpec

# The fixed box's side as a fraction of the frame's shorter side, unless told otherwise: the box the bundled
# sample clip was made with (asl_edge/assets/sample_clip.json), which a signer's hand fills at arm's length.
DEFAULT_ROI_FRACTION = 0.6


class Roi(NamedTuple):
    """A region of interest in pixels: top-left corner and size."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def centered_square(cls, frame_width: int, frame_height: int, fraction: float = DEFAULT_ROI_FRACTION,
                        offset_x: float = 0.0, offset_y: float = 0.0) -> Roi:
        """A square whose side is `fraction` of the frame's shorter side, centred, shifted by offsets
        given as fractions of the frame size (positive: right/down)."""
        side = max(1, round(min(frame_width, frame_height) * fraction))
        x = round((frame_width - side) / 2 + offset_x * frame_width)
        y = round((frame_height - side) / 2 + offset_y * frame_height)
        return cls(min(max(x, 0), frame_width - side), min(max(y, 0), frame_height - side), side, side)


def crop(frame: np.ndarray, roi: Roi | tuple[int, int, int, int] | None) -> np.ndarray:
    """The ROI of a frame as a view, clipped to the frame; the whole frame when roi is None."""
    if roi is None:
        return frame
    x, y, w, h = (int(v) for v in roi)
    height, width = frame.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        raise DataError(f"region of interest {tuple(roi)} lies outside the {width}x{height} frame; "
                        "move or shrink the box")
    return frame[y0:y1, x0:x1]


def as_uint8_image(frame: np.ndarray) -> np.ndarray:
    """Any decoded frame as uint8 HxWxC (C = 1, 3 or 4), or a DataError naming what is wrong with it.

    uint8 passes; uint16 (16-bit PNG/TIFF, some industrial and depth-style cameras) is scaled by 255/65535;
    float frames must hold pixels in [0, 1] (OpenCV's and torchvision's convention) and are scaled by 255.
    Anything else (float pixels above 1, NaN, signed or 32-bit integers) is refused rather than clipped,
    because clipping turns a whole frame into white or black and the model silently answers `nothing`.
    """
    if not isinstance(frame, np.ndarray) or frame.size == 0:
        raise DataError("expected a non-empty image array (decoded frame), got "
                        f"{type(frame).__name__}{'' if not isinstance(frame, np.ndarray) else ' of size 0'}")
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3 or frame.shape[2] not in (1, 3, 4):
        raise DataError(f"expected an image of shape HxW, HxWx1, HxWx3 or HxWx4, got {frame.shape}")
    if frame.dtype == np.uint8:
        return frame
    if frame.dtype == np.uint16:
        return ((frame.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(frame.dtype, np.floating):
        low, high = float(np.nanmin(frame)), float(np.nanmax(frame))
        if np.isnan(frame).any() or low < 0.0 or high > 1.0:
            raise DataError(f"float frame with pixel values {low:g}..{high:g}: float frames must hold pixels in "
                            "[0, 1]; divide 0-255 floats by 255 or pass uint8 pixels")
        return np.asarray(frame * 255.0 + 0.5, dtype=np.float32).astype(np.uint8)
    raise DataError(f"frame of dtype {frame.dtype} is not supported: pass uint8 (or uint16, or float in [0, 1]) "
                    "pixels")


def resize(frame: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Only the resize step of `preprocess` (the spec's policy and size), keeping uint8 HxWxC pixels:
    training resizes its images once with it and augments them before `preprocess`."""
    return _resize(as_uint8_image(frame), spec)


def _resize(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    out_h, out_w = spec.input_height, spec.input_width
    h, w = image.shape[:2]
    if spec.resize == "center_crop":
        # The largest centred region with the target's aspect ratio.
        target_ratio = out_w / out_h
        if w / h > target_ratio:
            new_w = max(1, round(h * target_ratio))
            x0 = (w - new_w) // 2
            image = image[:, x0:x0 + new_w]
        else:
            new_h = max(1, round(w / target_ratio))
            y0 = (h - new_h) // 2
            image = image[y0:y0 + new_h]
        h, w = image.shape[:2]
    if spec.resize == "letterbox":
        factor = min(out_w / w, out_h / h)
        fit_w, fit_h = max(1, round(w * factor)), max(1, round(h * factor))
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        fitted = cv2.resize(image, (fit_w, fit_h), interpolation=interpolation).reshape(fit_h, fit_w, -1)
        canvas = np.zeros((out_h, out_w, image.shape[2]), np.uint8)
        x0, y0 = (out_w - fit_w) // 2, (out_h - fit_h) // 2
        canvas[y0:y0 + fit_h, x0:x0 + fit_w] = fitted
        return canvas
    if (h, w) == (out_h, out_w):
        return image
    interpolation = cv2.INTER_AREA if (out_w < w and out_h < h) else cv2.INTER_LINEAR
    # cv2.resize drops a trailing channel axis of size 1; reshape keeps HxWxC.
    return cv2.resize(image, (out_w, out_h), interpolation=interpolation).reshape(out_h, out_w, -1)


_TO_GRAY = {1: None, 3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}
_TO_RGB = {1: cv2.COLOR_GRAY2RGB, 3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGB}


def _convert_color(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    code = (_TO_GRAY if spec.color == "gray" else _TO_RGB)[image.shape[2]]
    if code is None:
        return image
    converted = cv2.cvtColor(image, code)
    return converted.reshape(converted.shape[0], converted.shape[1], -1)


def _normaliser(spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    # (x * scale - mean) / std folded into one multiply-add per channel, on an HxWxC image.
    std = np.asarray(spec.std, np.float32)
    gain = np.float32(spec.scale) / std
    bias = -np.asarray(spec.mean, np.float32) / std
    return gain.astype(np.float32), bias.astype(np.float32)


def preprocess(frame: np.ndarray, spec: ModelSpec,
               roi: Roi | tuple[int, int, int, int] | None = None) -> np.ndarray:
    """One BGR(A) or gray frame (uint8; uint16 and float in [0, 1] are converted, see as_uint8_image) to one
    float32 sample in the spec's layout: (C, H, W) for NCHW, (H, W, C) for NHWC (spec.input_shape).

    Steps: crop the ROI, resize by the spec's policy (area when shrinking), convert to the spec's
    colour, scale and normalise per channel, then move channels first for an NCHW model.
    """
    image = as_uint8_image(frame)
    image = _convert_color(_resize(crop(image, roi), spec), spec)
    gain, bias = _normaliser(spec)
    hwc = image.astype(np.float32)
    hwc *= gain
    hwc += bias
    if spec.layout == "NHWC":
        return np.ascontiguousarray(hwc)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def preprocess_batch(frames: Iterable[np.ndarray], spec: ModelSpec,
                     roi: Roi | tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Several frames to one float32 batch, (N, *spec.input_shape): NCHW or NHWC by the spec's layout."""
    arrays = [preprocess(frame, spec, roi) for frame in frames]
    if not arrays:
        return np.zeros((0, *spec.input_shape), np.float32)
    return np.stack(arrays)


def preprocess_batches(frames: Sequence[np.ndarray], spec: ModelSpec, batch_size: int) -> Iterator[np.ndarray]:
    """The frames in order as float32 NCHW batches of at most `batch_size` (the last one may be smaller)."""
    for start in range(0, len(frames), batch_size):
        yield preprocess_batch(frames[start:start + batch_size], spec)
