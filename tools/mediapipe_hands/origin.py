"""Step 5 (second part): ORIGIN.md, what was converted, with which tools, and the parity measured."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
from typing import Any

from mediapipe_hands.common import (
    FIXTURE_PER_SET,
    INSTALL,
    MEDIAPIPE,
    MODELS,
    OPSET,
    PAD_FRACTION,
    TFLITE_INPUT,
    TOL_LANDMARK_MAX_PX,
    TOL_LANDMARK_MEDIAN_PX,
    TOL_PALM_LOGIT,
    TOL_PALM_REGRESSOR,
    TOL_PALM_SCORE,
    TOL_PROBABILITY,
    TOL_WORLD,
    TOOL_PACKAGES,
    WHEEL_LICENSE,
    WHEEL_NAME,
    sha256,
)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in TOOL_PACKAGES:
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "?"
    return out


def fmt(s: dict[str, float], digits: int = 3) -> str:
    return f"{s['max']:.{digits}g} / {s['median']:.{digits}g}"


def table_head(*names: str) -> str:
    return "| " + " | ".join(names) + " |\n" + "|---" * len(names) + "|"


def origin_markdown(wheel_sha: str, tflite: dict[str, bytes], onnx_files: dict[str, bytes],
                    results: dict[str, dict[str, Any]], convention: dict[str, float], n_photos: int,
                    n_empty: int, per_letter: int) -> str:
    v = versions()
    model_rows = "\n".join(
        f"| `{m.onnx_name}` | `{m.wheel_path}` | `{sha256(tflite[m.name])}` | {len(onnx_files[m.name]):,} | "
        f"`{sha256(onnx_files[m.name])}` |" for m in MODELS)
    palm_rows = "\n".join(
        f"| {n} | {r['images']} ({r['detected']} with a hand, score >= 0.5) | {fmt(r['scores_raw'])} | "
        f"{fmt(r['scores_sigmoid'])} | {fmt(r['top_score_sigmoid'])} | {r['top_anchor_same']}/{r['detected']} | "
        f"{fmt(r['regressors_raw'])} | {fmt(r['top_regressors_px'])} |"
        for n, r in results.items() if "scores_raw" in r)
    lm_rows = "\n".join(
        f"| {n} | {r['images']} ({r['present']} with presence >= 0.5) | {fmt(r['landmark_px_224'])} | "
        f"{fmt(r['landmark_px_256'])} | {fmt(r['landmarks_raw'])} | {fmt(r['presence'])} | "
        f"{fmt(r['handedness'])} | {fmt(r['world_landmarks_raw'])} |"
        for n, r in results.items() if "landmarks_raw" in r)
    palm_head = table_head("palm model", "images", "score logit", "sigmoid score", "top-anchor sigmoid score",
                           "same top anchor (images with a hand)", "regressors", "top-anchor regressors (px of 192)")
    lm_head = table_head("landmark model", "crops", "landmark x,y error, px of 224", "scaled to a 256 crop",
                         "landmarks raw", "presence", "handedness", "world landmarks (m)")
    conv_rows = "\n".join(f"| {k} | {val:.3f} |" for k, val in convention.items())
    return f"""# MediaPipe hand models, converted to ONNX

Written by `tools/convert_mediapipe_hands.py`; do not edit by hand (rerun the tool).

## Origin

Google's MediaPipe hand-tracking models, **Apache-2.0** (the licence text is `LICENSE` beside this file,
the Apache-2.0 part of the wheel's `{WHEEL_LICENSE}`; the rest of that file is notices for other
MediaPipe sources, not for these models). Taken from the PyPI wheel `{WHEEL_NAME}`
({MEDIAPIPE}, the last release that bundles them), sha256 `{wheel_sha}`.

| ONNX file | path inside the wheel | TFLite sha256 | ONNX bytes | ONNX sha256 |
|---|---|---|---|---|
{model_rows}

## Conversion

