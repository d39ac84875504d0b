"""Fixtures for the export tests: a checkpoint trained by the real training loop on a few real photographs,
and one full export of it in every precision."""

from __future__ import annotations

from pathlib import Path

import pytest

from asl_edge.export.int8 import CalibrationOptions
from asl_edge.export.pipeline import ExportOptions, export_all
from asl_edge.export.report import ExportReport


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory, small_image_folder: Path) -> Path:
    from asl_edge.train.config import TrainConfig
    from asl_edge.train.loop import fit

    run = fit(TrainConfig(data=small_image_folder, out=tmp_path_factory.mktemp("run"), image_size=32, color="rgb",
                          epochs=1, batch_size=16, augment="none", device="cpu", seed=0))
    return run / "checkpoint.pt"


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory, trained_checkpoint: Path) -> tuple[Path, ExportReport]:
    out = tmp_path_factory.mktemp("export")
    options = ExportOptions(precisions=("fp32", "fp16", "int8"), calibration=CalibrationOptions(images=20))
    return out, export_all(trained_checkpoint, out, options, progress=lambda message: None)


@pytest.fixture(scope="session")
def landmark_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landmark MLP of 3 classes (A, B, C) trained for 3 epochs on synthetic hands, recording the dataset "mini"."""
    from asl_edge.train.landmarks import LandmarkTrainConfig, fit_landmarks
    from tests.train.test_landmarks import synthetic_set

    out = tmp_path_factory.mktemp("landmark-run")
    fit_landmarks([("mini", synthetic_set(["A", "B", "C"], 20, seed=3))], out,
                  LandmarkTrainConfig(epochs=3, batch_size=32), progress=lambda line: None)
    return out
