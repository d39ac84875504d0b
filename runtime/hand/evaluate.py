"""Score the runtime's hand chain on an image folder, photo by photo, exactly as `run` would see them.

Photos where no hand is found count as wrong unless the fallback model gets them right, and are reported
on their own. Accuracy is also broken down per letter and per group of photos, where a group is the file
name up to its first "_" (massey-dev's `hand3_...`: one group per signer).
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asl_edge.datasets import HeldOutSplit, read_image
from asl_edge.errors import DataError
from asl_edge.metrics import ClassificationReport, classification_report
from asl_edge.progress import Progress
from asl_edge.runtime.hand.chain import HandChain
from asl_edge.spec import ModelSpec


@dataclass
class ChainEvaluation:
    report: ClassificationReport  # over the classifier's labels, every photo counted
    photos: int
    hand_found: int
    sources: dict[str, int]  # how many photos each chain source scored (landmarks, fallback, none, ...)
    correct_with_hand: int
    per_group: dict[str, tuple[int, int]] = field(default_factory=dict)  # group -> (correct, photos)
    per_letter: dict[str, tuple[int, int]] = field(default_factory=dict)
    found_per_letter: dict[str, int] = field(default_factory=dict)  # letter -> photos where a hand was found

    @property
    def top1(self) -> float:
        return self.report.top1

    def summary_lines(self) -> list[str]:
        found = self.hand_found / max(self.photos, 1)
        with_hand = self.correct_with_hand / max(self.hand_found, 1)
        lines = [f"top-1 {self.top1:.4f} on {self.photos} photos; hand found in {found:.1%} "
                 f"({self.hand_found}), top-1 where found {with_hand:.4f}; scored by "
                 + ", ".join(f"{name} {count}" for name, count in sorted(self.sources.items()))]
        if len(self.per_group) > 1:
            lines.append("per group: " + ", ".join(f"{g} {c / n:.1%} ({c}/{n})"
                                                   for g, (c, n) in sorted(self.per_group.items())))
        lines.append("per letter: " + ", ".join(f"{k} {c / n:.0%}" for k, (c, n) in sorted(self.per_letter.items())))
        # Where the hand stage misses is letter-specific (a fist seen edge-on, fingers hiding the palm): said per
        # letter, so a letter's low top-1 can be told apart from its hand not being found.
        lines.append("hand found per letter: " + ", ".join(
            f"{k} {self.found_per_letter.get(k, 0) / n:.0%}" for k, (_, n) in sorted(self.per_letter.items())))
        return lines

    def markdown(self) -> str:
        rows = ["| group | top-1 | photos |", "|---|---:|---:|"]
        rows += [f"| {g} | {c / n:.1%} | {n} |" for g, (c, n) in sorted(self.per_group.items())]
        rows += ["", "| letter | top-1 | photos | hand found |", "|---|---:|---:|---:|"]
        rows += [f"| {k} | {c / n:.1%} | {n} | {self.found_per_letter.get(k, 0) / n:.1%} |"
                 for k, (c, n) in sorted(self.per_letter.items())]
        return "\n".join(rows) + "\n"


def evaluate_chain(chain: HandChain, paths: Sequence[Path], true_labels: Sequence[str]) -> ChainEvaluation:
    """Run the chain on each photo (no tracking between photos) and score it against its label. Photos that
    cannot be read (`datasets.read_image`) are skipped with one warning listing them, as every reader does;
    DataError when none can."""
    labels = chain.labels
    unknown = sorted(set(true_labels) - set(labels))
    if unknown:
        raise DataError(f"the data has classes the model does not know: {', '.join(unknown)}; evaluate on a folder "
                        "whose classes are among the model's labels")
    probs = np.zeros((len(paths), len(labels)), np.float32)
    sources: dict[str, int] = defaultdict(int)
    found = np.zeros(len(paths), bool)
    readable = np.ones(len(paths), bool)
    with Progress(len(paths), "eval", unit="photo") as progress:
        for i, path in enumerate(paths):
            image = read_image(path)
            progress.update()
            if image is None:
                readable[i] = False
                continue
            chain.tracker.reset()
            out = chain.classify(image)
            probs[i], found[i] = out.probs, out.hand is not None
            sources[out.source] += 1
    if not readable.all():
        bad = [str(path) for path, ok in zip(paths, readable, strict=True) if not ok]
        print(f"warning: skipped {len(bad)} unreadable image(s): {', '.join(bad[:10])}"
              f"{f' and {len(bad) - 10} more' if len(bad) > 10 else ''}", file=sys.stderr)
        if not readable.any():
            raise DataError("none of the photos could be read; pass a folder of class folders of .jpg/.png photos")
        lost = sorted(set(true_labels) - {label for label, ok in zip(true_labels, readable, strict=True) if ok})
        if lost:  # as datasets.load_image_folder refuses it for an image model
            raise DataError(f"no photo of {', '.join(lost)} can be read (see the warning above); replace them with "
                            "photos that open, or remove the folder")
        keep = np.flatnonzero(readable)
        paths, true_labels = [paths[i] for i in keep.tolist()], [true_labels[i] for i in keep.tolist()]
        probs, found = probs[keep], found[keep]
    truth = np.array([labels.index(label) for label in true_labels], np.int64)
    correct = probs.argmax(axis=1) == truth
    per_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_letter: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    found_per_letter: dict[str, int] = defaultdict(int)
    for path, label, ok, hit in zip(paths, true_labels, correct, found, strict=True):
        found_per_letter[label] += int(hit)
        group = path.name.split("_")[0] if "_" in path.name else "all"
        for table, key in ((per_group, group), (per_letter, label)):
            table[key][0] += int(ok)
            table[key][1] += 1
    return ChainEvaluation(classification_report(probs, truth, labels), len(paths), int(found.sum()), dict(sources),
                           int(correct[found].sum()), {k: (c, n) for k, (c, n) in per_group.items()},
                           {k: (c, n) for k, (c, n) in per_letter.items()}, dict(found_per_letter))


def held_out_photos(spec: ModelSpec, data: str | os.PathLike[str], paths: list[Path], labels: list[str],
                    classes: list[str], split: str) -> tuple[list[Path], list[str], str]:
    """The photos to score: every photo, or (split "val", or "auto" on one of the model's training folders) the
    held-out part the model's training recorded (`HeldOutSplit.recorded`)."""
    recorded = HeldOutSplit.recorded(spec.trained_on) or HeldOutSplit(())
    trained = [Path(p).name for p in recorded.datasets]
    is_training_data = recorded.includes(data)
    if split == "all" or (split == "auto" and not is_training_data):
        return paths, labels, "all"
    if not is_training_data:
        raise DataError(f"--split val: {data} is not one of the model's training folders "
                        f"({', '.join(map(str, trained)) or 'none recorded'}); use --split all")
    index = np.array([classes.index(label) for label in labels], np.int64)
    val = recorded.held_out_indices(index)
    return ([paths[i] for i in val], [labels[i] for i in val],
            f"held-out {recorded.val_fraction:.0%} (seed {recorded.seed})")
