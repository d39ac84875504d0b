"""Running a deserialized TensorRT engine through the tensor-name API (TensorRT 8.5 to 11).

Imports tensorrt at the top: import this module only after
asl_edge.runtime.backends.tensorrt.support.tensorrt_version() has confirmed TensorRT loads. Call everything here
with the CUDA device current (`with device.current():`).
"""

from __future__ import annotations

import numpy as np
import tensorrt as trt

from asl_edge.errors import EngineMismatchError, ModelError
from asl_edge.runtime.backends.tensorrt.cuda_device import CudaDevice
from asl_edge.runtime.backends.tensorrt.library import LOGGER


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

    One input and any number of named outputs, each with its own pinned host buffer and device buffer.
    Buffers and tensor addresses are set once; each call sets the input shape, copies in, enqueues,
    copies every output out and waits, all on the device's one stream. CUDA events around the enqueue
    measure the GPU compute time of the last call (`last_gpu_ms`), as trtexec reports it.

    `expect_outputs`: how many outputs the engine must have (1, the default, for an asl-edge classifier,
    whose `run` returns that output), or None for any number (the hand models; use `run_all`).
    The tensor-name API throughout: present from TensorRT 8.5 (tensorrt_support.OLDEST_SUPPORTED) to 11.
    """

    def __init__(self, engine: trt.ICudaEngine, device: CudaDevice, expect_outputs: int | None = 1) -> None:
        self.engine = engine
        self.device = device
        context = engine.create_execution_context()
        if context is None:
            raise ModelError("TensorRT could not create an execution context (out of GPU memory?)")
        self.context = context
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if n not in self.inputs]
        if expect_outputs == 1 and (len(self.inputs) != 1 or len(self.outputs) != 1):
            raise ModelError(f"engine has inputs {self.inputs} and outputs {self.outputs}; an asl-edge classifier "
                             "has one of each")
        if len(self.inputs) != 1 or not self.outputs or (expect_outputs is not None
                                                           and len(self.outputs) != expect_outputs):
            wanted = "at least one" if expect_outputs is None else str(expect_outputs)
            raise ModelError(f"engine has inputs {self.inputs} and outputs {self.outputs}; expected one input and "
                             f"{wanted} output(s)")
        self.input_name, self.output_name = self.inputs[0], self.outputs[0]
        self.max_input_shape = self._max_shape(self.input_name)
        self.max_batch = self.max_input_shape[0]
        # A static batch dimension (e.g. 1 from a tf2onnx graph) takes exactly that many samples per run.
        declared = dims(engine.get_tensor_shape(self.input_name))
        self.fixed_batch: int | None = declared[0] if declared and declared[0] >= 0 else None
        # Output shapes follow from the input shape; size each output for the largest input.
        self._set_batch_shape(self.max_input_shape)
        self.max_output_shapes = {name: dims(self.context.get_tensor_shape(name)) for name in self.outputs}
        for name, shape in self.max_output_shapes.items():
            if any(d < 0 for d in shape):
                raise ModelError(f"engine output {name} has a data-dependent shape {shape}; asl-edge runs "
                                 "engines whose output shapes follow from the input shape")
        self.max_output_shape = self.max_output_shapes[self.output_name]
        self._host_in = device.pinned_empty(self.max_input_shape, self._dtype(self.input_name))
        self._dev_in = device.device_alloc(self._host_in.nbytes)
        self._host_out = {name: device.pinned_empty(shape, self._dtype(name))
                          for name, shape in self.max_output_shapes.items()}
        self._dev_out = {name: device.device_alloc(host.nbytes) for name, host in self._host_out.items()}
        for name, address in ((self.input_name, self._dev_in), *self._dev_out.items()):
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
        """float32 NCHW batch of at most max_batch samples -> the (first) output's rows."""
        return self.run_all(batch)[self.output_name]

    def run_all(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """float32 NCHW batch of at most max_batch samples -> every output by name, float32, batch first."""
        n = batch.shape[0]
        host_in = self._host_in[:n]
        host_in[...] = batch  # casts to the engine's input type if it differs
        self._set_batch_shape(tuple(host_in.shape))
        self.device.copy_to_device(self._dev_in, host_in)
        self.device.record_start()
        ok = self.context.execute_async_v3(self.device.stream_handle)
        self.device.record_stop()
        if not ok:
            raise ModelError("TensorRT execute_async_v3 failed (see the TensorRT log above)")
        # Output rows follow the input's batch (static engines have batch 1, so n == 1 there too).
        hosts = {name: host[:n] for name, host in self._host_out.items()}
        for name, host in hosts.items():
            self.device.copy_to_host(host, self._dev_out[name])
        self.device.synchronize()
        self.last_gpu_ms = self.device.elapsed_ms()
        # Copies: the pinned buffers are reused by the next call.
        return {name: np.array(host, dtype=np.float32) for name, host in hosts.items()}
