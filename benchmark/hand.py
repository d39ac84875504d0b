"""The benchmark's hand-chain rows: each model of the chain alone, and the whole chain per frame.

Model rows: the palm detector (1x3x192x192), the landmark model (1x3x224x224) of each requested variant
and the classifier (one feature vector, or one preprocessed image for an image model), timed by the same
`measure` loop as the engine rows, on inputs made from a real frame of the clip (the letterboxed frame,
the crop around the hand it holds, that hand's features). Chain rows: the clip through `run_pipeline`
with a HandChain, once tracking (the palm detector runs only when the hand is lost) and once detecting
on every frame (TrackerConfig(track=False)), timed per stage by the pipeline itself.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from asl_edge.benchmark.timing import PipelineMeasurement, Timing, TimingPlan, measure
from asl_edge.landmark_features import landmark_features
from asl_edge.progress import Log
from asl_edge.runtime.backends.base import Backend
from asl_edge.runtime.hand.chain import HandChain
from asl_edge.runtime.hand.models import LANDMARK_INPUT_SIZE, HandModels, hand_model_paths
from asl_edge.runtime.hand.palm import letterbox
from asl_edge.runtime.hand.tracker import HandTracker, TrackerConfig
from asl_edge.runtime.live.latency import LatencyStats
from asl_edge.runtime.live.sources import parse_source

# The stages whose p50 the chain rows show (the hand's two models and the classifier).
CHAIN_STAGES = ("detect", "landmarks", "infer", "postprocess")  # postprocess: the decoder, top-3, suggestion
EVAL_HINT = "accuracy of the chain: asl-edge eval MODEL --data FOLDER"



@dataclass
class ChainModelRow:
    """One model of the chain on one backend: its file and the Timing of batch-1 calls."""

    role: str  # "palm", "landmarks" or "classifier"
    variant: str | None  # the hand models' variant ("full", "lite"); None for the classifier
    backend: str
    device: str
    file: str
    size_bytes: int
    input_shape: tuple[int, ...]
    timing: Timing

    @property
    def name(self) -> str:
        return f"{self.role} ({self.variant})" if self.variant else self.role

    def to_dict(self, cv_limit: float) -> dict[str, Any]:
        return {"role": self.role, "variant": self.variant, "name": self.name, "backend": self.backend,
                "device": self.device, "file": self.file, "size_bytes": self.size_bytes,
                "input_shape": list(self.input_shape), "timing": self.timing.to_dict(cv_limit)}


@dataclass
class ChainRun:
    """The clip through the whole chain with one hand-model variant, tracking on or off."""

    variant: str
    tracking: bool
    measurement: PipelineMeasurement
    detections: int  # frames (of the timed ones) on which the palm detector ran

    @property
    def per_frame(self) -> LatencyStats:
        """Every stage of a frame, capture to render."""
        return self.measurement.per_frame(tuple(self.measurement.stages))

    def to_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "tracking": self.tracking, "detections": self.detections,
                "per_frame_ms": self.per_frame.summary(), **self.measurement.to_dict()}


@dataclass
class HandBenchmark:
    models: list[ChainModelRow] = field(default_factory=list)
    chains: list[ChainRun] = field(default_factory=list)

    def warnings(self, cv_limit: float) -> list[str]:
        return [f"{row.name} {w}" for row in self.models for w in row.timing.warnings(cv_limit)]

    def to_dict(self, cv_limit: float) -> dict[str, Any]:
        return {"models": [row.to_dict(cv_limit) for row in self.models],
                "chains": [run.to_dict() for run in self.chains]}


def first_frame(video: str | os.PathLike[str]) -> np.ndarray:
    source = parse_source(str(video))
    with source:
        frame = source.read()
    if frame is None:
        raise ValueError(f"{video} holds no frames")
    return np.ascontiguousarray(frame.image)


def _find_hand_frame(video: Path, models: HandModels, limit: int = 60) -> tuple[np.ndarray, Any]:
    """(BGR frame, Hand or None): the first of the clip's first `limit` frames in which a hand is found."""
    tracker = HandTracker(models, TrackerConfig(track=False))
    source = parse_source(str(video))
    first = None
    with source:
        for _ in range(limit):
            frame = source.read()
            if frame is None:
                break
            first = frame.image if first is None else first
            hand = tracker.process(frame.image)
            if hand is not None:
                return np.ascontiguousarray(frame.image), hand
    if first is None:
        raise ValueError(f"{video} holds no frames")
    return np.ascontiguousarray(first), None


