"""INT8 (Q/DQ) export of a landmark MLP, calibrated on the run's training-split feature vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asl_edge.train.landmarks import CALIB_FEATURES, VAL_FEATURES
from tests.train.test_landmarks import train_tiny_run

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_run(tmp_path_factory.mktemp("landmark-int8"))


def test_training_writes_training_split_calibration_features(run: Path) -> None:
    with np.load(run / CALIB_FEATURES) as calib, np.load(run / VAL_FEATURES) as val:
        features, held_out = calib["features"], val["features"]
    assert features.dtype == np.float32 and features.shape[1:] == held_out.shape[1:]
    assert 0 < len(features) <= 1024
    # None of the held-out vectors is among the calibration ones.
    assert not (features[:, None, :] == held_out[None, :, :]).all(axis=2).any()


def test_int8_export_passes_the_qdq_rules_and_agrees_with_fp32(run: Path) -> None:
    import onnx
    import onnxruntime as ort

    from asl_edge.export.pipeline import ExportOptions, export_all
    from asl_edge.export.qdq_rules import qdq_violations

    lines: list[str] = []
    report = export_all(run, run / "export", ExportOptions(precisions=("fp32", "fp16", "int8")), progress=lines.append)
    path = run / "export" / "model.int8.onnx"
    assert path.is_file()
    model = onnx.load(str(path))
    assert qdq_violations(model) == []
    assert any(node.op_type == "QuantizeLinear" for node in model.graph.node)
    with np.load(run / VAL_FEATURES) as val:
        features = val["features"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.run(None, {"features": features})[0].shape[0] == len(features)
    rows = {r.precision: r for r in report.results}
    assert set(rows) == {"fp32", "fp16", "int8"}
    assert rows["int8"].agreement_vs_fp32 >= 0.90
    assert report.evaluation["int8_calibration"]["source"].startswith("training split")


def test_a_run_without_calibration_features_skips_int8(run: Path, tmp_path: Path) -> None:
    import shutil

    from asl_edge.export.pipeline import ExportOptions, export_all

    old = tmp_path / "old-run"
    old.mkdir()
    for name in ("checkpoint.pt", VAL_FEATURES):
        shutil.copy(run / name, old / name)
    lines: list[str] = []
    report = export_all(old, old, ExportOptions(precisions=("fp32", "int8")), progress=lines.append)
    assert [r.precision for r in report.results] == ["fp32"]
    assert not (old / "model.int8.onnx").exists()
    assert any("skipping INT8" in line and "retrain" in line for line in lines)
