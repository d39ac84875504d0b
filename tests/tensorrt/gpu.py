"""The marks of a GPU test module: `gpu`, and a skip that names what is missing (TensorRT or a CUDA device)."""

from __future__ import annotations

import pytest

from asl_edge.errors import AslEdgeError


def gpu_skip_reason(purpose: str) -> str | None:
    """Why `purpose` cannot run here, or None when TensorRT and CUDA device 0 are usable."""
    from asl_edge.runtime.backends.tensorrt.cuda_device import open_cuda_device
    from asl_edge.runtime.backends.tensorrt.support import tensorrt_version

    try:
        tensorrt_version(purpose)
        open_cuda_device(0, purpose).close()
    except AslEdgeError as exc:
        return str(exc)
    return None


def gpu_marks(purpose: str) -> list[pytest.MarkDecorator]:
    reason = gpu_skip_reason(purpose)
    return [pytest.mark.gpu, pytest.mark.skipif(reason is not None, reason=f"needs TensorRT and a GPU: {reason}")]
