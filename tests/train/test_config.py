from __future__ import annotations

from pathlib import Path

import pytest

from asl_edge.errors import AslEdgeError
from asl_edge.train.config import TrainConfig


@pytest.mark.parametrize(("option", "value", "message"), [
    ("arch", "vgg", "arch: 'vgg' is not one of"),
    ("color", "cmyk", "color"),
    ("augment", "extreme", "augment: 'extreme' is not one of none, light, medium, heavy"),
    ("epochs", 0, "epochs"),
    ("image_size", 4, "image_size"),
    ("lr", 0.0, "lr"),
    ("label_smoothing", 1.0, "label_smoothing"),
    ("val_fraction", 1.5, "val_fraction"),
    ("schedule", "step", "schedule"),
    ("workers", -1, "workers"),
    ("weights", "imagenet", "aslcnn has no pretrained weights"),
])
def test_bad_option_is_one_line_error(option: str, value: object, message: str) -> None:
    with pytest.raises(AslEdgeError, match=message) as info:
        TrainConfig(data="x", **{option: value})  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_weights_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(AslEdgeError, match="neither 'imagenet', 'none' nor an existing file"):
        TrainConfig(data="x", arch="resnet18", weights=str(tmp_path / "missing.pth"))


def test_defaults_are_valid_and_serialisable() -> None:
    config = TrainConfig(data="data")
    assert isinstance(config.data, Path)
    assert config.to_dict()["data"] == "data" and config.hflip is False
