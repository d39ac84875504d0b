"""On an NVIDIA GPU with TensorRT: HandModels from the FP16 engines of `asl-edge build --hand-models`
against HandModels on ONNX Runtime (CPU), on the real photographs of tests/fixtures/hand_reference.npz,
through the same detect / landmarks interface the tracker uses. Skips elsewhere with the reason.

    pytest -m gpu tests/tensorrt/test_gpu_hand_models.py -v
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions
from asl_edge.runtime.hand.models import HandModels, TensorRTHandModels
from tests.tensorrt.gpu import gpu_marks

pytestmark = gpu_marks("the GPU hand model tests")

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "hand_reference.npz"
TOL_SCORE = 3e-2        # sigmoid(score) of every anchor, FP16 engine vs FP32 ONNX
TOL_REGRESSOR_PX = 1.5  # regressors of the 8 best anchors, pixels of the 192 input
TOL_LANDMARK_PX = 3.0   # landmark x, y, pixels of the 224 crop
TOL_PROBABILITY = 3e-2  # presence, handedness


def _tensor(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray((image.astype(np.float32) / 255.0).transpose(2, 0, 1)[None])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x.astype(np.float64), -100.0, 100.0)))


@pytest.mark.parametrize("variant", ["lite", "full"])
def test_engines_match_onnxruntime_on_photos(variant: str, tmp_path: Path) -> None:
    from asl_edge.export.trt_builder import build_chain

    build_chain(None, variant, BuildOptions(), cache_dir=tmp_path, log=print)
    with np.load(FIXTURE, allow_pickle=False) as data:
        palms, crops = data["palm_images"], data["landmark_images"]
    reference = HandModels.bundled(variant, "cpu")
    with TensorRTHandModels.from_cache(variant, tmp_path) as engines:
        assert engines.backend == "tensorrt" and engines.describe().startswith("TensorRT ")
        print(engines.describe())
        for image in palms:
            want_r, want_s = reference.detect(_tensor(image))
            got_r, got_s = engines.detect(_tensor(image))
            assert got_r.shape == (2016, 18) and got_s.shape == (2016,)
            assert float(np.abs(_sigmoid(got_s) - _sigmoid(want_s)).max()) < TOL_SCORE
            top = np.argsort(-want_s)[:8]
            assert float(np.abs(got_r[top] - want_r[top]).max()) < TOL_REGRESSOR_PX
        for image in crops:
            want, got = reference.landmarks(_tensor(image)), engines.landmarks(_tensor(image))
            assert float(np.abs(got.landmarks[:, :2] - want.landmarks[:, :2]).max()) < TOL_LANDMARK_PX
            assert abs(got.presence - want.presence) < TOL_PROBABILITY
            assert abs(got.handedness - want.handedness) < TOL_PROBABILITY
    # Closed: a further call is a clear error, not a crash.
    with pytest.raises(Exception, match="closed"):
        engines.detect(_tensor(palms[0]))
