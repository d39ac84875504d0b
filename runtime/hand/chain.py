"""Frame -> letter probabilities through the hand: the chain `run`, `demo` and `eval` share.

hand stage (palm detection / tracking, landmarks) -> the classifier:
- a landmarks model (ModelSpec.inputs == "landmarks") reads `landmark_features` of the hand;
- an image model reads the square box around the hand's landmarks (no fixed box to aim at), left hands
  mirrored to right ones;
- late fusion of both: a landmarks model plus a crop model (an image model trained on hand crops) give
  `(1 - crop_weight) * p_landmarks + crop_weight * p_crop`, since each fails where the other holds
  (landmarks lose the thumb's place under the fingers; crops lose orientation and are skin/room specific).
When no hand is found, the fallback image model (if any) reads the fixed box: tightly framed photos and
dim frames where the palm detector misses still get a letter. With no fallback the frame scores zero
for every label, which the speller treats as "nothing".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from asl_edge.errors import AslEdgeError, ModelError
from asl_edge.landmark_features import landmark_features
from asl_edge.preprocess import Roi, preprocess
from asl_edge.runtime.backends.base import Backend
from asl_edge.runtime.hand.models import BACKENDS as HAND_MODEL_BACKENDS
from asl_edge.runtime.hand.models import HandModels
from asl_edge.runtime.hand.photos import tracker_config
from asl_edge.runtime.hand.tracker import Hand, HandTracker, landmark_box
from asl_edge.spec import ModelSpec

HAND_BOX_MARGIN = 0.25  # the image classifier's hand box: landmark extent plus this share on each side
SOURCES = ("landmarks", "hand-box", "fusion", "fallback", "none")


@dataclass
class ChainOutput:
    """probs: (num_labels,) float32 in the classifier's label order; hand: the hand or None; source: which
    model gave the probabilities (one of SOURCES)."""

    probs: np.ndarray
    hand: Hand | None
    source: str


def hand_box(box: tuple[float, float, float, float], width: int, height: int,
             margin: float = HAND_BOX_MARGIN) -> Roi:
    """A square ROI (pixels, clipped to the frame) around a hand's (x0, y0, x1, y1) box, `margin` wider on each side."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    side = max(8.0, min(side, float(min(width, height))))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x = round(min(max(cx - side / 2, 0), width - side))
    y = round(min(max(cy - side / 2, 0), height - side))
    return Roi(x, y, int(side), int(side))


def hand_crop(frame: np.ndarray, landmarks: np.ndarray, handedness: float) -> np.ndarray:
    """The frame's square box around (21, 3) landmarks, left hands (handedness < 0.5) mirrored to right ones:
    what an image model reads in the chain, and what `train/hand_crops.py` trains it on."""
    x, y, w, h = hand_box(landmark_box(landmarks), frame.shape[1], frame.shape[0])
    crop = frame[y:y + h, x:x + w]
    return np.ascontiguousarray(crop if handedness >= 0.5 else crop[:, ::-1])


def label_map(source: tuple[str, ...], target: tuple[str, ...]) -> np.ndarray:
    """Index into `source` for each label of `target` (-1 where source lacks it)."""
    return np.array([source.index(label) if label in source else -1 for label in target], np.int64)


class HandChain:
    """The classifier behind the hand stage, with an optional fallback image model for frames without a hand."""

    def __init__(self, tracker: HandTracker, classifier: Backend, fallback: Backend | None = None,
                 crop_model: Backend | None = None, crop_weight: float = 0.5) -> None:
        self.tracker, self.classifier, self.fallback = tracker, classifier, fallback
        self.crop_model, self.crop_weight = crop_model, crop_weight
        self.labels = classifier.spec.labels
        if not 0.0 <= crop_weight <= 1.0:  # checked even without --crop-model: a typo should not pass silently
            raise ModelError(f"--crop-weight {crop_weight} must be between 0 and 1")
        if crop_model is not None:
            if classifier.spec.inputs != "landmarks" or crop_model.spec.inputs != "image":
                raise ModelError("fusion needs a landmarks classifier and an image crop model (--crop-model)")
            self._crop_index = label_map(crop_model.spec.labels, self.labels)
        if fallback is not None:
            if fallback.spec.inputs != "image":
                raise ModelError("the fallback model must be an image model (it reads the fixed box when no hand "
                                 "is found), e.g. --fallback asl_edge/assets/asl_default.onnx")
            self._fallback_index = label_map(fallback.spec.labels, self.labels)
            if (self._fallback_index < 0).all():
                raise ModelError("the fallback model shares no label with the classifier; pass a fallback "
                                 "trained on the same letters, or --fallback none")

    def classify(self, frame: np.ndarray, fixed_box: Roi | None = None) -> ChainOutput:
        """A BGR frame (H, W, 3) uint8 -> probabilities; `fixed_box` is where the fallback looks (None: whole frame)."""
        hand = self.tracker.process(frame)
        spec = self.classifier.spec
        if hand is not None:
            if spec.inputs == "landmarks":
                features = landmark_features(hand.landmarks, hand.handedness)
                probs = self.classifier.infer(features.reshape(1, -1))[0]
                if self.crop_model is None:
                    return ChainOutput(probs, hand, "landmarks")
                crop_probs = self.crop_model.infer(_hand_crop(frame, hand, self.crop_model.spec))[0]
                crop = _mapped(crop_probs, self._crop_index)
                return ChainOutput(((1 - self.crop_weight) * probs + self.crop_weight * crop).astype(np.float32),
                                   hand, "fusion")
            return ChainOutput(self.classifier.infer(_hand_crop(frame, hand, spec))[0], hand, "hand-box")
        if self.fallback is None:
            return ChainOutput(np.zeros(len(self.labels), np.float32), None, "none")
        fallback_probs = self.fallback.infer(preprocess(frame, self.fallback.spec, fixed_box)[None])[0]
        return ChainOutput(_mapped(fallback_probs, self._fallback_index), None, "fallback")

    def close(self) -> None:
        for backend in (self.classifier, self.fallback, self.crop_model):
            if backend is not None:
                backend.close()
        self.tracker.models.close()


