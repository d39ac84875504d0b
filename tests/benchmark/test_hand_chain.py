"""`asl-edge benchmark` on the bundled landmarks model: the hand chain's models one by one and the whole chain
per frame (tracking on and off), with real ONNX Runtime sessions over the bundled 640x480 clip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asl_edge.apps.cli import main
from tests.conftest import REPO

LANDMARKS_MODEL = REPO / "asl_edge" / "assets" / "asl_landmarks.onnx"
QUICK = ["--iterations", "10", "--warmup", "0", "--batch", "1", "--pipeline-frames", "12", "--backends",
         "onnxruntime", "--precisions", "fp32", "--no-export"]


def test_landmarks_model_gets_the_chain_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["benchmark", "--model", str(LANDMARKS_MODEL), "--out", str(tmp_path), *QUICK])
    printed = capsys.readouterr().out
    assert code == 0, printed
    data = json.loads((tmp_path / "benchmark.json").read_text())
    assert [(r["backend"], r["precision"]) for r in data["rows"]] == [("onnxruntime", "fp32")]
    assert data["rows"][0]["top1"] is None and data["pipeline"] is None
    assert any("asl-edge eval MODEL --data FOLDER" in note for note in data["notes"])
    models = {row["name"]: row for row in data["hand"]["models"]}
    assert set(models) == {"palm (full)", "landmarks (full)", "classifier"}
    assert models["palm (full)"]["input_shape"] == [1, 3, 192, 192]
    assert models["landmarks (full)"]["input_shape"] == [1, 3, 224, 224]
    assert models["classifier"]["input_shape"] == [1, 111]
    for row in models.values():
        assert row["size_bytes"] == Path(row["file"]).stat().st_size
        latency = row["timing"]["latency_ms"]
        assert row["timing"]["calls"] == 10
        assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    chains = {(run["variant"], run["tracking"]): run for run in data["hand"]["chains"]}
    assert set(chains) == {("full", True), ("full", False)}
    for run in chains.values():
        assert run["frame_size"] == [640, 480] and run["frames"] == 12 and run["fps"] > 0
        assert {"detect", "landmarks", "infer"} <= set(run["stages_ms"])
        assert run["per_frame_ms"]["p50"] > 0
    # Without tracking the palm detector runs on every frame; with tracking on no more often.
    assert chains["full", False]["detections"] == 12
    assert chains["full", True]["detections"] <= 12
    markdown = (tmp_path / "benchmark.md").read_text()
    assert "## Hand chain" in markdown and "| palm (full) |" in markdown and "| full | off |" in markdown
    assert "hand chain models" in printed and "tracking" in printed


def test_unknown_hand_model_variant_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse rejects it before anything is measured
        main(["benchmark", "--model", str(LANDMARKS_MODEL), "--out", str(tmp_path), "--hand-models", "huge"])
    assert exited.value.code == 2
    assert "unknown hand model variant 'huge'" in capsys.readouterr().err
