"""Run an exported ONNX file with ONNX Runtime on the CPU: its probabilities on a dataset, and which
operators ONNX Runtime actually executes.

Two ways to run a graph, both reported:
- "graph": graph optimisations off, so every operator runs as the ONNX spec defines it. For a Q/DQ graph
  that is float math on exactly quantized values, which is what TensorRT computes (INT8 with INT32
  accumulation) up to rounding. This is the accuracy of the file itself.
- "ort-cpu": full optimisation, as the runtime's ONNX Runtime backend runs it. On the CPU a Q/DQ graph is
  fused into QLinearConv/QGemm kernels; on x86 CPUs without VNNI those multiply unsigned by signed 8-bit
  values in 16-bit pairs that saturate with full-range INT8 weights, so this column can be lower than
  the graph's own accuracy (`--int8-reduce-range` avoids it, at some cost on TensorRT).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, cast

import numpy as np

from asl_edge.datasets import LabelledImages
from asl_edge.errors import ModelError, require
from asl_edge.onnx_header import read_onnx_header
from asl_edge.runtime.backends.evaluation import predict
from asl_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
from asl_edge.spec import ModelSpec

ORT_HINT = "pip install onnxruntime"


def _session(path: str | os.PathLike[str], optimise: bool, optimised_copy: Path | None = None) -> Any:
    ort = require("onnxruntime", "evaluating ONNX models", ORT_HINT)
    options = ort.SessionOptions()
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimise
                                        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    if optimised_copy is not None:
        options.optimized_model_filepath = str(optimised_copy)
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelError(f"ONNX Runtime cannot load {path}: {str(exc).splitlines()[0][:200]}") from exc


def onnx_probabilities(path: str | os.PathLike[str], data: LabelledImages, optimise: bool = True) -> np.ndarray:
    """(N, num_classes) probabilities of an ONNX file on ONNX Runtime's CPU provider, through the runtime's
    own backend class and preprocessing. `optimise=False` runs the graph as specified (see module doc)."""
    header = read_onnx_header(path)
    with OnnxRuntimeBackend(_session(path, optimise), cast(ModelSpec, header.spec), header.precision,
                            str(path)) as backend:
        return predict(backend, data)


def executed_operators(path: str | os.PathLike[str]) -> dict[str, int]:
    """Operator counts of the graph ONNX Runtime's CPU provider runs after full optimisation."""
    onnx = require("onnx", "inspecting the optimised graph", "pip install onnx")
    with tempfile.TemporaryDirectory(prefix="asl-edge-ort-") as scratch:
        optimised = Path(scratch) / "optimised.onnx"
        _session(path, optimise=True, optimised_copy=optimised)
        model = onnx.load(str(optimised))
    return dict(sorted(Counter(node.op_type for node in model.graph.node).items()))