tf2onnx `{v['tf2onnx']}` (`tf2onnx.convert.from_tflite`, opset {OPSET}, `inputs_as_nchw=["{TFLITE_INPUT}"]`),
tensorflow-cpu `{v['tensorflow-cpu']}`, onnx `{v['onnx']}`, onnxruntime `{v['onnxruntime']}`,
numpy `{v['numpy']}`, opencv-python-headless `{v['opencv-python-headless']}`, Python {v['python']}.
After conversion the tool renames the input and outputs (below), names nodes by position (`Conv_012`)
and weight constants by first use (`const_0042`), so a rerun reproduces these files byte for byte.
Weights are float32 (the TFLite files hold float16 weights with DEQUANTIZE ops; tf2onnx folds them to
float32, so no precision is lost).
NCHW input works cleanly: the first node of each graph is a Conv on `image`, with no Transpose before it.
Reproduce (Python 3.11, x86-64 Linux, a throw-away virtualenv outside the repository):

```bash
python3 -m venv /tmp/convert-venv
/tmp/convert-venv/bin/{INSTALL}
/tmp/convert-venv/bin/python tools/convert_mediapipe_hands.py
```

## Inputs and outputs

Batch fixed at 1. All tensors float32.

**Palm detector** (`palm_detection_full.onnx`, `palm_detection_lite.onnx`)

- input `image` [1, 3, 192, 192]: NCHW, **RGB, float32 in [0, 1]** (pixel / 255); the whole frame
  letterboxed to 192x192 keeping its aspect ratio, zero (black) border.
- output `regressors` [1, 2016, 18]: per anchor the box centre x, y offset, width, height, then 7
  keypoints (x, y), all in pixels of the 192 input, offsets relative to the anchor centre.
- output `scores` [1, 2016, 1]: per anchor a **raw logit, no sigmoid in the model**; apply
  `sigmoid(clip(s, -100, 100))`.

**Hand landmark model** (`hand_landmark_full.onnx`, `hand_landmark_lite.onnx`)

- input `image` [1, 3, 224, 224]: NCHW, **RGB, float32 in [0, 1]**; the rotated square hand crop.
- output `landmarks` [1, 63]: 21 x (x, y, z); x, y in pixels of the 224 input; z relative depth at the
  same scale (MediaPipe divides z by 224 and by `normalize_z` 0.4).
- output `presence` [1, 1]: hand-presence probability, **sigmoid already applied inside the model**
  (the TFLite graph ends in a LOGISTIC op).
- output `handedness` [1, 1]: handedness probability, **sigmoid already applied inside the model**
  (LOGISTIC). MediaPipe labels it with `handedness.txt` (`Left`, `Right`) as a binary classification:
  score(Left) = value, score(Right) = 1 - value. MediaPipe documents that handedness assumes a
  **mirrored (selfie) image**; on an unmirrored camera image swap the labels (value > 0.5 then means a
  right hand). Not verified here: the photo sets do not record which hand signs.
- output `world_landmarks` [1, 63]: 21 x (x, y, z) in metres, "with the origin in the center of the given
  ROI" (hand_landmark_cpu.pbtxt), in the crop's rotated frame (MediaPipe's WorldLandmarkProjection rotates
  them back by the crop's rotation).

Landmark order: 0 wrist; thumb 1-4 (CMC, MCP, IP, tip); index 5-8; middle 9-12; ring 13-16; pinky 17-20
(each MCP, PIP, DIP, tip). Palm keypoints: 7; the graph names 0 (centre of the wrist) and 2 (MCP of the
middle finger), the two the crop's rotation uses.

Input convention, checked with ONNX Runtime on the parity inputs and on {n_empty} photos without a hand
(`asl-alphabet-mini/nothing`, every 5th; "hand found" = top score >= 0.5). Fed as RGB [0,1] the detector
finds most hands and few empty walls; fed as [-1,1] (the range of older MediaPipe palm models) it "finds" a
hand in every empty photo; fed as BGR it misses most hands. So: RGB, [0, 1], as the graphs say.

| measure, input fed as | value |
|---|---|
{conv_rows}

## MediaPipe post-processing (v0.10.14 graphs)

