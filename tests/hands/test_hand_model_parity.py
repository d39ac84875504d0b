"""The shipped MediaPipe hand models against TFLite.

asl_edge/assets/hands/*.onnx were converted from MediaPipe's TFLite models by
tools/convert_mediapipe_hands.py, which also saved tests/fixtures/hand_reference.npz: real photographs
as the models see them (6 letterboxed 192x192 frames for the palm detector, 6 rotated 224x224 hand crops
for the landmark model, uint8 RGB) and what TFLite computed on them. Here the ONNX files run under ONNX
Runtime on the CPU on the same inputs; no TensorFlow needed.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

REPO = Path(__file__).resolve().parents[2]
HANDS = REPO / "asl_edge" / "assets" / "hands"
FIXTURE = REPO / "tests" / "fixtures" / "hand_reference.npz"
PALM_MODELS = ("palm_detection_full", "palm_detection_lite")
LANDMARK_MODELS = ("hand_landmark_full", "hand_landmark_lite")

# Tolerances, ONNX Runtime vs TFLite (the converter measured about 1e-5 to 1e-3 of these).
TOL_PALM_SCORE = 1e-3        # sigmoid(score) of every anchor
TOL_PALM_REGRESSOR_PX = 0.05  # regressors of the 8 best anchors, pixels of the 192 input
TOL_LANDMARK_PX = 2.0        # landmark x,y error, median and max, pixels of the 224 input and of a 256 crop
TOL_PROBABILITY = 1e-3       # presence and handedness
TOL_WORLD_M = 1e-3           # world landmarks, metres

Array = npt.NDArray[Any]


@pytest.fixture(scope="module")
def reference() -> dict[str, Array]:
    with np.load(FIXTURE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@cache
def session(name: str) -> Any:
    return ort.InferenceSession(str(HANDS / f"{name}.onnx"), providers=["CPUExecutionProvider"])


def run(name: str, image: Array, outputs: list[str]) -> list[Array]:
    """One uint8 RGB HWC image through the model: NCHW float32 in [0, 1], batch 1."""
    x = (image.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    result: list[Array] = session(name).run(outputs, {"image": np.ascontiguousarray(x)})
    return result


def sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-np.clip(x.astype(np.float64), -100.0, 100.0)))


@pytest.mark.parametrize(("name", "shape", "outputs"), [
    ("palm_detection_full", [1, 3, 192, 192], {"regressors": [1, 2016, 18], "scores": [1, 2016, 1]}),
    ("palm_detection_lite", [1, 3, 192, 192], {"regressors": [1, 2016, 18], "scores": [1, 2016, 1]}),
    ("hand_landmark_full", [1, 3, 224, 224], {"landmarks": [1, 63], "presence": [1, 1], "handedness": [1, 1],
                                              "world_landmarks": [1, 63]}),
    ("hand_landmark_lite", [1, 3, 224, 224], {"landmarks": [1, 63], "presence": [1, 1], "handedness": [1, 1],
                                              "world_landmarks": [1, 63]}),
])
def test_names_shapes_and_types_are_as_documented(name: str, shape: list[int], outputs: dict[str, list[int]]) -> None:
    sess = session(name)
    assert [(i.name, i.shape, i.type) for i in sess.get_inputs()] == [("image", shape, "tensor(float)")]
    assert {o.name: o.shape for o in sess.get_outputs()} == outputs
    assert all(o.type == "tensor(float)" for o in sess.get_outputs())


@pytest.mark.parametrize("name", PALM_MODELS)
def test_palm_detector_matches_tflite(name: str, reference: dict[str, Array]) -> None:
    images = reference["palm_images"]
    assert images.shape == (6, 192, 192, 3)
    assert images.dtype == np.uint8
    want_scores = sigmoid(reference[f"{name}/scores"])
    top = reference[f"{name}/top_anchors"]
    want_regressors = reference[f"{name}/top_regressors"]
    for i, image in enumerate(images):
        regressors, scores = run(name, image, ["regressors", "scores"])
        got_scores = sigmoid(scores[0, :, 0])
        where = reference["palm_sources"][i]
        score_diff = float(np.abs(got_scores - want_scores[i]).max())
        assert score_diff <= TOL_PALM_SCORE, f"{where}: sigmoid scores differ by {score_diff:.3g}"
        assert int(got_scores.argmax()) == int(top[i, 0]), f"{where}: a different top anchor"
        assert want_scores[i, top[i, 0]] >= 0.5, f"{where}: the fixture should hold a detected hand"
        reg_diff = float(np.abs(regressors[0, top[i]] - want_regressors[i]).max())
        assert reg_diff <= TOL_PALM_REGRESSOR_PX, f"{where}: top-anchor regressors differ by {reg_diff:.3g} px"


@pytest.mark.parametrize("name", LANDMARK_MODELS)
def test_landmark_model_matches_tflite(name: str, reference: dict[str, Array]) -> None:
    images = reference["landmark_images"]
    assert images.shape == (6, 224, 224, 3)
    assert images.dtype == np.uint8
    keys = ["landmarks", "presence", "handedness", "world_landmarks"]
    got = {key: np.stack([out[0] for out in outs]) for key, *outs in
           zip(keys, *(run(name, image, keys) for image in images), strict=True)}
    want = {key: reference[f"{name}/{key}"] for key in keys}

    error_224 = np.hypot(*(got["landmarks"] - want["landmarks"]).reshape(-1, 21, 3)[..., :2].transpose(2, 0, 1))
    error_256 = error_224 * 256 / 224  # the same error on a 256x256 crop
    for label, error in (("224 input", error_224), ("256 crop", error_256)):
        median, worst = float(np.median(error)), float(error.max())
        assert median <= TOL_LANDMARK_PX, f"{name}: median landmark error {median:.3g} px ({label})"
        assert worst <= TOL_LANDMARK_PX, f"{name}: largest landmark error {worst:.3g} px ({label})"
    for key, limit in (("presence", TOL_PROBABILITY), ("handedness", TOL_PROBABILITY),
                       ("world_landmarks", TOL_WORLD_M)):
        diff = float(np.abs(got[key] - want[key]).max())
        assert diff <= limit, f"{name}: {key} differs by {diff:.3g}"
    # Presence and handedness are probabilities (the sigmoid is inside the model), and the crops hold hands.
    assert np.all((got["presence"] >= 0) & (got["presence"] <= 1) & (got["handedness"] >= 0) & (got["handedness"] <= 1))
    assert np.all(got["presence"] >= 0.5)


def test_onnx_files_match_the_sha256_in_origin() -> None:
    origin = (HANDS / "ORIGIN.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `([\w.]+\.onnx)` \|.*\| `([0-9a-f]{64})` \|$", origin, flags=re.MULTILINE))
    shipped = sorted(p.name for p in HANDS.glob("*.onnx"))
    assert sorted(listed) == shipped == sorted(f"{n}.onnx" for n in PALM_MODELS + LANDMARK_MODELS)
    for file_name, digest in listed.items():
        assert hashlib.sha256((HANDS / file_name).read_bytes()).hexdigest() == digest, file_name


def test_licence_is_apache_2() -> None:
    text = (HANDS / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("Apache License")
    for phrase in ("Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
                   "END OF TERMS AND CONDITIONS", "http://www.apache.org/licenses/LICENSE-2.0"):
        assert phrase in text
    assert "Apache-2.0" in (HANDS / "ORIGIN.md").read_text(encoding="utf-8")


def test_fixture_is_small() -> None:
    assert FIXTURE.stat().st_size < 1_500_000
