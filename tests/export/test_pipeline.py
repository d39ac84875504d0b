"""export_all on a checkpoint from the real training loop: every precision, its metadata, its numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from asl_edge.datasets import load_splits
from asl_edge.errors import AslEdgeError, DataError
from asl_edge.export.int8 import CalibrationOptions, calibration_set
from asl_edge.export.pipeline import FILE_NAMES, REPORT_JSON, REPORT_MARKDOWN, parse_precisions
from asl_edge.export.qdq_rules import qdq_violations
from asl_edge.export.report import ExportReport
from asl_edge.onnx_header import read_onnx_spec
from asl_edge.preprocess import preprocess_batch
from asl_edge.runtime.backends.evaluation import evaluate_backend
from asl_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
from asl_edge.spec import ONNX_PRECISION_KEY
from asl_edge.train.checkpoint import load_checkpoint

Exported = tuple[Path, ExportReport]


def test_every_precision_is_a_checked_graph_carrying_the_spec(exported: Exported, trained_checkpoint: Path) -> None:
    out, report = exported
    spec = load_checkpoint(trained_checkpoint).spec
    assert [r.precision for r in report.results] == ["fp32", "fp16", "int8"]
    for precision, name in FILE_NAMES.items():
        model = onnx.load(str(out / name))
        onnx.checker.check_model(model, full_check=True)
        assert read_onnx_spec(out / name) == spec
        assert {p.key: p.value for p in model.metadata_props}[ONNX_PRECISION_KEY] == precision
        assert [o.version for o in model.opset_import if o.domain == ""] == [17]
        (graph_input,) = model.graph.input
        assert graph_input.name == "input" and graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert graph_input.type.tensor_type.shape.dim[0].dim_param  # dynamic batch
        assert [o.name for o in model.graph.output] == ["probabilities"]
        assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    fp16_weights = {i.data_type for i in onnx.load(str(out / FILE_NAMES["fp16"])).graph.initializer}
    assert onnx.TensorProto.FLOAT16 in fp16_weights and onnx.TensorProto.FLOAT not in fp16_weights
    assert qdq_violations(onnx.load(str(out / FILE_NAMES["int8"]))) == []
    assert not list(out.glob(".*")), "staging files left behind"


def test_report_numbers_match_an_independent_evaluation(exported: Exported, trained_checkpoint: Path) -> None:
    out, report = exported
    spec = load_checkpoint(trained_checkpoint).spec
    _, val = load_splits(spec.trained_on["dataset"], None, spec.trained_on["val_fraction"], spec.trained_on["seed"])
    assert report.evaluation["images"] == len(val) > 0
    assert report.parity["max_abs_diff"] < 1e-4 and report.parity["top1_agreement"] == 1.0
    probs = {}
    batch = preprocess_batch(val.images, spec)
    for row in report.results:
        # The runtime's own backend (optimised kernels) gives the "ORT CPU kernels" column...
        with OnnxRuntimeBackend.from_path(out / row.file, provider="cpu") as backend:
            assert backend.precision == row.precision
            assert evaluate_backend(backend, val).top1 == pytest.approx(row.top1_ort_cpu)
            probs[row.precision] = backend.infer(np.stack([np.zeros(spec.input_shape, np.float32)] * 3))
        # ... and the graph run as specified, unoptimised, gives the top-1 column.
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(str(out / row.file), options, providers=["CPUExecutionProvider"])
        (graph_probs,) = session.run(["probabilities"], {"input": batch})
        assert (graph_probs.argmax(1) == val.labels).mean() == pytest.approx(row.top1)
        assert row.size_bytes == (out / row.file).stat().st_size
    sizes = {r.precision: r.size_bytes for r in report.results}
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"]
    fp16 = next(r for r in report.results if r.precision == "fp16")
    assert fp16.max_prob_diff_vs_fp32 < 1e-2
    for p in probs.values():
        assert p.shape == (3, spec.num_classes) and np.allclose(p.sum(axis=1), 1.0, atol=1e-2)
    # On the CPU, ONNX Runtime fuses the Q/DQ pairs into integer kernels.
    int8_ops = next(r for r in report.results if r.precision == "int8").executed_operators
    assert int8_ops.get("QLinearConv", 0) >= 1
    saved = json.loads((out / REPORT_JSON).read_text())
    assert [r["precision"] for r in saved["results"]] == ["fp32", "fp16", "int8"]
    assert saved["calibration"]["source"] == "training split"
    markdown = (out / REPORT_MARKDOWN).read_text()
    assert "| int8 | model.int8.onnx |" in markdown and "training split" in markdown


def test_batch_dimension_is_dynamic(exported: Exported) -> None:
    out, _ = exported
    rng = np.random.default_rng(1)
    for name in FILE_NAMES.values():
        with OnnxRuntimeBackend.from_path(out / name, provider="cpu") as backend:
            batch = rng.normal(size=(5, *backend.spec.input_shape)).astype(np.float32)
            together = backend.infer(batch)
            one_by_one = np.concatenate([backend.infer(batch[i:i + 1]) for i in range(5)])
            assert np.allclose(together, one_by_one, atol=1e-5)


def test_calibration_draws_evenly_from_the_training_split(small_image_folder: Path) -> None:
    train, val = load_splits(small_image_folder, None, 0.2, 0)
    chosen = calibration_set(train, CalibrationOptions(images=15))
    assert set(chosen.class_counts().values()) == {3}
    assert not set(chosen.sources) & set(val.sources)
    with pytest.raises(DataError, match="too few calibration images"):
        calibration_set(train, CalibrationOptions(images=4))
    with pytest.raises(DataError, match="too few calibration images"):
        calibration_set(train, CalibrationOptions(images=500))


@pytest.mark.parametrize(("text", "expected"), [
    ("all", ("fp32", "fp16", "int8")),
    ("int8,fp16", ("fp32", "fp16", "int8")),
    ("fp16", ("fp32", "fp16")),
    ("FP32", ("fp32",)),
])
def test_precision_lists(text: str, expected: tuple[str, ...]) -> None:
    assert parse_precisions(text) == expected


@pytest.mark.parametrize("text", ["int4", "", "fp32,bf16"])
def test_unknown_precisions_are_refused(text: str) -> None:
    with pytest.raises(AslEdgeError, match="unknown precision"):
        parse_precisions(text)
