"""Landmark features, augmentation, the landmark MLP's training and its ONNX export, on synthetic hands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from asl_edge.datasets import HeldOutSplit
from asl_edge.landmark_features import NUM_FEATURES, landmark_features
from asl_edge.train.landmarks import (
    VAL_FEATURES,
    LandmarkSet,
    LandmarkTrainConfig,
    augment_landmarks,
    fit_landmarks,
)


def synthetic_set(classes: list[str], per_class: int, seed: int, template_seed: int = 0) -> LandmarkSet:
    """Class-structured hands: a per-class template (shared across sets via template_seed) plus noise, placed at
    random positions and scales, half of them left hands (mirrored in x), some without a hand."""
    templates = np.random.default_rng(template_seed).normal(0, 1, size=(26, 21, 3))
    templates[:, 0] = 0
    rng = np.random.default_rng(seed)
    lm, hand, labels = [], [], []
    for i, name in enumerate(classes):
        base = templates[ord(name[0]) % 26]
        for _ in range(per_class):
            points = base + rng.normal(0, 0.15, size=base.shape)
            right = rng.random() < 0.5
            if not right:
                points[:, 0] *= -1
            points = points * rng.uniform(20, 60) + np.array([rng.uniform(100, 500), rng.uniform(100, 400), 0])
            lm.append(points)
            hand.append(0.9 if right else 0.1)
            labels.append(i)
    n = len(labels)
    found = rng.random(n) > 0.05
    landmarks = np.asarray(lm, dtype=np.float32)
    landmarks[~found] = 0
    return LandmarkSet(landmarks, np.asarray(hand, np.float32), found, np.asarray(labels, np.int64), classes,
                       [f"{i}.jpg" for i in range(n)])


def test_features_are_invariant_to_translation_scale_and_mirror() -> None:
    data = synthetic_set(["A", "B"], 3, seed=1)
    lm = data.landmarks[data.found][:1].astype(np.float64)
    f = landmark_features(lm, 0.9)
    assert f.shape == (1, NUM_FEATURES) and f.dtype == np.float32
    moved = lm * 2.5 + np.array([40.0, -10.0, 3.0])
    np.testing.assert_allclose(landmark_features(moved, 0.9), f, atol=1e-5)
    mirrored = lm.copy()
    mirrored[..., 0] = 1000 - mirrored[..., 0]
    np.testing.assert_allclose(landmark_features(mirrored, 0.1), f, atol=1e-5)
    # Orientation is kept: a hand turned upside down is a different vector.
    flipped = lm.copy()
    flipped[..., 1] *= -1
    assert not np.allclose(landmark_features(flipped, 0.9), f, atol=1e-3)


def test_features_of_a_missing_hand_are_zero_and_single_hands_work() -> None:
    assert not landmark_features(np.zeros((21, 3), np.float32), 0.5).any()
    assert landmark_features(np.zeros((0, 21, 3), np.float32), np.zeros(0)).shape == (0, NUM_FEATURES)
    with pytest.raises(ValueError, match="21, 3"):
        landmark_features(np.zeros((2, 20, 3)), 0.5)


def test_augmentation_keeps_the_wrist_and_varies_the_hand() -> None:
    data = synthetic_set(["A", "B"], 4, seed=2)
    lm = data.landmarks[data.found]
    out = augment_landmarks(lm, np.random.default_rng(0))
    assert out.shape == lm.shape
    np.testing.assert_allclose(out[:, 0], lm[:, 0], atol=10.0)  # jitter only (1.5% of a ~60 px palm)
    assert not np.allclose(out, lm)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_run(tmp_path_factory.mktemp("landmark-run"))


def train_tiny_run(out: Path) -> Path:
    """A landmark MLP trained for 30 epochs on two small synthetic datasets (4 + 4 classes, union of 5)."""
    first = synthetic_set(["A", "B", "C", "space"], 40, seed=10)
    second = synthetic_set(["A", "B", "C", "D"], 30, seed=11)
    config = LandmarkTrainConfig(epochs=30, batch_size=64, dataset_weights=(1.0, 3.0), log_every=10)
    fit_landmarks([("mini", first), ("multi", second)], out, config, progress=lambda line: None)
    return out


@pytest.mark.parametrize(("weights", "message"), [
    ((float("nan"), 1.0), "nan is not a finite number"),
    ((float("inf"), 1.0), "inf is not a finite number"),
    ((1.0, -1.0), "-1.0 is negative"),
    ((0.0, 0.0), "every --dataset-weight is 0"),
])
def test_dataset_weights_that_would_train_nothing_or_nan_are_refused_before_training(
        tmp_path: Path, weights: tuple[float, float], message: str) -> None:
    from asl_edge.errors import DataError

    sets = [("mini", synthetic_set(["A", "B"], 5, seed=1)), ("multi", synthetic_set(["A", "B"], 5, seed=2))]
    with pytest.raises(DataError, match=message):
        fit_landmarks(sets, tmp_path / "run", LandmarkTrainConfig(epochs=1, dataset_weights=weights),
                      progress=lambda line: None)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_training_writes_a_landmarks_checkpoint_and_learns(trained_run: Path) -> None:
    from asl_edge.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(trained_run / "checkpoint.pt")
    spec = loaded.spec
    assert spec.inputs == "landmarks" and spec.num_features == NUM_FEATURES and spec.arch == "landmark_mlp"
    assert spec.labels == ("A", "B", "C", "D", "space")
    split = HeldOutSplit.recorded(spec.trained_on)
    assert split is not None and split.datasets == ("mini", "multi") and split.seed == 0
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert set(metrics["val_top1_per_dataset"]) == {"mini", "multi"}
    assert metrics["val_top1"] > 0.8
    assert sum(metrics["excluded_no_hand"].values()) > 0
    assert (trained_run / VAL_FEATURES).exists()


def test_exported_onnx_matches_pytorch(trained_run: Path) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import torch

    from asl_edge.export.onnx_export import export_fp32, save
    from asl_edge.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(trained_run / "checkpoint.pt")
    graph = export_fp32(loaded.model, loaded.spec, simplify=False)
    path = trained_run / "model.onnx"
    save(graph, path, loaded.spec, "fp32")
    features = np.load(trained_run / VAL_FEATURES)["features"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {loaded.spec.input_name: features})[0]
    with torch.no_grad():
        want = torch.softmax(loaded.model(torch.from_numpy(features)), dim=1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_export_all_writes_fp32_fp16_and_int8_for_a_landmarks_model(trained_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxconverter_common")
    from asl_edge.export.pipeline import export_all
    from asl_edge.onnx_header import read_onnx_spec

    messages: list[str] = []
    report = export_all(trained_run / "checkpoint.pt", tmp_path / "export", progress=messages.append)
    assert [r.precision for r in report.results] == ["fp32", "fp16", "int8"]
    assert not any("skipping INT8" in m for m in messages)  # calib_features.npz is there
    assert report.parity["max_abs_diff"] < 1e-5
    assert report.results[1].agreement_vs_fp32 > 0.99
    spec = read_onnx_spec(tmp_path / "export" / "model.fp16.onnx")
    assert spec.inputs == "landmarks" and spec.input_shape == (NUM_FEATURES,)
    assert (tmp_path / "export" / "model.int8.onnx").exists()
