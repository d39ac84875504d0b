"""The two hand models behind one small interface, loaded from the ONNX files shipped in the package.

ONNX Runtime runs them here (TensorRT, CUDA or CPU execution provider, whichever exists, as for the
classifier). Input and output names and ranges: `asl_edge/assets/hands/ORIGIN.md`.

TensorRT: through ONNX Runtime's TensorRT execution provider, in FP16 by default (`precision`), its
engines cached in the asl-edge engine cache folder (`engine_cache`). The asl-edge TensorRT backend's
runner (runtime/trt_engine.EngineRunner) is a one-input, one-output classifier runner with a batch
profile; the hand models have two and four outputs, so rather than widen it the hand stage uses the
execution provider. `asl-edge build --hand-models full|lite` still builds and records the hand engines
(same compile step, cache and manifests as the classifier) for checking a device and timing them;
loading those engines here is left for a generic multi-output runner.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from asl_edge.errors import ModelError, require
from asl_edge.runtime.backends.onnxruntime_backend import provider_list

VARIANTS = ("full", "lite")
LANDMARK_INPUT_SIZE = 224
NUM_LANDMARKS = 21


# Package data of asl_edge (asl_edge/assets), wherever the package is installed.
ASSETS = Path(str(resources.files("asl_edge") / "assets"))
HAND_ASSETS = ASSETS / "hands"
# The bundled image classifier (40x40 gray, fixed box): the chain's fallback for frames without a hand.
BUNDLED_IMAGE_MODEL = ASSETS / "asl_default.onnx"
# The bundled landmark classifier (29 classes, 111 landmark features): the default model of run and demo.
BUNDLED_LANDMARK_MODEL = ASSETS / "asl_landmarks.onnx"


def hand_model_paths(variant: str = "full") -> tuple[Path, Path]:
    """(palm detector, landmark model) ONNX paths of a bundled variant ("full" or "lite")."""
    if variant not in VARIANTS:
        raise ModelError(f"unknown hand model variant '{variant}'; choose {' or '.join(VARIANTS)}")
    folder = HAND_ASSETS
    return folder / f"palm_detection_{variant}.onnx", folder / f"hand_landmark_{variant}.onnx"


@dataclass(frozen=True)
class LandmarkOutput:
    """One crop's landmark model outputs: landmarks (21, 3) in crop pixels, presence and handedness in [0, 1]."""

    landmarks: np.ndarray
    presence: float
    handedness: float


class HandModels:
    """The palm detector and the landmark model as ONNX Runtime sessions (batch 1, float32 NCHW RGB [0, 1])."""

    def __init__(self, palm_path: str | os.PathLike[str], landmark_path: str | os.PathLike[str],
                 provider: str = "auto", threads: int | None = None, precision: str = "fp16",
                 engine_cache: str | os.PathLike[str] | None = None) -> None:
        """`precision` and `engine_cache` reach only the TensorRT execution provider (FP16 by default, as
        `asl-edge build --hand-models` builds them); CUDA and CPU run the FP32 graphs as they are."""
        ort = require("onnxruntime", "the hand stage", "pip install onnxruntime (the Jetson Zoo wheel on a Jetson)")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = provider_list(ort.get_available_providers(), provider, precision=precision,
                                  engine_cache=engine_cache)
        self.paths = (Path(palm_path), Path(landmark_path))
        try:
            self._palm = ort.InferenceSession(str(palm_path), options, providers=providers)
            self._landmark = ort.InferenceSession(str(landmark_path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own Fail/NoSuchFile/InvalidProtobuf types
            raise ModelError(f"cannot load the hand models {palm_path}, {landmark_path}: "
                             f"{str(exc).splitlines()[0][:200]}") from exc
        self.device = self._palm.get_providers()[0]

    @classmethod
    def bundled(cls, variant: str = "full", provider: str = "auto", threads: int | None = None,
                precision: str = "fp16") -> HandModels:
        return cls(*hand_model_paths(variant), provider=provider, threads=threads, precision=precision)

    def detect(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(1, 3, 192, 192) -> regressors (2016, 18) and score logits (2016,)."""
        regressors, scores = self._run(self._palm, tensor, ["regressors", "scores"])
        return regressors[0], scores[0, :, 0]

    def landmarks(self, tensor: np.ndarray) -> LandmarkOutput:
        """(1, 3, 224, 224) -> 21 landmarks in crop pixels, presence and handedness probabilities."""
        landmarks, presence, handedness = self._run(self._landmark, tensor, ["landmarks", "presence", "handedness"])
        return LandmarkOutput(landmarks.reshape(NUM_LANDMARKS, 3), float(presence.ravel()[0]),
                              float(handedness.ravel()[0]))

    @staticmethod
    def _run(session: Any, tensor: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        return list(session.run(outputs, {"image": np.ascontiguousarray(tensor, np.float32)}))
