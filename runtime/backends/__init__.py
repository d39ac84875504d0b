"""Inference backends behind one interface; chosen by model file type or by name, imported lazily."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from asl_edge.errors import ModelError
from asl_edge.onnx_header import not_a_file_error
from asl_edge.runtime.backends.base import Backend
from asl_edge.spec import ModelSpec

# name -> (module, class); the module is imported only when the backend is used. In the order the benchmark
# measures and reports them: the PyTorch reference first, then the deployment backends.
BACKENDS: dict[str, tuple[str, str]] = {
    "pytorch": ("asl_edge.train.pytorch_backend", "PyTorchBackend"),
    "onnxruntime": ("asl_edge.runtime.backends.onnxruntime_backend", "OnnxRuntimeBackend"),
    "tensorrt": ("asl_edge.runtime.backends.tensorrt.backend", "TensorRTBackend"),
}

BACKEND_BY_SUFFIX = {".onnx": "onnxruntime", ".engine": "tensorrt", ".plan": "tensorrt", ".pt": "pytorch",
                     ".pth": "pytorch"}


def backend_for(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    try:
        return BACKEND_BY_SUFFIX[suffix]
    except KeyError:
        if Path(path).is_dir():  # a run folder: name the files in it that are models
            inside = sorted((p.suffix.lower() != ".onnx", p.name != "model.onnx", p.name) for p in Path(path).iterdir()
                            if p.suffix.lower() in BACKEND_BY_SUFFIX)  # an export first: it needs no torch
            fix = f"pass one of its files, e.g. {Path(path) / inside[0][2]}" if inside else \
                "pass a model file (an export of a run folder: `asl-edge export RUN`)"
            raise ModelError(f"{path} is a folder, not a model file; {fix}") from None
        raise ModelError(f"cannot tell the backend of {path}: expected a model file ending in one of "
                         f"{', '.join(sorted(BACKEND_BY_SUFFIX))}") from None


def load_backend(path: str | os.PathLike[str], backend: str = "auto", spec: ModelSpec | None = None,
                 **options: Any) -> Backend:
    """Open a model file with the named backend, or the one its file type implies. `options` are the
    backend's (`Backend.option_names()`); another one is a ModelError naming it.

    `spec` (the --spec option) replaces the model's own spec: for ONNX it wins over a sidecar
    MODEL.spec.json and the embedded metadata, for an engine over its manifest's. A checkpoint always
    carries the spec it was trained with, so --spec is refused for one.
    """
    name = backend_for(path) if backend == "auto" else backend
    if name not in BACKENDS:
        raise ModelError(f"unknown backend '{name}'; choose one of auto, {', '.join(BACKENDS)}")
    if os.path.isdir(path):  # a folder named like a model (m/dir.onnx)
        raise not_a_file_error(path, "model", tuple(BACKEND_BY_SUFFIX))
    if not os.path.isfile(path):
        raise ModelError(f"model file {path} does not exist")
    if spec is not None:
        if name == "pytorch":
            raise ModelError(f"--spec is for ONNX models and engines; the checkpoint {path} carries the spec it "
                             "was trained with, so drop --spec")
        options["spec"] = spec
    module_name, class_name = BACKENDS[name]
    cls: type[Backend] = getattr(importlib.import_module(module_name), class_name)
    return cls.open(path, **options)


__all__ = ["BACKENDS", "Backend", "backend_for", "load_backend"]
