"""A tiny trained run shared by the training tests: aslcnn 28x28 gray on 5 classes of real photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from asl_edge.train.config import TrainConfig


def tiny_config(data: Path, out: Path, **overrides: object) -> TrainConfig:
    options: dict[str, object] = {"arch": "aslcnn", "image_size": 28, "color": "gray", "epochs": 2,
                                  "batch_size": 16, "lr": 3e-3, "augment": "light", "val_fraction": 0.25,
                                  "workers": 0}
    options.update(overrides)
    return TrainConfig(data=data, out=out, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, small_image_folder: Path) -> Path:
    from asl_edge.train.loop import fit

    return fit(tiny_config(small_image_folder, tmp_path_factory.mktemp("runs") / "tiny", epochs=3))
