"""After a collect session: is each letter's set of samples really that letter? (issue 21 item 1)

Two checks over the whole dataset, cheap and model-free first:
- look-alikes: a sample whose handshape (shapes.py) is within SAME_SHAPE of an earlier sample of another letter
  is flagged: the same hand pose under two labels means one of them is wrong, and the later one is the suspect
  (a prompt that changed while the hand did not) unless the bundled model reads the later one as its own label
  and the earlier one as another: then the earlier one is (a hand recorded under the wrong letter first, whose
  right samples would otherwise be the ones flagged, every time they were recorded again). Flagged samples stay on
  disk for the signer to look at, are listed in collect.json and left out of what `read_collected` gives
  training, until re-recorded;
- the bundled landmark model's reading of each sample, as a second opinion only: it is the model that
  personalisation corrects, so disagreeing is no fault, but a letter it reads as another that the signer also
  recorded is worth a look.
Each letter then gets a verdict: "sure" (no look-alikes, nothing closer than twice SAME_SHAPE to another
letter), "close to X" (no look-alikes, but X's shape is near: fine for letters like M/N, check the rest), or
"unsure" (look-alikes flagged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from asl_edge.runtime.hand.collected import CollectedSamples
from asl_edge.runtime.live.collect.shapes import SAME_SHAPE, handshape, shape_distance

CLOSE = 2 * SAME_SHAPE  # nearer than this to another letter: the verdict names it


@dataclass(frozen=True)
class LetterReview:
    """One letter of the dataset: its samples, how many are flagged and which letter they look like, the nearest
    other letter and its distance (palm sizes), and how many of them the bundled model reads as this letter."""

    letter: str
    samples: int
    flagged: int
    looks_like: str | None
    nearest: str | None
    nearest_distance: float
    model_agrees: int | None = None

    @property
    def verdict(self) -> str:
        if self.flagged:
            return "unsure"
        if self.nearest is not None and self.nearest_distance < CLOSE:
            return f"close to {self.nearest}"
        return "sure"

    def line(self) -> str:
        text = f"{self.letter}: {self.samples} samples, {self.verdict}"
        if self.flagged:
            text += (f" - {self.flagged} look like {self.looks_like}'s samples (was the hand still showing "
                     f"{self.looks_like}?), left out of training; record {self.letter} again")
        elif self.nearest is not None:
            text += f" (nearest other letter {self.nearest}, {self.nearest_distance:.2f} palm sizes)"
        if self.model_agrees is not None:
            text += f"; the bundled model reads {self.model_agrees}/{self.samples} as {self.letter}"
        return text


def flag_look_alikes(samples: CollectedSamples, predicted: np.ndarray | None = None) -> dict[str, dict[str, Any]]:
    """Sample id -> {"looks_like": letter, "sample": that letter's sample id, "distance": palm sizes}, for one of
    each pair of samples of two letters within SAME_SHAPE of each other, in recording order (the manifest's
    "flagged"): the later one, or the earlier one where `predicted` ((N,) the bundled model's label per sample)
    is the later one's label and not the earlier one's."""
    shapes = handshape(samples.landmarks, samples.handedness)
    labels = np.asarray(samples.labels).astype(str)
    flagged: dict[str, dict[str, Any]] = {}
    # A flagged sample is no evidence against later ones: an A recorded again must not be flagged for looking like
    # the flagged B samples that were copies of A.
    trusted = np.ones(len(samples), bool)
    for i in range(1, len(samples)):
        others = np.flatnonzero((labels[:i] != labels[i]) & trusted[:i])
        if not len(others):
            continue
        distances = shape_distance(shapes[i], shapes[others])
        j = int(others[np.argmin(distances)])
        if float(distances.min()) >= SAME_SHAPE:
            continue
        suspect, kept = i, j
        if predicted is not None and predicted[i] == labels[i] and predicted[j] != labels[j]:
            suspect, kept = j, i
        trusted[suspect] = False
        flagged[str(samples.ids[suspect])] = {"looks_like": str(labels[kept]), "sample": str(samples.ids[kept]),
                                              "distance": round(float(distances.min()), 4)}
    return flagged


def review_letters(samples: CollectedSamples, flagged: dict[str, dict[str, Any]],
                   predicted: np.ndarray | None = None) -> list[LetterReview]:
    """One review per letter of the dataset, in sorted order. `predicted`: the bundled model's label per sample."""
    shapes = handshape(samples.landmarks, samples.handedness)
    labels = np.asarray(samples.labels).astype(str)
    ids = np.asarray(samples.ids).astype(str)
    is_flagged = np.array([i in flagged for i in ids], bool)
    reviews = []
    for letter in sorted(set(labels)):
        mine = labels == letter
        others = ~mine & ~is_flagged
        nearest, distance = None, float("inf")
        if others.any():
            table = shape_distance(shapes[mine][:, None], shapes[others][None])  # (mine, others)
            k = int(np.unravel_index(np.argmin(table), table.shape)[1])
            nearest, distance = str(labels[others][k]), float(table.min())
        alike = [str(flagged[i]["looks_like"]) for i in ids[mine & is_flagged]]
        reviews.append(LetterReview(letter, int(mine.sum()), len(alike), max(set(alike), key=alike.count)
                                    if alike else None, nearest, distance,
                                    None if predicted is None else int((predicted[mine] == letter).sum())))
    return reviews
