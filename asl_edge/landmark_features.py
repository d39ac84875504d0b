"""21 hand landmarks to the feature vector a landmarks classifier reads (numpy only; train and runtime share it).

Input: `landmarks` (N, 21, 3) or (21, 3) float, MediaPipe's hand landmarks in pixels of the original image
(x right, y down, origin top-left; z relative depth in the same pixel scale, smaller = closer, wrist ≈ 0), and
`handedness` (N,) or a float: the probability that the hand is a RIGHT hand in the unmirrored image.

Normalisation (per hand): translate so the wrist (landmark 0) is the origin; mirror left hands
(handedness < 0.5) to right hands by negating x; divide by the palm size, the mean 3-D distance from the
wrist to the index, middle, ring and pinky MCPs (landmarks 5, 9, 13, 17). Orientation is deliberately KEPT
(no in-plane rotation): letters such as G/H (sideways), P/Q (pointing down) and U/H differ by orientation.
A hand of all zeros (the hand stage found nothing) gives an all-zero feature vector.

Output (N, NUM_FEATURES) float32, NUM_FEATURES = 111, blocks in this order (FEATURE_BLOCKS):
  coords      63  normalised (x, y, z) of landmarks 0..20, row-major (landmark-major), palm units;
                  y still points down the image
  tip_dists   10  3-D distances between the fingertips (4, 8, 12, 16, 20), pairs (i<j) in that order,
                  palm units
  tip_wrist    5  3-D distance of each fingertip from the wrist, palm units (finger extension)
  bends       15  bend at each finger joint, angle between consecutive bone vectors in radians / pi
                  (0 straight .. 1 folded back): thumb at 1, 2, 3, then index at 5, 6, 7, middle at 9, 10, 11,
                  ring at 13, 14, 15, pinky at 17, 18, 19
  directions  15  unit vector (x, y, z) from each finger's base (thumb 1, others their MCP) to its tip,
                  thumb..pinky (pointing direction)
  palm_normal  3  unit normal of the palm, cross(index MCP − wrist, pinky MCP − wrist), after mirroring
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 21
WRIST = 0
PALM_MCPS = (5, 9, 13, 17)
FINGERTIPS = (4, 8, 12, 16, 20)
# The landmark chain of each finger, wrist first: thumb, index, middle, ring, pinky.
FINGERS = ((0, 1, 2, 3, 4), (0, 5, 6, 7, 8), (0, 9, 10, 11, 12), (0, 13, 14, 15, 16), (0, 17, 18, 19, 20))
# The joints whose bend is measured, and the base each finger's pointing direction starts from.
BEND_JOINTS = (1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19)
FINGER_BASES = (1, 5, 9, 13, 17)

FEATURE_BLOCKS: tuple[tuple[str, int], ...] = (
    ("coords", NUM_LANDMARKS * 3),
    ("tip_dists", len(FINGERTIPS) * (len(FINGERTIPS) - 1) // 2),
    ("tip_wrist", len(FINGERTIPS)),
    ("bends", len(BEND_JOINTS)),
    ("directions", len(FINGER_BASES) * 3),
    ("palm_normal", 3),
)
NUM_FEATURES = sum(size for _, size in FEATURE_BLOCKS)

_EPS = 1e-6
_TIP_PAIRS = tuple((a, b) for i, a in enumerate(FINGERTIPS) for b in FINGERTIPS[i + 1:])


def _parents_and_children() -> tuple[list[int], list[int]]:
    parents, children = [], []
    for joint in BEND_JOINTS:
        chain = next(f for f in FINGERS if joint in f[1:-1])
        k = chain.index(joint)
        parents.append(chain[k - 1])
        children.append(chain[k + 1])
    return parents, children


_BEND_PARENTS, _BEND_CHILDREN = _parents_and_children()


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(norm > _EPS, v / np.maximum(norm, _EPS), 0.0)


def normalise_landmarks(landmarks: np.ndarray, handedness: np.ndarray | float) -> np.ndarray:
    """(N, 21, 3) or (21, 3) -> (N, 21, 3) float64: wrist at the origin, left hands mirrored, palm size 1."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim == 2:
        points = points[None]
    if points.ndim != 3 or points.shape[1:] != (NUM_LANDMARKS, 3):
        raise ValueError(f"landmarks must be (N, 21, 3) or (21, 3), got {np.shape(landmarks)}")
    right = np.broadcast_to(np.asarray(handedness, dtype=np.float64).reshape(-1), (points.shape[0],))
    points = points - points[:, WRIST:WRIST + 1]
    sign = np.where(right < 0.5, -1.0, 1.0)
    points = points * np.stack([sign, np.ones_like(sign), np.ones_like(sign)], axis=-1)[:, None, :]
    palm = np.linalg.norm(points[:, list(PALM_MCPS)], axis=-1).mean(axis=1)
    # An all-zero hand (nothing found) stays all zeros instead of dividing by zero.
    scale = np.where(palm > _EPS, 1.0 / np.maximum(palm, _EPS), 0.0)
    return points * scale[:, None, None]


def landmark_features(landmarks: np.ndarray, handedness: np.ndarray | float) -> np.ndarray:
    """(N, 21, 3) or (21, 3) landmarks + right-hand probability -> (N, NUM_FEATURES) float32 (module docstring)."""
    p = normalise_landmarks(landmarks, handedness)
    n = p.shape[0]
    coords = p.reshape(n, NUM_LANDMARKS * 3)  # explicit widths: N may be 0
    tips = np.stack([p[:, a] - p[:, b] for a, b in _TIP_PAIRS], axis=1)
    tip_dists = np.linalg.norm(tips, axis=-1)
    tip_wrist = np.linalg.norm(p[:, list(FINGERTIPS)], axis=-1)
    incoming = _unit(p[:, BEND_JOINTS] - p[:, _BEND_PARENTS])
    outgoing = _unit(p[:, _BEND_CHILDREN] - p[:, BEND_JOINTS])
    cosine = np.clip(np.sum(incoming * outgoing, axis=-1), -1.0, 1.0)
    # Zero-length bones (an empty hand) give a zero cosine; report those joints as straight (0).
    valid = (np.linalg.norm(incoming, axis=-1) > 0) & (np.linalg.norm(outgoing, axis=-1) > 0)
    bends = np.where(valid, np.arccos(cosine) / np.pi, 0.0)
    directions = _unit(p[:, list(FINGERTIPS)] - p[:, list(FINGER_BASES)]).reshape(n, len(FINGER_BASES) * 3)
    normal = _unit(np.cross(p[:, 5], p[:, 17]))
    features = np.concatenate([coords, tip_dists, tip_wrist, bends, directions, normal], axis=1)
    return features.astype(np.float32)
