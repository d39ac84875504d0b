"""The TensorRT backend's failures without TensorRT or a GPU: each a one-line, actionable message."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from asl_edge.errors import AslEdgeError, MissingDependencyError
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.backends.tensorrt.cuda_device import NoGpuError, open_cuda_device
from tests.conftest import run_without_torch
from tests.tensorrt.test_build import tensorrt_loads
from tests.tensorrt.test_engine_manifest import write_engine


@pytest.mark.skipif(tensorrt_loads(), reason="TensorRT is installed here; this checks the message without it")
def test_loading_an_engine_without_tensorrt_says_how_to_get_it(tmp_path: Path) -> None:
    engine = write_engine(tmp_path)
    with pytest.raises(MissingDependencyError) as info:
        load_backend(engine)
    message = str(info.value)
    assert message.startswith("the TensorRT backend needs TensorRT")
    assert "JetPack" in message and "pip install tensorrt" in message and "\n" not in message


@pytest.mark.skipif(importlib.util.find_spec("pycuda") is not None, reason="pycuda is installed here")
def test_no_pycuda_names_both_bindings() -> None:
    with pytest.raises(MissingDependencyError, match=r"needs pycuda or cuda-python.*pip install pycuda.*cuda-python"):
        open_cuda_device(binding="pycuda")


def test_cuda_python_without_a_gpu_says_so() -> None:
    if importlib.util.find_spec("cuda") is None:
        pytest.skip("cuda-python is not installed")
    try:
        device = open_cuda_device(binding="cuda-python")
    except NoGpuError as exc:
        assert str(exc).startswith("no usable NVIDIA GPU 0: ")
        assert "nvidia-smi" in str(exc) and "\n" not in str(exc)
    else:
        device.close()
        pytest.skip(f"this machine has a GPU ({device.name}); the no-GPU message cannot be shown")


def test_unknown_binding() -> None:
    with pytest.raises(AslEdgeError, match="unknown CUDA binding 'cupy'"):
        open_cuda_device(binding="cupy")


def test_the_tensorrt_backend_and_manifest_import_without_torch() -> None:
    done = run_without_torch("import asl_edge.runtime.backends.tensorrt.backend, "
                             "asl_edge.runtime.backends.tensorrt.manifest, "
                             "asl_edge.runtime.backends.tensorrt.cuda_device; print('ok')")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_an_engine_source_that_names_no_file_says_how_to_build_one(tmp_path: Path) -> None:
    from asl_edge.errors import ModelError
    from asl_edge.runtime.backends.tensorrt.loaders import EngineFromPath, read_plan

    with pytest.raises(ModelError, match=r"does not exist; build one with `asl-edge build MODEL.onnx`"):
        EngineFromPath(tmp_path / "absent.engine")()
    engine = write_engine(tmp_path)
    assert EngineFromPath(engine)() == engine and read_plan(engine) == engine.read_bytes()


@pytest.mark.skipif(tensorrt_loads(), reason="TensorRT is installed here; this checks the message without it")
def test_run_with_an_onnx_model_on_tensorrt_goes_through_the_build(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`run --backend tensorrt` with an ONNX file takes the build-or-reuse path: without TensorRT it stops at the
    build's own one-line message, before any source is read."""
    from asl_edge.apps.cli import main
    from tests.tensorrt.onnx_models import tiny_classifier

    onnx = tiny_classifier(tmp_path / "m.onnx")
    folder = tmp_path / "frames"
    folder.mkdir()
    import cv2
    import numpy as np

    cv2.imwrite(str(folder / "0.png"), np.zeros((8, 8, 3), np.uint8))
    code = main(["run", "--source", str(folder), "--model", str(onnx), "--backend", "tensorrt", "--hand", "off",
                 "--no-window", "--max-frames", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "error: building a TensorRT engine needs TensorRT" in err[0], err
