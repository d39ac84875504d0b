"""INT8 quantization: every calibration method gives a graph within TensorRT's rules, from real images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from asl_edge.datasets import load_splits
from asl_edge.errors import AslEdgeError
from asl_edge.export.int8 import CALIBRATION_METHODS, CalibrationOptions, calibration_set, quantize_int8
from asl_edge.export.qdq_rules import qdq_violations
from asl_edge.export.report import ExportReport
from asl_edge.train.checkpoint import load_checkpoint


def test_every_method_gives_a_tensorrt_graph_and_leaves_fp32_alone(
        exported: tuple[Path, ExportReport], trained_checkpoint: Path, small_image_folder: Path) -> None:
    out, _ = exported
    spec = load_checkpoint(trained_checkpoint).spec
    train, _ = load_splits(small_image_folder, None, 0.2, 0)
    fp32 = onnx.load(str(out / "model.onnx"))
    before = fp32.SerializeToString()
    scales = {}
    for method in CALIBRATION_METHODS:
        options = CalibrationOptions(images=10, method=method)
        model = quantize_int8(fp32, spec, calibration_set(train, options), options)
        assert qdq_violations(model) == []
        assert {o.domain for o in model.opset_import} <= {"", "ai.onnx"}
        initializers = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
        scales[method] = np.array([float(initializers[n.input[1]]) for n in model.graph.node
                                   if n.op_type == "QuantizeLinear"])
    assert fp32.SerializeToString() == before
    # The methods really differ (onnxruntime's own entropy settings silently equal min-max): min-max keeps
    # the full range of every activation, the others clip outliers.
    assert not np.array_equal(scales["entropy"], scales["minmax"])
    assert not np.array_equal(scales["percentile"], scales["minmax"])
    assert (scales["minmax"] >= scales["percentile"]).all() and (scales["minmax"] >= scales["entropy"]).all()
    assert all(np.isfinite(s).all() and (s > 0).all() for s in scales.values())


def test_unknown_method_is_refused() -> None:
    with pytest.raises(AslEdgeError, match="unknown calibration method 'kl'"):
        CalibrationOptions(method="kl")
