"""TensorRT's rules for explicit-quantization (Q/DQ) ONNX graphs, checked on an onnx.ModelProto.

The rules follow what onnx-tensorrt's Q/DQ importer accepts (shared/reference/tensorrt.md §2b):
opset 13 or newer, ONNX-domain QuantizeLinear/DequantizeLinear, INT8 only, symmetric (every zero point
0), positive scales, per-tensor activation scales, per-channel weight scales only along the output-channel
axis, and float bias (no DequantizeLinear of an INT32 bias). `qdq_violations` returns one readable line
per broken rule, so a graph that TensorRT would reject is caught on the workstation, not on the Jetson.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asl_edge.errors import require

MIN_QDQ_OPSET = 13
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
# For a weight consumed by these operators: which axis of the weight holds the output channels.
_OUTPUT_CHANNEL_AXIS: dict[str, Callable[[Any], int]] = {
    "Conv": lambda node: 0,  # (K, C, R, S)
    "Gemm": lambda node: 0 if _int_attribute(node, "transB", 0) else 1,
    "MatMul": lambda node: 1,  # (in, out) for a 2-D weight
}


def _int_attribute(node: Any, name: str, default: int) -> int:
    for attribute in node.attribute:
        if attribute.name == name:
            return int(attribute.i)
    return default


@dataclass
class _Graph:
    """Lookups the rules share: constant tensors, producers and consumers of each tensor."""

    model: Any
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    producer: dict[str, Any] = field(default_factory=dict)
    consumers: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)

    @classmethod
    def of(cls, model: Any) -> _Graph:
        numpy_helper = require("onnx.numpy_helper", "checking Q/DQ rules", "pip install onnx")
        graph = cls(model)
        for init in model.graph.initializer:
            graph.constants[init.name] = numpy_helper.to_array(init)
        for node in model.graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                for attribute in node.attribute:
                    if attribute.name == "value":
                        graph.constants[node.output[0]] = numpy_helper.to_array(attribute.t)
            for name in node.output:
                graph.producer[name] = node
            for index, name in enumerate(node.input):
                graph.consumers.setdefault(name, []).append((node, index))
        return graph

    def qdq_nodes(self) -> list[Any]:
        return [n for n in self.model.graph.node if n.op_type in QDQ_OPS]

    def describe(self, node: Any) -> str:
        return f"{node.op_type} '{node.name or node.output[0]}'"

    def is_weight(self, node: Any) -> bool:
        """A DequantizeLinear of a constant: the quantized weights (or bias) themselves."""
        return node.op_type == "DequantizeLinear" and node.input[0] in self.constants

    def quantized_dtype(self, node: Any) -> np.dtype[Any] | None:
        """The integer type a Q produces or a DQ reads, when it can be told from constants."""
        if len(node.input) > 2 and node.input[2] in self.constants:
            return self.constants[node.input[2]].dtype
        if node.op_type == "DequantizeLinear":
            if node.input[0] in self.constants:
                return self.constants[node.input[0]].dtype
            source = self.producer.get(node.input[0])
            if source is not None and source.op_type == "QuantizeLinear":
                return self.quantized_dtype(source)
            return None
        return np.dtype(np.uint8)  # QuantizeLinear without a zero point outputs uint8 (ONNX spec)


def _rule_opset(graph: _Graph) -> list[str]:
    versions = [o.version for o in graph.model.opset_import if o.domain in ("", "ai.onnx")]
    opset = versions[0] if versions else 0
    if opset < MIN_QDQ_OPSET:
        return [f"opset {opset}: TensorRT needs opset {MIN_QDQ_OPSET} or newer for per-channel Q/DQ (the axis "
                "attribute); re-export with --opset 13 or newer"]
    return []


def _rule_has_qdq(graph: _Graph) -> list[str]:
    if not graph.qdq_nodes():
        return ["no QuantizeLinear/DequantizeLinear nodes: this is not a Q/DQ INT8 graph"]
    return []


def _rule_onnx_domain(graph: _Graph) -> list[str]:
    return [f"{graph.describe(n)} is in domain '{n.domain}': TensorRT parses only ONNX-domain Q/DQ "
            "(do not set UseQDQContribOps)"
            for n in graph.model.graph.node if n.op_type in QDQ_OPS and n.domain not in ("", "ai.onnx")]


def _rule_int8_only(graph: _Graph) -> list[str]:
    problems = []
    for node in graph.qdq_nodes():
        dtype = graph.quantized_dtype(node)
        if dtype is None or dtype == np.int8:
            continue
        if dtype == np.int32 and graph.is_weight(node):
            continue  # an INT32 bias: reported by the bias rule
        problems.append(f"{graph.describe(node)} uses {dtype.name}: TensorRT takes INT8 Q/DQ only (not UINT8)")
    return problems


def _rule_symmetric(graph: _Graph) -> list[str]:
    problems = []
    for node in graph.qdq_nodes():
        if len(node.input) > 2 and node.input[2]:
            zero_point = graph.constants.get(node.input[2])
            if zero_point is None:
                problems.append(f"{graph.describe(node)} has a computed zero point: TensorRT needs a constant 0")
            elif np.any(zero_point != 0):
                problems.append(f"{graph.describe(node)} has zero point(s) {np.unique(zero_point)[:4].tolist()}: "
                                "TensorRT supports symmetric quantization only (all zero points 0)")
    return problems


def _rule_scales(graph: _Graph) -> list[str]:
    problems = []
    for node in graph.qdq_nodes():
        scale = graph.constants.get(node.input[1])
        if scale is None:
            problems.append(f"{graph.describe(node)} has a computed scale: TensorRT needs a constant scale")
        elif not np.issubdtype(scale.dtype, np.floating) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            problems.append(f"{graph.describe(node)} has a scale that is not all positive finite floats")
    return problems


def _rule_activation_per_tensor(graph: _Graph) -> list[str]:
    problems = []
    for node in graph.qdq_nodes():
        scale = graph.constants.get(node.input[1])
        if scale is not None and scale.size > 1 and not graph.is_weight(node):
            problems.append(f"{graph.describe(node)} quantizes an activation per axis ({scale.size} scales): "
                            "TensorRT takes per-tensor activation scales only")
    return problems


def _rule_weight_axis(graph: _Graph) -> list[str]:
    problems = []
    for node in graph.qdq_nodes():
        scale = graph.constants.get(node.input[1])
        if scale is None or scale.size <= 1 or not graph.is_weight(node):
            continue
        weight = graph.constants[node.input[0]]
        axis = _int_attribute(node, "axis", 1) % max(weight.ndim, 1)
        if weight.shape[axis] != scale.size:
            problems.append(f"{graph.describe(node)} has {scale.size} scales for axis {axis} of size "
                            f"{weight.shape[axis]}")
        for consumer, index in graph.consumers.get(node.output[0], []):
            expected = _OUTPUT_CHANNEL_AXIS.get(consumer.op_type)
            if index == 1 and expected is not None and axis != expected(consumer):
                problems.append(f"{graph.describe(node)} scales weight axis {axis} of {consumer.op_type} "
                                f"'{consumer.name}', not its output-channel axis {expected(consumer)}")
    return problems


def _rule_float_bias(graph: _Graph) -> list[str]:
    problems = []
    for node in graph.qdq_nodes():
        if graph.is_weight(node) and graph.constants[node.input[0]].dtype == np.int32:
            problems.append(f"{graph.describe(node)} dequantizes an INT32 tensor (a quantized bias): TensorRT "
                            "rejects it; quantize with QuantizeBias=False to keep the bias float")
    for node in graph.model.graph.node:
        if node.op_type in ("Conv", "Gemm") and len(node.input) > 2 and node.input[2]:
            source = graph.producer.get(node.input[2])
            if source is not None and source.op_type == "DequantizeLinear":
                problems.append(f"{node.op_type} '{node.name}' takes its bias from {graph.describe(source)}: "
                                "TensorRT needs a float bias")
    return problems


# Rule name -> check; each returns one line per violation.
RULES: dict[str, Callable[[_Graph], list[str]]] = {
    "opset": _rule_opset,
    "has_qdq": _rule_has_qdq,
    "onnx_domain": _rule_onnx_domain,
    "int8_only": _rule_int8_only,
    "symmetric": _rule_symmetric,
    "positive_scales": _rule_scales,
    "per_tensor_activations": _rule_activation_per_tensor,
    "per_channel_weights_on_output_axis": _rule_weight_axis,
    "float_bias": _rule_float_bias,
}


def qdq_violations(model: Any) -> list[str]:
    """Every way an onnx.ModelProto breaks TensorRT's Q/DQ rules; empty when TensorRT should accept it."""
    graph = _Graph.of(model)
    return [f"{name}: {line}" for name, rule in RULES.items() for line in rule(graph)]
