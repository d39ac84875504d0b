"""ONNX Runtime's execution providers as asl-edge configures them (reference §6), and the CPU fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from asl_edge.errors import ModelError
from asl_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend, batch_profile, provider_list
from tests.tensorrt.onnx_models import tiny_classifier

GPU_BUILD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def options_of(providers: list[object], name: str) -> dict[str, object]:
    for entry in providers:
        if isinstance(entry, tuple) and entry[0] == name:
            return dict(entry[1])
    raise AssertionError(f"{name} not in {providers}")


def test_auto_orders_tensorrt_cuda_cpu(tmp_path: Path) -> None:
    providers = provider_list(GPU_BUILD, "auto", "fp32", tmp_path)
    assert [p[0] if isinstance(p, tuple) else p for p in providers] == GPU_BUILD
    assert providers[-1] == "CPUExecutionProvider"
    assert options_of(providers, "CUDAExecutionProvider") == {"device_id": 0}


@pytest.mark.parametrize(("precision", "fp16", "int8"), [("fp32", False, False), ("fp16", True, False),
                                                         ("int8", True, True)])
def test_tensorrt_precision_options_follow_the_graph(tmp_path: Path, precision: str, fp16: bool, int8: bool) -> None:
    trt = options_of(provider_list(GPU_BUILD, "auto", precision, tmp_path / "cache"), "TensorrtExecutionProvider")
    assert (trt["trt_fp16_enable"], trt["trt_int8_enable"]) == (fp16, int8)
    assert trt["trt_engine_cache_enable"] is True and trt["trt_timing_cache_enable"] is True
    assert trt["trt_engine_cache_path"] == str(tmp_path / "cache") and (tmp_path / "cache").is_dir()
    # Q/DQ graphs carry their scales: no calibration table may be given.
    assert not any(key.startswith("trt_int8_calibration") for key in trt)


def test_batch_profile_reaches_the_tensorrt_provider(tmp_path: Path) -> None:
    profile = batch_profile("input", (3, 64, 64), 8)
    assert profile == {"trt_profile_min_shapes": "input:1x3x64x64", "trt_profile_opt_shapes": "input:1x3x64x64",
                       "trt_profile_max_shapes": "input:8x3x64x64"}
    trt = options_of(provider_list(GPU_BUILD, "auto", "fp16", tmp_path, profile), "TensorrtExecutionProvider")
    assert trt["trt_profile_max_shapes"] == "input:8x3x64x64"


def test_named_provider_keeps_the_rest_of_the_chain(tmp_path: Path) -> None:
    assert [p[0] if isinstance(p, tuple) else p for p in provider_list(GPU_BUILD, "cuda", "fp32", tmp_path)] == \
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert provider_list(GPU_BUILD, "cpu") == ["CPUExecutionProvider"]


def test_cpu_only_build(tmp_path: Path) -> None:
    assert provider_list(["CPUExecutionProvider"], "auto", "int8", tmp_path) == ["CPUExecutionProvider"]
    with pytest.raises(ModelError, match=r"has no TensorrtExecutionProvider .* install onnxruntime-gpu"):
        provider_list(["CPUExecutionProvider"], "tensorrt")
    with pytest.raises(ModelError, match="unknown provider 'tpu'"):
        provider_list(GPU_BUILD, "tpu")


def test_backend_reports_the_provider_that_runs(tmp_path: Path) -> None:
    onnx = tiny_classifier(tmp_path / "model.onnx", precision="int8", qdq=True)
    backend = OnnxRuntimeBackend.from_path(onnx, engine_cache=tmp_path / "cache")
    with backend:
        assert backend.device == ort.get_available_providers()[0] or backend.device == "CPUExecutionProvider"
        assert backend.device in backend.providers and backend.precision == "int8"
        probs = backend.infer(np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32))
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
