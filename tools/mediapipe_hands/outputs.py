"""Step 5 (first part): the test fixture of reference outputs."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from mediapipe_hands.common import FIXTURE_PER_SET, FIXTURE_TOP_ANCHORS, MODELS, PHOTO_SETS, ConversionError
from mediapipe_hands.inputs import sigmoid
from mediapipe_hands.parity import Sample

with contextlib.suppress(ImportError):  # main() names what to install
    import numpy as np


# --- 5. Outputs --------------------------------------------------------------------------------------

def pick_fixture(samples: list[Sample], ok: Any) -> list[Sample]:
    """FIXTURE_PER_SET samples of each photo set, spread over its letters, among those `ok` accepts."""
    chosen: list[Sample] = []
    for photo_set in PHOTO_SETS:
        good = [s for s in samples if s.photo_set == photo_set and ok(s)]
        if len(good) < FIXTURE_PER_SET:
            raise ConversionError(f"only {len(good)} usable fixture images from {photo_set}")
        step = len(good) / FIXTURE_PER_SET
        chosen += [good[int(i * step)] for i in range(FIXTURE_PER_SET)]
    return chosen


def palm_margin_ok(sample: Sample) -> bool:
    """A hand is found and the best anchor wins clearly in both palm models (a tie would make the test's
    'same top anchor' check flaky)."""
    for name in ("palm_detection_full", "palm_detection_lite"):
        p = np.sort(sigmoid(sample.tflite[name]["scores"][:, 0]))
        if p[-1] < 0.5 or p[-1] - p[-2] < 0.02:
            return False
    return True


def landmark_present(sample: Sample) -> bool:
    return all(float(sample.tflite[n]["presence"][0]) >= 0.5 for n in ("hand_landmark_full", "hand_landmark_lite"))


def fixture_bytes(palm: list[Sample], crops: list[Sample]) -> bytes:
    arrays: dict[str, np.ndarray] = {
        "palm_images": np.stack([s.image for s in palm]),
        "palm_sources": np.array([s.source for s in palm]),
        "landmark_images": np.stack([s.image for s in crops]),
        "landmark_sources": np.array([s.source for s in crops]),
    }
    for model in MODELS:
        if model.kind == "palm":
            logits = np.stack([s.tflite[model.name]["scores"][:, 0] for s in palm]).astype(np.float32)
            top = np.argsort(-logits, axis=1, kind="stable")[:, :FIXTURE_TOP_ANCHORS].astype(np.int32)
            regs = np.stack([s.tflite[model.name]["regressors"] for s in palm])
            arrays[f"{model.name}/scores"] = logits
            arrays[f"{model.name}/top_anchors"] = top
            arrays[f"{model.name}/top_regressors"] = np.take_along_axis(regs, top[..., None], axis=1)
        else:
            for key in ("landmarks", "presence", "handedness", "world_landmarks"):
                arrays[f"{model.name}/{key}"] = np.stack([s.tflite[model.name][key].ravel() for s in crops])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()
