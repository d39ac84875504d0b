"""Convert Google's MediaPipe hand models (TFLite, Apache-2.0) to ONNX, check parity, write them into the package.

The palm detector and the hand-landmark model (full and lite of each) come from the `mediapipe==0.10.14`
wheel on PyPI, the last release that bundles them. This script

1. downloads that wheel with pip (no install) and checks its sha256, extracts the four .tflite files and
   the Apache-2.0 licence text;
2. converts each with tf2onnx (opset 17, input made NCHW, batch fixed at 1), renames inputs and outputs
   to stable names and renames the constants deterministically, so a rerun gives byte-identical files;
3. runs TFLite (tf.lite.Interpreter, XNNPACK, as MediaPipe does) and ONNX Runtime (CPU) on real photos:
   letterboxed 192x192 frames for the palm detector, 224x224 rotated hand crops (cut the way MediaPipe
   cuts them, from the palm detection) for the landmark model, and fails if they differ beyond the
   tolerances below;
4. writes asl_edge/assets/hands/*.onnx, LICENSE and ORIGIN.md (origin, versions, names, shapes, ranges,
   measured parity, sha256) and the test fixture tests/fixtures/hand_reference.npz, each atomically.

TensorFlow, tf2onnx and mediapipe are not dependencies of asl-edge: run this in a throw-away virtualenv
outside the repository (tested on Python 3.11, x86-64 Linux):

    python3 -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.17.0 \
        onnxruntime==1.26.0 numpy==1.26.4 opencv-python-headless==4.11.0.86
    /tmp/convert-venv/bin/python tools/convert_mediapipe_hands.py

(pyproject.toml's `convert` extra records the same TensorFlow and tf2onnx pins.) Options: --data (the photographs,
default ../shared/data), --wheel (a local copy of the wheel instead of downloading), --check-only
(convert and compare, write nothing). Bad input or a parity failure ends with one `error:` line.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import cv2
    import numpy as np
except ImportError:  # main() names what to install
    pass

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


# --- 1. The wheel -------------------------------------------------------------------------------------

def fetch_wheel(work: Path, local: Path | None) -> Path:
    if local is not None:
        if not local.is_file():
            raise ConversionError(f"--wheel {local} does not exist")
        return local
    cmd = [sys.executable, "-m", "pip", "download", MEDIAPIPE, "--no-deps", "--only-binary=:all:",
           "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "-d", str(work)]
    print("$", " ".join(cmd[2:]), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheel = work / WHEEL_NAME
    if done.returncode != 0 or not wheel.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConversionError(f"pip download {MEDIAPIPE} failed ({tail[0]}); or pass --wheel PATH to a copy")
    return wheel


def read_wheel(wheel: Path) -> tuple[dict[str, bytes], str]:
    """The four .tflite files and the Apache-2.0 licence text from the wheel."""
    digest = sha256(wheel.read_bytes())
    if digest != WHEEL_SHA256:
        raise ConversionError(f"{wheel.name} has sha256 {digest}, expected {WHEEL_SHA256}: not the wheel "
                              "these files were made from")
    with zipfile.ZipFile(wheel) as archive:
        tflite = {m.name: archive.read(m.wheel_path) for m in MODELS}
        licence = archive.read(WHEEL_LICENSE).decode("utf-8")
    # The wheel's LICENSE is Apache-2.0 followed by notices for third-party files that are not these models
    # (a "=====" banner introduces each); only the Apache-2.0 text applies here.
    apache = licence.split("\n=====", 1)[0].rstrip() + "\n"
    if not apache.lstrip().startswith("Apache License") or "Version 2.0, January 2004" not in apache \
            or "END OF TERMS AND CONDITIONS" not in apache:
        raise ConversionError(f"{WHEEL_LICENSE} in the wheel is not the Apache-2.0 text")
    return tflite, apache


# --- 2. Conversion ------------------------------------------------------------------------------------

def convert(model: HandModel, tflite_path: Path, tflite_sha: str) -> bytes:
    """tf2onnx conversion, NCHW input, stable tensor names, deterministic constant names and order."""
    import onnx
    import tf2onnx

    proto, _ = tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET, inputs_as_nchw=[TFLITE_INPUT])
    graph = proto.graph
    rename = {TFLITE_INPUT: ONNX_INPUT}
    rename.update({tfl: onnx_name for tfl, (onnx_name, _) in model.outputs.items()})
    # tf2onnx numbers nodes and folded constants from a global counter whose value varies from run to run:
    # name nodes by position (`Conv_012`), their outputs after them, and constants by first use (`const_0042`),
    # stored in that order, so the file's bytes (and sha256) are reproducible.
    constants = {t.name for t in graph.initializer}
    for index, node in enumerate(graph.node):
        for name in node.input:
            if name in constants and name not in rename:
                rename[name] = f"const_{sum(v.startswith('const_') for v in rename.values()):04d}"
        node.name = f"{node.op_type}_{index:03d}"
        for k, name in enumerate(node.output):
            rename.setdefault(name, node.name if len(node.output) == 1 else f"{node.name}:{k}")
    for node in graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    for value in [*graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        value.name = rename.get(value.name, value.name)
    ordered = sorted(graph.initializer, key=lambda t: t.name)
    del graph.initializer[:]
    graph.initializer.extend(ordered)
    graph.name = model.name

    def shape(value: Any) -> tuple[int, ...]:
        return tuple(d.dim_value for d in value.type.tensor_type.shape.dim)

    got_in = [(v.name, shape(v)) for v in graph.input]
    want_in = [(ONNX_INPUT, (1, 3, model.size, model.size))]
    got_out = [(v.name, shape(v)) for v in graph.output]
    want_out = list(model.outputs.values())
    if got_in != want_in or got_out != want_out:
        raise ConversionError(f"{model.name}: converted graph has inputs {got_in} and outputs {got_out}, "
                              f"expected {want_in} and {want_out}")
    proto.doc_string = (f"MediaPipe {model.name} ({MEDIAPIPE} wheel, {model.wheel_path}), converted by "
                        f"tools/convert_mediapipe_hands.py. Apache-2.0, see LICENSE and ORIGIN.md beside it.")
    del proto.metadata_props[:]
    for key, value in (("source", f"{MEDIAPIPE}:{model.wheel_path}"), ("source_sha256", tflite_sha),
                       ("license", "Apache-2.0"), ("input_layout", "NCHW RGB float32 in [0, 1]")):
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


# --- 3. Real inputs -----------------------------------------------------------------------------------

def photo_paths(data: Path, per_letter: int) -> list[Path]:
    paths: list[Path] = []
    for name in PHOTO_SETS:
        folder = data / name
        if not folder.is_dir():
            raise ConversionError(f"photographs not found at {folder}; pass --data to the folder holding {name}")
        for letter in LETTERS:
            paths += sorted((folder / letter).glob("*.jpg"))[:per_letter]
    return paths


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConversionError(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@dataclass
class Letterbox:
    image: np.ndarray          # uint8 RGB, size x size
    scale: float               # model pixels per source pixel
    offset: tuple[float, float]  # (x, y) of the source's top-left corner in model pixels


def letterbox(image: np.ndarray, size: int) -> Letterbox:
    """Fit the whole image into size x size keeping its aspect ratio, zero border (MediaPipe's
    ImageToTensorCalculator, keep_aspect_ratio: true, border_mode: BORDER_ZERO)."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = round(w * scale), round(h * scale)
    out = np.zeros((size, size, 3), np.uint8)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return Letterbox(out, scale, (float(x0), float(y0)))


