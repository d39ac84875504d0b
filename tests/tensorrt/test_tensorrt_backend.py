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
