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


# -- spelling: the one scorer of spelled text (Google's 2023 fingerspelling competition metric) ---------------
EDIT_OPS = ("match", "sub", "del", "ins")


@dataclass(frozen=True)
class EditOp:
    """One step of a Levenshtein alignment: `kind` one of EDIT_OPS; `truth`/`spelled` the index of the
    character in each string (None for the side a deletion or insertion lacks)."""

    kind: str
    truth: int | None
    spelled: int | None


def align(truth: str, spelled: str) -> list[EditOp]:
    """A minimum-cost alignment of `spelled` to `truth` (unit costs), in order. Among equal-cost alignments
    the one that pairs letters earliest is taken (a substitution before a deletion before an insertion,
    from the start): "AT" -> "ALL" is A=A, T->L, +L, reproducibly."""
    n, m = len(truth), len(spelled)
    # Backtracking from the end pairs letters as late as possible, so align the reversed strings and turn
    # the result around.
    return [EditOp(op.kind, None if op.truth is None else n - 1 - op.truth,
                   None if op.spelled is None else m - 1 - op.spelled)
            for op in reversed(_align_from_end(truth[::-1], spelled[::-1]))]


def _align_from_end(truth: str, spelled: str) -> list[EditOp]:
    n, m = len(truth), len(spelled)
    cost = np.zeros((n + 1, m + 1), np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            diagonal = cost[i - 1, j - 1] + (truth[i - 1] != spelled[j - 1])
            cost[i, j] = min(diagonal, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    ops: list[EditOp] = []
    i, j = n, m
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (truth[i - 1] != spelled[j - 1]):
            ops.append(EditOp("match" if truth[i - 1] == spelled[j - 1] else "sub", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            ops.append(EditOp("del", i - 1, None))
            i -= 1
        else:
            ops.append(EditOp("ins", None, j - 1))
            j -= 1
    return ops[::-1]


def levenshtein(truth: str, spelled: str) -> int:
    """Edits (insertions, deletions, substitutions) that turn `spelled` into `truth`."""
    return sum(op.kind != "match" for op in align(truth, spelled))


def letter_accuracy(truths: Sequence[str], spelled: Sequence[str]) -> float:
    """1 - total Levenshtein distance / total truth letters over all pairs (the 2023 competition's normalised
    total Levenshtein distance): 1 is perfect; it goes below 0 when more letters are invented than exist."""
    letters = sum(len(t) for t in truths)
    if letters == 0:
        return 0.0
    return 1.0 - sum(levenshtein(t, s) for t, s in zip(truths, spelled, strict=True)) / letters
