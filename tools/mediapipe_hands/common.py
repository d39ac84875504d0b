"""Constants, the four models, the expected-error type and atomic writes, shared by every step."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "asl_edge" / "assets" / "hands"
FIXTURE = REPO / "tests" / "fixtures" / "hand_reference.npz"
DATA = REPO.parent / "shared" / "data"
# Photographs for parity. Never massey-dev: it is kept for signer-independent evaluation only.
PHOTO_SETS = ("asl-alphabet-mini", "asl-letters-multi")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

MEDIAPIPE = "mediapipe==0.10.14"
WHEEL_NAME = "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
WHEEL_SHA256 = "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4"
WHEEL_LICENSE = "mediapipe-0.10.14.dist-info/LICENSE"
OPSET = 17
INSTALL = ("pip install tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.17.0 onnxruntime==1.26.0 "
           "numpy==1.26.4 opencv-python-headless==4.11.0.86")
TOOL_PACKAGES = ("tensorflow-cpu", "tf2onnx", "onnx", "onnxruntime", "numpy", "opencv-python-headless")

# Parity tolerances (TFLite with XNNPACK vs ONNX Runtime CPU, same float32 input).
TOL_PALM_LOGIT = 0.01          # raw score logit, any anchor
TOL_PALM_SCORE = 1e-3          # sigmoid(score), any anchor
TOL_PALM_REGRESSOR = 0.05      # raw regressor of the top anchor, in pixels of the 192 input
TOL_LANDMARK_MEDIAN_PX = 0.05  # landmark x,y error, 224 input pixels, median over all points
TOL_LANDMARK_MAX_PX = 0.25     # ... and the largest
TOL_PROBABILITY = 1e-3         # presence and handedness (both already sigmoid outputs)
TOL_WORLD = 1e-3               # world landmarks, metres

PALM_SIZE = 192
LANDMARK_SIZE = 224
PAD_FRACTION = 0.25            # black border added on every side of a photo before the palm detector
FIXTURE_PER_SET = 3            # fixture images per photo set and model kind (2 sets -> 6)
FIXTURE_TOP_ANCHORS = 8        # regressors kept in the fixture for the top anchors by TFLite score


@dataclass(frozen=True)
class HandModel:
    name: str
    wheel_path: str
    kind: str                  # "palm" or "landmark"
    size: int                  # square input side
    outputs: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)  # TFLite name -> ONNX name, shape

    @property
    def onnx_name(self) -> str:
        return f"{self.name}.onnx"


PALM_OUTPUTS = {"Identity": ("regressors", (1, 2016, 18)), "Identity_1": ("scores", (1, 2016, 1))}
LANDMARK_OUTPUTS = {"Identity": ("landmarks", (1, 63)), "Identity_1": ("presence", (1, 1)),
                    "Identity_2": ("handedness", (1, 1)), "Identity_3": ("world_landmarks", (1, 63))}
MODELS = (
    HandModel("palm_detection_full", "mediapipe/modules/palm_detection/palm_detection_full.tflite", "palm",
              PALM_SIZE, PALM_OUTPUTS),
    HandModel("palm_detection_lite", "mediapipe/modules/palm_detection/palm_detection_lite.tflite", "palm",
              PALM_SIZE, PALM_OUTPUTS),
    HandModel("hand_landmark_full", "mediapipe/modules/hand_landmark/hand_landmark_full.tflite", "landmark",
              LANDMARK_SIZE, LANDMARK_OUTPUTS),
    HandModel("hand_landmark_lite", "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite", "landmark",
              LANDMARK_SIZE, LANDMARK_OUTPUTS),
)
TFLITE_INPUT = "input_1"
ONNX_INPUT = "image"


class ConversionError(Exception):
    """An expected failure: reported as one `error:` line."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
