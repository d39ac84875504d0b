"""Run a backend over labelled images with the shared preprocessing (no torch)."""

from __future__ import annotations

import numpy as np

from asl_edge.datasets import LabelledImages
from asl_edge.metrics import ClassificationReport, classification_report
from asl_edge.preprocess import preprocess_batch
from asl_edge.runtime.backends.base import Backend


def predict(backend: Backend, data: LabelledImages, batch_size: int = 64) -> np.ndarray:
    """(N, num_classes) probabilities for every image, in order."""
    chunks = [backend.infer(preprocess_batch(data.images[i:i + batch_size], backend.spec))
              for i in range(0, len(data), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, backend.spec.num_classes), np.float32)


def evaluate_backend(backend: Backend, data: LabelledImages, batch_size: int = 64) -> ClassificationReport:
    """Accuracy and confusion of a backend on data whose classes are (a subset of) the model's labels."""
    data = data.relabel(backend.spec.labels)
    return classification_report(predict(backend, data, batch_size), data.labels, backend.spec.labels)
