"""Score classifiers side by side, letter by letter: landmarks models on a person's recorded samples
(`asl-edge collect`, `compare_on_samples`), or any models through the hand chain on labelled photos
(`compare_chain_results`, from one `evaluate_chain` per model).

The samples' landmarks are what the hand stage gave while recording, so each model sees exactly the feature
vectors the live chain would feed it (`asl_edge.landmark_features`); no photo is decoded and no hand model
runs, and the comparison works on a folder recorded with --no-frames. Which samples to score: the held-out
ids the personalised model's spec records (`trained_on["personalised"]`), so no model is scored on samples
it was fine-tuned on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from asl_edge.errors import DataError, ModelError
from asl_edge.landmark_features import landmark_features
from asl_edge.runtime.backends.base import Backend
from asl_edge.runtime.hand.collected import CollectedSamples
from asl_edge.runtime.hand.evaluate import ChainEvaluation
from asl_edge.spec import ModelSpec

BATCH = 256


def recorded_holdout(spec: ModelSpec) -> list[str] | None:
    """The held-out sample ids a personalised model records, or None for a model that was not personalised."""
    record = spec.trained_on.get("personalised")
    if not isinstance(record, dict) or "held_out_ids" not in record:
        return None
    return [str(i) for i in record["held_out_ids"]]


def predict_samples(backend: Backend, samples: CollectedSamples) -> np.ndarray:
    """(N,) predicted label of each sample, in the samples' order."""
    if backend.spec.inputs != "landmarks":
        raise ModelError(f"{backend.spec.arch} reads {backend.spec.inputs}; recorded samples are scored with "
                         "landmarks models (e.g. asl_edge/assets/asl_landmarks.onnx)")
    features = landmark_features(samples.landmarks, samples.handedness)
    if not len(features):  # a folder of J/Z strokes only
        return np.empty(0, str)
    index = np.concatenate([backend.infer(features[i:i + BATCH]).argmax(axis=1)
                            for i in range(0, len(features), BATCH)])
    return np.asarray(backend.spec.labels, dtype=object)[index].astype(str)


@dataclass(frozen=True)
class LetterComparison:
    """Per model name (in order): top-1 per letter and overall on the same samples."""

    models: list[str]
    letters: list[str]
    counts: dict[str, int]  # samples per letter
    correct: dict[str, dict[str, int]]  # model -> letter -> correct samples
    # Photos: letter -> photos where the first model's hand stage found a hand (the same hand models find the same
    # hands for every classifier); None for recorded samples, which all have a hand.
    hand_found: dict[str, int] | None = None

    def top1(self, model: str, letter: str | None = None) -> float:
        if letter is None:
            return sum(self.correct[model].values()) / max(sum(self.counts.values()), 1)
        return self.correct[model][letter] / max(self.counts[letter], 1)

    def table(self) -> str:
        """A plain-text table: one row per letter and one for all, one column per model."""
        width = max(12, *(len(m) for m in self.models))
        found = self.hand_found
        rows = ["letter  samples  " + ("hand found  " if found is not None else "")
                + "  ".join(f"{m:>{width}}" for m in self.models)]
        for letter in [*self.letters, None]:
            count = self.counts[letter] if letter else sum(self.counts.values())
            cells = "  ".join(f"{self.top1(m, letter):>{width}.1%}" for m in self.models)
            hits = (found.get(letter, 0) if letter else sum(found.values())) if found is not None else 0
            hand = f"{hits / max(count, 1):>10.1%}  " if found is not None else ""
            rows.append(f"{letter or 'all':<6}  {count:>7}  {hand}{cells}")
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        found, total = self.hand_found, max(sum(self.counts.values()), 1)
        return {"models": self.models, "samples": sum(self.counts.values()),
                "top1": {m: self.top1(m) for m in self.models},
                **({"hand_found": sum(found.values()) / total} if found is not None else {}),
                "per_letter": {k: {"samples": self.counts[k], **{m: self.top1(m, k) for m in self.models},
                                   **({"hand_found": found.get(k, 0) / max(self.counts[k], 1)}
                                      if found is not None else {})}
                               for k in self.letters}}


def compare_on_samples(backends: Sequence[tuple[str, Backend]], samples: CollectedSamples) -> LetterComparison:
    """Every (name, backend) on the same samples; a letter a model does not know is a DataError."""
    letters = list(samples.counts())
    for name, backend in backends:
        unknown = sorted(set(letters) - set(backend.spec.labels))
        if unknown:
            raise DataError(f"{name} does not know the recorded letter(s) {', '.join(unknown)}; compare models "
                            "that share the recorded letters")
    counts = {k: int((samples.labels == k).sum()) for k in letters}
    correct = {}
    for name, backend in backends:
        hits = predict_samples(backend, samples) == samples.labels
        correct[name] = {k: int(hits[samples.labels == k].sum()) for k in letters}
    return LetterComparison([name for name, _ in backends], letters, counts, correct)


def compare_chain_results(results: Sequence[tuple[str, ChainEvaluation]]) -> LetterComparison:
    """(name, evaluate_chain result) per model, all on the same photos, as one per-letter comparison."""
    first = results[0][1]
    letters = sorted(first.per_letter)
    counts = {k: first.per_letter[k][1] for k in letters}
    correct = {name: {k: result.per_letter[k][0] for k in letters} for name, result in results}
    return LetterComparison([name for name, _ in results], letters, counts, correct,
                            {k: first.found_per_letter.get(k, 0) for k in letters})
