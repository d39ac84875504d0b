"""Running a deserialized TensorRT engine through the tensor-name API (TensorRT 8.5 to 11).

Imports tensorrt at the top: import this module only after
asl_edge.runtime.tensorrt_support.tensorrt_version() has confirmed TensorRT loads. Call everything here
with the CUDA device current (`with device.current():`).
"""

from __future__ import annotations

import numpy as np
import tensorrt as trt

from asl_edge.errors import EngineMismatchError, ModelError
from asl_edge.runtime.cuda_device import CudaDevice

TRT_MAJOR = int(trt.__version__.split(".")[0])
# One logger per process (TensorRT keeps a pointer to the first one it is given).
LOGGER = trt.Logger(trt.Logger.WARNING)


def dims(shape: trt.Dims) -> tuple[int, ...]:
    return tuple(int(shape[i]) for i in range(len(shape)))


def deserialize(plan: bytes, engine_path: str, rebuild: str, dla_core: int | None = None,
                ) -> tuple[trt.Runtime, trt.ICudaEngine]:
    """The engine and the runtime that must outlive it. None from TensorRT is a mismatch, not a crash."""
    runtime = trt.Runtime(LOGGER)
    if dla_core is not None:
        runtime.DLA_core = dla_core  # must precede deserialization
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise EngineMismatchError(f"Refusing engine {engine_path}: TensorRT {trt.__version__} could not deserialize "
                                  f"it although its manifest matches this device (see the TensorRT log above); "
                                  f"rebuild with: {rebuild}")
    return runtime, engine


class EngineRunner:
    """One execution context with buffers for the largest batch the engine's profile allows.

    Buffers and tensor addresses are set once; each call sets the input shape, copies in, enqueues,
    copies out and waits, all on the device's one stream. CUDA events around the enqueue measure the
    GPU compute time of the last call (`last_gpu_ms`), as trtexec reports it.
    """

    def __init__(self, engine: trt.ICudaEngine, device: CudaDevice) -> None:
        self.engine = engine
        self.device = device
        context = engine.create_execution_context()
        if context is None:
            raise ModelError("TensorRT could not create an execution context (out of GPU memory?)")
        self.context = context
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if n not in self.inputs]
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise ModelError(f"engine has inputs {self.inputs} and outputs {self.outputs}; an asl-edge classifier "
                             "has one of each")
        self.input_name, self.output_name = self.inputs[0], self.outputs[0]
        self.max_input_shape = self._max_shape(self.input_name)
        self.max_batch = self.max_input_shape[0]
        # Output shapes follow from the input shape; size the output for the largest input.
        self._set_batch_shape(self.max_input_shape)
        self.max_output_shape = dims(self.context.get_tensor_shape(self.output_name))
        if any(d < 0 for d in self.max_output_shape):
            raise ModelError(f"engine output {self.output_name} has a data-dependent shape "
                             f"{self.max_output_shape}; an asl-edge classifier outputs (N, classes)")
        self._host_in = device.pinned_empty(self.max_input_shape, self._dtype(self.input_name))
        self._host_out = device.pinned_empty(self.max_output_shape, self._dtype(self.output_name))
        self._dev_in = device.device_alloc(self._host_in.nbytes)
        self._dev_out = device.device_alloc(self._host_out.nbytes)
        for name, address in ((self.input_name, self._dev_in), (self.output_name, self._dev_out)):
            if not self.context.set_tensor_address(name, address):
                raise ModelError(f"TensorRT refused the buffer address of tensor {name}")
        self.last_gpu_ms = 0.0

    def _dtype(self, name: str) -> np.dtype:
        return np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))

    def _max_shape(self, name: str) -> tuple[int, ...]:
        shape = dims(self.engine.get_tensor_shape(name))
        if all(d >= 0 for d in shape):
            return shape
        # Dynamic dims: the largest shape of optimization profile 0 ([min, opt, max]).
        return dims(self.engine.get_tensor_profile_shape(name, 0)[2])

    def _set_batch_shape(self, shape: tuple[int, ...]) -> None:
        if not self.context.set_input_shape(self.input_name, trt.Dims(list(shape))):
            raise ModelError(f"engine input {self.input_name} does not accept shape {shape} "
                             f"(its largest is {self.max_input_shape})")

    def input_shape(self) -> tuple[int, ...]:
        """(C, H, W) of one sample, as the engine expects it."""
        return self.max_input_shape[1:]

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW batch of at most max_batch samples -> output rows."""
        n = batch.shape[0]
        host_in, host_out = self._host_in[:n], self._host_out[:n]
        host_in[...] = batch  # casts to the engine's input type if it differs
        self._set_batch_shape(tuple(host_in.shape))
        self.device.copy_to_device(self._dev_in, host_in)
        self.device.record_start()
        ok = self.context.execute_async_v3(self.device.stream_handle)
        self.device.record_stop()
        if not ok:
            raise ModelError("TensorRT execute_async_v3 failed (see the TensorRT log above)")
        self.device.copy_to_host(host_out, self._dev_out)
        self.device.synchronize()
        self.last_gpu_ms = self.device.elapsed_ms()
        return np.array(host_out, dtype=np.float32)  # a copy: the pinned buffer is reused by the next call
