"""Where a TensorRT backend's engine comes from, as composable steps (after Polygraphy's
`EngineFromBytes(BytesFromPath(...))` in polygraphy/backend/trt/loader.py).

An engine source is a callable that returns the path of a serialized engine with its manifest beside it.
`EngineFromPath` is a file `asl-edge build` already wrote; asl_edge.export.trt_builder.EngineFromOnnx
builds one from an ONNX file (or reuses the cached one). `TensorRTBackend.load(source)` calls the source,
then `read_plan` (BytesFromPath) and `engine.deserialize` (EngineFromBytes), so `run` and the benchmark
open an .engine and an .onnx through one path. Nothing here imports tensorrt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from asl_edge.errors import ModelError

# () -> the path of an engine whose manifest is beside it.
EngineSource = Callable[[], Path]


@dataclass(frozen=True)
class EngineFromPath:
    """An engine file on disk (from `asl-edge build`)."""

    path: Path

    def __call__(self) -> Path:
        if not self.path.is_file():
            raise ModelError(f"engine {self.path} does not exist; build one with `asl-edge build MODEL.onnx`")
        return self.path


def read_plan(path: Path) -> bytes:
    """The serialized engine's bytes (Polygraphy's BytesFromPath)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read engine {path}: {exc.strerror or exc}") from exc
