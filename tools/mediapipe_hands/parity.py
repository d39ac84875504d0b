"""Step 4: TFLite and ONNX Runtime on the same inputs, compared against the tolerances in common.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediapipe_hands.common import (
    LANDMARK_SIZE,
    ONNX_INPUT,
    PALM_SIZE,
    TOL_LANDMARK_MAX_PX,
    TOL_LANDMARK_MEDIAN_PX,
    TOL_PALM_LOGIT,
    TOL_PALM_REGRESSOR,
    TOL_PALM_SCORE,
    TOL_PROBABILITY,
    TOL_WORLD,
    ConversionError,
    HandModel,
)
from mediapipe_hands.inputs import letterbox, sigmoid

try:
    import cv2
    import numpy as np
except ImportError:  # main() names what to install
    pass


# --- 4. Running both --------------------------------------------------------------------------------

class Pair:
    """One model under TFLite and under ONNX Runtime; both return outputs by their ONNX names."""

    def __init__(self, model: HandModel, tflite_path: Path, onnx_bytes: bytes) -> None:
        import onnxruntime as ort
        import tensorflow as tf

        self.model = model
        self.tfl = tf.lite.Interpreter(model_path=str(tflite_path))
        self.tfl.allocate_tensors()
        self.tfl_input = self.tfl.get_input_details()[0]["index"]
        self.tfl_outputs = {model.outputs[d["name"]][0]: d["index"] for d in self.tfl.get_output_details()}
        self.ort = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])

    def tflite(self, image: np.ndarray) -> dict[str, np.ndarray]:
        self.tfl.set_tensor(self.tfl_input, (image.astype(np.float32) / 255.0)[None])
        self.tfl.invoke()
        return {name: self.tfl.get_tensor(index)[0].copy() for name, index in self.tfl_outputs.items()}

    def onnx(self, image: np.ndarray) -> dict[str, np.ndarray]:
        nchw = (image.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        names = [name for name, _ in self.model.outputs.values()]
        return {n: v[0] for n, v in zip(names, self.ort.run(names, {ONNX_INPUT: nchw}), strict=True)}


@dataclass
class Sample:
    source: str                # path relative to the data folder
    photo_set: str
    image: np.ndarray          # the model's uint8 RGB input (HWC)
    tflite: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)   # model name -> outputs
    onnx: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def run_all(pairs: dict[str, Pair], samples: list[Sample], kind: str) -> None:
    for pair in pairs.values():
        if pair.model.kind != kind:
            continue
        for sample in samples:
            sample.tflite[pair.model.name] = pair.tflite(sample.image)
            sample.onnx[pair.model.name] = pair.onnx(sample.image)


def stats(values: np.ndarray) -> dict[str, float]:
    flat = np.abs(np.asarray(values, np.float64)).ravel()
    return {"max": float(flat.max()), "median": float(np.median(flat))}


def palm_parity(name: str, samples: list[Sample]) -> dict[str, Any]:
    ref_logit = np.stack([s.tflite[name]["scores"][:, 0] for s in samples])
    got_logit = np.stack([s.onnx[name]["scores"][:, 0] for s in samples])
    top = ref_logit.argmax(axis=1)
    rows = np.arange(len(samples))
    detected = sigmoid(ref_logit[rows, top]) >= 0.5
    ref_reg = np.stack([s.tflite[name]["regressors"] for s in samples])
    got_reg = np.stack([s.onnx[name]["regressors"] for s in samples])
    return {
        "images": len(samples),
        "regressors_raw": stats(got_reg - ref_reg),
        "top_regressors_px": stats(got_reg[rows, top] - ref_reg[rows, top]),
        "scores_raw": stats(got_logit - ref_logit),
        "scores_sigmoid": stats(sigmoid(got_logit) - sigmoid(ref_logit)),
        "top_score_sigmoid": stats(sigmoid(got_logit[rows, top]) - sigmoid(ref_logit[rows, top])),
        # Where a hand is found (top score >= 0.5) the best anchor must be the same.
        "top_anchor_same": int((got_logit.argmax(axis=1) == top)[detected].sum()),
        "detected": int(detected.sum()),
    }


def landmark_parity(name: str, samples: list[Sample]) -> dict[str, Any]:
    def grab(side: str, key: str) -> np.ndarray:
        return np.stack([getattr(s, side)[name][key] for s in samples])

    ref, got = grab("tflite", "landmarks").reshape(-1, 21, 3), grab("onnx", "landmarks").reshape(-1, 21, 3)
    px = np.hypot(*(got[..., :2] - ref[..., :2]).transpose(2, 0, 1))
    return {
        "images": len(samples),
        "landmarks_raw": stats(got - ref),
        "landmark_px_224": stats(px),
        "landmark_px_256": stats(px * 256 / LANDMARK_SIZE),
        "presence": stats(grab("onnx", "presence") - grab("tflite", "presence")),
        "handedness": stats(grab("onnx", "handedness") - grab("tflite", "handedness")),
        "world_landmarks_raw": stats(grab("onnx", "world_landmarks") - grab("tflite", "world_landmarks")),
        "present": int((grab("tflite", "presence") >= 0.5).sum()),
    }


def check_tolerances(results: dict[str, dict[str, Any]]) -> None:
    for name, r in results.items():
        if "scores_raw" in r:
            checks = [("score logit", r["scores_raw"]["max"], TOL_PALM_LOGIT),
                      ("sigmoid score", r["scores_sigmoid"]["max"], TOL_PALM_SCORE),
                      ("top-anchor regressor (px)", r["top_regressors_px"]["max"], TOL_PALM_REGRESSOR)]
            if r["top_anchor_same"] != r["detected"]:
                raise ConversionError(f"{name}: the top anchor differs on {r['detected'] - r['top_anchor_same']} "
                                      "images with a hand")
        else:
            checks = [("landmark median px", r["landmark_px_224"]["median"], TOL_LANDMARK_MEDIAN_PX),
                      ("landmark max px", r["landmark_px_224"]["max"], TOL_LANDMARK_MAX_PX),
                      ("presence", r["presence"]["max"], TOL_PROBABILITY),
                      ("handedness", r["handedness"]["max"], TOL_PROBABILITY),
                      ("world landmarks", r["world_landmarks_raw"]["max"], TOL_WORLD)]
        for what, value, limit in checks:
            if not value <= limit:
                raise ConversionError(f"{name}: ONNX vs TFLite {what} differs by {value:.3g} > tolerance {limit:g}")


def input_convention_check(pairs: dict[str, Pair], palm: list[Sample], crops: list[Sample],
                           empty: list[np.ndarray]) -> dict[str, float]:
    """Feed the real inputs as RGB [0,1] (MediaPipe's ImageToTensorCalculator settings), BGR [0,1] and
    RGB [-1,1]: the share of hand photos where the palm detector finds a hand (top score >= 0.5), the share
    of photos without a hand (`empty`) where it wrongly does, and the landmark model's mean presence on the
    hand crops and on the empty photos. The right convention finds hands and nothing else."""
    variants = {"RGB [0,1]": lambda x: x, "BGR [0,1]": lambda x: x[..., ::-1], "RGB [-1,1]": lambda x: x * 2 - 1}

    def run(name: str, key: str, image: np.ndarray, f: Any) -> float:
        x = np.ascontiguousarray(f(image.astype(np.float32) / 255.0).transpose(2, 0, 1)[None])
        y = pairs[name].ort.run([key], {ONNX_INPUT: x})[0]
        return float(sigmoid(y).max() >= 0.5) if key == "scores" else float(y.ravel()[0])

    empty_palm = [letterbox(image, PALM_SIZE).image for image in empty]
    empty_crop = [cv2.resize(image, (LANDMARK_SIZE, LANDMARK_SIZE), interpolation=cv2.INTER_AREA) for image in empty]
    out: dict[str, float] = {}
    for label, f in variants.items():
        palm_model, landmark_model = "palm_detection_full", "hand_landmark_full"
        rows = ((f"{palm_model}: hand found, hand photos", palm_model, "scores", [s.image for s in palm]),
                (f"{palm_model}: hand found, photos without a hand", palm_model, "scores", empty_palm),
                (f"{landmark_model}: mean presence, hand crops", landmark_model, "presence", [s.image for s in crops]),
                (f"{landmark_model}: mean presence, photos without a hand", landmark_model, "presence", empty_crop))
        for what, name, key, images in rows:
            out[f"{what}, as {label}"] = float(np.mean([run(name, key, image, f) for image in images]))
    return out
