"""On an NVIDIA GPU with TensorRT: build FP32/FP16/INT8 engines, run them, compare with ONNX Runtime.

Run on a Jetson (or any NVIDIA machine with TensorRT and pycuda or cuda-python):
    pytest -m gpu tests/tensorrt -v
Skips elsewhere with the reason. The models: an aslcnn with random weights exported by torch (when
torch is installed; FP16 and INT8 through asl_edge.export when its modules exist), and a tiny graph
written with onnx.helper, so a Jetson without torch still tests every precision.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from asl_edge.errors import AslEdgeError, EngineMismatchError
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.backends.tensorrt.backend import TensorRTBackend
from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions, manifest_path
from asl_edge.spec import ModelSpec, make_spec
from tests.tensorrt.gpu import gpu_marks
from tests.tensorrt.onnx_models import tiny_classifier

pytestmark = gpu_marks("the GPU engine tests")

MAX_BATCH = 4
# Largest |TensorRT - onnxruntime| per probability, and the top-1 margin above which labels must agree.
TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2, "int8": 6e-2}
MARGIN = {"fp32": 1e-3, "fp16": 5e-2, "int8": 1.5e-1}


def _aslcnn_onnx(folder: Path, precision: str) -> Path:
    """An aslcnn with random weights through the real export path (FP32 export, FP16 / INT8 conversion)."""
    torch = pytest.importorskip("torch", reason="exporting the aslcnn needs torch")
    from asl_edge.datasets import LabelledImages
    from asl_edge.export.fp16 import to_fp16
    from asl_edge.export.int8 import CalibrationOptions, quantize_int8
    from asl_edge.export.onnx_export import export_fp32, save
    from asl_edge.train.models import build_model

    spec = make_spec(("A", "B", "C", "L", "nothing"), "aslcnn", 32, "rgb")
    torch.manual_seed(0)
    graph = export_fp32(build_model(spec), spec)
    if precision == "fp16":
        graph = to_fp16(graph, spec)
    elif precision == "int8":
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 256, (48, 48, 3), dtype=np.uint8) for _ in range(20)]
        calibration = LabelledImages(images, np.arange(20) % 5, spec.labels, ["random"] * 20)
        graph = quantize_int8(graph, spec, calibration, CalibrationOptions(images=20, batch_size=5))
    path = folder / f"aslcnn.{precision}.onnx"
    save(graph, path, spec, precision)
    return path


def _tiny_onnx(folder: Path, precision: str) -> Path:
    return tiny_classifier(folder / f"tiny.{precision}.onnx", precision=precision, qdq=precision == "int8",
                           fp16_weights=precision == "fp16")


MODELS: dict[str, Callable[[Path, str], Path]] = {"aslcnn": _aslcnn_onnx, "tiny": _tiny_onnx}


def _batch(spec: ModelSpec, n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, *spec.input_shape)).astype(np.float32)


def _onnxruntime_probs(onnx_path: Path, batch: np.ndarray, input_name: str) -> np.ndarray:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {input_name: batch})[0], dtype=np.float32)


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_engine_matches_onnxruntime(tmp_path: Path, model: str, precision: str) -> None:
    from asl_edge.export.trt_builder import build_engine

    onnx_path = MODELS[model](tmp_path, precision)
    result = build_engine(onnx_path, BuildOptions(max_batch=MAX_BATCH), cache_dir=tmp_path / "cache")
    assert not result.reused and result.manifest.precision == precision
    assert build_engine(onnx_path, BuildOptions(max_batch=MAX_BATCH), cache_dir=tmp_path / "cache").reused

    backend = load_backend(result.engine_path)
    assert isinstance(backend, TensorRTBackend)
    with backend:
        spec = backend.spec
        batch = _batch(spec, MAX_BATCH * 2 + 1)  # more than the profile allows: runs in slices
        got = backend.infer(batch)
        assert backend.last_gpu_ms > 0.0
        one = backend.infer(batch[:1])
    expected = _onnxruntime_probs(onnx_path, batch, spec.input_name)
    assert got.shape == expected.shape == (len(batch), spec.num_classes)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-2)
    assert np.abs(got - expected).max() <= TOLERANCE[precision], np.abs(got - expected).max()
    np.testing.assert_allclose(one, got[:1], atol=TOLERANCE[precision])
    ordered = np.sort(expected, axis=1)
    clear = (ordered[:, -1] - ordered[:, -2]) > MARGIN[precision]
    assert (got.argmax(1)[clear] == expected.argmax(1)[clear]).all()


def test_engine_runs_on_another_thread(tmp_path: Path) -> None:
    from asl_edge.export.trt_builder import build_engine

    onnx_path = _tiny_onnx(tmp_path, "fp32")
    engine = build_engine(onnx_path, BuildOptions(max_batch=2), cache_dir=tmp_path).engine_path
    with load_backend(engine) as backend:  # created here, used on the "inference thread"
        batch = _batch(backend.spec, 2)
        here = backend.infer(batch)
        results: list[np.ndarray] = []
        worker = threading.Thread(target=lambda: results.append(backend.infer(batch)))
        worker.start()
        worker.join()
    np.testing.assert_allclose(results[0], here, atol=1e-6)


def test_mismatched_and_undeserializable_engines_are_refused(tmp_path: Path) -> None:
    from asl_edge.export.trt_builder import build_engine

    onnx_path = _tiny_onnx(tmp_path, "fp32")
    engine = build_engine(onnx_path, cache_dir=tmp_path).engine_path
    data = json.loads(manifest_path(engine).read_text())
    manifest_path(engine).write_text(json.dumps({**data, "tensorrt_version": "1.0.0"}))
    with pytest.raises(EngineMismatchError, match=r"built with TensorRT 1.0.0, this is .*; rebuild with: asl-edge"):
        load_backend(engine)
    # Garbage that its manifest vouches for: TensorRT's deserialize returns None, reported as a mismatch.
    garbage = b"\0" * 4096
    engine.write_bytes(garbage)
    import hashlib

    manifest_path(engine).write_text(json.dumps({**data, "engine_sha256": hashlib.sha256(garbage).hexdigest()}))
    with pytest.raises(EngineMismatchError, match=r"could not deserialize"):
        load_backend(engine)


def test_parse_error_names_the_node(tmp_path: Path) -> None:
    import onnx

    from asl_edge.export.trt_builder import build_engine

    path = _tiny_onnx(tmp_path, "fp32")
    model = onnx.load(str(path))
    model.graph.node[-1].op_type = "NoSuchOperator"  # TensorRT's parser has no importer for it
    model.graph.node[-1].name = "broken_softmax"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(AslEdgeError, match=r"cannot parse .*node \d+ \(broken_softmax \(NoSuchOperator\)\)"):
        build_engine(path, cache_dir=tmp_path)


def test_manifest_records_this_device(tmp_path: Path) -> None:
    from asl_edge.export.trt_builder import build_engine

    manifest = build_engine(_tiny_onnx(tmp_path, "fp16"), cache_dir=tmp_path).manifest
    assert manifest.device.gpu_name and manifest.device.compute_capability.count(".") == 1
    assert dataclasses.asdict(manifest.options) == dataclasses.asdict(BuildOptions())


def test_an_onnx_model_opens_on_tensorrt_through_one_build_or_reuse_path(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` and the benchmark open an ONNX file on TensorRT by building its engine once, then reusing it."""
    from asl_edge.export.trt_builder import tensorrt_backend

    monkeypatch.setenv("ASL_EDGE_CACHE", str(tmp_path / "cache"))
    onnx_path = tiny_classifier(tmp_path / "m.onnx", precision="fp32")
    lines: list[str] = []
    first = tensorrt_backend(onnx_path, log=lines.append)
    with first:
        spec = first.spec
        got = first.infer(_batch(spec, 2))
        engine = first.engine_path
    assert engine is not None and engine.is_file() and any(line.startswith("building") for line in lines)
    again = tensorrt_backend(onnx_path, log=lines.append)
    with again:
        assert again.engine_path == engine
        np.testing.assert_allclose(again.infer(_batch(spec, 2)), got, atol=1e-6)
    assert lines[-1].startswith("reusing cached engine")
