"""Parity: the same preprocessed images through PyTorch and through an exported graph, compared.

Both sides read the batches made by asl_edge.preprocess, so any difference is the export's, never the
preprocessing's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from asl_edge.datasets import LabelledImages
from asl_edge.errors import ModelError
from asl_edge.metrics import agreement
from asl_edge.preprocess import preprocess_batch
from asl_edge.spec import ModelSpec

# Max absolute difference of probabilities allowed between PyTorch and the FP32 graph.
DEFAULT_TOLERANCE = 1e-4


class ParityError(ModelError):
    """An exported graph whose outputs differ from PyTorch's beyond the tolerance."""


@dataclass(frozen=True)
class Comparison:
    max_abs_diff: float
    top1_agreement: float
    images: int

    @classmethod
    def of(cls, reference: np.ndarray, candidate: np.ndarray) -> Comparison:
        max_diff, agree = agreement(reference, candidate)
        return cls(max_diff, agree, len(reference))

    def to_dict(self) -> dict[str, float | int]:
        return {"max_abs_diff": self.max_abs_diff, "top1_agreement": self.top1_agreement, "images": self.images}


def torch_probabilities(model: Any, spec: ModelSpec, data: LabelledImages, batch_size: int = 64) -> np.ndarray:
    """(N, num_classes) softmax probabilities of a torch classifier, in float32."""
    import torch

    model.eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = torch.from_numpy(preprocess_batch(data.images[start:start + batch_size], spec))
            chunks.append(torch.softmax(model(batch), dim=1).numpy())
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, spec.num_classes), np.float32)


def require_parity(comparison: Comparison, tolerance: float, what: str) -> None:
    if not comparison.max_abs_diff <= tolerance:  # also catches NaN
        raise ParityError(f"{what} differs from PyTorch by up to {comparison.max_abs_diff:.3g} in probability "
                          f"(tolerance {tolerance:g}, top-1 agreement {comparison.top1_agreement:.2%} on "
                          f"{comparison.images} validation images); the export is wrong, not written")
