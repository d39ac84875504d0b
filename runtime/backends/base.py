"""The interface every inference backend implements (after Polygraphy's BaseRunner).

A backend is created from a model file, checks its input against the ModelSpec, and maps a float32
NCHW batch to float32 class probabilities of shape (N, num_classes). Subclasses implement `_infer`
and optionally `_close`; callers use `infer`, `close` and the context manager.
"""

from __future__ import annotations

import abc
from types import TracebackType

import numpy as np

from asl_edge.errors import AslEdgeError, ModelError
from asl_edge.spec import ModelSpec


class Backend(abc.ABC):
    name: str = "backend"

    def __init__(self, spec: ModelSpec, precision: str = "fp32", device: str = "cpu") -> None:
        self.spec = spec
        self.precision = precision
        # What actually runs the model, e.g. "CPUExecutionProvider" or "NVIDIA Orin (TensorRT 10.3)".
        self.device = device
        self._closed = False

    # -- public ------------------------------------------------------------------------------------
    def infer(self, batch: np.ndarray) -> np.ndarray:
        if self._closed:
            raise AslEdgeError(f"{self.name} backend is closed")
        batch = self.check_input(batch)
        probs = self._infer(batch)
        if probs.shape != (batch.shape[0], self.spec.num_classes):
            raise ModelError(f"{self.name} returned shape {probs.shape}, expected "
                             f"({batch.shape[0]}, {self.spec.num_classes}); the model and its ModelSpec disagree")
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
        """float32 NCHW batch (already checked) -> float32 (N, num_classes) probabilities."""

    def _close(self) -> None:  # noqa: B027 - optional hook, most backends free nothing by hand
        """Release resources."""
