"""ONNX classifiers shaped like models brought from elsewhere, built with onnx.helper (no TensorFlow).

`tf2onnx_style_classifier` mirrors what tf2onnx makes of the Sign Language MNIST course's Keras CNN: an NHWC
input with the Keras layer's name (`conv2d_input`) and a fixed batch, a Transpose to NCHW before the
convolution, a dense layer and a softmax output named after the last Keras layer. The weights are a
nearest-template classifier: score(class) = max over its templates t of -(||x - t||^2 - ||x||^2)
= 2 x.t - ||t||^2, so a model built from real photographs really recognises letters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tf2onnx_style_classifier(path: Path, templates: np.ndarray, layout: str = "NHWC", batch: int | None = 1,
                             temperature: float = 2.0, input_name: str = "conv2d_input",
                             output_name: str = "dense_1", metadata: dict[str, str] | None = None) -> Path:
    """Write the model to `path`. templates: float32 (classes, per_class, *sample), sample (H, W, C) for NHWC
    or (C, H, W) for NCHW, in the units the model receives (preprocessed pixels). batch: the fixed batch
    size, or None for a dynamic one ("N")."""
    classes, per_class = templates.shape[:2]
    sample = templates.shape[2:]
    channels = sample[-1] if layout == "NHWC" else sample[0]
    chw = templates.transpose(0, 1, 4, 2, 3) if layout == "NHWC" else templates
    flat = chw.reshape(classes * per_class, -1).astype(np.float32)
    weights = [
        numpy_helper.from_array(np.eye(channels, dtype=np.float32).reshape(channels, channels, 1, 1), "conv_w"),
        numpy_helper.from_array(np.zeros(channels, np.float32), "conv_b"),
        numpy_helper.from_array((2.0 * flat.T).astype(np.float32), "dense_w"),
        numpy_helper.from_array(-(flat ** 2).sum(axis=1).astype(np.float32), "dense_b"),
        numpy_helper.from_array(np.array([-1, classes, per_class], np.int64), "groups"),
        numpy_helper.from_array(np.array(temperature, np.float32), "temperature"),
    ]
    nodes = []
    conv_input = input_name
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [input_name], ["nchw"], perm=[0, 3, 1, 2], name="transpose"))
        conv_input = "nchw"
    nodes += [
        helper.make_node("Conv", [conv_input, "conv_w", "conv_b"], ["conv"], name="conv2d"),
        helper.make_node("Flatten", ["conv"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "dense_w", "dense_b"], ["scores"], name="dense"),
        helper.make_node("Reshape", ["scores", "groups"], ["grouped"], name="group"),
        helper.make_node("ReduceMax", ["grouped"], ["best"], axes=[2], keepdims=0, name="nearest"),
        helper.make_node("Mul", ["best", "temperature"], ["logits"], name="sharpen"),
        helper.make_node("Softmax", ["logits"], [output_name], axis=1, name="softmax"),
    ]
    n = batch if batch is not None else "N"
    graph = helper.make_graph(
        nodes, "sign_mnist_cnn",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [n, *sample])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [n, classes])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tf2onnx")
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
