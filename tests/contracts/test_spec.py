import json

import pytest

from asl_edge.errors import SpecError
from asl_edge.spec import ModelSpec, make_spec


def make(**overrides: object) -> ModelSpec:
    fields: dict[str, object] = {"labels": ["A", "B", "C"], "input_height": 28, "input_width": 28,
                                 "channels": 1, "color": "gray", "mean": [0.5], "std": [0.5]}
    fields.update(overrides)
    return ModelSpec.from_dict(fields)


def test_json_round_trip_keeps_every_field() -> None:
    spec = make_spec(["A", "B", "space"], "mobilenet_v3_small", (96, 128), "rgb", imagenet_stats=True,
                     dataset="asl-alphabet-mini", seed=3)
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert again.input_shape == (3, 96, 128)
    assert again.trained_on["seed"] == 3
    assert json.loads(spec.to_json())["version"] == 1


@pytest.mark.parametrize(("field", "value"), [
    ("labels", ["A"]),
    ("labels", ["A", "A"]),
    ("input_height", 0),
    ("input_width", "28"),
    ("color", "bgr"),
    ("channels", 3),
    ("resize", "squash"),
    ("mean", [0.5, 0.5]),
    ("std", [0.0]),
    ("scale", -1.0),
    ("layout", "CHWN"),
    ("batch", -1),
    ("labels", "ABC"),
    ("mean", 0.5),
    ("input_name", ""),
    ("version", 99),
])
def test_invalid_field_is_named(field: str, value: object) -> None:
    with pytest.raises(SpecError, match=f"'{field}'"):
        make(**{field: value})


def test_unknown_and_missing_fields_are_named() -> None:
    with pytest.raises(SpecError, match="'colour'"):
        make(colour="rgb")
    with pytest.raises(SpecError, match="'labels'"):
        ModelSpec.from_dict({"input_height": 28, "input_width": 28})
    with pytest.raises(SpecError, match="not JSON"):
        ModelSpec.from_json("{labels:")
