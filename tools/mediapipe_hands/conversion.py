"""Step 2: TFLite to ONNX with tf2onnx, with stable names, so a rerun gives byte-identical files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediapipe_hands.common import MEDIAPIPE, ONNX_INPUT, OPSET, TFLITE_INPUT, ConversionError, HandModel

# --- 2. Conversion ------------------------------------------------------------------------------------

def convert(model: HandModel, tflite_path: Path, tflite_sha: str) -> bytes:
    """tf2onnx conversion, NCHW input, stable tensor names, deterministic constant names and order."""
    import onnx
    import tf2onnx

    proto, _ = tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET, inputs_as_nchw=[TFLITE_INPUT])
    graph = proto.graph
    rename = {TFLITE_INPUT: ONNX_INPUT}
    rename.update({tfl: onnx_name for tfl, (onnx_name, _) in model.outputs.items()})
    # tf2onnx numbers nodes and folded constants from a global counter whose value varies from run to run:
    # name nodes by position (`Conv_012`), their outputs after them, and constants by first use (`const_0042`),
    # stored in that order, so the file's bytes (and sha256) are reproducible.
    constants = {t.name for t in graph.initializer}
    for index, node in enumerate(graph.node):
        for name in node.input:
            if name in constants and name not in rename:
                rename[name] = f"const_{sum(v.startswith('const_') for v in rename.values()):04d}"
        node.name = f"{node.op_type}_{index:03d}"
        for k, name in enumerate(node.output):
            rename.setdefault(name, node.name if len(node.output) == 1 else f"{node.name}:{k}")
    for node in graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    for value in [*graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        value.name = rename.get(value.name, value.name)
    ordered = sorted(graph.initializer, key=lambda t: t.name)
    del graph.initializer[:]
    graph.initializer.extend(ordered)
    graph.name = model.name

    def shape(value: Any) -> tuple[int, ...]:
        return tuple(d.dim_value for d in value.type.tensor_type.shape.dim)

    got_in = [(v.name, shape(v)) for v in graph.input]
    want_in = [(ONNX_INPUT, (1, 3, model.size, model.size))]
    got_out = [(v.name, shape(v)) for v in graph.output]
    want_out = list(model.outputs.values())
    if got_in != want_in or got_out != want_out:
        raise ConversionError(f"{model.name}: converted graph has inputs {got_in} and outputs {got_out}, "
                              f"expected {want_in} and {want_out}")
    proto.doc_string = (f"MediaPipe {model.name} ({MEDIAPIPE} wheel, {model.wheel_path}), converted by "
                        f"tools/convert_mediapipe_hands.py. Apache-2.0, see LICENSE and ORIGIN.md beside it.")
    del proto.metadata_props[:]
    for key, value in (("source", f"{MEDIAPIPE}:{model.wheel_path}"), ("source_sha256", tflite_sha),
                       ("license", "Apache-2.0"), ("input_layout", "NCHW RGB float32 in [0, 1]")):
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()
