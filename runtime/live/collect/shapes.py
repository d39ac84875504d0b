"""How far apart two handshapes are, for collect's two guards against mislabelled samples (issue 21 item 1).

A handshape is the hand's 21 landmarks with the wrist at the origin and the palm size as the unit (the
normalisation the landmark classifier reads, `asl_edge.landmark_features.normalise_landmarks`, left hands
mirrored), so where the hand is and how near the camera does not count, its orientation does. The distance is
the largest displacement of a landmark, in palm sizes: letters that differ by one finger (A/E, M/N, C/O) differ
in that finger, which an average over 21 points would dilute.

Measured with the bundled full hand models on fingerspelling-dev's letter clips (a signer holding each
letter; frames 4 apart in the held part, and the closest pair of frames of two different letters by the same
signer):
  the same letter held      median 0.03, 95th percentile 0.17
  two letters, closest pair 1st percentile 0.42, smallest 0.41 (C/O), then C/D 0.42, A/E 0.45, M/N 0.55
SAME_SHAPE sits between the two: samples of two letters closer than that are the same handshape (one of them is
mislabelled, or the signer makes both alike). CHANGED is what counts as the signer having formed another shape.
"""

from __future__ import annotations

import numpy as np

from asl_edge.landmark_features import normalise_landmarks

SAME_SHAPE = 0.25
CHANGED = 0.35


def handshape(landmarks: np.ndarray, handedness: np.ndarray | float = 1.0) -> np.ndarray:
    """(21, 3) or (N, 21, 3) pixel landmarks -> the same shape in palm units, wrist at the origin (N, 21, 3)."""
    return normalise_landmarks(landmarks, handedness)


def shape_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest landmark displacement between handshapes a (..., 21, 3) and b (..., 21, 3), broadcast, palm sizes."""
    return np.linalg.norm(a - b, axis=-1).max(axis=-1)
