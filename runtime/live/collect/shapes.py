"""How far apart two handshapes are, for collect's two guards against mislabelled samples (issue 21 item 1).

A handshape is the hand's 21 landmarks with the wrist at the origin and the palm size as the unit (the
normalisation the landmark classifier reads, `asl_edge.landmark_features.normalise_landmarks`, left hands
mirrored), so where the hand is and how near the camera does not count, its orientation does. The distance is
the largest displacement of a landmark, in palm sizes: letters that differ by one finger (A/E, M/N, C/O) differ
in that finger, which an average over 21 points would dilute.

Measured with the bundled full hand models on fingerspelling-dev's letter clips (5 signers x 24 still letters,
every 4th frame of the middle 60 % of each clip, so frames of the hand still settling are in):
  one letter held, frames 4 apart           median 0.03, 95th percentile 0.18
  two letters of one signer, closest frames  1st percentile 0.25; 4 of 1,380 letter pairs closer than 0.15
                                             (U/V 0.10, D/S 0.12, R/U 0.14, E/T 0.14), 24 closer than 0.3, 32 than 0.35
SAME_SHAPE: samples of two letters closer than this are one handshape (a held pose repeats at about 0.03); one
of them is mislabelled, or the signer makes the two alike, and either way the signer should look. CHANGED: what
counts as having formed another shape; for the ~2 % of letter pairs closer than that the signer lowers the hand
between them (collect's status line says so).
"""

from __future__ import annotations

import numpy as np

from asl_edge.landmark_features import normalise_landmarks

SAME_SHAPE = 0.15
CHANGED = 0.35


def handshape(landmarks: np.ndarray, handedness: np.ndarray | float = 1.0) -> np.ndarray:
    """(21, 3) or (N, 21, 3) pixel landmarks -> the same shape in palm units, wrist at the origin (N, 21, 3)."""
    return normalise_landmarks(landmarks, handedness)


def shape_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest landmark displacement between handshapes a (..., 21, 3) and b (..., 21, 3), broadcast, palm sizes."""
    return np.linalg.norm(a - b, axis=-1).max(axis=-1)