def palm_anchors() -> np.ndarray:
    """(2016, 2) anchor centres, normalised: SsdAnchorsCalculator with palm_detection_cpu.pbtxt's options
    (num_layers 4, strides 8,16,16,16, aspect_ratios 1.0, fixed_anchor_size: true, offsets 0.5): a 24x24
    grid with 2 anchors per cell, then a 12x12 grid with 6 (the three stride-16 layers merged)."""
    centres = []
    for grid, per_cell in ((24, 2), (12, 6)):
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -100.0, 100.0)))


def hand_crop(photo: np.ndarray, pad: tuple[int, int], box: Letterbox, regressors: np.ndarray,
              scores: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The landmark model's 224x224 input cut from `photo` around the top palm detection, as MediaPipe's
    palm_detection_detection_to_roi.pbtxt does: rotation from keypoint 0 (wrist) to 2 (middle-finger MCP),
    target 90 degrees; RectTransformation scale 2.6, shift_y -0.5, square_long; BORDER_REPLICATE."""
    best = int(np.argmax(scores))
    reg = regressors[best] / PALM_SIZE
    ax, ay = anchors[best]

    def to_photo(x: float, y: float) -> tuple[float, float]:
        """Normalised position in the letterboxed 192 frame -> photo pixels."""
        return ((x * PALM_SIZE - box.offset[0]) / box.scale - pad[0],
                (y * PALM_SIZE - box.offset[1]) / box.scale - pad[1])

    cx, cy = to_photo(reg[0] + ax, reg[1] + ay)
    width, height = reg[2] * PALM_SIZE / box.scale, reg[3] * PALM_SIZE / box.scale
    wx, wy = to_photo(reg[4] + ax, reg[5] + ay)
    mx, my = to_photo(reg[8] + ax, reg[9] + ay)
    rotation = np.pi / 2 - np.arctan2(-(my - wy), mx - wx)
    rotation = rotation - 2 * np.pi * np.floor((rotation + np.pi) / (2 * np.pi))
    cos, sin = np.cos(rotation), np.sin(rotation)
    # shift_y -0.5 of the box height along the rotated y axis, then a square of 2.6 x the longer side.
    cx, cy = cx + 0.5 * height * sin, cy - 0.5 * height * cos
    side = 2.6 * max(width, height)
    # Affine map from crop pixels to photo pixels: crop x runs along (cos, sin), crop y along (-sin, cos).
    k = side / LANDMARK_SIZE
    to_src = np.array([[k * cos, -k * sin, 0.0], [k * sin, k * cos, 0.0]])
    to_src[:, 2] = [cx, cy] - to_src[:, :2] @ [LANDMARK_SIZE / 2, LANDMARK_SIZE / 2]
    return cv2.warpAffine(photo, to_src, (LANDMARK_SIZE, LANDMARK_SIZE),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


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


# --- 5. Outputs --------------------------------------------------------------------------------------

def pick_fixture(samples: list[Sample], ok: Any) -> list[Sample]:
    """FIXTURE_PER_SET samples of each photo set, spread over its letters, among those `ok` accepts."""
    chosen: list[Sample] = []
    for photo_set in PHOTO_SETS:
        good = [s for s in samples if s.photo_set == photo_set and ok(s)]
        if len(good) < FIXTURE_PER_SET:
            raise ConversionError(f"only {len(good)} usable fixture images from {photo_set}")
        step = len(good) / FIXTURE_PER_SET
        chosen += [good[int(i * step)] for i in range(FIXTURE_PER_SET)]
    return chosen


def palm_margin_ok(sample: Sample) -> bool:
    """A hand is found and the best anchor wins clearly in both palm models (a tie would make the test's
    'same top anchor' check flaky)."""
    for name in ("palm_detection_full", "palm_detection_lite"):
        p = np.sort(sigmoid(sample.tflite[name]["scores"][:, 0]))
        if p[-1] < 0.5 or p[-1] - p[-2] < 0.02:
            return False
    return True


def landmark_present(sample: Sample) -> bool:
    return all(float(sample.tflite[n]["presence"][0]) >= 0.5 for n in ("hand_landmark_full", "hand_landmark_lite"))


def fixture_bytes(palm: list[Sample], crops: list[Sample]) -> bytes:
    arrays: dict[str, np.ndarray] = {
        "palm_images": np.stack([s.image for s in palm]),
        "palm_sources": np.array([s.source for s in palm]),
        "landmark_images": np.stack([s.image for s in crops]),
        "landmark_sources": np.array([s.source for s in crops]),
    }
    for model in MODELS:
        if model.kind == "palm":
            logits = np.stack([s.tflite[model.name]["scores"][:, 0] for s in palm]).astype(np.float32)
            top = np.argsort(-logits, axis=1, kind="stable")[:, :FIXTURE_TOP_ANCHORS].astype(np.int32)
            regs = np.stack([s.tflite[model.name]["regressors"] for s in palm])
            arrays[f"{model.name}/scores"] = logits
            arrays[f"{model.name}/top_anchors"] = top
            arrays[f"{model.name}/top_regressors"] = np.take_along_axis(regs, top[..., None], axis=1)
        else:
            for key in ("landmarks", "presence", "handedness", "world_landmarks"):
                arrays[f"{model.name}/{key}"] = np.stack([s.tflite[model.name][key].ravel() for s in crops])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


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


# --- main ----------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding asl-alphabet-mini and "
                        "asl-letters-multi (default: %(default)s)")
    parser.add_argument("--wheel", type=Path, help=f"a local {WHEEL_NAME} instead of pip download")
    parser.add_argument("--out", type=Path, default=ASSETS, help="where the ONNX files go (default: %(default)s)")
    parser.add_argument("--fixture", type=Path, default=FIXTURE, help="the test fixture (default: %(default)s)")
    parser.add_argument("--per-letter", type=int, default=2, help="photos per letter and set for parity")
    parser.add_argument("--check-only", action="store_true", help="convert and compare, write nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    modules = ("tensorflow", "tf2onnx", "onnx", "onnxruntime", "numpy", "cv2")
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        print(f"error: {', '.join(missing)} not installed; in a throw-away virtualenv run: {INSTALL}",
              file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        run(args)
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> None:
    start = time.monotonic()
    paths = photo_paths(args.data, args.per_letter)  # fail on a wrong --data before the slow steps
    with tempfile.TemporaryDirectory(prefix="mediapipe-hands-") as tmp:
        work = Path(tmp)
        wheel = fetch_wheel(work, args.wheel)
        wheel_sha = sha256(wheel.read_bytes())
        tflite, licence = read_wheel(wheel)
        onnx_files: dict[str, bytes] = {}
        pairs: dict[str, Pair] = {}
        for model in MODELS:
            path = work / f"{model.name}.tflite"
            path.write_bytes(tflite[model.name])
            onnx_files[model.name] = convert(model, path, sha256(tflite[model.name]))
            pairs[model.name] = Pair(model, path, onnx_files[model.name])
            print(f"converted {model.name}: {len(onnx_files[model.name]):,} bytes", flush=True)

        anchors = palm_anchors()
        palm: list[Sample] = []
        crops: list[Sample] = []
        framed: list[tuple[np.ndarray, tuple[int, int], Letterbox]] = []
        for path in paths:
            photo = read_rgb(path)
            h, w = photo.shape[:2]
            pad = (round(w * PAD_FRACTION), round(h * PAD_FRACTION))
            padded = cv2.copyMakeBorder(photo, pad[1], pad[1], pad[0], pad[0], cv2.BORDER_CONSTANT, value=(0, 0, 0))
            framed.append((photo, pad, letterbox(padded, PALM_SIZE)))
            palm.append(Sample(str(path.relative_to(args.data)), path.parent.parent.name, framed[-1][2].image))
        run_all(pairs, palm, "palm")
        for sample, (photo, pad, box) in zip(palm, framed, strict=True):
            out = sample.tflite["palm_detection_full"]
            if sigmoid(out["scores"]).max() >= 0.5:
                crop = hand_crop(photo, pad, box, out["regressors"], out["scores"][:, 0], anchors)
                crops.append(Sample(sample.source, sample.photo_set, crop))
        if not crops:
            raise ConversionError("the palm detector found no hand in any photograph")
        run_all(pairs, crops, "landmark")

        results = {m.name: (palm_parity(m.name, palm) if m.kind == "palm" else landmark_parity(m.name, crops))
                   for m in MODELS}
        empty = [read_rgb(p) for p in sorted((args.data / PHOTO_SETS[0] / "nothing").glob("*.jpg"))[::5]]
        convention = input_convention_check(pairs, palm, crops, empty)
        for name, r in results.items():
            print(name, {k: v for k, v in r.items()})
        for k, val in convention.items():
            print(f"input convention: {k}: {val:.3f}")
        check_tolerances(results)
        fixture = fixture_bytes(pick_fixture(palm, palm_margin_ok), pick_fixture(crops, landmark_present))
        origin = origin_markdown(wheel_sha, tflite, onnx_files, results, convention, len(paths), len(empty),
                                 args.per_letter)
        if args.check_only:
            print(f"parity within tolerance; nothing written (--check-only), {time.monotonic() - start:.0f} s")
            return
        for model in MODELS:
            write_atomic(args.out / model.onnx_name, onnx_files[model.name])
        write_atomic(args.out / "LICENSE", licence.encode())
        write_atomic(args.out / "ORIGIN.md", origin.encode())
        write_atomic(args.fixture, fixture)
    print(f"wrote {len(MODELS)} ONNX files, LICENSE and ORIGIN.md to {args.out}, fixture {args.fixture} "
          f"({len(fixture):,} bytes) in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
