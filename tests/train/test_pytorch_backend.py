"""The PyTorch reference backend: a real checkpoint, softmax outputs, parity with the ONNX export of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asl_edge.errors import ModelError
from asl_edge.preprocess import preprocess_batch
from asl_edge.runtime.backends import load_backend
from asl_edge.spec import make_spec

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    from asl_edge.train.checkpoint import save_checkpoint
    from asl_edge.train.models import build_model

    torch.manual_seed(0)
    spec = make_spec(("A", "B", "C", "nothing"), "aslcnn", 28, "gray")
    model = build_model(spec).eval()
    path = tmp_path_factory.mktemp("pt") / "checkpoint.pt"
    save_checkpoint(path, model, spec)
    return path, model


def test_checkpoint_gives_softmax_of_the_model(checkpoint: tuple[Path, object], data_dir: Path) -> None:
    path, model = checkpoint
    images = [__import__("cv2").imread(str(p)) for p in sorted((data_dir / "A").glob("*.jpg"))[:4]]
    with load_backend(path, device="cpu") as backend:
        assert backend.name == "pytorch" and backend.device == "cpu"
        assert backend.spec.labels == ("A", "B", "C", "nothing")
        batch = preprocess_batch(images, backend.spec)
        probs = backend.infer(batch)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(batch)), dim=1).numpy()  # type: ignore[operator]
    assert probs.shape == (4, 4) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, expected, atol=1e-6)


def test_pytorch_and_onnxruntime_agree(checkpoint: tuple[Path, object], tmp_path: Path) -> None:
    from asl_edge.export.onnx_export import export_fp32, save

    path, model = checkpoint
    pytorch = load_backend(path)
    onnx_path = tmp_path / "model.onnx"
    save(export_fp32(model, pytorch.spec, simplify=False), onnx_path, pytorch.spec, "fp32")
    batch = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    with pytorch, load_backend(onnx_path, provider="cpu") as ort:
        np.testing.assert_allclose(ort.infer(batch), pytorch.infer(batch), atol=1e-5)


def test_bad_checkpoints_and_devices(tmp_path: Path, checkpoint: tuple[Path, object]) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="not an asl-edge checkpoint"):
        load_backend(junk)
    with pytest.raises(ModelError, match="unknown device 'tpu'"):
        load_backend(checkpoint[0], device="tpu")
