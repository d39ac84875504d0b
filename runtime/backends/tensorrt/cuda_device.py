"""The CUDA side of the TensorRT backend: one GPU, one stream, pinned host and device buffers, event timing.

Two bindings do the same job: pycuda (what JetPack users have) first, cuda-python where pycuda is
absent. Both share the CUDA runtime's primary context with TensorRT, so buffers made here are valid
in TensorRT's calls on any thread: pycuda retains the primary context and pushes it around each use
(`with device.current():`), cuda-python selects the device on the calling thread.
"""

from __future__ import annotations

import abc
import contextlib
import ctypes
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from asl_edge.errors import AslEdgeError, MissingDependencyError

CUDA_HINT = ("pip install pycuda (on a Jetson it compiles against JetPack's CUDA: put /usr/local/cuda/bin on "
             "PATH first), or pip install cuda-python")


class NoGpuError(AslEdgeError):
    """CUDA is installed but finds no usable NVIDIA GPU (no device, no driver, driver too old)."""


def no_gpu(reason: str, index: int) -> NoGpuError:
    return NoGpuError(f"no usable NVIDIA GPU {index}: {reason}; check the driver with nvidia-smi (a Jetson: "
                      "tegrastats) — TensorRT engines need an NVIDIA GPU")


class CudaDevice(abc.ABC):
    """One GPU with one stream. Call the buffer and copy methods inside `with device.current():`."""

    binding = "cuda"

    def __init__(self, index: int, name: str, compute_capability: str) -> None:
        self.index = index
        self.name = name
        self.compute_capability = compute_capability

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        self._activate()
        try:
            yield
        finally:
            self._deactivate()

    @property
    @abc.abstractmethod
    def stream_handle(self) -> int:
        """The stream as the integer TensorRT's execute_async_v3 takes."""

    @abc.abstractmethod
    def pinned_empty(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
        """A page-locked host array (asynchronous copies need page-locked memory)."""

    @abc.abstractmethod
    def device_alloc(self, nbytes: int) -> int:
        """Device memory of at least `nbytes`; returns its address. Freed by close()."""

    @abc.abstractmethod
    def copy_to_device(self, address: int, host: np.ndarray) -> None:
        """Queue host -> device on the stream."""

    @abc.abstractmethod
    def copy_to_host(self, host: np.ndarray, address: int) -> None:
        """Queue device -> host on the stream."""

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Wait for everything queued on the stream."""

    @abc.abstractmethod
    def record_start(self) -> None:
        """Record the start event on the stream (GPU time = work queued between start and stop)."""

    @abc.abstractmethod
    def record_stop(self) -> None:
        """Record the stop event on the stream."""

    @abc.abstractmethod
    def elapsed_ms(self) -> float:
        """Milliseconds of GPU time between the last start and stop events (waits for the stop event)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Free every buffer, event and the stream."""

    def _activate(self) -> None:  # noqa: B027 - cuda-python needs nothing here
        """Make this device current on the calling thread."""

    def _deactivate(self) -> None:  # noqa: B027
        """Undo _activate."""


class PycudaDevice(CudaDevice):
    binding = "pycuda"

    def __init__(self, index: int = 0) -> None:
        import pycuda.driver as cuda

        self._cuda = cuda
        try:
            cuda.init()
            if index >= cuda.Device.count():
                raise no_gpu(f"CUDA sees {cuda.Device.count()} device(s)", index)
            device = cuda.Device(index)
            major, minor = device.compute_capability()
            super().__init__(index, str(device.name()), f"{major}.{minor}")
            # The CUDA runtime's primary context (the one TensorRT uses), not pycuda.autoinit's own context.
            self._context = device.retain_primary_context()
        except cuda.Error as exc:
            raise no_gpu(f"CUDA says {str(exc).strip()}", index) from exc
        self._allocations: list[Any] = []
        self._pinned: list[np.ndarray] = []
        with self.current():
            self._stream = cuda.Stream()
            self._start, self._stop = cuda.Event(), cuda.Event()

    def _activate(self) -> None:
        self._context.push()

    def _deactivate(self) -> None:
        self._cuda.Context.pop()

    @property
    def stream_handle(self) -> int:
        return int(self._stream.handle)

    def pinned_empty(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
        array: np.ndarray = self._cuda.pagelocked_empty(shape, dtype)
        self._pinned.append(array)
        return array

    def device_alloc(self, nbytes: int) -> int:
        allocation = self._cuda.mem_alloc(max(nbytes, 1))
        self._allocations.append(allocation)
        return int(allocation)

    def copy_to_device(self, address: int, host: np.ndarray) -> None:
        self._cuda.memcpy_htod_async(address, host, self._stream)

    def copy_to_host(self, host: np.ndarray, address: int) -> None:
        self._cuda.memcpy_dtoh_async(host, address, self._stream)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def record_start(self) -> None:
        self._start.record(self._stream)

    def record_stop(self) -> None:
        self._stop.record(self._stream)

    def elapsed_ms(self) -> float:
        self._stop.synchronize()
        return float(self._stop.time_since(self._start))

    def close(self) -> None:
        with self.current():
            self._stream.synchronize()
            for allocation in self._allocations:
                allocation.free()
            for array in self._pinned:
                array.base.free()  # type: ignore[union-attr]  # pycuda's HostAllocation
            self._allocations.clear()
            self._pinned.clear()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _import_cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python 12.6+
    except ImportError:
        from cuda import cudart  # cuda-python 11.8..12.x
    return cudart


class CudaPythonDevice(CudaDevice):
    binding = "cuda-python"

    def __init__(self, index: int = 0) -> None:
        self._cudart = _import_cudart()
        self._index = index
        try:
            err, count = self._cudart.cudaGetDeviceCount()
        except (RuntimeError, OSError) as exc:  # the binding loads libcudart on its first call
            raise no_gpu(f"cuda-python cannot load the CUDA runtime ({exc})", index) from exc
        if err != self._cudart.cudaError_t.cudaSuccess:
            raise no_gpu(f"CUDA says {self._error_text(err)}", index)
        if index >= count:
            raise no_gpu(f"CUDA sees {count} device(s)", index)
        props = self._check(self._cudart.cudaGetDeviceProperties(index))
        name = props.name.split(b"\0")[0].decode() if isinstance(props.name, bytes) else str(props.name)
        super().__init__(index, name, f"{props.major}.{props.minor}")
        self._device_buffers: list[int] = []
        self._host_buffers: list[int] = []
        with self.current():
            self._stream = self._check(self._cudart.cudaStreamCreate())
            self._start = self._check(self._cudart.cudaEventCreate())
            self._stop = self._check(self._cudart.cudaEventCreate())

    def _error_text(self, err: Any) -> str:
        name, text = self._cudart.cudaGetErrorName(err)[1], self._cudart.cudaGetErrorString(err)[1]
        return f"{_text(name)} ({_text(text)})"

    def _check(self, result: tuple[Any, ...]) -> Any:
        """cuda-python returns (error, *values); raise on an error, return the value(s)."""
        err, *values = result
        if err != self._cudart.cudaError_t.cudaSuccess:
            raise AslEdgeError(f"CUDA call failed: {self._error_text(err)}")
        return values[0] if len(values) == 1 else tuple(values)

    def _activate(self) -> None:
        # The current device is per thread; the primary context comes with it.
        self._check(self._cudart.cudaSetDevice(self._index))

    @property
    def stream_handle(self) -> int:
        return int(self._stream)

    def pinned_empty(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
        dt = np.dtype(dtype)
        nbytes = max(int(np.prod(shape)) * dt.itemsize, 1)
        address = int(self._check(self._cudart.cudaMallocHost(nbytes)))
        self._host_buffers.append(address)
        raw = np.ctypeslib.as_array(ctypes.cast(address, ctypes.POINTER(ctypes.c_ubyte)), (nbytes,))
        count = int(np.prod(shape))
        return raw[: count * dt.itemsize].view(dt).reshape(shape)

    def device_alloc(self, nbytes: int) -> int:
        address = int(self._check(self._cudart.cudaMalloc(max(nbytes, 1))))
        self._device_buffers.append(address)
        return address

    def copy_to_device(self, address: int, host: np.ndarray) -> None:
        kind = self._cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self._cudart.cudaMemcpyAsync(address, host.ctypes.data, host.nbytes, kind, self._stream))

    def copy_to_host(self, host: np.ndarray, address: int) -> None:
        kind = self._cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self._cudart.cudaMemcpyAsync(host.ctypes.data, address, host.nbytes, kind, self._stream))

    def synchronize(self) -> None:
        self._check(self._cudart.cudaStreamSynchronize(self._stream))

    def record_start(self) -> None:
        self._check(self._cudart.cudaEventRecord(self._start, self._stream))

    def record_stop(self) -> None:
        self._check(self._cudart.cudaEventRecord(self._stop, self._stream))

    def elapsed_ms(self) -> float:
        self._check(self._cudart.cudaEventSynchronize(self._stop))
        return float(self._check(self._cudart.cudaEventElapsedTime(self._start, self._stop)))

    def close(self) -> None:
        with self.current():
            self.synchronize()
            for address in self._device_buffers:
                self._check(self._cudart.cudaFree(address))
            for address in self._host_buffers:
                self._check(self._cudart.cudaFreeHost(address))
            self._device_buffers.clear()
            self._host_buffers.clear()
            self._check(self._cudart.cudaEventDestroy(self._start))
            self._check(self._cudart.cudaEventDestroy(self._stop))
            self._check(self._cudart.cudaStreamDestroy(self._stream))


# Tried in order; the first binding that imports is used.
CUDA_BINDINGS: dict[str, tuple[str, Callable[[int], CudaDevice]]] = {
    "pycuda": ("pycuda.driver", PycudaDevice),
    "cuda-python": ("cuda.bindings.runtime", CudaPythonDevice),
}


def _importable(module: str) -> bool:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return module == "cuda.bindings.runtime" and _old_cuda_python()
    return True


def _old_cuda_python() -> bool:
    try:
        from cuda import cudart  # noqa: F401
    except ImportError:
        return False
    return True


def open_cuda_device(index: int = 0, purpose: str = "the TensorRT backend",
                     binding: str = "auto") -> CudaDevice:
    """The GPU through pycuda, else cuda-python; one-line errors for no binding or no GPU."""
    names = list(CUDA_BINDINGS) if binding == "auto" else [binding]
    for name in names:
        if name not in CUDA_BINDINGS:
            raise AslEdgeError(f"unknown CUDA binding '{name}'; choose auto, {', '.join(CUDA_BINDINGS)}")
        module, device_class = CUDA_BINDINGS[name]
        if _importable(module):
            return device_class(index)
    raise MissingDependencyError("pycuda or cuda-python", purpose, CUDA_HINT)
