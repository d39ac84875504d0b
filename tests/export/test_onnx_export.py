"""Torch to ONNX for every registered architecture: names, dynamic batch, opset, parity with PyTorch."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from asl_edge.errors import ModelError
from asl_edge.export.fp16 import to_fp16
from asl_edge.export.onnx_export import default_opset, export_fp32
from asl_edge.spec import make_landmark_spec, make_spec
from asl_edge.train.models import ARCHITECTURES, build_model

LABELS = ("A", "B", "C", "space")


def run(model_proto: object, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model_proto.SerializeToString(),  # type: ignore[attr-defined]
                                   providers=["CPUExecutionProvider"])
    (probs,) = session.run(["probabilities"], {session.get_inputs()[0].name: batch})
    return np.asarray(probs)


# resnet18 adds nothing mobilenet_v3_small does not cover (Add, GlobalAveragePool) but takes seconds to build.
ARCHS = [pytest.param(a, marks=pytest.mark.slow) if a == "resnet18" else a for a in sorted(ARCHITECTURES)]


@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_exports_probabilities_at_opset_17(arch: str) -> None:
    color = "gray" if arch == "aslcnn" else "rgb"
    spec = make_landmark_spec(LABELS, 111) if arch == "landmark_mlp" else make_spec(LABELS, arch, 32, color)
    torch.manual_seed(0)
    model = build_model(spec).eval()
    graph = export_fp32(model, spec)
    assert default_opset(graph) == 17
    batch = np.random.default_rng(0).normal(size=(3, *spec.input_shape)).astype(np.float32)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(batch)), dim=1).numpy()
    probs = run(graph, batch)
    assert probs.shape == (3, len(LABELS))
    assert np.abs(probs - expected).max() < 1e-5
    assert np.abs(run(to_fp16(graph, spec), batch) - expected).max() < 1e-2


def test_opset_older_than_13_is_refused() -> None:
    spec = make_spec(LABELS, "aslcnn", 16, "gray")
    with pytest.raises(ModelError, match="opset 11 is too old"):
        export_fp32(build_model(spec), spec, opset=11)


def test_an_opset_newer_than_the_exporter_writes_is_one_model_error() -> None:
    spec = make_spec(LABELS, "aslcnn", 16, "gray")
    with pytest.raises(ModelError, match=r"--opset 99: .*99.*; use the default 17"):
        export_fp32(build_model(spec), spec, opset=99)


@pytest.mark.slow
def test_dynamo_exporter_at_its_native_opset() -> None:
    spec = make_spec(LABELS, "aslcnn", 16, "gray")
    model = build_model(spec).eval()
    graph = export_fp32(model, spec, opset=18, exporter="dynamo")
    batch = np.ones((2, *spec.input_shape), np.float32)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(batch)), dim=1).numpy()
    assert default_opset(graph) == 18
    assert np.abs(run(graph, batch) - expected).max() < 1e-5
