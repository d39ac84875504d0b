"""SSD anchors of MediaPipe's palm detector.

Source: `mediapipe/calculators/tflite/ssd_anchors_calculator.cc` with the options of
`mediapipe/modules/palm_detection/palm_detection_cpu.pbtxt` (v0.10.14): num_layers 4, min_scale
0.1484375, max_scale 0.75, input 192x192, anchor_offset 0.5, strides [8, 16, 16, 16], aspect_ratios
[1.0], fixed_anchor_size true. With a fixed anchor size every anchor is 1x1, so only the centres matter.
"""

from __future__ import annotations

import numpy as np

PALM_INPUT_SIZE = 192
STRIDES = (8, 16, 16, 16)
# interpolated_scale_aspect_ratio defaults to 1.0, which adds one anchor per aspect ratio and layer.
ANCHORS_PER_LAYER_AND_CELL = 2


def ssd_anchors(input_size: int = PALM_INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """(2016, 2) float32 anchor centres (x, y) as fractions of the input, in the model's output order.

    Consecutive layers with the same stride share one grid; each layer adds two anchors per cell
    (aspect ratio 1 and the interpolated scale), so the 24x24 grid has 2 per cell and the 12x12 grid 6.
    """
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        same = 0
        while layer < len(strides) and strides[layer] == stride:
            same += ANCHORS_PER_LAYER_AND_CELL
            layer += 1
        grid = -(-input_size // stride)  # ceil
        ys, xs = np.meshgrid((np.arange(grid) + 0.5) / grid, (np.arange(grid) + 0.5) / grid, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell, same, axis=0))
    return np.concatenate(centres).astype(np.float32)
