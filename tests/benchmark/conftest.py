"""A run folder for the benchmark tests: a tiny aslcnn trained by the real training loop on a few real
photographs, exported by the real export pipeline in every precision."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def checkpoint_only_run(tmp_path_factory: pytest.TempPathFactory, small_image_folder: Path) -> Path:
    from asl_edge.train.config import TrainConfig
    from asl_edge.train.loop import fit

    return fit(TrainConfig(data=small_image_folder, out=tmp_path_factory.mktemp("bench-train"), image_size=32,
                           epochs=1, batch_size=16, augment="none", device="cpu", seed=0))


@pytest.fixture(scope="session")
def exported_run(tmp_path_factory: pytest.TempPathFactory, checkpoint_only_run: Path) -> Path:
    """A copy of the run folder with model.onnx, model.fp16.onnx and model.int8.onnx beside checkpoint.pt."""
    from asl_edge.export.int8 import CalibrationOptions
    from asl_edge.export.pipeline import ExportOptions, export_all

    run = tmp_path_factory.mktemp("bench-run")
    shutil.copy(checkpoint_only_run / "checkpoint.pt", run / "checkpoint.pt")
    export_all(run / "checkpoint.pt", run, ExportOptions(calibration=CalibrationOptions(images=20)),
               progress=lambda message: None)
    return run
