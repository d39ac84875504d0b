"""Finding the hand engines `asl-edge build --hand-models` left in the engine cache, and the hand stage's
choice between TensorRT and ONNX Runtime — no GPU, no TensorRT needed (the compile step is faked)."""

from __future__ import annotations

import dataclasses
import hashlib
import platform
from pathlib import Path

import numpy as np
import pytest

from asl_edge.errors import EngineMismatchError, ModelError
from asl_edge.export.onnx_facts import hand_model_facts
from asl_edge.export.trt_builder import build_chain_or_reuse
from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions, DeviceFacts, manifest_path
from asl_edge.runtime.hand.chain import open_hand_models
from asl_edge.runtime.hand.models import HandModels, OnnxHandModels, find_hand_engines, hand_model_paths

ORIN = DeviceFacts(tensorrt_version="10.3.0", gpu_name="Orin", compute_capability="8.7",
                   cpu_arch=platform.machine(), l4t_release="R36.4.3")


def fake_compile(facts, options, strongly_typed, flags, timing_cache, on_phase) -> bytes:  # type: ignore[no-untyped-def]
    return f"plan of {facts.path.name}".encode()


def build(cache: Path, variant: str, device: DeviceFacts = ORIN, options: BuildOptions | None = None) -> list[Path]:
    facts = hand_model_facts(variant, 10, cache)
    results = build_chain_or_reuse(None, facts, device, options or BuildOptions(), cache_dir=cache,
                                   log=lambda line: None, compile_plan=fake_compile)
    return [r.engine_path for r in results]


def test_finds_the_engines_the_build_wrote(tmp_path: Path) -> None:
    built = build(tmp_path, "full")
    build(tmp_path, "lite")  # the other variant's engines are in the same folder
    assert list(find_hand_engines("full", ORIN, tmp_path)) == built
    palm, landmarks = find_hand_engines("lite", ORIN, tmp_path)
    assert palm.name.startswith("palm_detection_lite.") and landmarks.name.startswith("hand_landmark_lite.")


def test_engines_built_with_other_options_count(tmp_path: Path) -> None:
    built = build(tmp_path, "full", options=BuildOptions(workspace_mib=256))
    assert list(find_hand_engines("full", ORIN, tmp_path)) == built


def test_missing_engines_name_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        find_hand_engines("full", ORIN, tmp_path / "empty")
    message = str(info.value)
    assert "\n" not in message
    assert "palm_detector engine" in message and message.endswith("asl-edge build --hand-models full")


def test_engines_of_another_tensorrt_are_refused_with_the_reason(tmp_path: Path) -> None:
    build(tmp_path, "full", device=dataclasses.replace(ORIN, tensorrt_version="8.6.2"))
    with pytest.raises(EngineMismatchError) as info:
        find_hand_engines("full", ORIN, tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert "built with TensorRT 8.6.2, this is 10.3.0" in message
    assert message.endswith("rebuild with: asl-edge build --hand-models full")


def test_a_corrupt_engine_is_refused(tmp_path: Path) -> None:
    palm, _ = build(tmp_path, "full")
    palm.write_bytes(b"truncated")
    with pytest.raises(EngineMismatchError, match="sha256 differs"):
        find_hand_engines("full", ORIN, tmp_path)


def test_engines_of_another_copy_of_the_models_are_not_candidates(tmp_path: Path) -> None:
    palm, _ = build(tmp_path, "full")
    shipped = hashlib.sha256(hand_model_paths("full")[0].read_bytes()).hexdigest()
    path = manifest_path(palm)
    path.write_text(path.read_text().replace(shipped, "0" * 64))
    with pytest.raises(ModelError, match="no TensorRT palm_detector engine"):
        find_hand_engines("full", ORIN, tmp_path)


class FakeClassifier:
    def __init__(self, name: str) -> None:
        self.name = name


def test_a_tensorrt_classifier_without_usable_hand_engines_falls_back_to_onnxruntime_and_says_so() -> None:
    lines: list[str] = []
    models = open_hand_models(FakeClassifier("tensorrt"), "lite", "cpu", log=lines.append)  # type: ignore[arg-type]
    assert isinstance(models, OnnxHandModels)
    assert models.describe() == "onnxruntime CPUExecutionProvider"
    assert len(lines) == 1 and lines[0].startswith("hand stage: not on TensorRT (") and "ONNX Runtime" in lines[0]


def test_an_onnxruntime_classifier_never_looks_for_engines() -> None:
    lines: list[str] = []
    models = open_hand_models(FakeClassifier("onnxruntime"), "lite", "cpu", log=lines.append)  # type: ignore[arg-type]
    assert isinstance(models, OnnxHandModels) and lines == []


def test_asking_for_tensorrt_hand_models_without_tensorrt_is_one_clear_error() -> None:
    with pytest.raises(Exception) as info:
        open_hand_models(FakeClassifier("onnxruntime"), "lite", hand_backend="tensorrt")  # type: ignore[arg-type]
    assert "TensorRT" in str(info.value) and "\n" not in str(info.value)


def test_onnxruntime_models_keep_the_interface() -> None:
    models = HandModels.bundled("lite", "cpu")
    regressors, scores = models.detect(np.zeros((1, 3, 192, 192), np.float32))
    assert regressors.shape == (2016, 18) and scores.shape == (2016,)
    out = models.landmarks(np.zeros((1, 3, 224, 224), np.float32))
    assert out.landmarks.shape == (21, 3) and 0.0 <= out.presence <= 1.0
    with pytest.raises(ModelError, match="hand model backend"):
        HandModels.bundled("lite", backend="tflite")