def measure_hand_models(variant: str, video: Path, timing: TimingPlan, provider: str = "auto",
                        threads: int | None = None) -> tuple[list[ChainModelRow], np.ndarray | None]:
    """The palm detector and landmark model of `variant`, timed on a real frame of the clip; also the
    (21, 3) landmarks + handedness features of the hand found there (None without a hand)."""
    models = HandModels.bundled(variant, provider, threads)
    frame, hand = _find_hand_frame(video, models)
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    palm_tensor = np.ascontiguousarray(letterbox(rgb)[0], np.float32)
    if hand is not None:
        crop = hand.region.crop(rgb, LANDMARK_INPUT_SIZE)
    else:
        crop = cv2.resize(rgb, (LANDMARK_INPUT_SIZE, LANDMARK_INPUT_SIZE), interpolation=cv2.INTER_AREA)
    landmark_tensor = np.ascontiguousarray(crop.astype(np.float32).transpose(2, 0, 1)[None] / 255.0, np.float32)
    palm_path, landmark_path = hand_model_paths(variant)
    rows = []
    for role, path, call, tensor in (("palm", palm_path, models.detect, palm_tensor),
                                     ("landmarks", landmark_path, models.landmarks, landmark_tensor)):
        rows.append(ChainModelRow(role, variant, "onnxruntime", models.device, str(path), path.stat().st_size,
                                  tuple(tensor.shape), measure(functools.partial(call, tensor), 1, timing)))
    features = landmark_features(hand.landmarks, hand.handedness).reshape(-1) if hand is not None else None
    return rows, features


def measure_classifier(classifier: Backend, path: Path, inputs: np.ndarray, timing: TimingPlan) -> ChainModelRow:
    """The classifier at batch 1 on `inputs` (one sample, without the batch axis)."""
    batch = np.ascontiguousarray(inputs[None], np.float32)
    return ChainModelRow("classifier", None, classifier.name, classifier.device, str(path), path.stat().st_size,
                         tuple(batch.shape), measure(functools.partial(classifier.infer, batch), 1, timing))


def measure_chain(video: Path, classifier: Backend, model: str, variant: str, tracking: bool,
                  fallback: Backend | None, frames: int, provider: str = "auto",
                  threads: int | None = None) -> ChainRun:
    """Play the clip through run_pipeline with the chain (tracking on or off) for at least `frames` frames."""
    from asl_edge.benchmark.pipeline import measure_pipeline

    tracker = HandTracker(HandModels.bundled(variant, provider, threads), TrackerConfig(track=tracking,
                                                                                        variant=variant))
    chain = HandChain(tracker, classifier, fallback)  # not closed here: it would close the classifier
    measured = measure_pipeline(video, classifier, model, frames, chain=chain)
    # The warm-up frames ran the detector too; count only the timed frames' detections.
    detect = measured.stages["detect"].values
    measured.backend = f"{classifier.describe()} + hand models on {tracker.models.device}"
    return ChainRun(variant, tracking, measured, int(np.count_nonzero(detect > 0)))


def chain_line(run: ChainRun) -> str:
    stages = run.measurement.stages
    p50 = ", ".join(f"{name} {stages[name].summary()['p50']:.2f}" for name in CHAIN_STAGES)
    per_frame = run.per_frame.summary()
    return (f"chain {run.variant}, tracking {'on' if run.tracking else 'off'}: {run.measurement.frames} frames, "
            f"palm detector on {run.detections}; p50 ms {p50}; per frame mean {per_frame['mean']:.2f} ms, "
            f"p50 {per_frame['p50']:.2f} ms; {run.measurement.fps:.1f} FPS")


def model_line(row: ChainModelRow) -> str:
    latency = row.timing.host.summary()
    return (f"{row.name} {'x'.join(map(str, row.input_shape))} on {row.device}: p50 {latency['p50']:.3f} ms, "
            f"mean {latency['mean']:.3f} ms")


def run_hand_benchmark(classifier: Backend, path: Path, video: Path, variants: tuple[str, ...],
                       timing: TimingPlan, classifier_inputs: np.ndarray | None, chain_frames: int | None,
                       provider: str = "auto", threads: int | None = None,
                       progress: Log = print) -> tuple[HandBenchmark, list[str]]:
    """Model rows for every variant and the classifier, then (chain_frames not None) the chain rows;
    `classifier_inputs`: one image-model input, or None for a landmarks model (the clip's hand features)."""
    from asl_edge.runtime.backends import load_backend
    from asl_edge.runtime.hand.models import BUNDLED_IMAGE_MODEL

    result, notes = HandBenchmark(), []
    features = None
    for variant in variants:
        rows, found = measure_hand_models(variant, video, timing, provider, threads)
        features = features if features is not None else found
        result.models += rows
        for row in rows:
            progress(model_line(row))
    landmarks_model = classifier.spec.inputs == "landmarks"
    if classifier_inputs is None:
        if features is None:
            notes.append(f"hand chain: no hand found in {video.name}; the classifier row is timed on seeded noise")
            features = np.random.default_rng(0).standard_normal(classifier.spec.input_shape).astype(np.float32)
        classifier_inputs = features
    result.models.append(measure_classifier(classifier, path, classifier_inputs, timing))
    progress(model_line(result.models[-1]))
    if chain_frames is None:
        return result, notes
    fallback = load_backend(BUNDLED_IMAGE_MODEL) if landmarks_model else None
    try:
        for variant in variants:
            for tracking in (True, False):
                started = time.perf_counter()
                run = measure_chain(video, classifier, str(path), variant, tracking, fallback, chain_frames,
                                    provider, threads)
                result.chains.append(run)
                progress(chain_line(run) + f" ({time.perf_counter() - started:.1f} s)")
    finally:
        if fallback is not None:
            fallback.close()
    if fallback is not None:
        notes.append(f"hand chain: frames without a hand go to the fallback image model {BUNDLED_IMAGE_MODEL.name} "
                     "(counted in infer)")
    return result, notes
