"""PyTorch model to a checked FP32 ONNX graph that outputs probabilities, and saving any ONNX graph with
its ModelSpec and precision in metadata_props.

Two exporters are registered. The default is torch's TorchScript exporter: at opset 17 it emits
opset-17 operators directly (GlobalAveragePool, Flatten), which TensorRT 8.5/8.6 (JetPack 5 and 6.0) parse,
and it takes well under a second. The dynamo exporter (torch.export) is torch's maintained path, but it
translates at opset 18 and converts down; for the torchvision models (ReduceMean with an `axes` input)
that conversion fails and it silently keeps opset 18, which TensorRT 8.6 does not read. It is available
with `--exporter dynamo` (use it with --opset 18 on TensorRT 10+), and either way the produced opset is
checked against the requested one.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asl_edge.artifacts import atomic_write_bytes
from asl_edge.errors import ModelError, require
from asl_edge.onnx_header import Provenance, write_onnx_header
from asl_edge.spec import ModelSpec

DEFAULT_OPSET = 17
# TensorRT reads explicit-quantization (per-channel Q/DQ) graphs from opset 13 on.
MIN_OPSET = 13
BATCH_DIM = "batch"
WORKSTATION_HINT = "pip install 'asl-edge[workstation]'"


def _onnx() -> Any:
    return require("onnx", "ONNX export", WORKSTATION_HINT)


def probabilities_module(model: Any) -> Any:
    """The classifier with a softmax appended: exported graphs output probabilities, not logits."""
    import torch

    class WithSoftmax(torch.nn.Module):
        def __init__(self, classifier: torch.nn.Module) -> None:
            super().__init__()
            self.classifier = classifier

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.classifier(images), dim=1)

    return WithSoftmax(model).eval()


def _export_torchscript(module: Any, example: Any, spec: ModelSpec, opset: int) -> bytes:
    import torch

    with tempfile.TemporaryDirectory(prefix="asl-edge-export-") as scratch, warnings.catch_warnings():
        # The deprecation notice is about this exporter itself, chosen deliberately (see module docstring).
        warnings.simplefilter("ignore", DeprecationWarning)
        path = Path(scratch) / "model.onnx"
        torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=opset,
                          input_names=[spec.input_name], output_names=[spec.output_name],
                          dynamic_axes={spec.input_name: {0: BATCH_DIM}, spec.output_name: {0: BATCH_DIM}},
                          do_constant_folding=True)
        return path.read_bytes()


def _export_dynamo(module: Any, example: Any, spec: ModelSpec, opset: int) -> bytes:
    import torch

    program = torch.onnx.export(module, (example,), None, dynamo=True, opset_version=opset,
                                input_names=[spec.input_name], output_names=[spec.output_name],
                                dynamic_shapes={"images": {0: torch.export.Dim(BATCH_DIM, min=1, max=4096)}},
                                verbose=False)
    if program is None:
        raise ModelError("the dynamo exporter returned no program; use --exporter torchscript")
    data: bytes = program.model_proto.SerializeToString()
    return data


EXPORTERS: dict[str, Callable[[Any, Any, ModelSpec, int], bytes]] = {
    "torchscript": _export_torchscript,
    "dynamo": _export_dynamo,
}


def default_opset(model: Any) -> int:
    """The default-domain opset of an onnx.ModelProto."""
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    return int(versions[0]) if versions else 0


def check_graph(model: Any, spec: ModelSpec, what: str) -> None:
    """onnx.checker with shape inference, plus the interface the runtime relies on: one input and one
    output named by the spec, a symbolic batch dimension, the spec's (C, H, W) or (num_features,)."""
    onnx = _onnx()
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ModelError(f"{what} fails onnx.checker: {str(exc).splitlines()[0][:200]}") from exc
    inputs = [i for i in model.graph.input if i.name not in {init.name for init in model.graph.initializer}]
    outputs = list(model.graph.output)
    if [i.name for i in inputs] != [spec.input_name] or [o.name for o in outputs] != [spec.output_name]:
        raise ModelError(f"{what} has inputs {[i.name for i in inputs]} and outputs {[o.name for o in outputs]}; "
                         f"expected ['{spec.input_name}'] and ['{spec.output_name}']")
    dims = inputs[0].type.tensor_type.shape.dim
    sample = spec.input_shape
    layout = "(N, C, H, W)" if spec.inputs == "image" else "(N, num_features)"
    if len(dims) != 1 + len(sample) or not dims[0].dim_param:
        raise ModelError(f"{what}: input '{spec.input_name}' must be {layout} with a symbolic batch dimension")
    chw = tuple(d.dim_value for d in dims[1:])
    if chw != sample:
        raise ModelError(f"{what}: input shape (N, {', '.join(map(str, chw))}) differs from the spec's "
                         f"(N, {', '.join(map(str, sample))})")


def export_fp32(model: Any, spec: ModelSpec, opset: int = DEFAULT_OPSET, exporter: str = "torchscript",
                simplify: bool = True) -> Any:
    """Export a torch classifier (eval mode) to an in-memory, checked onnx.ModelProto of probabilities."""
    import torch

    onnx = _onnx()
    if exporter not in EXPORTERS:
        raise ModelError(f"unknown exporter '{exporter}'; choose one of {', '.join(EXPORTERS)}")
    if opset < MIN_OPSET:
        raise ModelError(f"opset {opset} is too old: per-channel Q/DQ for TensorRT needs opset {MIN_OPSET} or newer")
    module = probabilities_module(model.eval())
    # Batch 2, so no exporter can specialise the batch dimension to 1.
    example = torch.zeros((2, *spec.input_shape), dtype=torch.float32)
    with torch.no_grad():
        try:
            data = EXPORTERS[exporter](module, example, spec, opset)
        except (RuntimeError, ValueError) as exc:
            # The newest opset depends on the installed torch: its own message is the only reliable bound.
            if "opset" not in str(exc).lower():
                raise
            raise ModelError(f"--opset {opset}: {exc}; use the default {DEFAULT_OPSET} (TensorRT 8.6) or 18 "
                             "(TensorRT 10 with --exporter dynamo)") from None
    graph = onnx.load_from_string(data)
    produced = default_opset(graph)
    if produced != opset:
        raise ModelError(f"the {exporter} exporter produced opset {produced}, not the requested {opset}; "
                         f"pass --opset {produced} (TensorRT 10+) or use --exporter torchscript")
    check_graph(graph, spec, "the exported graph")
    if simplify:
        onnxslim = require("onnxslim", "simplifying the ONNX graph", "pip install onnxslim, or pass --no-simplify")
        graph = onnxslim.slim(graph)
        check_graph(graph, spec, "the simplified graph")
    return graph


def tag(model: Any, spec: ModelSpec, precision: str, provenance: Provenance | None = None) -> Any:
    """Store the ModelSpec, the precision and the provenance (checkpoint sha256; for FP16/INT8 also the FP32
    file's) in metadata_props: the runtime and engine builder read the first two, the benchmark matches a
    model's own exports by the last."""
    write_onnx_header(model, spec, precision, provenance)
    return model


def save(model: Any, path: str | os.PathLike[str], spec: ModelSpec, precision: str,
         provenance: Provenance | None = None) -> None:
    """Tag and write an onnx.ModelProto atomically (a temporary file renamed into place)."""
    atomic_write_bytes(path, tag(model, spec, precision, provenance).SerializeToString())
