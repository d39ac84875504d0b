"""The interface every inference backend implements (after Polygraphy's BaseRunner).

A backend is created from a model file (`from_path`, whose keyword arguments are the backend's options:
`load_backend` refuses any other by name), checks its input against the ModelSpec, and maps a float32
batch in the spec's layout (NCHW or NHWC) to float32 class probabilities of shape (N, num_classes); a model
with a fixed batch size gets exactly that many samples per call. Subclasses implement `from_path` and
`_infer`, optionally `_close`, and state what they can do beyond that (`measures_gpu_time`); callers use
`infer`, `close` and the context manager.
"""

from __future__ import annotations

import abc
import inspect
import os
from types import TracebackType
from typing import Any, ClassVar

import numpy as np

from asl_edge.errors import AslEdgeError, ModelError
from asl_edge.spec import ModelSpec


class OutputShapeError(ModelError):
    """A model returned scores of another shape than (rows, num_classes); `shape` and `expected` say which."""

    def __init__(self, backend: str, shape: tuple[int, ...], expected: tuple[int, int]) -> None:
        super().__init__(f"{backend} returned shape {shape}, expected {expected}; the model and its ModelSpec "
                         "disagree")
        self.shape = shape
        self.expected = expected


class InferenceError(ModelError):
    """The runtime itself failed to run a batch (not an input asl-edge refused first): `shape` is the batch's
    shape and `reason` the runtime's own first line, for callers that word the failure for their context."""

    def __init__(self, message: str, shape: tuple[int, ...], reason: str) -> None:
        super().__init__(message)
        self.shape = shape
        self.reason = reason


class Backend(abc.ABC):
    name: str = "backend"
    # Capability: `last_gpu_ms` is the GPU compute time of the last `infer` (CUDA events, as trtexec reports it).
    measures_gpu_time: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec, precision: str = "fp32", device: str = "cpu") -> None:
        self.spec = spec
        self.precision = precision
        # What actually runs the model, e.g. "CPUExecutionProvider" or "NVIDIA Orin (TensorRT 10.3)".
        self.device = device
        self._closed = False

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Backend:
        """Open a model file. Subclasses add their options as keyword arguments with defaults."""

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The keyword options `from_path` takes, read from its signature."""
        parameters = list(inspect.signature(cls.from_path).parameters.values())[1:]  # after `path`
        return tuple(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY
                     or p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)

    @classmethod
    def open(cls, path: str | os.PathLike[str], **options: Any) -> Backend:
        """`from_path` with the options checked first: an unknown one is a ModelError naming it."""
        allowed = cls.option_names()
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
            raise ModelError(f"the {cls.name} backend has no option '{unknown[0]}'; {takes}")
        return cls.from_path(path, **options)

    # -- public ------------------------------------------------------------------------------------
    @property
    def last_gpu_ms(self) -> float:
        """GPU compute time of the last `infer` in milliseconds; only where `measures_gpu_time`."""
        raise AslEdgeError(f"the {self.name} backend does not measure GPU time (measures_gpu_time is False)")

    @property
    def fixed_batch(self) -> int | None:
        """The batch size every `_infer` call gets (a graph or engine with a fixed batch dimension, or the
        spec's `batch`), or None when any size goes. Subclasses that read it from the model override this."""
        return self.spec.fixed_batch

    def accepts_batch(self, size: int) -> bool:
        """Whether the model runs `size` samples in one call (otherwise `infer` splits or pads)."""
        return self.fixed_batch is None or self.fixed_batch == size

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, *spec.input_shape) -> float32 (N, num_classes) probabilities, for any N >= 1: a model
        with a fixed batch B gets B samples per call, the last part padded with zeros and its rows dropped."""
        if self._closed:
            raise AslEdgeError(f"{self.name} backend is closed")
        batch = self.check_input(batch)
        fixed = self.fixed_batch
        count = batch.shape[0]
        if fixed is None or count == fixed:
            probs = self._checked(self._infer(batch), count)
        else:
            parts = []
            for start in range(0, count, fixed):
                part = batch[start:start + fixed]
                rows = part.shape[0]
                if rows < fixed:
                    part = np.concatenate([part, np.zeros((fixed - rows, *part.shape[1:]), part.dtype)])
                parts.append(self._checked(self._infer(part), fixed)[:rows])
            probs = np.concatenate(parts) if parts else np.zeros((0, self.spec.num_classes), np.float32)
        return probs

    def _checked(self, probs: np.ndarray, rows: int) -> np.ndarray:
        if probs.shape != (rows, self.spec.num_classes):
            raise OutputShapeError(self.name, tuple(probs.shape), (rows, self.spec.num_classes))
        return probs

    def check_input(self, batch: np.ndarray) -> np.ndarray:
        sample = self.spec.input_shape
        if batch.ndim == len(sample):
            batch = batch[None]
        if batch.ndim != 1 + len(sample) or tuple(batch.shape[1:]) != sample:
            expected = f"(N, {', '.join(map(str, sample))})"
            if self.spec.inputs == "landmarks":
                hint = ("make feature vectors with asl_edge.landmark_features.landmark_features from the hand "
                        "stage's (N, 21, 3) landmarks")
            else:
                hint = "preprocess frames with asl_edge.preprocess and the model's spec"
            raise AslEdgeError(f"input of shape {tuple(batch.shape)} does not match the model's {expected} "
                               f"({self.spec.inputs} model); {hint}")
        if batch.dtype != np.float32:
            batch = batch.astype(np.float32)
        return np.ascontiguousarray(batch)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def describe(self) -> str:
        return f"{self.name} {self.precision} on {self.device}"

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- for subclasses ------------------------------------------------------------------------------
    @abc.abstractmethod
    def _infer(self, batch: np.ndarray) -> np.ndarray:
        """float32 batch (already checked; fixed_batch samples when that is set) -> float32 (N, num_classes)."""

    def _close(self) -> None:  # noqa: B027 - optional hook, most backends free nothing by hand
        """Release resources."""
