"""TensorRT's Q/DQ rules: a well-formed graph passes, and every rule fails on a graph that breaks it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from asl_edge.export.qdq_rules import RULES, qdq_violations

CHANNELS_IN, CHANNELS_OUT = 3, 4


def qdq_conv_graph(opset: int = 17, act_zero_point: np.ndarray | None = None,
                   act_scale: np.ndarray | None = None, int32_bias: bool = False, weight_axis: int = 0,
                   contrib_domain: bool = False) -> onnx.ModelProto:
    """input -> Q -> DQ -> Conv(DQ(int8 weight), bias) -> Relu, the shape quantize_static gives a Conv."""
    rng = np.random.default_rng(0)
    act_zero_point = np.array(0, np.int8) if act_zero_point is None else act_zero_point
    act_scale = np.array(0.02, np.float32) if act_scale is None else act_scale
    weight = rng.integers(-127, 128, (CHANNELS_OUT, CHANNELS_IN, 3, 3)).astype(np.int8)
    weight_scale = np.full(weight.shape[weight_axis], 0.01, np.float32)
    initializers = [
        numpy_helper.from_array(act_scale, "act_scale"),
        numpy_helper.from_array(act_zero_point, "act_zero_point"),
        numpy_helper.from_array(weight, "weight_q"),
        numpy_helper.from_array(weight_scale, "weight_scale"),
        numpy_helper.from_array(np.zeros(weight.shape[weight_axis], np.int8), "weight_zero_point"),
    ]
    domain = "com.microsoft" if contrib_domain else ""
    act_axis: dict[str, Any] = {"axis": 1} if act_scale.size > 1 else {}
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "act_scale", "act_zero_point"], ["input_q"], "q_in",
                         domain=domain, **act_axis),
        helper.make_node("DequantizeLinear", ["input_q", "act_scale", "act_zero_point"], ["input_dq"], "dq_in",
                         domain=domain, **act_axis),
        helper.make_node("DequantizeLinear", ["weight_q", "weight_scale", "weight_zero_point"], ["weight"],
                         "dq_weight", axis=weight_axis, domain=domain),
    ]
    if int32_bias:
        initializers += [numpy_helper.from_array(np.arange(CHANNELS_OUT, dtype=np.int32), "bias_q"),
                         numpy_helper.from_array(np.full(CHANNELS_OUT, 2e-4, np.float32), "bias_scale"),
                         numpy_helper.from_array(np.zeros(CHANNELS_OUT, np.int32), "bias_zero_point")]
        nodes.append(helper.make_node("DequantizeLinear", ["bias_q", "bias_scale", "bias_zero_point"], ["bias"],
                                      "dq_bias", axis=0))
    else:
        initializers.append(numpy_helper.from_array(np.linspace(-1, 1, CHANNELS_OUT).astype(np.float32), "bias"))
    nodes += [helper.make_node("Conv", ["input_dq", "weight", "bias"], ["conv"], "conv", pads=[1, 1, 1, 1]),
              helper.make_node("Relu", ["conv"], ["output"], "relu")]
    graph = helper.make_graph(
        nodes, "qdq_conv",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", CHANNELS_IN, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", CHANNELS_OUT, 8, 8])],
        initializers)
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("com.microsoft", 1)] if contrib_domain else [])
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


def rules_broken(model: onnx.ModelProto) -> set[str]:
    return {line.split(":", 1)[0] for line in qdq_violations(model)}


def test_well_formed_graph_passes_and_runs() -> None:
    model = qdq_conv_graph()
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": np.ones((2, CHANNELS_IN, 8, 8), np.float32)})
    assert out.shape == (2, CHANNELS_OUT, 8, 8)
    assert qdq_violations(model) == []


@pytest.mark.parametrize(("mutation", "rule"), [
    ({"act_zero_point": np.array(0, np.uint8)}, "int8_only"),
    ({"act_zero_point": np.array(5, np.int8)}, "symmetric"),
    ({"act_scale": np.full(CHANNELS_IN, 0.02, np.float32), "act_zero_point": np.zeros(CHANNELS_IN, np.int8)},
     "per_tensor_activations"),
    ({"int32_bias": True}, "float_bias"),
    ({"opset": 11}, "opset"),
    ({"weight_axis": 1}, "per_channel_weights_on_output_axis"),
    ({"act_scale": np.array(-0.02, np.float32)}, "positive_scales"),
    ({"contrib_domain": True}, "onnx_domain"),
])
def test_each_rule_fails_on_a_graph_that_breaks_it(mutation: dict[str, object], rule: str) -> None:
    assert rule in RULES
    broken = rules_broken(qdq_conv_graph(**mutation))  # type: ignore[arg-type]
    assert broken == {rule}, qdq_violations(qdq_conv_graph(**mutation))  # type: ignore[arg-type]


def test_uint8_zero_point_128_breaks_both_int8_and_symmetry() -> None:
    assert rules_broken(qdq_conv_graph(act_zero_point=np.array(128, np.uint8))) == {"int8_only", "symmetric"}


def test_float_graph_is_not_a_qdq_graph(exported: tuple[Path, object]) -> None:
    out, _ = exported
    assert rules_broken(onnx.load(str(out / "model.onnx"))) == {"has_qdq"}


def test_onnxruntime_defaults_would_be_rejected(exported: tuple[Path, object], small_image_folder: Path) -> None:
    """quantize_static's own defaults (asymmetric activations, int32 bias) give a graph TensorRT refuses:
    the checker sees it, so the explicit settings in asl_edge.export.int8 are what make INT8 work."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    out, _ = exported
    rng = np.random.default_rng(0)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"input": rng.normal(size=(4, 3, 32, 32)).astype(np.float32)} for _ in range(2)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    target = out.parent / "defaults.int8.onnx"
    quantize_static(str(out / "model.onnx"), str(target), Reader(), quant_format=QuantFormat.QDQ,
                    extra_options={"QuantizeBias": True})
    assert {"symmetric", "float_bias"} <= rules_broken(onnx.load(str(target)))
