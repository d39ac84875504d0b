"""ModelSpec's `inputs` kind (image or landmarks) and Backend.check_input for both kinds."""

from __future__ import annotations

import os

import numpy as np
import pytest

from asl_edge.errors import AslEdgeError, SpecError
from asl_edge.runtime.backends.base import Backend
from asl_edge.spec import INPUT_KINDS, ModelSpec, make_landmark_spec, make_spec


def test_old_specs_default_to_image_inputs() -> None:
    spec = ModelSpec.from_dict({"labels": ["A", "B"], "input_height": 28, "input_width": 28, "channels": 1,
                                "color": "gray", "mean": [0.5], "std": [0.5]})
    assert spec.inputs == "image" and spec.num_features == 0 and spec.input_shape == (1, 28, 28)


def test_landmark_spec_round_trips_and_has_a_vector_input() -> None:
    spec = make_landmark_spec(["A", "B", "space"], 111, datasets=["x"])
    assert spec.inputs in INPUT_KINDS and spec.input_shape == (111,)
    assert ModelSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(("overrides", "field"), [
    ({"inputs": "video"}, "inputs"),
    ({"num_features": 0}, "num_features"),
    ({"num_features": -3}, "num_features"),
    ({"num_features": 2.5}, "num_features"),
])
def test_bad_landmark_fields_are_named(overrides: dict[str, object], field: str) -> None:
    data = {**make_landmark_spec(["A", "B"], 10).to_dict(), **overrides}
    with pytest.raises(SpecError, match=f"'{field}'"):
        ModelSpec.from_dict(data)


def test_image_spec_rejects_num_features() -> None:
    data = {**make_spec(["A", "B"], "aslcnn", 28, "gray").to_dict(), "num_features": 5}
    with pytest.raises(SpecError, match="'num_features'"):
        ModelSpec.from_dict(data)


class Echo(Backend):
    name = "echo"

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Echo:
        raise AslEdgeError(f"{path}: the echo backend reads no files")

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        return np.full((batch.shape[0], self.spec.num_classes), 1.0 / self.spec.num_classes, np.float32)


def test_check_input_accepts_each_kind_and_explains_mismatches() -> None:
    image = Echo(make_spec(["A", "B"], "aslcnn", 28, "gray"))
    assert image.infer(np.zeros((3, 1, 28, 28))).shape == (3, 2)
    assert image.infer(np.zeros((1, 28, 28))).shape == (1, 2)
    with pytest.raises(AslEdgeError, match=r"\(N, 1, 28, 28\).*asl_edge.preprocess"):
        image.infer(np.zeros((3, 111), np.float32))
    landmarks = Echo(make_landmark_spec(["A", "B"], 111))
    assert landmarks.infer(np.zeros((4, 111))).shape == (4, 2)
    assert landmarks.infer(np.zeros(111)).shape == (1, 2)
    with pytest.raises(AslEdgeError, match=r"\(N, 111\).*landmark_features"):
        landmarks.infer(np.zeros((2, 1, 28, 28), np.float32))
