"""TensorRT backend: a serialized engine built by `asl-edge build`, checked against its manifest first.

Loading order, each step with its own one-line failure: the engine (a file, or a build from ONNX: see
loaders.py) -> TensorRT present -> a CUDA binding (pycuda, else cuda-python) and a GPU -> the manifest matches this
TensorRT, GPU and platform -> deserialize.
Every call makes the GPU current on the calling thread, so the backend can be created on one thread
and used on the pipeline's inference thread; a lock keeps its one execution context to one caller.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from asl_edge.errors import ModelError
from asl_edge.runtime.backends.base import Backend
from asl_edge.runtime.backends.tensorrt.cuda_device import CudaDevice, open_cuda_device
from asl_edge.runtime.backends.tensorrt.loaders import EngineFromPath, EngineSource, read_plan
from asl_edge.runtime.backends.tensorrt.manifest import DeviceFacts, EngineManifest, check_engine
from asl_edge.runtime.backends.tensorrt.support import tensorrt_version
from asl_edge.spec import ModelSpec


class TensorRTBackend(Backend):
    name = "tensorrt"
    measures_gpu_time = True
    engine_path: Path | None = None  # the engine file `load` ran (set by load)

    def __init__(self, runner: Any, keepalive: Any, cuda: CudaDevice, manifest: EngineManifest,
                 spec: ModelSpec | None = None) -> None:
        model_spec = spec or manifest.spec
        if model_spec is None:
            raise ModelError(f"engine {manifest.onnx_path} is a {manifest.role} engine, not a classifier: the hand "
                             "models run in the hand stage (asl_edge.runtime.hand.models.HandModels)")
        super().__init__(model_spec, precision=manifest.precision,
                         device=f"{cuda.name} (TensorRT {manifest.device.tensorrt_version}, {cuda.binding})")
        self.manifest = manifest
        self._runner = runner
        self._keepalive = keepalive  # the trt.Runtime and engine behind the runner
        self._cuda = cuda
        self._lock = threading.Lock()
        if tuple(runner.input_shape()) != self.spec.input_shape:
            raise ModelError(f"engine input shape {tuple(runner.input_shape())} differs from its ModelSpec's "
                             f"{self.spec.input_shape}; rebuild with: {manifest.rebuild_command()}")

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], device_index: int = 0, cuda_binding: str = "auto",
                  spec: ModelSpec | None = None) -> TensorRTBackend:
        """An engine file from `asl-edge build` (`load(EngineFromPath(path))`)."""
        return cls.load(EngineFromPath(Path(path)), device_index, cuda_binding, spec)

    @classmethod
    def load(cls, source: EngineSource, device_index: int = 0, cuda_binding: str = "auto",
             spec: ModelSpec | None = None) -> TensorRTBackend:
        """The engine `source` gives (a file, or a build from ONNX: see loaders.py), checked against its
        manifest, then deserialized on GPU `device_index`."""
        path = source()  # first: a build checks TensorRT itself, and opens and closes its own CUDA device
        version = tensorrt_version("the TensorRT backend")
        cuda = open_cuda_device(device_index, "the TensorRT backend", cuda_binding)
        try:
            here = DeviceFacts.here(version, cuda.name, cuda.compute_capability)
            manifest = check_engine(path, here)  # before deserializing: a clear reason instead of a None
            from asl_edge.runtime.backends.tensorrt import engine as trt_engine

            plan = read_plan(path)
            with cuda.current():
                keepalive = trt_engine.deserialize(plan, str(path), manifest.rebuild_command(),
                                                   manifest.options.dla_core)
                runner = trt_engine.EngineRunner(keepalive[1], cuda)
            backend = cls(runner, keepalive, cuda, manifest, spec)
            backend.engine_path = path
            return backend
        except BaseException:
            cuda.close()
            raise

    @property
    def fixed_batch(self) -> int | None:
        return getattr(self._runner, "fixed_batch", None) or self.spec.fixed_batch

    @property
    def max_batch(self) -> int:
        return int(self._runner.max_batch)

    @property
    def last_gpu_ms(self) -> float:
        """GPU compute time of the last engine run (CUDA events around execute_async_v3)."""
        return float(self._runner.last_gpu_ms)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        with self._lock, self._cuda.current():
            # Larger batches than the engine's profile allows run in slices.
            parts = [self._runner.run(batch[i:i + self.max_batch]) for i in range(0, batch.shape[0], self.max_batch)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _close(self) -> None:
        with self._lock:
            with self._cuda.current():
                # Execution context and engine go before the buffers they point into.
                self._runner = None
                self._keepalive = None
            self._cuda.close()
