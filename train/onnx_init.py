"""A starting model for fine-tuning: a landmark checkpoint, or a landmark MLP rebuilt from an exported ONNX file.

The bundled `asl_edge/assets/asl_landmarks.onnx` ships without its checkpoint, so its weights are read from
the graph's initializers (the FP32 export of `LandmarkMlp`: `classifier.net.<i>.<param>` for the
`nn.Sequential` inside the export's softmax wrapper) and the rebuilt PyTorch model is checked against ONNX
Runtime on real feature vectors before it is used (`check_parity`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch

from asl_edge.errors import ModelError, require
from asl_edge.onnx_header import read_onnx_header
from asl_edge.spec import ModelSpec
from asl_edge.train.checkpoint import load_checkpoint
from asl_edge.train.models import LandmarkMlp

PARITY_TOLERANCE = 1e-4  # max probability difference, as export's FP32 parity check (export/parity.py)
_PARAM = re.compile(r"(?:.*\.)?net\.(\d+)\.(weight|bias|running_mean|running_var)$")


def load_start_model(path: str | os.PathLike[str]) -> tuple[LandmarkMlp, ModelSpec]:
    """(model in eval mode, spec) from checkpoint.pt, a run folder or an FP32 .onnx of a landmarks model."""
    source = Path(path)
    if source.suffix == ".onnx":
        spec = read_onnx_header(source, need_spec=False).spec
        if spec is None:
            # Not an asl-edge export: a spec written for it (`asl-edge spec`) would not make its graph an MLP.
            raise ModelError(f"{source} is not an asl-edge landmarks model (it carries no ModelSpec); --init-from "
                             "takes asl_edge/assets/asl_landmarks.onnx, a landmarks run folder or its checkpoint.pt")
        _require_landmarks(spec, source)
        return mlp_from_onnx(source, spec), spec
    loaded = load_checkpoint(source)
    _require_landmarks(loaded.spec, source)
    if not isinstance(loaded.model, LandmarkMlp):
        raise ModelError(f"{source} is a {type(loaded.model).__name__}, not a landmark MLP")
    return loaded.model, loaded.spec


def _require_landmarks(spec: ModelSpec, source: Path) -> None:
    if spec.inputs != "landmarks":
        raise ModelError(f"{source} reads {spec.inputs}, not hand landmarks; personalisation fine-tunes a landmarks "
                         "model, e.g. --init-from asl_edge/assets/asl_landmarks.onnx")


def mlp_from_onnx(path: Path, spec: ModelSpec) -> LandmarkMlp:
    """The LandmarkMlp whose weights are the FP32 graph's initializers (layer widths read from their shapes)."""
    onnx = require("onnx", "reading an ONNX model's weights", "pip install 'asl-edge[workstation]'")
    numpy_helper = onnx.numpy_helper
    graph = onnx.load(str(path)).graph
    state: dict[str, torch.Tensor] = {}
    for init in graph.initializer:
        match = _PARAM.match(init.name)
        if match is None or init.data_type != onnx.TensorProto.FLOAT:
            raise ModelError(f"{path}: initializer {init.name!r} is not an FP32 landmark MLP weight; pass the FP32 "
                             "model.onnx (not .fp16/.int8) or the run's checkpoint.pt")
        state[f"net.{match[1]}.{match[2]}"] = torch.from_numpy(numpy_helper.to_array(init).copy())
    linears = sorted(int(k.split(".")[1]) for k in state if k.endswith(".weight") and state[k].ndim == 2)
    if not linears:
        raise ModelError(f"{path} has no linear layers; it is not a landmark MLP")
    hidden = tuple(int(state[f"net.{i}.weight"].shape[0]) for i in linears[:-1])
    model = LandmarkMlp(spec.num_features, spec.num_classes, hidden=hidden)
    expected = model.state_dict()
    for key, value in expected.items():
        if key.endswith("num_batches_tracked"):
            state[key] = value  # not exported; only used when BatchNorm's momentum is None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{path}: weights do not fit a landmark MLP of hidden sizes {hidden} "
                         f"({str(exc).splitlines()[0]})") from exc
    return model.eval()


def check_parity(model: LandmarkMlp, onnx_path: Path, spec: ModelSpec, features: np.ndarray) -> float:
    """Max |probability difference| between the PyTorch model and ONNX Runtime on (N, F) features; a
    ModelError when it exceeds PARITY_TOLERANCE."""
    ort = require("onnxruntime", "checking the rebuilt model against ONNX Runtime", "pip install onnxruntime")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    reference = session.run([spec.output_name], {spec.input_name: features.astype(np.float32)})[0]
    with torch.no_grad():
        probs = torch.softmax(model.eval()(torch.from_numpy(features.astype(np.float32))), dim=1).numpy()
    diff = float(np.abs(probs - reference).max()) if len(features) else 0.0
    if diff > PARITY_TOLERANCE:
        raise ModelError(f"the MLP rebuilt from {onnx_path} differs from ONNX Runtime by {diff:.2e} (> "
                         f"{PARITY_TOLERANCE:g}); start from the run's checkpoint.pt instead")
    return diff