def _mapped(probs: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Probabilities of another model's labels in the classifier's label order (0 where it lacks a label)."""
    return np.where(index >= 0, probs[np.maximum(index, 0)], 0.0).astype(np.float32)


def _hand_crop(frame: np.ndarray, hand: Hand, spec: ModelSpec) -> np.ndarray:
    """The (1, C, H, W) input of an image model for the box around the hand."""
    return preprocess(hand_crop(frame, hand.landmarks, hand.handedness), spec)[None]


HAND_MODES = ("auto", "on", "off")
HAND_BACKENDS = ("auto", *HAND_MODEL_BACKENDS)


def open_hand_models(classifier: Backend, variant: str, provider: str = "auto", hand_backend: str = "auto",
                     log: Callable[[str], None] | None = None) -> HandModels:
    """The hand models for this classifier. "auto": the TensorRT engines of `asl-edge build --hand-models`
    when the classifier is itself a TensorRT engine and they are in the engine cache for this device, else
    ONNX Runtime (saying why through `log` when a TensorRT classifier has no usable hand engines);
    "tensorrt" requires the engines; "onnxruntime" never looks for them."""
    if hand_backend not in HAND_BACKENDS:
        raise ModelError(f"hand backend {hand_backend!r}: choose one of {', '.join(HAND_BACKENDS)}")
    if hand_backend == "tensorrt" or (hand_backend == "auto" and classifier.name == "tensorrt"):
        try:
            return HandModels.bundled(variant, backend="tensorrt")
        except AslEdgeError as exc:
            if hand_backend == "tensorrt":
                raise
            (log or print)(f"hand stage: not on TensorRT ({exc}); using ONNX Runtime")
    return HandModels.bundled(variant, provider)


def open_chain(classifier: Backend, hand: str = "auto", variant: str = "full", fallback: str = "auto",
               provider: str = "auto", photos: bool = False, crop_model: str | None = None,
               crop_weight: float = 0.5, hand_backend: str = "auto",
               log: Callable[[str], None] | None = None) -> HandChain | None:
    """The chain for a loaded classifier, or None for the fixed box (hand "off", or "auto" with an image model).

    fallback: a model path, "none", or "auto" (the bundled image model when the classifier reads landmarks).
    photos: the frames are still photos (eval's datasets, an image file or folder as a source): detected one by
    one, padded (photos.py, the policy every command shares); else video frames, tracked.
    hand_backend, log: where the hand models run (open_hand_models); `chain.tracker.models.describe()` says.
    """
    from asl_edge.runtime.backends import load_backend
    from asl_edge.runtime.hand.models import BUNDLED_IMAGE_MODEL

    if hand not in HAND_MODES:
        raise ModelError(f"--hand {hand!r}: choose one of {', '.join(HAND_MODES)}")
    landmarks_model = classifier.spec.inputs == "landmarks"
    if hand == "off" and landmarks_model:
        raise ModelError("this model reads hand landmarks, so it needs the hand stage; drop --hand off or pass an "
                         "image model")
    if hand == "off" or (hand == "auto" and not landmarks_model):
        if fallback not in ("auto", "none") or crop_model:
            raise ModelError("--fallback and --crop-model work with the hand stage only; drop them, or use "
                             "--hand on")
        return None
    config = tracker_config(photos, variant)
    models = open_hand_models(classifier, variant, provider, hand_backend, log)
    tracker = HandTracker(models, config)
    if fallback == "auto":
        fallback = str(BUNDLED_IMAGE_MODEL) if landmarks_model else "none"
    fallback_backend = crop_backend = None
    try:
        fallback_backend = None if fallback == "none" else load_backend(fallback)
        crop_backend = load_backend(crop_model) if crop_model else None
        return HandChain(tracker, classifier, fallback_backend, crop_backend, crop_weight)
    except BaseException:
        for backend in (fallback_backend, crop_backend):
            if backend is not None:
                backend.close()
        models.close()
        raise
