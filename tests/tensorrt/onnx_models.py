"""Tiny real ONNX classifiers written with onnx.helper (no torch), tagged the way `asl-edge export` tags them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from asl_edge.onnx_header import set_onnx_metadata
from asl_edge.spec import ONNX_METADATA_KEY, ONNX_PRECISION_KEY, ModelSpec

SPEC = ModelSpec(labels=("A", "B", "C"), input_height=8, input_width=8, arch="tiny-test")


def tiny_classifier(path: Path, precision: str | None = "fp32", spec: ModelSpec = SPEC, qdq: bool = False,
                    fp16_weights: bool = False, seed: int = 0) -> Path:
    """(N, 3, 8, 8) -> global average pool -> linear -> softmax, with a dynamic batch dimension."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(spec.channels, spec.num_classes)).astype(np.float16 if fp16_weights else np.float32)
    nodes = [helper.make_node("GlobalAveragePool", [spec.input_name], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"])]
    initializers = [numpy_helper.from_array(weight, "weight")]
    weight_name = "weight"
    if fp16_weights:
        nodes.append(helper.make_node("Cast", ["weight"], ["weight32"], to=TensorProto.FLOAT))
        weight_name = "weight32"
    if qdq:
        initializers += [numpy_helper.from_array(np.array(0.05, np.float32), "scale"),
                         numpy_helper.from_array(np.array(0, np.int8), "zero")]
        nodes += [helper.make_node("QuantizeLinear", ["flat", "scale", "zero"], ["flat_q"]),
                  helper.make_node("DequantizeLinear", ["flat_q", "scale", "zero"], ["flat_dq"])]
        nodes.append(helper.make_node("MatMul", ["flat_dq", weight_name], ["logits"]))
    else:
        nodes.append(helper.make_node("MatMul", ["flat", weight_name], ["logits"]))
    nodes.append(helper.make_node("Softmax", ["logits"], [spec.output_name], axis=1))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(spec.input_name, TensorProto.FLOAT, ["N", *spec.input_shape])],
        [helper.make_tensor_value_info(spec.output_name, TensorProto.FLOAT, ["N", spec.num_classes])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    set_onnx_metadata(model, ONNX_METADATA_KEY, spec.to_json())
    if precision is not None:  # unchecked, so a test can write a precision asl-edge refuses
        set_onnx_metadata(model, ONNX_PRECISION_KEY, precision)
    path.write_bytes(model.SerializeToString())
    return path
