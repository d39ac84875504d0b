"""The Backend contract: construction through from_path, unknown options refused by name, capabilities stated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asl_edge.apps.cli import main
from asl_edge.errors import AslEdgeError, ModelError
from asl_edge.runtime.backends import BACKENDS, load_backend
from asl_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
from tests.tensorrt.onnx_models import tiny_classifier


def test_options_come_from_each_backends_from_path() -> None:
    assert OnnxRuntimeBackend.option_names() == ("provider", "threads", "spec", "engine_cache", "max_batch")
    from asl_edge.runtime.backends.tensorrt.backend import TensorRTBackend

    assert TensorRTBackend.option_names() == ("device_index", "cuda_binding", "spec")
    assert TensorRTBackend.measures_gpu_time and not OnnxRuntimeBackend.measures_gpu_time
    assert set(BACKENDS) == {"pytorch", "onnxruntime", "tensorrt"}


def test_unknown_options_are_refused_by_name(tmp_path: Path) -> None:
    onnx = tiny_classifier(tmp_path / "m.onnx")
    with pytest.raises(ModelError, match="the onnxruntime backend has no option 'device'; it takes provider"):
        load_backend(onnx, device="cuda")
    with pytest.raises(ModelError, match="the tensorrt backend has no option 'provider'"):
        load_backend(onnx, "tensorrt", provider="cpu")
    with load_backend(onnx, threads=1) as backend:  # a real ONNX Runtime session
        probs = backend.infer(np.zeros((2, 3, 8, 8), np.float32))
        assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        with pytest.raises(AslEdgeError, match="does not measure GPU time"):
            _ = backend.last_gpu_ms


def test_the_cli_passes_each_backend_only_its_own_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx = tiny_classifier(tmp_path / "m.onnx")
    # --device is the PyTorch backend's; with an ONNX model it is not passed on (and so not refused).
    code = main(["run", "--source", str(tmp_path / "absent.mp4"), "--model", str(onnx), "--hand", "off",
                 "--device", "cuda", "--no-window", "--max-frames", "1"])
    err = capsys.readouterr().err
    assert code != 0 and "no option" not in err and "absent.mp4" in err
