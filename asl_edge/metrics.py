"""Classification metrics in numpy: shared by training, export, evaluation and the benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClassificationReport:
    classes: tuple[str, ...]
    confusion: np.ndarray  # [true, predicted] counts
    top1: float
    top3: float

    @property
    def support(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    def per_class(self) -> list[dict[str, float | int | str]]:
        """Precision, recall, F1 and support per class."""
        tp = np.diag(self.confusion).astype(np.float64)
        predicted = self.confusion.sum(axis=0)
        actual = self.confusion.sum(axis=1)
        precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
        recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
        denom = precision + recall
        f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
        return [{"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for name, p, r, f, s in zip(self.classes, precision, recall, f1, actual, strict=True)]

    def to_dict(self) -> dict[str, object]:
        return {"top1": self.top1, "top3": self.top3, "classes": list(self.classes),
                "confusion": self.confusion.tolist(), "per_class": self.per_class()}

    def per_class_markdown(self) -> str:
        lines = ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {row['class']} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | "
                  f"{row['support']} |" for row in self.per_class()]
        return "\n".join(lines) + "\n"


def classification_report(probs: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> ClassificationReport:
    """Top-1/top-3 accuracy and the confusion matrix of (N, C) scores against (N,) true indices."""
    labels = np.asarray(labels, np.int64)
    n_classes = len(classes)
    predicted = probs.argmax(axis=1)
    confusion = np.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    k = min(3, n_classes)
    top3 = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    n = max(len(labels), 1)
    return ClassificationReport(
        classes=tuple(classes),
        confusion=confusion.reshape(n_classes, n_classes),
        top1=float((predicted == labels).sum() / n),
        top3=float((top3 == labels[:, None]).any(axis=1).sum() / n),
    )


def agreement(probs_a: np.ndarray, probs_b: np.ndarray) -> tuple[float, float]:
    """(max absolute probability difference, top-1 agreement) between two backends' outputs."""
    return float(np.abs(probs_a - probs_b).max()), float((probs_a.argmax(1) == probs_b.argmax(1)).mean())