From `mediapipe/modules/palm_detection/palm_detection_cpu.pbtxt`: ImageToTensor 192x192, keep_aspect_ratio,
range 0..1, BORDER_ZERO. SsdAnchors: num_layers 4, min_scale 0.1484375, max_scale 0.75, input 192x192,
anchor_offset 0.5, strides [8, 16, 16, 16], aspect_ratios [1.0], fixed_anchor_size true (so every anchor
is w = h = 1; 24x24x2 + 12x12x6 = 2016, centre ((x + 0.5) / grid, (y + 0.5) / grid)). TensorsToDetections:
num_boxes 2016, num_coords 18, box_coord_offset 0, keypoint_coord_offset 4, 7 keypoints x 2 values,
sigmoid_score true, score_clipping_thresh 100, reverse_output_order true (x before y), x/y/w/h_scale 192,
min_score_thresh 0.5 (the Python `Hands` overrides it with min_detection_confidence). Decoding:
cx = r[0] / 192 + anchor_x, cy = r[1] / 192 + anchor_y, w = r[2] / 192, h = r[3] / 192,
keypoint k = (r[4 + 2k] / 192 + anchor_x, r[5 + 2k] / 192 + anchor_y). NonMaxSuppression:
min_suppression_threshold 0.3, INTERSECTION_OVER_UNION, algorithm WEIGHTED. Then letterbox removal.

From `mediapipe/modules/hand_landmark/palm_detection_detection_to_roi.pbtxt`: DetectionsToRects with rotation
from keypoint 0 (wrist) to keypoint 2 (middle MCP), target 90 degrees
(rotation = 90deg - atan2(-(y2 - y0), x2 - x0), in image pixels); RectTransformation scale_x = scale_y = 2.6,
shift_y -0.5, square_long true.

From `mediapipe/modules/hand_landmark/hand_landmark_cpu.pbtxt`: ImageToTensor 224x224 of the rotated rect,
keep_aspect_ratio, range 0..1, border mode unset (= BORDER_REPLICATE); presence via TensorsToFloats with no
activation (so the model's output is the probability) then Thresholding 0.5 (`Hands`: min_tracking_confidence);
handedness via TensorsToClassification top_k 1, binary_classification, `handedness.txt`;
TensorsToLandmarks 21 landmarks, input 224x224, normalize_z 0.4.

From `mediapipe/modules/hand_landmark/hand_landmark_landmarks_to_roi.pbtxt` (tracking: the next frame's
crop from this frame's landmarks): HandLandmarksToRect
(`mediapipe/modules/hand_landmark/calculators/hand_landmarks_to_rect_calculator.cc`) keeps landmarks
[0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18]; rotation from landmark 0 (wrist) to
p = ((lm5 + lm13) / 2 + lm9) / 2, target 90 degrees, in image pixels; the box is the extent of those 12
points in the rotated frame; then RectTransformation scale 2.0, shift_y -0.1, square_long.
From `hand_landmark_tracking_cpu.pbtxt`: AssociationNormRect min_similarity_threshold 0.5.

## Parity (TFLite with XNNPACK vs ONNX Runtime CPU)

{n_photos} real photographs: the first {per_letter} (by file name) of each letter A-Z in `asl-alphabet-mini`
and in `asl-letters-multi` (never `massey-dev`). Palm inputs: each photo with a black border of
{PAD_FRACTION:.0%} of its size on every side, letterboxed to 192x192. Landmark inputs: 224x224 crops cut
from each photo around the top palm detection exactly as MediaPipe cuts them (only photos where a hand
was found). Values are max / median of the absolute difference.

{palm_head}
{palm_rows}

{lm_head}
{lm_rows}

Tolerances the tool enforces: score logit <= {TOL_PALM_LOGIT}, sigmoid score <= {TOL_PALM_SCORE},
top-anchor regressors <= {TOL_PALM_REGRESSOR} px, same top anchor on every image with a hand; landmark error median
<= {TOL_LANDMARK_MEDIAN_PX} px and max <= {TOL_LANDMARK_MAX_PX} px (224 input), presence and handedness
<= {TOL_PROBABILITY}, world landmarks <= {TOL_WORLD} m.

`tests/fixtures/hand_reference.npz` keeps {2 * FIXTURE_PER_SET} palm inputs and {2 * FIXTURE_PER_SET} landmark
crops from these (uint8 RGB, HWC) with the TFLite outputs for all four models;
`tests/hands/test_hand_model_parity.py` checks the shipped ONNX files against them.
"""
