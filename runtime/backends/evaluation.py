"""Run a backend over labelled images with the shared preprocessing (no torch)."""

from __future__ import annotations

import numpy as np

from asl_edge.datasets import LabelledImages
from asl_edge.metrics import ClassificationReport, classification_report
from asl_edge.preprocess import preprocess_batches
from asl_edge.progress import Progress
from asl_edge.runtime.backends.base import Backend

# Images per inference call when scoring a dataset: enough to amortise each call's overhead, small enough
# (64 x 3 x 224 x 224 float32 = 39 MB at the largest input) for a Jetson's shared memory. ONNX Runtime's
# TensorRT provider builds its shape profile up to this batch, so evaluation never falls outside it.
EVAL_BATCH = 64


def predict(backend: Backend, data: LabelledImages, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """(N, num_classes) probabilities (the model's softmax output) for every image, in order."""
    chunks = []
    with Progress(len(data), "scoring", unit="image") as progress:
        for batch in preprocess_batches(data.images, backend.spec, batch_size):
            chunks.append(backend.infer(batch))
            progress.update(len(batch))
    return np.concatenate(chunks) if chunks else np.zeros((0, backend.spec.num_classes), np.float32)


def evaluate_backend(backend: Backend, data: LabelledImages, batch_size: int = EVAL_BATCH) -> ClassificationReport:
    """Accuracy and confusion of a backend on data whose classes are (a subset of) the model's labels."""
    data = data.relabel(backend.spec.labels)
    return classification_report(predict(backend, data, batch_size), data.labels, backend.spec.labels)
