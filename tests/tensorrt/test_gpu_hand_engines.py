"""On an NVIDIA GPU with TensorRT: build the lite palm detector and landmark engines through `asl-edge build`'s
chain (FP16) and compare their outputs with ONNX Runtime on CPU. Skips elsewhere with the reason.

    pytest -m gpu tests/tensorrt/test_gpu_hand_engines.py -v
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions, check_engine
from tests.tensorrt.gpu import gpu_marks

pytestmark = gpu_marks("the GPU hand engine tests")

# FP16 against FP32: the largest |difference| relative to the output's range.
RELATIVE_TOLERANCE = 3e-2


def _run_engine(engine_path: Path, image: np.ndarray) -> dict[str, np.ndarray]:
    """All outputs of a static-shape engine (the asl-edge runner takes one output; this test needs all)."""
    from asl_edge.runtime.backends.tensorrt import engine as trt_engine
    from asl_edge.runtime.backends.tensorrt.cuda_device import open_cuda_device

    cuda = open_cuda_device(0, "the GPU hand engine tests")
    try:
        with cuda.current():
            runtime, engine = trt_engine.deserialize(engine_path.read_bytes(), str(engine_path), "rebuild")
            context = engine.create_execution_context()
            names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
            hosts: dict[str, np.ndarray] = {}
            addresses: dict[str, int] = {}
            for name in names:
                shape = trt_engine.dims(engine.get_tensor_shape(name))
                hosts[name] = cuda.pinned_empty(shape, np.dtype(trt_engine.trt.nptype(engine.get_tensor_dtype(name))))
                addresses[name] = cuda.device_alloc(hosts[name].nbytes)
                assert context.set_tensor_address(name, addresses[name])
            inputs = [n for n in names if engine.get_tensor_mode(n) == trt_engine.trt.TensorIOMode.INPUT]
            assert inputs == ["image"]
            hosts["image"][...] = image
            cuda.copy_to_device(addresses["image"], hosts["image"])
            assert context.execute_async_v3(cuda.stream_handle)
            outputs = {n: hosts[n] for n in names if n not in inputs}
            for name, host in outputs.items():
                cuda.copy_to_host(host, addresses[name])
            cuda.synchronize()
            result = {n: np.array(h, dtype=np.float32) for n, h in outputs.items()}
            del context, engine, runtime
            return result
    finally:
        cuda.close()


def test_hand_engines_match_onnxruntime(tmp_path: Path) -> None:
    from asl_edge.export.trt_builder import build_chain

    results = build_chain(None, "lite", BuildOptions(), cache_dir=tmp_path, log=print)
    assert [r.manifest.role for r in results] == ["palm_detector", "hand_landmarks"]
    rng = np.random.default_rng(0)
    for result in results:
        manifest = check_engine(result.engine_path, result.manifest.device)
        assert manifest.precision == "fp16" and manifest.spec is None
        source = manifest.source_onnx_path or manifest.onnx_path
        session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
        shape = tuple(int(d) for d in session.get_inputs()[0].shape)
        image = rng.random(shape, dtype=np.float32)
        expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"image": image}),
                            strict=True))
        got = _run_engine(result.engine_path, image)
        assert set(got) == set(expected)
        for name, want in expected.items():
            scale = max(float(np.abs(want).max()), 1.0)
            error = float(np.abs(got[name].reshape(want.shape) - want).max()) / scale
            assert error < RELATIVE_TOLERANCE, f"{manifest.role} {name}: relative error {error:.4f}"
